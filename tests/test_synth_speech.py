"""The built-in speech corpus: eSpeak binding, sentence generator, and the LibriSpeech-layout build."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqlab.corpora import espeak
from seqlab.corpora.synth_speech import VARIANTS, _speaker_pools, build_corpus, main
from seqlab.corpora.synth_text import (
    SentenceGenerator,
    number_words,
    ordinal_words,
    vocabulary,
    year_words,
)

HOURS = 0.01  # 36 s of train audio; dev and test get their minimum of 20 utterances each
TRANSCRIPT_LINE = re.compile(r"^(\d+)-(\d+)-(\d{4}) ([A-Z']+(?: [A-Z']+)*)$")
SENTENCE = re.compile(r"^[a-z']+( [a-z']+)*$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    build_corpus(out, hours=HOURS, seed=0, workers=2, progress=False)
    return out


def _split_sentences(root: Path, split: str) -> list[str]:
    lines = []
    for trans in sorted((root / split).glob("*/*/*.trans.txt")):
        lines += [line.split(" ", 1)[1].lower() for line in trans.read_text().splitlines()]
    return lines


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- eSpeak NG ----------------------------------------------------------------------------------


def test_espeak_lists_english_voices_and_variants():
    voices = espeak.list_voices("en")
    assert {"en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029"} <= set(voices)
    assert all(v.startswith("en") for v in voices)
    assert {"m1", "m7", "f1", "f5", "klatt", "whisper", "croak"} <= set(espeak.list_variants())


def test_espeak_output_is_speech_like_and_deterministic():
    text = "turn off the kitchen lights at half past seven"
    # f2 has breath noise (randomly seeded by eSpeak), m3 pitch flutter (state kept across calls)
    first = {v: espeak.synthesize(text, "en-gb-x-rp", v, rate=170, pitch=40) for v in ("f2", "m3")}
    espeak.synthesize("something else entirely", "en-us", "whisper", rate=200)
    time.sleep(1.1)  # eSpeak seeds its noise from time(NULL): a new second must not matter
    for variant, wave in first.items():
        assert wave.dtype == np.float32 and wave.ndim == 1
        seconds = wave.shape[0] / espeak.ESPEAK_SAMPLE_RATE
        assert 1.5 < seconds < 5.0, seconds  # 9 words at 170 wpm is about 3 s
        rms = float(np.sqrt(np.mean(wave**2)))
        assert 0.02 < rms < 0.5 and np.abs(wave).max() <= 1.0
        again = espeak.synthesize(text, "en-gb-x-rp", variant, rate=170, pitch=40)
        np.testing.assert_array_equal(wave, again)
    faster = espeak.synthesize(text, "en-gb-x-rp", "m3", rate=300, pitch=40)
    assert faster.shape[0] < 0.8 * first["m3"].shape[0]  # the rate is applied


def _synth_in_worker(args: tuple[str, str, str]) -> np.ndarray:
    return espeak.synthesize(*args)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_espeak_works_in_worker_processes(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    jobs = [("hello world", "en-us", "f2"), ("good morning", "en-gb-scotland", "m3")]
    expected = [espeak.synthesize(*job) for job in jobs]  # initialises the library before a fork
    with mp.get_context(method).Pool(2) as pool:
        got = pool.map(_synth_in_worker, jobs)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)


def test_espeak_engine_is_made_once_when_threads_ask_at_once(monkeypatch):
    """Threads that first use eSpeak at the same moment share one engine and one lock (each used
    to make its own, and two threads then drove the library's one global state at once)."""
    import threading

    made = []

    class SlowEngine:
        def __init__(self):
            time.sleep(0.05)  # a library load: long enough for the other threads to arrive
            self.lock = threading.Lock()
            made.append(self)

    monkeypatch.setattr(espeak, "_Engine", SlowEngine)
    monkeypatch.setattr(espeak, "_ENGINE", None)
    start = threading.Barrier(4)
    got = []

    def first_use():
        start.wait()
        got.append(espeak._engine())

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert all(engine is made[0] for engine in got) and len(got) == 4
    assert len({id(engine.lock) for engine in got}) == 1


def test_espeak_unknown_voice_is_a_clear_error():
    with pytest.raises(espeak.EspeakError, match="no voice 'en-xx'.*list_voices"):
        espeak.synthesize("hello", voice="en-xx")


# ---- sentences ----------------------------------------------------------------------------------


def test_numbers_dates_times_are_spelled_out():
    assert number_words(23) == "twenty three"
    assert number_words(105, use_and=True) == "one hundred and five"
    assert number_words(4070) == "four thousand seventy"
    assert ordinal_words(4) == "fourth" and ordinal_words(21) == "twenty first"
    assert ordinal_words(30) == "thirtieth"
    assert year_words(2019) == "twenty nineteen" and year_words(1905) == "nineteen oh five"
    assert year_words(2005) == "two thousand five" and year_words(1900) == "nineteen hundred"


def test_sentence_generator_is_deterministic_normalised_and_covered_by_vocabulary():
    sentences = SentenceGenerator(7).sentences(20000)
    assert sentences == SentenceGenerator(7).sentences(20000)
    assert sentences[:50] != SentenceGenerator(8).sentences(50)
    assert all(SENTENCE.match(s) for s in sentences)
    vocab = vocabulary()
    assert len(vocab) >= 1000
    used = {w for s in sentences for w in s.split()}
    assert used <= vocab, used - vocab
    assert len(used) > 0.9 * len(vocab)  # the vocabulary is what the generator really says
    assert len(set(sentences)) > 0.8 * len(sentences)
    text = " ".join(sentences)
    for phrase in (" past ", " p m", " of ", " o'clock", "turn "):
        assert phrase in text


# ---- the corpus ---------------------------------------------------------------------------------


def test_speaker_pools_hold_out_pairs_but_train_hears_every_voice_and_variant():
    pools = _speaker_pools(random.Random(0))
    pairs = {split: [(s.voice, s.variant) for s in pool] for split, pool in pools.items()}
    assert len(set(pairs["train"])) == len(pairs["train"])  # a speaker is one pair
    assert not set(pairs["test"]) & set(pairs["train"]) and not set(pairs["dev"]) & set(
        pairs["train"]
    )
    assert not set(pairs["test"]) & set(pairs["dev"])
    first = pairs["train"][: len(VARIANTS)]  # about 2 h of train audio
    assert {v for _, v in first} == set(VARIANTS)
    assert {v for v, _ in first} == set(espeak.list_voices("en")) - {"en-shaw"}
    ids = [s.id for pool in pools.values() for s in pool]
    assert len(set(ids)) == len(ids)


def test_layout_and_transcripts_match_librispeech(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == [
        "corpus.json",
        "dev",
        "lm_corpus.txt",
        "test",
        "train",
    ]
    for split in ("train", "dev", "test"):
        transcripts = sorted((corpus / split).glob("*/*/*.trans.txt"))
        assert transcripts, split
        for trans in transcripts:
            spk, chapter = trans.parent.parent.name, trans.parent.name
            assert spk.isdigit() and chapter.isdigit()
            assert trans.name == f"{spk}-{chapter}.trans.txt"
            ids = []
            for line in trans.read_text(encoding="utf-8").splitlines():
                m = TRANSCRIPT_LINE.match(line)
                assert m, line
                assert (m.group(1), m.group(2)) == (spk, chapter)
                ids.append(m.group(0).split(" ")[0])
            assert [i.rsplit("-", 1)[1] for i in ids] == [f"{k:04d}" for k in range(len(ids))]
            flacs = sorted(p.stem for p in trans.parent.glob("*.flac"))
            assert flacs == ids  # one flac per line, nothing else
    trans = sorted((corpus / "train").glob("*/*/*.trans.txt"))[0]
    for line in trans.read_text().splitlines():
        utt_id, text = line.split(" ", 1)
        info = sf.info(str(trans.parent / f"{utt_id}.flac"))
        assert (info.samplerate, info.channels, info.format, info.subtype) == (
            16000,
            1,
            "FLAC",
            "PCM_16",
        )
        seconds_per_word = info.duration / len(text.split())
        assert 0.5 < info.duration < 20 and 0.15 < seconds_per_word < 1.0, (line, info.duration)


def test_audio_is_loud_enough_padded_and_never_clipped(corpus):
    for path in sorted(corpus.glob("*/*/*/*.flac"))[::5]:
        wave, sr = sf.read(str(path), dtype="int16")
        x = wave.astype(np.float64) / 32768
        rms_db = 20 * np.log10(np.sqrt(np.mean(x**2)))
        assert -35 < rms_db < -12, (path.name, rms_db)
        assert np.abs(wave).max() < 32000, path.name  # headroom: the builder never clips
        loud = np.nonzero(np.abs(x) > 0.02)[0]
        lead, trail = loud[0] / sr, (len(x) - loud[-1]) / sr
        assert 0.05 < lead < 0.4 and 0.05 < trail < 0.4, (path.name, lead, trail)


def test_held_out_sentences_and_speakers(corpus):
    summary = json.loads((corpus / "corpus.json").read_text())
    sentences = {s: set(_split_sentences(corpus, s)) for s in ("train", "dev", "test")}
    assert not sentences["test"] & sentences["train"]
    assert not sentences["test"] & sentences["dev"]
    assert not sentences["dev"] & sentences["train"]
    pairs, ids = {}, {}
    for split in ("train", "dev", "test"):
        listed = summary["splits"][split]["speaker_list"]
        pairs[split] = {(s["voice"], s["variant"]) for s in listed}
        ids[split] = {str(s["id"]) for s in listed}
        assert ids[split] == {p.name for p in (corpus / split).iterdir()}
    assert not pairs["test"] & pairs["train"] and not pairs["test"] & pairs["dev"]
    assert not pairs["dev"] & pairs["train"]
    assert not ids["test"] & ids["train"]


def test_sizes_follow_the_request(corpus):
    summary = json.loads((corpus / "corpus.json").read_text())
    assert summary["seed"] == 0 and summary["hours_requested"] == HOURS
    train = summary["splits"]["train"]
    assert HOURS * 3600 <= train["seconds"] < HOURS * 3600 + 15  # stops once reached
    assert train["utterances"] == len(list((corpus / "train").glob("*/*/*.flac")))
    for split in ("dev", "test"):
        assert summary["splits"][split]["utterances"] == 20  # the minimum wins at this size
    total = sum(sf.info(str(p)).duration for p in (corpus / "train").glob("*/*/*.flac"))
    assert total == pytest.approx(train["seconds"], abs=0.01)


def test_lm_corpus_is_normalised_large_and_disjoint_from_the_splits(corpus):
    lines = (corpus / "lm_corpus.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 20000
    assert all(SENTENCE.match(line) for line in lines)
    in_splits = set()
    for split in ("train", "dev", "test"):
        in_splits |= set(_split_sentences(corpus, split))
    assert not in_splits & set(lines)


def test_same_seed_same_bytes_whatever_the_worker_count(corpus, tmp_path):
    again = tmp_path / "again"
    main([str(again), "--hours", str(HOURS), "--seed", "0", "--workers", "1"])
    assert _file_hashes(again) == _file_hashes(corpus)


def test_refuses_to_overwrite_an_existing_corpus(corpus):
    with pytest.raises(FileExistsError, match="already holds a corpus"):
        build_corpus(corpus, hours=HOURS, progress=False)
