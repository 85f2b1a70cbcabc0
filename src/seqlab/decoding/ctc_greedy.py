"""Greedy (best-path) CTC decoding: argmax per frame, collapse repeats, drop blanks.

The one implementation behind every greedy path: :class:`GreedyDecoder` (``decoder=ctc_greedy``,
the first rung of ``seqlab eval``'s ladder) and :class:`~seqlab.decoding.ctc_beam.CTCBeamSearchDecoder`
with a beam of one and no LM. A batch is decoded at once: one argmax and one gather over
``(B, T, V)`` on the tensor's device, then only ``(B, T)`` ids and scores move to the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seqlab.decoding.hypothesis import Hypothesis, single_spaced

# Items of a list input are padded into batches of this many: a whole evaluation set's log-probs,
# padded at once, could take gigabytes.
LIST_BATCH = 64


def ctc_greedy_decode(
    log_probs: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
    lengths: torch.Tensor | np.ndarray | Sequence[int] | None = None,
    blank: int = 0,
    n_tokens: int | None = None,
) -> tuple[list[list[int]], list[float]]:
    """Decode a batch of CTC outputs by their best path.

    The best path (argmax at every frame) is collapsed: consecutive repeats merge, then blanks
    are dropped, so ``a a _ a`` gives ``[a, a]`` and ``a a a`` gives ``[a]``.

    Args:
        log_probs: (B, T, V) scores per frame, a tensor (any device) or an array; or a list of
            (T_i, V) items (tensors or arrays). Log-probabilities give meaningful scores; for
            the tokens only the argmax matters, so logits do too.
        lengths: (B,) valid frames per item; frames past them are ignored. None: all T frames.
            Ignored for a list input (each item is its own length).
        blank: index of the CTC blank.
        n_tokens: when given, V must equal it (the decoder's vocabulary size).

    Returns:
        ``(tokens, scores)``: B lists of token ids (blanks removed) and B floats, the sum over
        the valid frames of the best log-probability (ln P of the best path), in float64.
    """
    if isinstance(log_probs, (list, tuple)):
        items = [_as_tensor(x) for x in log_probs]
        for i, item in enumerate(items):
            if item.dim() != 2 or (n_tokens is not None and item.shape[1] != n_tokens):
                want = "(T, V)" if n_tokens is None else f"(T, {n_tokens}) for this vocabulary"
                raise ValueError(
                    f"ctc_greedy_decode: item {i}: log_probs must be {want}, "
                    f"got {tuple(item.shape)}"
                )
        tokens: list[list[int]] = []
        scores: list[float] = []
        for start in range(0, len(items), LIST_BATCH):
            chunk = items[start : start + LIST_BATCH]
            padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)  # (b, T_max, V)
            chunk_tokens, chunk_scores = _best_paths(
                padded, torch.tensor([len(x) for x in chunk]), blank
            )
            tokens += chunk_tokens
            scores += chunk_scores
        return tokens, scores

    batch = _as_tensor(log_probs)
    if batch.dim() != 3:
        raise ValueError(
            f"ctc_greedy_decode: log_probs must be (B, T, V), got shape {tuple(batch.shape)}"
        )
    if n_tokens is not None and batch.shape[2] != n_tokens:
        raise ValueError(
            f"ctc_greedy_decode: log_probs must be (B, T, {n_tokens}) for this vocabulary, "
            f"got {tuple(batch.shape)}"
        )
    if lengths is None:
        lengths = torch.full((batch.shape[0],), batch.shape[1], dtype=torch.long)
    lengths = torch.as_tensor(lengths).detach().cpu().long()
    if lengths.shape != (batch.shape[0],):
        raise ValueError(
            f"ctc_greedy_decode: lengths must be ({batch.shape[0]},) to match log_probs "
            f"{tuple(batch.shape)}, got {tuple(lengths.shape)}"
        )
    if len(lengths) and (lengths.min() < 0 or lengths.max() > batch.shape[1]):
        raise ValueError(
            f"ctc_greedy_decode: lengths must lie in [0, {batch.shape[1]}] (the frames of "
            f"log_probs), got {lengths.tolist()}; pass the model's out_lengths"
        )
    return _best_paths(batch, lengths, blank)


def _best_paths(
    batch: torch.Tensor, lengths: torch.Tensor, blank: int
) -> tuple[list[list[int]], list[float]]:
    """Tokens and scores of a checked (B, T, V) batch with (B,) CPU lengths."""
    best = batch.argmax(dim=-1)  # (B, T) on the batch's device
    picked = batch.gather(-1, best.unsqueeze(-1)).squeeze(-1)  # (B, T) best log-probs
    best, picked = best.cpu(), picked.detach().cpu()  # one small copy each for the whole batch
    frames = best.shape[1]
    valid = torch.arange(frames).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    new = torch.ones_like(valid)
    new[:, 1:] = best[:, 1:] != best[:, :-1]  # a frame that starts a run of its token
    keep = valid & new & (best != blank)  # (B, T): the collapsed path's tokens
    flat = best[keep].tolist()  # row-major: row b's tokens, then row b+1's
    counts = keep.sum(dim=1).tolist()
    tokens, start = [], 0
    for count in counts:
        tokens.append(flat[start : start + count])
        start += count
    # Summed per row over exactly its valid frames in float64 (numpy's pairwise sum), so a score
    # does not depend on the padding of the batch it was decoded in.
    best_logp = picked.double().numpy()  # (B, T)
    scores = [float(row[:n].sum()) for row, n in zip(best_logp, lengths.tolist(), strict=True)]
    return tokens, scores


def _as_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A tensor view of ``x`` (arrays are not copied; tensors stay on their device)."""
    return x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


class GreedyDecoder:
    """Best-path decoding behind the decoder interface (one hypothesis per utterance).

    Args:
        vocab: the model's vocabulary (``blank_id``, ``decode``, ``len``).
    """

    def __init__(self, vocab) -> None:
        self.vocab = vocab
        self.blank = vocab.blank_id

    def decode_batch(self, log_probs, lengths=None) -> list[list[Hypothesis]]:
        """One-entry n-best lists: see :func:`ctc_greedy_decode` for the inputs."""
        tokens, scores = ctc_greedy_decode(log_probs, lengths, self.blank, len(self.vocab))
        return [
            [Hypothesis(single_spaced(self.vocab.decode(ids)), ids, score, score, 0.0, 0)]
            for ids, score in zip(tokens, scores, strict=True)
        ]

    def decode(self, log_probs, lengths=None) -> list[str]:
        """The transcript of each utterance."""
        return [h[0].text for h in self.decode_batch(log_probs, lengths)]
