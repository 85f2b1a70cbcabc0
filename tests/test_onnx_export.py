"""``seqlab export --onnx`` and ``--runtime onnx``: ONNX Runtime gives what seqlab's torch path
gives, on padded batches, for the CTC recognizers (BiLSTM, Conformer) and a HiFi-GAN generator.

The tiny checkpoints of tests/fixtures/checkpoints_v0/ are exported once per module (an export
traces the model: seconds each), then compared with the same checkpoint run in torch on the same
inputs: log-probs and audio within 1e-4, and the same transcripts and waves through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("onnxruntime", reason="the onnx runtime needs onnxruntime (seqlab[onnx])")
pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript")

import seqlab  # noqa: E402
from seqlab.cli import main  # noqa: E402
from seqlab.inference import load_task  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
TOLERANCE = 1e-4  # the bound on log-probs and audio


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """experiment -> its export directory, written through the CLI on first use."""
    root = tmp_path_factory.mktemp("onnx")
    done: dict[str, Path] = {}

    def export(experiment: str) -> Path:
        if experiment not in done:
            out = root / experiment
            assert main(["export", str(FIXTURES / experiment), "--onnx", str(out)]) == 0
            done[experiment] = out
        return done[experiment]

    return export


def _padded(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of noisy tones, zero-padded past each item's length: ``(B, S)``, ``(B,)``."""
    rng = np.random.default_rng(seed)
    audio = torch.zeros(len(lengths), max(lengths))
    for row, n in enumerate(lengths):
        t = np.arange(n) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (150 + 50 * row) * t) + 0.05 * rng.standard_normal(n)
        audio[row, :n] = torch.from_numpy(wave.astype(np.float32))
    return audio, torch.tensor(lengths)


@pytest.mark.parametrize("experiment", ["asr_bilstm", "asr_conformer"])
def test_ctc_graph_gives_the_torch_log_probs_on_padded_batches(exported, experiment):
    directory = exported(experiment)
    config = json.loads((directory / "config.json").read_text())
    assert config["inputs"]["audio"]["shape"] == ["batch", "samples"]
    assert config["sample_rate"] == 16000 and config["front_end"]["in_graph"] is True
    assert (directory / config["vocabulary"]).is_file()
    assert not list(directory.glob("*.safetensors"))  # the graph holds the weights
    torch_model = seqlab.load(FIXTURES / experiment).model
    onnx_model = seqlab.load(directory, runtime="onnx").model
    # other batch sizes and lengths than the trace's (2 items, 1 s and 0.75 s)
    for lengths in ([16000, 9000, 23000], [7000]):
        audio, audio_lengths = _padded(lengths, seed=len(lengths))
        with torch.no_grad():
            want, want_lengths = torch_model(audio, audio_lengths)
        got, got_lengths = onnx_model(audio, audio_lengths)
        assert got_lengths.tolist() == want_lengths.tolist()
        assert got.shape == want.shape
        for row, n in enumerate(want_lengths.tolist()):  # frames past a length are meaningless
            assert torch.allclose(got[row, :n], want[row, :n], atol=TOLERANCE, rtol=0)


def test_transcribe_runtime_onnx_equals_torch_through_the_cli(exported, tmp_path, capsys):
    directory = exported("asr_bilstm")
    files = []
    for i, n in enumerate([12000, 20000, 8000]):
        audio, _ = _padded([n], seed=10 + i)
        files.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(files[-1], audio[0].numpy(), 16000, subtype="FLOAT")
    rows = {}
    for runtime, where in (("torch", FIXTURES / "asr_bilstm"), ("onnx", directory)):
        capsys.readouterr()
        args = ["transcribe", str(where), *files, "--json", "--beam-size", "4", "--nbest", "2"]
        assert main([*args, "--runtime", runtime]) == 0
        rows[runtime] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["runtime"] for r in rows["onnx"]] == ["onnx"] * 3
    assert [r["runtime"] for r in rows["torch"]] == ["torch"] * 3
    for want, got in zip(rows["torch"], rows["onnx"], strict=True):
        assert got["text"] == want["text"]
        assert [h["text"] for h in got["nbest"]] == [h["text"] for h in want["nbest"]]
        for a, b in zip(got["nbest"], want["nbest"], strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-3)


def test_vocoder_graph_gives_the_torch_audio_and_vocode_cli_matches(exported, tmp_path, capsys):
    directory = exported("vocoder_demo")
    config = json.loads((directory / "config.json").read_text())
    assert config["inputs"]["mel"]["shape"] == ["batch", 80, "frames"]
    assert config["front_end"]["mel"]["n_mels"] == 80 and config["hop_length"] > 1
    torch_vocoder = seqlab.load(FIXTURES / "vocoder_demo")
    onnx_vocoder = seqlab.load(directory, runtime="onnx")
    rng = np.random.default_rng(3)
    mels = [(-6 + 2 * rng.standard_normal((80, n))).astype(np.float32) for n in (9, 30, 17)]
    want = torch_vocoder.vocode(mels, batch_size=3)  # one padded batch of three lengths
    got = onnx_vocoder.vocode(mels, batch_size=3)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= TOLERANCE
    # the CLI: copy synthesis of a wav and a .npy mel, torch vs onnx
    np.save(tmp_path / "m.npy", mels[1])
    sf.write(tmp_path / "w.wav", np.sin(np.arange(6000) / 9.0).astype(np.float32) * 0.3, 22050)
    inputs = [str(tmp_path / "m.npy"), str(tmp_path / "w.wav")]
    for runtime, where in (("torch", FIXTURES / "vocoder_demo"), ("onnx", directory)):
        capsys.readouterr()
        out = tmp_path / runtime
        assert main(["vocode", str(where), *inputs, "--out", str(out), "--runtime", runtime]) == 0
        assert f"runtime {runtime}" in capsys.readouterr().err
    for name in ("m.wav", "w.wav"):
        a, _ = sf.read(tmp_path / "torch" / name, dtype="float32")
        b, _ = sf.read(tmp_path / "onnx" / name, dtype="float32")
        assert a.shape == b.shape and np.abs(a - b).max() <= 1.5 / 32768  # PCM16: one step at most


def test_export_onnx_refuses_a_wrong_kind_in_one_line(tmp_path, capsys):
    code = main(["export", str(FIXTURES / "mt_lstm"), "--onnx", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1
    assert "translation (mt)" in err and "--onnx" in err
    assert not (tmp_path / "x").exists()


def test_runtime_is_checked_in_one_line(exported):
    with pytest.raises(ValueError, match=r"runs with runtime 'torch' or 'ct2', not 'onnx'"):
        seqlab.load(FIXTURES / "mt_lstm", runtime="onnx")
    with pytest.raises(ValueError, match="not one of torch, onnx, ct2"):
        seqlab.load(FIXTURES / "asr_bilstm", runtime="tensorrt")
    task, _ = load_task(FIXTURES / "asr_bilstm")
    with pytest.raises(ValueError, match=r"'torch' or 'onnx', not 'ct2'"):
        task.for_inference(runtime="ct2")
    # a checkpoint holds no graph; an export holds no torch weights: each says what to do
    with pytest.raises(FileNotFoundError, match="seqlab export CKPT --onnx DIR"):
        seqlab.load(FIXTURES / "asr_bilstm", runtime="onnx")
    with pytest.raises(ValueError, match="is an export"):
        seqlab.load(exported("asr_bilstm"))
