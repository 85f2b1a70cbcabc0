"""Build seqlab's built-in offline speech corpus: eSpeak NG speech in the LibriSpeech layout.

    <out>/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt:04d>.flac    16 kHz mono 16-bit
    <out>/<subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt         "<utt id> UPPERCASE TEXT"
    <out>/lm_corpus.txt     text-only LM corpus: other sentences from the same generator
    <out>/corpus.json       summary, written last: its presence means the build finished

Subsets are ``train``, ``dev`` and ``test``. A speaker is an eSpeak voice + variant pair (e.g.
``en-gb-x-rp`` + ``f3``) with its own base rate, pitch and pitch range. Held out, as in
LibriSpeech: dev and test speakers are pairs never heard in train, dev and test share no
speakers, and all three subsets and the LM corpus have disjoint sentences (train may repeat one of
its own sentences, rarely). Each voice and each variant on its own is heard in train once train
has a speaker per variant (57 variants: about 2 hours of train audio and up).

Same seed, same bytes: every choice is made in this process from the seed (speakers, sentences,
prosody, gain, padding, noise seeds); workers only render; results are written in plan order, and
how much is planned never depends on the number of workers.

Ours because no corpus of this kind can be downloaded at run time; eSpeak NG is the one offline
synthesiser that ships as a wheel (``espeakng-loader``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from seqlab.corpora.synth_text import GENERATOR_VERSION, SentenceGenerator
from seqlab.pools import process_pool

CORPUS_VERSION = "synth-speech-1"  # bump when a seed's corpus changes
SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test")
# eSpeak variants that sound like a person (the rest are robots, monsters, or other languages'
# voices with broken English vowels); whisper and croak stay in for variety.
VARIANTS = (
    "m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt6 adam Alex Alicia Annie "
    "announcer aunty belinda benjamin boris caleb croak david edward edward2 grandma grandpa "
    "linda max michel quincy rob robert shelby steph travis victor whisper Mike Michael Mario "
    "Reed Lee Nguyen Denis Diogo Henrique ian kaukovalta marcelo miguel pablo"
).split()
EXCLUDED_VOICES = ("en-shaw",)  # reads the Shavian alphabet; same sound as "en" on Latin text
TRAIN_CHAPTER = (20, 40)  # utterances per chapter
HELD_OUT_CHAPTER = (10, 20)  # shorter in dev/test, so that they hold more speakers
MIN_HELD_OUT_UTTERANCES = 20
LM_MIN_LINES = 20000
LM_LINES_PER_TRAIN_SENTENCE = 20
ROUND_MIN_JOBS = 32  # planning granularity; must not depend on the number of workers


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak voice + variant with its own prosody."""

    id: int
    voice: str
    variant: str
    rate: int  # words per minute
    pitch: int  # 0..100
    pitch_range: int  # 0..100


@dataclass(frozen=True)
class Job:
    """Everything needed to render one utterance, decided up front in the main process."""

    text: str
    voice: str
    variant: str
    rate: int
    pitch: int
    pitch_range: int
    level_db: float  # target RMS of the speech, dBFS
    lead_s: float  # silence before and after the speech
    trail_s: float
    noise_db: float  # RMS of the background noise floor, dBFS
    noise_seed: int


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # this worker's own process: one core each, same numerics everywhere


def render(job: Job, sample_rate: int = SAMPLE_RATE, container: str = "FLAC") -> tuple[bytes, int]:
    """Synthesise one utterance and encode it.

    Args:
        job: what to say and how.
        sample_rate: output rate; eSpeak's own 22,050 Hz is written without resampling.
        container: soundfile format, "FLAC" (the LibriSpeech layout) or "WAV" (LJSpeech).

    Returns:
        ``(file_bytes, n_samples)``: a mono 16-bit file and its length in samples.
    """
    from seqlab.audio.resample import resample
    from seqlab.corpora.espeak import ESPEAK_SAMPLE_RATE, synthesize

    wave = synthesize(job.text, job.voice, job.variant, job.rate, job.pitch, job.pitch_range)
    loud = np.nonzero(np.abs(wave) > 10 ** (-50 / 20) * max(np.abs(wave).max(), 1e-9))[0]
    if loud.size == 0:
        raise RuntimeError(
            f"eSpeak NG produced silence for {job.text!r} ({job.voice}+{job.variant})"
        )
    wave = wave[loud[0] : loud[-1] + 1]  # (T,) at 22,050 Hz, speech only
    if sample_rate != ESPEAK_SAMPLE_RATE:
        wave = resample(wave, ESPEAK_SAMPLE_RATE, sample_rate)  # (T',) at sample_rate
    wave = wave * (10 ** (job.level_db / 20) / max(float(np.sqrt(np.mean(wave**2))), 1e-9))
    lead, trail = round(job.lead_s * sample_rate), round(job.trail_s * sample_rate)
    wave = np.concatenate([np.zeros(lead), wave, np.zeros(trail)])
    noise = np.random.default_rng(job.noise_seed).standard_normal(wave.shape[0])
    wave = wave + noise * 10 ** (job.noise_db / 20)
    peak = np.abs(wave).max()
    if peak > 0.95:  # never clip: turn the whole utterance down instead
        wave = wave * (0.95 / peak)
    pcm = np.round(wave * 32767).astype(np.int16)  # (T'',)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sample_rate, format=container, subtype="PCM_16")
    return buffer.getvalue(), int(pcm.shape[0])


class _SplitPlanner:
    """Hands out chapters of jobs for one subset: speakers in turn, 1-2 chapters each in train."""

    def __init__(self, split, speakers, chapter_range, sentences, rng, chapter_ids) -> None:
        self.split, self.speakers, self.chapter_range = split, speakers, chapter_range
        self.sentences, self.rng, self.chapter_ids = sentences, rng, chapter_ids
        self.next_speaker, self.speaker, self.chapters_left = 0, None, 0

    def chapter(self) -> tuple[Speaker, int, list[Job]]:
        rng = self.rng
        if self.chapters_left == 0:
            self.speaker = self.speakers[self.next_speaker % len(self.speakers)]
            self.next_speaker += 1
            self.chapters_left = rng.randint(1, 2) if self.split == "train" else 1
        self.chapters_left -= 1
        chapter_id = rng.randrange(1000, 1_000_000)
        while chapter_id in self.chapter_ids:
            chapter_id = rng.randrange(1000, 1_000_000)
        self.chapter_ids.add(chapter_id)
        spk = self.speaker
        jobs = [
            Job(
                text=self.sentences(),
                voice=spk.voice,
                variant=spk.variant,
                rate=min(max(spk.rate + rng.randint(-10, 10), 110), 230),
                pitch=min(max(spk.pitch + rng.randint(-5, 5), 0), 100),
                pitch_range=min(max(spk.pitch_range + rng.randint(-10, 10), 0), 100),
                level_db=rng.uniform(-26.0, -18.0),
                lead_s=rng.uniform(0.1, 0.2),
                trail_s=rng.uniform(0.1, 0.2),
                noise_db=rng.uniform(-75.0, -60.0),
                noise_seed=rng.getrandbits(63),
            )
            for _ in range(rng.randint(*self.chapter_range))
        ]
        return spk, chapter_id, jobs


def _speaker_pools(rng: random.Random) -> dict[str, list[Speaker]]:
    """All voice+variant pairs, dealt out to test, dev and train (in the order train uses them).

    Held-out pairs are drawn at random. Train's order visits every variant once before any
    twice, with the voices rotating, so that a train subset of a few hundred chapters has heard
    every voice and every variant that dev and test use (only their pairings are new).
    """
    from seqlab.corpora.espeak import list_variants, list_voices

    voices = [v for v in list_voices("en") if v not in EXCLUDED_VOICES]
    available = set(list_variants())
    variants = [v for v in VARIANTS if v in available]
    if not voices or not variants:
        raise RuntimeError(
            f"eSpeak NG offers English voices {voices} and variants {sorted(available)[:10]}...; "
            "need at least one of each. Reinstall espeakng-loader."
        )
    rng.shuffle(voices)
    rng.shuffle(variants)
    pairs = [(voice, variant) for voice in voices for variant in variants]
    n_held = max(1, min(len(pairs) // 10, 40))
    held_out = rng.sample(pairs, 2 * n_held)
    pools = {"test": held_out[:n_held], "dev": held_out[n_held:], "train": []}
    used = set(held_out)
    for shift in range(len(voices)):  # each round: every variant once, with the next voice
        for j, variant in enumerate(variants):
            for k in range(len(voices)):
                pair = (voices[(j + shift + k) % len(voices)], variant)
                if pair not in used:
                    pools["train"].append(pair)
                    used.add(pair)
                    break
    ids = iter(rng.sample(range(100, 10000), len(pairs)))  # LibriSpeech-like integer ids
    return {
        split: [
            Speaker(next(ids), voice, variant, rng.randint(130, 210), rng.randint(30, 70),
                    rng.randint(30, 80))
            for voice, variant in split_pairs
        ]
        for split, split_pairs in pools.items()
    }  # fmt: skip


def build_corpus(
    out_dir: str | Path,
    hours: float = 2.5,
    seed: int = 0,
    workers: int | None = None,
    dev_fraction: float = 0.05,
    test_fraction: float = 0.05,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Synthesise the corpus into ``out_dir`` (see the module docstring for the layout).

    Args:
        out_dir: target directory; must not already hold a corpus unless ``overwrite``.
        hours: audio duration of the train subset; utterances are added until it is reached.
        seed: everything (sentences, speakers, prosody, noise) follows from it, byte for byte.
        workers: synthesis processes (default ``os.cpu_count()``); does not change the output.
        dev_fraction, test_fraction: dev and test durations as fractions of train's (each at
            least 20 utterances).
        progress: show a progress bar and print the summary.
        overwrite: delete an existing corpus in ``out_dir`` first.

    Returns:
        The summary written to ``corpus.json``.
    """
    out = Path(out_dir)
    existing = [p for p in (*SPLITS, "lm_corpus.txt", "corpus.json") if (out / p).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds a corpus ({', '.join(existing)}); delete it, choose another "
            "directory, or pass overwrite=True (--overwrite)."
        )
    for name in existing:
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    if hours <= 0:
        raise ValueError(f"hours must be positive, got {hours}")
    out.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()

    rng = random.Random(f"synth-speech:{seed}")
    pools = _speaker_pools(rng)
    stream = SentenceGenerator(seed)
    taken: dict[str, set[str]] = {split: set() for split in SPLITS}

    def next_sentence(split: str):
        def draw() -> str:
            while True:
                text = stream.sentence()
                if split == "train":  # held-out sentences never appear in train
                    if text not in taken["dev"] and text not in taken["test"]:
                        return text
                elif all(text not in taken[s] for s in SPLITS):
                    taken[split].add(text)  # reserve it now, even if the chapter is cut short
                    return text

        return draw

    train_seconds = hours * 3600.0
    targets = {
        "test": (test_fraction * train_seconds, MIN_HELD_OUT_UTTERANCES),
        "dev": (dev_fraction * train_seconds, MIN_HELD_OUT_UTTERANCES),
        "train": (train_seconds, 1),
    }
    chapter_ids: set[int] = set()
    summary: dict = {
        "version": CORPUS_VERSION,
        "text_generator": GENERATOR_VERSION,
        "seed": seed,
        "hours_requested": hours,
        "sample_rate": SAMPLE_RATE,
        "splits": {},
    }
    ctx = mp.get_context("spawn")  # safe whatever the parent holds (torch threads, locks)
    with process_pool(ctx, workers, initializer=_init_worker) as pool:
        for split in ("test", "dev", "train"):  # held-out first: train must avoid their sentences
            target_s, min_utts = targets[split]
            planner = _SplitPlanner(
                split,
                pools[split],
                TRAIN_CHAPTER if split == "train" else HELD_OUT_CHAPTER,
                next_sentence(split),
                rng,
                chapter_ids,
            )
            seconds, utterances, mean_s = 0.0, 0, 3.0
            transcripts: dict[Path, list[str]] = {}
            speakers_used: dict[int, Speaker] = {}
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(
                    total=target_s,
                    desc=f"synth-speech {split}",
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio "
                    "[{elapsed}<{remaining}]",
                )
            while seconds < target_s or utterances < min_utts:
                # plan enough chapters for what is left (+5%), in whole chapters
                want = max(ROUND_MIN_JOBS, math.ceil((target_s - seconds) / mean_s * 1.05))
                want = max(want, min_utts - utterances)
                planned: list[tuple[Speaker, int, int, Job]] = []
                while len(planned) < want:
                    spk, chapter_id, jobs = planner.chapter()
                    planned += [(spk, chapter_id, k, job) for k, job in enumerate(jobs)]
                results = pool.imap(render, [job for *_, job in planned], chunksize=4)
                for (spk, chapter_id, k, job), (flac, n_samples) in zip(
                    planned, results, strict=True
                ):
                    chapter_dir = out / split / str(spk.id) / str(chapter_id)
                    chapter_dir.mkdir(parents=True, exist_ok=True)
                    utt_id = f"{spk.id}-{chapter_id}-{k:04d}"
                    (chapter_dir / f"{utt_id}.flac").write_bytes(flac)
                    transcripts.setdefault(chapter_dir, []).append(f"{utt_id} {job.text.upper()}")
                    if split == "train":
                        taken["train"].add(job.text)
                    speakers_used[spk.id] = spk
                    duration = n_samples / SAMPLE_RATE
                    seconds += duration
                    utterances += 1
                    if bar is not None:
                        bar.update(min(duration, max(target_s - bar.n, 0.0)))
                    if seconds >= target_s and utterances >= min_utts:
                        break  # the rest of this round is dropped (still rendered: a few %)
                mean_s = seconds / max(utterances, 1)
            if bar is not None:
                bar.close()
            for chapter_dir, lines in transcripts.items():
                name = f"{chapter_dir.parent.name}-{chapter_dir.name}.trans.txt"
                (chapter_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary["splits"][split] = {
                "utterances": utterances,
                "seconds": round(seconds, 3),
                "hours": round(seconds / 3600, 4),
                "chapters": len(transcripts),
                "speakers": len(speakers_used),
                "voices": sorted({s.voice for s in speakers_used.values()}),
                "variants": sorted({s.variant for s in speakers_used.values()}),
                "speaker_list": [
                    {"id": s.id, "voice": s.voice, "variant": s.variant, "rate": s.rate,
                     "pitch": s.pitch, "pitch_range": s.pitch_range}
                    for s in sorted(speakers_used.values(), key=lambda s: s.id)
                ],
            }  # fmt: skip

    # LM corpus: more sentences from the same stream, none of them in any subset
    in_splits = taken["train"] | taken["dev"] | taken["test"]
    n_lines = max(LM_MIN_LINES, LM_LINES_PER_TRAIN_SENTENCE * len(taken["train"]))
    lm_lines: list[str] = []
    while len(lm_lines) < n_lines:
        text = stream.sentence()
        if text not in in_splits:
            lm_lines.append(text)
    (out / "lm_corpus.txt").write_text("\n".join(lm_lines) + "\n", encoding="utf-8")
    summary["lm_corpus"] = {"lines": len(lm_lines), "distinct": len(set(lm_lines))}
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if progress:
        elapsed = time.perf_counter() - started
        total = sum(s["seconds"] for s in summary["splits"].values())
        print(
            f"synth-speech: {out}: "
            + ", ".join(
                f"{k} {v['utterances']} utts / {v['hours']:.2f} h / {v['speakers']} spk"
                for k, v in summary["splits"].items()
            )
            + f"; lm_corpus {len(lm_lines)} lines; {total:.0f} s of audio in {elapsed:.0f} s "
            f"({total / max(elapsed, 1e-9):.0f}x real time, {workers} workers)"
        )
    return summary


def main(argv: list[str] | None = None) -> dict:
    """``seqlab data synth-speech OUT [--hours H] [--seed S] [--workers N] [--overwrite]``."""
    parser = argparse.ArgumentParser(
        prog="seqlab data synth-speech",
        description="Synthesise the built-in English speech corpus (LibriSpeech layout) offline.",
    )
    parser.add_argument("out", help="output directory")
    parser.add_argument("--hours", type=float, default=2.5, help="train audio, hours (2.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing corpus")
    args = parser.parse_args(argv)
    return build_corpus(
        args.out, args.hours, args.seed, args.workers, overwrite=args.overwrite, progress=True
    )


if __name__ == "__main__":
    main()
