"""Numbers, dates and clock times as German/English token pairs, spelled out by ``num2words``:
cardinals, ordinals, years, "am dritten märz" ↔ "on the third of march", "um halb neun" ↔ "at
half past eight", and time adverbials by tense ("letzten montag" ↔ "last monday")."""

from __future__ import annotations

import random
from functools import cache

from num2words import num2words

from seqlab.corpora.mt.lexicon.determiners import en_indefinite
from seqlab.corpora.mt.lexicon.names import DAYS_IN_MONTH, MONTHS_DE, MONTHS_EN, WEEKDAYS


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


def random_amount(rng: random.Random) -> int:
    """A number for prices, ages, distances: mostly 2..99, some round hundreds and thousands."""
    r = rng.random()
    if r < 0.75:
        return rng.randint(2, 99)
    if r < 0.93:
        return rng.randrange(100, 1000, 50)
    return rng.randrange(1000, 5001, 500)


def random_year(rng: random.Random) -> int:
    """A year of the 20th or 21st century (1900..2029)."""
    return rng.randint(1900, 2029)


def date_phrase(rng: random.Random, with_year: bool | None = None) -> Pair:
    """ "am dritten märz [neunzehnhundertsiebenundachtzig]" ↔ "on the third of march [...]"."""
    month = rng.randrange(12)
    day = rng.randint(1, DAYS_IN_MONTH[month])
    de = ["am", de_ordinal_stem(day) + "en", MONTHS_DE[month]]
    en = ["on", "the", en_ordinal(day), "of", MONTHS_EN[month]]
    if with_year if with_year is not None else rng.random() < 0.5:
        year = random_year(rng)
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
        de_day, en_day = rng.choice(WEEKDAYS)
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
            de_n, en_n = [art, unit[0]], [en_indefinite(unit[3]), unit[3]]
        else:
            de_n, en_n = [de_cardinal(n), unit[1]], [*en_cardinal(n).split(), unit[4]]
        if when == "past":
            return ["vor", *de_n], [*en_n, "ago"]
        return ["in", *de_n], ["in", *en_n]
    if r < 0.52 and when == "past":
        year = random_year(rng)
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
