"""``seqlab data shard``: write a speech corpus as WebDataset tar shards with a JSON index.

Per subset, ``OUT/<subset>/shard-000000.tar ...`` and ``OUT/<subset>/index.json``. Shards hold
the audio files' own bytes (no re-encoding) and a JSON record per item; the index holds, per
shard, its file name, item count, size and sha256, and per item its key, id, duration, sample
rate and raw transcript (normalisation and the vocabulary's checks happen when training, as for
the tree). Items whose audio is missing, unreadable or empty are left out when writing, listed
with their reason in ``OUT/<subset>/bad_items.jsonl`` (the index's checks on audio and ids).

Items are written in a seeded random order by default, as WebDataset recommends: a shard then
mixes speakers and lengths, and the training stream's shuffle buffer need not be large. The tar
headers carry no time stamps or owners, so the same input gives the same bytes and checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

import numpy as np

from seqlab.data.index import (
    BadItem,
    RawItem,
    bad_items_summary,
    check_audio,
    scan_audio,
    write_bad_items,
)
from seqlab.data.shard_io import INDEX_FORMAT, INDEX_NAME, INDEX_VERSION


def _subsets(src: Path, subsets: list[str] | None) -> list[str]:
    if subsets:
        return list(subsets)
    found = sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*/*/*.trans.txt")))
    if not found:
        raise FileNotFoundError(
            f"{src} holds no LibriSpeech-layout subsets (<subset>/<speaker>/<chapter>/*.trans.txt); "
            "pass the directory that holds train/, dev/, test/ (or train-clean-100/, ...). Shards "
            "are for speech corpora; translation text pairs are read from their files as they are"
        )
    return found


def _key(item_id: str, used: set[str]) -> str:
    """A WebDataset key for ``item_id``: no dots (the first dot starts the extension), no
    slashes, unique within the subset."""
    key = re.sub(r"[^A-Za-z0-9_\-]", "_", item_id) or "item"
    base, n = key, 1
    while key in used:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644  # reproducible bytes
    tar.addfile(info, io.BytesIO(data))


def _write_shard(path: Path, members: list[tuple[str, bytes]]) -> tuple[int, str]:
    """Write one tar atomically; returns its size and sha256."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in members:
                _add(tar, name, data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def write_subset_shards(
    items: list[RawItem],
    out_dir: str | Path,
    subset: str,
    shard_size: int = 1000,
    max_shard_bytes: int = 256 << 20,
    shuffle_seed: int | None = 0,
    source: str = "",
) -> dict:
    """Write ``items`` as shards + ``index.json`` in ``out_dir``; returns the index.

    Args:
        items: raw items (id, audio path, raw transcript, duration hint ignored).
        out_dir: the subset's output directory (created).
        subset: its name (recorded in the index).
        shard_size: items per shard at most.
        max_shard_bytes: a shard is closed before it would pass this size (one item at least).
        shuffle_seed: write items in this seeded random order; None keeps their order.
        source: where the items came from (recorded in the index).
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bad: list[BadItem] = []
    facts = scan_audio([it.audio_path for it in items], cache_path=None)
    good = list(check_audio(items, facts, bad))
    texts = {str(it.id): it.raw_text for it in items}
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(good))
        good = [good[i] for i in order]
    (out_dir / "bad_items.jsonl").unlink(missing_ok=True)
    if bad:
        write_bad_items(bad, out_dir / "bad_items.jsonl", split=subset)
    for old in out_dir.glob("shard-*.tar"):
        old.unlink()  # a re-run with another shard size must not leave stale shards behind

    shards: list[dict] = []
    used: set[str] = set()
    members: list[tuple[str, bytes]] = []
    current: dict = {}

    def close() -> None:
        if not members:
            return
        name = f"shard-{len(shards):06d}.tar"
        n_bytes, sha256 = _write_shard(out_dir / name, members)
        shards.append({"url": name, "n_items": len(current["keys"]), "bytes": n_bytes,
                       "sha256": sha256, **current})  # fmt: skip
        members.clear()

    def fresh() -> dict:
        return {"keys": [], "ids": [], "durations": [], "sample_rates": [], "texts": []}

    current, size = fresh(), 0
    for item, path, audio in good:
        key = _key(str(item.id), used)
        ext = Path(path).suffix.lstrip(".").lower() or "flac"
        data = Path(path).read_bytes()
        duration = audio.frames / audio.sample_rate
        record = {"id": str(item.id), "text": item.raw_text, "duration": duration,
                  "sample_rate": audio.sample_rate}  # fmt: skip
        meta = json.dumps(record, ensure_ascii=False).encode()
        item_bytes = len(data) + len(meta) + 2048  # two tar headers (+ padding), roughly
        if current["keys"] and (
            len(current["keys"]) >= shard_size or size + item_bytes > max_shard_bytes
        ):
            close()
            current, size = fresh(), 0
        members += [(f"{key}.{ext}", data), (f"{key}.json", meta)]
        size += item_bytes
        current["keys"].append(key)
        current["ids"].append(str(item.id))
        current["durations"].append(round(duration, 6))
        current["sample_rates"].append(audio.sample_rate)
        current["texts"].append(item.raw_text)
    close()

    index = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "subset": subset,
        "source": source,
        "n_items": sum(s["n_items"] for s in shards),
        "seconds": round(sum(sum(s["durations"]) for s in shards), 3),
        "bad_items": bad_items_summary(len(items), bad),
        # items left out here, with their transcripts: evaluation scores them as errors
        "left_out": [
            {"id": b.id, "reason": b.reason, "detail": b.detail, "text": texts.get(b.id, "")}
            for b in bad
        ],
        "shards": shards,
    }
    tmp = out_dir / f"{INDEX_NAME}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / INDEX_NAME)  # written last: an index never names a missing shard
    return index


def shard_corpus(
    src: str | Path,
    out: str | Path,
    subsets: list[str] | None = None,
    shard_size: int = 1000,
    max_shard_bytes: int = 256 << 20,
    shuffle_seed: int | None = 0,
) -> dict:
    """Shard every subset of the LibriSpeech-layout tree ``src`` (the built-in corpus's layout
    too) into ``out/<subset>/``; returns a summary per subset (items, shards, seconds, bad items).
    """
    from seqlab.data.librispeech import scan_librispeech

    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"{src} is not a directory")
    summary = {}
    for subset in _subsets(src, subsets):
        items = scan_librispeech(src, [subset])
        index = write_subset_shards(
            items, out / subset, subset, shard_size, max_shard_bytes, shuffle_seed,
            source=str((src / subset).resolve()),
        )  # fmt: skip
        summary[subset] = {
            "dir": str(out / subset),
            "items": index["n_items"],
            "shards": len(index["shards"]),
            "hours": round(index["seconds"] / 3600, 3),
            "bad_items": index["bad_items"],
        }
    return summary
