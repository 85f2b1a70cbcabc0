"""Augmentations applied per utterance to padded batches on the training device.

Ours rather than torch-audiomentations/audiomentations: those draw from numpy or python ``random``
(outside the engine's RNG checkpoints) or work one item at a time on the CPU. Every random number
here comes from the global torch RNG on the batch's device, drawn for the whole batch in a fixed
order, so a resumed run replays the same augmentations. Padded samples and frames stay zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import torch
from torch import nn

from seqlab.audio.features import hz_to_mel, mel_to_hz
from seqlab.audio.resample import resample


def _valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, size)`` bool, True where the index is below each item's length."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def _with_energy_of(wave: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``wave (B, T)`` scaled per row to the energy (so the RMS) of ``reference (B, T)``."""
    scale = reference.square().sum(1).sqrt() / wave.square().sum(1).sqrt().clamp_min(1e-12)
    return wave * scale[:, None]


def _chosen(p: float, batch: int, device: torch.device) -> torch.Tensor:
    """``(B,)`` bool: which utterances get the augmentation, each with probability ``p``."""
    return torch.rand(batch, device=device) < p


class Gain(nn.Module):
    """Multiply each chosen utterance by a gain drawn uniformly in decibels.

    Args:
        p: probability per utterance.
        min_gain_db, max_gain_db: gain range in dB (amplitude factor ``10 ** (dB / 20)``).
    """

    def __init__(self, p: float = 0.5, min_gain_db: float = -6.0, max_gain_db: float = 6.0) -> None:
        super().__init__()
        self.p, self.min_gain_db, self.max_gain_db = p, min_gain_db, max_gain_db

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> the same shapes; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        batch = wave.shape[0]
        chosen = _chosen(self.p, batch, wave.device)
        gain_db = torch.empty(batch, device=wave.device).uniform_(
            self.min_gain_db, self.max_gain_db
        )
        factor = torch.where(chosen, 10.0 ** (gain_db / 20.0), torch.ones_like(gain_db))
        return wave * factor.to(wave.dtype)[:, None], lengths


class PolarityInversion(nn.Module):
    """Negate each chosen utterance (``p`` per utterance)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> the same shapes; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        chosen = _chosen(self.p, wave.shape[0], wave.device)
        sign = 1.0 - 2.0 * chosen.to(wave.dtype)  # -1 where chosen
        return wave * sign[:, None], lengths


class ColoredNoise(nn.Module):
    """Add noise with power spectrum ``1 / f ** f_decay`` at an SNR drawn uniformly in dB.

    ``f_decay`` is 0 for white, 1 pink, 2 brown, -1 blue, -2 violet noise. The SNR is relative
    to the power of each utterance's valid samples; silent utterances get no noise.

    Args:
        p: probability per utterance.
        min_snr_db, max_snr_db: signal-to-noise ratio range in dB.
        min_f_decay, max_f_decay: range of the spectral exponent, drawn uniformly.
    """

    def __init__(
        self,
        p: float = 0.5,
        min_snr_db: float = 10.0,
        max_snr_db: float = 30.0,
        min_f_decay: float = -2.0,
        max_f_decay: float = 2.0,
    ) -> None:
        super().__init__()
        self.p, self.min_snr_db, self.max_snr_db = p, min_snr_db, max_snr_db
        self.min_f_decay, self.max_f_decay = min_f_decay, max_f_decay

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> the same shapes; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        batch, n_samples = wave.shape
        device = wave.device
        chosen = _chosen(self.p, batch, device)
        snr_db = torch.empty(batch, device=device).uniform_(self.min_snr_db, self.max_snr_db)
        f_decay = torch.empty(batch, device=device).uniform_(self.min_f_decay, self.max_f_decay)
        compute = torch.promote_types(wave.dtype, torch.float32)  # float32, or float64 input
        white = torch.randn(batch, n_samples, device=device, dtype=compute)  # (B, T)
        # Shape white noise in frequency: amplitude ~ f ** (-decay / 2) gives power ~ 1 / f ** decay.
        spectrum = torch.fft.rfft(white)  # (B, K)
        bins = torch.arange(spectrum.shape[1], device=device, dtype=compute)
        amplitude = bins.clamp_min(1.0)[None, :] ** (-f_decay.to(compute)[:, None] / 2)  # (B, K)
        amplitude[:, 0] = 0.0  # no DC offset
        noise = torch.fft.irfft(spectrum * amplitude, n=n_samples)  # (B, T)
        valid = _valid_mask(lengths, n_samples)
        noise = noise.masked_fill(~valid, 0.0)
        signal = wave.to(compute).masked_fill(~valid, 0.0)
        signal_power = signal.square().sum(1)  # (B,), both over the same valid samples
        noise_power = noise.square().sum(1)
        target_noise_power = signal_power / 10.0 ** (snr_db.to(compute) / 10.0)
        scale = (target_noise_power / noise_power.clamp_min(1e-20)).sqrt()
        scale = torch.where(chosen, scale, torch.zeros_like(scale))
        return (signal + noise * scale[:, None]).to(wave.dtype), lengths


class RandomEQ(nn.Module):
    """Filter each chosen utterance with a smooth random equaliser curve (a microphone's colour).

    The gain in dB over frequency is ``sum_k a_k cos(pi k u)`` for ``k = 1..n_bands`` with ``u`` the
    frequency on the mel scale from 0 (DC) to 1 (Nyquist) and ``a_k`` uniform in
    ``[-max_gain_db / k, max_gain_db / k]``: broad tilts and a few bumps, no narrow notches.
    Applied in the frequency domain with zero padding (no wrap-around); the utterance's RMS is kept.

    Args:
        sample_rate: the audio's rate in Hz (places the mel scale).
        p: probability per utterance.
        max_gain_db: bound on the first (broadest) term's amplitude in dB.
        n_bands: number of cosine terms (more: finer detail in the curve).
    """

    def __init__(
        self, sample_rate: int, p: float = 0.5, max_gain_db: float = 10.0, n_bands: int = 4
    ) -> None:
        super().__init__()
        if n_bands < 1 or sample_rate <= 0:
            raise ValueError(
                f"RandomEQ: need n_bands >= 1 and sample_rate > 0, got {n_bands}, {sample_rate}"
            )
        self.sample_rate, self.p = int(sample_rate), p
        self.max_gain_db, self.n_bands = max_gain_db, n_bands

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> the same shapes; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        batch, n_samples = wave.shape
        device = wave.device
        chosen = _chosen(self.p, batch, device)
        k = torch.arange(1, self.n_bands + 1, device=device, dtype=torch.float32)
        amplitude = torch.empty(batch, self.n_bands, device=device).uniform_(-1.0, 1.0)
        amplitude = amplitude * self.max_gain_db / k  # (B, K) in dB
        compute = torch.promote_types(wave.dtype, torch.float32)
        valid = _valid_mask(lengths, n_samples)
        signal = wave.to(compute).masked_fill(~valid, 0.0)
        spectrum = torch.fft.rfft(
            signal, n=2 * n_samples
        )  # (B, n_samples + 1): linear, not circular
        mel = hz_to_mel(torch.linspace(0.0, self.sample_rate / 2, spectrum.shape[1], device=device))
        u = (mel / mel[-1]).to(compute)  # 0..1 on a mel scale of 0..Nyquist
        gain_db = (
            amplitude.to(compute)[:, :, None] * torch.cos(torch.pi * k.to(compute)[:, None] * u)
        ).sum(1)
        filtered = torch.fft.irfft(spectrum * 10.0 ** (gain_db / 20.0), n=2 * n_samples)[
            :, :n_samples
        ]
        filtered = filtered.masked_fill(~valid, 0.0)
        filtered = _with_energy_of(filtered, signal)
        out = torch.where(chosen[:, None], filtered, signal)
        return out.to(wave.dtype), lengths


class Reverb(nn.Module):
    """Convolve each chosen utterance with a synthetic room impulse response.

    The response is a unit direct path followed by exponentially decaying Gaussian noise
    (reverberation time ``rt60``: the tail falls by 60 dB in that many seconds), whose energy is
    ``drr_db`` below the direct path's. The output keeps each utterance's length (the tail past
    its end is cut: the recordings are clips) and RMS.

    Args:
        sample_rate: the audio's rate in Hz (to express times in seconds).
        p: probability per utterance.
        min_rt60, max_rt60: reverberation time range in seconds.
        min_drr_db, max_drr_db: direct-to-reverberant energy ratio range in dB.
    """

    def __init__(
        self,
        sample_rate: int,
        p: float = 0.3,
        min_rt60: float = 0.1,
        max_rt60: float = 0.5,
        min_drr_db: float = 0.0,
        max_drr_db: float = 15.0,
    ) -> None:
        super().__init__()
        if sample_rate <= 0 or not 0 < min_rt60 <= max_rt60:
            raise ValueError(
                f"Reverb: need sample_rate > 0 and 0 < min_rt60 <= max_rt60, got "
                f"{sample_rate}, {min_rt60}, {max_rt60}"
            )
        self.sample_rate, self.p = int(sample_rate), p
        self.min_rt60, self.max_rt60 = min_rt60, max_rt60
        self.min_drr_db, self.max_drr_db = min_drr_db, max_drr_db

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> the same shapes; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        batch, n_samples = wave.shape
        device = wave.device
        chosen = _chosen(self.p, batch, device)
        rt60 = torch.empty(batch, device=device).uniform_(self.min_rt60, self.max_rt60)
        drr_db = torch.empty(batch, device=device).uniform_(self.min_drr_db, self.max_drr_db)
        compute = torch.promote_types(wave.dtype, torch.float32)
        taps = min(
            n_samples, int(self.max_rt60 * self.sample_rate)
        )  # longer tails fall off the clip
        tail = torch.randn(batch, taps, device=device, dtype=compute)
        t = torch.arange(1, taps + 1, device=device, dtype=compute)[None, :] / self.sample_rate
        tail = tail * torch.exp(-6.9078 * t / rt60.to(compute)[:, None])  # 60 dB = e^-6.9078
        tail_energy = tail.square().sum(1).clamp_min(1e-20)
        tail = tail * (10.0 ** (-drr_db.to(compute) / 10.0) / tail_energy).sqrt()[:, None]
        response = torch.cat([torch.ones(batch, 1, device=device, dtype=compute), tail], 1)
        valid = _valid_mask(lengths, n_samples)
        signal = wave.to(compute).masked_fill(~valid, 0.0)
        n_fft = n_samples + response.shape[1]
        wet = torch.fft.irfft(
            torch.fft.rfft(signal, n=n_fft) * torch.fft.rfft(response, n=n_fft), n=n_fft
        )[:, :n_samples]
        wet = wet.masked_fill(~valid, 0.0)
        wet = _with_energy_of(wet, signal)
        out = torch.where(chosen[:, None], wet, signal)
        return out.to(wave.dtype), lengths


class SpeedPerturb(nn.Module):
    """Play each chosen utterance faster or slower (pitch changes too, as in Kaldi's recipe).

    A factor ``f`` resamples the utterance by ``1 / f``: its length becomes ``ceil(L / f)``.
    Chosen utterances are grouped by factor so each factor costs one batched resampling.

    Args:
        p: probability per utterance.
        factors: speeds to draw from, uniformly (e.g. ``(0.9, 1.1)``; 1.0 may be included).
    """

    def __init__(self, p: float = 0.5, factors: Sequence[float] = (0.9, 1.1)) -> None:
        super().__init__()
        if len(factors) == 0 or any(f <= 0 for f in factors):
            raise ValueError(f"SpeedPerturb: factors must be positive and non-empty, got {factors}")
        self.p = p
        self.factors = [float(f) for f in factors]
        # Resampling needs integer rates: factor = orig / new, e.g. 0.9 = 9 / 10.
        self._ratios = [Fraction(f).limit_denominator(100) for f in self.factors]

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave (B, T), lengths (B,)`` -> ``wave (B, T'), lengths (B,)`` with
        ``T' = max(new lengths)``; identity in eval mode."""
        if not self.training or self.p <= 0:
            return wave, lengths
        batch, n_samples = wave.shape
        device = wave.device
        chosen = _chosen(self.p, batch, device)
        which = torch.randint(len(self.factors), (batch,), device=device)
        which = torch.where(chosen, which, torch.full_like(which, -1))  # -1: unchanged
        new_lengths = lengths.clone()
        for index, ratio in enumerate(self._ratios):
            rows = which == index
            new_lengths[rows] = torch.div(
                lengths[rows] * ratio.denominator + ratio.numerator - 1,
                ratio.numerator,
                rounding_mode="floor",
            )  # ceil(L * new / orig) without float rounding
        out_samples = int(new_lengths.max()) if batch else n_samples
        out = torch.zeros(batch, out_samples, dtype=wave.dtype, device=device)
        keep = (which == -1).nonzero().squeeze(1)
        width = min(n_samples, out_samples)
        out[keep, :width] = wave[keep, :width]
        for index, ratio in enumerate(self._ratios):
            rows = (which == index).nonzero().squeeze(1)
            if rows.numel() == 0 or ratio == 1:
                out[rows, :width] = wave[rows, :width]
                continue
            moved = resample(wave[rows], ratio.numerator, ratio.denominator)  # (n, T * new / orig)
            width_moved = min(moved.shape[1], out_samples)
            out[rows, :width_moved] = moved[:, :width_moved]
        # The filter's tail rings past each new end; padding must stay zero.
        out = out.masked_fill(~_valid_mask(new_lengths, out_samples), 0.0)
        return out, new_lengths


class SpecAugment(nn.Module):
    """Zero random frequency bands and time spans of normalised features (0 is their mean).

    Defaults follow the LibriSpeech "LD" policy of Park et al. (2019): two frequency masks up to
    27 mel bins wide (of 80) and two time masks, each at most ``time_mask_width`` frames and at most
    ``max_time_fraction`` of the utterance's valid frames, so short utterances keep most of their
    frames. Masks lie inside the valid frames; widths are uniform in ``[0, max]``.

    Args:
        p: probability per utterance (recipes often use 1.0).
        n_freq_masks, freq_mask_width: number and maximal width of frequency masks.
        n_time_masks, time_mask_width: number and maximal width of time masks.
        max_time_fraction: cap on each time mask's width as a fraction of the valid frames.
    """

    def __init__(
        self,
        p: float = 0.5,
        n_freq_masks: int = 2,
        freq_mask_width: int = 27,
        n_time_masks: int = 2,
        time_mask_width: int = 40,
        max_time_fraction: float = 0.05,
    ) -> None:
        super().__init__()
        self.p, self.n_freq_masks, self.freq_mask_width = p, n_freq_masks, freq_mask_width
        self.n_time_masks, self.time_mask_width = n_time_masks, time_mask_width
        self.max_time_fraction = max_time_fraction

    def forward(
        self, feats: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``feats (B, F, n_mels), frame_lengths (B,)`` -> the same; identity in eval mode."""
        if not self.training or self.p <= 0:
            return feats, frame_lengths
        batch, n_frames, n_mels = feats.shape
        device = feats.device
        chosen = _chosen(self.p, batch, device)
        n_bins = torch.full((batch,), n_mels, device=device)
        freq_masked = self._spans(
            self.n_freq_masks, n_bins, torch.full_like(n_bins, self.freq_mask_width), n_mels
        )  # (B, n_mels)
        max_time = torch.minimum(
            torch.full_like(frame_lengths, self.time_mask_width),
            (frame_lengths.float() * self.max_time_fraction).floor().long(),
        )
        time_masked = self._spans(self.n_time_masks, frame_lengths, max_time, n_frames)  # (B, F)
        valid = _valid_mask(frame_lengths, n_frames)  # (B, F)
        masked = (time_masked[:, :, None] | freq_masked[:, None, :]) & valid[:, :, None]
        masked = masked & chosen[:, None, None]  # (B, F, n_mels)
        return feats.masked_fill(masked, 0.0), frame_lengths

    @staticmethod
    def _spans(
        n_masks: int, extent: torch.Tensor, max_width: torch.Tensor, size: int
    ) -> torch.Tensor:
        """``(B, size)`` bool union of ``n_masks`` random spans inside ``[0, extent)`` per row."""
        batch = extent.shape[0]
        device = extent.device
        positions = torch.arange(size, device=device)[None, :]
        masked = torch.zeros(batch, size, dtype=torch.bool, device=device)
        max_width = torch.minimum(max_width, extent).clamp_min(0)
        for _ in range(n_masks):
            width = (torch.rand(batch, device=device) * (max_width + 1)).floor().long()
            width = torch.minimum(width, max_width)
            start = (torch.rand(batch, device=device) * (extent - width + 1)).floor().long()
            start = torch.minimum(start, (extent - width).clamp_min(0))
            span = (positions >= start[:, None]) & (positions < (start + width)[:, None])
            masked |= span
        return masked


class VTLP(nn.Module):
    """Vocal-tract-length perturbation: warp each chosen utterance's mel axis by a factor.

    Jaitly and Hinton's (2013) piecewise-linear warp of frequency, ``f -> alpha * f`` up to a
    boundary and then a straight line to ``f_max``, so the band keeps its ends. A factor above 1
    moves formants up (a shorter vocal tract), below 1 down, without changing pitch or duration
    (speed perturbation changes all three together). Applied to log-mel features: mel band ``i``
    of the output takes the (linearly interpolated) value of the input at the band whose centre
    frequency warps onto band ``i``'s centre. The mel scale is the front end's (slaney, as in
    :func:`seqlab.audio.features.mel_filterbank`), so give it the features' sample rate and range.

    Args:
        p: probability per utterance.
        min_warp, max_warp: warp factor range, drawn uniformly per utterance.
        boundary: fraction of ``f_max`` below which ``f -> alpha * f`` (for ``alpha <= 1``; for
            larger factors the straight part ends at ``boundary * f_max / alpha``).
        sample_rate: audio sample rate in Hz; ``f_max`` defaults to its Nyquist frequency.
        f_min, f_max: the mel filterbank's range in Hz, as in the features.
    """

    def __init__(
        self,
        p: float = 0.5,
        min_warp: float = 0.9,
        max_warp: float = 1.1,
        boundary: float = 0.8,
        sample_rate: int = 16000,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> None:
        super().__init__()
        if not 0 < min_warp <= max_warp:
            raise ValueError(f"VTLP: need 0 < min_warp <= max_warp, got {min_warp}, {max_warp}")
        if not 0 < boundary < 1:
            raise ValueError(f"VTLP: boundary must lie in (0, 1), got {boundary}")
        self.p, self.min_warp, self.max_warp, self.boundary = p, min_warp, max_warp, boundary
        self.f_min = float(f_min)
        self.f_max = sample_rate / 2 if f_max is None else float(f_max)

    def source_bins(self, alpha: torch.Tensor, n_mels: int) -> torch.Tensor:
        """``(B, n_mels)`` fractional input band read by each output band, for factors ``(B,)``."""
        dtype = torch.float64
        mel_min, mel_max = hz_to_mel(torch.tensor([self.f_min, self.f_max], dtype=dtype))
        step = (mel_max - mel_min) / (n_mels + 1)  # band i peaks at mel_min + (i + 1) * step
        centres = mel_to_hz(mel_min + step * torch.arange(1, n_mels + 1, dtype=dtype))
        centres = centres.to(alpha.device)[None, :]  # (1, n_mels) output frequencies f'
        alpha = alpha.to(dtype)[:, None]  # (B, 1)
        top = self.f_max
        knee = self.boundary * top * alpha.clamp(max=1.0) / alpha  # input frequency of the knee
        # Invert the warp: the input frequency f that lands on each output frequency f'.
        straight = centres / alpha
        tail = top - (top - centres) * (top - knee) / (top - alpha * knee)
        source = torch.where(centres <= alpha * knee, straight, tail).clamp(self.f_min, top)
        return ((hz_to_mel(source) - mel_min) / step - 1.0).to(torch.float32)  # (B, n_mels)

    def forward(
        self, feats: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``feats (B, F, n_mels), frame_lengths (B,)`` -> the same; identity in eval mode."""
        if not self.training or self.p <= 0:
            return feats, frame_lengths
        batch, n_frames, n_mels = feats.shape
        device = feats.device
        chosen = _chosen(self.p, batch, device)
        alpha = torch.empty(batch, device=device).uniform_(self.min_warp, self.max_warp)
        alpha = torch.where(chosen, alpha, torch.ones_like(alpha))
        position = self.source_bins(alpha, n_mels).clamp(0, n_mels - 1)  # (B, n_mels)
        low = position.floor().long().clamp(max=n_mels - 2) if n_mels > 1 else position.long()
        high = (low + 1).clamp(max=n_mels - 1)
        weight = (position - low).to(feats.dtype)[:, None, :]  # (B, 1, n_mels)
        index = (low[:, None, :].expand(batch, n_frames, n_mels), high[:, None, :])
        below = feats.gather(2, index[0])
        above = feats.gather(2, index[1].expand(batch, n_frames, n_mels))
        warped = below + weight * (above - below)  # padded frames: 0 + w * 0 stays 0
        return torch.where(chosen[:, None, None], warped, feats), frame_lengths


class AugmentPipeline(nn.Module):
    """Wave and feature augmentations in order, active only in training mode.

    Args:
        wave: modules ``(wave (B, T), lengths (B,)) -> (wave (B, T'), lengths (B,))``.
        spec: modules ``(feats (B, F, n_mels), frame_lengths (B,)) -> the same``.
    """

    def __init__(self, wave: Sequence[nn.Module] = (), spec: Sequence[nn.Module] = ()) -> None:
        super().__init__()
        # list(): Hydra passes a ListConfig of instantiated modules.
        self.wave = nn.ModuleList(list(wave))
        self.spec = nn.ModuleList(list(spec))

    def apply_wave(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the wave augmentations on ``wave (B, T), lengths (B,)``; identity in eval mode."""
        if self.training:
            for augmentation in self.wave:
                wave, lengths = augmentation(wave, lengths)
        return wave, lengths

    def apply_spec(
        self, feats: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the feature augmentations on ``feats (B, F, n_mels)``; identity in eval mode."""
        if self.training:
            for augmentation in self.spec:
                feats, frame_lengths = augmentation(feats, frame_lengths)
        return feats, frame_lengths


__all__ = [
    "AugmentPipeline",
    "ColoredNoise",
    "Gain",
    "PolarityInversion",
    "RandomEQ",
    "Reverb",
    "SpecAugment",
    "SpeedPerturb",
    "VTLP",
]
