"""Parallel text for translation: line-aligned files or TSV, length filtering, subsets, batching.

On disk (the homework layout): ``<root>/<split>.<src>-<tgt>.<src>`` and ``.<tgt>``, one sentence per
line, line i of one file the translation of line i of the other; ``<root>/<split>.<src>`` /
``<split>.<tgt>`` are accepted when the pair-named files are missing. Or TSV: ``src<TAB>tgt``.

Batching reuses :class:`seqlab.data.bucketing.DynamicBucketBatchSampler`: its "durations" are any
per-item cost and its budget bounds ``len(batch) * max cost``. Pass :func:`pair_lengths` (the
longer side of each pair, in tokens, counting the bos/eos the decoder adds) as ``durations`` and
the token budget as ``max_batch_seconds``; then every padded tensor of a batch holds at most that
many tokens::

    sampler = DynamicBucketBatchSampler(pair_lengths(src_ids, tgt_ids), max_batch_seconds=4096)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=partial(collate_mt, pad_id=0))
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import torch

Pair = tuple[str, str]


class ParallelDataError(ValueError):
    """Parallel files that cannot be read as line-aligned pairs."""


def _read_lines(path: Path) -> list[str]:
    """Lines split on newline characters only (U+2028 and friends may sit inside a sentence)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ParallelDataError(
            f"{path} is not UTF-8 (byte {err.start}: {err.reason}); re-encode it with "
            f"`iconv -f <encoding> -t utf-8 {path.name}`"
        ) from err
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    return [line.removesuffix("\r") for line in lines]


def parallel_paths(root: str | Path, split_prefix: str, src: str, tgt: str) -> tuple[Path, Path]:
    """The source and target files of a split: ``<prefix>.<src>-<tgt>.<lang>`` or ``<prefix>.<lang>``.

    Raises:
        FileNotFoundError: naming every path that was tried.
    """
    root = Path(root)
    paired = (
        root / f"{split_prefix}.{src}-{tgt}.{src}",
        root / f"{split_prefix}.{src}-{tgt}.{tgt}",
    )
    if paired[0].is_file() and paired[1].is_file():
        return paired
    plain = (root / f"{split_prefix}.{src}", root / f"{split_prefix}.{tgt}")
    if plain[0].is_file() and plain[1].is_file():
        return plain
    tried = ", ".join(str(p) for p in (*paired, *plain))
    raise FileNotFoundError(
        f"no parallel files for split {split_prefix!r} ({src}->{tgt}) in {root}: tried {tried}; "
        f"write one sentence per line to {paired[0].name} and {paired[1].name}, or build the "
        "built-in corpus with `seqlab data synth-mt DIR`"
    )


def read_parallel(root: str | Path, split_prefix: str, src: str, tgt: str) -> list[Pair]:
    """Read a split of line-aligned parallel files.

    Args:
        root: directory holding the files.
        split_prefix: "train", "val", "test1", ...
        src, tgt: language suffixes ("de", "en").

    Returns:
        (source line, target line) pairs, newline characters stripped, in file order.

    Raises:
        FileNotFoundError: if neither file naming exists.
        ParallelDataError: if the two files have different numbers of lines.
    """
    src_path, tgt_path = parallel_paths(root, split_prefix, src, tgt)
    src_lines, tgt_lines = _read_lines(src_path), _read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise ParallelDataError(
            f"{tgt_path} has {len(tgt_lines):,} lines but {src_path} has {len(src_lines):,}; "
            "the files must be line-aligned (line i of one is the translation of line i of the "
            "other): find the sentence that was split or merged, or re-export both files together"
        )
    return list(zip(src_lines, tgt_lines, strict=True))


def read_tsv(path: str | Path) -> tuple[list[Pair], list[dict]]:
    """Read ``source<TAB>target`` lines.

    Returns:
        (pairs, bad_items): the well-formed pairs in file order, and ``{"line": n, "reason": ...}``
        (1-based line numbers) for each line without exactly one tab.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; a TSV file holds one 'source<TAB>target' per line"
        )
    pairs: list[Pair] = []
    bad: list[dict] = []
    for number, line in enumerate(_read_lines(path), start=1):
        tabs = line.count("\t")
        if tabs != 1:
            bad.append(
                {
                    "line": number,
                    "reason": f"expected exactly one tab (source<TAB>target), found {tabs}",
                }
            )
            continue
        src, tgt = line.split("\t")
        pairs.append((src, tgt))
    return pairs, bad


def filter_pairs(
    pairs: Sequence[Pair],
    max_src_tokens: int | None = None,
    max_tgt_tokens: int | None = None,
    max_ratio: float | None = None,
) -> tuple[list[Pair], list[dict]]:
    """Drop pairs with an empty side, a side over its token limit, or too unequal lengths.

    Tokens are whitespace-separated words (the files are tokenized).

    Args:
        pairs: (source, target) pairs; ``line`` in the bad items is the 1-based index here.
        max_src_tokens, max_tgt_tokens: inclusive limits (None: no limit).
        max_ratio: largest allowed ``max(len) / min(len)`` in tokens (None: no limit).

    Returns:
        (kept pairs in order, bad items ``{"line": n, "reason": ...}``).
    """
    kept: list[Pair] = []
    bad: list[dict] = []
    for number, (src, tgt) in enumerate(pairs, start=1):
        n_src, n_tgt = len(src.split()), len(tgt.split())
        reason = None
        if n_src == 0:
            reason = "empty source"
        elif n_tgt == 0:
            reason = "empty target"
        elif max_src_tokens is not None and n_src > max_src_tokens:
            reason = f"source too long: {n_src} tokens > max_src_tokens={max_src_tokens}"
        elif max_tgt_tokens is not None and n_tgt > max_tgt_tokens:
            reason = f"target too long: {n_tgt} tokens > max_tgt_tokens={max_tgt_tokens}"
        elif max_ratio is not None and max(n_src, n_tgt) / min(n_src, n_tgt) > max_ratio:
            ratio = max(n_src, n_tgt) / min(n_src, n_tgt)
            reason = f"length ratio {ratio:.2f} > max_ratio={max_ratio} ({n_src} vs {n_tgt} tokens)"
        if reason is None:
            kept.append((src, tgt))
        else:
            bad.append({"line": number, "reason": reason})
    return kept, bad


def take_fraction(pairs: Sequence[Pair], fraction: float, seed: int = 0) -> list[Pair]:
    """A deterministic random subset of ``round(fraction * len(pairs))`` pairs (at least one), in order.

    Args:
        fraction: in (0, 1]; 1 keeps everything.
        seed: the same seed and input give the same subset.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"data.train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0 or not pairs:
        return list(pairs)
    k = max(1, round(fraction * len(pairs)))
    chosen = sorted(random.Random(seed).sample(range(len(pairs)), k))
    return [pairs[i] for i in chosen]


def pair_lengths(src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]]) -> list[int]:
    """Per-item batching cost: ``max(len(src), len(tgt) + 1)`` (the decoder adds bos or eos)."""
    return [max(len(s), len(t) + 1) for s, t in zip(src_ids, tgt_ids, strict=True)]


def collate_mt(items: Sequence[dict], pad_id: int = 0, bos_id: int = 2, eos_id: int = 3) -> dict:
    """Pad translation items into one batch, adding bos/eos on the target side.

    Args:
        items: dicts with "id", "src_ids" and "tgt_ids" (lists of ints, no bos/eos), "src_text",
            "tgt_text".
        pad_id, bos_id, eos_id: the vocabulary's special ids (0, 2, 3 in seqlab).

    Returns:
        dict with "src" (B, S) long padded with ``pad_id``, "src_lengths" (B,), "tgt_in" (B, T)
        = bos + target, "tgt_out" (B, T) = target + eos (both padded with ``pad_id``; T is the
        longest target + 1), "tgt_lengths" (B,) = target length + 1, and the lists "src_text",
        "tgt_text", "ids".
    """
    if not items:
        raise ValueError("collate_mt got an empty list of items")
    batch = len(items)
    src_lengths = torch.tensor([len(it["src_ids"]) for it in items], dtype=torch.long)  # (B,)
    tgt_lengths = torch.tensor([len(it["tgt_ids"]) + 1 for it in items], dtype=torch.long)  # (B,)
    src = torch.full((batch, max(int(src_lengths.max()), 1)), pad_id, dtype=torch.long)  # (B, S)
    tgt_in = torch.full((batch, int(tgt_lengths.max())), pad_id, dtype=torch.long)  # (B, T)
    tgt_out = tgt_in.clone()  # (B, T)
    for row, it in enumerate(items):
        src[row, : len(it["src_ids"])] = torch.as_tensor(it["src_ids"], dtype=torch.long)
        tgt = torch.as_tensor(it["tgt_ids"], dtype=torch.long)
        tgt_in[row, 0] = bos_id
        tgt_in[row, 1 : len(tgt) + 1] = tgt
        tgt_out[row, : len(tgt)] = tgt
        tgt_out[row, len(tgt)] = eos_id
    return {
        "src": src,
        "src_lengths": src_lengths,
        "tgt_in": tgt_in,
        "tgt_out": tgt_out,
        "tgt_lengths": tgt_lengths,
        "src_text": [it["src_text"] for it in items],
        "tgt_text": [it["tgt_text"] for it in items],
        "ids": [it["id"] for it in items],
    }
