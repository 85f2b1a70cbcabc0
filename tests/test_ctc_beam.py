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
    assert nbest[0].text == " ".join("".join(TOKENS[i] for i in ranked[0][0]).split())


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
    greedy_tokens, greedy_scores = ctc_greedy_decode(lp, lengths)
    decoded = CTCBeamSearchDecoder(TOKENS, beam_size=1).decode_batch(lp, lengths)
    assert [h[0].tokens for h in decoded] == greedy_tokens
    assert [h[0].score for h in decoded] == greedy_scores


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
    assert beam.tokens == ctc_greedy_decode(torch.from_numpy(lp)[None], torch.tensor([60]))[0][0]


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


def test_texts_are_single_spaced_on_every_path():
    """Tokens " a  b " (delimiters first, twice in a row, last) give the text "a b" whichever
    path made the hypothesis: best path, beam, beam + LM, every n-best entry, the greedy decoder."""
    from seqlab.decoding.ctc_greedy import GreedyDecoder
    from seqlab.text.vocab import CharVocab

    spelled = [1, 2, 1, 0, 1, 3, 1]  # " ", a, " ", blank, " ", b, " "
    lp = np.log(np.full((len(spelled), len(TOKENS)), 0.01))
    lp[np.arange(len(spelled)), spelled] = np.log(0.97)
    decoders = [
        CTCBeamSearchDecoder(TOKENS, beam_size=1),  # best path
        CTCBeamSearchDecoder(TOKENS, beam_size=8, nbest=8),
        CTCBeamSearchDecoder(TOKENS, beam_size=8, nbest=8, lm=ToyLM(), alpha=0.1, beta=0.0),
        CTCBeamSearchDecoder(TOKENS, beam_size=8, detokenize=CharVocab(TOKENS).decode),
        GreedyDecoder(CharVocab(TOKENS)),
    ]
    for decoder in decoders:
        nbest = decoder.decode_batch([lp])[0]
        assert nbest[0].tokens == [1, 2, 1, 1, 3, 1]
        assert nbest[0].text == "a b"
        assert len(nbest) == 1 or len(nbest) > 4  # (the n-best lists are really lists)
        for hyp in nbest:
            assert hyp.text == " ".join(hyp.text.split()), hyp.text


# ---- a group of utterances decodes exactly as each utterance alone -------------------------------
# Lock-step groups share one prefix trie and batch their LM requests; the result must not depend
# on who else is in the group (an utterance with a copy of itself was the worst case: the copy saw
# a word's LM score as a 0.0 placeholder, beams went empty or lost their best hypothesis).

CHARS = ["<blank>", " ", "a", "b", "c", "d"]
PIECES = ["<blank>", "\u2581a", "\u2581b", "\u2581c", "\u2581d", "a", "b", "c", "d"]
WORD_CORPUS = [
    "ab ba cab",
    "a dab bad",
    "cad ab a",
    "bad cab ab",
    "a a ba",
    "dab cad ba ab",
    "abc da",
    "dad ab cab",
]


def peaky_inputs(seed: int, n: int, n_tokens: int, sharpness: float = 4.0) -> list[np.ndarray]:
    """``n`` random peaky CTC outputs of 20-40 frames: log-softmax of scaled Gaussian logits."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        logits = rng.normal(size=(int(rng.integers(20, 41)), n_tokens)) * sharpness
        out.append(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))
    return out


def group_orders(n: int, seed: int):
    """(utterance order, group size): each utterance next to a copy of itself; then shuffled, with
    repeats, utterances of different lengths mixed, in groups of 3, 4 and 7."""
    yield [i for i in range(n) for _ in range(2)], 2
    rng = np.random.default_rng(seed)
    for size in (3, 4, 7):
        order = np.concatenate([rng.permutation(n), rng.integers(0, n, n // 2)])
        rng.shuffle(order)
        yield order.tolist(), size


def assert_groups_decode_as_alone(make_decoder, items, seed=0, workers=1):
    """Every arrangement of :func:`group_orders` gives each utterance the n-best list it gets
    alone: same texts and tokens, scores to 1e-6. ``make_decoder(group_size=, workers=)``."""
    alone = make_decoder(group_size=1, workers=1).decode_batch(items)
    assert all(alone), "an empty n-best list"
    wrong = []
    for order, size in group_orders(len(items), seed):
        grouped = make_decoder(group_size=size, workers=workers).decode_batch(
            [items[i] for i in order]
        )
        for i, got in zip(order, grouped, strict=True):
            want = alone[i]
            same = (
                [h.text for h in got] == [h.text for h in want]
                and [h.tokens for h in got] == [h.tokens for h in want]
                and all(abs(a.score - b.score) <= 1e-6 for a, b in zip(got, want, strict=True))
            )
            if not same:
                wrong.append((size, i, [h.text for h in want][:1], [h.text for h in got][:1]))
        for hyps in grouped:
            assert all(h.text == " ".join(h.text.split()) for h in hyps)
    assert not wrong, f"{len(wrong)} utterances differ in a group, e.g. {wrong[:3]}"


@pytest.fixture(scope="module")
def word_arpa(tmp_path_factory):
    from seqlab.decoding.lm.kneser_ney import build_arpa

    directory = tmp_path_factory.mktemp("words-lm")
    (directory / "corpus.txt").write_text("\n".join(WORD_CORPUS) + "\n")
    build_arpa(directory / "corpus.txt", directory / "lm.arpa", order=3)
    return directory / "lm.arpa"


@pytest.mark.parametrize(
    "tokens, n, settings",
    [
        (CHARS, 200, {}),  # the defaults: alpha 0.5, beta 1, unk -23, prune -12
        (CHARS, 80, dict(beam_size=4, beam_prune_logp=-6.0, alpha=1.0, beta=2.0, unk_offset=-4.0)),
        (PIECES, 80, dict(token_top_k=4, alpha=0.8)),
    ],
    ids=["chars", "chars-tight", "pieces"],
)
def test_groups_with_an_ngram_lm_decode_as_alone(word_arpa, tokens, n, settings):
    from seqlab.decoding.lm.ngram import NGramLM

    lm = NGramLM(word_arpa)
    settings = {"beam_size": 8, "nbest": 3, **settings}

    def make_decoder(group_size, workers):
        return CTCBeamSearchDecoder(
            tokens, lm=lm, group_size=group_size, workers=workers, **settings
        )

    assert_groups_decode_as_alone(make_decoder, peaky_inputs(len(tokens), n, len(tokens)))


def test_groups_in_worker_processes_and_without_lm_decode_as_alone(word_arpa):
    from seqlab.decoding.lm.ngram import NGramLM

    items = peaky_inputs(1, 40, len(CHARS))
    lm = NGramLM(word_arpa)
    assert_groups_decode_as_alone(
        lambda group_size, workers: CTCBeamSearchDecoder(
            CHARS, beam_size=8, nbest=3, lm=lm, group_size=group_size, workers=workers
        ),
        items,
        workers=2,
    )
    assert_groups_decode_as_alone(
        lambda group_size, workers: CTCBeamSearchDecoder(
            CHARS, beam_size=8, nbest=3, group_size=group_size, workers=workers
        ),
        items,
    )


def test_a_nudge_far_below_any_score_gap_changes_no_hypothesis(word_arpa):
    """LM scores moved by under 1e-9 (a float32 LM in another batch moves them by ~1e-6) change
    no n-best list: the search's early pruning bounds must hold despite rounding, or a hypothesis
    tied with the beam's last place is kept or lost by a float's last bit."""
    import zlib

    from seqlab.decoding.lm.ngram import NGramLM

    class Nudged(NGramLM):
        def score_words(self, requests):
            scored = super().score_words(requests)
            return [
                (logp + 1e-9 * (zlib.crc32(word.encode()) % 1000 / 1000 - 0.5), state)
                for (_, word), (logp, state) in zip(requests, scored, strict=True)
            ]

    items = peaky_inputs(3, 300, len(CHARS))
    plain = CTCBeamSearchDecoder(CHARS, beam_size=8, nbest=3, lm=NGramLM(word_arpa))
    nudged = CTCBeamSearchDecoder(CHARS, beam_size=8, nbest=3, lm=Nudged(word_arpa))
    moved = [
        i
        for i, (a, b) in enumerate(
            zip(plain.decode_batch(items), nudged.decode_batch(items), strict=True)
        )
        if [h.tokens for h in a] != [h.tokens for h in b]
        or any(abs(x.score - y.score) > 1e-6 for x, y in zip(a, b, strict=True))
    ]
    assert not moved, f"{len(moved)} of {len(items)} n-best lists changed: {moved[:10]}"
