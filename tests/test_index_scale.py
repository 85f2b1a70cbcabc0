"""The index at scale, small: bench/index_scale.py's generated LibriSpeech tree (header-only flac
files) indexed with the durations its headers declare, reloaded from the cache, bucketed; and
the LibriSpeech reader's one listing per chapter chooses the audio file as a stat per file did."""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqlab.data.bucketing import DynamicBucketBatchSampler
from seqlab.data.index import build_index
from seqlab.data.librispeech import scan_librispeech
from seqlab.text.vocab import CharVocab

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import index_scale  # noqa: E402


def min_frames(seconds: float) -> int:
    return int(seconds * 100) // 4  # a 10 ms hop, 4x subsampling


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("index_scale") / "LibriSpeech"
    declared, missing = index_scale.generate_tree(root, 2000, seed=3, missing_every=500)
    return root, declared, missing


def test_generated_tree_indexes_with_the_declared_lengths(tree, tmp_path, monkeypatch):
    root, declared, missing = tree
    items = scan_librispeech(root, [index_scale.SUBSET])
    assert sorted(item.id for item in items) == sorted(declared) and len(missing) == 4
    # A real header: soundfile (what the index reads) sees the declared rate and length.
    info = soundfile.info(items[0].audio_path)
    assert (info.samplerate, info.frames) == (16000, round(declared[items[0].id] * 16000))

    cache = tmp_path / "index.jsonl"
    first = build_index(items, cache, CharVocab(), min_frames)
    assert sorted(b.id for b in first.bad) == sorted(missing)
    assert {b.reason for b in first.bad} == {"missing_file"}
    assert len(first.utterances) == 2000 - len(missing)
    for utt in first.utterances:
        assert utt.duration == round(declared[utt.id] * 16000) / 16000
    durations = np.array(first.durations)
    # Varied lengths, so that bucketing has something to do: short, long and most near 15 s.
    assert durations.min() < 4.0 and durations.max() > 20.0 and 10.0 < np.median(durations) < 16.0

    def no_header_reads(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(soundfile, "info", no_header_reads)
    again = build_index(items, cache, CharVocab(), min_frames)
    assert again.utterances == first.utterances
    assert [(b.id, b.reason) for b in again.bad] == [(b.id, b.reason) for b in first.bad]

    sampler = DynamicBucketBatchSampler(first.durations, 320.0, num_buckets=30, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(durations)))


def test_bench_phases_run_and_report(tree, tmp_path, capsys):
    """The bench's child phases, in this process: the index phase writes the durations that the
    sampler phase batches, and each reports its times and memory."""
    root, _, missing = tree
    args = argparse.Namespace(
        root=str(root),
        cache=str(tmp_path / "index.jsonl"),
        durations=str(tmp_path / "durations.npy"),
        world_size=8,
    )
    built = index_scale._phase_index(args)
    assert built["items"] == 2000 and built["good"] == 2000 - len(missing)
    assert built["peak_rss"] > 0 and built["start_rss"] > 0  # (the kernel updates the peak lazily)
    sampled = index_scale._phase_sampler(args)
    assert sampled["world_size"] == 8 and sampled["batches"] > 0
    assert len(set(sampled["digests"])) == 2  # two epochs, two orders


def test_chapter_listing_picks_the_audio_a_stat_would(tmp_path):
    """flac when it exists, else wav when that exists, else the (missing) flac; a broken flac
    symlink does not exist (as for os.path.exists), so its wav is taken."""
    chapter = tmp_path / "LS" / "train" / "1" / "2"
    chapter.mkdir(parents=True)
    (chapter / "1-2-0.flac").write_bytes(index_scale.flac_header(16000))
    (chapter / "1-2-1.wav").write_bytes(b"")
    (chapter / "1-2-3.wav").write_bytes(b"")
    os.symlink(tmp_path / "nowhere.flac", chapter / "1-2-3.flac")
    ids = ["1-2-0", "1-2-1", "1-2-2", "1-2-3"]
    (chapter / "1-2.trans.txt").write_text("".join(f"{i} A WORD\n" for i in ids))
    found = [Path(item.audio_path).name for item in scan_librispeech(tmp_path / "LS", "train")]
    assert found == ["1-2-0.flac", "1-2-1.wav", "1-2-2.flac", "1-2-3.wav"]


def test_a_damaged_cache_line_costs_only_its_file(tree, tmp_path, monkeypatch, caplog):
    """The cache file is parsed in blocks; a damaged line sends its block through the per-line
    parse, which names the line and re-reads only that line's header."""
    root, _, _ = tree
    items = scan_librispeech(root, [index_scale.SUBSET])[:30]
    cache = tmp_path / "index.jsonl"
    first = build_index(items, cache, CharVocab(), min_frames)
    lines = cache.read_text().splitlines()
    lines[6] = lines[6][:40]  # cut mid-record, as a crashed writer (without os.replace) would
    cache.write_text("\n".join(lines) + "\n")
    reads = []
    real_info = soundfile.info
    monkeypatch.setattr(soundfile, "info", lambda path: reads.append(path) or real_info(path))
    again = build_index(items, cache, CharVocab(), min_frames)
    assert again.utterances == first.utterances
    assert len(reads) == 1 and "line 7 is not a cache entry" in caplog.text


def test_dataset_tokens_are_each_transcript_encoded(tree, tmp_path, monkeypatch):
    """The dataset keeps all token ids in one array (blocks of ENCODE_BLOCK transcripts while
    it is built): item i still gets exactly vocab.encode(text of i)."""
    from seqlab.data import asr_dataset

    root, _, _ = tree
    utterances = build_index(scan_librispeech(root, [index_scale.SUBSET]), None, CharVocab())
    utterances = utterances.utterances[:700]
    for utt in utterances[:3]:
        utt.audio_path = str(tmp_path / "tone.wav")  # the generated flac files hold no audio
    soundfile.write(tmp_path / "tone.wav", np.full(1600, 0.1, np.float32), 16000)
    monkeypatch.setattr(asr_dataset, "ENCODE_BLOCK", 300)  # three blocks
    dataset = asr_dataset.ASRDataset(utterances, CharVocab(), 16000)
    assert dataset._tokens.dtype == np.int16 and len(dataset._offsets) == 701
    for index in (0, 1, 2, -700):
        item = dataset[index]
        assert item["tokens"].dtype == torch.long
        assert item["tokens"].tolist() == CharVocab().encode(utterances[index].text)
    lengths = np.diff(dataset._offsets)
    assert lengths.tolist() == [len(CharVocab().encode(u.text)) for u in utterances]
    assert dataset._tokens.tolist() == [i for u in utterances for i in CharVocab().encode(u.text)]
