"""The vocoder as a user runs it: build the built-in corpus, train a tiny HiFi-GAN through the engine
(two optimizers), resume exactly, vocode wav and .npy inputs, export the official layout."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

import seqlab
from seqlab.cli import main
from seqlab.corpora.synth_ljspeech import build_ljspeech_corpus
from seqlab.engine.writers import read_metrics

TINY = [  # a generator and discriminators small enough for a few CPU seconds per run
    "model.preset=null",
    "model.resblock='1'",
    "model.upsample_rates=[8,8,4]",
    "model.upsample_kernel_sizes=[16,16,8]",
    "model.upsample_initial_channel=16",
    "model.resblock_kernel_sizes=[3]",
    "model.resblock_dilation_sizes=[[1,3]]",
    "discriminator.periods=[2,3]",
    "discriminator.n_scales=2",
    "discriminator.width=0.125",
    "data.segment_size=2048",
    "data.batch_size=2",
    "data.val_fraction=0.25",
    "data.val_max_items=2",
    "validation.speech_quality=false",  # PESQ/STOI are tested in test_audio_metrics.py
    "data.val_max_seconds=1.5",
    "data.build_if_missing=false",
    "trainer.log_every_n_steps=1",
    "trainer.num_workers=0",
    "trainer.progress=none",
    "trainer.val_at_start=false",
    "writer.tensorboard=false",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("vocoder") / "synth_ljspeech"
    build_ljspeech_corpus(out, hours=0.01, seed=5, workers=2, progress=False)
    return out


def _train(corpus, runs, *extra):
    overrides = [*TINY, f"data.root={corpus}", f"trainer.runs_root={runs}", *extra]
    return seqlab.train("vocoder_demo", overrides)


def test_gan_training_logs_both_networks_and_saves_both(corpus, tmp_path):
    summary = _train(
        corpus, tmp_path, "trainer.max_steps=3", "trainer.val_every_n_steps=3",
        "trainer.run_name=a", "validation.speech_quality=true",
    )  # fmt: skip
    run = tmp_path / "vocoder_demo" / "a"
    records = read_metrics(run)
    train_rows = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train_rows] == [1, 2, 3]
    for key in (
        "loss/generator", "loss/discriminator", "grad_norm/generator", "grad_norm/discriminator",
        "score_real/discriminator", "score_fake/discriminator", "mel_l1/generator",
        "feature_matching/generator", "adversarial/generator", "lr/generator", "lr/discriminator",
    ):  # fmt: skip
        assert all(np.isfinite(r[key]) for r in train_rows), key
    val = [r for r in records if r["split"] == "val"][-1]
    for key in ("val_loss", "val_mel_l1", "val_stft", "val_stoi", "val_stoi_skipped"):
        assert key in val and np.isfinite(val[key]), key
    assert val["val_loss"] == val["val_mel_l1"]
    ckpt = run / "checkpoints" / "last"
    assert (ckpt / "generator.safetensors").is_file() and (
        ckpt / "discriminator.safetensors"
    ).is_file()
    assert summary["best_metric"] == pytest.approx(val["val_mel_l1"])
    # the writers got ground-truth and generated audio of the validation clips
    wavs = sorted(p.name for p in (run / "examples").rglob("*.wav"))
    assert any("generated" in name for name in wavs) and any("real" in name for name in wavs)


def test_resume_mid_epoch_is_exact(corpus, tmp_path):
    """5 steps in one go == 2 steps, stop, resume to 5 (across an epoch end: the per-epoch
    ExponentialLR, the segment crops and the spectral-norm buffers must all carry over)."""
    # validation only at the end of each segment: the cut run's extra validation at step 2 must
    # not disturb what follows (it draws from no RNG)
    common = [
        "trainer.val_every_n_steps=null",
        "trainer.save_every_n_steps=1",
        "data.val_max_items=1",
    ]
    _train(corpus, tmp_path, "trainer.max_steps=5", "trainer.run_name=full", *common)
    _train(corpus, tmp_path, "trainer.max_steps=2", "trainer.run_name=cut", *common)
    cut = tmp_path / "vocoder_demo" / "cut"
    _train(
        corpus, tmp_path, "trainer.max_steps=5", "trainer.run_name=cut",
        f"trainer.resume_from={cut / 'checkpoints' / 'last'}", *common,
    )  # fmt: skip
    full = tmp_path / "vocoder_demo" / "full"

    def train_rows(run):
        return {r["step"]: r for r in read_metrics(run) if r["split"] == "train"}

    a, b = train_rows(full), train_rows(cut)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5]
    epochs = {int(r["epoch"]) for r in a.values()}
    assert len(epochs) > 1, "the run must cross an epoch boundary"
    for step in (3, 4, 5):
        for key in ("loss/generator", "loss/discriminator", "lr/generator"):
            assert a[step][key] == b[step][key], (step, key)
    for name in ("generator", "discriminator"):
        wa = load_file(full / "checkpoints" / "last" / f"{name}.safetensors")
        wb = load_file(cut / "checkpoints" / "last" / f"{name}.safetensors")
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), (name, key)


def test_vocode_cli_writes_playable_wavs_and_reports_bad_inputs(corpus, tmp_path, capsys):
    _train(corpus, tmp_path, "trainer.max_steps=1", "trainer.run_name=v")
    ckpt = tmp_path / "vocoder_demo" / "v" / "checkpoints" / "last"
    wav = sorted((corpus / "wavs").glob("*.wav"))[0]
    mel = np.random.default_rng(0).normal(-5, 1, size=(80, 20)).astype(np.float32)
    np.save(tmp_path / "mel.npy", mel)
    np.save(tmp_path / "wrong.npy", mel.T)
    out = tmp_path / "out"
    rc = main(
        ["vocode", str(ckpt), str(wav), str(tmp_path / "mel.npy"), str(tmp_path / "missing.wav"),
         str(tmp_path / "wrong.npy"), "--out", str(out)]
    )  # fmt: skip
    assert rc == 1  # two bad inputs, reported; the good ones are still written
    err = capsys.readouterr().err
    assert "missing.wav" in err and "wrong.npy" in err and "transposed" in err
    generated, rate = sf.read(out / "mel.wav")
    assert rate == 22050 and len(generated) == 20 * 256
    copy, rate = sf.read(out / f"{wav.stem}.wav")
    original = sf.info(wav)
    assert rate == original.samplerate
    assert len(copy) == original.frames // 256 * 256  # whole mel frames of the input
    assert np.all(np.abs(copy) <= 1.0)


def test_export_in_the_official_layout_vocodes_the_same(corpus, tmp_path):
    from seqlab.tasks.vocoder.vocoding import load_official

    _train(corpus, tmp_path, "trainer.max_steps=1", "trainer.run_name=e")
    ckpt = tmp_path / "vocoder_demo" / "e" / "checkpoints" / "last"
    assert main(["export", str(ckpt), "--hifigan", str(tmp_path / "official" / "g_00000001")]) == 0
    config = json.loads((tmp_path / "official" / "config.json").read_text())
    assert config["upsample_rates"] == [8, 8, 4] and config["hop_size"] == 256
    blob = torch.load(tmp_path / "official" / "g_00000001", weights_only=True)
    assert "conv_pre.weight_g" in blob["generator"]
    ours = seqlab.load(ckpt)
    theirs = load_official(
        tmp_path / "official" / "g_00000001", tmp_path / "official" / "config.json"
    )
    mel = np.random.default_rng(1).normal(-5, 1, size=(80, 12)).astype(np.float32)
    np.testing.assert_allclose(theirs.vocode(mel), ours.vocode(mel), atol=1e-5)


def test_a_batch_of_mixed_lengths_gives_each_mel_what_it_gets_alone():
    """Vocoding several mels at once equals vocoding each alone, sample for sample: only equal
    lengths share a forward (padding a shorter mel changed its last samples by ~1e-5)."""
    from pathlib import Path

    vocoder = seqlab.load(Path(__file__).parent / "fixtures" / "checkpoints_v0" / "vocoder_demo")
    rng = np.random.default_rng(3)
    n_mels = vocoder.n_mels
    mels = [rng.normal(-5, 1, size=(n_mels, n)).astype(np.float32) for n in (7, 12, 5, 12, 7)]
    batched = vocoder.vocode(mels, batch_size=4)
    for mel, wave in zip(mels, batched, strict=True):
        alone = vocoder.vocode(mel)
        assert wave.shape == alone.shape == (mel.shape[1] * vocoder.hop_length,)
        assert np.array_equal(wave, alone)
