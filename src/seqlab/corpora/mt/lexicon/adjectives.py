"""The adjectives of the MT lexicon: German predicative form and attributive stem, English word,
and the noun categories each one fits (so that it translates one way)."""

from __future__ import annotations

from dataclasses import dataclass

from seqlab.corpora.mt.lexicon.nouns import Noun


@dataclass(frozen=True)
class Adjective:
    """German predicative form, attributive stem (teuer → teur), English word, noun categories."""

    de: str
    stem: str
    en: str
    cats: frozenset[str]


def _adjectives(table: str, *cats: str) -> list[Adjective]:
    out = []
    for item in table.split(","):
        de, en = item.split(":")
        de, en = de.strip(), en.strip()
        stem = de[:-1] if de.endswith("e") else de  # müde → müd-e, müd-en
        if "/" in de:
            de, stem = de.split("/")
        out.append(Adjective(de, stem, en, frozenset(cats)))
    return out


_THINGLIKE = ("thing", "clothes", "furniture", "vehicle")
ADJECTIVES = (
    _adjectives(
        "rot:red, blau:blue, grün:green, gelb:yellow, schwarz:black, weiß:white, braun:brown, "
        "grau:grey",
        *_THINGLIKE,
        "animal",
    )
    + _adjectives(
        "neu:new, teuer/teur:expensive, billig:cheap, schwer:heavy, leicht:light, "
        "schmutzig:dirty, sauber:clean, modern:modern, praktisch:practical, hässlich:ugly",
        *_THINGLIKE,
    )
    + _adjectives("groß:big, klein:small", *_THINGLIKE, "animal", "food", "place")
    + _adjectives("schön:beautiful", *_THINGLIKE, "place", "person")
    + _adjectives("alt:old", *_THINGLIKE, "place", "person", "animal")
    + _adjectives("frisch:fresh, lecker:tasty, sauer/saur:sour", "food")
    + _adjectives("süß:sweet", "food", "drink")
    + _adjectives("süß:cute", "animal")  # same word, other noun: the translation depends on it
    + _adjectives("heiß:hot, kalt:cold, warm:warm", "food", "drink")
    + _adjectives(
        "jung:young, nett:nice, freundlich:friendly, klug:clever, müde:tired, glücklich:happy, "
        "traurig:sad, krank:sick, neugierig:curious, berühmt:famous, reich:rich, lustig:funny",
        "person",
    )
    + _adjectives("hungrig:hungry", "person", "animal")
    + _adjectives(
        "leer:empty, voll:full, ruhig:quiet, dunkel/dunkl:dark, hell:bright", "place", "room"
    )
)


def adjectives_for(noun: Noun) -> list[Adjective]:
    """Adjectives that fit ``noun`` (and translate one way for it)."""
    return [a for a in ADJECTIVES if a.cats & noun.cats]
