"""Convolutional x4 time subsampling for speech encoders (Conformer, Transformer CTC).

Two ``Conv2d(3x3, stride 2) + ReLU`` over (time, mel) then a Linear to ``d_model``, as in
ESPnet's ``Conv2dSubsampling`` and the Conformer paper. The convolutions use no padding, so
every valid output frame reads only valid input frames: padding never leaks into valid outputs
and no mask is needed here (the encoder masks the frames past ``output_lengths``).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3_stride2_length(length: torch.Tensor | int) -> torch.Tensor | int:
    """Frames out of a kernel-3, stride-2, unpadded convolution: ``floor((L - 3) / 2) + 1``."""
    return (length - 1) // 2


class Conv2dSubsampling4(nn.Module):
    """Subsample time (and mel) by 4 with two strided 2-D convolutions.

    Args:
        n_mels: number of input mel bins (the frequency axis of the convolutions).
        d_model: output feature size.
        channels: convolution channels; ``None`` means ``d_model`` (as in ESPnet). Fewer channels
            make the second convolution, often the most expensive layer of a small Conformer on
            CPU, much cheaper.
        dropout: dropout after the output Linear.
    """

    subsampling_factor: int = 4

    def __init__(
        self, n_mels: int, d_model: int, channels: int | None = None, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if n_mels < 7:
            raise ValueError(
                f"Conv2dSubsampling4 needs n_mels >= 7 (two 3x3 stride-2 convolutions), got {n_mels}"
            )
        channels = d_model if channels is None else channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, stride=2),
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size=3, stride=2),
            nn.ReLU(),
        )
        freq_out = _conv3_stride2_length(_conv3_stride2_length(n_mels))
        self.out = nn.Linear(channels * freq_out, d_model)
        self.dropout = nn.Dropout(dropout)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output frames for ``lengths`` input frames: ``((L - 1) // 2 - 1) // 2``.

        Args:
            lengths: (B,) long, input frames per item.

        Returns:
            (B,) long, output frames per item (0 for inputs shorter than 7 frames).
        """
        return _conv3_stride2_length(_conv3_stride2_length(lengths)).clamp(min=0)

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Subsample a padded batch of features.

        Args:
            feats: (B, T, n_mels) float.
            lengths: (B,) long, valid frames per item.

        Returns:
            ``(x, out_lengths)``: x (B, T', d_model) with ``T' = ((T - 1) // 2 - 1) // 2``;
            out_lengths (B,) long. Frames past ``out_lengths`` hold garbage.
        """
        x = feats.unsqueeze(1)  # (B, 1, T, F)
        x = self.conv(x)  # (B, C, T', F')
        batch, channels, frames, freq = x.shape
        x = x.transpose(1, 2).reshape(batch, frames, channels * freq)  # (B, T', C * F')
        x = self.dropout(self.out(x))  # (B, T', d_model)
        return x, self.output_lengths(lengths)
