"""Word and character error rates: thin wrappers over jiwer (the field's reference scorer).

jiwer's default transforms apply: surrounding and repeated spaces are removed, words are split on
spaces, and characters include the spaces between words. Normalise text (case, punctuation)
before scoring; these functions compare strings as given.

Pooled (corpus) rates divide the errors summed over all utterances by the reference words (or
characters) summed over all utterances. That is the number papers report, and it is not the
mean of the per-utterance rates: short utterances would otherwise weigh as much as long ones.
"""

from __future__ import annotations

import jiwer


def _check_pairs(refs: list[str], hyps: list[str], caller: str) -> None:
    """Raise ValueError unless refs and hyps are non-empty lists of the same length."""
    if len(refs) == 0:
        raise ValueError(f"{caller}: the reference list is empty; score at least one utterance")
    if len(refs) != len(hyps):
        raise ValueError(
            f"{caller}: {len(refs)} references but {len(hyps)} hypotheses; "
            "pass one hypothesis per reference, in the same order"
        )


def _rate(errors: int, n_ref: int) -> float:
    """errors / n_ref; for an empty reference, 0.0 without errors and ``errors`` otherwise
    (jiwer's convention: every inserted word counts as one full error)."""
    return errors / n_ref if n_ref > 0 else float(errors)


def _error_counts(out: jiwer.WordOutput | jiwer.CharacterOutput) -> dict[str, int]:
    """Substitutions, deletions, insertions, hits, errors and reference size from a jiwer output."""
    n_ref = out.hits + out.substitutions + out.deletions
    return {
        "substitutions": out.substitutions,
        "deletions": out.deletions,
        "insertions": out.insertions,
        "hits": out.hits,
        "errors": out.substitutions + out.deletions + out.insertions,
        "n_ref": n_ref,
    }


def corpus_wer_cer(refs: list[str], hyps: list[str]) -> dict[str, float | int]:
    """Pooled WER and CER over a corpus.

    Args:
        refs: N reference transcripts (N >= 1).
        hyps: N hypotheses, in the same order (empty strings allowed).

    Returns:
        ``{"wer", "cer", "n_utterances", "n_ref_words", "n_ref_chars", "word_errors",
        "substitutions", "deletions", "insertions", "char_errors"}``: wer/cer as fractions
        (0.25, not 25); substitutions/deletions/insertions count words.

    Raises:
        ValueError: refs is empty or refs and hyps differ in length.
    """
    _check_pairs(refs, hyps, "corpus_wer_cer")
    return {"n_utterances": len(refs), **_scores(refs, hyps)}


def _scores(refs: str | list[str], hyps: str | list[str]) -> dict[str, float | int]:
    """Rates and error counts, pooled over the pairs when given lists."""
    words = _error_counts(jiwer.process_words(refs, hyps))
    chars = _error_counts(jiwer.process_characters(refs, hyps))
    return {
        "wer": _rate(words["errors"], words["n_ref"]),
        "cer": _rate(chars["errors"], chars["n_ref"]),
        "n_ref_words": words["n_ref"],
        "n_ref_chars": chars["n_ref"],
        "word_errors": words["errors"],
        "substitutions": words["substitutions"],
        "deletions": words["deletions"],
        "insertions": words["insertions"],
        "char_errors": chars["errors"],
    }


def utterance_scores(refs: list[str], hyps: list[str]) -> list[dict[str, float | int]]:
    """WER, CER and error counts for every utterance (for tables of worst examples).

    Args:
        refs: N reference transcripts (N >= 1).
        hyps: N hypotheses, in the same order (empty strings allowed).

    Returns:
        N dicts ``{"wer", "cer", "n_ref_words", "n_ref_chars", "word_errors", "substitutions",
        "deletions", "insertions", "char_errors"}`` (word-level substitutions/deletions/insertions).

    Raises:
        ValueError: refs is empty or refs and hyps differ in length.
    """
    _check_pairs(refs, hyps, "utterance_scores")
    return [_scores(ref, hyp) for ref, hyp in zip(refs, hyps, strict=True)]
