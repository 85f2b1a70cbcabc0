"""Log-mel spectrograms computed in batch on the training device (torch.stft).

Ours rather than torchaudio's (no CPU build here, maintenance mode) or librosa's (numpy, one item
at a time on the CPU); the mel filterbank is librosa's slaney one, checked against it in the tests.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping

import torch
from torch import nn

# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freqs: torch.Tensor) -> torch.Tensor:
    """Slaney mel value of each frequency in Hz (same shape)."""
    linear = freqs / _F_SP
    log = _MIN_LOG_MEL + torch.log(freqs.clamp_min(_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(freqs >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    """Frequency in Hz of each slaney mel value (same shape); inverse of `hz_to_mel`."""
    linear = mels * _F_SP
    log = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (mels - _MIN_LOG_MEL))
    return torch.where(mels >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Triangular mel filters on the slaney scale with slaney (constant area) normalisation.

    Equal to ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney")``.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size; the filters cover its ``n_fft // 2 + 1`` bins.
        n_mels: number of mel bands.
        f_min, f_max: lowest and highest frequency in Hz (``f_max`` defaults to Nyquist).
        dtype: dtype of the result (computed in float64).

    Returns:
        ``(n_mels, n_fft // 2 + 1)`` filter weights.
    """
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"mel_filterbank: need 0 <= f_min < f_max <= sample_rate / 2, got f_min={f_min}, "
            f"f_max={f_max}, sample_rate={sample_rate}; lower f_max or raise the sample rate"
        )
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (K,)
    mel_min, mel_max = hz_to_mel(torch.tensor([float(f_min), f_max], dtype=torch.float64))
    # n_mels + 2 edges: band m rises from edge m to its peak at m + 1 and falls to m + 2.
    edges = mel_to_hz(torch.linspace(mel_min, mel_max, n_mels + 2, dtype=torch.float64))
    widths = edges.diff()  # (n_mels + 1,)
    ramps = edges[:, None] - fft_freqs[None, :]  # (n_mels + 2, K)
    rising = -ramps[:-2] / widths[:-1, None]  # (n_mels, K)
    falling = ramps[2:] / widths[1:, None]  # (n_mels, K)
    weights = torch.minimum(rising, falling).clamp_min(0.0)
    # Slaney normalisation: each triangle has the same area, so the energy per band is comparable.
    weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.to(dtype)


def frame_settings(features: Mapping, sample_rate: int) -> dict:
    """:class:`LogMelSpectrogram`'s keyword arguments from a ``features`` config section.

    The window and hop are given in milliseconds (``win_ms``, ``hop_ms``: 25 and 10 by default),
    so a recipe keeps its frame rate at any ``data.sample_rate``; ``n_fft`` null (or absent) is the
    next power of two >= the window. Configs saved before (``win_length``, ``hop_length`` and
    ``n_fft`` in samples) are read as they are: old checkpoints give the same features.

    Args:
        features: the config section (plain mapping or DictConfig); other keys pass through.
        sample_rate: the model's sample rate in Hz.

    Returns:
        keyword arguments with ``win_length``, ``hop_length`` and ``n_fft`` in samples.

    Raises:
        ValueError: both units given, or a window/hop under one sample; the message names the keys.
    """
    kwargs = {k: v for k, v in dict(features).items() if k not in ("win_ms", "hop_ms")}
    in_ms = {k: features.get(k) for k in ("win_ms", "hop_ms") if features.get(k) is not None}
    in_samples = {
        k: features.get(k) for k in ("win_length", "hop_length") if features.get(k) is not None
    }
    if in_ms and in_samples:
        both = ", ".join(f"features.{k}={v}" for k, v in {**in_ms, **in_samples}.items())
        raise ValueError(
            f"{both}: give the window and hop in milliseconds (features.win_ms, features.hop_ms) "
            "or in samples (features.win_length, features.hop_length), not both: set one pair "
            "to null (e.g. features.win_ms=null features.hop_ms=null)"
        )
    if not in_samples:  # milliseconds (the default)
        for key, name, default in (("win_length", "win_ms", 25.0), ("hop_length", "hop_ms", 10.0)):
            ms = default if features.get(name) is None else float(features.get(name))
            samples = round(ms * sample_rate / 1000)
            if samples < 1:
                raise ValueError(
                    f"features.{name}={ms} is under one sample at {sample_rate} Hz; give at "
                    f"least {1000 / sample_rate:.3g} ms"
                )
            kwargs[key] = samples
    elif len(in_samples) < 2:
        given, missing = (
            next(iter(in_samples)),
            ({"win_length", "hop_length"} - set(in_samples)).pop(),
        )
        raise ValueError(
            f"features.{given} is in samples but features.{missing} is not given; give both in "
            "samples, or features.win_ms and features.hop_ms instead"
        )
    if kwargs.get("n_fft") is None:  # the next power of two that holds the window
        kwargs["n_fft"] = 1 << max(0, int(kwargs["win_length"]) - 1).bit_length()
    elif int(kwargs["n_fft"]) < int(kwargs["win_length"]):
        raise ValueError(
            f"features.n_fft={kwargs['n_fft']} is shorter than the window "
            f"({kwargs['win_length']} samples at {sample_rate} Hz); set features.n_fft=null "
            "(the next power of two) or a larger value"
        )
    return kwargs


class LogMelSpectrogram(nn.Module):
    """Batched log-mel spectrogram with optional mean/variance normalisation.

    Frames use a periodic hann window of ``win_length`` centred in ``n_fft``; with ``center=True``
    the wave is zero-padded by ``n_fft // 2`` on both sides (librosa's default ``pad_mode="constant"``).
    Zero padding, unlike torch.stft's default reflection, makes every valid frame of a padded
    batch item equal to the frame of the item on its own: the batch never changes the features.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size (``n_fft // 2 + 1`` frequency bins).
        win_length: window length in samples (<= n_fft); 400 = 25 ms at 16 kHz.
        hop_length: frame shift in samples; 160 = 10 ms at 16 kHz.
        n_mels: number of mel bands.
        f_min, f_max: mel filterbank range in Hz (``f_max`` defaults to Nyquist).
        power: exponent of the magnitude (2.0 = power spectrum, 1.0 = magnitude).
        log_floor: mel energies are clamped to at least this before the natural log.
        center: pad so that frame ``t`` is centred on sample ``t * hop_length``.
        normalize: ``"utterance"`` (per utterance and mel bin, over its valid frames),
            ``"global"`` (fixed mean/std from `set_global_stats`) or ``None``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 2.0,
        log_floor: float = 1e-10,
        center: bool = True,
        normalize: str | None = "utterance",
    ) -> None:
        super().__init__()
        if normalize not in ("utterance", "global", None):
            raise ValueError(
                f"LogMelSpectrogram: normalize={normalize!r}; use 'utterance', 'global' or None"
            )
        if win_length > n_fft:
            raise ValueError(f"LogMelSpectrogram: win_length={win_length} > n_fft={n_fft}")
        self.sample_rate, self.n_fft, self.win_length = sample_rate, n_fft, win_length
        self.hop_length, self.n_mels, self.power = hop_length, n_mels, power
        self.log_floor, self.center, self.normalize = log_floor, center, normalize
        self.f_min, self.f_max = f_min, f_max
        # Derived from the arguments, so not saved in checkpoints (persistent=False).
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        fbank = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("mel_fbank", fbank, persistent=False)  # (n_mels, n_fft // 2 + 1)
        # Global statistics are data, so they are saved with the model.
        self.register_buffer("global_mean", torch.zeros(n_mels))
        self.register_buffer("global_std", torch.ones(n_mels))
        self.register_buffer("global_stats_set", torch.tensor(False))
        # (mean, std) that replace each input's own statistics inside fixed_stats(); not saved
        self._fixed_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def from_config(cls, features: Mapping, sample_rate: int, **changes) -> LogMelSpectrogram:
        """Build from a ``features`` config section (window and hop in ms or, in configs saved
        before, in samples; see :func:`frame_settings`); ``changes`` override its keys."""
        return cls(
            sample_rate=sample_rate, **frame_settings({**dict(features), **changes}, sample_rate)
        )

    def set_global_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Fix the ``(n_mels,)`` mean and std used by ``normalize="global"``."""
        if mean.shape != (self.n_mels,) or std.shape != (self.n_mels,):
            raise ValueError(
                f"set_global_stats: mean and std must have shape ({self.n_mels},), got "
                f"{tuple(mean.shape)} and {tuple(std.shape)}"
            )
        self.global_mean.copy_(mean)
        self.global_std.copy_(std.clamp_min(1e-5))
        self.global_stats_set.fill_(True)

    @contextlib.contextmanager
    def fixed_stats(self, mean: torch.Tensor, std: torch.Tensor) -> Iterator[None]:
        """Inside the block, ``normalize="utterance"`` uses this ``(n_mels,)`` mean and std
        instead of each input's own: the whole recording's statistics for its windows (long-audio
        transcription), so every window is normalised as the whole file would be."""
        self._fixed_stats = (mean, std.clamp_min(1e-5))
        try:
            yield
        finally:
            self._fixed_stats = None

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Number of valid frames ``(B,)`` for sample lengths ``(B,)``."""
        if self.center:
            return 1 + torch.div(lengths, self.hop_length, rounding_mode="floor")
        return (1 + torch.div(lengths - self.n_fft, self.hop_length, rounding_mode="floor")).clamp(
            min=0
        )

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mel features of a padded batch.

        Args:
            wave: ``(B, T)`` waveforms, zero or garbage beyond each length.
            lengths: ``(B,)`` valid samples per item (defaults to ``T`` for all).

        Returns:
            ``feats (B, F, n_mels)`` float32 (float64 for float64 input), zero beyond each item's
            valid frames, with ``F = 1 + T // hop_length`` when centred; ``frame_lengths (B,)`` long.
        """
        if wave.dim() != 2:
            raise ValueError(f"LogMelSpectrogram: wave must be (B, T), got {tuple(wave.shape)}")
        batch, n_samples = wave.shape
        if lengths is None:
            lengths = torch.full((batch,), n_samples, dtype=torch.long, device=wave.device)
        # The STFT and the log need float32 at least: half precision loses the quiet bins.
        dtype = torch.float64 if wave.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=wave.device.type, enabled=False):
            # Zero padding when centred (see the class docstring); torch.stft would reflect.
            pad = self.n_fft // 2 if self.center else 0
            if pad:
                wave = nn.functional.pad(wave.to(dtype), (pad, pad))  # a copy: masked in place
            else:
                wave = wave.to(dtype, copy=True)  # never write into the caller's tensor
            samples = torch.arange(wave.shape[1], device=wave.device) - pad
            wave.masked_fill_(samples[None, :] >= lengths[:, None], 0.0)
            window, mel_fbank = self._window_and_fbank(dtype)
            spec = torch.stft(
                wave,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=window,
                center=False,
                return_complex=True,
            )  # (B, K, F)
            spec = spec.abs().pow(self.power) if self.power != 2.0 else _power(spec)
            mel = torch.matmul(spec.transpose(1, 2), mel_fbank.T)  # (B, F, n_mels)
            feats = mel.clamp_min(self.log_floor).log()
            frame_lengths = self.frame_lengths(lengths)
            valid = (
                torch.arange(feats.shape[1], device=feats.device)[None, :] < frame_lengths[:, None]
            )[..., None]  # (B, F, 1)
            feats = self._normalize(feats, valid, frame_lengths)
            feats = feats.masked_fill(~valid, 0.0)
        return feats, frame_lengths

    def _window_and_fbank(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The window and filterbank in ``dtype``, rebuilt when the buffers are less precise.

        A float32 window limits quiet mel bins to ~1e-4 relative precision, so float64 input (the
        reference path in the tests) gets float64 ones; ``module.half()`` must not degrade them.
        """
        if self.window.dtype == dtype and self.mel_fbank.dtype == dtype:
            return self.window, self.mel_fbank
        device = self.window.device
        window = torch.hann_window(self.win_length, dtype=dtype, device=device)
        fbank = mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max, dtype=dtype
        )
        return window, fbank.to(device)

    def _normalize(
        self, feats: torch.Tensor, valid: torch.Tensor, frame_lengths: torch.Tensor
    ) -> torch.Tensor:
        """Apply the chosen normalisation to ``feats (B, F, n_mels)`` with ``valid (B, F, 1)``."""
        fixed = self._fixed_stats
        if self.normalize == "utterance" and fixed is not None:
            mean, std = (t.to(device=feats.device, dtype=feats.dtype) for t in fixed)
            return (feats - mean) / std
        if self.normalize == "utterance":
            count = frame_lengths.clamp_min(1).to(feats.dtype)[:, None, None]  # (B, 1, 1)
            masked = feats.masked_fill(~valid, 0.0)
            mean = masked.sum(dim=1, keepdim=True) / count  # (B, 1, n_mels)
            centred = (feats - mean).masked_fill(~valid, 0.0)
            var = centred.pow(2).sum(dim=1, keepdim=True) / count
            return centred / var.sqrt().clamp_min(1e-5)
        if self.normalize == "global":
            if not bool(self.global_stats_set):
                raise RuntimeError(
                    "LogMelSpectrogram(normalize='global') has no statistics yet: compute them "
                    "with compute_global_stats over unnormalised features and call set_global_stats"
                )
            return (feats - self.global_mean.to(feats.dtype)) / self.global_std.to(feats.dtype)
        return feats


def _power(spec: torch.Tensor) -> torch.Tensor:
    """``|spec|**2`` without the square root of ``abs``."""
    return spec.real.square() + spec.imag.square()


@torch.no_grad()
def compute_global_stats(
    feature_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std per mel bin over the valid frames of unnormalised features.

    Args:
        feature_batches: iterable of ``(feats (B, F, n_mels), frame_lengths (B,))``, e.g. from
            ``LogMelSpectrogram(normalize=None)`` over the training set.

    Returns:
        ``(mean, std)``, each ``(n_mels,)`` float32 on the device of the features.
    """
    total = sum_sq = None
    count = 0
    for feats, frame_lengths in feature_batches:
        valid = torch.arange(feats.shape[1], device=feats.device)[None, :] < frame_lengths[:, None]
        frames = feats[valid].double()  # (N, n_mels)
        # Accumulate in float64: a long corpus of float32 sums loses the small variance terms.
        total = frames.sum(0) if total is None else total + frames.sum(0)
        sum_sq = frames.square().sum(0) if sum_sq is None else sum_sq + frames.square().sum(0)
        count += frames.shape[0]
    if total is None or count == 0:
        raise ValueError("compute_global_stats: no valid frames in feature_batches")
    mean = total / count
    std = (sum_sq / count - mean.square()).clamp_min(0.0).sqrt()
    return mean.float(), std.float()
