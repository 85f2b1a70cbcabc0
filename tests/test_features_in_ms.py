"""The speech recipes give the log-mel window and hop in milliseconds, so a model at 8 kHz keeps
25 ms / 10 ms frames (200 / 80 samples) and short digits are not left out as too short for CTC;
checkpoints saved with the window and hop in samples load with the very same features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from seqlab.audio.features import LogMelSpectrogram, frame_settings

RATE = 8000


def _fsdd(root: Path, seconds: float) -> Path:
    """A tiny FSDD (manifests by seqlab.data.fsdd) of 8 kHz noise clips, all ``seconds`` long."""
    from seqlab.data.fsdd import write_manifests

    recordings = root / "recordings"
    recordings.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for speaker in ("jackson", "theo"):
        for digit in (3, 7):  # "three", "seven": the words that need the most CTC frames
            for take in (0, 5, 10):  # one take per split (test, val, train)
                audio = (0.1 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
                sf.write(recordings / f"{digit}_{speaker}_{take}.wav", audio, RATE)
    write_manifests(root)
    return root


def test_window_and_hop_in_ms_give_samples_at_each_rate_and_old_configs_read_as_before():
    ms = {"n_mels": 80, "win_ms": 25, "hop_ms": 10, "n_fft": None}
    assert frame_settings(ms, 8000) == {
        "n_mels": 80, "win_length": 200, "hop_length": 80, "n_fft": 256,
    }  # fmt: skip
    at_16k = {"n_mels": 80, "win_length": 400, "hop_length": 160, "n_fft": 512}
    assert frame_settings(ms, 16000) == at_16k  # the 16 kHz recipes keep their frames
    assert frame_settings(at_16k, 8000) == at_16k  # a config in samples stays in samples
    assert frame_settings({"n_mels": 80}, 16000) == at_16k  # 25 / 10 ms by default
    with pytest.raises(ValueError, match=r"features.win_ms=25.*features.win_length=400.*not both"):
        frame_settings({**ms, "win_length": 400, "hop_length": 160}, 16000)
    with pytest.raises(ValueError, match=r"features.n_fft=128 is shorter than the window"):
        frame_settings({**ms, "n_fft": 128}, 8000)
    with pytest.raises(ValueError, match=r"features.hop_length is not given"):
        frame_settings({"win_length": 400}, 16000)


def test_at_8_khz_the_conformer_recipe_keeps_a_short_digit(tmp_path, monkeypatch):
    """asr_conformer (written for 16 kHz) on 8 kHz digits spelled in characters: 25 ms / 10 ms
    frames are 200 / 80 samples, and 0.3 s clips keep enough CTC frames for "three"; the same
    window and hop in samples (400 / 160, 50 ms / 20 ms at 8 kHz) left them out."""
    from seqlab.config import compose_experiment
    from seqlab.tasks.asr.task import ASRTask

    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = _fsdd(tmp_path / "fsdd", seconds=0.3)
    overrides = ["data=fsdd", f"data.root={root}", "data.vocab=char", "model.num_layers=1",
                 "model.d_model=32"]  # fmt: skip
    task = ASRTask(compose_experiment("asr_conformer", overrides))
    features = task.model.features
    assert (features.win_length, features.hop_length, features.n_fft) == (200, 80, 256)
    assert len(task.utterances("test", None)) == 4 and task.left_out("test") == []

    in_samples = ["features.win_ms=null", "features.hop_ms=null", "features.n_fft=512",
                  "+features.win_length=400", "+features.hop_length=160"]  # fmt: skip
    old = ASRTask(compose_experiment("asr_conformer", overrides + in_samples))
    old.utterances("test", None)
    assert len(old.left_out("test")) == 4  # what 8 kHz data met before


def test_a_checkpoint_with_window_and_hop_in_samples_loads_with_the_same_features(
    tmp_path, monkeypatch
):
    """A checkpoint of the FSDD recipe as saved before (n_fft 256, win_length 200, hop_length 40)
    loads with exactly the features of the same frames given in milliseconds (25 ms, 5 ms)."""
    from seqlab.config import compose_experiment
    from seqlab.engine import checkpoint as ckpt
    from seqlab.inference import load_task
    from seqlab.tasks.asr.task import ASRTask

    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = _fsdd(tmp_path / "fsdd", seconds=0.5)
    overrides = [f"data.root={root}", "data.vocab=char", "model.num_layers=1", "model.d_model=32"]
    in_samples = ["features.win_ms=null", "features.hop_ms=null", "features.n_fft=256",
                  "+features.win_length=200", "+features.hop_length=40"]  # fmt: skip
    cfg = compose_experiment("asr_conformer_fsdd", overrides + in_samples)
    task = ASRTask(cfg)
    path = ckpt.save_checkpoint(
        tmp_path / "run" / "checkpoints", 1, {"model": task.model.state_dict()}, {}, {},
        OmegaConf.to_yaml(cfg, resolve=True), task.save_artifacts,
    )  # fmt: skip
    assert "hop_length: 40" in (path / "config.yaml").read_text()

    loaded, _ = load_task(path)
    in_ms = {**OmegaConf.to_container(cfg.features), "win_length": None, "hop_length": None,
             "n_fft": None, "win_ms": 25, "hop_ms": 5}  # fmt: skip
    now = LogMelSpectrogram.from_config(in_ms, RATE)  # as ASRTask builds it
    wave = torch.randn(2, 4000)
    lengths = torch.tensor([4000, 2500])
    old_feats, old_frames = loaded.model.features(wave, lengths)
    feats, frames = now(wave, lengths)
    assert (now.win_length, now.hop_length, now.n_fft) == (200, 40, 256)
    assert torch.equal(old_frames, frames) and torch.equal(old_feats, feats)
    reference = LogMelSpectrogram(RATE, n_fft=256, win_length=200, hop_length=40, n_mels=64)
    assert torch.equal(reference(wave, lengths)[0], old_feats)
