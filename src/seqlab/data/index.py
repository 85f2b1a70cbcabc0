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
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
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


@dataclass
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


@dataclass
class _Header:
    frames: int
    sample_rate: int
    error: str | None = None  # why the file is bad, or None


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _read_header(path: str, size: int, verify_audio: bool) -> _Header:
    """Header facts of one file; errors become ``_Header.error`` ("<reason>: <detail>")."""
    if size == 0:
        # libsndfile writes a 0-frame flac as a 0-byte file, which it then cannot open.
        return _Header(0, 0, "empty_audio: the file is 0 bytes")
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        return _Header(0, 0, f"undecodable: {err}")
    frames, sample_rate = int(info.frames), int(info.samplerate)
    if frames <= 0:
        return _Header(frames, sample_rate, "empty_audio: the header says 0 frames")
    if verify_audio:
        try:
            # Decode in blocks: a full read of a long file would hold it all in memory at once.
            peak = 0.0
            decoded = 0
            for block in sf.blocks(path, blocksize=1 << 16, dtype="float32", always_2d=True):
                decoded += block.shape[0]
                peak = max(peak, float(np.abs(block).max(initial=0.0)))
        except Exception as err:
            return _Header(frames, sample_rate, f"undecodable: reading samples failed: {err}")
        if decoded == 0:
            return _Header(frames, sample_rate, "empty_audio: no samples could be decoded")
        if peak == 0.0:
            return _Header(frames, sample_rate, "empty_audio: all samples are zero")
    return _Header(frames, sample_rate)


def _load_cache(cache_path: Path | None) -> dict[str, dict]:
    if cache_path is None or not cache_path.is_file():
        return {}
    entries: dict[str, dict] = {}
    for line_no, line in enumerate(cache_path.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
            entries[entry["audio_path"]] = entry
        except (json.JSONDecodeError, KeyError, TypeError):
            # A damaged cache only costs re-reading headers; never fail the run for it.
            logger.warning("%s line %d is not a cache entry; ignoring it", cache_path, line_no)
    return entries


def _save_cache(cache_path: Path, entries: dict[str, dict]) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(cache_path.name + f".tmp{os.getpid()}")
    with open(tmp, "w") as f:
        for entry in entries.values():
            f.write(json.dumps(entry) + "\n")
    os.replace(tmp, cache_path)  # atomic: a crash leaves the old cache, never half a file


def ctc_min_frames(token_ids: list[int]) -> int:
    """Output frames CTC needs for ``token_ids``: one per label, plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(token_ids, token_ids[1:], strict=False) if a == b)
    return len(token_ids) + repeats


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
    cache_path = Path(cache_path) if cache_path is not None else None
    cache = _load_cache(cache_path)

    # 1. Stat every file; take headers from the cache when (size, mtime_ns) still match.
    paths = sorted({os.path.abspath(os.fspath(item.audio_path)) for item in raw_items})
    headers: dict[str, _Header] = {}
    to_read: list[tuple[str, tuple[int, int]]] = []
    for path in paths:
        key = _stat_key(path)
        if key is None:
            continue  # missing: reported per item below
        entry = cache.get(path)
        if (
            entry is not None
            and (entry.get("size"), entry.get("mtime_ns")) == key
            and bool(entry.get("verified")) >= verify_audio
        ):
            headers[path] = _Header(entry["frames"], entry["sample_rate"], entry.get("error"))
        else:
            to_read.append((path, key))

    # 2. Read the missing headers in a thread pool (soundfile releases the GIL in libsndfile).
    if to_read:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            read = list(pool.map(lambda pk: _read_header(pk[0], pk[1][0], verify_audio), to_read))
        for (path, (size, mtime_ns)), header in zip(to_read, read, strict=True):
            headers[path] = header
            cache[path] = {
                "audio_path": path,
                "size": size,
                "mtime_ns": mtime_ns,
                "frames": header.frames,
                "sample_rate": header.sample_rate,
                "error": header.error,
                "verified": verify_audio,
            }
    if cache_path is not None and (to_read or not cache_path.is_file()):
        _save_cache(cache_path, cache)

    # 3. Per-item checks, in the documented order.
    utterances: list[Utterance] = []
    bad: list[BadItem] = []
    seen_ids: set[str] = set()
    for item in raw_items:
        path = os.path.abspath(os.fspath(item.audio_path))

        def reject(reason: str, detail: str, item=item, path=path) -> None:
            bad.append(BadItem(str(item.id), path, reason, detail))

        header = headers.get(path)
        if header is None:
            reject("missing_file", f"{path} does not exist")
            continue
        if header.error is not None:
            reason, _, detail = header.error.partition(": ")
            reject(reason, detail)
            continue
        if item.id in seen_ids:
            reject("duplicate_id", f"id {item.id!r} was already used by an earlier item")
            continue
        seen_ids.add(item.id)
        duration = header.frames / header.sample_rate
        text = normalize(item.raw_text or "")
        if not text:
            reject("empty_transcript", f"transcript {item.raw_text!r} is empty after normalisation")
            continue
        missing = vocab.unmappable(text)
        if missing:
            shown = " ".join(repr(c) for c in sorted(missing))
            reject("unmappable", f"characters {shown} cannot be encoded in {text!r}")
            continue
        if min_frames_fn is not None:
            needed = ctc_min_frames(vocab.encode(text))
            available = int(min_frames_fn(duration))
            if available < needed:
                reject(
                    "too_short_for_ctc",
                    f"{duration:.3f} s gives {available} output frames but the transcript needs "
                    f"{needed} (tokens + repeats)",
                )
                continue
        if max_duration is not None and duration > max_duration:
            reject("too_long", f"{duration:.3f} s > max_duration {max_duration} s")
            continue
        utterances.append(Utterance(str(item.id), path, text, duration, header.sample_rate))

    # 4. Report.
    if bad and bad_items_path is not None:
        bad_items_path = Path(bad_items_path)
        bad_items_path.parent.mkdir(parents=True, exist_ok=True)
        with open(bad_items_path, "a") as f:
            for b in bad:
                record = asdict(b) if split is None else {"split": split, **asdict(b)}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = f"{len(raw_items)} items, {len(bad)} bad"
    if bad:
        reasons = ", ".join(f"{r}: {n}" for r, n in Counter(b.reason for b in bad).most_common())
        summary += f" ({reasons})"
        summary += f" -> {bad_items_path}" if bad_items_path is not None else " (not written)"
    # A warning so that users see it even without logging configured.
    (logger.warning if bad else logger.info)("index: %s", summary)
    return IndexResult(utterances, bad, summary)
