"""Whole sentences of the MT grammar: statements, dates and birthdays, "es gibt", yes/no and
wh-questions, and main clauses with a "weil"/"obwohl"/"dass"/"ob" subclause; :func:`sentence_pair`
draws one German/English pair."""

from __future__ import annotations

import random

from seqlab.corpora.mt.clauses import (
    Clause,
    amount_clause,
    copula_clause,
    destination,
    motion_clause,
    object_clause,
    place_adjunct,
    timetable_clause,
)
from seqlab.corpora.mt.lexicon.adjectives import adjectives_for
from seqlab.corpora.mt.lexicon.names import DAYS_IN_MONTH, MONTHS_DE, MONTHS_EN
from seqlab.corpora.mt.lexicon.nouns import EVENTS, nouns_with
from seqlab.corpora.mt.lexicon.verbs import COPULA, SAY_VERBS
from seqlab.corpora.mt.noun_phrases import noun_np, subject_np
from seqlab.corpora.mt.numbers import (
    Pair,
    date_phrase,
    de_ordinal_stem,
    de_year,
    en_ordinal,
    en_year,
    random_year,
)

_WURDE = "wurde wurdest wurde wurden wurdet wurden".split()


def date_sentence(rng: random.Random) -> Pair:
    """Birthdays, events on dates, "heute ist der dritte märz"."""
    r = rng.random()
    if r < 0.4:
        subj = subject_np(rng)
        de_when, en_when = date_phrase(rng) if rng.random() < 0.6 else _in_year(rng)
        de = [*subj.de["nom"], _WURDE[subj.person], *de_when]
        en = [*subj.en, "was" if subj.person in (0, 2) else "were", "born"]
        if rng.random() < 0.4:
            dest = destination(rng)
            de += ["in", dest[0]]
            en += ["in", dest[1]]
        return [*de, "geboren", "."], [*en, *en_when, "."]
    if r < 0.75:
        clause = Clause(
            subj=noun_np(
                rng.choice(EVENTS),
                rng.choice(["def", "mein", "unser", "dieser", "sein", "ihr"]),
            ),
            verb=COPULA,
            tense=rng.choice(["pres", "perf", "fut"]),
        )
        when = date_phrase(rng)
        clause.comps_de, clause.comps_en = [when[0]], [when[1]]
        return [*clause.de_main(), "."], [*clause.en_main(), "."]
    month = rng.randrange(12)
    day = rng.randint(1, DAYS_IN_MONTH[month])
    de_day, en_day, de_verb, en_verb = rng.choice(
        [
            ("heute", "today", "ist", "is"),
            ("morgen", "tomorrow", "ist", "is"),
            ("gestern", "yesterday", "war", "was"),
        ]
    )
    de = [de_day, de_verb, "der", de_ordinal_stem(day) + "e", MONTHS_DE[month], "."]
    en = [en_day, en_verb, "the", en_ordinal(day), "of", MONTHS_EN[month], "."]
    return de, en


def _in_year(rng: random.Random) -> Pair:
    year = random_year(rng)
    if rng.random() < 0.3:
        month = rng.randrange(12)
        return ["im", MONTHS_DE[month], de_year(year)], [
            "in",
            MONTHS_EN[month],
            *en_year(year).split(),
        ]
    return ["im", "jahr", de_year(year)], ["in", *en_year(year).split()]


def there_is_sentence(rng: random.Random) -> Pair:
    """ "es gibt drei rote äpfel in der küche" ↔ "there are three red apples in the kitchen"."""
    noun = rng.choice([n for n in nouns_with("thing", "food", "animal", "furniture") if n.de_pl])
    plural = rng.random() < 0.5
    adjs = adjectives_for(noun)
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
    place = place_adjunct(rng)
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
        say = rng.choice(SAY_VERBS)
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
