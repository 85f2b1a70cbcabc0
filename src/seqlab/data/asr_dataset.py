"""The speech recognition dataset: an index of utterances -> waveform + token ids per item.

Items are decoded and resampled on the CPU in the DataLoader workers; features (log-mel) are
computed later, in batch, on the training device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from seqlab.audio.io import load_audio
from seqlab.data.index import Utterance


class ASRDataset(Dataset):
    """Utterances from :func:`seqlab.data.index.build_index` as training items."""

    def __init__(self, utterances: Sequence[Utterance], vocab, sample_rate: int) -> None:
        """Args:
        utterances: good items of the index (text already normalised and encodable).
        vocab: the vocabulary that encodes the transcripts.
        sample_rate: rate every waveform is resampled to.
        """
        self.utterances = list(utterances)
        self.vocab = vocab
        self.sample_rate = sample_rate
        # Encoding up front: cheap, and a bad transcript fails here, not mid-epoch in a worker.
        self.token_ids = [vocab.encode(u.text) for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def durations(self) -> list[float]:
        """Seconds per item, in index order (for the bucketing sampler)."""
        return [u.duration for u in self.utterances]

    def __getitem__(self, index: int) -> dict:
        """Returns ``{"audio": (T,) float32, "tokens": (L,) long, "text", "id", "path"}``."""
        utt = self.utterances[index]
        try:
            wave = load_audio(utt.audio_path, self.sample_rate)  # (T,)
        except Exception as err:
            raise RuntimeError(
                f"could not decode {utt.audio_path} (item {utt.id!r}) although its header was "
                f"readable: {err}. Rebuild the index with verify_audio=True to leave such files out."
            ) from err
        return {
            "audio": torch.from_numpy(wave),
            "tokens": torch.tensor(self.token_ids[index], dtype=torch.long),
            "text": utt.text,
            "id": utt.id,
            "path": utt.audio_path,
        }
