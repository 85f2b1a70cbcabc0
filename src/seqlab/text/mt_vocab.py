"""Vocabularies for translation: words (with specials and min frequency) or sentencepiece subwords.

Both kinds share one duck type: ``encode(line) -> ids`` (no bos/eos: the task adds them),
``decode(ids) -> natural text`` (stops at eos, drops specials, detokenised for BLEU),
``tokens(ids) -> list[str]``, ``__len__``, ``pad_id``/``unk_id``/``bos_id``/``eos_id`` = 0/1/2/3,
``kind`` ("word", "bpe", "unigram"), ``lang`` and ``save(directory, name)``;
:func:`load_mt_vocab` reads either back.

Input lines are tokenized text (the homework files: "ich habe den zug verpasst ."). Word vocabularies
split them on whitespace. Sentencepiece is trained on, and encodes, the Moses-detokenised line
("ich habe den zug verpasst.") so that it sees natural text; its decode gives natural text back.

On disk a run's checkpoint directory holds ``src_vocab.json`` and ``tgt_vocab.json`` (plus
``src.model``/``tgt.model`` for sentencepiece); a joint vocabulary is saved under both names.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


@cache
def _detokenizer(lang: str):
    from sacremoses import MosesDetokenizer

    return MosesDetokenizer(lang=lang)


def detokenize(text: str, lang: str) -> str:
    """Moses-detokenise a tokenized line: "i missed the train ." -> "i missed the train."."""
    return _detokenizer(lang).detokenize(text.split())


def _until_eos(ids: Iterable[int]) -> list[int]:
    """Ids up to (not including) the first eos, without pad/unk/bos."""
    out = []
    for i in map(int, ids):
        if i == EOS_ID:
            break
        if i not in (PAD_ID, UNK_ID, BOS_ID):
            out.append(i)
    return out


class WordVocab:
    """Whitespace tokens: specials at 0..3, then tokens by descending frequency (ties: alphabetical)."""

    kind = "word"
    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, itos: Sequence[str], lang: str = "en") -> None:
        """Args:
        itos: id -> token, starting with the four specials.
        lang: language for detokenising decoded text (Moses rules).
        """
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"a word vocabulary must start with {SPECIALS}, got {tuple(itos[:4])}")
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.lang = lang

    @classmethod
    def build(
        cls,
        lines: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        lang: str = "en",
    ) -> WordVocab:
        """Count whitespace tokens of ``lines`` and keep the frequent ones.

        Args:
            lines: tokenized training lines.
            min_freq: tokens seen fewer times become ``<unk>``.
            max_size: cap on the vocabulary size including the four specials (None: no cap).
            lang: language for detokenising decoded text.
        """
        counts = Counter(token for line in lines for token in line.split())
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            if max_size < len(SPECIALS):
                raise ValueError(f"max_size={max_size} leaves no room for the 4 special tokens")
            kept = kept[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept], lang=lang)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, line: str) -> list[int]:
        """Token ids of a tokenized line (unknown tokens -> ``unk_id``); no bos/eos."""
        return [self.stoi.get(token, UNK_ID) for token in line.split()]

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Raw tokens up to the first eos (pad/bos dropped, ``<unk>`` kept)."""
        out = []
        for i in map(int, ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.itos[i])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Natural text: up to the first eos, specials dropped, Moses-detokenised."""
        return _detokenizer(self.lang).detokenize([self.itos[i] for i in _until_eos(ids)])

    def save(self, directory: str | Path, name: str) -> None:
        """Write ``directory/<name>_vocab.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"kind": self.kind, "lang": self.lang, "itos": self.itos}
        (directory / f"{name}_vocab.json").write_text(json.dumps(payload, ensure_ascii=False))


class SubwordVocab:
    """Sentencepiece BPE or unigram pieces with pad/unk/bos/eos at 0..3, trained on natural text."""

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, model_proto: bytes, kind: str, lang: str = "en") -> None:
        """Args:
        model_proto: serialized sentencepiece model (the bytes of a ``.model`` file).
        kind: "bpe" or "unigram" (as trained).
        lang: language for detokenising input lines before encoding.
        """
        import sentencepiece as spm

        self.model_proto = model_proto
        self.kind = kind
        self.lang = lang
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        vocab_size: int,
        model_type: str = "bpe",
        lang: str = "en",
        langs: Sequence[str] | None = None,
    ) -> SubwordVocab:
        """Train sentencepiece on detokenised ``lines``.

        Args:
            lines: tokenized training lines.
            vocab_size: number of pieces including the four specials.
            model_type: "bpe" or "unigram".
            lang: language of the lines (Moses detokenisation rules); also the vocabulary's.
            langs: per-line languages instead of ``lang`` (a joint vocabulary's two sides).
        """
        import sentencepiece as spm

        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {model_type!r}")
        lines = list(lines)
        per_line = list(langs) if langs is not None else [lang] * len(lines)
        natural = [detokenize(line, lg) for line, lg in zip(lines, per_line, strict=True)]
        natural = [text for text in natural if text]
        if not natural:
            raise ValueError("cannot train sentencepiece: no non-empty training lines were given")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(natural),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,  # every training character stays spellable
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                num_threads=1,  # deterministic and polite on shared machines
                minloglevel=2,
            )
        except RuntimeError as err:
            raise ValueError(
                f"sentencepiece {model_type} training failed for vocab_size={vocab_size} on "
                f"{len(natural)} lines: {err}; a smaller vocab_size usually fixes it"
            ) from err
        return cls(model.getvalue(), kind=model_type, lang=lang)

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, line: str) -> list[int]:
        """Piece ids of the detokenised line; no bos/eos."""
        return self.processor.encode(detokenize(line, self.lang))

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Pieces up to the first eos (pad/bos dropped)."""
        out = []
        for i in map(int, ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.processor.id_to_piece(i))
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Natural text: up to the first eos, specials dropped."""
        return self.processor.decode(_until_eos(ids))

    def save(self, directory: str | Path, name: str) -> None:
        """Write ``directory/<name>_vocab.json`` and ``directory/<name>.model``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.model").write_bytes(self.model_proto)
        payload = {"kind": self.kind, "lang": self.lang, "model_file": f"{name}.model"}
        (directory / f"{name}_vocab.json").write_text(json.dumps(payload))


MTVocab = WordVocab | SubwordVocab


def load_mt_vocab(directory: str | Path, name: str) -> MTVocab:
    """Read what ``save(directory, name)`` wrote (either kind)."""
    path = Path(directory) / f"{name}_vocab.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; a translation run saves its vocabularies as src_vocab.json and "
            "tgt_vocab.json next to the model"
        )
    payload = json.loads(path.read_text())
    kind = payload.get("kind")
    if kind == WordVocab.kind:
        return WordVocab(payload["itos"], lang=payload.get("lang", "en"))
    if kind in ("bpe", "unigram"):
        from seqlab.registry import artifact_path

        model_path = artifact_path(directory, payload.get("model_file"), str(path), "model_file")
        if not model_path.is_file():
            raise FileNotFoundError(f"{model_path} is missing; {path} refers to it")
        return SubwordVocab(model_path.read_bytes(), kind=kind, lang=payload.get("lang", "en"))
    raise ValueError(f"{path}: unknown vocabulary kind {kind!r}; expected word, bpe or unigram")


def build_mt_vocabs(
    src_lines: Sequence[str],
    tgt_lines: Sequence[str],
    kind: str = "word",
    joint: bool = False,
    vocab_size: int = 8000,
    min_freq: int = 1,
    max_size: int | None = None,
    src_lang: str = "de",
    tgt_lang: str = "en",
) -> tuple[MTVocab, MTVocab]:
    """Build the source and target vocabularies from the training lines.

    Args:
        src_lines, tgt_lines: tokenized training lines of each side.
        kind: "word", "bpe" or "unigram".
        joint: one vocabulary over both sides (returned twice, the same object); its ``lang``
            is ``tgt_lang`` (decode is for outputs; encode's detokenisation rules barely differ).
        vocab_size: sentencepiece vocabulary size (including the specials).
        min_freq, max_size: word vocabulary limits (see :meth:`WordVocab.build`).
        src_lang, tgt_lang: languages (Moses rules).

    Returns:
        (src_vocab, tgt_vocab).
    """
    if kind == "word":
        if joint:
            vocab = WordVocab.build([*src_lines, *tgt_lines], min_freq, max_size, lang=tgt_lang)
            return vocab, vocab
        return (
            WordVocab.build(src_lines, min_freq, max_size, lang=src_lang),
            WordVocab.build(tgt_lines, min_freq, max_size, lang=tgt_lang),
        )
    if kind in ("bpe", "unigram"):
        if joint:
            langs = [src_lang] * len(src_lines) + [tgt_lang] * len(tgt_lines)
            vocab = SubwordVocab.train(
                [*src_lines, *tgt_lines], vocab_size, kind, lang=tgt_lang, langs=langs
            )
            return vocab, vocab
        return (
            SubwordVocab.train(src_lines, vocab_size, kind, lang=src_lang),
            SubwordVocab.train(tgt_lines, vocab_size, kind, lang=tgt_lang),
        )
    raise ValueError(f"unknown vocabulary kind {kind!r}; use 'word', 'bpe' or 'unigram'")
