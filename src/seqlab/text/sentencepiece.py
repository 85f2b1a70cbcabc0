"""Train a sentencepiece model in memory: the one training call behind the CTC subword vocabulary
(:class:`seqlab.text.vocab.SentencePieceVocab`) and the translation subword vocabularies
(:class:`seqlab.text.mt_vocab.SubwordVocab`), which differ only in their special ids.
"""

from __future__ import annotations

import io
from collections.abc import Sequence


def train_sentencepiece(
    texts: Sequence[str],
    vocab_size: int,
    model_type: str,
    unit: str,
    pad_id: int = -1,
    unk_id: int = 0,
    bos_id: int = -1,
    eos_id: int = -1,
) -> bytes:
    """The serialized model (the bytes of a ``.model`` file) trained on ``texts``.

    Args:
        texts: the training texts, already as the model will see them (non-empty).
        vocab_size: number of pieces, the specials included.
        model_type: "unigram", "bpe", "char" or "word".
        unit: what one text is, for the error message ("transcripts", "lines").
        pad_id, unk_id, bos_id, eos_id: the specials' ids (-1: no such piece).

    Raises:
        ValueError: when sentencepiece cannot train (usually a vocab_size too large for the texts).
    """
    import sentencepiece as spm

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=1.0,  # every training character stays spellable
            pad_id=pad_id,
            unk_id=unk_id,
            bos_id=bos_id,
            eos_id=eos_id,
            num_threads=1,  # deterministic and polite on shared machines
            minloglevel=2,
        )
    except RuntimeError as err:
        raise ValueError(
            f"sentencepiece {model_type} training failed for vocab_size={vocab_size} on "
            f"{len(texts)} {unit}: {err}; a smaller vocab_size usually fixes it"
        ) from err
    return model.getvalue()
