"""On-device augmentations: identity at p=0, the promised effect at p=1, padding, determinism."""

import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from seqlab.audio.augment import (
    VTLP,
    AugmentPipeline,
    ColoredNoise,
    Gain,
    PolarityInversion,
    RandomEQ,
    Reverb,
    SpecAugment,
    SpeedPerturb,
)
from seqlab.audio.features import LogMelSpectrogram
from seqlab.audio.resample import resample

LENGTHS = torch.tensor([16000, 9000, 4001, 12345])


def padded_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four tones plus noise of different lengths, zero-padded: ``(4, 16000)``, ``(4,)``."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(16000) / 16000
    wave = torch.stack([torch.sin(2 * math.pi * f * t) for f in (220.0, 440.0, 1000.0, 3000.0)])
    wave = 0.3 * wave + 0.01 * torch.randn(4, 16000, generator=generator)
    wave = wave.masked_fill(torch.arange(16000)[None, :] >= LENGTHS[:, None], 0.0)
    return wave, LENGTHS.clone()


def padded_feats(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-zero normalised-like features ``(4, 120, 80)``, zero beyond ``[120, 77, 31, 5]``."""
    generator = torch.Generator().manual_seed(seed)
    frame_lengths = torch.tensor([120, 77, 31, 5])
    feats = torch.randn(4, 120, 80, generator=generator).abs() + 0.1  # no exact zeros
    valid = torch.arange(120)[None, :] < frame_lengths[:, None]
    return feats.masked_fill(~valid[..., None], 0.0), frame_lengths


WAVE_AUGMENTATIONS = [Gain, PolarityInversion, ColoredNoise, SpeedPerturb]


SPEC_AUGMENTATIONS = [SpecAugment, VTLP]


@pytest.mark.parametrize("cls", WAVE_AUGMENTATIONS + SPEC_AUGMENTATIONS)
def test_p_zero_and_eval_mode_are_identity(cls):
    is_spec = cls in SPEC_AUGMENTATIONS
    x, n = padded_feats() if is_spec else padded_batch()
    for module in (cls(p=0.0), cls(p=1.0).eval()):
        y, m = module(x, n)
        assert torch.equal(y, x) and torch.equal(m, n)


def test_gain_within_db_range_and_per_utterance():
    wave, lengths = padded_batch()
    torch.manual_seed(0)
    out, out_lengths = Gain(p=1.0, min_gain_db=-6.0, max_gain_db=6.0)(wave, lengths)
    assert torch.equal(out_lengths, lengths)
    ratio = out[:, :100] / wave[:, :100]  # (B, 100), one constant per row
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-5)
    gain_db = 20 * torch.log10(ratio[:, 0])
    assert torch.all(gain_db >= -6.0 - 1e-4) and torch.all(gain_db <= 6.0 + 1e-4)
    assert gain_db.std() > 0.1  # drawn per utterance, not once per batch


def test_polarity_inversion_is_exact_negation():
    wave, lengths = padded_batch()
    out, _ = PolarityInversion(p=1.0)(wave, lengths)
    assert torch.equal(out, -wave)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
@pytest.mark.parametrize("f_decay", [-2.0, 0.0, 1.0, 2.0])
def test_colored_noise_hits_requested_snr(snr_db, f_decay):
    wave, lengths = padded_batch()
    torch.manual_seed(1)
    module = ColoredNoise(p=1.0, min_snr_db=snr_db, max_snr_db=snr_db)
    module.min_f_decay = module.max_f_decay = f_decay
    out, out_lengths = module(wave, lengths)
    assert torch.equal(out_lengths, lengths)
    noise = out - wave
    for i, n in enumerate(lengths.tolist()):
        measured = 10 * torch.log10(wave[i, :n].square().sum() / noise[i, :n].square().sum())
        assert abs(float(measured) - snr_db) < 1e-3
        assert torch.all(out[i, n:] == 0)


def test_colored_noise_spectrum_slope():
    """Brown noise (f_decay=2) loses ~6 dB per octave; white noise is flat."""
    torch.manual_seed(2)
    silence_free = torch.ones(8, 32768)  # constant signal: the noise is judged on its own
    lengths = torch.full((8,), 32768)
    for f_decay, slope_db_per_octave in [(0.0, 0.0), (1.0, -3.01), (2.0, -6.02), (-1.0, 3.01)]:
        module = ColoredNoise(p=1.0, min_f_decay=f_decay, max_f_decay=f_decay)
        noise = module(silence_free, lengths)[0] - silence_free
        power = torch.fft.rfft(noise).abs().square().mean(0)  # (K,)
        low, high = power[512:1024].mean(), power[1024:2048].mean()  # one octave apart
        measured = 10 * torch.log10(high / low)
        assert abs(float(measured) - slope_db_per_octave) < 0.5, (f_decay, float(measured))


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length_by_factor(factor):
    wave, lengths = padded_batch()
    torch.manual_seed(3)
    out, out_lengths = SpeedPerturb(p=1.0, factors=(factor,))(wave, lengths)
    expected = [math.ceil(n / factor - 1e-9) for n in lengths.tolist()]
    assert out_lengths.tolist() == expected
    assert out.shape == (4, max(expected))
    for i, n in enumerate(expected):
        assert torch.all(out[i, n:] == 0)
        # Each utterance is its own resampling, unaffected by the batch's padding.
        alone = resample(wave[i, : lengths[i]], *_rates(factor))
        torch.testing.assert_close(out[i, :n], alone, atol=1e-5, rtol=0)
    # The 220 Hz tone becomes 220 * factor Hz.
    spectrum = torch.fft.rfft(out[0, : expected[0]]).abs()
    peak_hz = float(spectrum.argmax()) * 16000 / expected[0]
    assert abs(peak_hz - 220 * factor) < 2.0


def _rates(factor: float) -> tuple[int, int]:
    return (9, 10) if factor == 0.9 else (11, 10)


def test_speed_perturb_mixed_batch_keeps_unchosen_items():
    wave, lengths = padded_batch()
    torch.manual_seed(4)
    out, out_lengths = SpeedPerturb(p=0.5, factors=(0.9, 1.0, 1.1))(wave, lengths)
    for i in range(4):
        n = int(out_lengths[i])
        assert torch.all(out[i, n:] == 0)
        if n == int(lengths[i]):
            assert torch.equal(out[i, :n], wave[i, :n])
        else:
            assert n in (math.ceil(lengths[i] / 0.9), math.ceil(lengths[i] / 1.1 - 1e-9))


def test_spec_augment_masks_only_valid_frames():
    feats, frame_lengths = padded_feats()
    torch.manual_seed(5)
    module = SpecAugment(p=1.0, n_freq_masks=2, freq_mask_width=27, n_time_masks=2)
    module.time_mask_width, module.max_time_fraction = 20, 0.2
    out, out_lengths = module(feats, frame_lengths)
    assert torch.equal(out_lengths, frame_lengths)
    zeroed = (out == 0) & (feats != 0)
    assert zeroed.any()
    for i, n in enumerate(frame_lengths.tolist()):
        assert torch.all(out[i, n:] == 0)
        kept = out[i, :n] != 0
        assert torch.equal(out[i, :n][kept], feats[i, :n][kept])  # untouched values unchanged
        # Whole masked columns are frequency masks (<= 2 bands of <= 27 bins).
        full_bins = zeroed[i, :n].all(dim=0)  # (n_mels,)
        assert int(full_bins.sum()) <= 2 * 27
        # Whole masked rows are time masks (<= 2 spans of <= min(20, 0.2 n) frames).
        full_frames = zeroed[i, :n].all(dim=1)
        assert int(full_frames.sum()) <= 2 * min(20, int(0.2 * n))
        # Every zeroed value lies in a masked row or column.
        assert torch.all(full_bins[None, :] | full_frames[:, None] | ~zeroed[i, :n])


def test_spec_augment_defaults_cap_time_masks_by_fraction():
    feats, frame_lengths = padded_feats()
    torch.manual_seed(6)
    module = SpecAugment(p=1.0, n_freq_masks=0)
    out, _ = module(feats, frame_lengths)
    masked_frames = ((out == 0) & (feats != 0)).all(dim=2).sum(dim=1)  # (B,)
    caps = [2 * min(40, int(0.05 * n)) for n in frame_lengths.tolist()]  # [12, 6, 2, 0]
    assert all(m <= c for m, c in zip(masked_frames.tolist(), caps, strict=True))


@pytest.mark.parametrize("cls", WAVE_AUGMENTATIONS + SPEC_AUGMENTATIONS)
def test_deterministic_under_manual_seed(cls):
    x, n = padded_feats() if cls in SPEC_AUGMENTATIONS else padded_batch()
    module = cls(p=0.5)
    torch.manual_seed(7)
    first = module(x, n)
    torch.manual_seed(7)
    second = module(x, n)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    third = module(x, n)  # the RNG moved on: a different draw
    assert not torch.equal(first[0], third[0]) or cls is PolarityInversion


def _tone_log_mel(freq: float) -> torch.Tensor:
    """Mean log-mel ``(64,)`` of a 0.25 s tone at 8 kHz (the FSDD front end, unnormalised)."""
    front_end = LogMelSpectrogram(8000, 256, 200, 40, n_mels=64, normalize=None)
    t = torch.arange(2000) / 8000
    feats, _ = front_end(torch.sin(2 * math.pi * freq * t)[None, :])
    return feats[0].mean(dim=0)


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_vtlp_moves_a_tone_to_alpha_times_its_frequency(alpha):
    """A 1 kHz tone's mel peak lands where a tone at alpha * 1 kHz peaks (below the knee)."""
    tone = _tone_log_mel(1000.0)
    module = VTLP(p=1.0, min_warp=alpha, max_warp=alpha, sample_rate=8000)
    warped, _ = module(tone[None, None, :].expand(2, 3, 64).clone(), torch.tensor([3, 3]))
    peak = int(warped[0, 0].argmax())
    assert peak != int(tone.argmax())
    assert abs(peak - int(_tone_log_mel(alpha * 1000.0).argmax())) <= 1
    assert torch.allclose(warped[0], warped[1])  # same factor, same result per item and frame


def test_vtlp_keeps_band_ends_padding_and_unchosen_items():
    feats, frame_lengths = padded_feats()
    for alpha in (0.85, 1.15):
        positions = VTLP(sample_rate=16000).source_bins(torch.tensor([alpha, 1.0]), 80)
        assert abs(float(positions[0, -1]) - 79.0) < 1.0  # f_max stays: the top band barely moves
        assert torch.allclose(positions[1], torch.arange(80.0), atol=1e-3)  # 1.0 = identity
        assert bool((positions[0].diff() > 0).all())  # monotonic: no band read twice
    torch.manual_seed(0)
    out, out_lengths = VTLP(p=0.5, min_warp=0.85, max_warp=0.86)(feats, frame_lengths)
    assert torch.equal(out_lengths, frame_lengths)
    valid = torch.arange(120)[None, :] < frame_lengths[:, None]
    assert torch.all(out[~valid] == 0)
    changed = [not torch.equal(out[b], feats[b]) for b in range(4)]
    assert any(changed) and not all(changed)  # p=0.5 with this seed: some items untouched


def test_pipeline_train_and_eval():
    wave, lengths = padded_batch()
    feats, frame_lengths = padded_feats()
    pipeline = AugmentPipeline(
        wave=[PolarityInversion(p=1.0), Gain(p=1.0)], spec=[SpecAugment(p=1.0)]
    )
    torch.manual_seed(8)
    out, out_lengths = pipeline.apply_wave(wave, lengths)
    ratio = out[:, :50] / wave[:, :50]
    assert torch.all(ratio < 0) and torch.equal(out_lengths, lengths)
    assert not torch.equal(pipeline.apply_spec(feats, frame_lengths)[0], feats)
    pipeline.eval()
    assert pipeline.apply_wave(wave, lengths)[0] is wave
    assert pipeline.apply_spec(feats, frame_lengths)[0] is feats


def test_pipeline_from_hydra_config():
    config = {
        "_target_": "seqlab.audio.augment.AugmentPipeline",
        "wave": [
            {"_target_": "seqlab.audio.augment.SpeedPerturb", "p": 1.0, "factors": [1.1]},
            {"_target_": "seqlab.audio.augment.ColoredNoise", "p": 1.0},
        ],
        "spec": [{"_target_": "seqlab.audio.augment.SpecAugment", "p": 1.0}],
    }
    pipeline = instantiate(config)
    assert isinstance(pipeline.wave[0], SpeedPerturb) and isinstance(pipeline.spec[0], SpecAugment)
    wave, lengths = padded_batch()
    out, out_lengths = pipeline.apply_wave(wave, lengths)
    assert out_lengths.tolist() == [math.ceil(n / 1.1 - 1e-9) for n in lengths.tolist()]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", WAVE_AUGMENTATIONS)
def test_runs_on_cuda(cls):
    wave, lengths = padded_batch()
    out, out_lengths = cls(p=1.0)(wave.cuda(), lengths.cuda())
    assert out.is_cuda and out_lengths.is_cuda
    valid = torch.arange(out.shape[1], device="cuda")[None, :] < out_lengths[:, None]
    assert torch.all(out[~valid] == 0)


# ---- the recording chain: RandomEQ (microphone) and Reverb (room) --------------------------------
CHANNEL_AUGMENTATIONS = [RandomEQ, Reverb]


@pytest.mark.parametrize("cls", CHANNEL_AUGMENTATIONS)
def test_channel_identity_padding_rms_and_determinism(cls):
    wave, lengths = padded_batch()
    for module in (cls(16000, p=0.0), cls(16000, p=1.0).eval()):
        out, out_lengths = module(wave, lengths)
        assert torch.equal(out, wave) and torch.equal(out_lengths, lengths)
    module = cls(16000, p=1.0)
    torch.manual_seed(3)
    out, out_lengths = module(wave, lengths)
    assert torch.equal(out_lengths, lengths)
    valid = torch.arange(wave.shape[1])[None, :] < lengths[:, None]
    assert torch.all(out[~valid] == 0)  # padding stays zero
    assert not torch.allclose(out, wave, atol=1e-3)  # it did something
    assert torch.allclose(out.square().sum(1), wave.square().sum(1), rtol=1e-4)  # the RMS is kept
    torch.manual_seed(3)
    assert torch.equal(module(wave, lengths)[0], out)
    torch.manual_seed(5)
    mixed = cls(16000, p=0.5)(wave, lengths)[0]  # unchosen utterances pass unchanged
    same = [torch.equal(mixed[i], wave[i]) for i in range(len(wave))]
    assert any(same) and not all(same)


def _amplitude_at(wave: torch.Tensor, freq: float, rate: int = 16000) -> float:
    """Amplitude of the ``freq`` component of a 1-D signal (projection on sin and cos)."""
    t = torch.arange(wave.shape[0], dtype=torch.float64) / rate
    w = wave.double()
    s = (w * torch.sin(2 * math.pi * freq * t)).sum()
    c = (w * torch.cos(2 * math.pi * freq * t)).sum()
    return float(2 * torch.sqrt(s * s + c * c) / wave.shape[0])


def test_random_eq_is_zero_phase_and_tilts_the_spectrum():
    t = torch.arange(16000) / 16000
    tone = 0.3 * torch.sin(2 * math.pi * 500 * t)[None, :]  # an exact number of periods
    lengths = torch.tensor([16000])
    torch.manual_seed(0)
    out, _ = RandomEQ(16000, p=1.0, max_gain_db=12.0)(tone, lengths)
    # A real gain curve is a zero-phase filter: one tone comes back as itself (then the RMS is
    # restored), apart from the edges where the clip starts and stops.
    assert torch.allclose(out[0, 2000:-2000], tone[0, 2000:-2000], atol=3e-3)
    pair = 0.3 * torch.sin(2 * math.pi * 300 * t) + 0.3 * torch.sin(2 * math.pi * 6000 * t)
    bound = 12.0 * sum(1 / k for k in range(1, 5))  # |gain| <= this at any frequency (dB)
    changes = []
    for seed in range(5):
        torch.manual_seed(seed)
        eq, _ = RandomEQ(16000, p=1.0, max_gain_db=12.0)(pair[None, :], lengths)
        ratio_db = 20 * math.log10(_amplitude_at(eq[0], 6000) / _amplitude_at(eq[0], 300))
        assert abs(ratio_db) <= 2 * bound + 0.1
        changes.append(abs(ratio_db))
    assert max(changes) > 3.0  # the draws move the balance between low and high by decibels


def test_reverb_is_causal_and_decays():
    rate = 8000
    click = torch.zeros(1, rate)
    click[0, 1000] = 1.0
    lengths = torch.tensor([rate])
    torch.manual_seed(0)
    reverb = Reverb(rate, p=1.0, min_rt60=0.3, max_rt60=0.3, min_drr_db=0.0, max_drr_db=0.0)
    out, _ = reverb(click, lengths)
    assert out[0, :1000].abs().max() < 1e-6  # nothing before the click (FFT rounding aside)
    tail = out[0, 1001:].square()
    early, late = tail[:400].sum(), tail[1600:2000].sum()  # 0-50 ms vs 200-250 ms after it
    # 60 dB in 0.3 s is 40 dB in 0.2 s: the late window holds ~1e-4 of the early one's energy.
    assert late < 1e-3 * early
    assert abs(float(tail.sum() / out[0, 1000] ** 2) - 1.0) < 0.05  # drr 0 dB: tail = direct
    dry = Reverb(rate, p=1.0, min_drr_db=300.0, max_drr_db=300.0)(click, lengths)[0]
    assert torch.allclose(dry, click, atol=1e-6)  # no reverberant energy: the clip itself


def test_channel_augment_config_instantiates_with_the_data_rate():
    from omegaconf import OmegaConf

    from seqlab.configs import __file__ as configs_init

    path = Path(configs_init).parent / "augment" / "short_clips_channel.yaml"
    cfg = OmegaConf.merge({"data": {"sample_rate": 8000}}, {"augment": OmegaConf.load(path)})
    modules = [instantiate(a) for a in cfg.augment.wave]
    rates = [m.sample_rate for m in modules if isinstance(m, (RandomEQ, Reverb))]
    assert rates == [8000, 8000]
