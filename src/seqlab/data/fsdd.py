"""Manifests for the Free Spoken Digit Dataset (FSDD): the dataset's own split and held-out speakers.

FSDD ships bare recordings, ``recordings/<digit>_<speaker>_<take>.wav`` (8 kHz mono), and states its
split in its README: takes 0-4 of every digit and speaker are test, the rest train. We write that
split, and one per speaker in which the speaker is never heard in training, as NeMo-style JSONL
manifests (``data=fsdd``, a ``data=manifest`` preset). No library prepares FSDD in this form
(lhotse has no FSDD recipe), and the whole job is a file-name parse, so it is ours.

Layout written into the corpus directory (audio paths are relative to each manifest's folder)::

    train.jsonl  val.jsonl  test.jsonl             the dataset's split
    heldout_<speaker>/{train,val,test}.jsonl       one speaker held out, for every speaker
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import soundfile as sf

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEST_TAKES = range(0, 5)  # the dataset's README: takes 0-4 are the test set
VAL_TAKES = range(5, 10)  # ours: held out of the training takes to pick the best checkpoint

_NAME = re.compile(r"^(\d)_(.+)_(\d+)\.wav$")


def _recordings(corpus_dir: Path) -> list[tuple[str, int, int, Path]]:
    """``(speaker, digit, take, path)`` for every recording, sorted (the manifests' order)."""
    rec_dir = corpus_dir / "recordings"
    if not rec_dir.is_dir():
        raise FileNotFoundError(
            f"{rec_dir} does not exist; give the FSDD directory that holds recordings/ "
            "(e.g. the one `seqlab data get fsdd DIR` extracted)"
        )
    out = []
    for path in rec_dir.iterdir():
        if path.suffix.lower() != ".wav":
            continue  # the repository keeps only wavs here; anything else is not ours to judge
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(
                f"{path}: FSDD recordings are named <digit>_<speaker>_<take>.wav "
                "(e.g. 7_jackson_32.wav); rename or remove this file"
            )
        digit, speaker, take = match.groups()
        out.append((speaker, int(digit), int(take), path))
    if not out:
        raise FileNotFoundError(f"{rec_dir} holds no .wav recordings; is the extraction complete?")
    return sorted(out, key=lambda r: r[:3])


def _write_jsonl(path: Path, entries: list[dict]) -> None:
    """Write ``entries`` to ``path`` atomically (a killed run never leaves half a manifest).

    The temporary file has a name of its own (``mkstemp``), so two runs writing the same manifests
    at once (two trainings started together on one corpus) each replace the file whole instead of
    one moving the other's temporary file away.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for entry in entries:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; manifests are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifests(corpus_dir: str | Path) -> dict[str, int]:
    """Write FSDD's manifests into ``corpus_dir`` (the folder holding ``recordings/``).

    The dataset's split: ``test.jsonl`` = takes 0-4 of every digit and speaker, ``val.jsonl`` =
    takes 5-9, ``train.jsonl`` = the rest. For every speaker S, ``heldout_S/``: ``test.jsonl`` =
    all of S's recordings, ``train.jsonl`` = the other speakers' takes 5 and up, ``val.jsonl`` =
    their takes 0-4 (S is never heard in training or model selection). Each line is
    ``{"audio_filepath", "duration", "text", "id"}``; text is the digit as an English word.
    Deterministic (sorted by speaker, digit, take) and idempotent (files are rewritten whole).

    Args:
        corpus_dir: the extracted corpus directory.

    Returns:
        ``{manifest path relative to corpus_dir: number of entries}``, in writing order.

    Raises:
        FileNotFoundError: no ``recordings/`` folder or no wavs in it.
        ValueError: a wav whose name does not follow ``<digit>_<speaker>_<take>.wav``.
    """
    corpus_dir = Path(corpus_dir)
    recordings = _recordings(corpus_dir)
    entries = []
    for speaker, digit, take, path in recordings:
        info = sf.info(str(path))
        entry = {
            "audio_filepath": f"recordings/{path.name}",
            "duration": round(info.frames / info.samplerate, 4),
            "text": DIGIT_WORDS[digit],
            "id": path.stem,
        }
        entries.append((speaker, take, entry))

    def split(take: int) -> str:
        return "test" if take in TEST_TAKES else "val" if take in VAL_TAKES else "train"

    written: dict[str, int] = {}

    def write(rel: str, chosen: list[dict]) -> None:
        target = corpus_dir / rel
        depth = len(Path(rel).parts) - 1  # audio paths stay relative to the manifest's folder
        prefix = "../" * depth
        _write_jsonl(
            target, [{**e, "audio_filepath": prefix + e["audio_filepath"]} for e in chosen]
        )
        written[rel] = len(chosen)

    for name in ("train", "val", "test"):
        write(f"{name}.jsonl", [e for _, take, e in entries if split(take) == name])
    for held in sorted({speaker for speaker, _, _ in entries}):
        others = [(take, e) for speaker, take, e in entries if speaker != held]
        write(f"heldout_{held}/train.jsonl", [e for take, e in others if take not in TEST_TAKES])
        write(f"heldout_{held}/val.jsonl", [e for take, e in others if take in TEST_TAKES])
        write(f"heldout_{held}/test.jsonl", [e for speaker, _, e in entries if speaker == held])
    return written
