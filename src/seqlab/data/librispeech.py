"""LibriSpeech read exactly as it lies on disk.

Layout: ``<root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` with lines
``<utt-id> TRANSCRIPT``, and the audio ``<utt-id>.flac`` next to it (``.wav`` accepted when the
flac is absent, e.g. after a conversion). The built-in synthetic corpus uses the same layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from seqlab.data.index import RawItem


def _subsets_found(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/*/*.trans.txt")))


def _existing_names(folder: str) -> set[str]:
    """Names in ``folder`` that ``os.path.exists`` would accept (a broken symlink is not)."""
    with os.scandir(folder) as entries:
        return {e.name for e in entries if not e.is_symlink() or os.path.exists(e.path)}


def scan_librispeech(root: str | Path, subsets: list[str] | str) -> list[RawItem]:
    """List every transcript line of the given subsets as raw items (no audio is opened).

    Args:
        root: the directory holding the subsets (e.g. ``.../LibriSpeech``).
        subsets: subset directory names, e.g. ``["train-clean-100", "train-clean-360"]``.

    Returns:
        raw items ``(utt_id, audio_path, transcript, None)`` in sorted path order. A line whose
        audio is missing is still listed (with the ``.flac`` path): :func:`build_index` reports it
        as a ``missing_file`` bad item instead of crashing here.
    """
    root = Path(root)
    if isinstance(subsets, str):
        subsets = [subsets]
    items: list[RawItem] = []
    for subset in subsets:
        subset_dir = root / subset
        if not subset_dir.is_dir():
            found = _subsets_found(root)
            raise FileNotFoundError(
                f"LibriSpeech subset {subset!r} not found: {subset_dir} is not a directory. "
                f"Subsets found under {root}: {found if found else 'none'}"
            )
        transcripts = sorted(subset_dir.glob("*/*/*.trans.txt"))
        if not transcripts:
            raise FileNotFoundError(
                f"{subset_dir} holds no <speaker>/<chapter>/*.trans.txt files; is it a LibriSpeech "
                "subset directory (e.g. LibriSpeech/train-clean-100)?"
            )
        for trans_path in transcripts:
            folder = str(trans_path.parent)
            # One listing per chapter, not a stat per utterance (300,000 of them in train-960).
            existing = _existing_names(folder)
            for line in trans_path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                utt_id, _, text = line.strip().partition(" ")
                flac, wav = f"{utt_id}.flac", f"{utt_id}.wav"
                if "/" in utt_id or os.sep in utt_id:  # not a plain name: ask the file system
                    use_flac = os.path.exists(os.path.join(folder, flac)) or not os.path.exists(
                        os.path.join(folder, wav)
                    )
                else:
                    use_flac = flac in existing or wav not in existing
                audio = os.path.join(folder, flac if use_flac else wav)
                items.append(RawItem(utt_id, audio, text.strip(), None))
    return items
