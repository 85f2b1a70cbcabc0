"""German determiners, possessives and adjective endings per case and gender; English "a"/"an"."""

from __future__ import annotations

CASES = ("nom", "acc", "dat")
GENDERS = ("m", "f", "n", "pl")

# ---- German determiners and adjective endings ---------------------------------------------------

DEFINITE = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
# "dieser", "jeder": stem + ending.
DER_WORD_ENDINGS = {
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# "ein", "kein" and the possessives: stem + ending.
EIN_WORD_ENDINGS = {
    "nom": {"m": "", "f": "e", "n": "", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
ADJ_WEAK = {  # after der/dieser
    "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
    "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
    "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
}
ADJ_MIXED = {  # after ein/kein/mein (plural: like weak)
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
    "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
}
ADJ_STRONG = {  # no determiner, or after a number
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# Preposition + definite article contractions that German always makes.
CONTRACTIONS = {
    ("in", "dem"): "im",
    ("an", "dem"): "am",
    ("zu", "dem"): "zum",
    ("zu", "der"): "zur",
    ("bei", "dem"): "beim",
    ("von", "dem"): "vom",
    ("in", "das"): "ins",
}
POSSESSIVES = {"mein": "my", "dein": "your", "sein": "his", "ihr": "her", "unser": "our"}

# ---- English helpers ------------------------------------------------------------------------------

_AN_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "once")


def en_indefinite(next_word: str) -> str:
    """ "a" or "an" before ``next_word`` (by its sound, for the words of this lexicon)."""
    if next_word.startswith(("hour", "honest")):
        return "an"
    if next_word[0] in "aeiou" and not next_word.startswith(_AN_EXCEPTIONS):
        return "an"
    return "a"
