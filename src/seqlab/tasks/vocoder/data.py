"""The vocoder's data for the engine: an LJSpeech-layout corpus (data/ljspeech.py) indexed for its
audio alone (data/vocoder_dataset.py), as random segments for training and whole clips for
validation."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from seqlab.data.cache import cache_dir
from seqlab.data.ljspeech import ensure_builtin_corpus, scan_ljspeech
from seqlab.data.vocoder_dataset import (
    SegmentBatchSampler,
    VocoderDataset,
    collate_vocoder,
    index_audio,
)
from seqlab.engine.task import DataSpec


def _cache_path(data_cfg, split: str, verify: bool) -> Path:
    base = cache_dir()
    key = repr((str(Path(data_cfg.root).resolve()), "ljspeech-vocoder", split, verify))
    return base / "index" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl"


def vocoder_data_spec(data_cfg, split: str, rank: int, world_size: int, run_dir, seed: int):
    """The engine's data for one split of an LJSpeech-layout corpus (keys: configs/data/ljspeech.yaml).

    Training batches hold random ``segment_size`` crops (zero-padded at the end when an item is
    shorter), shuffled per epoch, the last partial batch dropped; validation batches hold whole
    utterances (cropped to ``val_max_seconds``) in a fixed order, zero-padded to the longest.
    Both: ``{"audio": (B, T) float32, "audio_lengths": (B,) long, "ids", "paths"}``.

    Args:
        data_cfg: the ``data`` config block.
        split: ``"train"`` or ``"val"``.
        rank, world_size: this process's DDP rank and the number of processes.
        run_dir: the run directory (rank 0 appends bad items to ``<run_dir>/bad_items.jsonl``);
            None: not written.
        seed: the run's seed (batch order and crops follow from it and the epoch).

    Returns:
        :class:`seqlab.engine.task.DataSpec`.
    """
    if data_cfg.get("format", "ljspeech") != "ljspeech":
        raise ValueError(f"vocoder data: format {data_cfg.format!r}; only 'ljspeech' is supported")
    ensure_builtin_corpus(data_cfg)
    from seqlab.data.corpus_get import ensure_corpus

    ensure_corpus(data_cfg, [])  # data.corpus: ljspeech: fetch it (data.download) or say how
    verify = bool(data_cfg.get("verify_audio", True))
    items = scan_ljspeech(
        data_cfg.root,
        split,
        val_fraction=float(data_cfg.get("val_fraction", 0.05)),
        seed=int(data_cfg.get("split_seed", 1234)),
        train_filelist=data_cfg.get("train_filelist"),
        val_filelist=data_cfg.get("val_filelist"),
    )
    sample_rate = int(data_cfg.sample_rate)
    segment_size = int(data_cfg.segment_size)
    index = index_audio(
        items,
        cache_path=_cache_path(data_cfg, split, verify),
        # Every rank indexes the same files; one writes the list, so each bad item is there once.
        bad_items_path=Path(run_dir) / "bad_items.jsonl"
        if run_dir is not None and rank == 0
        else None,
        min_seconds=float(data_cfg.get("min_seconds", 0.0) or 0.0),
        verify_audio=verify,
    )
    if index.bad and rank == 0:
        print(f"data ({split}): {index.summary}")
    utts = index.utterances
    if not utts:
        raise ValueError(
            f"no usable audio in the {split} split of {data_cfg.root} ({index.summary}); see "
            "bad_items.jsonl in the run directory"
        )
    peak = bool(data_cfg.get("peak_normalize", False))
    if split == "train":
        dataset = VocoderDataset(utts, sample_rate, segment_size, peak_normalize=peak)
        batch_size, shuffle = int(data_cfg.batch_size), True
        collate = functools.partial(collate_vocoder, pad_to=segment_size)
    else:
        max_items = data_cfg.get("val_max_items")
        if max_items:
            step = max(1, len(utts) // int(max_items))  # an even spread, deterministic
            utts = utts[::step][: int(max_items)]
        max_seconds = data_cfg.get("val_max_seconds")
        max_samples = int(float(max_seconds) * sample_rate) if max_seconds else None
        dataset = VocoderDataset(utts, sample_rate, max_samples=max_samples, peak_normalize=peak)
        batch_size, shuffle = int(data_cfg.get("val_batch_size", 1)), False
        collate = collate_vocoder
    sampler = SegmentBatchSampler(
        len(dataset), batch_size, shuffle=shuffle, seed=int(seed), num_replicas=world_size,
        rank=rank,
    )  # fmt: skip
    return DataSpec(dataset=dataset, batch_sampler=sampler, collate_fn=collate)
