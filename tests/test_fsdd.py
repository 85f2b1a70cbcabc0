"""FSDD manifests: a user who has the recordings gets the dataset's split and held-out-speaker
splits, and `data=fsdd` reads them without leaving any clip out (FSDD's clips are as short as 0.14 s)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqlab.data.fsdd import DIGIT_WORDS, write_manifests

SPEAKERS = ("jackson", "theo", "yweweler")
DIGITS = tuple(range(10))
TAKES = (0, 4, 5, 9, 10, 12)


def _make_recordings(root: Path) -> Path:
    """A tiny FSDD: 3 speakers x 10 digits x 6 takes of 8 kHz noise, 0.14-0.3 s long."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for s, speaker in enumerate(SPEAKERS):
        for digit in DIGITS:
            for take in TAKES:
                n = 1120 + 80 * ((s + digit + take) % 13)  # 0.14 s (FSDD's shortest) and up
                audio = (0.1 * rng.standard_normal(n)).astype(np.float32)
                sf.write(rec / f"{digit}_{speaker}_{take}.wav", audio, 8000, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """One tiny FSDD for the module (write_manifests is idempotent, so tests may share it)."""
    return _make_recordings(tmp_path_factory.mktemp("fsdd"))


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _key(entry: dict) -> tuple[int, str, int]:
    digit, speaker, take = entry["id"].split("_")
    return int(digit), speaker, int(take)


def test_dataset_split_takes_texts_and_paths(corpus):
    root = corpus
    written = write_manifests(root)
    n = len(SPEAKERS) * len(DIGITS)
    assert written["train.jsonl"] == 2 * n and written["val.jsonl"] == 2 * n
    assert written["test.jsonl"] == 2 * n
    takes = {"test": {0, 4}, "val": {5, 9}, "train": {10, 12}}
    for split, expected in takes.items():
        for entry in _read(root / f"{split}.jsonl"):
            digit, speaker, take = _key(entry)
            assert take in expected, (split, entry)
            assert entry["text"] == DIGIT_WORDS[digit]
            audio = root / entry["audio_filepath"]
            assert audio.is_file()
            assert entry["duration"] == pytest.approx(sf.info(str(audio)).duration, abs=1e-3)


def test_heldout_speaker_is_never_heard_in_training(corpus):
    root = corpus
    write_manifests(root)
    everything = {_key(e) for s in ("train", "val", "test") for e in _read(root / f"{s}.jsonl")}
    for held in SPEAKERS:
        splits = {
            s: _read(root / f"heldout_{held}" / f"{s}.jsonl") for s in ("train", "val", "test")
        }
        assert {_key(e)[1] for e in splits["test"]} == {held}
        assert len(splits["test"]) == len(DIGITS) * len(TAKES)  # every take of the speaker
        for split in ("train", "val"):
            assert held not in {_key(e)[1] for e in splits[split]}
        assert {_key(e) for s in splits.values() for e in s} == everything
        for entry in splits["train"]:  # paths are relative to the manifest's own folder
            assert (root / f"heldout_{held}" / entry["audio_filepath"]).is_file()


def test_rerun_gives_identical_sorted_manifests(corpus):
    root = corpus
    first = write_manifests(root)
    contents = {rel: (root / rel).read_bytes() for rel in first}
    assert write_manifests(root) == first
    assert {rel: (root / rel).read_bytes() for rel in first} == contents
    keys = [_key(e) for e in _read(root / "test.jsonl")]
    assert keys == sorted(keys, key=lambda k: (k[1], k[0], k[2]))
    assert not list(root.rglob("*.tmp"))


def _write_many(root: str, times: int, start) -> None:
    start.wait(timeout=60)  # both processes begin together
    for _ in range(times):
        write_manifests(root)


def test_two_runs_writing_the_manifests_at_once_both_succeed(corpus):
    """Two trainings started together on one corpus both write the manifests: neither may move the
    other's temporary file away (a shared `.tmp` name failed with FileNotFoundError)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_write_many, args=(str(corpus), 60, start)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert not list(corpus.rglob("*.tmp"))
    keys = [_key(e) for e in _read(corpus / "test.jsonl")]
    assert len(keys) == len(SPEAKERS) * len(DIGITS) * sum(t < 5 for t in TAKES)


def test_wrong_corpus_dir_and_odd_file_names_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="recordings"):
        write_manifests(tmp_path)
    root = tmp_path / "odd"
    (root / "recordings").mkdir(parents=True)
    sf.write(root / "recordings" / "7_theo_0.wav", np.zeros(800, np.float32), 8000)
    sf.write(root / "recordings" / "seven_theo.wav", np.zeros(800, np.float32), 8000)
    with pytest.raises(ValueError, match="seven_theo.wav"):
        write_manifests(root)


@pytest.mark.parametrize(
    "experiment, small", [("asr_conformer_fsdd", "model.num_layers=1"), ("asr_bilstm_fsdd", "")]
)
def test_fsdd_config_reads_every_clip_of_a_heldout_split(
    corpus, tmp_path, monkeypatch, experiment, small
):
    from seqlab.config import compose_experiment
    from seqlab.tasks.asr.task import ASRTask

    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = corpus
    write_manifests(root)
    overrides = [f"data.root={root}", "data.manifests=heldout_theo"]
    cfg = compose_experiment(experiment, overrides + ([small] if small else []))
    task = ASRTask(cfg)
    assert [len(task.vocab.encode(word)) for word in DIGIT_WORDS] == [1] * 10  # one output a word
    utterances = task.utterances("test", None)
    assert task.left_out("test") == []  # the 0.14 s "three" is long enough for CTC
    assert len(utterances) == len(DIGITS) * len(TAKES)
    assert {u.sample_rate for u in utterances} == {8000}
