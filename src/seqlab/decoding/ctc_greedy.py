"""Greedy (best-path) CTC decoding: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

import torch


def ctc_greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0
) -> list[list[int]]:
    """Decode a batch of CTC outputs by their best path.

    The best path (argmax at every frame) is collapsed: consecutive repeats merge, then blanks
    are dropped, so ``a a _ a`` gives ``[a, a]`` and ``a a a`` gives ``[a]``.

    Args:
        log_probs: (B, T, V) scores per frame (log-probabilities or logits: only the argmax is used).
        lengths: (B,) long, valid frames per item; frames past them are ignored.
        blank: index of the CTC blank.

    Returns:
        B lists of token ids (blanks removed).
    """
    if log_probs.dim() != 3:
        raise ValueError(
            f"ctc_greedy_decode: log_probs must be (B, T, V), got shape {tuple(log_probs.shape)}"
        )
    if lengths.shape != (log_probs.shape[0],):
        raise ValueError(
            f"ctc_greedy_decode: lengths must be ({log_probs.shape[0]},) to match log_probs "
            f"{tuple(log_probs.shape)}, got {tuple(lengths.shape)}"
        )
    best = log_probs.argmax(dim=-1).cpu()  # (B, T): one device copy for the whole batch
    lengths_cpu = lengths.cpu()  # (B,)
    if len(lengths_cpu) and (lengths_cpu.min() < 0 or lengths_cpu.max() > log_probs.shape[1]):
        raise ValueError(
            f"ctc_greedy_decode: lengths must lie in [0, {log_probs.shape[1]}] (the frames of "
            f"log_probs), got {lengths_cpu.tolist()}; pass the model's out_lengths"
        )
    hypotheses: list[list[int]] = []
    for path, length in zip(best, lengths_cpu.tolist(), strict=True):
        collapsed = torch.unique_consecutive(path[:length])  # (U,) repeats merged
        hypotheses.append(collapsed[collapsed != blank].tolist())
    return hypotheses
