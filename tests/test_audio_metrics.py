"""Vocoder metrics: MR-STFT distance, and PESQ/STOI that skip and count what they cannot score."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from seqlab.corpora.espeak import ESPEAK_SAMPLE_RATE, synthesize
from seqlab.metrics.audio import multi_resolution_stft_distance, speech_quality

SR = ESPEAK_SAMPLE_RATE  # 22,050 Hz: the metrics resample to 16 kHz themselves


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    return [
        synthesize("the quick brown fox jumps over the lazy dog", "en-us"),
        synthesize("turn off the kitchen lights at half past nine", "en-gb-x-rp", "m3"),
    ]


def _noisy(wave: np.ndarray, level: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (wave + level * rng.standard_normal(wave.shape)).astype(np.float32)


def test_identical_is_best_and_noise_is_worse(speech):
    same = speech_quality(speech, speech, SR)
    assert same["n"] == 2 and same["pesq_skipped"] == 0 and same["stoi_skipped"] == 0
    assert same["pesq"] > 4.5
    assert same["stoi"] > 0.99
    noisy = speech_quality(speech, [_noisy(w, 0.02) for w in speech], SR)
    assert noisy["pesq"] < same["pesq"] - 1.0
    assert noisy["stoi"] < same["stoi"]
    noisier = speech_quality(speech, [_noisy(w, 0.1) for w in speech], SR)
    assert noisier["stoi"] < noisy["stoi"]


def test_silent_short_and_mismatched_clips_are_skipped_and_counted(speech):
    silent = np.zeros(SR, dtype=np.float32)
    short = speech[0][SR // 5 : SR // 5 + SR // 10]  # 0.1 s of speech
    longer_hyp = np.concatenate([speech[1], np.zeros(SR // 3, dtype=np.float32)])
    refs = [speech[0], silent, short, speech[1]]
    hyps = [speech[0], silent, short, longer_hyp]  # the last is cropped to the reference
    result = speech_quality(refs, hyps, SR)
    assert result["n"] == 4
    assert result["pesq_skipped"] == 2 and result["stoi_skipped"] == 2
    assert result["pesq_skipped_silent"] == 1 and result["stoi_skipped_silent"] == 1
    assert result["pesq_skipped_short"] == 1 and result["stoi_skipped_short"] == 1
    assert np.isfinite(result["pesq"]) and result["pesq"] > 4.5
    assert np.isfinite(result["stoi"]) and result["stoi"] > 0.99


def test_all_skipped_leaves_the_metrics_out(speech):
    silent = np.zeros(SR // 2, dtype=np.float32)
    result = speech_quality([silent, silent * 0.0], [silent, speech[0][: SR // 2]], SR)
    assert "pesq" not in result and "stoi" not in result
    assert result["pesq_skipped"] == 2 and result["stoi_skipped_silent"] == 2
    assert all(np.isfinite(v) for v in result.values())


def test_silent_output_scores_stoi_and_skips_pesq(speech):
    result = speech_quality([speech[0]], [np.zeros_like(speech[0])], SR)
    assert result["pesq_skipped_silent_output"] == 1 and "pesq" not in result
    assert result["stoi_skipped"] == 0 and result["stoi"] < 0.1


def test_stoi_degenerate_value_is_skipped(speech, monkeypatch):
    import pystoi

    monkeypatch.setattr(pystoi, "stoi", lambda *args, **kwargs: 1e-5)
    result = speech_quality(speech, speech, SR)
    assert "stoi" not in result and result["stoi_skipped_error"] == 2
    assert result["pesq"] > 4.5


def test_missing_packages_name_the_extra(speech, monkeypatch):
    real_import = builtins.__import__

    def no_pesq(name, *args, **kwargs):
        if name == "pesq":
            raise ImportError("No module named 'pesq'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pesq)
    with pytest.raises(ImportError, match=r"seqlab\[audio-metrics\]"):
        speech_quality(speech, speech, SR)


def test_count_mismatch_is_an_error(speech):
    with pytest.raises(ValueError, match="2 references but 1"):
        speech_quality(speech, speech[:1], SR)


def test_mr_stft_zero_for_identical_positive_otherwise(speech):
    ref = torch.from_numpy(np.stack([speech[0][:20000], speech[1][:20000]]))  # (2, T)
    assert float(multi_resolution_stft_distance(ref, ref)) == 0.0
    hyp = torch.from_numpy(np.stack([_noisy(w[:20000], 0.01) for w in speech]))
    near = float(multi_resolution_stft_distance(ref, hyp))
    far = float(multi_resolution_stft_distance(ref, ref + 0.1 * torch.randn_like(ref)))
    assert 0.0 < near < far


def test_mr_stft_padding_aware_equals_unpadded(speech):
    a, b = speech[0][:15000], speech[1][:11000]
    hyp_a, hyp_b = _noisy(a, 0.01, 1), _noisy(b, 0.01, 2)
    ref = torch.zeros(2, 15000)
    hyp = torch.full((2, 15000), 0.5)  # garbage beyond the valid part must not count
    ref[0], ref[1, :11000] = torch.from_numpy(a), torch.from_numpy(b)
    hyp[0], hyp[1, :11000] = torch.from_numpy(hyp_a), torch.from_numpy(hyp_b)
    padded = multi_resolution_stft_distance(ref, hyp, lengths=torch.tensor([15000, 11000]))
    alone = [
        multi_resolution_stft_distance(torch.from_numpy(r)[None], torch.from_numpy(h)[None])
        for r, h in ((a, hyp_a), (b, hyp_b))
    ]
    torch.testing.assert_close(padded, (alone[0] + alone[1]) / 2, atol=1e-6, rtol=1e-6)
    unaware = multi_resolution_stft_distance(ref, hyp)
    assert abs(float(unaware) - float(padded)) > 1e-3


def test_mr_stft_definition_on_one_resolution():
    """Spectral convergence + log-magnitude L1, written out for one resolution."""
    gen = torch.Generator().manual_seed(0)
    ref, hyp = torch.randn(1, 4000, generator=gen), torch.randn(1, 4000, generator=gen)
    window = torch.hann_window(240)

    def mag(x):
        spec = torch.stft(x, 512, 50, 240, window=window, center=True, return_complex=True)
        return spec.abs().square().clamp_min(1e-7).sqrt()

    r, h = mag(ref), mag(hyp)
    expected = (r - h).norm() / r.norm() + (r.log() - h.log()).abs().mean()
    got = multi_resolution_stft_distance(ref, hyp, resolutions=((512, 50, 240),))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="too few"):
        multi_resolution_stft_distance(ref[:, :100], hyp[:, :100])
