"""Vocoder data: an index of audio files (bad items left out), random segments, batches.

A vocoder learns from audio alone, so its index checks only the audio (no transcript checks):

======================  ================================================================
``missing_file``        the audio file does not exist
``undecodable``         soundfile cannot read the header (or, with ``verify_audio``, the samples)
``empty_audio``         0 bytes, 0 frames (``verify_audio``: all samples zero)
``duplicate_id``        an earlier item has the same id
``too_short``           shorter than ``min_seconds``
======================  ================================================================

Bad items are written in :class:`seqlab.data.index.BadItem`'s record format to
``bad_items.jsonl``. The audio is scanned, cached and checked by the ASR index's code
(:func:`seqlab.data.index.scan_audio` and :func:`~seqlab.data.index.check_audio`): header facts,
and when the files are decoded the frame count and peak, keyed by (absolute path, size, mtime_ns).

Segments: :class:`SegmentBatchSampler` yields lists of ``(index, crop_seed)``; the crop of an
item is a pure function of (seed, epoch, index), so it is the same with any number of loader
workers and after a resume. :class:`VocoderDataset` reads only the frames it needs when the file
is already at the model's rate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from seqlab.audio.io import load_audio
from seqlab.data.bucketing import EpochBatchSampler
from seqlab.data.index import (
    BadItem,
    RawItem,
    bad_items_summary,
    check_audio,
    scan_audio,
    write_bad_items,
)

logger = logging.getLogger(__name__)

PEAK_LEVEL = 0.95  # the official HiFi-GAN code scales each file's peak to this (``normalize``)


@dataclass
class VocoderUtterance:
    """One good audio file of the index."""

    id: str
    audio_path: str  # absolute path
    text: str  # the transcript if the format has one (unused by a vocoder)
    frames: int  # samples at the file's own rate
    sample_rate: int  # the file's rate (the dataset resamples)
    peak: float | None  # max |sample| of the mono mixdown, when the file was decoded

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.sample_rate


@dataclass
class VocoderIndex:
    """What :func:`index_audio` returns: good utterances, bad items and a one-line summary."""

    utterances: list[VocoderUtterance]
    bad: list[BadItem]
    summary: str


def index_audio(
    items: Iterable[RawItem | tuple],
    cache_path: str | Path | None = None,
    bad_items_path: str | Path | None = None,
    min_seconds: float = 0.0,
    verify_audio: bool = True,
    workers: int = 8,
) -> VocoderIndex:
    """Check the audio of every item and return the good ones (see the module docstring).

    Args:
        items: raw items ``(id, audio_path, text, duration_or_None)`` from a format reader.
        cache_path: JSON-lines cache of header facts (created/updated); None disables it.
        bad_items_path: ``bad_items.jsonl`` to append bad items to (created only if any).
        min_seconds: items shorter than this are ``too_short``.
        verify_audio: decode every file once (cached): catches truncated and all-zero files and
            records the peak that ``peak_normalize`` needs.
        workers: threads reading files (I/O bound).

    Returns:
        :class:`VocoderIndex` with the good utterances in input order.
    """
    raw = [RawItem(*item) for item in items]
    facts = scan_audio([item.audio_path for item in raw], cache_path, verify_audio, workers)
    good: list[VocoderUtterance] = []
    bad: list[BadItem] = []
    for item, path, audio in check_audio(raw, facts, bad):
        utt = VocoderUtterance(
            str(item.id), path, item.raw_text or "", audio.frames, audio.sample_rate, audio.peak
        )
        if utt.duration < min_seconds:
            detail = f"{utt.duration:.3f} s < min_seconds {min_seconds} s"
            bad.append(BadItem(utt.id, path, "too_short", detail))
            continue
        good.append(utt)

    summary = bad_items_summary(len(raw), bad)
    if bad and bad_items_path is not None:
        write_bad_items(bad, bad_items_path)
        summary += f", left out and listed in {bad_items_path}"
    elif bad:
        summary += ", left out (not written)"
    (logger.warning if bad else logger.info)("audio index: %s", summary)
    return VocoderIndex(good, bad, summary)


def crop_seed(seed: int, epoch: int, index: int) -> int:
    """The crop seed of item ``index`` in ``epoch``: a pure function of the three."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0]) >> 1


class SegmentBatchSampler(EpochBatchSampler):
    """Fixed-size batches of ``(index, crop_seed)`` pairs, in the bucketing samplers' API.

    Training (``shuffle=True``): every epoch a new permutation of the items (from seed and
    epoch), cut into batches of ``batch_size``; the last partial batch is dropped, as the
    official HiFi-GAN loader does, and under DDP the batch list is truncated to a multiple of the
    world size so every rank has the same count. Each pair carries ``crop_seed(seed, epoch,
    index)``. Validation (``shuffle=False``): items in order, the last batch kept, crop seed
    ``None`` (the whole utterance); DDP pads by repeating the first batches.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        """Args:
        num_items: dataset size.
        batch_size: items per batch.
        shuffle: training mode (see the class docstring) or fixed-order validation.
        seed: base seed; order and crops are functions of (seed, epoch) only.
        num_replicas, rank: DDP world size and this process's rank.
        """
        super().__init__(num_replicas, rank, drop_last=shuffle, seed=seed)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if shuffle and num_items < batch_size * num_replicas:
            raise ValueError(
                f"{num_items} training items are fewer than batch_size {batch_size} x "
                f"{num_replicas} process(es): not one full batch per process. Lower "
                "data.batch_size or add data."
            )
        self.num_items, self.batch_size, self.shuffle = num_items, batch_size, shuffle

    def _global_batches(self, rng: np.random.Generator) -> list[list[tuple[int, int | None]]]:
        if not self.shuffle:
            pairs = [(i, None) for i in range(self.num_items)]
            return [pairs[i : i + self.batch_size] for i in range(0, len(pairs), self.batch_size)]
        order = rng.permutation(self.num_items).tolist()
        full = len(order) - len(order) % self.batch_size
        return [
            [
                (i, crop_seed(self.seed, self.epoch, i))
                for i in order[start : start + self.batch_size]
            ]
            for start in range(0, full, self.batch_size)
        ]


class VocoderDataset(Dataset):
    """Audio items: a random segment (training) or the whole utterance (validation).

    ``dataset[(index, crop_seed)]`` returns ``{"audio": (L,) float32, "id", "path"}``; with a crop
    seed, ``L = min(segment_size, length)`` starting at a uniformly drawn sample (the start is
    drawn from ``numpy.random.default_rng(crop_seed)``); with ``None``, the whole utterance,
    cropped to ``max_samples`` if given. ``dataset[index]`` is ``dataset[(index, None)]``.
    """

    def __init__(
        self,
        utterances: Sequence[VocoderUtterance],
        sample_rate: int,
        segment_size: int | None = None,
        max_samples: int | None = None,
        peak_normalize: bool = False,
    ) -> None:
        """Args:
        utterances: good items of :func:`index_audio`.
        sample_rate: every waveform is resampled to this rate.
        segment_size: samples per training segment (needed when items are cropped).
        max_samples: crop whole utterances to at most this many samples (validation).
        peak_normalize: scale each file so that its peak is ``PEAK_LEVEL`` (0.95), as the
            official code does; needs the peaks of a decoded index (``verify_audio``); a file
            that is resampled is scaled by the peak after resampling.
        """
        self.utterances = list(utterances)
        self.sample_rate, self.segment_size = sample_rate, segment_size
        self.max_samples, self.peak_normalize = max_samples, peak_normalize
        if peak_normalize and any(u.peak is None for u in self.utterances):
            raise ValueError(
                "peak_normalize needs each file's peak, which the index records only when it "
                "decodes the audio: set data.verify_audio=true (or data.peak_normalize=false)"
            )

    def __len__(self) -> int:
        return len(self.utterances)

    def num_samples(self, index: int) -> int:
        """Length of item ``index`` at ``sample_rate`` (what a full read returns)."""
        utt = self.utterances[index]
        if utt.sample_rate == self.sample_rate:
            return utt.frames
        return -(-utt.frames * self.sample_rate // utt.sample_rate)  # ceil, as resample gives

    def __getitem__(self, key) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, None)
        utt = self.utterances[index]
        length = self.num_samples(index)
        if seed is None:
            start, count = 0, length if self.max_samples is None else min(length, self.max_samples)
        else:
            if self.segment_size is None:
                raise ValueError("VocoderDataset: a crop seed needs segment_size")
            count = min(self.segment_size, length)
            start = int(np.random.default_rng(seed).integers(0, length - count + 1))
        try:
            wave, peak = self._read(utt, start, count)  # (count,), the whole file's peak
        except Exception as err:
            raise RuntimeError(
                f"could not decode {utt.audio_path} (item {utt.id!r}) although it was indexed: "
                f"{err}. Rebuild the index with data.verify_audio=true to leave such files out."
            ) from err
        if self.peak_normalize:
            wave = wave * (PEAK_LEVEL / max(peak, 1e-9))
        return {"audio": torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
                "id": utt.id, "path": utt.audio_path}  # fmt: skip

    def _read(self, utt: VocoderUtterance, start: int, count: int) -> tuple[np.ndarray, float]:
        """``count`` samples from ``start`` at ``sample_rate``, and the peak of the whole file
        at that rate (resampling moves the peak, so a resampled file's own is measured)."""
        if utt.sample_rate != self.sample_rate:  # resample the whole file, then crop
            wave = load_audio(utt.audio_path, self.sample_rate)
            return wave[start : start + count], float(np.abs(wave).max(initial=0.0))
        wave, _ = sf.read(
            utt.audio_path, start=start, frames=count, dtype="float32", always_2d=True
        )  # (count, C): only the frames needed
        wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]  # mono mixdown as in io
        if wave.shape[0] != count:
            raise RuntimeError(f"read {wave.shape[0]} samples at {start}, expected {count}")
        return wave, float(utt.peak) if utt.peak is not None else 0.0


def collate_vocoder(items: Sequence[dict], pad_to: int | None = None) -> dict:
    """Zero-pad audio items at the end into one batch.

    Args:
        items: :class:`VocoderDataset` items.
        pad_to: pad every item to this many samples (the training segment size); None pads to
            the longest item in the batch.

    Returns:
        ``{"audio": (B, T) float32, "audio_lengths": (B,) long valid samples, "ids": list[str],
        "paths": list[str]}``.
    """
    if not items:
        raise ValueError("collate_vocoder got an empty list of items")
    lengths = torch.tensor([len(it["audio"]) for it in items], dtype=torch.long)  # (B,)
    width = int(lengths.max()) if pad_to is None else int(pad_to)
    audio = torch.zeros(len(items), width, dtype=torch.float32)  # (B, T)
    for row, it in enumerate(items):
        audio[row, : len(it["audio"])] = it["audio"][:width]
    return {
        "audio": audio,
        "audio_lengths": lengths.clamp_max(width),
        "ids": [it["id"] for it in items],
        "paths": [it["path"] for it in items],
    }
