"""Bidirectional LSTM with a CTC head: the reference model of the course report.

Log-mel frames, an optional strided Conv1d front end (fewer frames for the LSTM: faster), a
multi-layer bidirectional LSTM over packed sequences (padding never reaches the recurrences), and
Linear(2 * hidden, vocab) with log-softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class BiLSTMCTC(nn.Module):
    """BiLSTM CTC acoustic model.

    Default (no front end): 2 layers, hidden 256 -> 2,284,061 parameters for n_mels=80,
    vocab_size=29 (LSTM: per layer and direction ``4 * (hidden * (in + hidden) + 2 * hidden)``).

    Args:
        n_mels: input mel bins.
        vocab_size: CTC output classes, blank included.
        hidden_size: LSTM hidden size per direction.
        num_layers: stacked bidirectional LSTM layers.
        dropout: dropout after the front end, between LSTM layers and before the head.
        conv_frontend: put ``Conv1d(n_mels, conv_channels, conv_kernel_size, stride=conv_stride)``
            + GELU before the LSTM; it divides the frames by ``conv_stride``.
        conv_channels: front-end output channels (the LSTM input size).
        conv_stride: front-end stride over time (the subsampling factor).
        conv_kernel_size: front-end kernel over time; must be >= conv_stride so no frame is skipped.
    """

    def __init__(
        self,
        n_mels: int = 80,
        vocab_size: int = 29,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.1,
        conv_frontend: bool = False,
        conv_channels: int = 256,
        conv_stride: int = 2,
        conv_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if conv_frontend and conv_kernel_size < conv_stride:
            raise ValueError(
                f"BiLSTMCTC: conv_kernel_size={conv_kernel_size} < conv_stride={conv_stride} would "
                "skip input frames; use a kernel at least as wide as the stride"
            )
        self.conv_frontend = conv_frontend
        self.conv_stride = conv_stride
        self.conv_kernel_size = conv_kernel_size
        self.subsampling_factor: int = conv_stride if conv_frontend else 1
        if conv_frontend:
            # Unpadded ("valid") convolution: valid output frames read valid input frames only.
            self.frontend = nn.Conv1d(n_mels, conv_channels, conv_kernel_size, stride=conv_stride)
            lstm_input = conv_channels
        else:
            self.frontend = None
            lstm_input = n_mels
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            lstm_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(2 * hidden_size, vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames (B,) long for input frames ``lengths`` (B,) long.

        Without front end the lengths are unchanged; with it, ``(L - kernel) // stride + 1``
        (0 for inputs shorter than the kernel).
        """
        if not self.conv_frontend:
            return lengths.clone()
        return ((lengths - self.conv_kernel_size) // self.conv_stride + 1).clamp(min=0)

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch and return CTC log-probabilities.

        Args:
            feats: (B, T, n_mels) float log-mel features (padding may hold anything).
            lengths: (B,) long, valid frames per item.

        Returns:
            ``(log_probs, out_lengths)``: log_probs (B, T', vocab_size) float32 log-softmax
            (T' = T without front end, ``(T - kernel) // stride + 1`` with it); out_lengths (B,)
            long. Frames past out_lengths are meaningless (CTC loss and decoders ignore them).
        """
        x = feats  # (B, T, F)
        if self.frontend is not None:
            x = F.gelu(self.frontend(x.transpose(1, 2))).transpose(1, 2)  # (B, T', C)
        x = self.dropout(x)  # (B, T', C)
        out_lengths = self.output_lengths(lengths)  # (B,)
        # Packing needs the lengths on the CPU; the sync is one small copy per batch.
        lengths_cpu = out_lengths.cpu()  # (B,)
        if int(lengths_cpu.min()) < 1 or int(lengths_cpu.max()) > x.shape[1]:
            raise ValueError(
                f"BiLSTMCTC: output lengths must lie in [1, {x.shape[1]}] but got "
                f"{lengths_cpu.tolist()} (input lengths {lengths.tolist()}, {feats.shape[1]} frames); "
                "drop utterances too short for the front end or fix the collator's lengths"
            )
        packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
        packed_out, _ = self.lstm(packed)
        x, _ = pad_packed_sequence(
            packed_out, batch_first=True, total_length=x.shape[1]
        )  # (B, T', 2H)
        logits = self.head(self.dropout(x))  # (B, T', V)
        return logits.float().log_softmax(dim=-1), out_lengths  # (B, T', V), (B,)
