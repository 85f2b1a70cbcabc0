"""LJSpeech read exactly as it ships (the vocoder's data for the engine is built from it in
seqlab/tasks/vocoder/data.py).

Layout: ``<root>/metadata.csv`` with lines ``ID|transcription|normalized transcription`` (no
quoting: quotes are part of the text) and ``<root>/wavs/<ID>.wav`` (22,050 Hz mono 16-bit).
Splits: a deterministic 95/5 split by a seeded shuffle of the IDs, or the official file lists
of the HiFi-GAN repository (``LJSpeech-1.1/training.txt`` / ``validation.txt``, lines ``ID|text``
or ``wavs/ID.wav|...``). The built-in corpus (``seqlab data synth-speech OUT --layout ljspeech``)
has the same layout.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np

from seqlab.data.index import RawItem

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "all")


def read_metadata(root: str | Path) -> list[tuple[str, str, str]]:
    """``(id, text, normalized_text)`` of every line of ``<root>/metadata.csv``, in file order.

    Raises:
        FileNotFoundError: no metadata.csv under ``root``.
        ValueError: a line without exactly three ``|``-separated fields (file and line named),
            or an ID that occurs twice.
    """
    path = Path(root) / "metadata.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: data.root must be the LJSpeech directory holding metadata.csv "
            "and wavs/ (e.g. .../LJSpeech-1.1), or build the built-in one with "
            "`seqlab data synth-speech DIR --layout ljspeech`"
        )
    rows: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, fields in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), 1):
            if not fields or fields == [""]:
                continue
            if len(fields) != 3 or not fields[0].strip():
                raise ValueError(
                    f"{path} line {line_no}: expected 'ID|text|normalized text' (3 fields), got "
                    f"{len(fields)} field(s): {'|'.join(fields)[:80]!r}"
                )
            utt_id = fields[0].strip()
            if utt_id in seen:
                raise ValueError(
                    f"{path} line {line_no}: ID {utt_id!r} already on line {seen[utt_id]}"
                )
            seen[utt_id] = line_no
            rows.append((utt_id, fields[1], fields[2]))
    if not rows:
        raise ValueError(f"{path} holds no lines")
    return rows


def read_filelist(path: str | Path, root: str | Path | None = None) -> list[str]:
    """IDs of an official file list (``ID|text`` or ``wavs/ID.wav|...`` lines), in file order.

    Args:
        path: the list; a relative path is looked up under ``root`` first, then as given.
        root: the corpus directory.
    """
    path = Path(path)
    if not path.is_absolute() and root is not None and (Path(root) / path).is_file():
        path = Path(root) / path
    if not path.is_file():
        raise FileNotFoundError(f"file list {path} not found (relative paths are under data.root)")
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        first = line.split("|", 1)[0].strip()
        if first:
            name = os.path.basename(first)
            ids.append(name[:-4] if name.lower().endswith(".wav") else name)
    return ids


def split_ids(ids: list[str], val_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """Deterministic train/val split: a seeded shuffle of the sorted IDs, the first part is val.

    Returns:
        ``(train_ids, val_ids)``, disjoint; val has ``round(val_fraction * N)`` IDs (at least one
        when ``0 < val_fraction`` and there are two IDs or more).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    ordered = sorted(ids)
    n_val = round(val_fraction * len(ordered))
    if val_fraction > 0 and len(ordered) > 1:
        n_val = max(1, n_val)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    val = {ordered[i] for i in perm[:n_val]}
    return set(ordered) - val, val


def scan_ljspeech(
    root: str | Path,
    split: str,
    val_fraction: float = 0.05,
    seed: int = 1234,
    train_filelist: str | Path | None = None,
    val_filelist: str | Path | None = None,
) -> list[RawItem]:
    """List the items of one split (no audio is opened: :func:`index_audio` checks it).

    Args:
        root: the LJSpeech directory (``metadata.csv`` + ``wavs/``).
        split: ``"train"``, ``"val"`` or ``"all"``.
        val_fraction, seed: the default split (see :func:`split_ids`).
        train_filelist, val_filelist: official file lists; when one is given, the other split is
            the rest of metadata.csv (unless it is given too).

    Returns:
        raw items ``(id, <root>/wavs/<id>.wav, normalized text, None)`` in metadata order.
    """
    if split not in SPLITS:
        raise ValueError(f"LJSpeech split {split!r}: choose one of {', '.join(SPLITS)}")
    root = Path(root)
    rows = read_metadata(root)
    all_ids = [r[0] for r in rows]
    if split == "all":
        wanted = set(all_ids)
    elif train_filelist is None and val_filelist is None:
        train_ids, val_ids = split_ids(all_ids, val_fraction, seed)
        wanted = train_ids if split == "train" else val_ids
    else:
        known = set(all_ids)
        lists = {"train": train_filelist, "val": val_filelist}
        chosen = {}
        for name, filelist in lists.items():
            if filelist is None:
                continue
            ids = read_filelist(filelist, root)
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise ValueError(
                    f"{len(unknown)} ID(s) of the {name} file list {filelist} are not in "
                    f"{root / 'metadata.csv'}, e.g. {', '.join(unknown[:5])}; the list and the "
                    "corpus do not match"
                )
            chosen[name] = set(ids)
        other = "val" if split == "train" else "train"
        wanted = chosen.get(split, known - chosen.get(other, set()))
    return [
        RawItem(utt_id, str(root / "wavs" / f"{utt_id}.wav"), normalized, None)
        for utt_id, _, normalized in rows
        if utt_id in wanted
    ]


def ensure_builtin_corpus(data_cfg) -> None:
    """Build the built-in corpus at ``data_cfg.root`` when ``build_if_missing`` and it is absent.

    Concurrent processes (DDP ranks) build it once (:func:`seqlab.corpora.build_once.build_once`);
    a corpus of the user's own there (a ``metadata.csv`` without ``corpus.json``) is never
    overwritten.
    """
    if not data_cfg.get("build_if_missing", False):
        return
    from seqlab.corpora.build_once import build_once

    root = Path(data_cfg.root)

    def build() -> None:
        from seqlab.corpora.synth_ljspeech import build_ljspeech_corpus

        hours, seed = float(data_cfg.get("corpus_hours", 0.3)), int(data_cfg.get("corpus_seed", 0))
        print(f"[data] building the built-in LJSpeech-layout corpus ({hours} h) in {root} ...")
        build_ljspeech_corpus(root, hours=hours, seed=seed, overwrite=True)

    build_once(root, build, foreign=lambda root: (root / "metadata.csv").exists())
