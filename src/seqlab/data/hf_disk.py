"""Hugging Face datasets saved with ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``) as raw items.

``save_to_disk`` stores an ``Audio`` column as the encoded file bytes (plus the original path).
The index and the loader read audio files, so each item's bytes are written once, unchanged, to a
cache directory keyed by the dataset's fingerprint (``<cache>/<fingerprint>/<row>.<suffix>``); a
second scan finds them there. Rows whose ``bytes`` are empty but whose ``path`` exists are read
from that path. Nothing is decoded here: a corrupted file is found by
:func:`seqlab.data.index.build_index` like any other. Needs the ``datasets`` package (the ``hf``
extra): the library that writes these directories.
"""

from __future__ import annotations

import os
from pathlib import Path

from seqlab.data.cache import cache_dir as seqlab_cache_dir
from seqlab.data.index import RawItem

TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text")


def _load(root: str | Path, name: str):
    try:
        import datasets
    except ImportError as err:
        raise ImportError(
            "data.format=hf_disk needs the datasets package: pip install 'seqlab[hf]'"
        ) from err
    path = Path(name)
    path = path if path.is_absolute() else Path(root) / path
    if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            raise ValueError(
                f"{path} holds a DatasetDict with splits {list(loaded)}; set data.root={path} and "
                f"name a split ({', '.join(loaded)}) in data.train/val/test"
            )
        return loaded, path.name
    root_path = Path(root)
    if not (root_path / "dataset_dict.json").is_file():
        raise FileNotFoundError(
            f"neither {path} nor {root_path} is a directory written by save_to_disk "
            "(state.json / dataset_dict.json); data.train/val/test name a split of the "
            "DatasetDict at data.root or a saved Dataset directory"
        )
    loaded = datasets.load_from_disk(str(root_path))
    if name not in loaded:
        raise ValueError(f"{root_path} has splits {list(loaded)}, not {name!r}")
    return loaded[name], name


def scan_hf_disk(
    root: str | Path,
    name: str,
    audio_column: str = "audio",
    text_column: str | None = None,
    cache_dir: str | Path | None = None,
) -> list[RawItem]:
    """Raw items of one split of a saved dataset.

    Args:
        root: a ``DatasetDict`` directory (then ``name`` is a split), or the parent of ``name``.
        name: a split of the ``DatasetDict`` at ``root``, or a saved ``Dataset`` directory.
        audio_column: the ``Audio`` column.
        text_column: the transcript column; None = the first of sentence, text, transcription,
            transcript, normalized_text.
        cache_dir: where audio bytes are written as files; None: ``hf_disk/`` in
            :func:`seqlab.data.cache.cache_dir`.

    Returns:
        raw items ``(id, audio_path, text, None)``; the id is the ``id``/``utt_id``/``path``
        column's value if there is one, else ``<split>-<row>``.
    """
    import datasets

    ds, split = _load(root, name)
    if audio_column not in ds.column_names:
        raise ValueError(
            f"{root}/{name} has no column {audio_column!r} (columns: {ds.column_names})"
        )
    if text_column is None:
        text_column = next((c for c in TEXT_COLUMNS if c in ds.column_names), None)
    if text_column is None or text_column not in ds.column_names:
        raise ValueError(
            f"{root}/{name}: set data.text_column to the transcript column (columns: {ds.column_names})"
        )
    if not isinstance(ds.features[audio_column], datasets.Audio):
        raise ValueError(
            f"{root}/{name}: column {audio_column!r} is {ds.features[audio_column]}, not an Audio "
            "column; cast it with ds.cast_column(column, datasets.Audio()) before save_to_disk"
        )
    ds = ds.cast_column(audio_column, datasets.Audio(decode=False))  # bytes and path, no decoding
    id_column = next((c for c in ("id", "utt_id") if c in ds.column_names), None)
    base = Path(cache_dir).expanduser() if cache_dir is not None else seqlab_cache_dir() / "hf_disk"
    out_dir = base / ds._fingerprint
    out_dir.mkdir(parents=True, exist_ok=True)
    items: list[RawItem] = []
    audio_rows, texts = ds[audio_column], ds[text_column]
    ids = ds[id_column] if id_column else None
    for row, (audio, text) in enumerate(zip(audio_rows, texts, strict=True)):
        utt_id = str(ids[row]) if ids is not None else f"{split}-{row:07d}"
        data, source = audio.get("bytes"), audio.get("path")
        if not data and source and Path(source).is_file():
            items.append(RawItem(utt_id, str(Path(source).resolve()), text or "", None))
            continue
        suffix = Path(source).suffix if source and Path(source).suffix else ".wav"
        target = out_dir / f"{row:07d}{suffix}"
        if not target.is_file() or target.stat().st_size != len(data or b""):
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            tmp.write_bytes(data or b"")  # empty bytes stay an empty file: empty_audio in the index
            os.replace(tmp, target)
        items.append(RawItem(utt_id, str(target), text or "", None))
    return items
