"""CTC prefix beam search: exact against brute force on tiny inputs; greedy and no-LM equivalences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder
from seqlab.decoding.ctc_greedy import ctc_greedy_decode

# blank, space, a, b: words are runs of a/b separated by spaces
TOKENS = ["<blank>", " ", "a", "b"]


class ToyLM:
    """A bigram LM over words with arbitrary but fixed (normalisation-free) scores; states are tuples."""

    def __init__(self, known=("a", "b", "ab", "ba")):
        self.known = set(known)
        self.calls = 0

    def start(self):
        return ("<s>",)

    def _lp(self, prev: str, word: str) -> float:
        base = -0.3 * len(word) - (0.7 if word not in self.known else 0.0)
        return base - 0.1 * (len(prev) % 3)  # depends on the history, as a bigram's would

    def score_words(self, requests):
        self.calls += 1
        return [(self._lp(state[-1], word), (*state, word)) for state, word in requests]

    def score_end(self, states):
        return [-0.5 - 0.2 * len(s[-1]) for s in states]

    def partial_is_known(self, partial):
        return any(w.startswith(partial) for w in self.known)

    def word_is_known(self, word):
        return word in self.known

    def sentence_scores(self, sentences):
        out = []
        for s in sentences:
            state, total = self.start(), 0.0
            for w in s.split():
                lp, state = self.score_words([(state, w)])[0]
                total += lp
            out.append(total + self.score_end([state])[0])
        return out


def _random_log_probs(rng, n_frames, n_tokens, peak=1.0):
    logits = rng.normal(size=(n_frames, n_tokens)) * peak
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _collapse(path, blank=0):
    out, prev = [], None
    for tok in path:
        if tok != prev and tok != blank:
            out.append(tok)
        prev = tok
    return tuple(out)


def _brute_force(lp):
    """ln P_ctc of every label sequence, summing all V^T alignments."""
    n_frames, n_tokens = lp.shape
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(n_tokens), repeat=n_frames):
        score = sum(lp[t, k] for t, k in enumerate(path))
        key = _collapse(path)
        totals[key] = np.logaddexp(totals.get(key, -np.inf), score)
    return totals


def _fused(labels, acoustic, lm, alpha, beta, unk_offset):
    text = "".join(TOKENS[i] for i in labels)
    words = text.split(" ")
    # every delimiter after a non-empty word completes it; the trailing partial word is scored at the end
    state, lm_total, n_words = lm.start(), 0.0, 0
    for w in words:
        if not w:
            continue
        lp, state = lm.score_words([(state, w)])[0]
        if not lm.word_is_known(w):
            lp += unk_offset
        lm_total += lp
        n_words += 1
    lm_total += lm.score_end([state])[0]
    return acoustic + alpha * lm_total + beta * n_words


def _exhaustive(**kwargs):
    # a beam wide enough for every prefix and no pruning: the search is exact
    return CTCBeamSearchDecoder(
        TOKENS, beam_size=10_000, token_min_logp=None, beam_prune_logp=None, **kwargs
    )


@pytest.mark.parametrize("seed", range(5))
def test_prefix_search_equals_brute_force_without_lm(seed):
    rng = np.random.default_rng(seed)
    lp = _random_log_probs(rng, 5, len(TOKENS))
    truth = _brute_force(lp)
    ranked = sorted(truth.items(), key=lambda kv: -kv[1])
    nbest = _exhaustive(nbest=5).decode_batch([lp])[0]
    assert len(nbest) == 5
    for hyp, (labels, score) in zip(nbest, ranked[:5], strict=True):
        assert tuple(hyp.tokens) == labels
        assert hyp.score == pytest.approx(score, abs=1e-9)
        assert hyp.acoustic == pytest.approx(score, abs=1e-9)
    assert tuple(nbest[0].tokens) == ranked[0][0]
    assert nbest[0].text == "".join(TOKENS[i] for i in ranked[0][0])


@pytest.mark.parametrize("seed", range(4))
def test_prefix_search_with_lm_equals_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    lp = _random_log_probs(rng, 5, len(TOKENS), peak=2.0)
    alpha, beta, unk = 0.7, 0.4, -1.5
    lm = ToyLM()
    truth = _brute_force(lp)
    fused = {k: _fused(k, v, lm, alpha, beta, unk) for k, v in truth.items()}
    best_labels, best_score = max(fused.items(), key=lambda kv: kv[1])
    nbest = _exhaustive(lm=lm, alpha=alpha, beta=beta, unk_offset=unk, nbest=3).decode_batch([lp])[
        0
    ]
    assert nbest[0].score == pytest.approx(best_score, abs=1e-9)
    assert tuple(nbest[0].tokens) == best_labels
    assert nbest[0].acoustic == pytest.approx(truth[best_labels], abs=1e-9)
    top3 = sorted(fused.values(), reverse=True)[:3]
    assert [h.score for h in nbest] == pytest.approx(top3, abs=1e-9)


def test_beam_one_without_lm_is_greedy():
    rng = np.random.default_rng(7)
    lp = torch.from_numpy(
        np.stack([_random_log_probs(rng, 40, len(TOKENS), 3.0) for _ in range(6)])
    )
    lengths = torch.tensor([40, 33, 1, 0, 17, 40])
    greedy = ctc_greedy_decode(lp, lengths)
    decoded = CTCBeamSearchDecoder(TOKENS, beam_size=1).decode_batch(lp, lengths)
    assert [h[0].tokens for h in decoded] == greedy


def test_wide_beam_agrees_with_greedy_on_peaky_outputs():
    """A trained CTC model is peaky; there the summed prefix search and the best path agree."""
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(60):
        row = np.full(len(TOKENS), -9.0)
        row[rng.integers(len(TOKENS))] = 0.0
        frames.append(row - np.log(np.exp(row).sum()))
    lp = np.stack(frames)
    beam = CTCBeamSearchDecoder(TOKENS, beam_size=8).decode_batch([lp])[0][0]
    assert beam.tokens == ctc_greedy_decode(torch.from_numpy(lp)[None], torch.tensor([60]))[0]


def test_alpha_zero_equals_no_lm():
    rng = np.random.default_rng(11)
    batch = [_random_log_probs(rng, n, len(TOKENS), 2.0) for n in (30, 12, 25)]
    plain = CTCBeamSearchDecoder(TOKENS, beam_size=6, nbest=3).decode_batch(batch)
    zero = CTCBeamSearchDecoder(
        TOKENS, beam_size=6, nbest=3, lm=ToyLM(), alpha=0.0, beta=0.0, unk_offset=-5.0
    ).decode_batch(batch)
    for a, b in zip(plain, zero, strict=True):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b])


def test_lm_changes_the_choice():
    """Two equally likely spellings; the LM's known word wins."""
    # frames: 'a' then ('a' | 'b' equally) -> "aa" vs "ab"; the LM knows "ab" only
    lp = np.log(
        np.array(
            [
                [0.01, 0.01, 0.97, 0.01],
                [0.97, 0.01, 0.01, 0.01],
                [0.02, 0.02, 0.48, 0.48],
            ]
        )
    )
    plain = CTCBeamSearchDecoder(TOKENS, beam_size=4, token_min_logp=None).decode_batch([lp])[0]
    fused = CTCBeamSearchDecoder(
        TOKENS, beam_size=4, token_min_logp=None, lm=ToyLM(known=("ab",)), alpha=1.0, beta=0.0
    ).decode_batch([lp])[0]
    assert fused[0].text == "ab"
    assert plain[0].text in {"aa", "ab"}
    assert fused[0].lm != 0.0


def test_lm_requests_are_batched_across_utterances():
    rng = np.random.default_rng(5)
    batch = [_random_log_probs(rng, 20, len(TOKENS), 2.0) for _ in range(8)]
    lm_together, lm_alone = ToyLM(), ToyLM()
    together = CTCBeamSearchDecoder(TOKENS, beam_size=4, lm=lm_together, group_size=8)
    alone = CTCBeamSearchDecoder(TOKENS, beam_size=4, lm=lm_alone, group_size=1)
    a = together.decode_batch(batch)
    b = alone.decode_batch(batch)
    assert [h[0].tokens for h in a] == [h[0].tokens for h in b]
    assert lm_together.calls < lm_alone.calls


def test_workers_give_the_same_result():
    rng = np.random.default_rng(9)
    batch = [_random_log_probs(rng, 25, len(TOKENS), 2.0) for _ in range(10)]
    one = CTCBeamSearchDecoder(TOKENS, beam_size=5, lm=ToyLM(), group_size=2).decode_batch(batch)
    two = CTCBeamSearchDecoder(
        TOKENS, beam_size=5, lm=ToyLM(), group_size=2, workers=2
    ).decode_batch(batch)
    assert [[(h.tokens, round(h.score, 9)) for h in x] for x in one] == [
        [(h.tokens, round(h.score, 9)) for h in x] for x in two
    ]


def test_sentencepiece_pieces_make_words():
    tokens = ["<blank>", "\u2581a", "\u2581b", "b", "a"]
    lp = np.log(
        np.array(
            [
                [0.01, 0.96, 0.01, 0.01, 0.01],  # ▁a
                [0.01, 0.01, 0.01, 0.96, 0.01],  # b   -> word "ab"
                [0.01, 0.01, 0.96, 0.01, 0.01],  # ▁b  -> completes "ab", starts "b"
                [0.01, 0.01, 0.01, 0.01, 0.96],  # a   -> "ba"
            ]
        )
    )
    lm = ToyLM()
    hyp = CTCBeamSearchDecoder(tokens, beam_size=4, lm=lm, alpha=0.5, beta=0.0).decode_batch([lp])[
        0
    ][0]
    assert hyp.text == "ab ba"
    assert hyp.n_words == 2
    expected_lm = lm.sentence_scores(["ab ba"])[0]
    assert hyp.lm == pytest.approx(expected_lm)


def test_pruning_keeps_the_beam_bounded_and_bad_input_is_named():
    rng = np.random.default_rng(1)
    lp = _random_log_probs(rng, 50, len(TOKENS), 0.5)
    dec = CTCBeamSearchDecoder(TOKENS, beam_size=3, nbest=5, token_top_k=2)
    assert len(dec.decode_batch([lp])[0]) == 3  # nbest is capped by the beam
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        dec.decode_batch([lp[:, :3]])
    with pytest.raises(ValueError, match="beam_size"):
        CTCBeamSearchDecoder(TOKENS, beam_size=0)
    assert math.isfinite(dec.decode_batch([lp])[0][0].score)
