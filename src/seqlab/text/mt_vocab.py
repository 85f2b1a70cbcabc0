"""Vocabularies for translation: words (with specials and min frequency) or sentencepiece subwords.

Both kinds share one duck type: ``encode(line) -> ids`` (no bos/eos: the task adds them),
``decode(ids) -> natural text`` (stops at eos, drops specials, detokenised for BLEU),
``tokens(ids) -> list[str]``, ``__len__``, ``pad_id``/``unk_id``/``bos_id``/``eos_id`` = 0/1/2/3,
``kind`` ("word", "bpe", "unigram"), ``lang`` and ``save(directory, name)``;
:func:`load_mt_vocab` reads either back.

Input lines are either Moses-tokenised text (the homework files and the built-in corpus: "ich habe
den zug verpasst .") or raw text (real corpora such as Multi30k: "Ich habe den Zug verpasst.");
:func:`looks_tokenized` tells them apart. Word vocabularies split tokenised lines on whitespace and
Moses-tokenise raw ones first (``tokenize="moses"``), so that "Zug." and "Zug" are one word plus a
full stop. Sentencepiece is trained on, and encodes, natural text: tokenised lines are
Moses-detokenised first (``detokenize_input=True``), raw lines are taken as they are. Both decode
to natural text. A vocabulary saved before these options existed loads with the old behaviour
(no tokenisation for words, detokenised input for sentencepiece).

On disk a run's checkpoint directory holds ``src_vocab.json`` and ``tgt_vocab.json`` (plus
``src.model``/``tgt.model`` for sentencepiece); a joint vocabulary is saved under both names.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from seqlab.text.sentencepiece import train_sentencepiece

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
TOKENIZERS = ("moses", "none")  # a word vocabulary's input tokenisation


@cache
def _detokenizer(lang: str):
    from sacremoses import MosesDetokenizer

    return MosesDetokenizer(lang=lang)


def detokenize(text: str, lang: str) -> str:
    """Moses-detokenise a tokenized line: "i missed the train ." -> "i missed the train."."""
    return _detokenizer(lang).detokenize(text.split())


@cache
def _tokenizer(lang: str):
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang=lang)


def moses_tokenize(text: str, lang: str) -> list[str]:
    """Moses-tokenise a raw line: "I missed the train." -> ["I", "missed", "the", "train", "."].

    ``escape=False``: "&" and quotes stay as they are (no "&amp;"), so decoded text is natural.
    """
    return _tokenizer(lang).tokenize(text, escape=False)


def looks_tokenized(lines: Sequence[str], lang: str, sample: int = 2000) -> bool:
    """Whether ``lines`` are Moses-tokenised text rather than raw text.

    Moses detokenisation changes most tokenised lines ("a man 's hat ." -> "a man's hat.") and few
    raw ones; tokenisation does the opposite. The lines are tokenised when, over the first
    ``sample`` non-empty lines, detokenising changes more of them than tokenising does (ties,
    e.g. lines without punctuation, count as raw: both treatments then agree).
    """
    chosen = [line for line in lines if line.strip()][:sample]
    detok_changes = sum(detokenize(line, lang) != " ".join(line.split()) for line in chosen)
    tok_changes = sum(
        " ".join(moses_tokenize(line, lang)) != " ".join(line.split()) for line in chosen
    )
    return detok_changes > tok_changes


def _until_eos(ids: Iterable[int], keep_unk: bool = False) -> list[int]:
    """Ids up to (not including) the first eos, without pad and bos (and unk unless ``keep_unk``)."""
    dropped = (PAD_ID, BOS_ID) if keep_unk else (PAD_ID, UNK_ID, BOS_ID)
    out = []
    for i in map(int, ids):
        if i == EOS_ID:
            break
        if i not in dropped:
            out.append(i)
    return out


class WordVocab:
    """Whitespace tokens: specials at 0..3, then tokens by descending frequency (ties: alphabetical)."""

    kind = "word"
    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, itos: Sequence[str], lang: str = "en", tokenize: str = "none") -> None:
        """Args:
        itos: id -> token, starting with the four specials.
        lang: language for tokenising input and detokenising decoded text (Moses rules).
        tokenize: "moses" (input lines are raw text: Moses-tokenise them before the whitespace
            split) or "none" (input lines are tokenised already: whitespace split only).
        """
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"a word vocabulary must start with {SPECIALS}, got {tuple(itos[:4])}")
        if tokenize not in TOKENIZERS:
            raise ValueError(f"tokenize must be one of {TOKENIZERS}, got {tokenize!r}")
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.lang = lang
        self.tokenize = tokenize

    def split(self, line: str) -> list[str]:
        """The word tokens of an input line (Moses-tokenised first when ``tokenize="moses"``)."""
        return moses_tokenize(line, self.lang) if self.tokenize == "moses" else line.split()

    @classmethod
    def build(
        cls,
        lines: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        lang: str = "en",
        tokenize: str = "none",
        langs: Sequence[str] | None = None,
    ) -> WordVocab:
        """Count the word tokens of ``lines`` and keep the frequent ones.

        Args:
            lines: training lines (tokenised, or raw with ``tokenize="moses"``).
            min_freq: tokens seen fewer times become ``<unk>``.
            max_size: cap on the vocabulary size including the four specials (None: no cap).
            lang: language for tokenising and detokenising; also the vocabulary's.
            tokenize: "moses" or "none" (see the class).
            langs: per-line languages for tokenising instead of ``lang`` (a joint vocabulary).
        """
        lines = list(lines)
        per_line = list(langs) if langs is not None else [lang] * len(lines)
        if tokenize == "moses":
            tokens = (
                t
                for line, lg in zip(lines, per_line, strict=True)
                for t in moses_tokenize(line, lg)
            )
        else:
            tokens = (t for line in lines for t in line.split())
        counts = Counter(tokens)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            if max_size < len(SPECIALS):
                raise ValueError(f"max_size={max_size} leaves no room for the 4 special tokens")
            kept = kept[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept], lang=lang, tokenize=tokenize)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, line: str) -> list[int]:
        """Token ids of an input line (unknown tokens -> ``unk_id``); no bos/eos."""
        return [self.stoi.get(token, UNK_ID) for token in self.split(line)]

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Raw tokens up to the first eos (pad/bos dropped, ``<unk>`` kept)."""
        return [self.itos[i] for i in _until_eos(ids, keep_unk=True)]

    def decode(self, ids: Iterable[int]) -> str:
        """Natural text: up to the first eos, specials dropped, Moses-detokenised."""
        return _detokenizer(self.lang).detokenize([self.itos[i] for i in _until_eos(ids)])

    def save(self, directory: str | Path, name: str) -> None:
        """Write ``directory/<name>_vocab.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "kind": self.kind,
            "lang": self.lang,
            "tokenize": self.tokenize,
            "itos": self.itos,
        }
        (directory / f"{name}_vocab.json").write_text(json.dumps(payload, ensure_ascii=False))


class SubwordVocab:
    """Sentencepiece BPE or unigram pieces with pad/unk/bos/eos at 0..3, trained on natural text."""

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(
        self, model_proto: bytes, kind: str, lang: str = "en", detokenize_input: bool = True
    ) -> None:
        """Args:
        model_proto: serialized sentencepiece model (the bytes of a ``.model`` file).
        kind: "bpe" or "unigram" (as trained).
        lang: language for detokenising input lines before encoding.
        detokenize_input: input lines are Moses-tokenised text, detokenised before encoding
            (False: raw text, encoded as it is).
        """
        import sentencepiece as spm

        self.model_proto = model_proto
        self.kind = kind
        self.lang = lang
        self.detokenize_input = detokenize_input
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        vocab_size: int,
        model_type: str = "bpe",
        lang: str = "en",
        langs: Sequence[str] | None = None,
        detokenize_input: bool = True,
    ) -> SubwordVocab:
        """Train sentencepiece on the natural text of ``lines``.

        Args:
            lines: training lines (tokenised; raw with ``detokenize_input=False``).
            vocab_size: number of pieces including the four specials.
            model_type: "bpe" or "unigram".
            lang: language of the lines (Moses detokenisation rules); also the vocabulary's.
            langs: per-line languages instead of ``lang`` (a joint vocabulary's two sides).
            detokenize_input: Moses-detokenise the lines first (they are tokenised text).
        """
        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {model_type!r}")
        lines = list(lines)
        per_line = list(langs) if langs is not None else [lang] * len(lines)
        natural = (
            [detokenize(line, lg) for line, lg in zip(lines, per_line, strict=True)]
            if detokenize_input
            else [line.strip() for line in lines]
        )
        natural = [text for text in natural if text]
        if not natural:
            raise ValueError("cannot train sentencepiece: no non-empty training lines were given")
        proto = train_sentencepiece(
            natural, vocab_size, model_type, "lines", PAD_ID, UNK_ID, BOS_ID, EOS_ID
        )
        return cls(proto, kind=model_type, lang=lang, detokenize_input=detokenize_input)

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, line: str) -> list[int]:
        """Piece ids of the line's natural text (detokenised first if the input is tokenised);
        no bos/eos."""
        return self.processor.encode(
            detokenize(line, self.lang) if self.detokenize_input else line.strip()
        )

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Pieces up to the first eos (pad/bos dropped, ``<unk>`` kept)."""
        return [self.processor.id_to_piece(i) for i in _until_eos(ids, keep_unk=True)]

    def decode(self, ids: Iterable[int]) -> str:
        """Natural text: up to the first eos, specials dropped."""
        return self.processor.decode(_until_eos(ids))

    def save(self, directory: str | Path, name: str) -> None:
        """Write ``directory/<name>_vocab.json`` and ``directory/<name>.model``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.model").write_bytes(self.model_proto)
        payload = {
            "kind": self.kind,
            "lang": self.lang,
            "detokenize_input": self.detokenize_input,
            "model_file": f"{name}.model",
        }
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
        # vocabularies saved before the "tokenize" key split input on whitespace only
        return WordVocab(
            payload["itos"],
            lang=payload.get("lang", "en"),
            tokenize=payload.get("tokenize", "none"),
        )
    if kind in ("bpe", "unigram"):
        from seqlab.registry import artifact_path

        model_path = artifact_path(directory, payload.get("model_file"), str(path), "model_file")
        if not model_path.is_file():
            raise FileNotFoundError(f"{model_path} is missing; {path} refers to it")
        return SubwordVocab(  # saved before "detokenize_input": input was always detokenised
            model_path.read_bytes(),
            kind=kind,
            lang=payload.get("lang", "en"),
            detokenize_input=bool(payload.get("detokenize_input", True)),
        )
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
    tokenized: bool = True,
    tokenize: str = "auto",
) -> tuple[MTVocab, MTVocab]:
    """Build the source and target vocabularies from the training lines.

    Args:
        src_lines, tgt_lines: training lines of each side.
        kind: "word", "bpe" or "unigram".
        joint: one vocabulary over both sides (returned twice, the same object); its ``lang``
            is ``tgt_lang`` (decode is for outputs; encode's detokenisation rules barely differ).
        vocab_size: sentencepiece vocabulary size (including the specials).
        min_freq, max_size: word vocabulary limits (see :meth:`WordVocab.build`).
        src_lang, tgt_lang: languages (Moses rules).
        tokenized: the lines are Moses-tokenised text (False: raw text); see :func:`looks_tokenized`.
        tokenize: word vocabularies: "moses", "none", or "auto" ("none" for tokenised lines,
            "moses" for raw ones).

    Returns:
        (src_vocab, tgt_vocab).
    """
    if kind == "word":
        if tokenize == "auto":
            tokenize = "none" if tokenized else "moses"
        if tokenize not in TOKENIZERS:
            raise ValueError(f"vocab.tokenize must be auto, moses or none, got {tokenize!r}")
        if joint:
            langs = [src_lang] * len(src_lines) + [tgt_lang] * len(tgt_lines)
            vocab = WordVocab.build(
                [*src_lines, *tgt_lines], min_freq, max_size, tgt_lang, tokenize, langs
            )
            return vocab, vocab
        return (
            WordVocab.build(src_lines, min_freq, max_size, lang=src_lang, tokenize=tokenize),
            WordVocab.build(tgt_lines, min_freq, max_size, lang=tgt_lang, tokenize=tokenize),
        )
    if kind in ("bpe", "unigram"):
        if joint:
            langs = [src_lang] * len(src_lines) + [tgt_lang] * len(tgt_lines)
            vocab = SubwordVocab.train(
                [*src_lines, *tgt_lines], vocab_size, kind, tgt_lang, langs, tokenized
            )
            return vocab, vocab
        return (
            SubwordVocab.train(src_lines, vocab_size, kind, src_lang, None, tokenized),
            SubwordVocab.train(tgt_lines, vocab_size, kind, tgt_lang, None, tokenized),
        )
    raise ValueError(f"unknown vocabulary kind {kind!r}; use 'word', 'bpe' or 'unigram'")
