"""Greedy CTC decoding: a hand-made example, a brute-force best-path search, and the batch that
decodes exactly as its items one at a time (tensor, array and list inputs; the greedy decoder and
a beam of one without an LM share this one implementation)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder
from seqlab.decoding.ctc_greedy import GreedyDecoder, ctc_greedy_decode
from seqlab.text.vocab import CharVocab


def _one_hot_log_probs(paths: list[list[int]], vocab: int) -> torch.Tensor:
    """(B, T, V) log-probs whose argmax follows ``paths`` (all of length T)."""
    probs = torch.full((len(paths), len(paths[0]), vocab), 0.1 / (vocab - 1))
    for b, path in enumerate(paths):
        for t, token in enumerate(path):
            probs[b, t, token] = 0.9
    return probs.log()


def test_hand_made_example():
    # blank = 0; "a" = 1, "b" = 2
    paths = [
        [1, 1, 0, 1, 2, 2, 0, 0],  # a a _ a b b _ _ -> a a b
        [0, 0, 0, 0, 0, 0, 0, 0],  # all blank -> nothing
        [2, 0, 2, 2, 1, 0, 0, 2],  # b _ b b a _ _ | b (past its length) -> b b a
    ]
    lengths = torch.tensor([8, 8, 7])
    tokens, scores = ctc_greedy_decode(_one_hot_log_probs(paths, 3), lengths)
    assert tokens == [[1, 1, 2], [], [2, 2, 1]]
    # every valid frame's best log-prob is ln 0.9 (in float32, summed in float64)
    assert scores == pytest.approx([8 * np.log(0.9), 8 * np.log(0.9), 7 * np.log(0.9)], rel=1e-6)


def test_other_blank_index_and_zero_length():
    paths = [[3, 1, 1, 3, 1], [1, 2, 3, 1, 2]]
    log_probs = _one_hot_log_probs(paths, 4)
    tokens, scores = ctc_greedy_decode(log_probs, torch.tensor([5, 0]), blank=3)
    assert tokens == [[1, 1], []]
    assert scores[1] == 0.0


def _brute_force_best_path(log_probs: torch.Tensor, blank: int) -> list[int]:
    """Collapse of the highest-scoring frame path, found by enumerating all V**T paths."""
    frames, vocab = log_probs.shape
    best = max(
        itertools.product(range(vocab), repeat=frames),
        key=lambda path: sum(log_probs[t, s].item() for t, s in enumerate(path)),
    )
    collapsed = [s for i, s in enumerate(best) if i == 0 or s != best[i - 1]]
    return [s for s in collapsed if s != blank]


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_best_path(seed: int):
    generator = torch.Generator().manual_seed(seed)
    batch, frames, vocab = 3, 5, 3
    log_probs = torch.randn(batch, frames, vocab, generator=generator).log_softmax(-1)
    lengths = torch.tensor([5, 3, 1])
    expected = [_brute_force_best_path(log_probs[b, : lengths[b]], blank=1) for b in range(batch)]
    assert ctc_greedy_decode(log_probs, lengths, blank=1)[0] == expected


def _peaky_batch(seed: int, batch: int, frames: int, vocab: int) -> torch.Tensor:
    """(B, T, V) log-probs with long runs and frequent blanks, as a trained CTC model gives."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, vocab, (batch, frames // 3 + 1), generator=generator)
    labels = labels.repeat_interleave(3, dim=1)[:, :frames]  # runs of three frames
    logits = torch.randn(batch, frames, vocab, generator=generator)
    logits.scatter_add_(-1, labels.unsqueeze(-1), torch.full((batch, frames, 1), 4.0))
    return logits.log_softmax(-1)


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_decodes_as_its_items_one_at_a_time(seed: int):
    log_probs = _peaky_batch(seed, batch=7, frames=40, vocab=6)
    lengths = torch.tensor([40, 1, 0, 23, 39, 40, 12])
    batched = ctc_greedy_decode(log_probs, lengths, blank=0)
    alone = [
        ctc_greedy_decode(log_probs[b : b + 1, :n], None, blank=0) for b, n in enumerate(lengths)
    ]
    assert batched[0] == [tokens[0] for tokens, _ in alone]
    assert batched[1] == [scores[0] for _, scores in alone]  # exactly: no padding in the sums
    # the same items as a list of (T_i, V) arrays, and as float64 numpy
    items = [log_probs[b, :n] for b, n in enumerate(lengths)]
    assert ctc_greedy_decode(items, blank=0) == batched
    assert ctc_greedy_decode([x.double().numpy() for x in items], blank=0) == batched
    # a list longer than one padded chunk keeps its order
    many = items * 20
    tokens, scores = ctc_greedy_decode(many, blank=0)
    assert tokens == batched[0] * 20 and scores == batched[1] * 20


def test_greedy_decoder_and_beam_of_one_agree():
    symbols = ["<blank>", " ", "a", "b", "c", "d"]
    log_probs = _peaky_batch(5, batch=4, frames=30, vocab=len(symbols))
    lengths = torch.tensor([30, 17, 0, 29])
    greedy = GreedyDecoder(CharVocab(symbols)).decode_batch(log_probs, lengths)
    beam_one = CTCBeamSearchDecoder(symbols, beam_size=1).decode_batch(log_probs, lengths)
    tokens, scores = ctc_greedy_decode(log_probs, lengths)
    for g, b, ids, score in zip(greedy, beam_one, tokens, scores, strict=True):
        assert g[0].tokens == b[0].tokens == ids
        assert g[0].score == b[0].score == g[0].acoustic == score
        assert g[0].text == b[0].text == " ".join("".join(symbols[i] for i in ids).split())


def test_bad_input_raises():
    with pytest.raises(ValueError, match="lengths must lie"):
        ctc_greedy_decode(torch.zeros(1, 4, 3), torch.tensor([5]))
    with pytest.raises(ValueError, match="must be"):
        ctc_greedy_decode(torch.zeros(4, 3), torch.tensor([4]))
    with pytest.raises(ValueError, match=r"lengths must be \(2,\)"):
        ctc_greedy_decode(torch.zeros(2, 4, 3), torch.tensor([4]))
    with pytest.raises(ValueError, match=r"\(B, T, 5\) for this vocabulary"):
        ctc_greedy_decode(torch.zeros(1, 4, 3), n_tokens=5)
    with pytest.raises(ValueError, match=r"item 1: .*\(T, 3\) for this vocabulary"):
        ctc_greedy_decode([np.zeros((4, 3)), np.zeros((4, 2))], n_tokens=3)
