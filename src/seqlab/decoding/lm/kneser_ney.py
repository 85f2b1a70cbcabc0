"""Interpolated modified Kneser-Ney n-gram estimation, written as an ARPA file (as KenLM's lmplz).

Ours because no maintained PyPI package estimates an interpolated modified Kneser-Ney ARPA model:
the ``kenlm`` Python package only queries models, and ``lmplz`` is a C++ binary that is not on PyPI.

The estimate follows lmplz (Heafield et al. 2013; Chen & Goodman 1998) step by step:

1. Each line is a sentence ``<s> w1 ... wk </s>``; words are split on whitespace (after
   :func:`seqlab.text.normalize.normalize_text` when ``normalize=True``, so the LM speaks the
   recognizer's text). Empty lines are skipped; the tokens ``<s>``, ``</s>`` and ``<unk>`` inside a
   line are dropped (lmplz's default treats them as whitespace too).
2. Adjusted counts ``a``: the highest order uses raw counts. A lower-order n-gram ``g`` gets its
   continuation count, the number of distinct words seen right before it (``N1+(. g)``), except
   n-grams that begin with ``<s>``: nothing can precede them, so they keep their raw count.
   The unigrams ``<s>`` and ``<unk>`` have count 0.
3. Discounts per order from the count-of-counts ``n1..n4`` of the adjusted counts (Chen & Goodman
   eq. 26): ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``,
   ``D3+ = 3 - 4Y n4/n3``.
4. For a context ``c``: ``gamma(c) = sum_w D(a(c w)) / sum_w a(c w)``; and
   ``p(w | c) = (a(c w) - D(a(c w))) / sum_w a(c w) + gamma(c) * p(w | c')`` with ``c'`` the context
   without its first word. Unigrams interpolate with the uniform distribution over the vocabulary
   (``<unk>`` included, ``<s>`` excluded), which is how ``<unk>`` gets its probability.
5. The ARPA stores ``log10 p`` for every n-gram, ``log10 gamma(g)`` as the backoff of every n-gram
   ``g`` that is a context. The unigram ``<s>`` is never predicted; like lmplz (which gives it
   probability 1 before interpolation, so an explicitly scored ``<s>`` costs nothing) we write
   ``0`` as its log10 probability, and its backoff like any context's. (SRILM writes ``-99``.)

Degenerate count-of-counts. lmplz stops with "Could not calculate Kneser-Ney discounts" when one
of ``n1``, ``n2``, ``n3`` of an order is 0 (common on toy or deduplicated corpora), or when a
discount falls outside ``[0, j]``. Here such an order instead gets the discounts of lmplz's
``--discount_fallback`` option, ``D1, D2, D3+ = 0.5, 1.0, 1.5``, and the summary lists the order in
``fallback_orders``. We also fall back when a closed-form discount is exactly 0 (lmplz accepts that,
but a context whose n-grams all had that count would get no backoff mass and a ``-inf`` backoff).
"""

from __future__ import annotations

import gzip
import math
import os
import re
import time
from collections import Counter, defaultdict
from itertools import chain
from pathlib import Path

from seqlab.text.normalize import normalize_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = frozenset({BOS, EOS, UNK})
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz's --discount_fallback default: D1, D2, D3+
BOS_LOG10_PROB = 0.0  # what lmplz writes for <s> (log10 of 1): it is context only, never predicted

Gram = tuple[str, ...]

# Text that normalize_text would leave as it is, whitespace aside: lowercase ASCII letters, digits
# and apostrophes inside words. Such lines skip the (slow, per-character) normaliser.
_ALREADY_NORMAL = re.compile(r"(?:[a-z0-9\s]|(?<=[a-z0-9])'(?=[a-z0-9]))*")


def _open_text(path: Path, mode: str):
    if path.name.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def _read_sentences(text_path: Path, normalize: bool) -> tuple[list[list[str]], int, int]:
    """Sentences as ``[<s>, w1, ..., wk, </s>]``, plus the counts of empty lines and dropped tokens."""
    sentences: list[list[str]] = []
    empty = dropped = 0
    with _open_text(text_path, "r") as f:
        for line in f:
            if normalize and not _ALREADY_NORMAL.fullmatch(line):
                line = normalize_text(line)
            words = line.split()
            if any(w in SPECIAL_TOKENS for w in words):
                kept = [w for w in words if w not in SPECIAL_TOKENS]
                dropped += len(words) - len(kept)
                words = kept
            if not words:
                empty += 1
                continue
            sentences.append([BOS, *words, EOS])
    return sentences, empty, dropped


def _adjusted_counts(sentences: list[list[str]], order: int) -> list[dict[Gram, int]]:
    """Adjusted counts per order (index 0 = unigrams), as described in the module docstring."""
    # Highest order: raw counts of every window of `order` tokens of "<s> w1 ... wk </s>".
    top = Counter(
        chain.from_iterable(zip(*(s[i:] for i in range(order)), strict=False) for s in sentences)
    )
    counts: list[dict[Gram, int]] = [top]
    for m in range(order - 1, 0, -1):
        higher = counts[0]
        # Continuation count: each distinct (m+1)-gram "v g" is one left extension of g. No key of
        # `higher` has <s> after its first token, so g never begins with <s> here.
        # lmplz's first unigrams are <unk> and <s>, both with count 0.
        lower: dict[Gram, int] = {(UNK,): 0, (BOS,): 0} if m == 1 else {}
        lower.update(Counter(gram[1:] for gram in higher))
        if m > 1:
            # n-grams that begin with <s> (sentence prefixes) cannot be extended: raw counts.
            lower.update(Counter(tuple(s[:m]) for s in sentences if len(s) >= m))
        counts.insert(0, lower)
    return counts


def _discounts(counts: dict[Gram, int]) -> tuple[tuple[float, float, float], bool]:
    """``(D1, D2, D3+)`` from the count-of-counts, and whether the fallback was used."""
    of = Counter(counts.values())
    n1, n2, n3, n4 = of[1], of[2], of[3], of[4]
    if n1 == 0 or n2 == 0 or n3 == 0:
        return FALLBACK_DISCOUNTS, True
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if any(not 0 < dj <= j for j, dj in enumerate(d, start=1)):
        return FALLBACK_DISCOUNTS, True
    return d, False


def _gammas(counts: dict[Gram, int], d: tuple[float, float, float]) -> tuple[dict, dict]:
    """Per context: the denominator ``sum_w a(c w)`` and ``gamma(c)``."""
    table = (0.0, *d)
    denominator: dict[Gram, int] = defaultdict(int)
    discounted: dict[Gram, float] = defaultdict(float)
    for gram, a in counts.items():
        context = gram[:-1]
        denominator[context] += a
        discounted[context] += table[a if a < 3 else 3]
    gamma = {c: discounted[c] / denominator[c] for c in denominator}
    return denominator, gamma


def _format(value: float) -> str:
    return "0" if value == 0 else f"{value:.7g}"


def build_arpa(
    text_path: str | os.PathLike,
    out_path: str | os.PathLike,
    order: int = 3,
    *,
    normalize: bool = True,
) -> dict:
    """Estimate an interpolated modified Kneser-Ney n-gram LM from text and write it as ARPA.

    Args:
        text_path: text, one sentence per line (``.gz`` is read as gzip).
        out_path: the ARPA file to write (atomically; gzipped when it ends with ``.gz``).
        order: n-gram order, >= 2 (3 or 4 are typical for CTC fusion).
        normalize: pass each line through :func:`seqlab.text.normalize.normalize_text` first.

    Returns:
        A summary: ``order``, ``ngrams`` (count per order, as in the ARPA header), ``discounts``
        (``[D1, D2, D3+]`` per order), ``fallback_orders`` (orders that got the fallback
        discounts), ``sentences``, ``tokens`` (words, without ``<s>``/``</s>``), ``vocabulary``
        (distinct words), ``empty_lines``, ``dropped_special_tokens``, ``seconds``, ``path``.
    """
    started = time.perf_counter()
    text_path, out_path = Path(text_path), Path(out_path)
    if not isinstance(order, int) or order < 2:
        raise ValueError(
            f"n-gram order must be an integer >= 2 (kenlm cannot load unigram models), got {order!r}"
        )
    if not text_path.is_file():
        raise FileNotFoundError(
            f"LM training text {text_path} does not exist (one sentence a line)"
        )
    sentences, empty, dropped = _read_sentences(text_path, normalize)
    if not sentences:
        raise ValueError(
            f"{text_path} has no words ({empty} empty lines"
            + (" after normalisation" if normalize else "")
            + "); an n-gram LM needs at least one non-empty line"
        )

    counts = _adjusted_counts(sentences, order)
    uniform = 1.0 / (len(counts[0]) - 1)  # over the vocabulary with <unk> and </s>, without <s>
    discounts: list[tuple[float, float, float]] = []
    fallback_orders: list[int] = []
    gammas: list[dict[Gram, float]] = []
    probs: list[dict[Gram, float]] = []
    for m, table in enumerate(counts, start=1):
        d, fell_back = _discounts(table)
        discounts.append(d)
        if fell_back:
            fallback_orders.append(m)
        denominator, gamma = _gammas(table, d)
        gammas.append(gamma)
        minus = (0.0, *d)
        # p(w | c) = (a(c w) - D(a(c w))) / sum_w a(c w) + gamma(c) * p(w | c'); c' = c[1:].
        if m == 1:
            lower_prob = dict.fromkeys(table, uniform)
        else:
            lower_prob = {gram: probs[-1][gram[1:]] for gram in table}
        prob: dict[Gram, float] = {}
        for gram, a in table.items():
            context = gram[:-1]
            discounted = (a - minus[a if a < 3 else 3]) / denominator[context]
            prob[gram] = discounted + gamma[context] * lower_prob[gram]
        probs.append(prob)

    _write_arpa(out_path, probs, gammas)
    return {
        "order": order,
        "ngrams": [len(t) for t in counts],
        "discounts": [list(d) for d in discounts],
        "fallback_orders": fallback_orders,
        "sentences": len(sentences),
        "tokens": sum(len(s) - 2 for s in sentences),
        "vocabulary": len(counts[0]) - 3,
        "empty_lines": empty,
        "dropped_special_tokens": dropped,
        "seconds": time.perf_counter() - started,
        "path": str(out_path),
    }


def _write_arpa(
    out_path: Path, probs: list[dict[Gram, float]], gammas: list[dict[Gram, float]]
) -> None:
    """Write the ARPA text to a temporary file next to ``out_path``, then rename it into place."""
    order = len(probs)
    log10 = math.log10
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".tmp-{os.getpid()}-{out_path.name}")  # keeps a .gz suffix
    try:
        with _open_text(tmp, "w") as f:
            f.write("\\data\\\n")
            for m, prob in enumerate(probs, start=1):
                f.write(f"ngram {m}={len(prob)}\n")
            for m, prob in enumerate(probs, start=1):
                f.write(f"\n\\{m}-grams:\n")
                logp = {g: min(0.0, log10(p)) for g, p in prob.items()}
                if m == 1:
                    logp[(BOS,)] = BOS_LOG10_PROB
                if m == order:  # the highest order has no backoffs
                    f.writelines(f"{_format(lp)}\t{' '.join(g)}\n" for g, lp in logp.items())
                    continue
                # The backoff of every context (any n-gram not ending in </s> or <unk>); 0 otherwise.
                gamma = gammas[m]
                f.writelines(
                    f"{_format(lp)}\t{' '.join(g)}\t{_format(log10(gamma[g]) if g in gamma else 0.0)}\n"
                    for g, lp in logp.items()
                )
            f.write("\n\\end\\\n")
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
