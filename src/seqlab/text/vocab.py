"""Output vocabularies for CTC: characters, or sentencepiece subwords.

Both kinds share one duck type: ``encode``, ``unmappable``, ``decode``, ``blank_id``, ``__len__``,
``save``, ``load`` and ``kind``. The CTC blank is always id 0. Text is normalised with
:func:`seqlab.text.normalize.normalize_text` before encoding.

Sentencepiece ids are shifted by one (model id ``i`` is output id ``i + 1``) so that id 0 stays free
for the blank; sentencepiece's own ``<unk>`` therefore is output id 1, and bos/eos are disabled.

On disk, ``save(dir)`` writes ``dir/vocab.json`` (``{"kind": ..., ...}``) and, for sentencepiece,
``dir/sentencepiece.model``; :func:`load_vocab` reads either kind back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqlab.text.normalize import normalize_text

VOCAB_FILE = "vocab.json"
SP_MODEL_FILE = "sentencepiece.model"
BLANK = "<blank>"


def _raise_unmappable(text: str, missing: set[str], kind: str) -> None:
    shown = ", ".join(repr(c) for c in sorted(missing))
    raise ValueError(
        f"transcript {text!r} has characters the {kind} vocabulary cannot encode: {shown}; "
        "spell them out (numbers, symbols) or transliterate them before indexing"
    )


class CharVocab:
    """Character vocabulary: ``<blank>`` (0), space (1), apostrophe (2), a..z (3..28): 29 outputs."""

    kind = "char"
    blank_id = 0

    def __init__(self, symbols: Sequence[str] | None = None) -> None:
        """Args:
        symbols: output symbols with the blank first; default blank, space, ', a..z.
        """
        if symbols is None:
            symbols = [BLANK, " ", "'", *"abcdefghijklmnopqrstuvwxyz"]
        if symbols[0] != BLANK:
            raise ValueError(
                f"the first symbol must be the CTC blank {BLANK!r}, got {symbols[0]!r}"
            )
        self.symbols = list(symbols)
        self._id_of = {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols)

    def unmappable(self, text: str) -> set[str]:
        """Characters of the normalised ``text`` that have no id."""
        return {c for c in normalize_text(text) if c not in self._id_of}

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text``; raises ``ValueError`` naming any unmappable characters.

        Returns:
            ids, one per character of the normalised text (never the blank).
        """
        normalized = normalize_text(text)
        missing = {c for c in normalized if c not in self._id_of}
        if missing:
            _raise_unmappable(text, missing, self.kind)
        return [self._id_of[c] for c in normalized]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text; blanks are skipped (CTC collapsing is the decoder's job)."""
        return "".join(self.symbols[i] for i in map(int, ids) if i != self.blank_id)

    def save(self, directory: str | Path) -> None:
        """Write ``directory/vocab.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"kind": self.kind, "symbols": self.symbols}
        (directory / VOCAB_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> CharVocab:
        """Read what :meth:`save` wrote."""
        payload = _read_vocab_json(directory, expect_kind=cls.kind)
        return cls(payload["symbols"])


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
        import sentencepiece as spm

        normalized = [t for t in (normalize_text(t) for t in texts) if t]
        if not normalized:
            raise ValueError("cannot train sentencepiece: no non-empty transcripts were given")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(normalized),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,  # every training character stays spellable
                unk_id=0,
                bos_id=-1,
                eos_id=-1,
                pad_id=-1,
                num_threads=1,  # deterministic and polite on shared machines
                minloglevel=2,
            )
        except RuntimeError as err:
            raise ValueError(
                f"sentencepiece training failed for vocab_size={vocab_size} on "
                f"{len(normalized)} transcripts: {err}; a smaller vocab_size usually fixes it"
            ) from err
        vocab = cls(model.getvalue())
        if out_dir is not None:
            vocab.save(out_dir)
        return vocab

    def __len__(self) -> int:
        return self.processor.get_piece_size() + 1

    def unmappable(self, text: str) -> set[str]:
        """Characters of the normalised ``text`` the model cannot spell (they would become <unk>)."""
        return {c for c in normalize_text(text) if c != " " and c not in self.alphabet}

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text``; raises ``ValueError`` naming any unmappable characters."""
        normalized = normalize_text(text)
        missing = {c for c in normalized if c != " " and c not in self.alphabet}
        if missing:
            _raise_unmappable(text, missing, self.kind)
        return [i + 1 for i in self.processor.encode(normalized)]

    def decode(self, ids: Iterable[int]) -> str:
        """Output ids back to text; blanks are skipped."""
        return self.processor.decode([i - 1 for i in map(int, ids) if i != self.blank_id])

    def save(self, directory: str | Path) -> None:
        """Write ``directory/vocab.json`` and ``directory/sentencepiece.model``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SP_MODEL_FILE).write_bytes(self.model_proto)
        payload = {"kind": self.kind, "model_file": SP_MODEL_FILE, "id_offset": 1}
        (directory / VOCAB_FILE).write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> SentencePieceVocab:
        """Read what :meth:`save` wrote (``model_file`` must be a file inside ``directory``)."""
        from seqlab.registry import artifact_path

        payload = _read_vocab_json(directory, expect_kind=cls.kind)
        source = str(Path(directory) / VOCAB_FILE)
        model_path = artifact_path(directory, payload.get("model_file"), source, "model_file")
        if not model_path.is_file():
            raise FileNotFoundError(
                f"{model_path} is missing; {directory} holds an incomplete vocab"
            )
        return cls(model_path.read_bytes())


Vocab = CharVocab | SentencePieceVocab


def _read_vocab_json(directory: str | Path, expect_kind: str | None = None) -> dict:
    path = Path(directory) / VOCAB_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; save a vocabulary there with vocab.save(dir)")
    payload = json.loads(path.read_text())
    if expect_kind is not None and payload.get("kind") != expect_kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} vocabulary, not {expect_kind!r}")
    return payload


def load_vocab(directory: str | Path, hook: str | None = None) -> Vocab:
    """Load a vocabulary of any kind from the directory ``save`` wrote.

    Args:
        directory: e.g. a checkpoint directory.
        hook: the text hook the user's own config names (``data.text.hook``); a hook saved in
            the vocabulary runs only when it is this one (see ScriptCharVocab.load).
    """
    kind = _read_vocab_json(directory).get("kind")
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
