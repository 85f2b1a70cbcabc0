"""A LibriSpeech directory made by hand, with every kind of bad item, indexed, cached and batched."""

import json

import numpy as np
import pytest
import soundfile
import torch

from seqlab.data.asr_dataset import ASRDataset
from seqlab.data.collate import collate_asr
from seqlab.data.index import build_index, ctc_min_frames
from seqlab.data.librispeech import scan_librispeech
from seqlab.data.manifest import scan_manifest
from seqlab.text.vocab import CharVocab

SR = 16000


def frames_after_stride_2(seconds: float) -> int:
    """10 ms hop, then a stride-2 encoder: 50 output frames per second."""
    return int(round(seconds * 100)) // 2


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def libri(tmp_path):
    """root/train-clean-100 with 2 good and 7 bad items, root/dev-clean with 1 good item."""
    root = tmp_path / "LibriSpeech"
    chapter = root / "train-clean-100" / "19" / "198"
    chapter.mkdir(parents=True)
    lines = {
        "19-198-0000": "HELLO WORLD",  # good, 1.0 s flac
        "19-198-0001": "ANOTHER GOOD ONE",  # good, 0.5 s, only a .wav exists
        "19-198-0002": "NO AUDIO HERE",  # missing file
        "19-198-0003": "ZERO LENGTH",  # 0-frame flac (a 0-byte file)
        "19-198-0004": "CORRUPT FILE",  # random bytes
        "19-198-0005": "?!",  # empty after normalisation
        "19-198-0006": "ROOM 101",  # digits: unmappable
        "19-198-0007": "BOOKKEEPER",  # 10 tokens + 3 repeats = 13 > 12 frames in 0.24 s
        "19-198-0008": "BOOKKEEPER",  # 13 frames in 0.26 s: just fits (good)
    }
    (chapter / "19-198.trans.txt").write_text("".join(f"{k} {v}\n" for k, v in lines.items()))
    soundfile.write(chapter / "19-198-0000.flac", tone(1.0), SR)
    soundfile.write(chapter / "19-198-0001.wav", tone(0.5), SR)
    soundfile.write(chapter / "19-198-0003.flac", np.zeros(0, np.float32), SR)
    (chapter / "19-198-0004.flac").write_bytes(np.random.default_rng(0).bytes(2000))
    for utt, seconds in [("0005", 0.5), ("0006", 0.5), ("0007", 0.24), ("0008", 0.26)]:
        soundfile.write(chapter / f"19-198-{utt}.flac", tone(seconds), SR)
    dev = root / "dev-clean" / "84" / "121"
    dev.mkdir(parents=True)
    (dev / "84-121.trans.txt").write_text("84-121-0000 DEV SET\n")
    soundfile.write(dev / "84-121-0000.flac", tone(0.75), SR)
    return root


def test_librispeech_index_finds_good_and_bad_items(libri, tmp_path):
    items = scan_librispeech(libri, ["train-clean-100", "dev-clean"])
    assert len(items) == 10
    assert items[1].audio_path.endswith("19-198-0001.wav")  # wav accepted when flac is absent
    bad_path = tmp_path / "run" / "bad_items.jsonl"
    result = build_index(
        items, tmp_path / "index.jsonl", CharVocab(), frames_after_stride_2, bad_path
    )
    good = {u.id: u for u in result.utterances}
    assert sorted(good) == ["19-198-0000", "19-198-0001", "19-198-0008", "84-121-0000"]
    assert good["19-198-0000"].text == "hello world"
    assert good["19-198-0000"].duration == pytest.approx(1.0)
    assert good["19-198-0001"].duration == pytest.approx(0.5)
    assert good["84-121-0000"].duration == pytest.approx(0.75)
    assert good["19-198-0000"].sample_rate == SR

    lines = [json.loads(line) for line in bad_path.read_text().splitlines()]
    assert {b["id"]: b["reason"] for b in lines} == {
        "19-198-0002": "missing_file",
        "19-198-0003": "empty_audio",
        "19-198-0004": "undecodable",
        "19-198-0005": "empty_transcript",
        "19-198-0006": "unmappable",
        "19-198-0007": "too_short_for_ctc",
    }
    assert all(set(b) == {"id", "audio_path", "reason", "detail"} for b in lines)
    unmappable = next(b for b in lines if b["reason"] == "unmappable")
    assert "'0'" in unmappable["detail"] and "'1'" in unmappable["detail"]
    assert result.summary.startswith("10 items, 6 bad (") and str(bad_path) in result.summary


def test_no_bad_items_file_when_all_good(libri, tmp_path):
    bad_path = tmp_path / "bad_items.jsonl"
    result = build_index(scan_librispeech(libri, ["dev-clean"]), None, CharVocab(), None, bad_path)
    assert len(result.utterances) == 1 and not bad_path.exists()


def test_max_duration_and_ctc_repeats(libri):
    items = scan_librispeech(libri, ["train-clean-100"])
    result = build_index(items, None, CharVocab(), max_duration=0.75)
    reasons = {b.id: b.reason for b in result.bad}
    assert reasons["19-198-0000"] == "too_long"
    assert "19-198-0007" not in reasons  # no min_frames_fn: no CTC check
    assert ctc_min_frames([3, 3, 4, 4, 4, 5]) == 6 + 3
    assert ctc_min_frames([]) == 0


def test_missing_subset_names_it_and_lists_found(libri):
    with pytest.raises(FileNotFoundError, match="train-other-500") as err:
        scan_librispeech(libri, ["train-clean-100", "train-other-500"])
    assert "dev-clean" in str(err.value) and "train-clean-100" in str(err.value)


def test_cache_is_used_and_changed_files_are_reread(libri, tmp_path, monkeypatch):
    items = scan_librispeech(libri, ["train-clean-100"])
    cache = tmp_path / "index.jsonl"
    first = build_index(items, cache, CharVocab(), frames_after_stride_2)

    calls = []
    real_info = soundfile.info

    def counting_info(path, *args, **kwargs):
        calls.append(path)
        return real_info(path, *args, **kwargs)

    def failing_info(path, *args, **kwargs):
        raise AssertionError(f"the cache should have answered for {path}")

    monkeypatch.setattr(soundfile, "info", failing_info)
    second = build_index(items, cache, CharVocab(), frames_after_stride_2)
    assert second.utterances == first.utterances
    assert [(b.id, b.reason) for b in second.bad] == [(b.id, b.reason) for b in first.bad]

    # Re-write one file with another length: exactly that file is read again.
    soundfile.write(libri / "train-clean-100/19/198/19-198-0000.flac", tone(2.0), SR)
    monkeypatch.setattr(soundfile, "info", counting_info)
    third = build_index(items, cache, CharVocab(), frames_after_stride_2)
    assert len(calls) == 1 and calls[0].endswith("19-198-0000.flac")
    assert {u.id: u.duration for u in third.utterances}["19-198-0000"] == pytest.approx(2.0)


def test_verify_audio_finds_silent_files(tmp_path):
    soundfile.write(tmp_path / "silent.wav", np.zeros(SR // 2, np.float32), SR)
    soundfile.write(tmp_path / "tone.wav", tone(0.5), SR)
    items = [
        ("silent", tmp_path / "silent.wav", "hush", None),
        ("tone", tmp_path / "tone.wav", "a", None),
    ]
    cache = tmp_path / "cache.jsonl"
    assert len(build_index(items, cache, CharVocab()).utterances) == 2  # headers only
    verified = build_index(items, cache, CharVocab(), verify_audio=True)  # cache was unverified
    assert [u.id for u in verified.utterances] == ["tone"]
    assert verified.bad[0].reason == "empty_audio" and "zero" in verified.bad[0].detail


def test_manifest_relative_and_absolute_paths(tmp_path):
    (tmp_path / "audio").mkdir()
    soundfile.write(tmp_path / "audio" / "a.wav", tone(0.5), SR)
    soundfile.write(tmp_path / "b.flac", tone(0.25), SR)
    manifest = tmp_path / "data" / "train.json"
    manifest.parent.mkdir()
    entries = [
        {"audio_filepath": "../audio/a.wav", "text": "First one", "duration": 0.5},
        {"audio_filepath": str(tmp_path / "b.flac"), "text": "second"},
        {"audio_filepath": "../audio/c.wav", "duration": 1.0},  # no text: empty transcript
    ]
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    items = scan_manifest(manifest)
    assert [it.duration for it in items] == [0.5, None, 1.0]
    result = build_index(items, None, CharVocab())
    assert [(u.text, round(u.duration, 3)) for u in result.utterances] == [
        ("first one", 0.5),
        ("second", 0.25),
    ]
    assert [b.reason for b in result.bad] == ["missing_file"]  # c.wav is checked first

    manifest.write_text(json.dumps(entries[0]) + "\n\n{not json\n")
    with pytest.raises(ValueError, match=r"train.json line 3"):
        scan_manifest(manifest)


def test_dataset_and_collate(libri):
    vocab = CharVocab()
    result = build_index(scan_librispeech(libri, ["train-clean-100"]), None, vocab)
    dataset = ASRDataset(result.utterances, vocab, sample_rate=8000)  # resampled from 16 kHz
    assert dataset.durations == pytest.approx([1.0, 0.5, 0.24, 0.26])
    item = dataset[0]
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (8000,)
    assert item["tokens"].tolist() == vocab.encode("hello world") and item["text"] == "hello world"
    assert item["id"] == "19-198-0000" and item["path"].endswith("19-198-0000.flac")

    batch = collate_asr([dataset[0], dataset[1]])
    assert batch["audio"].shape == (2, 8000) and batch["audio"].dtype == torch.float32
    assert batch["audio_lengths"].tolist() == [8000, 4000]
    assert torch.all(batch["audio"][1, 4000:] == 0)
    assert torch.equal(batch["audio"][1, :4000], dataset[1]["audio"])
    assert batch["token_lengths"].tolist() == [11, 16]
    assert batch["tokens"].shape == (2, 16) and batch["tokens"][0, 11:].eq(0).all()
    assert batch["texts"] == ["hello world", "another good one"]
    assert batch["padding_fraction"] == pytest.approx(4000 / 16000)
