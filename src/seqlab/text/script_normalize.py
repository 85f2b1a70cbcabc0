"""Transcript normalisation for any script (Devanagari, Cyrillic, Latin with diacritics...).

:func:`seqlab.text.normalize.normalize_text` is the English recipe: it strips combining marks,
which would destroy Devanagari (the virama ``्`` is one) and Cyrillic (``й`` is ``и`` + breve).
:class:`ScriptNormalizer` keeps every letter and mark of the script, in this order:

1. ``hook`` (optional): a user function ``str -> str`` named ``"package.module:function"``, run
   first (e.g. a Nepali number speller; num2words has no Nepali). Only the user's own config or
   command line chooses it: a hook named by a loaded vocabulary is never imported
   (``withhold``; docs/security.md).
2. Unicode NFC (composed letters, one code point where the script has one).
3. Lowercase, where the script has case (``str.lower`` leaves caseless scripts unchanged).
4. Numbers: runs of decimal digits of any script (``123``, ``१२३``) are spelled out with
   ``num2words(n, lang=language)`` when ``numbers="num2words"`` and num2words knows the language;
   otherwise they stay (and a vocabulary built from such text then holds digits).
5. Hyphens, dashes and slashes become spaces; punctuation (Unicode category P*: ``, . ? ! « » ।``)
   is dropped, except an apostrophe between two letters when ``keep_apostrophe``; a dropped mark
   leaves a space.
6. Whitespace runs collapse to one space, ends are trimmed.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass

from seqlab.text.normalize import APOSTROPHES, drop_punctuation

_DIGITS = re.compile(r"\d+")  # \d on str patterns: every Unicode decimal digit (Nd)


def _load_hook(spec: str) -> Callable[[str], str]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(
            f"text normalisation hook {spec!r} must be 'package.module:function' (a function "
            "str -> str, e.g. 'mypackage.nepali:spell_numbers')"
        )
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import the text normalisation hook {spec!r}: {err}") from err


@dataclass
class ScriptNormalizer:
    """Script-agnostic transcript normalisation (see the module docstring); picklable, saved as a dict.

    Attributes:
        language: ISO code for num2words (``ru``, ``de``, ``hi``...); None = leave digits alone.
        lowercase: lowercase letters that have case.
        numbers: ``num2words`` (spell digit runs out in ``language``) or ``keep``.
        keep_apostrophe: keep word-internal apostrophes (``don't``, ``l'eau``).
        hook: ``"package.module:function"`` run before everything else, or None.
    """

    language: str | None = None
    lowercase: bool = True
    numbers: str = "num2words"
    keep_apostrophe: bool = True
    hook: str | None = None

    def __post_init__(self) -> None:
        if self.numbers not in ("num2words", "keep"):
            raise ValueError(f"numbers must be 'num2words' or 'keep', got {self.numbers!r}")
        self._hook = _load_hook(self.hook) if self.hook else None
        self._withheld: tuple[str, str] | None = None  # (hook, file) named by a loaded file
        self._spell = None
        if self.numbers == "num2words" and self.language:
            from num2words import CONVERTER_CLASSES, num2words

            lang = self.language.replace("-", "_")
            if lang not in CONVERTER_CLASSES and lang.split("_")[0] in CONVERTER_CLASSES:
                lang = lang.split("_")[0]
            if lang in CONVERTER_CLASSES:
                self._spell = lambda n, lang=lang: num2words(n, lang=lang)

    @property
    def spells_numbers(self) -> bool:
        """True when digit runs are spelled out (num2words knows ``language``)."""
        return self._spell is not None

    def withhold(self, hook: str, source: str) -> None:
        """Record that ``source`` (a loaded vocabulary) names ``hook``, which is not imported:
        normalising then raises an error saying how the user can give it themselves."""
        self._withheld = (hook, source)

    def to_dict(self) -> dict:
        """The settings, as saved next to a vocabulary (a withheld hook is kept as it was)."""
        return {**asdict(self), **({"hook": self._withheld[0]} if self._withheld else {})}

    def __call__(self, text: str) -> str:
        """Normalise one transcript.

        Args:
            text: raw transcript.

        Returns:
            the normalised transcript (may be empty).
        """
        if self._withheld is not None:
            from seqlab.registry import withheld_hook_error

            raise withheld_hook_error(*self._withheld)
        if self._hook is not None:
            text = self._hook(text)
        text = unicodedata.normalize("NFC", text)
        if self.lowercase:
            text = text.lower()
        text = text.translate(APOSTROPHES)
        if self._spell is not None:
            text = _DIGITS.sub(lambda m: f" {self._spell(int(m.group()))} ", text)
            if self.lowercase:
                text = text.lower()
        return drop_punctuation(text, self.keep_apostrophe, dropped_apostrophe=" ")
