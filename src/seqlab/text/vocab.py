"""Output vocabularies for CTC: characters, or sentencepiece subwords.

Both kinds share one duck type: ``normalize``, ``encode``, ``unmappable``, ``decode``, ``blank_id``,
``__len__``, ``save``, ``load`` and ``kind``. The CTC blank is always id 0. Text is normalised with
:func:`seqlab.text.normalize.normalize_text` before encoding. :class:`CharVocab` is a
:class:`seqlab.text.vocab_base.CharVocabBase`, as is the any-script
:class:`seqlab.text.script_vocab.ScriptCharVocab`.

Sentencepiece ids are shifted by one (model id ``i`` is output id ``i + 1``) so that id 0 stays free
for the blank; sentencepiece's own ``<unk>`` therefore is output id 1, and bos/eos are disabled.

On disk, ``save(dir)`` writes ``dir/vocab.json`` (``{"kind": ..., ...}``) and, for sentencepiece,
``dir/sentencepiece.model``; :func:`load_vocab` reads either kind back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from seqlab.text.normalize import normalize_text
from seqlab.text.sentencepiece import train_sentencepiece
from seqlab.text.vocab_base import (
    BLANK,
    VOCAB_FILE,
    CharVocabBase,
    read_vocab_json,
    unmappable_error,
    write_vocab_json,
)

SP_MODEL_FILE = "sentencepiece.model"


class CharVocab(CharVocabBase):
    """Character vocabulary: ``<blank>`` (0), space (1), apostrophe (2), a..z (3..28): 29 outputs.

    Args:
        symbols: output symbols with the blank first; default blank, space, ', a..z.
    """

    kind = "char"

    def __init__(self, symbols: Sequence[str] | None = None) -> None:
        if symbols is None:
            symbols = [BLANK, " ", "'", *"abcdefghijklmnopqrstuvwxyz"]
        super().__init__(symbols)

    def normalize(self, text: str) -> str:
        """The transcript as this vocabulary encodes it (:func:`normalize_text`)."""
        return normalize_text(text)

    def payload(self) -> dict:
        """``vocab.json``: the kind and the symbols."""
        return {"kind": self.kind, "symbols": self.symbols}

    @classmethod
    def load(cls, directory: str | Path) -> CharVocab:
        """Read what :meth:`save` wrote."""
        return cls(read_vocab_json(directory, expect_kind=cls.kind)["symbols"])


class SentencePieceVocab:
    """Sentencepiece subwords; output id = sentencepiece id + 1, output id 0 is the CTC blank."""

    kind = "sentencepiece"
    blank_id = 0

    def __init__(self, model_proto: bytes) -> None:
        """Args:
        model_proto: the serialized sentencepiece model (the bytes of a ``.model`` file).
        """
        import sentencepiece as spm

        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        # Characters the model can spell: every character of every non-special piece.
        self.alphabet: set[str] = set()
        for piece_id in range(self.processor.get_piece_size()):
            if self.processor.is_unknown(piece_id) or self.processor.is_control(piece_id):
                continue
            self.alphabet.update(self.processor.id_to_piece(piece_id).replace("\u2581", " "))

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        out_dir: str | Path | None = None,
        model_type: str = "unigram",
    ) -> SentencePieceVocab:
        """Train a sentencepiece model on normalised ``texts``.

        Args:
            texts: training transcripts (normalised here).
            vocab_size: sentencepiece vocabulary size; the CTC model has ``vocab_size + 1`` outputs.
            out_dir: if given, the vocabulary is saved there.
            model_type: "unigram", "bpe", "char" or "word".

        Returns:
            the trained vocabulary.
        """
        normalized = [t for t in (normalize_text(t) for t in texts) if t]
        if not normalized:
            raise ValueError("cannot train sentencepiece: no non-empty transcripts were given")
        proto = train_sentencepiece(normalized, vocab_size, model_type, unit="transcripts")
        vocab = cls(proto)
        if out_dir is not None:
            vocab.save(out_dir)
        return vocab

    def __len__(self) -> int:
        return self.processor.get_piece_size() + 1

    def normalize(self, text: str) -> str:
        """The transcript as this vocabulary encodes it (:func:`normalize_text`)."""
        return normalize_text(text)

    def unmappable(self, text: str) -> set[str]:
        """Characters of the normalised ``text`` the model cannot spell (they would become <unk>)."""
        return {c for c in self.normalize(text) if c != " " and c not in self.alphabet}

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text``; raises ``ValueError`` naming any unmappable characters."""
        normalized = self.normalize(text)
        missing = {c for c in normalized if c != " " and c not in self.alphabet}
        if missing:
            raise unmappable_error(text, missing, self.kind)
        return [i + 1 for i in self.processor.encode(normalized)]

    def decode(self, ids: Iterable[int]) -> str:
        """Output ids back to text; blanks are skipped."""
        return self.processor.decode([i - 1 for i in map(int, ids) if i != self.blank_id])

    def save(self, directory: str | Path) -> None:
        """Write ``directory/vocab.json`` and ``directory/sentencepiece.model``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SP_MODEL_FILE).write_bytes(self.model_proto)
        write_vocab_json(
            directory, {"kind": self.kind, "model_file": SP_MODEL_FILE, "id_offset": 1}
        )

    @classmethod
    def load(cls, directory: str | Path) -> SentencePieceVocab:
        """Read what :meth:`save` wrote (``model_file`` must be a file inside ``directory``)."""
        from seqlab.registry import artifact_path

        payload = read_vocab_json(directory, expect_kind=cls.kind)
        source = str(Path(directory) / VOCAB_FILE)
        model_path = artifact_path(directory, payload.get("model_file"), source, "model_file")
        if not model_path.is_file():
            raise FileNotFoundError(
                f"{model_path} is missing; {directory} holds an incomplete vocab"
            )
        return cls(model_path.read_bytes())


Vocab = CharVocab | SentencePieceVocab


def load_vocab(directory: str | Path, hook: str | None = None) -> Vocab:
    """Load a vocabulary of any kind from the directory ``save`` wrote.

    Args:
        directory: e.g. a checkpoint directory.
        hook: the text hook the user's own config names (``data.text.hook``); a hook saved in
            the vocabulary runs only when it is this one (see ScriptCharVocab.load).
    """
    kind = read_vocab_json(directory).get("kind")
    if kind == CharVocab.kind:
        return CharVocab.load(directory)
    if kind == SentencePieceVocab.kind:
        return SentencePieceVocab.load(directory)
    if kind == "script_char":  # any script (seqlab/text/script_vocab.py)
        from seqlab.text.script_vocab import ScriptCharVocab

        return ScriptCharVocab.load(directory, hook=hook)
    raise ValueError(f"{Path(directory) / VOCAB_FILE}: unknown vocabulary kind {kind!r}")


def build_vocab(
    kind: str = "char",
    texts: Iterable[str] | None = None,
    vocab_size: int = 256,
    out_dir: str | Path | None = None,
    model_type: str = "unigram",
) -> Vocab:
    """Make a vocabulary of ``kind`` ("char" or "sentencepiece") and save it to ``out_dir`` if given.

    Args:
        kind: "char" (fixed 29 outputs) or "sentencepiece" (trained on ``texts``).
        texts: training transcripts; required for sentencepiece, ignored for char.
        vocab_size: sentencepiece vocabulary size (outputs = vocab_size + 1 with the blank).
        out_dir: directory to save the vocabulary in.
        model_type: sentencepiece model type.
    """
    if kind == "char":
        vocab: Vocab = CharVocab()
        if out_dir is not None:
            vocab.save(out_dir)
        return vocab
    if kind == "sentencepiece":
        if texts is None:
            raise ValueError("build_vocab(kind='sentencepiece') needs texts to train on")
        return SentencePieceVocab.train(texts, vocab_size, out_dir, model_type=model_type)
    raise ValueError(f"unknown vocabulary kind {kind!r}; use 'char' or 'sentencepiece'")
