"""Long audio in overlapping windows: which samples each window reads, which of its output frames
it keeps, and a reader that takes a file from disk one window at a time.

A recording longer than a window is cut into windows of ``window`` samples that start ``hop``
samples apart (``hop = window - overlap``). Every window runs through the model on its own, and of
its CTC frames only the central part is kept: each inner cut lies in the middle of an overlap, so
every kept frame saw at least ``overlap / 2`` of real audio on both sides (the whole file's
context, for a model whose receptive field is no wider than that). The kept frames of all windows
tile the whole file's frames exactly once, in order, so the joined log-probs go to the same decoder
as a whole-file forward pass.

Windows start on multiples of the model's output stride (samples per CTC frame), so a window's
frame ``j`` is the whole file's frame ``start / stride + j``; and, when the file is resampled, on
multiples of the rate ratio's denominator, so each window's resampled samples are the whole
file's. Memory holds one window of audio, its activations and the kept log-probs, whatever the
length of the file.

Ours because the field's chunked CTC inference (e.g. transformers' ``pipeline(chunk_length_s=,
stride_length_s=)``) belongs to Hugging Face models and reads the whole file first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Defaults of seqlab transcribe's --window-seconds / --overlap-seconds and of ASRModel.transcribe.
# 30 s: the chunk length the field settled on (Whisper's window, transformers' chunk_length_s
# examples); an utterance-scale context for the BiLSTM and Conformer, and a few hundred MB of
# activations at most. 2 s of overlap: 1 s of real context on each side of every cut, far more
# than the receptive field of the convolutional front ends and enough to hold a word that
# straddles a cut; it costs 2/28 = 7 % more computation than no overlap.
WINDOW_SECONDS = 30.0
OVERLAP_SECONDS = 2.0


@dataclass(frozen=True)
class Span:
    """One window: samples ``[start, end)`` at the model's rate, of which it keeps the whole
    file's output frames ``[keep_start, keep_end)`` (its own frames from ``keep_start - start //
    stride``)."""

    start: int
    end: int
    keep_start: int
    keep_end: int


def output_stride(output_lengths: Callable, near: int) -> int:
    """Samples per output frame of a model whose frame count ``output_lengths((B,) samples)``
    grows by one every ``stride`` samples (all of seqlab's CTC models); found past ``near`` samples.

    Raises:
        ValueError: the frame count does not grow evenly (a model with no fixed stride cannot be
            decoded in windows).
    """

    import torch  # here, so that the CLI reads the defaults above without loading torch

    def frames(n: int) -> int:
        return int(output_lengths(torch.tensor([n]))[0])

    def first_reaching(
        target: int, low: int
    ) -> int:  # the fewest samples >= low with target frames
        high = max(low, 1)
        while frames(high) < target:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if frames(mid) >= target else (mid, high)
        return high

    base = frames(near)
    steps = [first_reaching(base + k, near) for k in range(1, 5)]
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    if len(gaps) != 1 or min(gaps) < 1:
        raise ValueError(
            f"the model's output frames are not evenly spaced in samples (new frames at {steps}); "
            "it cannot be decoded in windows: transcribe it whole (window_seconds=None)"
        )
    return gaps.pop()


def check_seconds(window_seconds: float, overlap_seconds: float) -> None:
    """Raise ``ValueError`` unless the window is positive and the overlap in ``[0, window)``."""
    if not window_seconds > 0 or not 0 <= overlap_seconds < window_seconds:
        raise ValueError(
            f"window of {window_seconds} s with {overlap_seconds} s of overlap: the window "
            "must be positive and the overlap in [0, window)"
        )


@dataclass(frozen=True)
class WindowPlan:
    """Window geometry at the model's rate, in samples.

    Args:
        window: samples per window.
        overlap: samples shared by consecutive windows (``hop = window - overlap``).
        stride: samples per output frame (:func:`output_stride`).
        align: window starts are also multiples of this (the reduced denominator of the
            file-to-model rate ratio, 1 without resampling).
    """

    window: int
    overlap: int
    stride: int
    align: int = 1

    @classmethod
    def from_seconds(
        cls, window_seconds: float, overlap_seconds: float, rate: int, stride: int, align: int = 1
    ) -> WindowPlan:
        """A plan of ``window_seconds`` windows overlapping by ``overlap_seconds`` at ``rate`` Hz;
        the hop is rounded down to whole output frames (and ``align``), the overlap grows by the
        difference. Raises ``ValueError`` for settings that leave no hop or no context."""
        check_seconds(window_seconds, overlap_seconds)
        unit = stride * align // math.gcd(stride, align)  # hop multiple of both
        window = round(window_seconds * rate)
        hop = (window - round(overlap_seconds * rate)) // unit * unit
        if hop < unit:
            raise ValueError(
                f"window of {window_seconds} s with {overlap_seconds} s of overlap leaves a hop "
                f"shorter than one output frame ({unit} samples at {rate} Hz); shorten the overlap"
            )
        return cls(window=window, overlap=window - hop, stride=stride, align=align)

    @property
    def hop(self) -> int:
        """Samples between consecutive window starts (a multiple of ``stride`` and ``align``)."""
        return self.window - self.overlap

    def spans(self, n_samples: int, n_frames: int) -> list[Span]:
        """The windows of an ``n_samples`` recording whose whole-file forward pass would give
        ``n_frames`` output frames: starts ``k * hop`` until a window reaches the end; the cut
        between two windows is the frame at the middle of their overlap. The kept ranges tile
        ``[0, n_frames)`` in order."""
        starts = [0]
        while starts[-1] + self.window < n_samples:
            starts.append(starts[-1] + self.hop)
        cuts = [(s + self.overlap // 2) // self.stride for s in starts[1:]]
        bounds = [0, *(min(c, n_frames) for c in cuts), n_frames]
        return [
            Span(s, min(s + self.window, n_samples), bounds[i], bounds[i + 1])
            for i, s in enumerate(starts)
        ]


def read_windows(
    path: str | Path, spans: list[Span], rate: int, model_rate: int
) -> Iterator[np.ndarray]:
    """The mono float32 samples (at the file's ``rate``) under each span (given at
    ``model_rate``), read in order with ``SoundFile.read(frames)``: only one window, never the
    whole file, is in memory; the overlap is kept from the previous read, not read twice.

    Span boundaries map to ``boundary * rate / model_rate`` file samples (exact when the plan's
    ``align`` is the rate ratio's denominator; rounded up otherwise). A file shorter than its
    header said gives short windows at the end.
    """
    import soundfile as sf

    def to_file(sample: int) -> int:
        return -(-sample * rate // model_rate)

    with sf.SoundFile(str(path)) as source:
        buffer = np.zeros(
            0, dtype=np.float32
        )  # file samples [at, at + len(buffer)): the read position
        at = 0
        for span in spans:
            first, last = to_file(span.start), to_file(span.end)
            if first >= at + len(buffer):  # no overlap with the previous window (not in a plan)
                if first > at + len(buffer):
                    source.seek(first)
                buffer, at = np.zeros(0, dtype=np.float32), first
            else:
                buffer, at = buffer[first - at :], first
            need = last - (at + len(buffer))
            if need > 0:
                block = source.read(frames=need, dtype="float32", always_2d=True)  # (n, C)
                block = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]  # mono
                buffer = np.concatenate([buffer, block.astype(np.float32, copy=False)])
            yield buffer[: last - at]
