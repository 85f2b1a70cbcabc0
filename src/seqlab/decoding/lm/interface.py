"""The small interface every language model behind CTC shallow fusion implements.

A language model here scores *words* (whitespace-separated units of normalised text) in natural
log-probabilities. The beam search keeps one opaque, hashable ``state`` per hypothesis (the words
so far, as the LM sees them) and asks, in batches, for the score of one more word:

    lm = load_lm("lm.arpa")  # seqlab.decoding.lm.loading; or a KenLM .bin, or an HF causal-LM dir
    state = lm.start()                           # beginning of a sentence
    [(lp, state2)] = lm.score_words([(state, "hello")])   # ln P(hello | <s>), state after it
    [end] = lm.score_end([state2])               # ln P(</s> | <s> hello)
    lm.sentence_scores(["hello world"])          # whole sentences (n-best rescoring)

Back ends: :class:`seqlab.decoding.lm.ngram.NGramLM` (ARPA or KenLM binary through ``kenlm``) and
:class:`seqlab.decoding.lm.neural.HFCausalLM` (any Hugging Face causal LM directory, GPT-2 format).
This module imports neither: :mod:`seqlab.decoding.lm.loading` picks one for a path.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, runtime_checkable

State = Hashable


@runtime_checkable
class LanguageModel(Protocol):
    """Word-level scoring in natural logs; see the module docstring."""

    def start(self) -> State:
        """The state at the beginning of a sentence (after ``<s>``)."""
        ...

    def score_words(self, requests: Sequence[tuple[State, str]]) -> list[tuple[float, State]]:
        """``ln P(word | state)`` and the state after ``word``, for each ``(state, word)``."""
        ...

    def score_end(self, states: Sequence[State]) -> list[float]:
        """``ln P(</s> | state)`` for each state."""
        ...

    def partial_is_known(self, partial: str) -> bool:
        """Whether ``partial`` begins at least one word the LM knows (True when it cannot tell)."""
        ...

    def word_is_known(self, word: str) -> bool:
        """Whether ``word`` is in the LM's vocabulary (True when it has no closed vocabulary)."""
        ...

    def sentence_scores(self, sentences: Sequence[str]) -> list[float]:
        """Total ``ln P`` of each sentence, ``</s>`` included (for n-best rescoring)."""
        ...


def sentence_scores_by_words(lm: LanguageModel, sentences: Sequence[str]) -> list[float]:
    """``sentence_scores`` from ``score_words``/``score_end``, word by word (batched over sentences)."""
    word_lists = [s.split() for s in sentences]
    states = [lm.start() for _ in word_lists]
    totals = [0.0 for _ in word_lists]
    longest = max((len(w) for w in word_lists), default=0)
    for position in range(longest):
        active = [i for i, words in enumerate(word_lists) if position < len(words)]
        scored = lm.score_words([(states[i], word_lists[i][position]) for i in active])
        for i, (logp, state) in zip(active, scored, strict=True):
            totals[i] += logp
            states[i] = state
    for i, end in enumerate(lm.score_end(states)):
        totals[i] += end
    return totals
