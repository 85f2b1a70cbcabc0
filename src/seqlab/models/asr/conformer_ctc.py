"""Conformer encoder with a CTC head (Gulati et al. 2020, "Conformer: Convolution-augmented
Transformer for Speech Recognition").

Ours rather than torchaudio's/NeMo's: no torchaudio CPU build here, and the course-style reading
level wants one plain file. Differences from the paper, on purpose:

- Positions: rotary position embeddings (RoPE, Su et al. 2021) on queries and keys instead of
  Transformer-XL relative encodings. RoPE is relative too (scores depend on ``i - j`` only), has no
  parameters, and keeps attention inside ``F.scaled_dot_product_attention`` (fused kernels).
- Dropout only on each module's output (and after the subsampling), not on attention weights or
  inside the feed-forward: dropout on the (B, H, T, T) weights forces the unfused attention path,
  about 4x slower on CPU, and the masks cost as much as a matmul there.
- Convolution module: LayerNorm over channels instead of BatchNorm, and padded frames are set to 0
  before the depthwise convolution, so padding never influences valid frames (BatchNorm would mix
  padded frames into its batch statistics in training).

Every position-wise layer, the masked attention and the masked convolution make the outputs of an
item independent of how much padding it was batched with (checked in tests/test_asr_models.py).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from seqlab.models.asr.subsampling import Conv2dSubsampling4


def _rotary_cos_sin(
    n_frames: int, head_dim: int, device: torch.device, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables ``cos, sin`` of shape (T, head_dim) for positions 0..T-1 (base 10000)."""
    inv_freq = 1.0 / (
        10000.0 ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    )  # (Dh / 2,)
    positions = torch.arange(n_frames, device=device, dtype=torch.float32)  # (T,)
    angles = torch.outer(positions, inv_freq)  # (T, Dh / 2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, Dh)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs ``(i, i + Dh/2)`` of x (B, H, T, Dh) by the position angles."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # (B, H, T, Dh)
    return x * cos + rotated * sin  # (B, H, T, Dh)


class FeedForward(nn.Module):
    """Pre-norm feed-forward module: LayerNorm, Linear(d, e*d), SiLU, Linear(e*d, d), dropout."""

    def __init__(self, d_model: int, expansion: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, expansion * d_model)
        self.down = nn.Linear(expansion * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d) -> (B, T, d)."""
        h = F.silu(self.up(self.norm(x)))  # (B, T, e * d)
        return self.dropout(self.down(h))  # (B, T, d)


class RotarySelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with rotary positions and a key padding mask."""

    def __init__(self, d_model: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % num_heads != 0 or (d_model // num_heads) % 2 != 0:
            raise ValueError(
                f"ConformerCTC: d_model={d_model} must split into num_heads={num_heads} heads of an "
                "even size (rotary positions rotate channel pairs); change d_model or num_heads"
            )
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Attend over valid frames only.

        Args:
            x: (B, T, d).
            key_mask: (B, T) bool, True on valid frames; every row needs at least one True.
            rotary: ``(cos, sin)`` tables, (T, Dh) each, from ``_rotary_cos_sin``.

        Returns:
            (B, T, d).
        """
        batch, frames, d_model = x.shape
        qkv = self.qkv(self.norm(x))  # (B, T, 3d)
        qkv = qkv.view(batch, frames, 3, self.num_heads, self.head_dim)  # (B, T, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, Dh)
        cos, sin = rotary  # (T, Dh) each
        q = _apply_rotary(q, cos.to(q.dtype), sin.to(q.dtype))  # (B, H, T, Dh)
        k = _apply_rotary(k, cos.to(k.dtype), sin.to(k.dtype))  # (B, H, T, Dh)
        attn_mask = key_mask[:, None, None, :]  # (B, 1, 1, T): queries see valid keys only
        # On CPU the plain (math) kernel trains ~25% faster than the fused flash kernel at speech
        # lengths (its backward is slow there); GPUs keep the fused kernels.
        cpu = q.device.type == "cpu"
        with sdpa_kernel(SDPBackend.MATH) if cpu else contextlib.nullcontext():
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, T, Dh)
        out = out.transpose(1, 2).reshape(batch, frames, d_model)  # (B, T, d)
        return self.dropout(self.proj(out))  # (B, T, d)


class ConvolutionModule(nn.Module):
    """Pre-norm Conformer convolution module with padding masked before the depthwise conv.

    LayerNorm, pointwise conv (as Linear) to 2d, GLU, zero padded frames, depthwise Conv1d,
    LayerNorm (instead of BatchNorm), SiLU, pointwise conv (as Linear), dropout.
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(
                f"ConformerCTC: conv_kernel_size must be odd (same-length 'same' padding), got {kernel_size}"
            )
        self.norm_in = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(
            d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model
        )
        self.norm_mid = nn.LayerNorm(d_model)
        self.pointwise_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d), valid: (B, T) bool -> (B, T, d)."""
        h = F.glu(self.pointwise_in(self.norm_in(x)), dim=-1)  # (B, T, d)
        h = h.masked_fill(~valid[..., None], 0.0)  # (B, T, d): padding reads as the conv's zeros
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)  # (B, T, d)
        h = F.silu(self.norm_mid(h))  # (B, T, d)
        return self.dropout(self.pointwise_out(h))  # (B, T, d)


class ConformerBlock(nn.Module):
    """Macaron block: x + FFN/2, x + MHSA, x + Conv, x + FFN/2, LayerNorm."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ff_expansion: int,
        conv_kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_expansion, dropout)
        self.attn = RotarySelfAttention(d_model, num_heads, dropout)
        self.conv = ConvolutionModule(d_model, conv_kernel_size, dropout)
        self.ff2 = FeedForward(d_model, ff_expansion, dropout)
        self.norm_out = nn.LayerNorm(d_model)

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor,
        key_mask: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """x: (B, T, d), valid/key_mask: (B, T) bool, rotary: (T, Dh) x 2 -> (B, T, d)."""
        x = x + 0.5 * self.ff1(x)  # (B, T, d)
        x = x + self.attn(x, key_mask, rotary)  # (B, T, d)
        x = x + self.conv(x, valid)  # (B, T, d)
        x = x + 0.5 * self.ff2(x)  # (B, T, d)
        return self.norm_out(x)  # (B, T, d)


class ConformerCTC(nn.Module):
    """Conformer encoder + Linear CTC head over x4-subsampled log-mel frames.

    Named sizes (exact parameter counts for n_mels=80, vocab_size=29, ff_expansion=4):

    - "small":  d_model=144, num_layers=8,  num_heads=4, conv_kernel_size=15 -> 4,453,805 params
      (3,867,264 in the blocks, 582,336 in the subsampling, 4,205 in the head); with
      ``subsampling_channels=64``: 4,084,285; with 32: 3,968,733.
    - "medium": d_model=256, num_layers=12, num_heads=4, conv_kernel_size=15 -> 20,071,709 params.

    On CPU the subsampling dominates the small model at ``subsampling_channels=None`` (its first
    convolution writes a (B, d_model, T/2, n_mels/2) tensor); 32 or 64 channels are 2-4x cheaper.

    Args:
        n_mels: input mel bins.
        vocab_size: CTC output classes, blank included.
        d_model: model width.
        num_layers: Conformer blocks.
        num_heads: attention heads (d_model / num_heads must be even, for rotary positions).
        ff_expansion: feed-forward hidden size as a multiple of d_model.
        conv_kernel_size: depthwise convolution kernel (odd).
        dropout: dropout on every module's output and after the subsampling.
        subsampling_channels: channels of the two subsampling convolutions; None means d_model.
    """

    def __init__(
        self,
        n_mels: int = 80,
        vocab_size: int = 29,
        d_model: int = 144,
        num_layers: int = 8,
        num_heads: int = 4,
        ff_expansion: int = 4,
        conv_kernel_size: int = 15,
        dropout: float = 0.1,
        subsampling_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.subsampling = Conv2dSubsampling4(n_mels, d_model, subsampling_channels, dropout)
        self.subsampling_factor: int = self.subsampling.subsampling_factor
        self.blocks = nn.ModuleList(
            ConformerBlock(d_model, num_heads, ff_expansion, conv_kernel_size, dropout)
            for _ in range(num_layers)
        )
        self.head_dim = d_model // num_heads
        self.head = nn.Linear(d_model, vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames (B,) long for input frames ``lengths`` (B,) long: ``((L-1)//2 - 1)//2``."""
        return self.subsampling.output_lengths(lengths)

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch and return CTC log-probabilities.

        Args:
            feats: (B, T, n_mels) float log-mel features (padding may hold anything).
            lengths: (B,) long, valid frames per item.

        Returns:
            ``(log_probs, out_lengths)``: log_probs (B, T', vocab_size) float32 log-softmax with
            ``T' = ((T - 1) // 2 - 1) // 2``; out_lengths (B,) long. Frames past out_lengths are
            meaningless (CTC loss and decoders ignore them).
        """
        x, out_lengths = self.subsampling(feats, lengths)  # (B, T', d), (B,)
        frame_index = torch.arange(x.shape[1], device=x.device)  # (T',)
        valid = frame_index[None, :] < out_lengths[:, None]  # (B, T') bool
        # Items too short for one output frame would have no key to attend to (NaN rows);
        # let them see frame 0 so the batch stays finite. The data layer drops such items.
        key_mask = frame_index[None, :] < out_lengths.clamp(min=1)[:, None]  # (B, T') bool
        # One rotary table for all layers: positions restart at 0 for every item, so an item's
        # angles do not depend on the batch it is in.
        rotary = _rotary_cos_sin(x.shape[1], self.head_dim, x.device, torch.float32)  # (T', Dh) x 2
        for block in self.blocks:
            x = block(x, valid, key_mask, rotary)  # (B, T', d)
        logits = self.head(x)  # (B, T', V)
        return logits.float().log_softmax(dim=-1), out_lengths  # (B, T', V), (B,)
