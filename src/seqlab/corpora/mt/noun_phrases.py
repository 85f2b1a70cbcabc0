"""Noun phrases of the MT grammar: a noun declined for case with a determiner, an adjective or an
ordinal and its English rendering; pronouns, names, prepositional phrases and quantities."""

from __future__ import annotations

import random
from dataclasses import dataclass

from seqlab.corpora.mt.lexicon.adjectives import Adjective, adjectives_for
from seqlab.corpora.mt.lexicon.determiners import (
    ADJ_MIXED,
    ADJ_STRONG,
    ADJ_WEAK,
    CASES,
    CONTRACTIONS,
    DEFINITE,
    DER_WORD_ENDINGS,
    EIN_WORD_ENDINGS,
    POSSESSIVES,
    en_indefinite,
)
from seqlab.corpora.mt.lexicon.names import NAMES
from seqlab.corpora.mt.lexicon.nouns import DRINKS, FOOD, POSSESSED_EN, Noun, nouns_with
from seqlab.corpora.mt.numbers import de_cardinal, de_ordinal_stem, en_cardinal, en_ordinal


@dataclass
class NP:
    """A rendered noun phrase: German per case, English, grammatical person, pronoun flag."""

    de: dict[str, list[str]]  # case -> tokens
    en: list[str]
    person: int  # 0..5, see lexicon.verbs
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
_GENITIVE_NAMES = [n for n in NAMES if not n.endswith(("s", "x", "z"))]


def noun_np(
    noun: Noun,
    det: str,
    plural: bool = False,
    adj: Adjective | None = None,
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
    for case in CASES:
        if det == "def":
            head, endings = [DEFINITE[case][gender]], ADJ_WEAK
        elif det == "dieser":
            head, endings = ["dies" + DER_WORD_ENDINGS[case][gender]], ADJ_WEAK
        elif det in ("indef", "kein") or det in POSSESSIVES:
            stem = "ein" if det == "indef" else det
            head, endings = [stem + EIN_WORD_ENDINGS[case][gender]], ADJ_MIXED
        elif det == "num":
            head, endings = [de_cardinal(count)], ADJ_STRONG  # type: ignore[arg-type]
        elif det.startswith("gen:"):
            head, endings = [det[4:] + "s"], ADJ_STRONG
        else:
            head, endings = [], ADJ_STRONG
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
    if det in POSSESSIVES or det.startswith("gen:"):  # "meine frau" ↔ "my wife"
        en_noun = POSSESSED_EN.get(noun.de, {}).get(plural, noun.en_form(plural)).split()
    rest = en_mod + en_noun
    if det == "def":
        en = ["the", *rest]
    elif det == "dieser":
        en = ["these" if plural else "this", *rest]
    elif det == "kein" and (plural or noun.de_pl is None):
        en = ["any", *rest]  # "keine äpfel" ↔ "(not) any apples"
    elif det in ("indef", "kein"):
        en = [en_indefinite(rest[0]), *rest]
    elif det == "num":
        en = [*en_cardinal(count).split(), *rest]  # type: ignore[arg-type]
    elif det in POSSESSIVES:
        en = [POSSESSIVES[det], *rest]
    elif det.startswith("gen:"):
        en = [det[4:], "'s", *rest]
    else:
        en = rest
    return NP(de=de, en=en, person=5 if plural else 2, negative=det == "kein")


def random_noun_np(
    rng: random.Random,
    noun: Noun,
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
        det = rng.choice(list(POSSESSIVES))
    elif r < 0.85:
        det = "gen:" + rng.choice(_GENITIVE_NAMES)
    elif allow_indef:
        det = "indef" if not plural else "none"
    else:
        det = "def"
    adj = ordinal = None
    adjs = adjectives_for(noun)
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
        return NP(de={c: [de] for c in CASES}, en=[en], person=person, pronoun=True)
    if r < 0.6 and "person" in cats:
        name = rng.choice(NAMES)
        return NP(de={c: [name] for c in CASES}, en=[name], person=2)
    return random_noun_np(rng, rng.choice(nouns_with(*cats)), allow_count=False)


def object_pronoun(rng: random.Random, case: str, subject_person: int) -> NP | None:
    """An object pronoun that is not reflexive for ``subject_person`` (None if none fits)."""
    clash = {0: {0, 3}, 3: {0, 3}, 1: {1, 4}, 4: {1, 4}}.get(subject_person, set())
    options = [p for p in _OBJECT_PRONOUNS[case] if p[0] not in clash]
    if not options:
        return None
    person, de, en = rng.choice(options)
    return NP(de={c: [de] for c in CASES}, en=[en], person=person, pronoun=True)


def pp(prep: str, np: NP, case: str) -> list[str]:
    """German preposition + noun phrase in ``case``, contracted where German must ("in dem" → "im")."""
    words = np.de[case]
    short = CONTRACTIONS.get((prep, words[0]))
    return [short, *words[1:]] if short else [prep, *words]


def quantity_np(rng: random.Random) -> NP:
    """ "zwei kilo äpfel" ↔ "two kilos of apples", "eine tasse kaffee" ↔ "a cup of coffee"."""
    if rng.random() < 0.5:
        food = rng.choice([n for n in FOOD if n.de_pl and n.de != "suppe"])
        unit = rng.choice(
            [("kilo", "kilo", "n", "kilo", "kilos"), ("gramm", "gramm", "n", "gram", "grams")]
        )
        de_food, en_food = food.de_pl, food.en_form(True)
    else:
        food = rng.choice(DRINKS)
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
    for case in CASES:
        if n == 1:
            de[case] = ["ein" + EIN_WORD_ENDINGS[case][unit[2]], unit[0], de_food]
        else:
            de[case] = [de_cardinal(n), unit[1], de_food]
    if n == 1:
        en = [en_indefinite(unit[3]), unit[3], "of", *en_food.split()]
    else:
        en = [*en_cardinal(n).split(), unit[4], "of", *en_food.split()]
    return NP(de=de, en=en, person=5)
