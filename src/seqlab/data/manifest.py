"""NeMo-style JSON-lines manifests: one ``{"audio_filepath", "text", "duration"?}`` object per line.

``audio_filepath`` is absolute or relative to the manifest's directory. Decisions: a line that is
not a JSON object, or that lacks ``audio_filepath``, is an error in the manifest itself (raised,
naming file and line: there is no item to speak of); a missing or null ``text`` is an empty
transcript, which :func:`seqlab.data.index.build_index` reports as a bad item.
"""

from __future__ import annotations

import json
from pathlib import Path

from seqlab.data.index import RawItem


def scan_manifest(path: str | Path) -> list[RawItem]:
    """Read a NeMo manifest into raw items.

    Args:
        path: the ``.json``/``.jsonl`` manifest.

    Returns:
        raw items ``(id, audio_path, text, duration_or_None)``; the id is the entry's ``id`` (or
        ``utt_id``) field if present, else the audio path relative to the manifest's directory
        without its suffix (absolute path without suffix for files outside it).
    """
    path = Path(path)
    base = path.parent.resolve()
    items: list[RawItem] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{path} line {line_no} is not valid JSON ({err}): {line[:80]!r}"
                ) from err
            if not isinstance(entry, dict) or not entry.get("audio_filepath"):
                raise ValueError(
                    f"{path} line {line_no} has no 'audio_filepath'; each line must be a JSON "
                    'object like {"audio_filepath": "a.wav", "text": "...", "duration": 1.2}'
                )
            audio = Path(entry["audio_filepath"])
            audio = audio if audio.is_absolute() else base / audio
            utt_id = entry.get("id", entry.get("utt_id"))
            if utt_id is None:
                try:
                    utt_id = audio.resolve().relative_to(base).with_suffix("").as_posix()
                except ValueError:
                    utt_id = audio.with_suffix("").as_posix()
            duration = entry.get("duration")
            items.append(
                RawItem(
                    str(utt_id),
                    str(audio),
                    entry.get("text") or "",
                    float(duration) if duration is not None else None,
                )
            )
    return items
