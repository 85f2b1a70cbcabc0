"""The log-mel spectrogram of the official HiFi-GAN recipe, computed in batch on the device.

HiFi-GAN's generator is conditioned on, and its mel loss is computed with, one particular mel:
reflect padding of ``(n_fft - hop) / 2`` on both sides instead of centring, ``center=False``,
a periodic Hann window, magnitude ``sqrt(re^2 + im^2 + 1e-9)`` (not power), slaney mel filters
and ``log(clamp(mel, 1e-5))``. A vocoder trained on it only works with mels made the same way, so
this is a module of its own rather than options of :class:`seqlab.audio.features.LogMelSpectrogram`
(which zero-pads, centres and uses power); it reuses that module's slaney filterbank.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.audio.features import mel_filterbank

_MAGNITUDE_EPS = (
    1e-9  # added under the square root, as the official recipe does (finite gradient at 0)
)


class HiFiGANMel(nn.Module):
    """Batched log-mel spectrogram exactly as the official HiFi-GAN recipe computes it.

    Args:
        sample_rate: audio sample rate in Hz (22,050 for LJSpeech).
        n_fft: FFT size (``n_fft // 2 + 1`` frequency bins).
        hop_length: frame shift in samples; the generator upsamples by this factor.
        win_length: periodic Hann window length (<= n_fft), centred in the FFT frame.
        n_mels: number of mel bands.
        f_min: lowest filter frequency in Hz.
        f_max: highest filter frequency in Hz; None means Nyquist (the recipe's loss mel).
        log_floor: mel magnitudes are clamped to at least this before the natural log.
        double_precision: compute the STFT, filterbank product and log in float64 and return
            float32 (for float32 input). A float32 FFT has an error of about 1e-7 of the loudest
            bin in every bin, which the log turns into up to ~1.5e-4 in mel bands 70-80 dB below
            the loudest (measured on test signals); in float64 the result is within 1e-7 of the
            exact formula. The cost is small next to the generator (an 8192-sample segment is 32
            FFTs of 1024 points). False: the official code's float32 throughout.
    """

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        log_floor: float = 1e-5,
        double_precision: bool = True,
    ) -> None:
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"HiFiGANMel: win_length={win_length} > n_fft={n_fft}")
        if hop_length > n_fft:
            raise ValueError(f"HiFiGANMel: hop_length={hop_length} > n_fft={n_fft}")
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.win_length, self.n_mels, self.log_floor = win_length, n_mels, log_floor
        self.f_min, self.f_max = f_min, f_max
        self.double_precision = double_precision
        self.pad = (n_fft - hop_length) // 2
        # Derived from the arguments, so not saved in checkpoints; they follow .to(device), and
        # are kept in the working precision (rebuilt per call only if someone casts them).
        dtype = torch.float64 if double_precision else torch.float32
        self.register_buffer("window", torch.hann_window(win_length, dtype=dtype), persistent=False)
        fbank = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, dtype=dtype)  # (M, K)
        self.register_buffer("mel_fbank", fbank, persistent=False)

    def frames(self, num_samples: int) -> int:
        """Mel frames for ``num_samples`` samples: ``num_samples // hop_length`` when it is a
        multiple of the hop (``(T + 2 * pad - n_fft) // hop + 1`` in general)."""
        padded = int(num_samples) + 2 * self.pad
        if padded < self.n_fft:
            return 0
        return (padded - self.n_fft) // self.hop_length + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel of each waveform.

        Args:
            audio: ``(B, T)`` float waveforms in [-1, 1]; ``T`` must exceed the padding
                (reflection needs ``T > (n_fft - hop) // 2``).

        Returns:
            ``(B, n_mels, frames(T))`` float32 log-mel (float64 for float64 input); never in half
            precision, even under autocast (see ``double_precision`` for the working precision).
        """
        if audio.dim() != 2:
            raise ValueError(f"HiFiGANMel: audio must be (B, T), got {tuple(audio.shape)}")
        if audio.shape[1] <= self.pad:
            raise ValueError(
                f"HiFiGANMel: {audio.shape[1]} samples are too few for reflect padding of "
                f"{self.pad}; give at least {self.pad + 1} samples (better: a multiple of "
                f"{self.hop_length})"
            )
        out_dtype = torch.float64 if audio.dtype == torch.float64 else torch.float32
        dtype = torch.float64 if self.double_precision else out_dtype
        # Half precision loses the quiet bins that the log then magnifies: run in fp32 always.
        window, mel_fbank = self._window_and_fbank(dtype)
        with torch.autocast(device_type=audio.device.type, enabled=False):
            wave = nn.functional.pad(
                audio.to(dtype)[:, None, :], (self.pad, self.pad), mode="reflect"
            )[:, 0, :]  # (B, T + 2 * pad)
            spec = torch.stft(
                wave,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=window,
                center=False,
                onesided=True,
                return_complex=True,
            )  # (B, n_fft // 2 + 1, F)
            magnitude = torch.sqrt(spec.real.square() + spec.imag.square() + _MAGNITUDE_EPS)
            mel = torch.matmul(mel_fbank, magnitude)  # (B, n_mels, F)
            return torch.log(torch.clamp(mel, min=self.log_floor)).to(out_dtype)

    def _window_and_fbank(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The buffers in ``dtype``; rebuilt in float64 for float64 input (the reference path),
        since a float32 window would limit it to float32 precision."""
        if self.window.dtype == dtype and self.mel_fbank.dtype == dtype:
            return self.window, self.mel_fbank
        device = self.window.device
        window = torch.hann_window(self.win_length, dtype=dtype, device=device)
        fbank = mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max, dtype=dtype
        )
        return window, fbank.to(device)
