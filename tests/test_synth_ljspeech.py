"""The built-in single-voice corpus in LJSpeech layout: deterministic, readable by scan_ljspeech."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import seqlab
from seqlab.corpora.synth_ljspeech import build_ljspeech_corpus, raw_text
from seqlab.data.ljspeech import read_metadata, scan_ljspeech

HOURS = 0.004  # ~14 s of audio: a handful of utterances


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_lj") / "a"
    summary = build_ljspeech_corpus(out, hours=HOURS, seed=3, workers=2, progress=False)
    return out, summary


def test_layout_format_and_summary(corpus):
    out, summary = corpus
    assert json.loads((out / "corpus.json").read_text()) == summary
    rows = read_metadata(out)
    assert len(rows) == summary["utterances"] >= 3
    assert summary["seconds"] >= HOURS * 3600
    total = 0.0
    for k, (utt_id, text, normalized) in enumerate(rows):
        assert utt_id == f"SYN001-{k + 1:04d}"
        assert text[0].isupper() and text.endswith(".") and normalized.endswith(".")
        assert not any(c.isdigit() for c in normalized)
        info = sf.info(str(out / "wavs" / f"{utt_id}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        total += info.frames / info.samplerate
        wave, _ = sf.read(str(out / "wavs" / f"{utt_id}.wav"))
        assert 0.05 < np.abs(wave).max() <= 0.95
    assert total == pytest.approx(summary["seconds"], abs=1e-3)
    with open(out / "metadata.csv", newline="") as f:  # LJSpeech's own reading: no quoting
        assert all(len(r) == 3 for r in csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE))


def test_same_seed_same_bytes_any_workers(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "b"
    build_ljspeech_corpus(again, hours=HOURS, seed=3, workers=1, progress=False)
    names = sorted(p.name for p in (out / "wavs").iterdir())
    assert names == sorted(p.name for p in (again / "wavs").iterdir())
    for name in names:
        assert (out / "wavs" / name).read_bytes() == (again / "wavs" / name).read_bytes()
    for name in ("metadata.csv", "corpus.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes()
    other = tmp_path / "c"
    build_ljspeech_corpus(other, hours=HOURS, seed=4, workers=1, progress=False)
    assert (other / "metadata.csv").read_text() != (out / "metadata.csv").read_text()


def test_scan_ljspeech_reads_it(corpus):
    out, summary = corpus
    train = scan_ljspeech(out, "train")
    val = scan_ljspeech(out, "val")
    assert len(train) + len(val) == summary["utterances"] and len(val) >= 1
    assert {i.id for i in train}.isdisjoint(i.id for i in val)
    assert all((out / "wavs" / f"{i.id}.wav").is_file() for i in train + val)


def test_refuses_to_overwrite(corpus):
    out, _ = corpus
    with pytest.raises(FileExistsError, match="already holds a corpus"):
        build_ljspeech_corpus(out, hours=HOURS, seed=3, progress=False)


def test_raw_text_digits_only_for_plain_cardinals():
    assert raw_text("the shop sold thirty four thousand one hundred and sixty eight grapes") == (
        "The shop sold 34,168 grapes."
    )
    assert raw_text("i need twelve apples and two pears") == "I need 12 apples and two pears."
    assert (
        raw_text("it costs twenty dollars and fifty cents") == "It costs 20 dollars and 50 cents."
    )
    for words in (
        "it starts on the twenty ninth of april",  # ordinal
        "in nineteen eighty four",  # year: not one cardinal
        "set an alarm for two thirty nine",  # time
        "my number ends in oh oh eight six",
    ):
        assert raw_text(words) == words[0].upper() + words[1:] + "."


def test_cli_layout_ljspeech(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "seqlab.cli", "data", "synth-speech", str(out), "--layout",
           "ljspeech", "--hours", "0.001", "--seed", "1", "--workers", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "corpus.json").read_text())["layout"] == "ljspeech"
    assert len(read_metadata(out)) >= 1


def test_data_spec_builds_the_builtin_corpus_when_missing(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from seqlab.tasks.vocoder.data import vocoder_data_spec

    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    cfg = OmegaConf.load(Path(seqlab.__file__).parent / "configs/data/synth_ljspeech.yaml")
    cfg.root, cfg.corpus_hours, cfg.batch_size = str(tmp_path / "built"), 0.002, 2
    spec = vocoder_data_spec(cfg, "train", 0, 1, tmp_path / "run", seed=0)
    assert (tmp_path / "built" / "corpus.json").is_file()
    batch = spec.collate_fn([spec.dataset[pair] for pair in next(iter(spec.batch_sampler))])
    assert batch["audio"].shape == (2, 8192) and not (tmp_path / "run").exists()  # no bad items
