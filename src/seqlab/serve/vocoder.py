"""A served vocoder: a wav/flac/ogg (copy-synthesis) or ``.npy`` mel upload -> a wave, as
``seqlab vocode`` makes it (seqlab/serve/models.py holds what every kind shares)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from seqlab.serve.models import AUDIO_SUFFIXES, InputError, ServedModel, client_named


class ServedVocoder(ServedModel):
    """A vocoder: a wav/flac/ogg file (copy-synthesis) or a ``.npy`` log-mel ``[n_mels, frames]``
    -> a wave, as ``seqlab vocode`` makes it.

    Requests are batched only with others of the same number of mel frames, as
    ``Vocoder.vocode`` runs them anyway (a padded item's last samples would differ by ~1e-5 from
    its one-at-a-time output); keying the batches by length keeps each batch one forward."""

    kind = "vocoder"

    def info(self) -> dict:
        return {**super().info(), "sample_rate": self.model.sample_rate}

    def check(self, path: str | Path, label: str) -> np.ndarray:
        """The log-mel ``(n_mels, frames)`` of an uploaded file (the vocoder's own ``as_mel``),
        or an :class:`InputError` naming what is wrong with it."""
        name = Path(path).name.lower()
        if not name.endswith((".npy", *AUDIO_SUFFIXES)):
            raise InputError(
                f"{label}: send a .npy log-mel [{self.model.n_mels}, frames] or a wav/flac/ogg file"
            )
        if not name.endswith(".npy"):
            from seqlab.audio.io import audio_info

            try:
                info = audio_info(path)
            except (RuntimeError, OSError) as err:
                raise InputError(
                    f"{label}: not a readable audio file ({client_named(err, path, label)})"
                ) from err
            self._check_seconds(info.duration, label)
        try:
            mel = self.model.as_mel(path)
        except ValueError as err:
            if str(path) in str(err):  # the vocoder's own message, naming the input
                raise InputError(client_named(err, path, label)) from err
            what = "a .npy array" if name.endswith(".npy") else "audio"
            raise InputError(f"{label}: cannot be read as {what} ({err})") from err
        except Exception as err:  # np.load / soundfile on a corrupt file raise many kinds
            what = "a .npy array" if name.endswith(".npy") else "audio"
            raise InputError(
                f"{label}: cannot be read as {what} ({type(err).__name__}: "
                f"{client_named(err, path, label)})"
            ) from err
        self._check_seconds(mel.shape[1] * self.model.hop_length / self.model.sample_rate, label)
        return mel.cpu().numpy()

    def _check_seconds(self, seconds: float, label: str) -> None:
        if seconds > self.limits.max_audio_seconds:
            raise InputError(
                f"{label}: {seconds:.1f} s of audio is longer than this server's limit of "
                f"{self.limits.max_audio_seconds:g} s (--max-audio-seconds); use `seqlab vocode`",
                status=413,
            )

    def vocode(self, path, label: str) -> dict:
        """Check, queue and vocode one file: ``{"wave": float32 (T,), "sample_rate", ...}``."""
        mel = self.check(path, label)
        return self.submit(mel.shape[1], mel)  # batched only with mels of as many frames

    def _run_batch(self, frames, payloads: list) -> list:
        t0 = time.perf_counter()
        waves = self.model.vocode(list(payloads), batch_size=len(payloads))
        seconds = time.perf_counter() - t0
        return [
            {
                "model": self.name,
                "wave": wave,
                "sample_rate": self.model.sample_rate,
                "batch_size": len(payloads),
                "compute_seconds": round(seconds, 4),
            }
            for wave in waves
        ]
