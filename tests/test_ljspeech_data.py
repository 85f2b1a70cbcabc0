"""LJSpeech reader, splits, bad items, and deterministic, resumable, sharded vocoder segments."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from seqlab.audio.resample import resample
from seqlab.data.ljspeech import read_metadata, scan_ljspeech, split_ids
from seqlab.data.vocoder_dataset import SegmentBatchSampler, crop_seed
from seqlab.tasks.vocoder.data import vocoder_data_spec

SR = 22050
SEGMENT = 2048


def _write_corpus(root, n: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """n wavs of distinct noise (0.05-0.3 s, some shorter than a segment) and a metadata.csv."""
    rng = np.random.default_rng(seed)
    (root / "wavs").mkdir(parents=True)
    waves, lines = {}, []
    for k in range(n):
        utt_id = f"LJ{k // 10 + 1:03d}-{k % 10 + 1:04d}"
        length = int(rng.integers(SEGMENT // 2, 3 * SEGMENT))
        wave = (rng.uniform(-0.5, 0.5, length) * (0.2 + k / n)).astype(np.float32)
        sf.write(root / "wavs" / f"{utt_id}.wav", wave, SR, subtype="FLOAT")
        waves[utt_id] = wave
        lines.append(f'{utt_id}|He said "Mr. {k}" |He said "Mister {k}" ')
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return waves


def _cfg(root, **overrides):
    base = dict(format="ljspeech", root=str(root), sample_rate=SR, segment_size=SEGMENT,
                batch_size=4, val_batch_size=2, val_fraction=0.1, split_seed=1234,
                train_filelist=None, val_filelist=None, val_max_items=None, val_max_seconds=None,
                min_seconds=0.01, verify_audio=True, peak_normalize=False)  # fmt: skip
    return OmegaConf.create({**base, **overrides})


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "LJSpeech-1.1"
    return root, _write_corpus(root)


def _epoch(spec, epoch: int, workers: int = 0, start: int = 0) -> list[dict]:
    spec.batch_sampler.set_epoch(epoch)
    spec.batch_sampler.set_start_batch(start)
    loader = DataLoader(spec.dataset, batch_sampler=spec.batch_sampler,
                        collate_fn=spec.collate_fn, num_workers=workers)  # fmt: skip
    return list(loader)


def _same(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x["ids"] == y["ids"] and torch.equal(x["audio"], y["audio"])
        for x, y in zip(a, b, strict=False)
    )


def test_metadata_keeps_quotes_and_names_bad_lines(corpus, tmp_path):
    root, _ = corpus
    rows = read_metadata(root)
    assert rows[3] == ("LJ001-0004", 'He said "Mr. 3" ', 'He said "Mister 3" ')
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metadata.csv").write_text("LJ1|a|a\nLJ2|only two\n")
    with pytest.raises(ValueError, match=r"metadata.csv line 2: expected .* got 2 field"):
        read_metadata(bad)
    with pytest.raises(FileNotFoundError, match="metadata.csv not found"):
        read_metadata(tmp_path / "nowhere")


def test_default_split_is_deterministic_and_disjoint(corpus):
    root, waves = corpus
    train = [i.id for i in scan_ljspeech(root, "train", val_fraction=0.05)]
    val = [i.id for i in scan_ljspeech(root, "val", val_fraction=0.05)]
    assert len(val) == 2 and len(train) == 38
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(waves)
    assert train == sorted(train)  # metadata order
    assert val == [i.id for i in scan_ljspeech(root, "val", val_fraction=0.05)]
    other = {i.id for i in scan_ljspeech(root, "val", val_fraction=0.05, seed=7)}
    assert other != set(val)
    ids = [f"x{i}" for i in range(1000)]
    t, v = split_ids(ids, 0.05, 1234)
    assert len(v) == 50 and not t & v and split_ids(list(reversed(ids)), 0.05, 1234)[1] == v


def test_official_file_lists(corpus):
    root, _ = corpus
    (root / "training.txt").write_text("LJ001-0001|text one\nLJ001-0002|text two\n")
    (root / "validation.txt").write_text("wavs/LJ002-0001.wav|text\n")
    train = scan_ljspeech(
        root, "train", train_filelist="training.txt", val_filelist="validation.txt"
    )
    val = scan_ljspeech(root, "val", train_filelist="training.txt", val_filelist="validation.txt")
    assert [i.id for i in train] == ["LJ001-0001", "LJ001-0002"]
    assert [i.id for i in val] == ["LJ002-0001"]
    assert val[0].audio_path == str(root / "wavs" / "LJ002-0001.wav")
    rest = scan_ljspeech(root, "val", train_filelist=root / "training.txt")
    assert len(rest) == 38
    (root / "validation.txt").write_text("LJ009-0009|not in metadata\n")
    with pytest.raises(ValueError, match="LJ009-0009"):
        scan_ljspeech(root, "val", val_filelist="validation.txt")


def test_bad_items_are_left_out_and_written(corpus, tmp_path, capsys):
    root, _ = corpus
    (root / "wavs" / "LJ001-0001.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)  # corrupted
    sf.write(root / "wavs" / "LJ001-0002.wav", np.zeros(0, np.float32), SR)  # empty (0 frames)
    (root / "wavs" / "LJ001-0003.wav").unlink()  # missing
    sf.write(root / "wavs" / "LJ001-0004.wav", np.zeros(SR, np.float32), SR)  # all zeros
    sf.write(root / "wavs" / "LJ001-0005.wav", np.ones(100, np.float32) * 0.1, SR)  # too short
    run_dir = tmp_path / "run"
    spec = vocoder_data_spec(_cfg(root, val_fraction=0.0), "train", 0, 1, run_dir, seed=0)
    records = [json.loads(line) for line in (run_dir / "bad_items.jsonl").read_text().splitlines()]
    reasons = {r["id"]: r["reason"] for r in records}
    assert reasons == {
        "LJ001-0001": "undecodable", "LJ001-0002": "empty_audio", "LJ001-0003": "missing_file",
        "LJ001-0004": "empty_audio", "LJ001-0005": "too_short",
    }  # fmt: skip
    assert set(records[0]) == {"id", "audio_path", "reason", "detail"}
    assert len(spec.dataset) == 35
    assert "5 bad" in capsys.readouterr().out
    assert len(_epoch(spec, 0)) == 35 // 4
    other_rank = vocoder_data_spec(_cfg(root, val_fraction=0.0), "train", 1, 2, tmp_path / "r1", 0)
    assert len(other_rank.dataset) == 35 and not (tmp_path / "r1").exists()  # rank 0 writes


def test_segments_are_a_function_of_seed_epoch_index(corpus):
    root, waves = corpus
    spec = vocoder_data_spec(_cfg(root), "train", 0, 1, None, seed=5)
    first = _epoch(spec, 0)
    assert len(first) == len(spec.dataset) // 4  # the last partial batch is dropped
    assert _same(first, _epoch(spec, 0, workers=1))  # same crops in a worker process
    assert _same(first, _epoch(vocoder_data_spec(_cfg(root), "train", 0, 1, None, seed=5), 0))
    second = _epoch(spec, 1)
    assert not _same(first, second)
    assert _same(second, _epoch(spec, 1, workers=1))
    for batch in first:
        assert batch["audio"].shape == (4, SEGMENT) and batch["audio"].dtype == torch.float32
        for row, utt_id in enumerate(batch["ids"]):
            full, n = waves[utt_id], int(batch["audio_lengths"][row])
            assert n == min(SEGMENT, len(full))
            crop = batch["audio"][row].numpy()
            assert not crop[n:].any()  # zero-padded at the end
            starts = [
                s for s in range(len(full) - n + 1) if np.array_equal(full[s : s + n], crop[:n])
            ]
            assert starts, f"{utt_id}: the crop is not a slice of the file"
    sampler = SegmentBatchSampler(len(spec.dataset), 4, seed=5)
    sampler.set_epoch(3)
    for batch in sampler:
        assert all(seed == crop_seed(5, 3, index) for index, seed in batch)


def test_mid_epoch_resume_and_ddp_shards(corpus):
    root, _ = corpus
    spec = vocoder_data_spec(_cfg(root), "train", 0, 1, None, seed=2)
    full = _epoch(spec, 4)
    assert _same(_epoch(spec, 4, start=3), full[3:])
    assert _same(_epoch(spec, 4), full)  # the start applies to one iteration only
    ranks = [vocoder_data_spec(_cfg(root), "train", r, 2, None, seed=2) for r in (0, 1)]
    shards = [_epoch(s, 4) for s in ranks]
    assert len(shards[0]) == len(shards[1]) == len(ranks[0].batch_sampler) == len(full) // 2
    ids = [[i for b in shard for i in b["ids"]] for shard in shards]
    assert set(ids[0]).isdisjoint(ids[1])
    assert _same(shards[0], full[0::2][: len(shards[0])])  # same crops as one process would take
    assert _same(shards[1], full[1::2][: len(shards[1])])


def test_validation_batches_whole_utterances_in_order(corpus):
    root, waves = corpus
    spec = vocoder_data_spec(_cfg(root), "val", 0, 1, None, seed=0)
    batches = _epoch(spec, 0)
    assert [i for b in batches for i in b["ids"]] == [i.id for i in scan_ljspeech(root, "val", 0.1)]
    for batch in batches:
        assert batch["audio"].shape[1] == int(batch["audio_lengths"].max())
        for row, utt_id in enumerate(batch["ids"]):
            n = int(batch["audio_lengths"][row])
            np.testing.assert_array_equal(batch["audio"][row, :n].numpy(), waves[utt_id])
            assert not batch["audio"][row, n:].any()
    capped = vocoder_data_spec(_cfg(root, val_max_seconds=0.05, val_max_items=2), "val", 0, 1,
                               None, seed=0)  # fmt: skip
    items = [capped.dataset[i] for i in range(len(capped.dataset))]
    assert len(items) == 2 and all(len(it["audio"]) == min(int(0.05 * SR), 99999) for it in items)
    assert _same(_epoch(spec, 0), _epoch(spec, 7))  # validation never changes


def test_resampling_mixdown_and_peak_normalize(corpus):
    root, waves = corpus
    stereo = np.stack([waves["LJ001-0001"][:3000]] * 2, axis=1) * 0.5  # (T, 2)
    sf.write(root / "wavs" / "LJ001-0001.wav", stereo, 16000, subtype="FLOAT")
    cfg = _cfg(root, val_fraction=0.0, peak_normalize=True)
    spec = vocoder_data_spec(cfg, "train", 0, 1, None, seed=0)
    dataset = spec.dataset
    k = [u.id for u in dataset.utterances].index("LJ001-0001")
    whole = dataset[k]["audio"]
    assert len(whole) == dataset.num_samples(k) == -(-3000 * SR // 16000)
    assert float(whole.abs().max()) == pytest.approx(0.95, abs=1e-6)  # the resampled peak
    mono = np.asarray(resample(stereo.mean(axis=1).astype(np.float32), 16000, SR))
    np.testing.assert_allclose(whole.numpy(), mono * (0.95 / np.abs(mono).max()), atol=1e-6)
    for j in (0, 5):
        item = dataset[j]["audio"]
        assert float(item.abs().max()) == pytest.approx(0.95, abs=1e-6)
    seg = dataset[(k, 123)]["audio"]
    assert len(seg) == SEGMENT
    start = int(np.random.default_rng(123).integers(0, len(whole) - SEGMENT + 1))
    torch.testing.assert_close(seg, whole[start : start + SEGMENT])
    with pytest.raises(ValueError, match="verify_audio"):
        vocoder_data_spec(_cfg(root, peak_normalize=True, verify_audio=False), "train", 0, 1,
                          None, seed=0)  # fmt: skip


def test_too_few_items_for_a_batch(corpus):
    root, _ = corpus
    with pytest.raises(ValueError, match="fewer than batch_size"):
        vocoder_data_spec(_cfg(root, batch_size=64), "train", 0, 1, None, seed=0)
