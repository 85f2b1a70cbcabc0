"""HiFiGANMel equals a direct numpy implementation of the official recipe's formula."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from seqlab.audio.hifigan_mel import HiFiGANMel

SR, N_FFT, HOP, WIN, N_MELS = 22050, 1024, 256, 1024, 80


def reference_mel(audio: np.ndarray, f_max: float | None, win_length: int = WIN) -> np.ndarray:
    """The recipe written out: reflect pad, explicit frames, periodic Hann, rfft, magnitude, mel, log.

    Returns ``(n_mels, frames)`` in float64.
    """
    pad = (N_FFT - HOP) // 2
    x = np.pad(audio.astype(np.float64), (pad, pad), mode="reflect")
    n_frames = (len(x) - N_FFT) // HOP + 1
    frames = np.stack([x[i * HOP : i * HOP + N_FFT] for i in range(n_frames)])  # (F, n_fft)
    n = np.arange(win_length)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)  # periodic
    window = np.zeros(N_FFT)
    left = (N_FFT - win_length) // 2
    window[left : left + win_length] = hann  # centred in the frame, as torch.stft does
    spec = np.fft.rfft(frames * window, axis=1)  # (F, n_fft // 2 + 1)
    magnitude = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    fbank = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=f_max)
    mel = fbank.astype(np.float64) @ magnitude.T  # (n_mels, F)
    return np.log(np.maximum(mel, 1e-5))


def _signals(batch: int, length: int, seed: int = 0) -> np.ndarray:
    """Different signals per row: chirps, harmonics, noise at different levels, a near-silent one."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    rows = []
    for b in range(batch):
        f0 = 100 + 80 * b
        x = 0.3 * np.sin(2 * np.pi * (f0 + 2000 * t) * t)
        x += 0.2 * np.sin(2 * np.pi * 3 * f0 * t)
        x += 10 ** (-(1 + b)) * rng.standard_normal(length)
        rows.append(x * (1.0 if b % 3 else 1e-3))
    return np.stack(rows).astype(np.float32)  # (B, T)


@pytest.mark.parametrize("f_max", [8000.0, None])
def test_equals_direct_formula_float64(f_max):
    audio = _signals(4, 8192)
    mel = HiFiGANMel(f_max=f_max)(torch.from_numpy(audio).double())
    assert mel.shape == (4, N_MELS, 8192 // HOP)
    for b in range(4):
        ref = reference_mel(audio[b], f_max)
        np.testing.assert_allclose(mel[b].numpy(), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("f_max", [8000.0, None])
def test_float32_equals_direct_formula(f_max):
    """The training path (float32 on the device) is within 1e-5 of the float64 formula."""
    audio = _signals(3, 4096, seed=1)
    mel = HiFiGANMel(f_max=f_max)(torch.from_numpy(audio))
    assert mel.dtype == torch.float32
    for b in range(3):
        ref = reference_mel(audio[b], f_max)
        np.testing.assert_allclose(mel[b].double().numpy(), ref, atol=1e-5, rtol=0)


def test_official_float32_mode_is_close():
    """double_precision=False is the official code's float32; its error stays in quiet bands."""
    audio = _signals(3, 4096, seed=1)
    mel = HiFiGANMel(f_max=None, double_precision=False)(torch.from_numpy(audio))
    assert mel.dtype == torch.float32
    for b in range(3):
        ref = reference_mel(audio[b], None)
        np.testing.assert_allclose(mel[b].double().numpy(), ref, atol=1e-3, rtol=0)
        loud = ref > ref.max() - 4.0  # within ~35 dB of the loudest band
        np.testing.assert_allclose(mel[b].double().numpy()[loud], ref[loud], atol=1e-5, rtol=0)


def test_batched_equals_per_item_and_frames():
    module = HiFiGANMel()
    audio = torch.from_numpy(_signals(5, 8192, seed=2))
    batched = module(audio)
    for b in range(5):
        single = module(audio[b : b + 1])[0]
        torch.testing.assert_close(batched[b], single, atol=1e-6, rtol=0)
    for n in (512, 8192, 8192 + 100, 22050):
        x = torch.zeros(1, n).uniform_(-0.5, 0.5)
        assert module(x).shape[-1] == module.frames(n)
    assert module.frames(8192) == 8192 // HOP


def test_shorter_window_is_centred():
    audio = _signals(1, 4096, seed=3)
    mel = HiFiGANMel(win_length=800)(torch.from_numpy(audio).double())
    np.testing.assert_allclose(mel[0].numpy(), reference_mel(audio[0], 8000.0, 800), atol=1e-5)


def test_full_precision_under_autocast_and_buffers_move():
    module = HiFiGANMel()
    audio = torch.from_numpy(_signals(2, 4096, seed=4))
    plain = module(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = module(audio)
    assert under.dtype == torch.float32
    torch.testing.assert_close(under, plain, atol=0, rtol=0)
    buffers = dict(module.named_buffers())
    assert set(buffers) == {"window", "mel_fbank"}
    assert module.window.dtype == torch.float64  # kept in the working precision
    assert module.state_dict() == {}  # derived buffers are not saved with a model
    module.float()  # a model-wide cast must not lower the precision of the result
    assert module.window.dtype == torch.float32
    torch.testing.assert_close(module(audio), plain, atol=1e-7, rtol=0)


def test_rejects_wrong_shapes():
    module = HiFiGANMel()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        module(torch.zeros(8192))
    with pytest.raises(ValueError, match="too few"):
        module(torch.zeros(1, 100))
