"""Greedy CTC decoding: a hand-made example and a brute-force best-path search."""

from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.decoding.ctc_greedy import ctc_greedy_decode


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
    assert ctc_greedy_decode(_one_hot_log_probs(paths, 3), lengths) == [[1, 1, 2], [], [2, 2, 1]]


def test_other_blank_index_and_zero_length():
    paths = [[3, 1, 1, 3, 1], [1, 2, 3, 1, 2]]
    log_probs = _one_hot_log_probs(paths, 4)
    assert ctc_greedy_decode(log_probs, torch.tensor([5, 0]), blank=3) == [[1, 1], []]


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
    assert ctc_greedy_decode(log_probs, lengths, blank=1) == expected


def test_bad_lengths_raise():
    with pytest.raises(ValueError, match="lengths must lie"):
        ctc_greedy_decode(torch.zeros(1, 4, 3), torch.tensor([5]))
    with pytest.raises(ValueError, match="must be"):
        ctc_greedy_decode(torch.zeros(4, 3), torch.tensor([4]))
