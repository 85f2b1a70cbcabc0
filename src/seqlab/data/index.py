"""The utterance index: durations from audio headers, cached on disk, bad items found once.

``build_index`` turns raw items ``(id, audio_path, raw_text, duration_or_None)`` from any on-disk
format (LibriSpeech, NeMo manifests, ...) into :class:`Utterance` records, and leaves out every item
that would crash or poison training. Each bad item gets one reason, checked in this order:

======================  ================================================================
``missing_file``        the audio file does not exist
``undecodable``         soundfile cannot read the header (or, with ``verify_audio``, the samples)
``empty_audio``         0 bytes, or the header says 0 frames (``verify_audio``: all samples 0)
``duplicate_id``        an earlier item has the same id
``empty_transcript``    nothing is left after normalisation
``unmappable``          the vocabulary cannot encode some characters (named in ``detail``)
``too_short_for_ctc``   ``min_frames_fn(seconds)`` < tokens + adjacent repeats (CTC needs a
                        blank between two equal labels)
``too_long``            longer than ``max_duration`` seconds
======================  ================================================================

Only headers are read by default (cheap: soundfile reads a few bytes per file, in a thread pool
because it is I/O bound); ``verify_audio=True`` decodes every file once to also catch files that
are truncated mid-stream or silent, which costs a full pass over the audio.

The cache is a JSON-lines file of header facts keyed by (absolute path, size, mtime_ns): a second
build stats each file but reads no headers, and a file that changed is read again.

The audio half is shared with the vocoder's index (:func:`seqlab.data.vocoder_dataset.index_audio`,
which checks audio only): :func:`scan_audio` reads and caches the facts of every file,
:func:`check_audio` applies the checks on audio and ids (the first four reasons above), and
:func:`write_bad_items` / :func:`bad_items_summary` report what was left out.
"""

from __future__ import annotations

import json
import logging
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from seqlab.text.normalize import normalize_text

logger = logging.getLogger(__name__)


class RawItem(NamedTuple):
    """One item as a format reader found it, before any check."""

    id: str
    audio_path: str | Path
    raw_text: str
    duration: float | None = None  # seconds, if the format states it (only used as a hint)


@dataclass(slots=True)  # slots: a large corpus holds 300,000 of them
class Utterance:
    """One good item of the index."""

    id: str
    audio_path: str  # absolute path
    text: str  # normalised transcript
    duration: float  # seconds, from the audio header
    sample_rate: int  # the file's rate (the dataset resamples)


@dataclass
class BadItem:
    """One item left out of the index, as written to ``bad_items.jsonl``."""

    id: str
    audio_path: str
    reason: str
    detail: str


@dataclass
class IndexResult:
    """What :func:`build_index` returns: the good utterances, the bad items, a one-line summary."""

    utterances: list[Utterance]
    bad: list[BadItem] = field(default_factory=list)
    summary: str = ""

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utterances]


@dataclass(slots=True)  # slots: a large corpus holds 300,000 of them
class AudioFacts:
    """What the index knows of one audio file, as cached: its length and rate, or why it is bad."""

    frames: int  # samples per channel: the header's count, or the decoded count when decoded
    sample_rate: int
    peak: float | None = None  # max |sample| of the mono mixdown, when the file was decoded
    error: str | None = None  # "<reason>: <detail>" when the file is bad, else None


def read_audio_facts(path: str, size: int, decode: bool) -> AudioFacts:
    """The facts of one file of ``size`` bytes: its header, and with ``decode`` every sample.

    Decoding catches files truncated mid-stream or silent and measures the peak of the mono
    mixdown (what the models hear; the vocoder's ``peak_normalize`` scales by it).
    """
    if size == 0:
        # libsndfile writes a 0-frame flac as a 0-byte file, which it then cannot open.
        return AudioFacts(0, 0, error="empty_audio: the file is 0 bytes")
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        return AudioFacts(0, 0, error=f"undecodable: {err}")
    frames, sample_rate = int(info.frames), int(info.samplerate)
    if frames <= 0:
        return AudioFacts(frames, sample_rate, error="empty_audio: the header says 0 frames")
    if not decode:
        return AudioFacts(frames, sample_rate)
    peak = mono_peak = 0.0
    decoded = 0
    try:
        # Decode in blocks: a full read of a long file would hold it all in memory at once.
        for block in sf.blocks(path, blocksize=1 << 16, dtype="float32", always_2d=True):
            decoded += block.shape[0]  # block: (frames, channels)
            peak = max(peak, float(np.abs(block).max(initial=0.0)))
            mono_peak = max(mono_peak, float(np.abs(block.mean(axis=1)).max(initial=0.0)))
    except Exception as err:
        return AudioFacts(frames, sample_rate, error=f"undecodable: reading samples failed: {err}")
    if decoded == 0:
        return AudioFacts(frames, sample_rate, error="empty_audio: no samples could be decoded")
    if peak == 0.0:
        return AudioFacts(frames, sample_rate, error="empty_audio: all samples are zero")
    if mono_peak == 0.0:
        detail = "empty_audio: the channels cancel out (the mono mixdown is all zeros)"
        return AudioFacts(frames, sample_rate, error=detail)
    return AudioFacts(decoded, sample_rate, peak=mono_peak)


# One cache entry in memory: a tuple, not the dict of its JSON line (a 300,000-file corpus holds
# 300,000 of them: ~100 bytes each instead of ~400).
class _Entry(NamedTuple):
    size: int
    mtime_ns: int
    frames: int
    sample_rate: int
    peak: float | None
    error: str | None
    verified: bool


def _entry(record: dict) -> tuple[str, _Entry]:
    """(path, entry) of one JSON record; KeyError/TypeError if it is not a cache entry."""
    entry = _Entry(
        record.get("size"), record.get("mtime_ns"), record["frames"], record["sample_rate"],
        record.get("peak"), record.get("error"), bool(record.get("verified")),
    )  # fmt: skip
    return record["audio_path"], entry


def _load_cache(cache_path: Path | None) -> dict[str, _Entry]:
    if cache_path is None or not cache_path.is_file():
        return {}
    lines = cache_path.read_text().splitlines()
    entries: dict[str, _Entry] = {}
    block = 10_000  # lines parsed at once: ~2x faster than one by one, without 300,000 dicts alive
    for start in range(0, len(lines), block):
        try:
            records = json.loads("[" + ",".join(lines[start : start + block]) + "]")
            entries.update(_entry(record) for record in records)
            continue
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            pass  # a damaged line: parse this block line by line, so that only that line is lost
        for line_no, line in enumerate(lines[start : start + block], start + 1):
            try:
                path, entry = _entry(json.loads(line))
                entries[path] = entry
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                # A damaged cache only costs re-reading headers; never fail the run for it.
                logger.warning("%s line %d is not a cache entry; ignoring it", cache_path, line_no)
    return entries


def _save_cache(cache_path: Path, entries: dict[str, _Entry]) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(cache_path.name + f".tmp{os.getpid()}")
    with open(tmp, "w") as f:
        for path, entry in entries.items():
            f.write(json.dumps({"audio_path": path, **entry._asdict()}) + "\n")
    os.replace(tmp, cache_path)  # atomic: a crash leaves the old cache, never half a file


def _cached(entry: _Entry | None, key: tuple[int, int], verify_audio: bool) -> AudioFacts | None:
    """The facts of a cache entry that still describes the file (same size and mtime_ns, decoded
    when ``verify_audio`` asks for it), else None."""
    if entry is None or (entry.size, entry.mtime_ns) != key:
        return None
    # A decoded good file has a peak; an entry without one predates it: read the file again.
    if verify_audio and not (entry.verified and (entry.error or entry.peak is not None)):
        return None
    return AudioFacts(entry.frames, entry.sample_rate, entry.peak, entry.error)


def _read_chunk(chunk: list[tuple[str, tuple[int, int]]], decode: bool) -> list[AudioFacts]:
    return [read_audio_facts(path, size, decode) for path, (size, _) in chunk]


def scan_audio(
    paths: Iterable[str | Path],
    cache_path: str | Path | None,
    verify_audio: bool = False,
    workers: int = 8,
) -> dict[str, AudioFacts]:
    """The facts of every existing file of ``paths``, through the cache.

    Args:
        paths: audio files (relative paths are taken from the working directory).
        cache_path: JSON-lines cache keyed by (absolute path, size, mtime_ns), created or
            updated; None disables caching.
        verify_audio: decode every file (see :func:`read_audio_facts`); an entry cached from
            headers only is read again.
        workers: threads reading files (I/O bound, so more threads than cores is fine).

    Returns:
        absolute path -> :class:`AudioFacts`; a file that does not exist has no entry.
    """
    cache_path = Path(cache_path) if cache_path is not None else None
    cache = _load_cache(cache_path)
    facts: dict[str, AudioFacts] = {}
    to_read: list[tuple[str, tuple[int, int]]] = []
    for path in sorted({os.path.abspath(os.fspath(p)) for p in paths}):
        try:
            st = os.stat(path)
        except OSError:
            continue  # missing: the caller reports it per item
        key = (st.st_size, st.st_mtime_ns)
        cached = _cached(cache.get(path), key, verify_audio)
        if cached is not None:
            facts[path] = cached
        else:
            to_read.append((path, key))
    if to_read:
        # soundfile releases the GIL in libsndfile, so threads overlap the reads. Chunks of files,
        # not one task per file: 300,000 futures would cost ~300 MB and a thread hand-off each.
        per_chunk = max(1, min(256, len(to_read) // max(1, workers)))
        chunks = [to_read[i : i + per_chunk] for i in range(0, len(to_read), per_chunk)]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            read = [f for part in pool.map(_read_chunk, chunks, [verify_audio] * len(chunks))
                    for f in part]  # fmt: skip
        for (path, (size, mtime_ns)), found in zip(to_read, read, strict=True):
            facts[path] = found
            cache[path] = _Entry(
                size, mtime_ns, found.frames, found.sample_rate, found.peak, found.error,
                verify_audio,
            )  # fmt: skip
    if cache_path is not None and (to_read or not cache_path.is_file()):
        _save_cache(cache_path, cache)
    return facts


def check_audio(
    items: Iterable[RawItem], facts: dict[str, AudioFacts], bad: list[BadItem]
) -> Iterator[tuple[RawItem, str, AudioFacts]]:
    """The items that pass the checks on audio and ids, in input order, with their absolute path
    and facts; each other item is appended to ``bad`` (``missing_file``, ``undecodable``,
    ``empty_audio``, ``duplicate_id``) as the iteration reaches it, so that a caller's own checks
    keep ``bad`` in input order.

    Args:
        items: raw items.
        facts: :func:`scan_audio` of their paths.
        bad: the list of bad items to append to.
    """
    seen_ids: set[str] = set()
    for item in items:
        path = os.path.abspath(os.fspath(item.audio_path))
        audio = facts.get(path)
        if audio is None:
            bad.append(BadItem(str(item.id), path, "missing_file", f"{path} does not exist"))
            continue
        if audio.error is not None:
            reason, _, detail = audio.error.partition(": ")
            bad.append(BadItem(str(item.id), path, reason, detail))
            continue
        if item.id in seen_ids:
            detail = f"id {item.id!r} was already used by an earlier item"
            bad.append(BadItem(str(item.id), path, "duplicate_id", detail))
            continue
        seen_ids.add(item.id)
        yield item, path, audio


def write_bad_items(bad: list[BadItem], path: str | Path, split: str | None = None) -> None:
    """Append ``bad`` to the JSON-lines file ``path`` (created, with its folder, if needed).

    Args:
        split: written with each item (``"split": "test"``), so one file can list several splits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for b in bad:
            record = asdict(b) if split is None else {"split": split, **asdict(b)}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def bad_items_summary(n_items: int, bad: list[BadItem]) -> str:
    """ "10 items, 6 bad (missing_file: 2, too_long: 4)": the reasons by frequency."""
    summary = f"{n_items} items, {len(bad)} bad"
    if bad:
        reasons = ", ".join(f"{r}: {n}" for r, n in Counter(b.reason for b in bad).most_common())
        summary += f" ({reasons})"
    return summary


def ctc_min_frames(token_ids: list[int]) -> int:
    """Output frames CTC needs for ``token_ids``: one per label, plus a blank between repeats."""
    repeats = sum(map(operator.eq, token_ids, token_ids[1:]))
    return len(token_ids) + repeats


def check_transcript(
    raw_text: str | None,
    duration: float,
    vocab,
    normalize: Callable[[str], str] = normalize_text,
    min_frames_fn: Callable[[float], int] | None = None,
    max_duration: float | None = None,
) -> tuple[str, tuple[str, str] | None]:
    """The checks of an item whose audio is good (``empty_transcript``, ``unmappable``,
    ``too_short_for_ctc``, ``too_long``, in this order), as :func:`build_index` applies them;
    also used for items whose facts come from a shard index.

    Returns:
        the normalised transcript, and ``(reason, detail)`` when the item is bad, else None.
    """
    text = normalize(raw_text or "")
    if not text:
        return text, ("empty_transcript", f"transcript {raw_text!r} is empty after normalisation")
    missing = vocab.unmappable(text)
    if missing:
        shown = " ".join(repr(c) for c in sorted(missing))
        return text, ("unmappable", f"characters {shown} cannot be encoded in {text!r}")
    if min_frames_fn is not None:
        needed = ctc_min_frames(vocab.encode(text))
        available = int(min_frames_fn(duration))
        if available < needed:
            detail = (
                f"{duration:.3f} s gives {available} output frames but the transcript needs "
                f"{needed} (tokens + repeats)"
            )
            return text, ("too_short_for_ctc", detail)
    if max_duration is not None and duration > max_duration:
        return text, ("too_long", f"{duration:.3f} s > max_duration {max_duration} s")
    return text, None


def build_index(
    items: Iterable[RawItem | tuple],
    cache_path: str | Path | None,
    vocab,
    min_frames_fn: Callable[[float], int] | None = None,
    bad_items_path: str | Path | None = None,
    split: str | None = None,
    max_duration: float | None = None,
    workers: int = 8,
    verify_audio: bool = False,
    normalize: Callable[[str], str] = normalize_text,
) -> IndexResult:
    """Check every item, read durations (through the cache) and return the good ones.

    Args:
        items: raw items ``(id, audio_path, raw_text, duration_or_None)``.
        cache_path: JSON-lines header cache (created/updated); None disables caching.
        vocab: a :mod:`seqlab.text.vocab` vocabulary (``encode``/``unmappable``).
        min_frames_fn: seconds -> number of model output frames, for the CTC length check;
            None skips that check.
        bad_items_path: ``bad_items.jsonl`` to append bad items to (created only if there are any).
        split: written with each bad item (``"split": "test"``), so one file can list several splits.
        max_duration: leave out items longer than this many seconds; None keeps all.
        workers: threads reading headers (I/O bound, so more threads than cores is fine).
        verify_audio: decode every file fully to catch truncated or silent audio (slow).
        normalize: transcript normalisation (the vocabulary's; English ``normalize_text`` by default).

    Returns:
        :class:`IndexResult` with ``utterances`` (input order), ``bad`` and ``summary``.
    """
    raw_items = [RawItem(*item) for item in items]
    facts = scan_audio([item.audio_path for item in raw_items], cache_path, verify_audio, workers)

    # Per-item checks, in the documented order (audio and ids first, in check_audio).
    utterances: list[Utterance] = []
    bad: list[BadItem] = []
    for item, path, audio in check_audio(raw_items, facts, bad):
        duration = audio.frames / audio.sample_rate
        text, problem = check_transcript(
            item.raw_text, duration, vocab, normalize, min_frames_fn, max_duration
        )
        if problem is not None:
            bad.append(BadItem(str(item.id), path, *problem))
            continue
        utterances.append(Utterance(str(item.id), path, text, duration, audio.sample_rate))

    # Report.
    if bad and bad_items_path is not None:
        write_bad_items(bad, bad_items_path, split)
    summary = bad_items_summary(len(raw_items), bad)
    if bad:
        summary += f" -> {bad_items_path}" if bad_items_path is not None else " (not written)"
    # A warning so that users see it even without logging configured.
    (logger.warning if bad else logger.info)("index: %s", summary)
    return IndexResult(utterances, bad, summary)
