"""Length-bucketed dynamic batches bounded by padded seconds; deterministic, DDP-aware, resumable.

Ours rather than SpeechBrain's DynamicBatchSampler or Lhotse's samplers: those pull in their whole
data stack; this is ~150 lines and does exactly what the engine's exact resume needs (the batch
list is a pure function of seed and epoch, and ``set_start_batch`` skips what was already trained).

Both samplers share one API: ``set_epoch(epoch)``, ``set_start_batch(k)``, ``__len__`` (this rank's
batches for the current epoch), ``__iter__`` (lists of dataset indices). For DDP the global batch
list is built identically on every rank, padded by repeating its first batches to a multiple of
``num_replicas`` (or truncated when ``drop_last``), and rank ``r`` takes batches ``r::num_replicas``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def padding_fraction(batches: Sequence[Sequence[int]], durations: Sequence[float]) -> float:
    """Padded seconds / total batch seconds, where a batch costs ``len(batch) * longest item``."""
    durations = np.asarray(durations, dtype=np.float64)
    total = padded = 0.0
    for batch in batches:
        lengths = durations[np.asarray(batch, dtype=np.int64)]
        cost = len(batch) * float(lengths.max())
        total += cost
        padded += cost - float(lengths.sum())
    return padded / total if total > 0 else 0.0


def duration_buckets(durations: np.ndarray, num_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Each item's duration bucket ``(N,)`` and the bucket boundaries: ``num_buckets`` buckets of
    (about) equal counts, split at the durations' quantiles (equal quantiles merge)."""
    if len(durations):
        quantiles = np.linspace(0.0, 1.0, max(1, num_buckets) + 1)[1:-1]
        boundaries = np.unique(np.quantile(durations, quantiles))
    else:
        boundaries = np.zeros(0)
    return np.searchsorted(boundaries, durations, side="right"), boundaries


def _shard(
    batches: list[list[int]], num_replicas: int, rank: int, drop_last: bool
) -> list[list[int]]:
    """This rank's share of the global batch list; every rank gets the same count."""
    if num_replicas == 1:
        return batches
    if drop_last:
        batches = batches[: len(batches) - len(batches) % num_replicas]
    elif batches and len(batches) % num_replicas:
        missing = num_replicas - len(batches) % num_replicas
        # Cycle from the start: with fewer batches than replicas one batch may repeat twice.
        batches = batches + [batches[i % len(batches)] for i in range(missing)]
    return batches[rank::num_replicas]


class EpochBatchSampler(Sampler[list[int]]):
    """Epoch/resume/DDP bookkeeping shared by both samplers; subclasses build the global list."""

    def __init__(self, num_replicas: int, rank: int, drop_last: bool, seed: int) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, num_replicas={num_replicas})")
        self.num_replicas = num_replicas
        self.rank = rank
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0
        self._cached: tuple[int, list[list[int]]] | None = None

    def _global_batches(self, rng: np.random.Generator) -> list[list[int]]:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose (deterministic) batch order the next iteration yields."""
        self.epoch = int(epoch)

    def set_start_batch(self, k: int) -> None:
        """Skip this rank's first ``k`` batches in the next iteration only (mid-epoch resume)."""
        if k < 0:
            raise ValueError(f"start batch must be >= 0, got {k}")
        self.start_batch = int(k)

    def rank_batches(self) -> list[list[int]]:
        """This rank's full batch list for the current epoch (no skipping)."""
        if self._cached is None or self._cached[0] != self.epoch:
            # One stream per (seed, epoch): identical on every rank and every resume.
            rng = np.random.default_rng([self.seed, self.epoch])
            batches = _shard(
                self._global_batches(rng), self.num_replicas, self.rank, self.drop_last
            )
            self._cached = (self.epoch, batches)
        return self._cached[1]

    def __len__(self) -> int:
        return len(self.rank_batches())

    def __iter__(self) -> Iterator[list[int]]:
        start, self.start_batch = self.start_batch, 0  # resume applies to this iteration only
        for batch in self.rank_batches()[start:]:
            yield list(batch)


class DynamicBucketBatchSampler(EpochBatchSampler):
    """Batches of similar-length items whose padded seconds (size x longest) stay in a budget."""

    def __init__(
        self,
        durations: Sequence[float],
        max_batch_seconds: float,
        num_buckets: int = 20,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
        max_batch_size: int | None = None,
    ) -> None:
        """Args:
        durations: seconds per dataset item.
        max_batch_seconds: budget for ``len(batch) * max(duration in batch)``; an item longer than
            the budget forms a batch of its own (never dropped).
        num_buckets: equal-count duration buckets (quantiles); batches never mix buckets.
        shuffle: shuffle items within buckets and batches across buckets, per (seed, epoch);
            if False, items are sorted by duration (least padding, e.g. for validation).
        seed: base seed; the order is a function of (seed, epoch) only.
        drop_last: DDP: truncate the global batch list to a multiple of ``num_replicas``
            instead of padding it by repetition. Items are never dropped otherwise.
        num_replicas, rank: DDP world size and this process's rank.
        max_batch_size: optional cap on items per batch.
        """
        super().__init__(num_replicas, rank, drop_last, seed)
        if max_batch_seconds <= 0:
            raise ValueError(f"max_batch_seconds must be > 0, got {max_batch_seconds}")
        self.durations = np.asarray(durations, dtype=np.float64)  # (N,)
        self.max_batch_seconds = float(max_batch_seconds)
        self.max_batch_size = max_batch_size
        self.shuffle = shuffle
        self.bucket_of, boundaries = duration_buckets(self.durations, num_buckets)  # (N,)
        self.num_buckets = len(boundaries) + 1

    def _fill(self, order: np.ndarray) -> list[list[int]]:
        """Greedy: add items in ``order`` until the next one would break the budget."""
        batches: list[list[int]] = []
        batch: list[int] = []
        longest = 0.0
        for index in order.tolist():
            duration = float(self.durations[index])
            new_longest = max(longest, duration)
            over_budget = (len(batch) + 1) * new_longest > self.max_batch_seconds
            over_size = self.max_batch_size is not None and len(batch) + 1 > self.max_batch_size
            if batch and (over_budget or over_size):
                batches.append(batch)
                batch, new_longest = [], duration
            batch.append(index)
            longest = new_longest
        if batch:
            batches.append(batch)
        return batches

    def _global_batches(self, rng: np.random.Generator) -> list[list[int]]:
        batches: list[list[int]] = []
        for bucket in range(self.num_buckets):
            members = np.flatnonzero(self.bucket_of == bucket)
            if self.shuffle:
                members = rng.permutation(members)
            else:
                members = members[np.argsort(self.durations[members], kind="stable")]
            batches.extend(self._fill(members))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches


class RandomBatchSampler(EpochBatchSampler):
    """Fixed-size batches of randomly chosen items (the baseline bucketing is compared with)."""

    def __init__(
        self,
        durations: Sequence[float],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        drop_last: bool = False,
    ) -> None:
        """Args:
        durations: seconds per dataset item (only their count is used).
        batch_size: items per batch (the last batch may be smaller).
        shuffle, seed, num_replicas, rank, drop_last: as for :class:`DynamicBucketBatchSampler`.
        """
        super().__init__(num_replicas, rank, drop_last, seed)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.num_items = len(durations)
        self.batch_size = batch_size
        self.shuffle = shuffle

    def _global_batches(self, rng: np.random.Generator) -> list[list[int]]:
        order = rng.permutation(self.num_items) if self.shuffle else np.arange(self.num_items)
        order = order.tolist()
        return [order[i : i + self.batch_size] for i in range(0, self.num_items, self.batch_size)]
