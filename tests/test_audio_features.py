"""Log-mel features: golden checks against librosa, batching, normalisation, precision."""

import librosa
import numpy as np
import pytest
import torch

from seqlab.audio.features import (
    LogMelSpectrogram,
    compute_global_stats,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
)


def chirp_and_noise(seconds: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A 100 Hz -> 0.45 * sr chirp plus white noise at -40 dB: energy in every mel bin."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0, f1 = 100.0, 0.45 * sample_rate
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return 0.5 * np.sin(phase) + 0.005 * rng.standard_normal(n)


def librosa_mel(y: np.ndarray, sr: int, n_fft: int, win: int, hop: int, **kw) -> np.ndarray:
    """librosa's power mel spectrogram ``(n_mels, F)`` in float64, zero padding as ours."""
    return librosa.feature.melspectrogram(
        y=y,
        sr=sr,
        n_fft=n_fft,
        win_length=win,
        hop_length=hop,
        n_mels=80,
        center=True,
        pad_mode="constant",
        htk=False,
        norm="slaney",
        dtype=np.float64,
        **kw,
    )


@pytest.mark.parametrize(
    "sr, n_fft, n_mels, fmin, fmax",
    [
        (16000, 400, 80, 0.0, None),
        (16000, 512, 80, 0.0, None),
        (22050, 1024, 80, 0.0, 8000.0),
        (16000, 512, 40, 20.0, 7600.0),
    ],
)
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    ref = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney"
    )
    got = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert got.shape == (n_mels, n_fft // 2 + 1) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-5)
    # 1e-5 is loose against weights of ~0.026; both are computed in float64.
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-8)


def test_mel_scale_equals_librosa_and_inverts():
    freqs = torch.tensor([0.0, 440.0, 999.9, 1000.0, 1000.1, 4000.0, 11025.0], dtype=torch.float64)
    np.testing.assert_allclose(hz_to_mel(freqs).numpy(), librosa.hz_to_mel(freqs.numpy()), 1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(freqs)).numpy(), freqs.numpy(), atol=1e-9)


def test_mel_filterbank_rejects_f_max_above_nyquist():
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank(16000, 512, 80, f_max=9000.0)


@pytest.mark.parametrize(
    "sr, n_fft, win, hop, fmax, power",
    [(16000, 512, 400, 160, None, 2.0), (22050, 1024, 1024, 256, 8000.0, 2.0)]
    + [(16000, 400, 400, 160, None, 1.0)],
)
def test_power_mel_equals_librosa_float64(sr, n_fft, win, hop, fmax, power):
    y = chirp_and_noise(1.37, sr)
    ref = librosa_mel(y, sr, n_fft, win, hop, fmax=fmax, power=power)  # (n_mels, F)
    module = LogMelSpectrogram(sr, n_fft, win, hop, 80, f_max=fmax, power=power, normalize=None)
    feats, frame_lengths = module(torch.from_numpy(y)[None], torch.tensor([len(y)]))
    assert feats.dtype == torch.float64
    assert feats.shape == (1, ref.shape[1], 80) and frame_lengths.tolist() == [ref.shape[1]]
    np.testing.assert_allclose(feats[0].exp().numpy().T, ref, rtol=1e-5, atol=0)


def test_log_mel_float32_close_to_librosa():
    """float32 FFTs are exact to ~1e-7 of each frame's energy; quiet bins lose more, in log terms
    a few 1e-4 (measured 1.5e-4), hence 1e-3 here."""
    y = chirp_and_noise(1.0).astype(np.float32)
    ref = np.log(librosa_mel(y.astype(np.float64), 16000, 512, 400, 160))
    feats, _ = LogMelSpectrogram(normalize=None)(torch.from_numpy(y)[None])
    assert feats.dtype == torch.float32
    np.testing.assert_allclose(feats[0].numpy().T, ref, rtol=0, atol=1e-3)


def test_batch_of_different_lengths_equals_each_item_alone():
    """Zero padding (librosa's pad_mode="constant") makes every valid frame independent of the
    batch, so all valid frames are compared, including those whose window reaches the padding."""
    sr, hop = 16000, 160
    items = [chirp_and_noise(s, sr, seed) for seed, s in enumerate([1.2, 0.5, 0.3004])]
    lengths = torch.tensor([len(y) for y in items])
    # Non-zero garbage beyond each length must be ignored.
    wave = torch.full((3, int(lengths.max())), 0.7, dtype=torch.float64)
    for i, y in enumerate(items):
        wave[i, : len(y)] = torch.from_numpy(y)
    module = LogMelSpectrogram(normalize=None)
    feats, frame_lengths = module(wave, lengths)
    assert frame_lengths.tolist() == [1 + len(y) // hop for y in items]
    for i, y in enumerate(items):
        ref = librosa_mel(y, sr, 512, 400, hop)  # (n_mels, F_i)
        n = int(frame_lengths[i])
        assert ref.shape[1] == n
        np.testing.assert_allclose(feats[i, :n].exp().numpy().T, ref, rtol=1e-5, atol=0)
        assert torch.all(feats[i, n:] == 0)


@pytest.mark.parametrize("center", [True, False])
def test_input_is_not_modified(center):
    wave = torch.ones(2, 4000)
    LogMelSpectrogram(center=center)(wave, torch.tensor([4000, 1000]))
    assert torch.all(wave == 1)


def test_frame_lengths_match_stft_frame_counts():
    lengths = torch.tensor([1, 159, 160, 161, 511, 512, 16000])
    centred = LogMelSpectrogram().frame_lengths(lengths)
    expected = [
        librosa.util.frame(np.zeros(n + 512), frame_length=512, hop_length=160).shape[1]
        for n in lengths.tolist()
    ]  # what librosa.stft does after padding 256 per side
    assert centred.tolist() == expected == [1, 1, 2, 2, 4, 4, 101]
    not_centred = LogMelSpectrogram(center=False).frame_lengths(
        torch.cat([torch.tensor([0]), lengths])
    )
    assert not_centred.tolist() == [0, 0, 0, 0, 0, 0, 1, 97]
    feats, frame_lengths = LogMelSpectrogram(center=False)(torch.randn(1, 16000))
    assert feats.shape[1] == 97 and frame_lengths.tolist() == [97]


def test_utterance_normalisation_uses_valid_frames_only():
    torch.manual_seed(0)
    lengths = torch.tensor([8000, 5000, 3200])
    wave = torch.randn(3, 8000) * torch.linspace(0.1, 1.0, 8000)
    module = LogMelSpectrogram(normalize="utterance")
    feats, frame_lengths = module(wave, lengths)
    for i in range(3):
        n = int(frame_lengths[i])
        valid = feats[i, :n]  # (n, n_mels)
        torch.testing.assert_close(valid.mean(0), torch.zeros(80), atol=1e-5, rtol=0)
        torch.testing.assert_close(valid.std(0, unbiased=False), torch.ones(80), atol=1e-4, rtol=0)
        assert torch.all(feats[i, n:] == 0)
        alone, _ = module(wave[i : i + 1, : lengths[i]], lengths[i : i + 1])
        torch.testing.assert_close(valid, alone[0], atol=1e-4, rtol=1e-4)


def test_global_normalisation_from_computed_stats():
    torch.manual_seed(1)
    raw = LogMelSpectrogram(normalize=None)
    batches = [(torch.randn(2, 4000), torch.tensor([4000, 2500])) for _ in range(3)]
    feature_batches = [raw(w, n) for w, n in batches]
    mean, std = compute_global_stats(feature_batches)
    frames = torch.cat([f[i, : n[i]] for f, n in feature_batches for i in range(2)]).double()
    torch.testing.assert_close(mean, frames.mean(0).float())
    torch.testing.assert_close(std, frames.std(0, unbiased=False).float(), rtol=1e-4, atol=1e-5)

    module = LogMelSpectrogram(normalize="global")
    with pytest.raises(RuntimeError, match="set_global_stats"):
        module(*batches[0])
    module.set_global_stats(mean, std)
    # The statistics travel with the checkpoint.
    restored = LogMelSpectrogram(normalize="global")
    restored.load_state_dict(module.state_dict())
    feats, frame_lengths = restored(*batches[0])
    expected = (feature_batches[0][0] - mean) / std
    valid = torch.arange(feats.shape[1])[None, :] < frame_lengths[:, None]
    torch.testing.assert_close(feats[valid], expected[valid])
    assert torch.all(feats[~valid] == 0)


def test_stft_runs_in_float32_under_autocast():
    torch.manual_seed(2)
    wave, lengths = torch.randn(2, 4000), torch.tensor([4000, 3000])
    module = LogMelSpectrogram()
    expected, _ = module(wave, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, _ = module(wave.bfloat16().float(), lengths)
        half_input, _ = module(wave.bfloat16(), lengths)
    assert feats.dtype == torch.float32 and half_input.dtype == torch.float32
    torch.testing.assert_close(feats, module(wave.bfloat16().float(), lengths)[0])
    assert (expected - feats).abs().max() < 0.1  # only the bfloat16 rounding of the input differs


def test_module_half_keeps_a_float32_window():
    """model.half() converts buffers; the features must not lose precision with them."""
    torch.manual_seed(3)
    wave = torch.randn(1, 4000)
    module = LogMelSpectrogram()
    expected, _ = module(wave)
    feats, _ = module.half()(wave)
    torch.testing.assert_close(feats, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu():
    torch.manual_seed(4)
    wave, lengths = torch.randn(3, 8000), torch.tensor([8000, 6000, 100])
    module = LogMelSpectrogram()
    expected, expected_lengths = module(wave, lengths)
    feats, frame_lengths = module.cuda()(wave.cuda(), lengths.cuda())
    torch.testing.assert_close(feats.cpu(), expected, atol=1e-3, rtol=1e-3)
    assert frame_lengths.cpu().tolist() == expected_lengths.tolist()
