"""N-gram language model for CTC shallow fusion: an ARPA file or a KenLM binary, queried with kenlm.

Implements :class:`seqlab.decoding.lm.interface.LanguageModel`. States are ``kenlm.State`` objects
(hashable, equal when they hold the same context); scores are natural logs (kenlm returns log10,
times ln 10).

Vocabulary. ``word_is_known`` asks the model itself (kenlm knows its vocabulary for both formats).
``partial_is_known`` needs the word list: it is read from the ``\\1-grams:`` section of an ARPA file
(gzipped or not), or taken from ``unigrams`` (a list, or a text file of whitespace-separated words)
for a binary; without one it answers True (cannot tell).
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import kenlm

LN10 = math.log(10.0)
SPECIAL_TOKENS = frozenset({"<s>", "</s>", "<unk>"})
_BINARY_MAGIC = b"mmap lm "  # the first bytes of every KenLM binary file
_GZIP_MAGIC = b"\x1f\x8b"


def _open_arpa(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    if head == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_arpa_unigrams(path: str | os.PathLike) -> list[str]:
    """The words of the ``\\1-grams:`` section of an ARPA file (gzipped or not), in file order.

    Reading stops at the next section, so this is fast even for large models.
    """
    words: list[str] = []
    in_unigrams = False
    with _open_arpa(Path(path)) as f:
        for line in f:
            line = line.strip()
            if not in_unigrams:
                in_unigrams = line == "\\1-grams:"
                continue
            if line.startswith("\\"):  # \2-grams: or \end\
                break
            fields = line.split()
            if len(fields) >= 2:
                words.append(fields[1])
    if not in_unigrams:
        raise ValueError(f"{path} has no \\1-grams: section; is it an ARPA file?")
    return words


class NGramLM:
    """An ARPA or KenLM binary n-gram model behind the :class:`LanguageModel` interface.

    Args:
        path: ``*.arpa`` (optionally gzipped) or a KenLM binary (``build_binary``).
        unigrams: the model's words, for ``partial_is_known`` with a binary model: a sequence of
            words, or a text file of whitespace-separated words. Default: read from the ARPA
            file; for a binary without it, ``partial_is_known`` always answers True.
        cache_size: how many ``(state, word)`` scores to keep before the cache is cleared.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        unigrams: Iterable[str] | str | os.PathLike | None = None,
        cache_size: int = 1_000_000,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"n-gram language model {self.path} does not exist; build one with "
                "`seqlab lm build-ngram TEXT --order 3 --out lm.arpa`"
            )
        with open(self.path, "rb") as f:
            self.is_binary = f.read(len(_BINARY_MAGIC)) == _BINARY_MAGIC
        config = kenlm.Config()
        config.show_progress = False
        config.arpa_complain = kenlm.ARPALoadComplain.NONE
        try:
            self._model = kenlm.Model(str(self.path), config)
        except Exception as err:  # kenlm raises OSError, or UnicodeDecodeError on binary junk
            raise ValueError(
                f"{self.path} is not a valid ARPA file or KenLM binary ({type(err).__name__}: "
                f"{err}); rebuild it with `seqlab lm build-ngram` or KenLM's build_binary"
            ) from err
        self.order: int = self._model.order

        if unigrams is None:
            words = None if self.is_binary else read_arpa_unigrams(self.path)
        elif isinstance(unigrams, (str, os.PathLike)):
            unigram_path = Path(unigrams)
            if not unigram_path.is_file():
                raise FileNotFoundError(f"unigram list {unigram_path} does not exist")
            words = unigram_path.read_text(encoding="utf-8").split()
        else:
            words = list(unigrams)
        # The words the LM can predict (None: unknown). Specials are never hypothesised words.
        self.vocabulary: frozenset[str] | None = (
            None if words is None else frozenset(words) - SPECIAL_TOKENS
        )
        self._prefixes: frozenset[str] | None = None  # built on first partial_is_known

        self._start = kenlm.State()
        self._model.BeginSentenceWrite(self._start)
        self._cache: dict[tuple[kenlm.State, str], tuple[float, kenlm.State]] = {}
        self._cache_size = cache_size

    def start(self) -> kenlm.State:
        """The state after ``<s>`` (shared; states are never modified once made)."""
        return self._start

    def clear_cache(self) -> None:
        """Forget cached word scores (benchmarks time a cold start this way)."""
        self._cache.clear()

    def score_words(
        self, requests: Sequence[tuple[kenlm.State, str]]
    ) -> list[tuple[float, kenlm.State]]:
        """``ln P(word | state)`` and the state after ``word``, for each ``(state, word)``.

        Out-of-vocabulary words get the model's ``<unk>`` probability (see ``word_is_known``).
        """
        cache = self._cache
        if len(cache) > self._cache_size:
            cache.clear()
        score = self._model.BaseScore
        results: list[tuple[float, kenlm.State]] = []
        for state, word in requests:
            key = (state, word)
            hit = cache.get(key)
            if hit is None:
                out = kenlm.State()
                hit = (score(state, word, out) * LN10, out)
                cache[key] = hit
            results.append(hit)
        return results

    def score_end(self, states: Sequence[kenlm.State]) -> list[float]:
        """``ln P(</s> | state)`` for each state."""
        return [logp for logp, _ in self.score_words([(s, "</s>") for s in states])]

    def word_is_known(self, word: str) -> bool:
        """Whether ``word`` is in the model's vocabulary (``<s>``, ``</s>``, ``<unk>`` are not words)."""
        return word not in SPECIAL_TOKENS and word in self._model

    @property
    def prefixes(self) -> frozenset[str] | None:
        """Every beginning of every known word ("" included), or None when the word list is unknown.
        The beam search reads this set directly (faster than calling :meth:`partial_is_known`)."""
        if self.vocabulary is None:
            return None
        if self._prefixes is None:
            self._prefixes = frozenset(
                word[:i] for word in self.vocabulary for i in range(len(word) + 1)
            )
        return self._prefixes

    def partial_is_known(self, partial: str) -> bool:
        """Whether ``partial`` begins a known word (True when the word list is unknown)."""
        prefixes = self.prefixes
        return True if prefixes is None else partial in prefixes

    def sentence_scores(self, sentences: Sequence[str]) -> list[float]:
        """Total ``ln P`` of each whitespace-tokenised sentence, ``<s>`` context and ``</s>`` included."""
        return [self._model.score(s, bos=True, eos=True) * LN10 for s in sentences]
