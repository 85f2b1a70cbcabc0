"""Clauses of the MT grammar: :class:`Clause` renders one clause in German main (verb second),
subordinate (verb final) and question (verb first) order and in English order with do-support;
the builders draw object, motion, copula, amount and timetable clauses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from seqlab.corpora.mt.lexicon.adjectives import ADJECTIVES, adjectives_for
from seqlab.corpora.mt.lexicon.determiners import ADJ_WEAK, CASES
from seqlab.corpora.mt.lexicon.names import DESTINATIONS
from seqlab.corpora.mt.lexicon.nouns import (
    EVENTS,
    PLACES,
    VEHICLES_PRIVATE,
    VEHICLES_PUBLIC,
    nouns_with,
)
from seqlab.corpora.mt.lexicon.verbs import (
    COPULA,
    COST,
    EVENT_VERBS,
    MODALS,
    MOTION,
    PAY,
    TIMETABLE_VERBS,
    TRANSITIVE,
    Verb,
    conjugate_present,
)
from seqlab.corpora.mt.noun_phrases import (
    NP,
    noun_np,
    object_pronoun,
    pp,
    quantity_np,
    random_noun_np,
    subject_np,
)
from seqlab.corpora.mt.numbers import (
    Pair,
    clock_phrase,
    de_cardinal,
    de_ordinal_stem,
    en_cardinal,
    en_ordinal,
    random_amount,
    time_phrase,
)

_TENSE_TIME = {"pres": "present", "perf": "past", "fut": "future"}
_WERDEN = conjugate_present("werden")


@dataclass
class Clause:
    """One clause, rendered German main/subordinate/question order and English order."""

    subj: NP
    verb: Verb
    tense: str  # "pres", "perf", "fut" or a modal infinitive ("können", ...)
    obj: NP | None = None
    obj_case: str = "acc"
    comps_de: list[list[str]] = field(default_factory=list)  # after the object, in German order
    comps_en: list[list[str]] = field(default_factory=list)  # after the object, in English order
    time: Pair | None = None
    time_front: bool = False
    neg: bool = False  # "nicht" (or "kein" in the object)

    # -- German --
    def _de_verb(self) -> tuple[str, list[str], list[str]]:
        """(finite verb, right bracket in main clauses, verb cluster at the end of a subclause)."""
        p, v = self.subj.person, self.verb
        if self.tense == "pres":
            fin = v.present[p]
            return fin, [v.prefix] if v.prefix else [], [v.prefix + fin]
        if self.tense == "perf":
            if v.preterite is not None:
                fin = v.preterite[p]
                return fin, [], [fin]
            fin = conjugate_present(v.aux)[p]
            return fin, [v.participle], [v.participle, fin]
        aux = _WERDEN if self.tense == "fut" else conjugate_present(self.tense)
        return aux[p], [v.inf], [v.inf, aux[p]]

    def _de_middle(self, with_subject: bool, with_time: bool) -> list[str]:
        out: list[str] = list(self.subj.de["nom"]) if with_subject else []
        obj = self.obj.de[self.obj_case] if self.obj is not None else []
        if self.obj is not None and self.obj.pronoun:
            out += obj
            obj = []
        if with_time and self.time is not None:
            out += self.time[0]
        out += obj
        if self.neg and not (self.obj is not None and self.obj.negative):
            out.append("nicht")
        for comp in self.comps_de:
            out += comp
        return out

    def de_main(self, front: list[str] | None = None) -> list[str]:
        """Verb-second order; ``front`` (a wh-word or a subclause) takes the first position."""
        fin, bracket, _ = self._de_verb()
        if front is not None:
            return [*front, fin, *self._de_middle(True, True), *bracket]
        if self.time is not None and self.time_front:
            return [*self.time[0], fin, *self._de_middle(True, False), *bracket]
        return [*self.subj.de["nom"], fin, *self._de_middle(False, True), *bracket]

    def de_question(self) -> list[str]:
        """Verb-first order (yes/no question)."""
        fin, bracket, _ = self._de_verb()
        return [fin, *self._de_middle(True, True), *bracket]

    def de_sub(self, conj: str) -> list[str]:
        """Verb-final order after ``conj`` ("weil", "dass", ...)."""
        _, _, cluster = self._de_verb()
        return [conj, *self._de_middle(True, True), *cluster]

    # -- English --
    def _en_verb(self) -> tuple[list[str], list[str], list[str]]:
        """(declarative verb group, question auxiliary, question rest before the object)."""
        p, v, neg = self.subj.person, self.verb, self.neg
        third = p == 2
        base, s_form, past = v.en
        if v.kind == "copula":
            be_pres = "am" if p == 0 else "is" if third else "are"
            be_past = "was" if p in (0, 2) else "were"
            if self.tense in ("pres", "perf"):
                be = be_pres if self.tense == "pres" else be_past
                return [be, *(["not"] if neg else [])], [be], []
            base = "be"
        if self.tense == "pres":
            if neg:
                return ["does" if third else "do", "not", *base.split()], [], []
            return (s_form if third else base).split(), ["does" if third else "do"], base.split()
        if self.tense == "perf":
            if neg:
                return ["did", "not", *base.split()], [], []
            return past.split(), ["did"], base.split()
        if self.tense == "fut":
            return ["will", *(["not"] if neg else []), *base.split()], ["will"], base.split()
        m = MODALS[self.tense]
        decl = (m[2] if third else m[3]) if neg else (m[0] if third else m[1])
        q_rest = [*m[6].split(), *base.split()]
        return [*decl.split(), *base.split()], [m[4] if third else m[5]], q_rest

    def _en_tail(self, verb: list[str], with_time: bool) -> list[str]:
        """Verb group + object + complements (+ time); "picks up the boy" but "picks him up"."""
        out = list(verb)
        if self.obj is not None and self.obj.pronoun and out and out[-1] == "up":
            out = [*out[:-1], *self.obj.en, "up"]
        elif self.obj is not None:
            out += self.obj.en
        for comp in self.comps_en:
            out += comp
        if with_time and self.time is not None:
            out += self.time[1]
        return out

    def en_main(self) -> list[str]:
        """Subject-verb-object order; a fronted German time adverbial is fronted in English too."""
        verb, _, _ = self._en_verb()
        if self.time is not None and self.time_front:
            return [*self.time[1], *self.subj.en, *self._en_tail(verb, False)]
        return [*self.subj.en, *self._en_tail(verb, True)]

    def en_question(self, wh: str | None = None) -> list[str]:
        """Yes/no or wh-question with do-support."""
        _, aux, rest = self._en_verb()
        return [*([wh] if wh else []), *aux, *self.subj.en, *self._en_tail(rest, True)]


# ---- clause builders ------------------------------------------------------------------------------

_MODAL_NAMES = list(MODALS)


def _tense(rng: random.Random, allow_modal: bool = True) -> str:
    r = rng.random()
    if r < 0.35:
        return "pres"
    if r < 0.7:
        return "perf"
    if r < 0.82 or not allow_modal:
        return "fut"
    return rng.choice(_MODAL_NAMES)


def tense_time(tense: str) -> str:
    """The time a tense refers to, for :func:`time_phrase`: "present", "past" or "future"."""
    return _TENSE_TIME.get(tense, "future")


def place_adjunct(rng: random.Random) -> Pair:
    """ "in der küche" ↔ "in the kitchen" (a place, maybe with an adjective), or "zu hause"."""
    if rng.random() < 0.2:
        return ["zu", "hause"], ["at", "home"]
    place = rng.choice(PLACES)
    adjs = adjectives_for(place)
    adj = rng.choice(adjs) if adjs and rng.random() < 0.2 else None
    np = noun_np(place, "def", adj=adj)
    return pp("in", np, "dat"), ["in", *np.en]


def object_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    """A clause with an accusative, dative or prepositional object (and maybe place and time)."""
    verb = rng.choice(TRANSITIVE)
    subj = subject_np(rng)
    tense = _tense(rng)
    neg = allow_neg and rng.random() < 0.2
    obj_case = "dat" if verb.kind == "dat" or (verb.prep and verb.prep[1] == "dat") else "acc"
    obj: NP | None = None
    if verb.cats & {"person"} and rng.random() < 0.25:
        obj = object_pronoun(rng, obj_case, subj.person)
    if obj is None:
        candidates = nouns_with(*verb.cats)
        if not neg and verb.inf in ("kaufen", "trinken", "bestellen") and rng.random() < 0.2:
            obj = quantity_np(rng)
        else:
            obj = random_noun_np(rng, rng.choice(candidates), negated=neg)
            if obj.negative and verb.kind != "acc":  # "kein" only as a direct object
                obj = noun_np(rng.choice(candidates), "def")
    clause = Clause(subj=subj, verb=verb, tense=tense, obj_case=obj_case, neg=neg)
    if verb.prep is not None:
        prep, case, en_prep = verb.prep
        clause.comps_de.append(pp(prep, obj, case))
        clause.comps_en.append([en_prep, *obj.en])
    else:
        clause.obj = obj
    if not neg and verb.prep is None and rng.random() < 0.25:
        de, en = place_adjunct(rng)
        clause.comps_de.append(de)
        clause.comps_en.append(en)
    if rng.random() < 0.5:
        clause.time = time_phrase(rng, tense_time(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def destination(rng: random.Random) -> tuple[str, str]:
    """A city or country used without an article: ("münchen", "munich")."""
    return rng.choice(DESTINATIONS)  # type: ignore[return-value]


def motion_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    """Travel, going, coming, living, working, staying: verbs with a place complement."""
    name = rng.choice(list(MOTION))
    verb = MOTION[name]
    subj = subject_np(rng)
    tense = _tense(rng)
    clause = Clause(subj=subj, verb=verb, tense=tense, neg=allow_neg and rng.random() < 0.15)
    de_c: list[list[str]] = []
    en_c: list[list[str]] = []
    if name in ("fahren", "reisen", "fliegen"):
        dest = destination(rng)
        if name == "fahren" and rng.random() < 0.6:
            vehicle = rng.choice(
                [v for v in VEHICLES_PUBLIC + VEHICLES_PRIVATE if v.de != "flugzeug"]
            )
            de_c.append(pp("mit", noun_np(vehicle, "def"), "dat"))
            en_c.append(["by", vehicle.en])
        de_c.append(["nach", dest[0]])
        en_c.insert(0, ["to", dest[1]])
    elif name == "gehen":
        place = rng.choice(PLACES)
        np = noun_np(place, "def")
        if rng.random() < 0.3:
            de_c.append(["zu", "fuß"])
            en_c.append(["on", "foot"])
        de_c.append(pp("in", np, "acc"))
        en_c.insert(0, ["to", *np.en])
    elif name == "kommen":
        dest = destination(rng)
        de_c.append(["aus", dest[0]])
        en_c.append(["from", dest[1]])
    elif name == "wohnen" and rng.random() < 0.35:
        floor = rng.randint(1, 12)
        de_c.append(["im", de_ordinal_stem(floor) + "en", "stock"])
        en_c.append(["on", "the", en_ordinal(floor), "floor"])
    elif name in ("wohnen", "bleiben") and rng.random() < 0.6:
        dest = destination(rng)
        de_c.append(["in", dest[0]])
        en_c.append(["in", dest[1]])
    elif name == "bleiben":
        de_c.append(["zu", "hause"])
        en_c.append(["at", "home"])
    elif name != "schlafen" or rng.random() < 0.6:
        de, en = place_adjunct(rng)
        de_c.append(de)
        en_c.append(en)
    clause.comps_de, clause.comps_en = de_c, en_c
    if rng.random() < 0.4:
        clause.time = time_phrase(rng, tense_time(tense))
        clause.time_front = rng.random() < 0.4
    return clause


_PERSON_ADJECTIVES = [a for a in ADJECTIVES if "person" in a.cats]
_DESCRIBABLE = [
    n
    for n in nouns_with("thing", "clothes", "furniture", "animal", "food", "place")
    if adjectives_for(n)
]


def copula_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    """ "NP ist ADJ", "NP war N jahre alt", "NP ist in DEST", "DEST ist N kilometer entfernt"."""
    tense = rng.choice(["pres", "pres", "perf", "perf", "fut", "können"])
    r = rng.random()
    neg = allow_neg and rng.random() < 0.15
    if r < 0.45:
        if rng.random() < 0.5:
            subj = subject_np(rng)
            pred_adj = rng.choice(_PERSON_ADJECTIVES)
        else:
            noun = rng.choice(_DESCRIBABLE)
            subj = random_noun_np(rng, noun, allow_count=False, allow_adj=False)
            pred_adj = rng.choice(adjectives_for(noun))
        pred: Pair = ([pred_adj.de], [pred_adj.en])
    elif r < 0.7:
        subj = subject_np(rng)
        age = rng.randint(2, 99)
        pred = ([de_cardinal(age), "jahre", "alt"], [*en_cardinal(age).split(), "years", "old"])
        neg = False
    elif r < 0.85:
        subj = subject_np(rng)
        if rng.random() < 0.5:
            dest = destination(rng)
            pred = (["in", dest[0]], ["in", dest[1]])
        else:
            pred = place_adjunct(rng)
    else:
        dest, other = destination(rng), destination(rng)
        km = random_amount(rng)
        if rng.random() < 0.5 or dest == other:
            place = rng.choice(PLACES)
            subj = noun_np(place, rng.choice(["def", "unser", "mein"]))
            de_from, en_from = [], []
        else:
            subj = NP(de={c: [dest[0]] for c in CASES}, en=[dest[1]], person=2)
            de_from, en_from = ["von", other[0]], ["from", other[1]]
        km_de, km_en = de_cardinal(km), en_cardinal(km).split()
        pred = (
            [km_de, "kilometer", *de_from, "entfernt"],
            [*km_en, "kilometres", *(en_from or ["away"])],
        )
        neg = False
    clause = Clause(subj=subj, verb=COPULA, tense=tense, neg=neg)
    clause.comps_de, clause.comps_en = [pred[0]], [pred[1]]
    if rng.random() < 0.3:
        clause.time = time_phrase(rng, tense_time(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def amount_clause(rng: random.Random) -> Clause:
    """ "das buch kostet zwölf euro" ↔ "the book costs twelve euros"; "ich habe ... bezahlt"."""
    n = random_amount(rng)
    de_amount = [de_cardinal(n), "euro"]
    en_amount = [*en_cardinal(n).split(), "euros"]
    if rng.random() < 0.25:
        cents = rng.randrange(10, 100, 10)
        de_amount.append(de_cardinal(cents))
        en_amount.append(en_cardinal(cents))
    thing = rng.choice(nouns_with("thing", "clothes", "furniture", "food"))
    tense = rng.choice(["pres", "perf", "fut"])
    if rng.random() < 0.5:
        np = random_noun_np(rng, thing, allow_indef=False, allow_count=False)
        clause = Clause(subj=np, verb=COST, tense=tense)
        clause.comps_de, clause.comps_en = [de_amount], [en_amount]
    else:
        np = random_noun_np(rng, thing, allow_indef=True, allow_count=False)
        clause = Clause(subj=subject_np(rng), verb=PAY, tense=tense)
        clause.comps_de = [de_amount, pp("für", np, "acc")]
        clause.comps_en = [en_amount, ["for", *np.en]]
    if rng.random() < 0.3:
        clause.time = time_phrase(rng, tense_time(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def timetable_clause(rng: random.Random) -> Clause:
    """ "der zug nach berlin fährt um halb neun ab" ↔ "the train to berlin leaves at half past eight"."""
    tense = rng.choice(["pres", "pres", "perf", "fut"])
    if rng.random() < 0.65:
        vehicle = rng.choice([v for v in VEHICLES_PUBLIC if v.de != "flugzeug"])  # fährt ab
        verb = rng.choice(TIMETABLE_VERBS)
        which = rng.random()
        if which < 0.3:
            adj = rng.choice([("nächst", "next"), ("letzt", "last"), ("erst", "first")])
            subj = noun_np(vehicle, "def")
            subj.de = {
                c: [w[0], adj[0] + ADJ_WEAK[c][vehicle.gender], *w[1:]] for c, w in subj.de.items()
            }
            subj.en = ["the", adj[1], vehicle.en]
        else:
            subj = noun_np(vehicle, rng.choice(["def", "unser", "def"]))
        if rng.random() < 0.5:
            dest = destination(rng)
            subj.de = {c: [*w, "nach", dest[0]] for c, w in subj.de.items()}
            subj.en = [*subj.en, "to", dest[1]]
    else:
        verb = rng.choice(EVENT_VERBS)
        subj = noun_np(rng.choice(EVENTS), rng.choice(["def", "unser", "mein", "dieser"]))
    clause = Clause(subj=subj, verb=verb, tense=tense)
    clause.time = clock_phrase(rng)
    clause.time_front = rng.random() < 0.2
    if rng.random() < 0.3:
        day = time_phrase(rng, tense_time(tense))
        if day[0][0] != "um":
            clause.comps_de.insert(0, day[0])  # German: day before hour
            clause.comps_en.append(day[1])  # English: after the hour
    # The clock time is the time phrase; in German it stays in the middle field after the day.
    if clause.comps_de and not clause.time_front:
        clause.comps_de.append(clause.time[0])
        clause.comps_en.insert(0, clause.time[1])
        clause.time = None
    return clause
