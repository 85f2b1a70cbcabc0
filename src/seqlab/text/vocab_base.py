"""What the CTC output vocabularies share: the blank at id 0, ``vocab.json`` on disk, and, for the
character kinds, one symbol per output id.

:class:`CharVocabBase` holds the character vocabularies' encode/decode/save; its subclasses say how
a transcript is normalised and what ``vocab.json`` holds: :class:`seqlab.text.vocab.CharVocab`
(English letters) and :class:`seqlab.text.script_vocab.ScriptCharVocab` (any script, built from the
transcripts). :class:`seqlab.text.vocab.SentencePieceVocab` shares the file helpers. This module
imports no vocabulary, so ``vocab.load_vocab`` can load every kind without an import circle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

VOCAB_FILE = "vocab.json"
BLANK = "<blank>"


def unmappable_error(text: str, missing: set[str], kind: str) -> ValueError:
    """The error for a transcript with characters a ``kind`` vocabulary cannot encode."""
    shown = ", ".join(repr(c) for c in sorted(missing))
    return ValueError(
        f"transcript {text!r} has characters the {kind} vocabulary cannot encode: {shown}; "
        "spell them out (numbers, symbols) or transliterate them before indexing"
    )


def read_vocab_json(directory: str | Path, expect_kind: str | None = None) -> dict:
    """``directory/vocab.json`` as a dict; with ``expect_kind``, an error unless it holds that kind."""
    path = Path(directory) / VOCAB_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; save a vocabulary there with vocab.save(dir)")
    payload = json.loads(path.read_text())
    if expect_kind is not None and payload.get("kind") != expect_kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} vocabulary, not {expect_kind!r}")
    return payload


def write_vocab_json(directory: str | Path, payload: dict) -> None:
    """Write ``payload`` to ``directory/vocab.json`` (made if missing), characters unescaped."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / VOCAB_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=1))


class CharVocabBase:
    """One output symbol per id, the CTC blank first; transcripts are normalised, then each
    character is one id.

    Subclasses set ``kind`` and implement :meth:`normalize`, :meth:`payload` (what ``vocab.json``
    holds) and ``load``.

    Args:
        symbols: output symbols in id order, ``<blank>`` first.
    """

    kind = ""
    blank_id = 0

    def __init__(self, symbols: Sequence[str]) -> None:
        if symbols[0] != BLANK:
            raise ValueError(
                f"the first symbol must be the CTC blank {BLANK!r}, got {symbols[0]!r}"
            )
        self.symbols = list(symbols)
        self._id_of = {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols)

    def normalize(self, text: str) -> str:
        """The transcript as this vocabulary encodes it."""
        raise NotImplementedError

    def payload(self) -> dict:
        """What :meth:`save` writes to ``vocab.json`` (``kind`` first)."""
        raise NotImplementedError

    def unmappable(self, text: str) -> set[str]:
        """Characters of the normalised ``text`` that have no id."""
        return set(self.normalize(text)).difference(self._id_of)

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text``; raises ``ValueError`` naming any unmappable characters.

        Returns:
            ids, one per character of the normalised text (never the blank).
        """
        normalized = self.normalize(text)
        # set difference and map run in C: this is called once per utterance of a corpus
        missing = set(normalized).difference(self._id_of)
        if missing:
            raise unmappable_error(text, missing, self.kind)
        return list(map(self._id_of.__getitem__, normalized))

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text; blanks are skipped (CTC collapsing is the decoder's job)."""
        return "".join(self.symbols[i] for i in map(int, ids) if i != self.blank_id)

    def save(self, directory: str | Path) -> None:
        """Write ``directory/vocab.json`` (see :meth:`payload`)."""
        write_vocab_json(directory, self.payload())
