"""Checkpoints written by earlier code keep loading and give the same outputs.

tests/fixtures/checkpoints_v0/<experiment>/ holds a tiny checkpoint of every shipped experiment as
main at 077a60f wrote it (2 training steps; made by tests/fixtures/make_v0_checkpoints.py, which
also wrote each expected.json from the same :func:`observe` this test runs). Each is loaded through
the paths a user takes, ``seqlab.load`` and the CLI (``transcribe``, ``translate``, ``vocode``;
``eval`` needs the training corpus on disk, which the fixtures do not carry), and must give the
saved outputs: raw numbers, not only decoded text (an untrained model's text is degenerate).

Loading a checkpoint builds the classes its config.yaml names only through seqlab's registry of
known targets (seqlab/registry.py), never by importing a name taken from the file; the saved names
below must therefore keep resolving, wherever the classes move:

- tasks: ``seqlab.tasks.asr.ASRTask``, ``seqlab.tasks.asr_hf.HFCTCTask``,
  ``seqlab.tasks.lm.LMTask``, ``seqlab.tasks.mt.MTTask``, ``seqlab.tasks.vocoder.VocoderTask``
- models: ``seqlab.models.asr.bilstm_ctc.BiLSTMCTC``, ``seqlab.models.asr.conformer_ctc.ConformerCTC``,
  ``seqlab.models.mt.lstm_seq2seq.LSTMSeq2Seq``, ``seqlab.models.mt.transformer.TransformerSeq2Seq``,
  ``seqlab.models.vocoder.hifigan.build_generator``
- augmentations: ``seqlab.audio.augment.{Gain,PolarityInversion,ColoredNoise,SpeedPerturb,SpecAugment}``
- schedulers and optimizers: ``seqlab.engine.schedulers.WarmupLinearDecay``,
  ``torch.optim.AdamW``, ``torch.optim.lr_scheduler.{OneCycleLR,ExponentialLR}``
- ``transformers.GPT2Config`` (lm_gpt2_small's model)

(SAVED_TARGETS below; test_the_fixtures_name_the_documented_targets keeps this list true.) Besides
``_target_`` strings the checkpoints carry Hugging Face folders that name classes their own way:
``hf_config/`` of the w2v-BERT runs (``model_type: wav2vec2-bert``, ``Wav2Vec2CTCTokenizer``) and
``hf/`` of the LM (``GPT2LMHeadModel``, ``PreTrainedTokenizerFast``), read by transformers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
INPUTS = Path(__file__).parent / "fixtures" / "inputs"
EXPERIMENTS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []
MT_LINES = ["ein mann liest ein buch .", "die frau sieht den hund .", "zwei kinder spielen ."]
LM_SENTENCES = ["the cat sat on the mat", "she reads a book", "zebra quantum"]
RTOL, ATOL = 1e-4, 1e-6  # float outputs: ~1e-4 relative (BLAS order may differ between builds)


# ---- fixed inputs ---------------------------------------------------------------------------------
def make_inputs(folder: Path) -> None:
    """Write the fixed inputs (deterministic): speech.wav (16 kHz, 0.6 s: a voiced glide with
    noise) and mel_<n>.npy (a seeded log-mel, n = 80 mels, 12 frames); MT and LM use text
    constants of this file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(14)
    rate = 16000
    t = np.arange(int(0.6 * rate)) / rate
    f0 = 120 + 80 * t  # Hz: a rising pitch with a few harmonics, like a vowel
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = sum(np.sin(k * phase) / k for k in (1, 2, 3, 5)) * (
        0.5 - 0.5 * np.cos(2 * np.pi * t / 0.6)
    )
    wave = 0.3 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(len(t))
    sf.write(folder / "speech.wav", wave.astype(np.float32), rate, subtype="PCM_16")
    mel = -6.0 + 2.0 * rng.standard_normal((80, 12))
    np.save(folder / "mel_80.npy", mel.astype(np.float32))
    (folder / "mt_de.txt").write_text("\n".join(MT_LINES) + "\n", encoding="utf-8")


# ---- what a checkpoint gives ----------------------------------------------------------------------
def _summary(array) -> dict:
    """Numbers that pin down an array: shape, sums, extremes and a few values."""
    a = np.asarray(array, dtype=np.float64)
    flat = a.reshape(-1)
    picks = np.linspace(0, len(flat) - 1, 8).round().astype(int) if len(flat) else []
    return {
        "shape": list(a.shape),
        "sum": float(flat.sum()),
        "abs_sum": float(np.abs(flat).sum()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "first": [float(x) for x in flat[:6]],
        "picks": [float(flat[i]) for i in picks],
    }


def _asr(ckpt: Path) -> dict:
    import torch

    import seqlab

    wave, rate = sf.read(INPUTS / "speech.wav", dtype="float32")
    model = seqlab.load(ckpt)
    texts = model.transcribe([str(INPUTS / "speech.wav"), wave[: rate // 2]], sample_rate=rate)
    # the emissions of the model the recognizer holds, at the model's rate
    from seqlab.audio.resample import resample

    audio = torch.from_numpy(resample(wave, rate, model.sample_rate))[None]
    with torch.no_grad():
        log_probs, lengths = model.model(audio, torch.tensor([audio.shape[1]]))
    beam = seqlab.load(
        ckpt, overrides=["decoder=ctc_beam", "decoder.beam_size=4", "decoder.nbest=2"]
    )
    nbest = beam.transcribe_nbest(str(INPUTS / "speech.wav"))
    return {
        "texts": texts,
        "log_probs": _summary(log_probs[0, : int(lengths[0])]),
        "best_path": log_probs[0, : int(lengths[0])].argmax(-1).tolist(),
        "beam_nbest": [{"text": h.text, "score": float(h.score)} for h in nbest],
    }


def _mt(ckpt: Path) -> dict:
    import seqlab

    translator = seqlab.load(ckpt)
    return {
        "saved_settings": translator.translate(MT_LINES),  # the checkpoint's generation.*
        "greedy": translator.translate(MT_LINES, beam_size=1),
        "beam2": translator.translate(MT_LINES, beam_size=2),
    }


def _lm(ckpt: Path) -> dict:
    import seqlab

    lm = seqlab.load(ckpt)
    out = {"sentence_scores": [float(s) for s in lm.sentence_scores(LM_SENTENCES)]}
    asr = FIXTURES / "asr_bilstm"
    if asr.is_dir():  # shallow fusion: the LM checkpoint as decoder.lm of a recognizer
        overrides = ["decoder=ctc_beam", "decoder.beam_size=4", f"decoder.lm={ckpt}"]
        out["fusion_asr_bilstm"] = seqlab.load(asr, overrides=overrides).transcribe(
            str(INPUTS / "speech.wav")
        )
    return out


def _vocoder(ckpt: Path) -> dict:
    import seqlab

    vocoder = seqlab.load(ckpt)
    from_mel = vocoder.vocode(str(INPUTS / f"mel_{vocoder.n_mels}.npy"))
    from_wav = vocoder.vocode(str(INPUTS / "speech.wav"))
    return {
        "sample_rate": vocoder.sample_rate,
        "from_mel": _summary(from_mel),
        "from_wav": _summary(from_wav),
    }


def observe(kind: str, ckpt: Path) -> dict:
    """What checkpoint ``ckpt`` of task ``kind`` (asr, mt, lm, vocoder) gives on the fixed inputs
    through the Python API (plain JSON data)."""
    return {"asr": _asr, "mt": _mt, "lm": _lm, "vocoder": _vocoder}[kind](Path(ckpt))


def assert_same(got, want, where: str = "") -> None:
    """``got`` equals ``want``: text and integers exactly, floats within RTOL/ATOL."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys differ"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def _expected(experiment: str) -> dict:
    return json.loads((FIXTURES / experiment / "expected.json").read_text())


def _cli(args: list[str], capsys) -> str:
    from seqlab.cli import main

    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


# ---- the tests ------------------------------------------------------------------------------------
def test_every_shipped_experiment_has_a_fixture():
    from seqlab.config import list_experiments

    assert EXPERIMENTS == sorted(list_experiments())


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_old_checkpoint_loads_and_gives_the_same_outputs(experiment):
    expected = _expected(experiment)
    assert_same(observe(expected["kind"], FIXTURES / experiment), expected["outputs"], experiment)


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e.startswith("asr_")])
def test_seqlab_transcribe_reads_old_checkpoints(experiment, capsys):
    out = _cli(["transcribe", str(FIXTURES / experiment), str(INPUTS / "speech.wav")], capsys)
    assert out.splitlines() == [_expected(experiment)["outputs"]["texts"][0]]


def test_seqlab_transcribe_fuses_an_old_lm_checkpoint(capsys):
    args = ["transcribe", str(FIXTURES / "asr_bilstm"), str(INPUTS / "speech.wav")]
    lm = str(FIXTURES / "lm_gpt2_small")
    out = _cli([*args, "--decoder", "beam", "--beam-size", "4", "--lm", lm], capsys)
    assert out.splitlines() == [_expected("lm_gpt2_small")["outputs"]["fusion_asr_bilstm"]]


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e.startswith("mt_")])
def test_seqlab_translate_reads_old_checkpoints(experiment, capsys):
    want = _expected(experiment)["outputs"]
    args = ["translate", str(FIXTURES / experiment), "--input", str(INPUTS / "mt_de.txt")]
    assert _cli(args, capsys).splitlines() == want["saved_settings"]
    assert _cli([*args, "--beam-size", "1"], capsys).splitlines() == want["greedy"]
    assert _cli([*args, "--beam-size", "2"], capsys).splitlines() == want["beam2"]


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e.startswith("vocoder_")])
def test_seqlab_vocode_reads_old_checkpoints(experiment, tmp_path, capsys):
    want = _expected(experiment)["outputs"]["from_mel"]
    _cli(
        ["vocode", str(FIXTURES / experiment), str(INPUTS / "mel_80.npy"), "--out", str(tmp_path)],
        capsys,
    )
    wave, _ = sf.read(tmp_path / "mel_80.wav", dtype="float64")  # 16-bit PCM: within 1 LSB
    assert list(wave.shape) == want["shape"]
    np.testing.assert_allclose(wave[:6], want["first"], atol=1.5 / 32768)


SAVED_TARGETS = {  # every _target_ the fixtures' config.yaml files name (see the module docstring)
    "seqlab.tasks.asr.ASRTask",
    "seqlab.tasks.asr_hf.HFCTCTask",
    "seqlab.tasks.lm.LMTask",
    "seqlab.tasks.mt.MTTask",
    "seqlab.tasks.vocoder.VocoderTask",
    "seqlab.models.asr.bilstm_ctc.BiLSTMCTC",
    "seqlab.models.asr.conformer_ctc.ConformerCTC",
    "seqlab.models.mt.lstm_seq2seq.LSTMSeq2Seq",
    "seqlab.models.mt.transformer.TransformerSeq2Seq",
    "seqlab.models.vocoder.hifigan.build_generator",
    "seqlab.audio.augment.Gain",
    "seqlab.audio.augment.PolarityInversion",
    "seqlab.audio.augment.ColoredNoise",
    "seqlab.audio.augment.SpeedPerturb",
    "seqlab.audio.augment.SpecAugment",
    "seqlab.engine.schedulers.WarmupLinearDecay",
    "torch.optim.AdamW",
    "torch.optim.lr_scheduler.OneCycleLR",
    "torch.optim.lr_scheduler.ExponentialLR",
    "transformers.GPT2Config",
}


def _targets(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["_target_"]} if isinstance(node.get("_target_"), str) else set()
        return found.union(*(_targets(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_targets(v) for v in node))
    return set()


def test_the_fixtures_name_the_documented_targets():
    saved = set()
    for experiment in EXPERIMENTS:
        saved |= _targets(yaml.safe_load((FIXTURES / experiment / "config.yaml").read_text()))
    assert saved == SAVED_TARGETS
