"""Batched greedy and beam-search decoding for encoder-decoder models (``seqlab.models.mt``).

Our own code: the toolkits' searches (fairseq, JoeyNMT, OpenNMT-py) are tied to their model
classes; ours needs only the seq2seq interface (``encode`` / ``decode_step``, ``pad_id``,
``bos_id``, ``eos_id`` and, optionally, ``max_decode_len``).

Conventions shared by both searches:

- Each item may produce at most ``max_len = floor(max_len_ratio * src_len) + max_len_offset``
  tokens, ``eos`` included (capped by ``model.max_decode_len`` when set). At the last step ``eos``
  is the only choice, so every hypothesis ends in ``eos`` (fairseq's rule); greedy stops there.
- ``pad`` and ``bos`` are never produced (their log-probabilities are set to -inf, not
  renormalised).
- Outputs exclude ``bos`` and ``eos``.
- Items that finish leave the batch (their rows of memory and cache are dropped), so a long
  sentence does not make the short ones in its batch pay for its steps.

Beam search (batch x beam flattened to rows; fairseq's scheme): per step every live beam's
extensions are scored ``score + log p``; of the best ``2 * beam_size`` candidates, those ending in
``eos`` *among the best beam_size* become finished hypotheses, and the best ``beam_size`` others stay
live. Finished hypotheses are ranked by the length-penalised score

- ``"none"``: ``log P(y)``;
- ``"gnmt"``: ``log P(y) / ((5 + |y|) / 6) ** lp_alpha`` (Wu et al. 2016);
- ``"average"``: ``log P(y) / |y|``;

with ``|y|`` the number of output tokens, ``eos`` included. An item stops when it has ``nbest``
finished hypotheses and none of its live beams can beat the ``nbest``-th of them any more (a live
score only falls as it grows, and its best possible penalised score is bounded using the
penalty at its shortest and longest reachable lengths), or when it reaches its maximum length.
With ``beam_size=1`` and no length penalty this is greedy decoding.
"""

from __future__ import annotations

import torch
from torch import nn

LENGTH_PENALTIES = ("gnmt", "average", "none")


def _select(tensors: dict[str, torch.Tensor] | None, index: torch.Tensor) -> dict | None:
    """Rows ``index`` (N,) of every tensor (batch on dim 0) in a memory or cache dict."""
    if tensors is None:
        return None
    return {name: value.index_select(0, index) for name, value in tensors.items()}


def _max_lengths(
    model: nn.Module, src_lengths: torch.Tensor, max_len_ratio: float, max_len_offset: int
) -> torch.Tensor:
    """Per-item maximum output length (B,) long, ``eos`` included, at least 1."""
    max_lens = (src_lengths.float() * max_len_ratio).floor().long() + max_len_offset  # (B,)
    limit = getattr(model, "max_decode_len", None)
    if limit is not None:
        max_lens = max_lens.clamp(max=limit)
    return max_lens.clamp(min=1)


def _forbid(log_probs: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Log-probs (N, V) with ``pad`` and ``bos`` made impossible (in place)."""
    log_probs[:, model.pad_id] = float("-inf")
    log_probs[:, model.bos_id] = float("-inf")
    return log_probs


class _EvalMode:
    """Put a model in eval mode for the block and restore its previous mode afterwards."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.was_training = model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)


def greedy_decode(
    model: nn.Module,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    max_len_ratio: float = 1.5,
    max_len_offset: int = 10,
) -> list[list[int]]:
    """Greedy (argmax) decoding of a padded source batch.

    Args:
        model: a seq2seq model (``seqlab.models.mt`` interface); run in eval mode here.
        src: (B, S) long, padded with ``model.pad_id``.
        src_lengths: (B,) long.
        max_len_ratio: maximum output length per source token.
        max_len_offset: added to ``max_len_ratio * src_len``.

    Returns:
        B lists of token ids, without ``bos``/``eos``.
    """
    results: list[list[int]] = [[] for _ in range(src.shape[0])]
    if src.shape[0] == 0:
        return results
    with torch.inference_mode(), _EvalMode(model):
        memory = model.encode(src, src_lengths)
        max_lens = _max_lengths(model, src_lengths, max_len_ratio, max_len_offset)  # (B,)
        alive = torch.arange(src.shape[0], device=src.device)  # (N,) original item of each row
        tokens = torch.full((src.shape[0], 1), model.bos_id, dtype=torch.long, device=src.device)
        cache = None
        step = 0
        while len(alive):
            log_probs, cache = model.decode_step(tokens, memory, cache)  # (N, V)
            next_token = _forbid(log_probs, model).argmax(dim=-1)  # (N,)
            # Token number step+1 is eos (chosen, or forced at the maximum length): the item ends.
            ended = (next_token == model.eos_id) | (step + 1 >= max_lens)  # (N,)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (N, step + 2)
            if bool(ended.any()):
                ended_rows = ended.nonzero().squeeze(1).tolist()
                for row, item in zip(ended_rows, alive[ended].tolist(), strict=True):
                    results[item] = tokens[row, 1:-1].tolist()  # drop bos and the eos
                keep = (~ended).nonzero().squeeze(1)  # (N',)
                alive, tokens, max_lens = alive[keep], tokens[keep], max_lens[keep]
                memory, cache = _select(memory, keep), _select(cache, keep)
            step += 1
    return results


def _penalty(lengths: torch.Tensor | int, kind: str, alpha: float):
    """Length divisor for output lengths (``eos`` included)."""
    if kind == "gnmt":
        return ((5.0 + lengths) / 6.0) ** alpha
    if kind == "average":
        return lengths * 1.0
    return lengths * 0.0 + 1.0


def beam_search(
    model: nn.Module,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    beam_size: int = 5,
    length_penalty: str = "gnmt",
    lp_alpha: float = 0.6,
    max_len_ratio: float = 1.5,
    max_len_offset: int = 10,
    nbest: int = 1,
) -> list[list[tuple[list[int], float]]]:
    """Beam search over a padded source batch (batch x beam decoded together).

    Args:
        model: a seq2seq model (``seqlab.models.mt`` interface); run in eval mode here.
        src: (B, S) long, padded with ``model.pad_id``.
        src_lengths: (B,) long.
        beam_size: live hypotheses kept per item.
        length_penalty: "gnmt", "average" or "none" (see the module docstring).
        lp_alpha: exponent of the GNMT penalty.
        max_len_ratio: maximum output length per source token.
        max_len_offset: added to ``max_len_ratio * src_len``.
        nbest: hypotheses returned per item (at most ``beam_size``).

    Returns:
        B lists of up to ``nbest`` ``(tokens, score)`` pairs, best first: tokens without
        ``bos``/``eos``, score the length-penalised log-probability (the plain log-probability for
        "none").
    """
    if length_penalty not in LENGTH_PENALTIES:
        raise ValueError(
            f"beam_search: length_penalty must be one of {LENGTH_PENALTIES}, got {length_penalty!r}"
        )
    if beam_size < 1 or not 1 <= nbest <= beam_size:
        raise ValueError(
            f"beam_search: need beam_size >= 1 and 1 <= nbest <= beam_size, got beam_size="
            f"{beam_size}, nbest={nbest}"
        )
    batch = src.shape[0]
    finished: list[list[tuple[list[int], float]]] = [[] for _ in range(batch)]
    if batch == 0:
        return finished
    k = beam_size
    device = src.device
    with torch.inference_mode(), _EvalMode(model):
        rows = torch.arange(batch, device=device).repeat_interleave(k)  # (B*K,)
        memory = _select(model.encode(src, src_lengths), rows)  # every tensor (B*K, ...)
        max_lens = _max_lengths(model, src_lengths, max_len_ratio, max_len_offset)  # (B,)
        alive = torch.arange(batch, device=device)  # (N,) original item of each live group
        tokens = torch.full((batch * k, 1), model.bos_id, dtype=torch.long, device=device)
        # Only beam 0 is real at the start; the others are copies that must not be chosen.
        scores = torch.full((batch, k), float("-inf"), device=device)  # (N, K)
        scores[:, 0] = 0.0
        cache = None
        step = 0
        while len(alive):
            n = len(alive)
            log_probs, cache = model.decode_step(tokens, memory, cache)  # (N*K, V)
            log_probs = _forbid(log_probs.float(), model)
            vocab = log_probs.shape[1]
            last = (step + 1 >= max_lens).repeat_interleave(k)  # (N*K,): eos is the only choice
            if bool(last.any()):
                eos_column = log_probs[:, model.eos_id].clone()  # (N*K,)
                log_probs[last] = float("-inf")
                log_probs[:, model.eos_id] = eos_column
            candidates = (scores[:, :, None] + log_probs.view(n, k, vocab)).view(n, k * vocab)
            top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)  # (N, 2K)
            top_beam = top_index // vocab  # (N, 2K) beam each candidate extends
            top_token = top_index % vocab  # (N, 2K)
            is_eos = top_token == model.eos_id  # (N, 2K)

            # Finish the eos candidates among the best K (finite scores only).
            rank = torch.arange(top_scores.shape[1], device=device)[None, :]  # (1, 2K)
            finishing = is_eos & (rank < k) & torch.isfinite(top_scores)  # (N, 2K)
            if bool(finishing.any()):
                cpu_scores = top_scores.cpu()
                cpu_beam = top_beam.cpu()
                cpu_tokens = tokens.cpu()
                for group, r in finishing.nonzero().tolist():
                    row = group * k + int(cpu_beam[group, r])
                    hyp = cpu_tokens[row, 1:].tolist()  # without bos; eos not appended
                    score = float(cpu_scores[group, r])
                    score /= float(_penalty(len(hyp) + 1, length_penalty, lp_alpha))
                    finished[int(alive[group])].append((hyp, score))

            # Keep the best K candidates that do not end in eos.
            live_scores, pick = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=1)
            beam = top_beam.gather(1, pick)  # (N, K)
            new_token = top_token.gather(1, pick)  # (N, K)
            source_rows = (torch.arange(n, device=device)[:, None] * k + beam).view(-1)  # (N*K,)
            tokens = torch.cat([tokens[source_rows], new_token.view(-1, 1)], dim=1)  # (N*K, t+1)
            cache = _select(cache, source_rows)
            scores = live_scores  # (N, K)

            # An item is done at its maximum length, or when no live beam can enter its n-best.
            done = step + 1 >= max_lens  # (N,)
            best_live = scores[:, 0].tolist()  # topk sorts: column 0 is the best live score
            for group, item in enumerate(alive.tolist()):
                if bool(done[group]) or len(finished[item]) < nbest:
                    continue
                nth = sorted((s for _, s in finished[item]), reverse=True)[nbest - 1]
                live = best_live[group]
                if live == float("-inf"):
                    done[group] = True
                    continue
                # Live hypotheses reach lengths step+2 .. max_len (eos included).
                shortest, longest = step + 2, int(max_lens[group])
                bound = max(
                    live / float(_penalty(shortest, length_penalty, lp_alpha)),
                    live / float(_penalty(longest, length_penalty, lp_alpha)),
                )
                if nth >= bound:
                    done[group] = True
            if bool(done.any()):
                keep = (~done).nonzero().squeeze(1)  # (N',)
                keep_rows = (keep[:, None] * k + torch.arange(k, device=device)).view(-1)
                alive, scores, max_lens = alive[keep], scores[keep], max_lens[keep]
                tokens = tokens[keep_rows]
                memory, cache = _select(memory, keep_rows), _select(cache, keep_rows)
            step += 1

    for item in range(batch):
        finished[item].sort(key=lambda pair: pair[1], reverse=True)
        finished[item] = finished[item][:nbest]
    return finished
