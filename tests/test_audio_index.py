"""The one audio index (the ASR index and the vocoder's read, cache and check audio the same way)
and the one cache directory."""

import json

import numpy as np
import pytest
import soundfile

from seqlab.data import index as index_module
from seqlab.data.cache import cache_dir
from seqlab.data.index import build_index, scan_audio
from seqlab.data.vocoder_dataset import index_audio
from seqlab.text.vocab import CharVocab

SR = 16000


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amplitude * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


@pytest.fixture
def items(tmp_path):
    """One item per audio problem, two good ones, and an id used twice."""
    soundfile.write(tmp_path / "good.wav", tone(0.5), SR)
    soundfile.write(tmp_path / "loud.flac", tone(0.25, amplitude=0.8), SR)
    soundfile.write(tmp_path / "empty.flac", np.zeros(0, np.float32), SR)  # a 0-byte file
    (tmp_path / "noise.flac").write_bytes(np.random.default_rng(0).bytes(2000))
    soundfile.write(tmp_path / "silent.wav", np.zeros(SR // 4, np.float32), SR)
    left = tone(0.25)
    stereo = np.stack([left, -left], axis=1)  # (T, 2): L = -R, exactly (float samples)
    soundfile.write(tmp_path / "cancel.wav", stereo, SR, subtype="FLOAT")
    return [
        ("good", tmp_path / "good.wav", "hello", None),
        ("missing", tmp_path / "nowhere.wav", "hello", None),
        ("empty", tmp_path / "empty.flac", "hello", None),
        ("noise", tmp_path / "noise.flac", "hello", None),
        ("silent", tmp_path / "silent.wav", "hello", None),
        ("cancel", tmp_path / "cancel.wav", "hello", None),
        ("good", tmp_path / "loud.flac", "hello", None),  # duplicate id
        ("loud", tmp_path / "loud.flac", "hello", None),
    ]


EXPECTED_BAD = [
    ("missing", "missing_file"),
    ("empty", "empty_audio"),
    ("noise", "undecodable"),
    ("silent", "empty_audio"),
    ("cancel", "empty_audio"),
    ("good", "duplicate_id"),
]


def test_asr_and_vocoder_indexes_agree_on_audio(items, tmp_path):
    asr = build_index(items, tmp_path / "asr.jsonl", CharVocab(), verify_audio=True)
    vocoder = index_audio(items, tmp_path / "vocoder.jsonl", verify_audio=True)
    assert [(b.id, b.reason) for b in asr.bad] == EXPECTED_BAD
    assert [(b.id, b.reason, b.detail) for b in vocoder.bad] == [
        (b.id, b.reason, b.detail) for b in asr.bad
    ]
    assert [u.id for u in asr.utterances] == [u.id for u in vocoder.utterances] == ["good", "loud"]
    assert [u.duration for u in asr.utterances] == [u.duration for u in vocoder.utterances]
    assert [u.peak for u in vocoder.utterances] == pytest.approx([0.3, 0.8], abs=1e-3)
    assert "cancel out" in next(b.detail for b in asr.bad if b.id == "cancel")
    # Headers only: the silent and cancelling files pass; there is no peak.
    headers = index_audio(items, None, verify_audio=False)
    assert [u.id for u in headers.utterances] == ["good", "silent", "cancel", "loud"]
    assert {u.peak for u in headers.utterances} == {None}


def test_both_indexes_answer_from_the_cache(items, tmp_path, monkeypatch):
    cache = tmp_path / "cache.jsonl"
    first = index_audio(items, cache, verify_audio=True)

    def no_reading(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(index_module, "read_audio_facts", no_reading)
    again = index_audio(items, cache, verify_audio=True)
    assert again.utterances == first.utterances  # frames and peaks come back from the cache
    assert [(b.id, b.detail) for b in again.bad] == [(b.id, b.detail) for b in first.bad]
    asr = build_index(items, cache, CharVocab(), verify_audio=True)  # the same file serves both
    assert [u.id for u in asr.utterances] == ["good", "loud"]


def test_a_cached_entry_without_a_peak_is_read_again_when_verifying(items, tmp_path):
    cache = tmp_path / "cache.jsonl"
    scan_audio([tmp_path / "good.wav"], cache, verify_audio=True)
    entry = json.loads(cache.read_text())
    assert entry["verified"] and entry["peak"] == pytest.approx(0.3, abs=1e-3)
    del entry["peak"]  # as an ASR index wrote it before the indexes were one
    cache.write_text(json.dumps(entry) + "\n")
    facts = scan_audio([tmp_path / "good.wav"], cache, verify_audio=True)
    assert facts[str(tmp_path / "good.wav")].peak == pytest.approx(0.3, abs=1e-3)
    # A headers-only scan takes a decoded entry as it is.
    assert scan_audio([tmp_path / "good.wav"], cache).popitem()[1].frames == SR // 2


def test_cache_dir_follows_the_environment_at_each_call(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQLAB_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "seqlab"
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    assert not (tmp_path / "elsewhere").exists()  # only named, never created here
