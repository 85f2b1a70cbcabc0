"""The built-in German→English parallel corpus: carrier sentences from a bilingual lexicon.

Ours because the corpus must be generated offline and deterministically, with every construction
regular and translatable (so a small model can learn it) yet combinatorial (so memorising is not
enough): German verb-second and verb-final order (perfect tense, modals, future, separable verbs,
"weil"/"dass"/"obwohl"/"ob" clauses), case and gender on articles and adjectives, dative plurals,
weak nouns, compounds ("bahnhofsuhr" ↔ "station clock"), contractions ("im", "zum"), and numbers,
ordinals, years, dates, clock times and amounts spelled out by ``num2words`` in both languages.

The German→English direction is a function (each German sentence has one English translation);
the other direction is not ("you" is "du" or "ihr", "teacher" is "lehrer" or "lehrerin").

Layout written by :func:`build_mt_corpus` (the homework's)::

    OUT/train.de-en.de  OUT/train.de-en.en  OUT/val.de-en.*  OUT/test1.de-en.*  OUT/corpus.json

Sentences are lowercase and tokenized: words separated by single spaces, punctuation split off
("ich habe den zug um acht uhr verpasst ." ↔ "i missed the train at eight o'clock .").
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from num2words import num2words

from seqlab.data import mt_lexicon as lex

GENERATOR_VERSION = "synth-mt-1"  # bump when the sentences a seed gives change
SPLITS = (("train", "n_train"), ("val", "n_val"), ("test1", "n_test"))

# ---- numbers, dates, times ------------------------------------------------------------------------


@cache
def de_cardinal(n: int) -> str:
    """German cardinal as one word: 250 -> "zweihundertfünfzig"."""
    return num2words(n, lang="de")


@cache
def en_cardinal(n: int) -> str:
    """English cardinal without commas: 1500 -> "one thousand five hundred"."""
    return num2words(n, lang="en").replace(",", "")


@cache
def de_ordinal_stem(n: int) -> str:
    """German ordinal stem, to take an adjective ending: 3 -> "dritt" (dritte, dritten)."""
    return num2words(n, lang="de", to="ordinal")[:-1]


@cache
def en_ordinal(n: int) -> str:
    """English ordinal: 21 -> "twenty-first"."""
    return num2words(n, lang="en", to="ordinal")


@cache
def de_year(y: int) -> str:
    """German year: 1987 -> "neunzehnhundertsiebenundachtzig"."""
    return num2words(y, lang="de", to="year")


@cache
def en_year(y: int) -> str:
    """English year: 1987 -> "nineteen eighty-seven"."""
    return num2words(y, lang="en", to="year")


Pair = tuple[list[str], list[str]]  # (German tokens, English tokens)


def _amount(rng: random.Random) -> int:
    """A number for prices, ages, distances: mostly 2..99, some round hundreds and thousands."""
    r = rng.random()
    if r < 0.75:
        return rng.randint(2, 99)
    if r < 0.93:
        return rng.randrange(100, 1000, 50)
    return rng.randrange(1000, 5001, 500)


def _year(rng: random.Random) -> int:
    return rng.randint(1900, 2029)


def date_phrase(rng: random.Random, with_year: bool | None = None) -> Pair:
    """ "am dritten märz [neunzehnhundertsiebenundachtzig]" ↔ "on the third of march [...]"."""
    month = rng.randrange(12)
    day = rng.randint(1, lex.DAYS_IN_MONTH[month])
    de = ["am", de_ordinal_stem(day) + "en", lex.MONTHS_DE[month]]
    en = ["on", "the", en_ordinal(day), "of", lex.MONTHS_EN[month]]
    if with_year if with_year is not None else rng.random() < 0.5:
        year = _year(rng)
        de.append(de_year(year))
        en.extend(en_year(year).split())
    return de, en


def clock_phrase(rng: random.Random) -> Pair:
    """ "um halb neun" ↔ "at half past eight", "um acht uhr" ↔ "at eight o'clock"."""
    hour = rng.randint(1, 12)
    nxt = hour % 12 + 1
    de_h = "ein" if hour == 1 else de_cardinal(hour)
    kind = rng.random()
    if kind < 0.55:
        return ["um", de_h, "uhr"], ["at", *en_cardinal(hour).split(), "o'clock"]
    if kind < 0.75:
        return ["um", "halb", _de_hour_word(nxt)], ["at", "half", "past", en_cardinal(hour)]
    if kind < 0.88:
        quarter = ["um", "viertel", "nach", _de_hour_word(hour)]
        return quarter, [*"at a quarter past".split(), en_cardinal(hour)]
    return ["um", "viertel", "vor", _de_hour_word(nxt)], [
        *"at a quarter to".split(),
        en_cardinal(nxt),
    ]


def _de_hour_word(hour: int) -> str:
    return "eins" if hour == 1 else de_cardinal(hour)


_UNITS = [  # German singular/plural, gender, English singular/plural
    ("tag", "tagen", "m", "day", "days"),
    ("woche", "wochen", "f", "week", "weeks"),
    ("monat", "monaten", "m", "month", "months"),
    ("jahr", "jahren", "n", "year", "years"),
]


def time_phrase(rng: random.Random, when: str) -> Pair:
    """A time adverbial for ``when`` in {"past", "present", "future"} (German, English tokens)."""
    r = rng.random()
    if r < 0.15:
        return clock_phrase(rng)
    if r < 0.27 and when != "present":
        return date_phrase(rng)
    if r < 0.37:
        de_day, en_day = rng.choice(lex.WEEKDAYS)
        word = {
            "past": ("letzten", "last"),
            "present": ("jeden", "every"),
            "future": ("nächsten", "next"),
        }
        return [word[when][0], de_day], [word[when][1], en_day]
    if r < 0.47 and when != "present":
        unit = rng.choice(_UNITS)
        n = rng.randint(1, 12)
        if n == 1:
            art = "einer" if unit[2] == "f" else "einem"
            de_n, en_n = [art, unit[0]], [lex.en_indefinite(unit[3]), unit[3]]
        else:
            de_n, en_n = [de_cardinal(n), unit[1]], [*en_cardinal(n).split(), unit[4]]
        if when == "past":
            return ["vor", *de_n], [*en_n, "ago"]
        return ["in", *de_n], ["in", *en_n]
    if r < 0.52 and when == "past":
        year = _year(rng)
        return ["im", "jahr", de_year(year)], ["in", *en_year(year).split()]
    de, en = rng.choice(_TIME_WORDS[when].split()).split(":")
    return de.split("_"), en.split("_")


_TIME_WORDS = {
    "past": "gestern:yesterday vorgestern:the_day_before_yesterday letzte_woche:last_week "
    "letzten_monat:last_month letztes_jahr:last_year heute_morgen:this_morning "
    "letzten_sommer:last_summer",
    "present": "heute:today jetzt:now jeden_tag:every_day jeden_morgen:every_morning "
    "jeden_abend:every_evening am_wochenende:at_the_weekend jede_woche:every_week",
    "future": "morgen:tomorrow übermorgen:the_day_after_tomorrow nächste_woche:next_week "
    "nächsten_monat:next_month nächstes_jahr:next_year morgen_früh:tomorrow_morning "
    "heute_abend:tonight",
}


# ---- noun phrases ---------------------------------------------------------------------------------


@dataclass
class NP:
    """A rendered noun phrase: German per case, English, grammatical person, pronoun flag."""

    de: dict[str, list[str]]  # case -> tokens
    en: list[str]
    person: int  # 0..5, see mt_lexicon
    pronoun: bool = False
    negative: bool = False  # "kein": the clause is negated in English


def _pronouns(table: str) -> list[tuple[int, str, str]]:
    """Parse "person german english, ..."."""
    return [(int(p), de, en) for p, de, en in (item.split() for item in table.split(","))]


_SUBJECT_PRONOUNS = _pronouns(
    "0 ich i, 1 du you, 2 er he, 2 sie she, 3 wir we, 4 ihr you, 5 sie they"
)
# "sie" (her/them) as an accusative object is left out: its English would be ambiguous.
_OBJECT_PRONOUNS = {
    "acc": _pronouns("0 mich me, 1 dich you, 2 ihn him, 3 uns us, 4 euch you"),
    "dat": _pronouns(
        "0 mir me, 1 dir you, 2 ihm him, 2 ihr her, 3 uns us, 4 euch you, 5 ihnen them"
    ),
}
_GENITIVE_NAMES = [n for n in lex.NAMES if not n.endswith(("s", "x", "z"))]


def noun_np(
    noun: lex.Noun,
    det: str,
    plural: bool = False,
    adj: lex.Adjective | None = None,
    ordinal: int | None = None,
    count: int | None = None,
) -> NP:
    """Decline ``noun`` with a determiner and an optional adjective or ordinal.

    Args:
        det: "def", "dieser", "indef", "kein", "none" (bare plural or mass noun), "num"
            (``count`` >= 2, plural), a possessive ("mein", "dein", "sein", "ihr", "unser") or
            "gen:NAME" (Saxon genitive: "annas" ↔ "anna 's").
    """
    gender = "pl" if plural else noun.gender
    de: dict[str, list[str]] = {}
    for case in lex.CASES:
        if det == "def":
            head, endings = [lex.DEFINITE[case][gender]], lex.ADJ_WEAK
        elif det == "dieser":
            head, endings = ["dies" + lex.DER_WORD_ENDINGS[case][gender]], lex.ADJ_WEAK
        elif det in ("indef", "kein") or det in lex.POSSESSIVES:
            stem = "ein" if det == "indef" else det
            head, endings = [stem + lex.EIN_WORD_ENDINGS[case][gender]], lex.ADJ_MIXED
        elif det == "num":
            head, endings = [de_cardinal(count)], lex.ADJ_STRONG  # type: ignore[arg-type]
        elif det.startswith("gen:"):
            head, endings = [det[4:] + "s"], lex.ADJ_STRONG
        else:
            head, endings = [], lex.ADJ_STRONG
        words = list(head)
        if ordinal is not None:
            words.append(de_ordinal_stem(ordinal) + endings[case][gender])
        if adj is not None:
            words.append(adj.stem + endings[case][gender])
        words.append(noun.de_form(case, plural))
        de[case] = words
    en_mod = []
    if ordinal is not None:
        en_mod.append(en_ordinal(ordinal))
    if adj is not None:
        en_mod.append(adj.en)
    en_noun = noun.en_form(plural).split()
    if det in lex.POSSESSIVES or det.startswith("gen:"):  # "meine frau" ↔ "my wife"
        en_noun = lex.POSSESSED_EN.get(noun.de, {}).get(plural, noun.en_form(plural)).split()
    rest = en_mod + en_noun
    if det == "def":
        en = ["the", *rest]
    elif det == "dieser":
        en = ["these" if plural else "this", *rest]
    elif det == "kein" and (plural or noun.de_pl is None):
        en = ["any", *rest]  # "keine äpfel" ↔ "(not) any apples"
    elif det in ("indef", "kein"):
        en = [lex.en_indefinite(rest[0]), *rest]
    elif det == "num":
        en = [*en_cardinal(count).split(), *rest]  # type: ignore[arg-type]
    elif det in lex.POSSESSIVES:
        en = [lex.POSSESSIVES[det], *rest]
    elif det.startswith("gen:"):
        en = [det[4:], "'s", *rest]
    else:
        en = rest
    return NP(de=de, en=en, person=5 if plural else 2, negative=det == "kein")


def random_noun_np(
    rng: random.Random,
    noun: lex.Noun,
    allow_indef: bool = True,
    allow_count: bool = True,
    negated: bool = False,
    allow_adj: bool = True,
) -> NP:
    """A noun phrase for ``noun`` with a random determiner, number, adjective or ordinal.

    Args:
        allow_indef: allow "ein"/bare plurals; allow_count: allow "drei äpfel".
        negated: the clause is negated: "kein" or a definite determiner (German "nicht"), never
            "ein", a number or a bare noun.
        allow_adj: allow an attributive adjective.
    """
    countable = noun.de_pl is not None
    plural = countable and rng.random() < 0.3
    r = rng.random()
    count = None
    if negated:
        allow_indef = allow_count = False
    if negated and r < 0.35:
        det = "kein"
    elif not countable:
        det = rng.choice(["def", "dieser", "mein", "unser"] + ([] if negated else ["none"]))
    elif allow_count and plural and r < 0.45:
        det, count = "num", rng.choice([2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 20])
    elif r < 0.5:
        det = "def"
    elif r < 0.6:
        det = "dieser"
    elif r < 0.8:
        det = rng.choice(list(lex.POSSESSIVES))
    elif r < 0.85:
        det = "gen:" + rng.choice(_GENITIVE_NAMES)
    elif allow_indef:
        det = "indef" if not plural else "none"
    else:
        det = "def"
    adj = ordinal = None
    adjs = lex.adjectives_for(noun)
    ordinal_ok = countable and not noun.cats & {"person", "food", "animal"}
    if det not in ("none", "num", "indef", "kein", "dieser") and ordinal_ok and rng.random() < 0.08:
        ordinal = rng.randint(1, 12)
    elif allow_adj and adjs and rng.random() < 0.4:
        adj = rng.choice(adjs)
    return noun_np(noun, det, plural, adj=adj, ordinal=ordinal, count=count)


def subject_np(rng: random.Random, cats: tuple[str, ...] = ("person",)) -> NP:
    """A subject: a pronoun, a name, or a noun phrase of ``cats``."""
    r = rng.random()
    if r < 0.45 and "person" in cats:
        person, de, en = rng.choice(_SUBJECT_PRONOUNS)
        return NP(de={c: [de] for c in lex.CASES}, en=[en], person=person, pronoun=True)
    if r < 0.6 and "person" in cats:
        name = rng.choice(lex.NAMES)
        return NP(de={c: [name] for c in lex.CASES}, en=[name], person=2)
    return random_noun_np(rng, rng.choice(lex.nouns_with(*cats)), allow_count=False)


def object_pronoun(rng: random.Random, case: str, subject_person: int) -> NP | None:
    """An object pronoun that is not reflexive for ``subject_person`` (None if none fits)."""
    clash = {0: {0, 3}, 3: {0, 3}, 1: {1, 4}, 4: {1, 4}}.get(subject_person, set())
    options = [p for p in _OBJECT_PRONOUNS[case] if p[0] not in clash]
    if not options:
        return None
    person, de, en = rng.choice(options)
    return NP(de={c: [de] for c in lex.CASES}, en=[en], person=person, pronoun=True)


def pp(prep: str, np: NP, case: str) -> list[str]:
    """German preposition + noun phrase in ``case``, contracted where German must ("in dem" → "im")."""
    words = np.de[case]
    short = lex.CONTRACTIONS.get((prep, words[0]))
    return [short, *words[1:]] if short else [prep, *words]


def quantity_np(rng: random.Random) -> NP:
    """ "zwei kilo äpfel" ↔ "two kilos of apples", "eine tasse kaffee" ↔ "a cup of coffee"."""
    if rng.random() < 0.5:
        food = rng.choice([n for n in lex.FOOD if n.de_pl and n.de != "suppe"])
        unit = rng.choice(
            [("kilo", "kilo", "n", "kilo", "kilos"), ("gramm", "gramm", "n", "gram", "grams")]
        )
        de_food, en_food = food.de_pl, food.en_form(True)
    else:
        food = rng.choice(lex.DRINKS)
        unit = rng.choice(
            [
                ("liter", "liter", "m", "litre", "litres"),
                ("tasse", "tassen", "f", "cup", "cups"),
                ("glas", "gläser", "n", "glass", "glasses"),
                ("flasche", "flaschen", "f", "bottle", "bottles"),
            ]
        )
        de_food, en_food = food.de, food.en
    n = (
        rng.randrange(100, 1000, 50)
        if unit[0] == "gramm"
        else rng.choice([1, 1, 2, 2, 3, 4, 5, 6, 10])
    )
    de = {}
    for case in lex.CASES:
        if n == 1:
            de[case] = ["ein" + lex.EIN_WORD_ENDINGS[case][unit[2]], unit[0], de_food]
        else:
            de[case] = [de_cardinal(n), unit[1], de_food]
    if n == 1:
        en = [lex.en_indefinite(unit[3]), unit[3], "of", *en_food.split()]
    else:
        en = [*en_cardinal(n).split(), unit[4], "of", *en_food.split()]
    return NP(de=de, en=en, person=5)


# ---- clauses --------------------------------------------------------------------------------------

_TENSE_TIME = {"pres": "present", "perf": "past", "fut": "future"}
_WERDEN = lex.conjugate_present("werden")
_WURDE = "wurde wurdest wurde wurden wurdet wurden".split()


@dataclass
class Clause:
    """One clause, rendered German main/subordinate/question order and English order."""

    subj: NP
    verb: lex.Verb
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
            fin = lex.conjugate_present(v.aux)[p]
            return fin, [v.participle], [v.participle, fin]
        aux = _WERDEN if self.tense == "fut" else lex.conjugate_present(self.tense)
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
        m = lex.MODALS[self.tense]
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

_MODAL_NAMES = list(lex.MODALS)


def _tense(rng: random.Random, allow_modal: bool = True) -> str:
    r = rng.random()
    if r < 0.35:
        return "pres"
    if r < 0.7:
        return "perf"
    if r < 0.82 or not allow_modal:
        return "fut"
    return rng.choice(_MODAL_NAMES)


def _when(tense: str) -> str:
    return _TENSE_TIME.get(tense, "future")


def _place_adjunct(rng: random.Random) -> Pair:
    if rng.random() < 0.2:
        return ["zu", "hause"], ["at", "home"]
    place = rng.choice(lex.PLACES)
    adjs = lex.adjectives_for(place)
    adj = rng.choice(adjs) if adjs and rng.random() < 0.2 else None
    np = noun_np(place, "def", adj=adj)
    return pp("in", np, "dat"), ["in", *np.en]


def object_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    """A clause with an accusative, dative or prepositional object (and maybe place and time)."""
    verb = rng.choice(lex.TRANSITIVE)
    subj = subject_np(rng)
    tense = _tense(rng)
    neg = allow_neg and rng.random() < 0.2
    obj_case = "dat" if verb.kind == "dat" or (verb.prep and verb.prep[1] == "dat") else "acc"
    obj: NP | None = None
    if verb.cats & {"person"} and rng.random() < 0.25:
        obj = object_pronoun(rng, obj_case, subj.person)
    if obj is None:
        candidates = lex.nouns_with(*verb.cats)
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
        de, en = _place_adjunct(rng)
        clause.comps_de.append(de)
        clause.comps_en.append(en)
    if rng.random() < 0.5:
        clause.time = time_phrase(rng, _when(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def _destination(rng: random.Random) -> tuple[str, str]:
    return rng.choice(lex.DESTINATIONS)  # type: ignore[return-value]


def motion_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    """Travel, going, coming, living, working, staying: verbs with a place complement."""
    name = rng.choice(list(lex.MOTION))
    verb = lex.MOTION[name]
    subj = subject_np(rng)
    tense = _tense(rng)
    clause = Clause(subj=subj, verb=verb, tense=tense, neg=allow_neg and rng.random() < 0.15)
    de_c: list[list[str]] = []
    en_c: list[list[str]] = []
    if name in ("fahren", "reisen", "fliegen"):
        dest = _destination(rng)
        if name == "fahren" and rng.random() < 0.6:
            vehicle = rng.choice(
                [v for v in lex.VEHICLES_PUBLIC + lex.VEHICLES_PRIVATE if v.de != "flugzeug"]
            )
            de_c.append(pp("mit", noun_np(vehicle, "def"), "dat"))
            en_c.append(["by", vehicle.en])
        de_c.append(["nach", dest[0]])
        en_c.insert(0, ["to", dest[1]])
    elif name == "gehen":
        place = rng.choice(lex.PLACES)
        np = noun_np(place, "def")
        if rng.random() < 0.3:
            de_c.append(["zu", "fuß"])
            en_c.append(["on", "foot"])
        de_c.append(pp("in", np, "acc"))
        en_c.insert(0, ["to", *np.en])
    elif name == "kommen":
        dest = _destination(rng)
        de_c.append(["aus", dest[0]])
        en_c.append(["from", dest[1]])
    elif name == "wohnen" and rng.random() < 0.35:
        floor = rng.randint(1, 12)
        de_c.append(["im", de_ordinal_stem(floor) + "en", "stock"])
        en_c.append(["on", "the", en_ordinal(floor), "floor"])
    elif name in ("wohnen", "bleiben") and rng.random() < 0.6:
        dest = _destination(rng)
        de_c.append(["in", dest[0]])
        en_c.append(["in", dest[1]])
    elif name == "bleiben":
        de_c.append(["zu", "hause"])
        en_c.append(["at", "home"])
    elif name != "schlafen" or rng.random() < 0.6:
        de, en = _place_adjunct(rng)
        de_c.append(de)
        en_c.append(en)
    clause.comps_de, clause.comps_en = de_c, en_c
    if rng.random() < 0.4:
        clause.time = time_phrase(rng, _when(tense))
        clause.time_front = rng.random() < 0.4
    return clause


_PERSON_ADJECTIVES = [a for a in lex.ADJECTIVES if "person" in a.cats]
_DESCRIBABLE = [
    n
    for n in lex.nouns_with("thing", "clothes", "furniture", "animal", "food", "place")
    if lex.adjectives_for(n)
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
            pred_adj = rng.choice(lex.adjectives_for(noun))
        pred: Pair = ([pred_adj.de], [pred_adj.en])
    elif r < 0.7:
        subj = subject_np(rng)
        age = rng.randint(2, 99)
        pred = ([de_cardinal(age), "jahre", "alt"], [*en_cardinal(age).split(), "years", "old"])
        neg = False
    elif r < 0.85:
        subj = subject_np(rng)
        if rng.random() < 0.5:
            dest = _destination(rng)
            pred = (["in", dest[0]], ["in", dest[1]])
        else:
            pred = _place_adjunct(rng)
    else:
        dest, other = _destination(rng), _destination(rng)
        km = _amount(rng)
        if rng.random() < 0.5 or dest == other:
            place = rng.choice(lex.PLACES)
            subj = noun_np(place, rng.choice(["def", "unser", "mein"]))
            de_from, en_from = [], []
        else:
            subj = NP(de={c: [dest[0]] for c in lex.CASES}, en=[dest[1]], person=2)
            de_from, en_from = ["von", other[0]], ["from", other[1]]
        km_de, km_en = de_cardinal(km), en_cardinal(km).split()
        pred = (
            [km_de, "kilometer", *de_from, "entfernt"],
            [*km_en, "kilometres", *(en_from or ["away"])],
        )
        neg = False
    clause = Clause(subj=subj, verb=lex.COPULA, tense=tense, neg=neg)
    clause.comps_de, clause.comps_en = [pred[0]], [pred[1]]
    if rng.random() < 0.3:
        clause.time = time_phrase(rng, _when(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def amount_clause(rng: random.Random) -> Clause:
    """ "das buch kostet zwölf euro" ↔ "the book costs twelve euros"; "ich habe ... bezahlt"."""
    n = _amount(rng)
    de_amount = [de_cardinal(n), "euro"]
    en_amount = [*en_cardinal(n).split(), "euros"]
    if rng.random() < 0.25:
        cents = rng.randrange(10, 100, 10)
        de_amount.append(de_cardinal(cents))
        en_amount.append(en_cardinal(cents))
    thing = rng.choice(lex.nouns_with("thing", "clothes", "furniture", "food"))
    tense = rng.choice(["pres", "perf", "fut"])
    if rng.random() < 0.5:
        np = random_noun_np(rng, thing, allow_indef=False, allow_count=False)
        clause = Clause(subj=np, verb=lex.COST, tense=tense)
        clause.comps_de, clause.comps_en = [de_amount], [en_amount]
    else:
        np = random_noun_np(rng, thing, allow_indef=True, allow_count=False)
        clause = Clause(subj=subject_np(rng), verb=lex.PAY, tense=tense)
        clause.comps_de = [de_amount, pp("für", np, "acc")]
        clause.comps_en = [en_amount, ["for", *np.en]]
    if rng.random() < 0.3:
        clause.time = time_phrase(rng, _when(tense))
        clause.time_front = rng.random() < 0.4
    return clause


def timetable_clause(rng: random.Random) -> Clause:
    """ "der zug nach berlin fährt um halb neun ab" ↔ "the train to berlin leaves at half past eight"."""
    tense = rng.choice(["pres", "pres", "perf", "fut"])
    if rng.random() < 0.65:
        vehicle = rng.choice([v for v in lex.VEHICLES_PUBLIC if v.de != "flugzeug"])  # fährt ab
        verb = rng.choice(lex.TIMETABLE_VERBS)
        which = rng.random()
        if which < 0.3:
            adj = rng.choice([("nächst", "next"), ("letzt", "last"), ("erst", "first")])
            subj = noun_np(vehicle, "def")
            subj.de = {
                c: [w[0], adj[0] + lex.ADJ_WEAK[c][vehicle.gender], *w[1:]]
                for c, w in subj.de.items()
            }
            subj.en = ["the", adj[1], vehicle.en]
        else:
            subj = noun_np(vehicle, rng.choice(["def", "unser", "def"]))
        if rng.random() < 0.5:
            dest = _destination(rng)
            subj.de = {c: [*w, "nach", dest[0]] for c, w in subj.de.items()}
            subj.en = [*subj.en, "to", dest[1]]
    else:
        verb = rng.choice(lex.EVENT_VERBS)
        subj = noun_np(rng.choice(lex.EVENTS), rng.choice(["def", "unser", "mein", "dieser"]))
    clause = Clause(subj=subj, verb=verb, tense=tense)
    clause.time = clock_phrase(rng)
    clause.time_front = rng.random() < 0.2
    if rng.random() < 0.3:
        day = time_phrase(rng, _when(tense))
        if day[0][0] != "um":
            clause.comps_de.insert(0, day[0])  # German: day before hour
            clause.comps_en.append(day[1])  # English: after the hour
    # The clock time is the time phrase; in German it stays in the middle field after the day.
    if clause.comps_de and not clause.time_front:
        clause.comps_de.append(clause.time[0])
        clause.comps_en.insert(0, clause.time[1])
        clause.time = None
    return clause


def date_sentence(rng: random.Random) -> Pair:
    """Birthdays, events on dates, "heute ist der dritte märz"."""
    r = rng.random()
    if r < 0.4:
        subj = subject_np(rng)
        de_when, en_when = date_phrase(rng) if rng.random() < 0.6 else _in_year(rng)
        de = [*subj.de["nom"], _WURDE[subj.person], *de_when]
        en = [*subj.en, "was" if subj.person in (0, 2) else "were", "born"]
        if rng.random() < 0.4:
            dest = _destination(rng)
            de += ["in", dest[0]]
            en += ["in", dest[1]]
        return [*de, "geboren", "."], [*en, *en_when, "."]
    if r < 0.75:
        clause = Clause(
            subj=noun_np(
                rng.choice(lex.EVENTS),
                rng.choice(["def", "mein", "unser", "dieser", "sein", "ihr"]),
            ),
            verb=lex.COPULA,
            tense=rng.choice(["pres", "perf", "fut"]),
        )
        when = date_phrase(rng)
        clause.comps_de, clause.comps_en = [when[0]], [when[1]]
        return [*clause.de_main(), "."], [*clause.en_main(), "."]
    month = rng.randrange(12)
    day = rng.randint(1, lex.DAYS_IN_MONTH[month])
    de_day, en_day, de_verb, en_verb = rng.choice(
        [
            ("heute", "today", "ist", "is"),
            ("morgen", "tomorrow", "ist", "is"),
            ("gestern", "yesterday", "war", "was"),
        ]
    )
    de = [de_day, de_verb, "der", de_ordinal_stem(day) + "e", lex.MONTHS_DE[month], "."]
    en = [en_day, en_verb, "the", en_ordinal(day), "of", lex.MONTHS_EN[month], "."]
    return de, en


def _in_year(rng: random.Random) -> Pair:
    year = _year(rng)
    if rng.random() < 0.3:
        month = rng.randrange(12)
        return ["im", lex.MONTHS_DE[month], de_year(year)], [
            "in",
            lex.MONTHS_EN[month],
            *en_year(year).split(),
        ]
    return ["im", "jahr", de_year(year)], ["in", *en_year(year).split()]


def there_is_sentence(rng: random.Random) -> Pair:
    """ "es gibt drei rote äpfel in der küche" ↔ "there are three red apples in the kitchen"."""
    noun = rng.choice(
        [n for n in lex.nouns_with("thing", "food", "animal", "furniture") if n.de_pl]
    )
    plural = rng.random() < 0.5
    adjs = lex.adjectives_for(noun)
    adj = rng.choice(adjs) if adjs and rng.random() < 0.4 else None
    r = rng.random()
    if r < 0.2:
        np = noun_np(noun, "kein", plural, adj=adj)
    elif plural and r < 0.7:
        np = noun_np(noun, "num", True, adj=adj, count=rng.randint(2, 20))
    else:
        np = noun_np(noun, "none" if plural else "indef", plural, adj=adj)
    past = rng.random() < 0.4
    plural = np.person == 5
    be = ("were" if plural else "was") if past else ("are" if plural else "is")
    en_np = list(np.en)
    if np.negative:  # "es gibt keinen hund" ↔ "there is no dog"
        en_np[0] = "no"
    place = _place_adjunct(rng)
    return (
        ["es", "gab" if past else "gibt", *np.de["acc"], *place[0], "."],
        ["there", be, *en_np, *place[1], "."],
    )


def _simple_clause(rng: random.Random, allow_neg: bool = True) -> Clause:
    r = rng.random()
    if r < 0.55:
        return object_clause(rng, allow_neg)
    if r < 0.75:
        return motion_clause(rng, allow_neg)
    if r < 0.9:
        return copula_clause(rng, allow_neg)
    return amount_clause(rng)


_WH = [("wann", "when"), ("warum", "why"), ("wo", "where")]


def question_sentence(rng: random.Random) -> Pair:
    """Yes/no questions (verb first) and wh-questions (verb second) with English do-support."""
    clause = _simple_clause(rng, allow_neg=False)
    if clause.obj is not None and clause.obj.negative:
        clause.obj.negative = False
    if rng.random() < 0.5:
        return [*clause.de_question(), "?"], [*clause.en_question(), "?"]
    de_wh, en_wh = rng.choice(_WH)
    if de_wh == "wann":
        clause.time = None
    if de_wh == "wo":
        # "wo" replaces a place phrase (comps are in the same order in both languages here).
        keep = [i for i, c in enumerate(clause.comps_de) if c[0] not in _DE_PLACE_WORDS]
        if clause.verb.kind == "motion" or len(keep) == len(clause.comps_de):
            de_wh, en_wh = "warum", "why"
        else:
            clause.comps_de = [clause.comps_de[i] for i in keep]
            clause.comps_en = [clause.comps_en[i] for i in keep]
    clause.time_front = False
    return [*clause.de_main(front=[de_wh]), "?"], [*clause.en_question(en_wh), "?"]


_DE_PLACE_WORDS = {"in", "im", "zu"}  # "in der küche", "im büro", "im dritten stock", "zu hause"
_CONJ = [("weil", "because"), ("obwohl", "although")]


def complex_sentence(rng: random.Random) -> Pair:
    """Main clause + verb-final subclause ("weil", "obwohl", "dass", "ob"), either order."""
    sub = _simple_clause(rng)
    sub.time_front = False
    r = rng.random()
    if r < 0.4:
        say = rng.choice(lex.SAY_VERBS)
        main = Clause(subj=subject_np(rng), verb=say, tense=rng.choice(["pres", "pres", "perf"]))
        if say.inf == "wissen" and rng.random() < 0.4:
            main.tense, main.neg = "pres", True
            return [*main.de_main(), ",", *sub.de_sub("ob"), "."], [
                *main.en_main(),
                "whether",
                *sub.en_main(),
                ".",
            ]
        return [*main.de_main(), ",", *sub.de_sub("dass"), "."], [
            *main.en_main(),
            "that",
            *sub.en_main(),
            ".",
        ]
    main = _simple_clause(rng)
    main.time_front = False
    de_conj, en_conj = rng.choice(_CONJ)
    if rng.random() < 0.6:
        return [*main.de_main(), ",", *sub.de_sub(de_conj), "."], [
            *main.en_main(),
            en_conj,
            *sub.en_main(),
            ".",
        ]
    de_front = [*sub.de_sub(de_conj), ","]
    return [*main.de_main(front=de_front), "."], [
        en_conj,
        *sub.en_main(),
        ",",
        *main.en_main(),
        ".",
    ]


def sentence_pair(rng: random.Random) -> tuple[str, str]:
    """One random German/English pair, each a tokenized lowercase line."""
    r = rng.random()
    if r < 0.3:
        clause = object_clause(rng)
        de, en = [*clause.de_main(), "."], [*clause.en_main(), "."]
    elif r < 0.42:
        clause = motion_clause(rng)
        de, en = [*clause.de_main(), "."], [*clause.en_main(), "."]
    elif r < 0.5:
        clause = copula_clause(rng)
        de, en = [*clause.de_main(), "."], [*clause.en_main(), "."]
    elif r < 0.57:
        clause = amount_clause(rng)
        de, en = [*clause.de_main(), "."], [*clause.en_main(), "."]
    elif r < 0.64:
        clause = timetable_clause(rng)
        de, en = [*clause.de_main(), "."], [*clause.en_main(), "."]
    elif r < 0.71:
        de, en = date_sentence(rng)
    elif r < 0.75:
        de, en = there_is_sentence(rng)
    elif r < 0.85:
        de, en = question_sentence(rng)
    else:
        de, en = complex_sentence(rng)
    return " ".join(de), " ".join(en)


# ---- the corpus -----------------------------------------------------------------------------------


def generate_pairs(n: int, rng: random.Random, exclude: set[str]) -> list[tuple[str, str]]:
    """``n`` pairs whose German sides are distinct and not in ``exclude`` (which is updated)."""
    pairs: list[tuple[str, str]] = []
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(
                f"could only draw {len(pairs)} distinct sentences of {n} after {attempts} attempts; "
                "ask for fewer pairs"
            )
        de, en = sentence_pair(rng)
        if de in exclude:
            continue  # redraw: a split never repeats a sentence of an earlier split
        exclude.add(de)
        pairs.append((de, en))
    return pairs


def _stats(pairs: list[tuple[str, str]]) -> dict:
    src = [len(s.split()) for s, _ in pairs]
    tgt = [len(t.split()) for _, t in pairs]
    n = max(1, len(pairs))
    return {
        "pairs": len(pairs),
        "de_tokens": sum(src),
        "en_tokens": sum(tgt),
        "avg_de_len": round(sum(src) / n, 2),
        "avg_en_len": round(sum(tgt) / n, 2),
        "max_de_len": max(src, default=0),
        "max_en_len": max(tgt, default=0),
    }


def build_mt_corpus(
    out: str | Path,
    n_train: int = 50_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    seed: int = 0,
    src: str = "de",
    tgt: str = "en",
) -> dict:
    """Write the built-in parallel corpus in the homework layout and return its summary.

    Args:
        out: output directory (created).
        n_train, n_val, n_test: distinct pairs per split; val and test German sentences never
            occur in train (nor in each other): duplicates are redrawn.
        seed: the same seed gives the same bytes.
        src, tgt: "de" and "en" in either order; files are named ``<split>.<src>-<tgt>.<lang>``.

    Returns:
        the summary also written to ``out/corpus.json``: generator version, seed, languages,
        per-split statistics (pairs, tokens, average and maximum lengths), the training
        vocabulary sizes per language, files, and build seconds.
    """
    if {src, tgt} != {"de", "en"}:
        raise ValueError(
            f"the built-in corpus is German/English: got src={src!r} tgt={tgt!r}; use de and en"
        )
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    seen: set[str] = set()
    counts = {"n_train": n_train, "n_val": n_val, "n_test": n_test}
    summary: dict = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "src": src,
        "tgt": tgt,
        "splits": {},
        "files": [],
    }
    for split, key in SPLITS:
        pairs = generate_pairs(counts[key], rng, seen)
        sides = {"de": [p[0] for p in pairs], "en": [p[1] for p in pairs]}
        for lang in (src, tgt):
            path = out / f"{split}.{src}-{tgt}.{lang}"
            path.write_text("".join(line + "\n" for line in sides[lang]), encoding="utf-8")
            summary["files"].append(path.name)
        summary["splits"][split] = _stats(pairs)
        if split == "train":
            summary["vocab_size"] = {
                lang: len(Counter(w for line in sides[lang] for w in line.split()))
                for lang in ("de", "en")
            }
    # corpus.json holds no timing so that the same seed gives the same bytes everywhere.
    (out / "corpus.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {**summary, "build_seconds": round(time.perf_counter() - start, 2)}
