"""What every CTC decoder returns: n-best lists of :class:`Hypothesis`, texts single-spaced.

Its own module so that the greedy decoder (``ctc_greedy``) and the beam search (``ctc_beam``, which
falls back to the greedy one for a beam of one without an LM) share it without importing each
other both ways.
"""

from __future__ import annotations

from dataclasses import dataclass


def single_spaced(text: str) -> str:
    """``text`` with its words separated by single spaces and none at the ends: a hypothesis
    spelled token by token may hold several delimiters in a row, or one first or last."""
    return " ".join(text.split())


@dataclass
class Hypothesis:
    """One entry of an n-best list.

    Attributes:
        text: the transcript (detokenised, words separated by single spaces).
        tokens: output token ids, blanks and repeats removed.
        score: the ranking score, ``acoustic + alpha * lm + beta * n_words``.
        acoustic: ln P_ctc of the token sequence (all its alignments summed, within the beam;
            the best path's frames alone for greedy decoding).
        lm: ln P_lm of the words and ``</s>``, unk offsets included (0 without an LM).
        n_words: the number of words the LM scored.
    """

    text: str
    tokens: list[int]
    score: float
    acoustic: float
    lm: float
    n_words: int
