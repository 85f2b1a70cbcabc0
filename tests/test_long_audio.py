"""Long recordings are transcribed in overlapping windows read from disk one at a time.

The story: a user has a recording far longer than the clips the model was trained on. seqlab reads
it a window at a time (never the whole file), runs the model on each window, keeps each window's
central frames and decodes them together. For a model that sees only a finite stretch of audio
around each frame, and an overlap wider than that stretch, the joined log-probs ARE the whole-file
log-probs. A model that normalises each input's features by its own statistics gets the whole
file's in every window, so that holds with per-utterance normalisation too. seqlab's shipped models
do not qualify (the BiLSTM's context is the whole input, the Conformer attends globally), so that
exactness is checked on a small convolution-only model of the tests' own, loaded through the trust
mechanism (``trust_targets``), with feature normalisation off and per utterance; for the shipped
models the stitching invariants are checked (every whole-file frame once, in order). ``--stream``
prints each window's greedy text as it is decoded.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from torch import nn

import seqlab
from seqlab.cli import main
from seqlab.tasks.asr.long_audio import WindowPlan
from seqlab.tasks.asr.recognizer import InputWarning

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
RATE = 16000
CONV = f"{__name__}.ConvCTC"
WINDOW, OVERLAP = 2.0, 0.5  # seconds: several windows over a few seconds of audio


class ConvCTC(nn.Module):
    """A CTC model made of convolutions only: each output frame sees +-4 feature frames (40 ms,
    plus the STFT's 12.5 ms), so a window's frames 0.25 s from its edges equal the whole file's."""

    def __init__(self, n_mels: int = 80, vocab_size: int = 29, channels: int = 16) -> None:
        super().__init__()
        self.subsampling_factor = 2
        self.conv1 = nn.Conv1d(n_mels, channels, 5, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 5, stride=2, padding=2)
        self.head = nn.Conv1d(channels, vocab_size, 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """``(L - 1) // 2 + 1`` frames: conv2's stride, its padding keeping the edges."""
        return (lengths - 1) // 2 + 1

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        """(B, T, n_mels) -> log-probs (B, T', V), lengths (B,)."""
        x = torch.relu(self.conv1(feats.transpose(1, 2)))  # (B, C, T)
        x = torch.relu(self.conv2(x))  # (B, C, T')
        return self.head(x).transpose(1, 2).log_softmax(-1), self.output_lengths(lengths)


def _conv_checkpoint(folder: Path, normalize: str | None) -> Path:
    """A checkpoint of :class:`ConvCTC` (random weights, seeded) with this feature normalisation."""
    from seqlab.config import apply_overrides
    from seqlab.registry import load_checkpoint_config
    from seqlab.tasks.asr.task import ASRTask

    ckpt = folder / "best"
    shutil.copytree(FIXTURES / "asr_bilstm", ckpt)
    config = yaml.safe_load((ckpt / "config.yaml").read_text())
    config["model"] = {"_target_": CONV, "channels": 16}
    config["features"]["normalize"] = normalize
    config["augment"] = {"wave": [], "spec": []}
    (ckpt / "config.yaml").write_text(yaml.safe_dump(config))
    cfg = apply_overrides(load_checkpoint_config(ckpt, [CONV]), [])
    torch.manual_seed(0)
    task = ASRTask(cfg, checkpoint_dir=ckpt)
    import safetensors.torch

    safetensors.torch.save_file(task.model.state_dict(), str(ckpt / "model.safetensors"))
    return ckpt


@pytest.fixture(scope="module")
def conv_ckpt(tmp_path_factory) -> Path:
    """:class:`ConvCTC` with no feature normalisation."""
    return _conv_checkpoint(tmp_path_factory.mktemp("conv"), None)


@pytest.fixture(scope="module")
def conv_ckpt_utterance(tmp_path_factory) -> Path:
    """:class:`ConvCTC` normalising each input's features by its own mean and variance (as the
    shipped recipes do)."""
    return _conv_checkpoint(tmp_path_factory.mktemp("conv_utt"), "utterance")


def speech_like(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Bursts of a voiced glide in noise, with pauses: audible, never silent, not periodic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(110 + 60 * np.sin(2 * np.pi * 0.7 * t)) / rate
    voiced = sum(np.sin(k * phase) / k for k in (1, 2, 3))
    envelope = (np.sin(2 * np.pi * 1.3 * t) > -0.3).astype(float)
    wave = 0.3 * voiced * envelope + 0.02 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def write(path: Path, seconds: float, rate: int, seed: int = 0) -> Path:
    subtype = "PCM_16" if path.suffix == ".flac" else "FLOAT"
    sf.write(str(path), speech_like(seconds, rate, seed), rate, subtype=subtype)
    return path


# ---- exactness: a finite receptive field covered by the overlap ---------------------------------
# Not 8 kHz here: its mel bands above 4 kHz hold only the resampler's rounding noise (~1e-7),
# which their log turns into differences of ~1e-4 between any two computations; 44.1 kHz audio
# fills every band, so resampling per window is checked exactly there.
@pytest.mark.parametrize("rate", [16000, 44100])
def test_windowed_log_probs_equal_the_whole_files(conv_ckpt, tmp_path, rate):
    """7 s in 2 s windows (0.5 s overlap), read from disk, resampled per window when the file's
    rate is not the model's: the same log-probs as one forward pass over the whole file."""
    model = seqlab.load(conv_ckpt, trust_targets=[CONV])
    path = write(tmp_path / f"long_{rate}.wav", 7.0, rate)
    whole = model.log_probs(path, window_seconds=None)
    windowed = model.log_probs(path, window_seconds=WINDOW, overlap_seconds=OVERLAP)
    assert windowed.shape == whole.shape  # (T', V): no frame dropped or repeated
    assert len(model.window_plan(WINDOW, OVERLAP, rate).spans(7 * RATE, len(whole))) >= 4
    torch.testing.assert_close(windowed, whole, rtol=0, atol=1e-5)
    assert model.transcribe(path, window_seconds=WINDOW, overlap_seconds=OVERLAP) == (
        model.transcribe(path, window_seconds=None)
    )


def test_per_utterance_normalisation_uses_the_whole_files_statistics(
    conv_ckpt_utterance, tmp_path, monkeypatch
):
    """A model that normalises each input by its own statistics gets the whole file's in every
    window (a first pass gathers them), so windowed log-probs still equal the whole file's, even
    where the level changes from one part of the recording to the next; each window normalised
    by its own 2 s would not."""
    from seqlab.tasks.asr.recognizer import ASRModel

    model = seqlab.load(conv_ckpt_utterance, trust_targets=[CONV])
    parts = [
        gain * speech_like(1.75, RATE, seed) for seed, gain in enumerate((1.0, 0.05, 0.4, 1.0))
    ]
    path = tmp_path / "levels.wav"
    sf.write(str(path), np.concatenate(parts), RATE, subtype="FLOAT")
    whole = model.log_probs(path, window_seconds=None)
    windowed = model.log_probs(path, window_seconds=WINDOW, overlap_seconds=OVERLAP)
    assert windowed.shape == whole.shape
    torch.testing.assert_close(windowed, whole, rtol=0, atol=1e-5)
    # without the first pass, each window's own statistics change its frames
    monkeypatch.setattr(ASRModel, "_utterance_normalised_features", lambda self: None)
    own = model.log_probs(path, window_seconds=WINDOW, overlap_seconds=OVERLAP)
    assert float((own - whole).abs().max()) > 1e-2


def test_too_little_overlap_shows_at_the_cuts(conv_ckpt, tmp_path):
    """The exactness above is the overlap's doing: with none, the frames at the cuts differ."""
    model = seqlab.load(conv_ckpt, trust_targets=[CONV])
    path = write(tmp_path / "long.wav", 7.0, RATE)
    whole = model.log_probs(path, window_seconds=None)
    cut = model.log_probs(path, window_seconds=WINDOW, overlap_seconds=0.04)
    assert cut.shape == whole.shape
    assert float((cut - whole).abs().max()) > 1e-3


# ---- the shipped models: every whole-file frame exactly once ------------------------------------
@pytest.mark.parametrize("experiment", ["asr_bilstm", "asr_conformer"])
@pytest.mark.parametrize("rate", [16000, 8000])
def test_shipped_models_keep_every_frame_once(experiment, rate, tmp_path):
    model = seqlab.load(FIXTURES / experiment)
    path = write(tmp_path / "long.wav", 6.3, rate)
    whole = model.log_probs(path, window_seconds=None)
    windowed = model.log_probs(path, window_seconds=WINDOW, overlap_seconds=OVERLAP)
    assert windowed.shape == whole.shape
    # far from any cut a window sees the whole file's audio; the frames still differ a little
    # (the LSTM's/attention's unbounded context) but stay close
    assert torch.allclose(windowed.exp(), whole.exp(), atol=0.2)


@pytest.mark.parametrize("stride", [1, 320, 480, 640])
def test_plans_tile_the_frames_in_order(stride):
    """For any length, the kept ranges of a plan's windows cover [0, frames) once, in order, each
    window keeps frames it computed (inside its own span), and windows start on frame boundaries."""
    plan = WindowPlan.from_seconds(WINDOW, OVERLAP, RATE, stride, align=2)
    assert plan.hop % stride == 0 and plan.hop % 2 == 0 and plan.overlap >= OVERLAP * RATE
    for n in [plan.window + 1, plan.window + plan.hop, 5 * plan.hop + 17, 10 * plan.window - 3]:
        frames = n // stride
        spans = plan.spans(n, frames)
        assert spans[0].start == 0 and spans[-1].end == n and len(spans) > 1
        assert spans[0].keep_start == 0 and spans[-1].keep_end == frames
        for before, after in zip(spans, spans[1:], strict=False):
            assert before.keep_end == after.keep_start  # no gap, no duplicate
            assert after.start - before.start == plan.hop and after.start % stride == 0
            assert after.start // stride <= after.keep_start  # kept frames lie in the window
            assert before.keep_end * stride <= before.end - plan.overlap // 4
        assert all(s.keep_start < s.keep_end for s in spans)


def test_settings_the_model_cannot_take_are_refused(conv_ckpt):
    model = seqlab.load(conv_ckpt, trust_targets=[CONV])
    with pytest.raises(ValueError, match="overlap in"):
        model.window_plan(2.0, 2.0)
    with pytest.raises(ValueError, match="shorter than one output frame"):
        WindowPlan.from_seconds(0.01, 0.005, RATE, 320)
    conformer = seqlab.load(FIXTURES / "asr_conformer")
    with pytest.raises(ValueError, match="needs at least"):
        conformer.window_plan(2.0, 0.0)


def test_the_cli_refuses_bad_window_settings_once(tmp_path, capsys):
    path = write(tmp_path / "long.wav", 3.0, RATE)
    argv = ["transcribe", str(FIXTURES / "asr_bilstm"), str(path), str(path)]
    assert main([*argv, "--window-seconds", "2", "--overlap-seconds", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("seqlab: error: --window-seconds/--overlap-seconds:") == 1
    assert main([*argv, "--window-seconds", "-1"]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert main([*argv, "--window-seconds", "0"]) == 0  # 0: every file whole, as before


# ---- bounded reading ------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 8000])
def test_a_long_file_is_never_read_whole(conv_ckpt, tmp_path, monkeypatch, rate):
    """Each read asks for at most one window of samples, each sample is read once (the overlap is
    kept from the previous window, not read again), and the whole-file readers are never called."""
    model = seqlab.load(conv_ckpt, trust_targets=[CONV])
    path = write(tmp_path / "long.flac", 9.0, rate)
    expected = model.transcribe(path, window_seconds=WINDOW, overlap_seconds=OVERLAP)
    reads: list[int] = []
    original = sf.SoundFile.read

    def recording_read(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(sf.SoundFile, "read", recording_read)
    monkeypatch.setattr(sf, "read", refuse)
    monkeypatch.setattr("seqlab.audio.io.load_audio", refuse)
    assert model.transcribe(path, window_seconds=WINDOW, overlap_seconds=OVERLAP) == expected
    assert len(reads) >= 5 and 0 < max(reads) <= WINDOW * rate
    assert sum(reads) == 9 * rate


def test_short_files_go_the_whole_file_way(tmp_path, monkeypatch):
    """A file no longer than a window is read whole, as before: the same text and log-probs."""
    model = seqlab.load(FIXTURES / "asr_bilstm")
    path = write(tmp_path / "short.wav", 1.5, RATE)
    whole = model.log_probs(path, window_seconds=None)
    assert torch.equal(model.log_probs(path, window_seconds=WINDOW), whole)
    assert model.transcribe(path) == model.transcribe(path, window_seconds=None)


def test_long_silence_and_corrupt_windows(conv_ckpt, tmp_path):
    model = seqlab.load(conv_ckpt, trust_targets=[CONV])
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(6 * RATE, dtype=np.float32), RATE, subtype="FLOAT")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        assert model.transcribe(silent, window_seconds=WINDOW, overlap_seconds=OVERLAP) == ""
    assert any("digital silence" in str(w.message) for w in caught)
    wave = speech_like(6.0, RATE)
    wave[4 * RATE + 7] = np.nan
    corrupt = tmp_path / "corrupt.wav"
    sf.write(str(corrupt), wave, RATE, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"corrupt\.wav: 1 NaN sample between 3\.\d\d and"):
        model.transcribe(corrupt, window_seconds=WINDOW, overlap_seconds=OVERLAP)


# ---- --stream ------------------------------------------------------------------------------------
def test_stream_prints_partials_then_the_full_transcript(conv_ckpt, tmp_path, capsys):
    """Greedy partials as windows finish, then the full decode; with greedy decoding the partials
    put together are the final text (a token whose run crosses a cut is shown once)."""
    path = write(tmp_path / "long.wav", 7.0, RATE)
    flags = ["--window-seconds", str(WINDOW), "--overlap-seconds", str(OVERLAP)]
    trust = ["--trust-target", CONV]
    assert main(["transcribe", str(conv_ckpt), str(path), *flags, *trust]) == 0
    final = capsys.readouterr().out.strip()
    assert main(["transcribe", str(conv_ckpt), str(path), *flags, *trust, "--stream"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    partials, last = lines[:-1], lines[-1]
    assert len(partials) >= 2 and all(line.startswith("[") for line in partials)
    assert last == final and final
    texts = [line.split("] ", 1)[1] if "] " in line else "" for line in partials]
    assert "".join(texts).replace(" ", "") == final.replace(" ", "")

    assert (
        main(["transcribe", str(conv_ckpt), str(path), *flags, *trust, "--stream", "--json"]) == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) >= 3 and all("partial" in row for row in rows[:-1])
    assert rows[-1] == {"path": str(path), "text": final, "runtime": "torch"}
    ends = [row["end"] for row in rows[:-1]]
    assert ends == sorted(ends) and rows[0]["start"] == 0 and ends[-1] == pytest.approx(7.0)
    assert all(
        a["end"] == pytest.approx(b["start"]) for a, b in zip(rows, rows[1:-1], strict=False)
    )
