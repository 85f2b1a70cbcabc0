"""Band-limited (Kaiser-windowed sinc) resampling in torch.

Ours because torchaudio has no CPU build here; the kernel is the classic polyphase sinc
interpolation (as in torchaudio/julius) and is checked against librosa in the tests.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F


@lru_cache(maxsize=32)
def _sinc_kernel(
    orig: int, new: int, lowpass_width: int, rolloff: float, beta: float
) -> tuple[torch.Tensor, int]:
    """Polyphase filter bank of shape ``(new, 1, K)`` and its half width, for rates reduced by gcd."""
    base = min(orig, new) * rolloff  # cutoff, in units of the reduced rates
    width = math.ceil(lowpass_width * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig  # (1, 1, K)
    t = torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + idx  # (new, 1, K)
    t = t * base
    t = t.clamp(-lowpass_width, lowpass_width)
    window = torch.special.i0(beta * torch.sqrt(1 - (t / lowpass_width) ** 2)) / torch.special.i0(
        torch.tensor(beta, dtype=torch.float64)
    )
    t = t * math.pi
    scale = base / orig
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t) * window * scale
    return kernel.to(torch.float32), width


def resample(
    wave: torch.Tensor | np.ndarray,
    orig_sr: int,
    new_sr: int,
    lowpass_width: int = 64,
    rolloff: float = 0.945,
    beta: float = 14.769656459379492,
) -> torch.Tensor | np.ndarray:
    """Resample ``wave`` from ``orig_sr`` to ``new_sr``.

    Args:
        wave: ``(..., T)`` waveform, numpy or torch (any device); the result has the same type.
        orig_sr, new_sr: integer sample rates.
        lowpass_width, rolloff, beta: sinc filter width in zero crossings, cutoff as a fraction of
            the lower Nyquist rate, and Kaiser window shape (defaults give high quality).

    Returns:
        ``(..., ceil(T * new_sr / orig_sr))`` waveform of the input's type and dtype.
    """
    is_numpy = isinstance(wave, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(wave)) if is_numpy else wave
    if orig_sr == new_sr:
        return wave
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {new_sr}")
    dtype = x.dtype
    g = math.gcd(int(orig_sr), int(new_sr))
    orig, new = int(orig_sr) // g, int(new_sr) // g
    kernel, width = _sinc_kernel(orig, new, lowpass_width, rolloff, beta)
    kernel = kernel.to(x.device)
    shape = x.shape
    length = shape[-1]
    y = x.reshape(-1, 1, length).float()  # (N, 1, T)
    y = F.pad(y, (width, width + orig))
    y = F.conv1d(y, kernel, stride=orig)  # (N, new, frames)
    y = y.transpose(1, 2).reshape(y.shape[0], -1)  # interleave the phases: (N, frames * new)
    target = math.ceil(new * length / orig)
    y = y[..., :target].reshape(*shape[:-1], target).to(dtype)
    return y.numpy() if is_numpy else y
