"""Character vocabulary of any script, built from the training transcripts (for HF CTC models).

Ids: ``0`` is the CTC blank, which is also Hugging Face's ``[PAD]`` (wav2vec2's CTC uses
``pad_token_id`` as the blank); ``1`` is the word delimiter (a space here, ``|`` in the Hugging Face
tokenizer); ``2`` is ``[UNK]`` (never a training target: the index leaves out transcripts with
characters outside the vocabulary); then every character of the normalised training
transcripts, sorted by code point. A :class:`seqlab.text.vocab_base.CharVocabBase`, as
:class:`seqlab.text.vocab.CharVocab` is (``encode``, ``decode``, ``unmappable``, ``symbols``,
``blank_id``, ``save``/``load``), normalising with the
:class:`seqlab.text.script_normalize.ScriptNormalizer` it was built with (saved with it); plus
:meth:`hf_tokenizer` (the matching ``Wav2Vec2CTCTokenizer``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path

from seqlab.text.script_normalize import ScriptNormalizer
from seqlab.text.vocab_base import BLANK, VOCAB_FILE, CharVocabBase, read_vocab_json

HF_PAD = "[PAD]"
HF_UNK = "[UNK]"
HF_WORD_DELIMITER = "|"
UNK = HF_UNK  # decoded as Hugging Face decodes it


class ScriptCharVocab(CharVocabBase):
    """Characters of the training transcripts of any script, with blank, space and unk.

    Args:
        chars: the characters (no space), in id order from id 3 on.
        normalizer: how transcripts are normalised before encoding.
    """

    kind = "script_char"
    space_id = 1
    unk_id = 2

    def __init__(self, chars: Iterable[str], normalizer: ScriptNormalizer | None = None) -> None:
        chars = list(chars)
        bad = [c for c in chars if len(c) != 1 or c.isspace()]
        if bad or len(set(chars)) != len(chars):
            raise ValueError(
                f"vocabulary characters must be distinct single non-space characters, got {bad or chars}"
            )
        super().__init__([BLANK, " ", UNK, *chars])
        self.normalizer = normalizer or ScriptNormalizer()
        self.unknown_as_unk = False  # see with_unknowns

    @classmethod
    def from_texts(cls, texts: Iterable[str], normalizer: ScriptNormalizer) -> ScriptCharVocab:
        """Every character of the normalised ``texts`` (sorted by code point).

        Raises:
            ValueError: when no text has a character left after normalisation.
        """
        chars = {c for text in texts for c in normalizer(text) if not c.isspace()}
        if not chars:
            raise ValueError(
                "cannot build a character vocabulary: the training transcripts are empty after "
                "normalisation; check data.train and the text normaliser settings"
            )
        return cls(sorted(chars), normalizer)

    def normalize(self, text: str) -> str:
        """The transcript as this vocabulary encodes it (see ScriptNormalizer)."""
        return self.normalizer(text)

    def with_unknowns(self) -> ScriptCharVocab:
        """The same vocabulary, but characters outside it encode as ``[UNK]`` instead of being
        unmappable (for evaluation splits: an unseen character must not drop the utterance)."""
        other = copy.copy(self)
        other.unknown_as_unk = True
        return other

    def unmappable(self, text: str) -> set[str]:
        """Characters of the normalised ``text`` that are not in the vocabulary."""
        if self.unknown_as_unk:
            return set()
        return super().unmappable(text)

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text``; raises ``ValueError`` naming unmappable characters
        (with :meth:`with_unknowns`: they become ``[UNK]``)."""
        if self.unknown_as_unk:
            return [self._id_of.get(c, self.unk_id) for c in self.normalize(text)]
        return super().encode(text)

    def payload(self) -> dict:
        """``vocab.json``: the characters (from id 3 on) and the normaliser's settings."""
        return {
            "kind": self.kind,
            "chars": self.symbols[3:],
            "normalizer": self.normalizer.to_dict(),
        }

    @classmethod
    def load(cls, directory: str | Path, hook: str | None = None) -> ScriptCharVocab:
        """Read what :meth:`save` wrote.

        Args:
            directory: where ``vocab.json`` is.
            hook: the text hook the user's own config names (``data.text.hook``). A hook saved
                in ``vocab.json`` is imported only when it is this one; otherwise it is never
                imported and normalising text raises an error that says how to give it (the
                vocabulary still decodes: transcription needs no normaliser).
        """
        payload = read_vocab_json(directory, expect_kind=cls.kind)
        settings = dict(payload.get("normalizer") or {})
        saved = settings.get("hook")
        if saved and saved != hook:
            settings["hook"] = None
            normalizer = ScriptNormalizer(**settings)
            normalizer.withhold(saved, str(Path(directory) / VOCAB_FILE))
        else:
            normalizer = ScriptNormalizer(**settings)
        return cls(payload["chars"], normalizer)

    def hf_vocab(self) -> dict[str, int]:
        """The ``vocab.json`` of a Hugging Face ``Wav2Vec2CTCTokenizer``: token -> id, same ids."""
        names = {BLANK: HF_PAD, " ": HF_WORD_DELIMITER}
        return {names.get(s, s): i for i, s in enumerate(self.symbols)}

    def hf_tokenizer(self, directory: str | Path):
        """A ``Wav2Vec2CTCTokenizer`` with the same ids (written to ``directory`` and loaded back)."""
        from transformers import Wav2Vec2CTCTokenizer

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if HF_WORD_DELIMITER in self._id_of:
            raise ValueError(
                f"the transcripts contain {HF_WORD_DELIMITER!r}, the Hugging Face word delimiter; "
                "remove it with a normalisation hook"
            )
        path = directory / "vocab.json"
        path.write_text(json.dumps(self.hf_vocab(), ensure_ascii=False, indent=1))
        return Wav2Vec2CTCTokenizer(
            str(path),
            unk_token=HF_UNK,
            pad_token=HF_PAD,
            word_delimiter_token=HF_WORD_DELIMITER,
            do_lower_case=False,  # seqlab's normaliser has already lowercased (where case exists)
        )
