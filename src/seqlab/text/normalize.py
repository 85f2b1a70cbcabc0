"""Transcript normalisation for character and sentencepiece vocabularies.

The rules, in order (``normalize_text``):

1. Unicode NFKD, then drop combining marks: "café" -> "cafe", "ﬁ" -> "fi".
2. Lowercase.
3. Typographic apostrophes (’ ‘ ʼ ′ ` ´) become the ASCII apostrophe '.
4. Hyphens, dashes and slashes become spaces: "well-known" -> "well known", "and/or" -> "and or".
5. Punctuation (Unicode category P*) is dropped, except an apostrophe between two word characters
   ("don't", "o'clock" keep it; "'tis" and "dogs'" lose it). A dropped mark leaves a space, so
   "one,two" stays two words ("u.s.a." becomes "u s a", as it is spoken).
6. Whitespace runs collapse to one space; leading and trailing whitespace is removed.

Digits, symbols (Unicode category S*: $ + = ...) and letters outside a-z are kept on purpose: they
carry words ("5 $" is "five dollars") that silent deletion would lose, so the vocabulary reports them
as unmappable and the index leaves the item out with that reason instead of training on a wrong
transcript. Spell numbers out before indexing if such items matter.
"""

from __future__ import annotations

import re
import unicodedata

# Typographic apostrophes (’ ‘ ʼ ′ ` ´) -> the ASCII one (str.translate table; also the script recipe's).
APOSTROPHES = str.maketrans({c: "'" for c in "\u2019\u2018\u02bc\u2032`\u00b4"})
# Hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign, slashes.
_SEPARATORS = re.compile(r"[-\u2010\u2011\u2012\u2013\u2014\u2212/\\]")
_WHITESPACE = re.compile(r"\s+")
# The ASCII fast path of drop_punctuation (most corpora are ASCII; a loop per character costs ~0.1 ms
# per sentence, minutes for a 300,000-utterance index): ASCII punctuation but the apostrophe -> space,
# and the apostrophes without a letter or digit on both sides (ASCII isalnum is [A-Za-z0-9]).
_ASCII_PUNCTUATION = str.maketrans(
    {c: " " for c in map(chr, range(128)) if unicodedata.category(c).startswith("P") and c != "'"}
)
_UNFLANKED_APOSTROPHE = re.compile(r"(?<![A-Za-z0-9])'|'(?![A-Za-z0-9])")


def normalize_text(text: str) -> str:
    """Normalise a transcript as described in the module docstring.

    Args:
        text: raw transcript, any case, any Unicode.

    Returns:
        The normalised transcript (may be empty; may still hold digits or symbols).
    """
    if text.isascii():
        # NFKD leaves ASCII as it is, ASCII has no combining marks, and its one typographic
        # apostrophe is the backtick.
        return drop_punctuation(text.lower().replace("`", "'"))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().translate(APOSTROPHES)
    return drop_punctuation(text)


def drop_punctuation(text: str, keep_apostrophe: bool = True, dropped_apostrophe: str = "") -> str:
    """The last steps of both recipes (this one and ``ScriptNormalizer``): hyphens, dashes and
    slashes become spaces; punctuation (Unicode category P*) becomes a space, except an apostrophe
    between two letters or digits, kept when ``keep_apostrophe``; whitespace runs collapse to one
    space and the ends are trimmed.

    Args:
        text: text whose typographic apostrophes are already ASCII (see ``APOSTROPHES``).
        keep_apostrophe: keep word-internal apostrophes ("don't").
        dropped_apostrophe: what an apostrophe that is not kept becomes: "" here ("'tis" ->
            "tis", "o''clock" -> "oclock"), " " in the script recipe ("o clock").

    Returns:
        the text with single spaces between its words.
    """
    text = _SEPARATORS.sub(" ", text)
    if text.isascii():
        # The same rules as the loop below, in C: punctuation first (it maps to a space, which is
        # not alnum, so the apostrophes' neighbours keep their kind), then the apostrophes.
        text = text.translate(_ASCII_PUNCTUATION)
        if "'" in text:
            if keep_apostrophe:
                text = _UNFLANKED_APOSTROPHE.sub(lambda _: dropped_apostrophe, text)
            else:
                text = text.replace("'", dropped_apostrophe)
        # split() and \s agree on what whitespace is (str.isspace); this is the regex below.
        return " ".join(text.split())
    kept: list[str] = []
    for i, ch in enumerate(text):
        if ch == "'":
            # Keep only word-internal apostrophes; quotes around words are punctuation.
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if keep_apostrophe and before.isalnum() and after.isalnum():
                kept.append(ch)
            else:
                kept.append(dropped_apostrophe)
            continue
        # A dropped mark between two words (e.g. "end.Next") must still separate them.
        kept.append(" " if unicodedata.category(ch).startswith("P") else ch)
    return _WHITESPACE.sub(" ", "".join(kept)).strip()
