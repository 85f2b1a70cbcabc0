"""The speech recognition dataset: an index of utterances -> waveform + token ids per item.

Items are decoded and resampled on the CPU in the DataLoader workers; features (log-mel) are
computed later, in batch, on the training device.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlab.audio.io import load_audio
from seqlab.data.index import Utterance

ENCODE_BLOCK = 4096  # transcripts encoded per block while the token array is built


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
        # Held as one flat array with offsets, not a list per item: 300,000 LibriSpeech transcripts
        # are ~57M ids, ~470 MB as Python lists, ~115 MB as int16, and one array is not copied page
        # by page into each forked DataLoader worker as reference counts are touched.
        dtype = np.int16 if len(vocab) <= np.iinfo(np.int16).max else np.int32
        parts, lengths = [], []
        for start in range(0, len(self.utterances), ENCODE_BLOCK):  # few lists alive at once
            ids = [vocab.encode(u.text) for u in self.utterances[start : start + ENCODE_BLOCK]]
            lengths.extend(map(len, ids))
            parts.append(np.array(list(chain.from_iterable(ids)), dtype=dtype))
        self._tokens = np.concatenate(parts) if parts else np.zeros(0, dtype)  # (sum L,)
        self._offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])  # (N + 1,)

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
        index %= len(self.utterances)  # a negative index, as for a list (the line above checked it)
        tokens = self._tokens[self._offsets[index] : self._offsets[index + 1]]
        return {
            "audio": torch.from_numpy(wave),
            "tokens": torch.from_numpy(tokens.astype(np.int64)),
            "text": utt.text,
            "id": utt.id,
            "path": utt.audio_path,
        }
