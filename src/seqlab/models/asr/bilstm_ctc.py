"""Bidirectional LSTM with a CTC head: the reference model of the course report.

Log-mel frames, an optional time subsampling (frame averaging with no parameters, or a strided
Conv1d), a multi-layer bidirectional LSTM, and Linear(2 * hidden, vocab) with log-softmax.

Why the LSTM is not simply ``nn.LSTM`` over a ``PackedSequence``: on the CPU torch runs packed input
through its step-by-step fallback, whose backward grows with the square of the number of frames
(a 320-second batch took ~60 s a step), while padded input runs oneDNN's fused LSTM kernel. A
plain padded bidirectional LSTM would let padding flow into the backward direction, so each layer
runs its two directions separately: forward over the padded batch (padding only follows the valid
frames), backward over each item reversed within its own length. The outputs equal the packed
ones (tested). On CUDA, cuDNN runs packed sequences in fused kernels, so packing stays the default
there; ``pack_sequences=True`` packs everywhere. The weights stay in one ``nn.LSTM``,
so the parameter names and count are those of the packed model and old checkpoints load as is.
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
    ``frame_stride`` adds no parameters; the conv front end adds its own and widens the LSTM input.

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
        frame_stride: average each ``frame_stride`` consecutive frames before the LSTM (no
            parameters): the LSTM runs ``frame_stride`` x fewer steps; a last incomplete group is
            dropped. 1 = off. With ``conv_frontend`` the averaging comes first (strides multiply).
        pack_sequences: True: run the LSTM on a ``PackedSequence`` (the original path; slow to
            train on the CPU); False: the padded per-direction path; None: packed on CUDA, padded
            elsewhere. All give the same outputs.
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
        frame_stride: int = 1,
        pack_sequences: bool | None = None,
    ) -> None:
        super().__init__()
        if conv_frontend and conv_kernel_size < conv_stride:
            raise ValueError(
                f"BiLSTMCTC: conv_kernel_size={conv_kernel_size} < conv_stride={conv_stride} would "
                "skip input frames; use a kernel at least as wide as the stride"
            )
        if frame_stride < 1:
            raise ValueError(f"BiLSTMCTC: frame_stride={frame_stride}; use 1 (every frame) or more")
        self.conv_frontend = conv_frontend
        self.conv_stride = conv_stride
        self.conv_kernel_size = conv_kernel_size
        self.frame_stride = frame_stride
        self.pack_sequences = pack_sequences
        self.subsampling_factor: int = frame_stride * (conv_stride if conv_frontend else 1)
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

        Without front end the lengths are unchanged; with the conv front end
        ``(L - kernel) // stride + 1`` (0 for inputs shorter than the kernel); with frame
        averaging ``L // frame_stride``.
        """
        lengths = lengths // self.frame_stride
        if self.conv_frontend:
            return ((lengths - self.conv_kernel_size) // self.conv_stride + 1).clamp(min=0)
        return lengths

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch and return CTC log-probabilities.

        Args:
            feats: (B, T, n_mels) float log-mel features (padding may hold anything).
            lengths: (B,) long, valid frames per item.

        Returns:
            ``(log_probs, out_lengths)``: log_probs (B, T', vocab_size) float32 log-softmax
            (T' = ``T // frame_stride``, then ``(T' - kernel) // stride + 1`` with the conv
            front end); out_lengths (B,) long. Frames past out_lengths are meaningless (CTC loss and decoders ignore them).
        """
        x = feats  # (B, T, F)
        if self.frame_stride > 1:
            k = self.frame_stride
            x = x[:, : x.shape[1] // k * k]  # (B, T // k * k, F)
            x = x.reshape(x.shape[0], -1, k, x.shape[2]).mean(dim=2)  # (B, T // k, F)
        if self.frontend is not None:
            x = F.gelu(self.frontend(x.transpose(1, 2))).transpose(1, 2)  # (B, T', C)
        x = self.dropout(x)  # (B, T', C)
        out_lengths = self.output_lengths(lengths)  # (B,)
        # The check (and packing) needs the lengths on the CPU; one small copy per batch. An
        # ONNX export traces shapes symbolically: the check reads data, so it is left out there
        # (the ONNX runtime checks the lengths before it calls the graph).
        lengths_cpu = out_lengths.cpu()  # (B,)
        if not torch.compiler.is_exporting() and (
            int(lengths_cpu.min()) < 1 or int(lengths_cpu.max()) > x.shape[1]
        ):
            raise ValueError(
                f"BiLSTMCTC: output lengths must lie in [1, {x.shape[1]}] but got "
                f"{lengths_cpu.tolist()} (input lengths {lengths.tolist()}, {feats.shape[1]} frames); "
                "drop utterances too short for the front end or fix the collator's lengths"
            )
        pack = self.pack_sequences
        if pack is None:
            pack = x.device.type == "cuda"
        if pack:
            packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
            packed_out, _ = self.lstm(packed)
            x, _ = pad_packed_sequence(
                packed_out, batch_first=True, total_length=x.shape[1]
            )  # (B, T', 2H)
        elif x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # oneDNN's LSTM refuses autocast's bf16 on CPUs without native bf16 (torch 2.13):
            # the recurrences run in fp32, the rest of the model stays under autocast.
            with torch.autocast("cpu", enabled=False):
                x = self._padded_lstm(x.float(), out_lengths)  # (B, T', 2H)
        else:
            x = self._padded_lstm(x, out_lengths)  # (B, T', 2H)
        logits = self.head(self.dropout(x))  # (B, T', V)
        return logits.float().log_softmax(dim=-1), out_lengths  # (B, T', V), (B,)

    def _padded_lstm(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``self.lstm`` over a padded batch, each direction reading only valid frames.

        Args:
            x: (B, T, C) input, padded past ``lengths``.
            lengths: (B,) long valid steps, each in [1, T].

        Returns:
            (B, T, 2H): per step the forward and backward hidden states, as ``nn.LSTM`` gives
            for each item alone; steps past an item's length hold unspecified values.
        """
        batch, steps = x.shape[:2]
        lstm = self.lstm
        hidden = lstm.hidden_size
        # reverse[b, t] = lengths[b] - 1 - t inside the item, t in the padding: flips each item's
        # valid frames in place and is its own inverse.
        t = torch.arange(steps, device=x.device).unsqueeze(0)  # (1, T)
        last = lengths.to(x.device).unsqueeze(1) - 1  # (B, 1)
        reverse = torch.where(t <= last, last - t, t)  # (B, T)
        zeros = x.new_zeros(1, batch, hidden)  # (1, B, H): initial h and c
        for layer in range(lstm.num_layers):
            if layer > 0:
                x = F.dropout(x, lstm.dropout, self.training)  # as nn.LSTM between layers
            index = reverse.unsqueeze(-1).expand(-1, -1, x.shape[2])  # (B, T, C)
            directions = []
            for suffix, inputs in (("", x), ("_reverse", x.gather(1, index))):
                weights = [
                    getattr(lstm, f"{name}_l{layer}{suffix}")
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                # One unidirectional layer through the kernel nn.LSTM.forward itself calls
                # (oneDNN on the CPU): args are hx, weights, has_biases, num_layers, dropout,
                # train, bidirectional, batch_first.
                out = torch.lstm(
                    inputs, (zeros, zeros), weights, True, 1, 0.0, self.training, False, True
                )[0]
                directions.append(out)  # (B, T, H)
            backward = directions[1].gather(1, reverse.unsqueeze(-1).expand(-1, -1, hidden))
            x = torch.cat([directions[0], backward], dim=-1)  # (B, T, 2H)
        return x
