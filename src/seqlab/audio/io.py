"""Reading and writing audio with soundfile: wav/flac/ogg, mono mixdown, resampling to a target rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says, without decoding the samples."""

    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file. Raises ``RuntimeError`` (from soundfile) if it cannot be read."""
    info = sf.info(str(path))
    return AudioInfo(
        frames=int(info.frames), sample_rate=int(info.samplerate), channels=int(info.channels)
    )


def load_audio(path: str | Path | BinaryIO, sample_rate: int | None = None) -> np.ndarray:
    """Decode ``path`` to a mono float32 waveform in [-1, 1].

    Args:
        path: a wav, flac or ogg file, or a binary file object holding one (a tar shard's member).
        sample_rate: resample to this rate if given and different from the file's.

    Returns:
        ``(T,)`` float32 array.
    """
    source = path if hasattr(path, "read") else str(path)
    wave, sr = sf.read(source, dtype="float32", always_2d=True)  # (T, C)
    wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]  # mono mixdown
    if sample_rate is not None and sr != sample_rate:
        from seqlab.audio.resample import resample

        wave = resample(wave, sr, sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


def nonfinite(array: np.ndarray, unit: str = "value") -> str | None:
    """``"2 NaN values and 1 inf value"`` for an array holding non-finite numbers, else None:
    the start of the error that names a corrupt input (transcribe, vocode)."""
    found = [
        f"{n} {kind} {unit}{'s' if n != 1 else ''}"
        for n, kind in ((int(np.isnan(array).sum()), "NaN"), (int(np.isinf(array).sum()), "inf"))
        if n
    ]
    return " and ".join(found) or None


def save_audio(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono waveform; the format follows the suffix (.wav 16-bit PCM, .flac 16-bit, .ogg vorbis)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    subtype = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS"}.get(suffix)
    sf.write(str(path), np.asarray(wave, dtype=np.float32), sample_rate, subtype=subtype)
