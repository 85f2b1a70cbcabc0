"""Dynamic batching for one served model: requests wait in a bounded queue, one worker thread
gathers them for a short window (or until a batch is full) and runs ONE batched call per group
of compatible requests, then hands each request its own result.

Written here rather than taken from a serving framework (Triton, Ray Serve, TorchServe): those
are servers of their own, and the batched call is the task's own (``transcribe_nbest``,
``translate``, ``vocode``), whose results equal one-at-a-time results (tests/test_serve.py).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class QueueFull(RuntimeError):
    """The model's queue holds its maximum of waiting requests (answered with HTTP 503)."""


@dataclass
class _Job:
    key: Hashable  # requests with equal keys run in one call (same decoder, same beam size...)
    payload: Any
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """What a batcher has done: requests answered, batched calls, and how many calls had each
    size (``sizes[4] == 2``: two calls ran 4 requests together)."""

    requests: int = 0
    batches: int = 0
    sizes: Counter = field(default_factory=Counter)

    @property
    def largest(self) -> int:
        """The most requests one call has run together (0 before any)."""
        return max(self.sizes, default=0)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "batches": self.batches,
            "largest_batch": self.largest,
            "batch_sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


class DynamicBatcher:
    """One worker thread that runs a model's requests in batches.

    Args:
        run_batch: ``(key, payloads) -> results``, one result per payload in order; a result
            that is an ``Exception`` is raised to that request alone.
        max_batch: the most requests in one call (1: no batching, each request alone).
        max_wait_ms: how long the first request of a batch waits for others to join it.
        queue_size: the most requests waiting; :meth:`submit` raises :class:`QueueFull` beyond.
        name: for the worker thread and messages.
    """

    def __init__(
        self,
        run_batch: Callable[[Hashable, list], list],
        max_batch: int = 16,
        max_wait_ms: float = 10.0,
        queue_size: int = 64,
        name: str = "model",
    ) -> None:
        if max_batch < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and queue_size must be >= 1 and max_wait_ms >= 0")
        self.run_batch = run_batch
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait_ms) / 1000
        self.queue_size = int(queue_size)
        self.name = name
        self.stats = BatchStats()
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._held: list[_Job] = []  # taken from the queue but of another key than the last batch
        self._waiting = 0  # requests submitted and not yet in a batch (queued or held)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, payload: Any) -> Future:
        """Queue one request; its future gets the result (or the exception). Raises
        :class:`QueueFull` at once when ``queue_size`` requests are already waiting."""
        if self._stop.is_set():
            raise RuntimeError(f"{self.name}: the server is shutting down")
        with self._lock:
            if self._waiting >= self.queue_size:
                raise QueueFull(
                    f"{self.name} has {self.queue_size} requests waiting (its queue is full); "
                    "retry in a moment, or start the server with a larger --queue-size"
                )
            self._waiting += 1
        job = _Job(key, payload)
        self._queue.put(job)
        return job.future

    @property
    def waiting(self) -> int:
        """Requests submitted and not yet taken into a batch."""
        with self._lock:
            return self._waiting

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the batch in progress; requests still waiting fail."""
        self._stop.set()
        self._thread.join(timeout)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            job.future.set_exception(RuntimeError(f"{self.name}: the server shut down"))
        for job in self._held:
            job.future.set_exception(RuntimeError(f"{self.name}: the server shut down"))
        self._held = []

    # ---- the worker ----------------------------------------------------------------------------
    def _next(self, timeout: float | None) -> _Job | None:
        try:
            return self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _gather(self) -> list[_Job]:
        """The next batch: the oldest waiting request, then requests of the same key that arrive
        within ``max_wait_ms`` of it, up to ``max_batch`` (others wait for a later batch)."""
        first = self._held.pop(0) if self._held else self._next(0.1)
        if first is None:
            return []
        batch = [first]
        keep = []  # held requests of other keys keep their order
        for job in self._held:
            (batch if job.key == first.key and len(batch) < self.max_batch else keep).append(job)
        self._held = keep
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            left = deadline - time.perf_counter()
            job = self._next(left if left > 0 else None)
            if job is None:
                break
            (batch if job.key == first.key else self._held).append(job)
        return batch

    def _work(self) -> None:
        while not self._stop.is_set():
            batch = self._gather()
            if not batch:
                continue
            with self._lock:  # in a batch now: room in the queue for others
                self._waiting -= len(batch)
            try:
                results = self.run_batch(batch[0].key, [job.payload for job in batch])
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"{self.name}: a batch of {len(batch)} gave {len(results)} results"
                    )
            except Exception as err:  # the model failed on the batch: every request hears why
                results = [err] * len(batch)
            with self._lock:
                self.stats.requests += len(batch)
                self.stats.batches += 1
                self.stats.sizes[len(batch)] += 1
            for job, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)
