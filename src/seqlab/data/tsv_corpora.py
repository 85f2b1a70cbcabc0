"""Tab-separated speech corpora, read as they are on disk: OpenSLR (e.g. SLR54 Nepali) and Common Voice.

OpenSLR large-ASR sets (SLR52-54: Sinhala, Bengali, Nepali)::

    <root>/utt_spk_text.tsv            utt_id <TAB> speaker_id <TAB> transcription   (no header)
    <root>/data/<xx>/<utt_id>.flac     xx = the first two characters of utt_id

Common Voice::

    <root>/train.tsv, dev.tsv, test.tsv, validated.tsv ...   a header row with ``path`` and ``sentence``
    <root>/clips/<path>                                     mp3 (libsndfile reads it)

Both return raw items ``(id, audio_path, raw_text, None)`` for :func:`seqlab.data.index.build_index`,
which checks the audio and the transcripts. A line that cannot be an item at all (too few columns)
is an error naming the file and line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from seqlab.data.index import RawItem

OPENSLR_AUDIO_DIR = "data"
OPENSLR_SUFFIX = ".flac"


def _tsv_path(root: str | Path, name: str) -> Path:
    path = Path(name)
    path = path if path.is_absolute() else Path(root) / path
    if path.suffix != ".tsv" and not path.is_file():
        path = path.with_name(path.name + ".tsv")  # "train" -> train.tsv
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; data.train/val/test name TSV files under data.root={root}"
        )
    return path


def scan_openslr(root: str | Path, tsv: str = "utt_spk_text.tsv") -> list[RawItem]:
    """Items of an OpenSLR TSV (``utt_id``, ``speaker_id``, ``transcription``).

    Args:
        root: the corpus directory (holds ``data/<xx>/<utt_id>.flac``).
        tsv: the TSV file, relative to ``root`` (``.tsv`` may be left out) or absolute.

    Returns:
        raw items in file order; a header row (first field ``utt_id``) is skipped.
    """
    path = _tsv_path(root, tsv)
    audio_dir = Path(root) / OPENSLR_AUDIO_DIR
    items: list[RawItem] = []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                raise ValueError(
                    f"{path} line {line_no} has {len(fields)} tab-separated fields, expected 3 "
                    f"(utt_id, speaker_id, transcription): {line[:80]!r}"
                )
            utt_id, text = fields[0].strip(), "\t".join(fields[2:])
            if line_no == 1 and utt_id == "utt_id":
                continue
            audio = audio_dir / utt_id[:2] / f"{utt_id}{OPENSLR_SUFFIX}"
            items.append(RawItem(utt_id, str(audio), text, None))
    return items


def scan_commonvoice(root: str | Path, tsv: str = "train.tsv") -> list[RawItem]:
    """Items of a Common Voice TSV (columns ``path`` and ``sentence``, audio in ``clips/``).

    Args:
        root: the language directory (holds ``clips/`` and the TSVs).
        tsv: the TSV file, relative to ``root`` (``.tsv`` may be left out) or absolute.

    Returns:
        raw items in file order; the id is the clip's name without its suffix.
    """
    path = _tsv_path(root, tsv)
    clips = Path(root) / "clips"
    items: list[RawItem] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or "path" not in header or "sentence" not in header:
            raise ValueError(
                f"{path}: the first row must be a header with 'path' and 'sentence' columns "
                f"(Common Voice's layout), got {header}"
            )
        col_path, col_text = header.index("path"), header.index("sentence")
        for line_no, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) <= max(col_path, col_text):
                raise ValueError(
                    f"{path} line {line_no} has {len(row)} fields but the header has {len(header)}"
                )
            clip = row[col_path].strip()
            items.append(RawItem(Path(clip).stem, str(clips / clip), row[col_text], None))
    return items
