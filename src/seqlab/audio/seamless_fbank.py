"""Wav2vec2-BERT's input features (``SeamlessM4TFeatureExtractor``) in torch, in batch, on the device.

Ours because transformers' extractor is numpy, one utterance at a time with a Python loop over
frames, in the DataLoader's collator: on a GPU that is where fine-tuning time goes. This module
computes the same numbers (checked against the extractor in tests/test_hf_ctc_features.py) for a
zero-padded batch in a few tensor operations:

1. waveform x 2^15 (Kaldi works on 16-bit sample values);
2. frames of 400 samples every 160 (25 ms / 10 ms at 16 kHz), no centering;
3. per frame: DC offset removed, pre-emphasis 0.97 (first sample x 0.03), Povey window,
   512-point FFT, power spectrum;
4. 80 Kaldi mel filters (20 Hz to Nyquist, triangular in mel space), floor 2^-23, natural log;
5. per utterance and mel bin: mean 0, variance 1 (unbiased variance, + 1e-7), over its own frames;
6. padded frames are 0; two consecutive frames are stacked into one 160-dim vector (stride 2);
   a stacked vector is valid when both its frames are (the extractor's attention mask).

The mel filters and window come from ``transformers.audio_utils`` (the extractor's own functions),
so the constants cannot drift from the extractor's.
"""

from __future__ import annotations

import torch
from torch import nn

FRAME_LENGTH = 400
HOP_LENGTH = 160
FFT_LENGTH = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # 2^-23, the extractor's floor
VAR_EPS = 1e-7


class SeamlessFbank(nn.Module):
    """Batched Kaldi-style fbank + per-utterance normalisation + stride stacking.

    Args:
        sample_rate: the audio's rate (the extractor's ``sampling_rate``, 16 kHz for w2v-BERT 2.0).
        num_mel_bins: mel filters (80).
        stride: frames stacked into one vector (2): output size ``num_mel_bins * stride``.
    """

    def __init__(self, sample_rate: int = 16000, num_mel_bins: int = 80, stride: int = 2):
        super().__init__()
        from transformers.audio_utils import mel_filter_bank, window_function

        self.sample_rate, self.num_mel_bins, self.stride = int(sample_rate), num_mel_bins, stride
        mel = mel_filter_bank(
            num_frequency_bins=FFT_LENGTH // 2 + 1,
            num_mel_filters=num_mel_bins,
            min_frequency=20,
            max_frequency=sample_rate // 2,
            sampling_rate=sample_rate,
            norm=None,
            mel_scale="kaldi",
            triangularize_in_mel_space=True,
        )  # (257, n_mels)
        window = window_function(FRAME_LENGTH, "povey", periodic=False)  # (400,)
        # not persistent: rebuilt from the settings, never stale in a checkpoint
        self.register_buffer(
            "mel_filters", torch.tensor(mel, dtype=torch.float32), persistent=False
        )
        self.register_buffer("window", torch.tensor(window, dtype=torch.float32), persistent=False)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Fbank frames of ``(B,)`` sample counts (0 for audio shorter than one frame)."""
        return torch.clamp(
            torch.div(sample_lengths - FRAME_LENGTH, HOP_LENGTH, rounding_mode="floor") + 1, min=0
        )

    def output_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Valid stacked vectors of ``(B,)`` sample counts: ``frames // stride``."""
        return torch.div(self.frame_lengths(sample_lengths), self.stride, rounding_mode="floor")

    def forward(
        self, audio: torch.Tensor, audio_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-padded waveforms ``(B, T)`` in [-1, 1] and lengths ``(B,)`` -> features.

        Returns:
            ``input_features`` ``(B, F', num_mel_bins * stride)`` float32 and ``attention_mask``
            ``(B, F')`` long, as ``SeamlessM4TFeatureExtractor(..., padding=True)`` returns them
            (``F'`` = ceil(longest item's frames / stride)).
        """
        audio = audio.float()
        if audio.shape[1] < FRAME_LENGTH:
            audio = nn.functional.pad(audio, (0, FRAME_LENGTH - audio.shape[1]))
        frames = (audio * 32768.0).unfold(1, FRAME_LENGTH, HOP_LENGTH)  # (B, F, 400)
        frames = frames - frames.mean(dim=-1, keepdim=True)
        frames = torch.cat(
            [
                frames[..., :1] * (1.0 - PREEMPHASIS),
                frames[..., 1:] - PREEMPHASIS * frames[..., :-1],
            ],
            dim=-1,
        )  # (B, F, 400)
        spectrum = torch.fft.rfft(frames * self.window, n=FFT_LENGTH)  # (B, F, 257)
        power = spectrum.real.square() + spectrum.imag.square()
        feats = torch.log(torch.clamp(power @ self.mel_filters, min=MEL_FLOOR))  # (B, F, n_mels)

        n_frames = self.frame_lengths(audio_lengths.to(feats.device))  # (B,)
        longest = int(n_frames.max()) if n_frames.numel() else 0
        feats = feats[:, :longest]
        valid = (torch.arange(longest, device=feats.device) < n_frames[:, None]).unsqueeze(-1)
        count = n_frames.clamp(min=1).to(feats.dtype)[:, None, None]  # (B, 1, 1)
        mean = (feats * valid).sum(dim=1, keepdim=True) / count  # (B, 1, n_mels)
        centred = (feats - mean) * valid
        var = centred.square().sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)  # unbiased
        feats = centred / torch.sqrt(var + VAR_EPS)  # (B, F, n_mels); padded frames are 0

        remainder = longest % self.stride
        if remainder:  # the extractor pads to a multiple of the stride
            feats = nn.functional.pad(feats, (0, 0, 0, self.stride - remainder))
        batch, padded, bins = feats.shape
        stacked = feats.reshape(batch, padded // self.stride, bins * self.stride)  # (B, F', 160)
        lengths = torch.div(n_frames, self.stride, rounding_mode="floor")  # (B,)
        mask = (torch.arange(stacked.shape[1], device=feats.device) < lengths[:, None]).long()
        return stacked, mask
