"""Build the built-in vocoder corpus: one eSpeak NG voice in the LJSpeech layout.

    <out>/wavs/SYN<chapter:03d>-<utt:04d>.wav   22,050 Hz mono 16-bit PCM (eSpeak's own rate)
    <out>/metadata.csv    "ID|text|normalized text": numbers as digits, then spelled out
    <out>/corpus.json     summary, written last: its presence means the build finished

Like LJSpeech: one speaker (a fixed voice + variant), read sentences with a little prosodic
variation from one utterance to the next (rate, pitch, pitch range, level), short silences at both
ends, a faint noise floor. There is no split on disk; :func:`seqlab.data.ljspeech.scan_ljspeech`
makes the 95/5 one.

Same seed, same bytes: the plan (sentences, prosody, noise seeds) is made in this process from
the seed, workers only render, files are written in plan order, and the plan never depends on the
number of workers. Sentences come from :class:`seqlab.corpora.synth_text.SentenceGenerator`; the
"text" column writes their numbers as digits.

Ours because no corpus can be downloaded at run time; eSpeak NG ships as a wheel.
"""

from __future__ import annotations

import functools
import json
import multiprocessing as mp
import os
import random
import shutil
import time
from pathlib import Path

from seqlab.corpora.espeak import ESPEAK_SAMPLE_RATE
from seqlab.corpora.synth_speech import Job, render
from seqlab.corpora.synth_text import GENERATOR_VERSION, SentenceGenerator, number_words
from seqlab.pools import process_pool

CORPUS_VERSION = "synth-ljspeech-1"  # bump when a seed's corpus changes
VOICE = "en-us"  # an American English reader, like LJSpeech's
VARIANT = "f2"  # a female eSpeak variant that sounds like a person
BASE_RATE, BASE_PITCH, BASE_RANGE = 165, 55, 60  # words per minute, 0..100, 0..100
UTTERANCES_PER_CHAPTER = 100  # SYN001-0001 .. SYN001-0100, then SYN002-...
ROUND_JOBS = 32  # planning granularity; must not depend on the number of workers

_ONES = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_VALUES = {
    **{w: i for i, w in enumerate(_ONES)},
    **{w: 10 + i for i, w in enumerate(_TEENS)},
    **{w: 20 + 10 * i for i, w in enumerate(_TENS)},
}
_ORDINAL_HEADS = ("first", "second", "third")


def _cardinal_value(words: list[str]) -> int | None:
    """The number ``words`` spell if they are exactly one cardinal as ``number_words`` writes it."""
    total = current = 0
    for word in words:
        if word in _NUMBER_VALUES:
            current += _NUMBER_VALUES[word]
        elif word == "hundred":
            current *= 100
        elif word == "thousand":
            total, current = total + current * 1000, 0
        elif word != "and":
            return None
    value = total + current
    spelled = " ".join(words)
    if spelled in (number_words(value), number_words(value, use_and=True)):
        return value
    return None


def raw_text(normalized: str) -> str:
    """The "text" column for a generated sentence: numbers of 10 and up as digits.

    A run of number words becomes digits only when it spells exactly one cardinal
    (``"thirty four thousand one hundred and sixty eight"`` -> ``"34,168"``); years, times and
    digit strings (``"nineteen eighty four"``, ``"two thirty"``, ``"oh five"``) and ordinals
    (``"twenty first"``) stay in words. The first letter is capitalised and a full stop added,
    as in LJSpeech's columns.
    """
    words = normalized.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and (
            words[j] in _NUMBER_VALUES or (j > i and words[j] in ("hundred", "thousand", "and"))
        ):
            j += 1
        while j > i and words[j - 1] == "and":  # "... and" belongs to the sentence, not the number
            j -= 1
        if j == i:
            out.append(words[i])
            i += 1
            continue
        following = words[j] if j < len(words) else ""
        value = _cardinal_value(words[i:j])
        is_ordinal = following in _ORDINAL_HEADS or following.endswith("th")
        if value is not None and value >= 10 and not is_ordinal:
            out.append(f"{value:,}" if value >= 10000 else str(value))
        else:
            out.extend(words[i:j])
        i = j
    return _sentence_case(" ".join(out))


def _sentence_case(text: str) -> str:
    text = " ".join("I" if w == "i" else w for w in text.split())
    return text[:1].upper() + text[1:] + "."


# eSpeak's own rate, no resampling; WAV as LJSpeech ships (a module-level partial: picklable)
_render_wav = functools.partial(render, sample_rate=ESPEAK_SAMPLE_RATE, container="WAV")


def _plan(rng: random.Random, sentences: SentenceGenerator, used: set[str], voice: str,
          variant: str) -> Job:  # fmt: skip
    text = sentences.sentence()
    while text in used:  # every sentence once: the 95/5 split then never shares a sentence
        text = sentences.sentence()
    used.add(text)
    return Job(
        text=text,
        rate=BASE_RATE + rng.randint(-15, 15),
        pitch=BASE_PITCH + rng.randint(-6, 6),
        pitch_range=BASE_RANGE + rng.randint(-10, 10),
        level_db=rng.uniform(-22.0, -18.0),
        lead_s=rng.uniform(0.05, 0.15),
        trail_s=rng.uniform(0.05, 0.15),
        noise_db=rng.uniform(-75.0, -65.0),
        noise_seed=rng.getrandbits(63),
        voice=voice,
        variant=variant,
    )


def build_ljspeech_corpus(
    out: str | Path,
    hours: float = 0.3,
    seed: int = 0,
    voice: str = f"{VOICE}+{VARIANT}",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Synthesise the single-voice corpus into ``out`` (layout in the module docstring).

    Args:
        out: target directory; must not already hold a corpus unless ``overwrite``.
        hours: audio duration; utterances are added until it is reached.
        seed: sentences, prosody and noise follow from it, byte for byte.
        voice: eSpeak voice and variant, ``"voice+variant"`` (``seqlab.corpora.espeak.list_voices``
            and ``list_variants``).
        workers: synthesis processes (default ``os.cpu_count()``); does not change the output.
        progress: print the summary line.
        overwrite: delete an existing corpus in ``out`` first.

    Returns:
        The summary written to ``corpus.json``.
    """
    out = Path(out)
    existing = [p for p in ("wavs", "metadata.csv", "corpus.json") if (out / p).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds a corpus ({', '.join(existing)}); delete it, choose another "
            "directory, or pass overwrite=True (--overwrite)."
        )
    if hours <= 0:
        raise ValueError(f"hours must be positive, got {hours}")
    for name in existing:
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    voice_name, _, variant = voice.partition("+")
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    rng = random.Random(f"synth-ljspeech:{seed}")
    sentences = SentenceGenerator(rng.getrandbits(63))
    used: set[str] = set()
    target_s = hours * 3600.0
    seconds, lines = 0.0, []

    ctx = mp.get_context("spawn")  # safe whatever the parent holds (torch threads, locks)
    with process_pool(ctx, min(workers, ROUND_JOBS)) as pool:
        while seconds < target_s:
            jobs = [_plan(rng, sentences, used, voice_name, variant) for _ in range(ROUND_JOBS)]
            for job, (wav, n_samples) in zip(jobs, pool.imap(_render_wav, jobs), strict=True):
                k = len(lines)
                utt_id = (
                    f"SYN{k // UTTERANCES_PER_CHAPTER + 1:03d}-{k % UTTERANCES_PER_CHAPTER + 1:04d}"
                )
                (out / "wavs" / f"{utt_id}.wav").write_bytes(wav)
                lines.append(f"{utt_id}|{raw_text(job.text)}|{_sentence_case(job.text)}")
                seconds += n_samples / ESPEAK_SAMPLE_RATE
                if seconds >= target_s:
                    break  # the rest of the round is dropped (rendered: a few seconds at most)
    (out / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = {
        "version": CORPUS_VERSION,
        "text_generator": GENERATOR_VERSION,
        "layout": "ljspeech",
        "seed": seed,
        "hours_requested": hours,
        "voice": voice_name,
        "variant": variant,
        "sample_rate": ESPEAK_SAMPLE_RATE,
        "utterances": len(lines),
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600, 4),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if progress:
        elapsed = time.perf_counter() - started
        print(
            f"synth-speech (ljspeech layout): {out}: {len(lines)} utterances, {seconds / 3600:.2f} h "
            f"of {voice} in {elapsed:.0f} s ({seconds / max(elapsed, 1e-9):.0f}x real time, "
            f"{workers} workers)"
        )
    return summary
