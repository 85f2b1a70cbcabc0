"""Batching ASR items: zero-padded waveforms and token ids, with their lengths."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def collate_asr(items: Sequence[dict]) -> dict:
    """Pad a list of :class:`seqlab.data.asr_dataset.ASRDataset` items into one batch.

    Args:
        items: dicts with "audio" (T_i,) float, "tokens" (L_i,) long, "text", "id", "path".

    Returns:
        dict with "audio" (B, T) float32 zero-padded, "audio_lengths" (B,) long, "tokens" (B, L)
        long padded with 0 (the blank; never a target inside ``token_lengths``), "token_lengths"
        (B,) long, "texts", "ids", "paths" lists, and "padding_fraction" (float: padded samples
        over all samples of the audio tensor).
    """
    if not items:
        raise ValueError("collate_asr got an empty list of items")
    audio_lengths = torch.tensor([len(it["audio"]) for it in items], dtype=torch.long)  # (B,)
    token_lengths = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)  # (B,)
    batch_size = len(items)
    audio = torch.zeros(batch_size, int(audio_lengths.max()), dtype=torch.float32)  # (B, T)
    tokens = torch.zeros(batch_size, max(int(token_lengths.max()), 1), dtype=torch.long)  # (B, L)
    for row, it in enumerate(items):
        audio[row, : len(it["audio"])] = it["audio"]
        tokens[row, : len(it["tokens"])] = it["tokens"]
    total = audio.numel()
    padding_fraction = 1.0 - float(audio_lengths.sum()) / total if total else 0.0
    return {
        "audio": audio,
        "audio_lengths": audio_lengths,
        "tokens": tokens,
        "token_lengths": token_lengths,
        "texts": [it["text"] for it in items],
        "ids": [it["id"] for it in items],
        "paths": [it["path"] for it in items],
        "padding_fraction": padding_fraction,
    }
