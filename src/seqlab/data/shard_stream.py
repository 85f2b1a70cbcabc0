"""Training from streamed tar shards: a deterministic per-epoch plan, read through a shuffle buffer.

Every process computes the same plan for an epoch from the shard index alone (durations are in
it; no audio is read to plan):

1. The shards are shuffled per ``(seed, epoch)`` and dealt round-robin to ``ranks x workers``
   streams (stream ``rank * workers + worker``): each shard, hence each item, belongs to one
   stream only, so no item is read twice per epoch across ranks and DataLoader workers.
2. Each stream reads its shards in that order through a shuffle buffer of ``buffer_size`` items.
   Batches are made inside the buffer (duration bucketing within the buffer, as Lhotse's dynamic
   bucketing does): pick a random item of the buffer, take the items of the buffer in its
   duration bucket (global quantiles, as in :mod:`seqlab.data.bucketing`) in random order, and
   fill a batch while its padded seconds stay in ``max_batch_seconds``; refill; repeat.
3. A rank's batches are its workers' batches in the order PyTorch's DataLoader returns them
   (round-robin over the workers that still have batches: the j-th batch of worker w comes at
   key (j, w)). Training ranks must take the same number of batches: each takes the first N,
   N the smallest rank's count; the few batches past N are left out of that epoch (other items
   each epoch, as the shards are dealt anew). Validation and evaluation pad the shorter ranks by
   repeating their first batches instead, as the tree's sampler does.

Because the plan is a pure function of (index, seed, epoch, ranks, workers), resume is exact:
skipping the first k batches of a rank tells each worker which of its batches remain; it skips
the shards it no longer needs without downloading them, reads only the shards that hold items of
its remaining batches (re-reading at most the start of the shard it stopped in), and the
DataLoader's workers are rotated so that the round-robin continues where it stopped. A resume
needs the same number of ranks and ``trainer.num_workers`` as the run it continues (the plan
depends on both). Memory: a worker holds at most the buffer's items, decoded.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from seqlab.audio.io import load_audio
from seqlab.data.bucketing import duration_buckets
from seqlab.data.shard_io import ShardError, iter_samples

AUDIO_EXTENSIONS = ("flac", "wav", "ogg", "mp3", "opus")


@dataclass(frozen=True)
class Shard:
    """One shard of the index: where it is, its checksum, and its item keys in tar order."""

    url: str
    sha256: str | None
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ShardItem:
    """One good item to train on: where it is and what it says (text normalised, encoded)."""

    shard: int  # index into the stream's shard list
    key: str  # its key in that shard
    id: str
    text: str
    duration: float  # seconds
    tokens: tuple[int, ...]


def interleave(counts: Sequence[int]) -> list[tuple[int, int]]:
    """``(worker, j)`` pairs in the order a DataLoader returns its workers' batches: round-robin
    over the workers that still have one, i.e. sorted by ``(j, worker)``."""
    return [(w, j) for j in range(max(counts, default=0)) for w, c in enumerate(counts) if j < c]


class ShardStream(IterableDataset):
    """Batches (lists of item dicts) of one rank, streamed from tar shards; see the module doc.

    It is its own batch sampler for the engine: ``set_epoch``, ``set_start_batch`` and ``len``
    (this rank's batches in the current epoch) mean what they mean for
    :class:`seqlab.data.bucketing.EpochBatchSampler`.
    """

    def __init__(
        self,
        shards: Sequence[Shard],
        items: Sequence[ShardItem],
        sample_rate: int,
        max_batch_seconds: float,
        num_buckets: int = 20,
        buffer_size: int = 2000,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        num_workers: int = 0,
        max_batch_size: int | None = None,
    ) -> None:
        """Args:
        shards: the shards, in index order.
        items: the items to read (the index's good ones), any order.
        sample_rate: rate every waveform is resampled to.
        max_batch_seconds, num_buckets, max_batch_size: as for
            :class:`seqlab.data.bucketing.DynamicBucketBatchSampler`.
        buffer_size: items in each stream's shuffle buffer.
        shuffle: shuffle shards and buffers per (seed, epoch) and drop what is past the
            smallest rank's count (training); False: index order, pad instead (validation).
        seed: base seed of the plan.
        num_replicas, rank: DDP world size and this process's rank.
        num_workers: the DataLoader workers that will read this stream (0: the main process);
            the loader must use exactly this many.
        """
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, num_replicas={num_replicas})")
        if max_batch_seconds <= 0:
            raise ValueError(f"max_batch_seconds must be > 0, got {max_batch_seconds}")
        if buffer_size < 1:
            raise ValueError(f"data.shuffle_buffer must be >= 1, got {buffer_size}")
        self.shards = list(shards)
        self.items = list(items)
        self.sample_rate = int(sample_rate)
        self.max_batch_seconds = float(max_batch_seconds)
        self.max_batch_size = max_batch_size
        self.buffer_size = int(buffer_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.num_workers = int(num_workers)
        self.epoch, self.start_batch = 0, 0
        self.durations = np.asarray([it.duration for it in self.items], dtype=np.float64)  # (N,)
        self.bucket_of, _ = duration_buckets(self.durations, num_buckets)  # (N,)
        # The items of each shard in tar order: a stream reads them in this order.
        position = {
            (s, key): p for s, shard in enumerate(self.shards) for p, key in enumerate(shard.keys)
        }
        by_shard: dict[int, list[tuple[int, int]]] = {}
        for i, it in enumerate(self.items):
            if (it.shard, it.key) not in position:
                raise ValueError(
                    f"item {it.id!r}: shard {self.shards[it.shard].url} lists no key {it.key!r}"
                )
            by_shard.setdefault(it.shard, []).append((position[it.shard, it.key], i))
        self.items_of_shard = {
            s: np.asarray([i for _, i in sorted(v)], dtype=np.int64) for s, v in by_shard.items()
        }
        self.streams_per_rank = max(1, self.num_workers)
        # Training: every worker reads its own shards; validation may leave workers idle, but
        # every rank needs a shard (a rank without batches could not take part in the epoch).
        needed = self.num_replicas * (self.streams_per_rank if shuffle else 1)
        if len(self.items_of_shard) < needed:
            raise ValueError(
                f"{len(self.items_of_shard)} shard(s) hold items to read, but {self.num_replicas} "
                f"rank(s) x {self.streams_per_rank if shuffle else 1} loader worker(s) need at "
                f"least {needed} (each reads its own shards): write smaller shards (`seqlab data "
                "shard --shard-size`) or use fewer trainer.num_workers"
            )
        self._cached: tuple[int, dict] | None = None

    # ---- the engine's sampler interface ---------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose (deterministic) plan the next iteration reads."""
        self.epoch = int(epoch)

    def set_start_batch(self, k: int) -> None:
        """Skip this rank's first ``k`` batches in the next iteration (mid-epoch resume).

        With loader workers the workers iterate copies of this object, so the skip stays set
        here: set it before every loader, as the engine does at every epoch."""
        if k < 0:
            raise ValueError(f"start batch must be >= 0, got {k}")
        self.start_batch = int(k)

    def __len__(self) -> int:
        return len(self.plan()["order"])

    # ---- the plan ---------------------------------------------------------------------------
    def _stream_shards(self, epoch: int) -> list[list[int]]:
        """The shards of each stream (``rank * workers + worker``) for ``epoch``, in read order."""
        shards = np.asarray(sorted(self.items_of_shard), dtype=np.int64)
        if self.shuffle:
            shards = np.random.default_rng([self.seed, epoch]).permutation(shards)
        n_streams = self.num_replicas * self.streams_per_rank
        return [shards[s::n_streams].tolist() for s in range(n_streams)]

    def _buffer_batches(
        self, sequence: np.ndarray, rng: np.random.Generator | None
    ) -> list[list[int]]:
        """Batches of one stream's ``sequence`` of items (read order) made in its shuffle buffer."""
        batches: list[list[int]] = []
        buffer: list[int] = []
        nxt = 0
        while nxt < len(sequence) or buffer:
            take = min(len(sequence) - nxt, self.buffer_size - len(buffer))
            buffer.extend(sequence[nxt : nxt + take].tolist())
            nxt += take
            held = np.asarray(buffer, dtype=np.int64)  # (B,)
            first = int(rng.integers(len(held))) if rng is not None else 0
            candidates = np.flatnonzero(self.bucket_of[held] == self.bucket_of[held[first]])
            if rng is not None:
                candidates = rng.permutation(candidates)
            chosen, longest = [], 0.0
            for pos in candidates.tolist():
                new_longest = max(longest, float(self.durations[held[pos]]))
                full = self.max_batch_size is not None and len(chosen) >= self.max_batch_size
                if chosen and (full or (len(chosen) + 1) * new_longest > self.max_batch_seconds):
                    break
                chosen.append(pos)
                longest = new_longest
            batches.append(held[chosen].tolist())
            taken = set(chosen)
            buffer = [item for pos, item in enumerate(buffer) if pos not in taken]
        return batches

    def _rank_batches(
        self, epoch: int, rank: int, stream_shards: list[list[int]]
    ) -> list[list[list[int]]]:
        """Each worker's batches on ``rank`` for ``epoch`` (untruncated)."""
        out = []
        for w in range(self.streams_per_rank):
            s = rank * self.streams_per_rank + w
            parts = [self.items_of_shard[sh] for sh in stream_shards[s]]
            sequence = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            rng = np.random.default_rng([self.seed, epoch, s]) if self.shuffle else None
            out.append(self._buffer_batches(sequence, rng))
        return out

    def plan(self) -> dict:
        """This rank's plan for the current epoch: ``shards`` (per worker, read order),
        ``batches`` (per worker: lists of item indices) and ``order`` (the rank's batches as
        ``(worker, j)`` in loader order, equal in length on every rank)."""
        if self._cached is not None and self._cached[0] == self.epoch:
            return self._cached[1]
        stream_shards = self._stream_shards(self.epoch)
        mine = self._rank_batches(self.epoch, self.rank, stream_shards)
        counts = []  # batches per rank: every rank must take the same number
        for r in range(self.num_replicas):
            batches = mine if r == self.rank else self._rank_batches(self.epoch, r, stream_shards)
            counts.append(sum(len(b) for b in batches))
        order = interleave([len(b) for b in mine])
        if self.shuffle:
            order = order[: min(counts)]
        elif len(order) < max(counts) and order:
            # Validation under DDP: repeat this rank's first batches (as the tree's sampler does);
            # each repeat is one more batch of the same worker, which still holds its items.
            extra = [order[i % len(order)] for i in range(max(counts) - len(order))]
            for w, j in extra:
                mine[w].append(mine[w][j])
            order = interleave([len(b) for b in mine])
        w_count = self.streams_per_rank
        plan = {
            "shards": [stream_shards[self.rank * w_count + w] for w in range(w_count)],
            "batches": mine,
            "order": order,
        }
        self._cached = (self.epoch, plan)
        return plan

    # ---- reading ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[dict]]:
        start, self.start_batch = self.start_batch, 0  # resume applies to this iteration only
        info = get_worker_info()
        workers = info.num_workers if info is not None else 0
        if max(1, workers) != self.streams_per_rank:
            raise RuntimeError(
                f"this shard stream was planned for {self.num_workers} loader worker(s) but "
                f"runs in {workers}; build its DataLoader with DataSpec.num_workers"
            )
        plan = self.plan()
        order = plan["order"]
        # Rotate the workers so that the loader's round-robin resumes at batch `start`: loader
        # worker i reads stream (i + first) % workers (the proof is in the module doc's terms:
        # the rotated keys (j', i) sort the remaining batches as (j, w) did).
        first = order[start][0] if start < len(order) else 0
        worker = ((info.id if info is not None else 0) + first) % self.streams_per_rank
        skipped = sum(1 for w, _ in order[:start] if w == worker)
        kept = sum(1 for w, _ in order if w == worker)
        batches = plan["batches"][worker][skipped:kept]
        yield from self._read(plan["shards"][worker], batches)

    def _read(self, shard_ids: list[int], batches: list[list[int]]) -> Iterator[list[dict]]:
        """Stream ``shard_ids`` and yield ``batches`` as lists of decoded items."""
        needed: dict[int, int] = {}  # item -> batches still to yield that hold it
        for batch in batches:
            for i in batch:
                needed[i] = needed.get(i, 0) + 1
        samples = self._samples(shard_ids, set(needed))
        ready: dict[int, dict] = {}
        for batch in batches:
            for i in batch:
                while i not in ready:
                    try:
                        j, fields, url = next(samples)
                    except StopIteration:
                        it = self.items[i]
                        raise ShardError(
                            f"shard {self.shards[it.shard].url} ended without item {it.id!r} "
                            f"(key {it.key!r}) that its index lists; write the shards again"
                        ) from None
                    ready[j] = self._decode(j, fields, url)
            out = []
            for i in batch:
                out.append(ready[i])
                needed[i] -= 1
                if not needed[i]:
                    del ready[i]
            yield out

    def _samples(self, shard_ids: list[int], needed: set[int]) -> Iterator[tuple[int, dict, str]]:
        """``(item, fields, shard url)`` of the ``needed`` items, in stream order; shards that
        hold none of them are not opened."""
        item_of = {(it.shard, it.key): i for i, it in enumerate(self.items)}
        for s in shard_ids:
            if not any(int(i) in needed for i in self.items_of_shard.get(s, ())):
                continue
            shard = self.shards[s]
            for key, fields in iter_samples(shard.url, shard.sha256):
                i = item_of.get((s, key))
                if i is not None and i in needed:
                    yield i, fields, shard.url

    def _decode(self, i: int, fields: dict, url: str) -> dict:
        """One item as :class:`seqlab.data.asr_dataset.ASRDataset` gives it."""
        it = self.items[i]
        ext = next((e for e in AUDIO_EXTENSIONS if e in fields), None)
        if ext is None:
            raise ShardError(f"shard {url}: item {it.key!r} has no audio member ({sorted(fields)})")
        try:
            wave = load_audio(io.BytesIO(fields[ext]), self.sample_rate)  # (T,)
        except Exception as err:
            raise ShardError(
                f"shard {url}: cannot decode {it.key}.{ext} (item {it.id!r}): {err}"
            ) from None
        return {
            "audio": torch.from_numpy(wave),
            "tokens": torch.tensor(it.tokens, dtype=torch.long),
            "text": it.text,
            "id": it.id,
            "path": f"{url}#{it.key}",
        }

    def sample_items(self, max_items: int) -> list[dict]:
        """Up to ``max_items`` decoded items from the first shards in index order (statistics
        such as ``features.normalize: global`` need a sample of the data, not all of it)."""
        out: list[dict] = []
        for s in sorted(self.items_of_shard):
            wanted = set(self.items_of_shard[s][: max_items - len(out)].tolist())
            for i, fields, url in self._samples([s], wanted):
                out.append(self._decode(i, fields, url))
                if len(out) >= max_items:
                    return out
        return out
