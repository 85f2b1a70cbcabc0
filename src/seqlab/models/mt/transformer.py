"""Transformer encoder-decoder for translation (Vaswani et al. 2017), pre- or post-norm.

Our own layers rather than ``nn.TransformerDecoderLayer``: incremental decoding needs the decoder's
self-attention keys and values cached per step (torch's layers recompute the whole prefix, O(t^2)
per sentence instead of O(t)), and cross-attention keys/values are computed once per sentence.

- Embeddings scaled by ``sqrt(d_model)`` plus sinusoidal or learned positions, then dropout.
  Embeddings start at N(0, d_model^-0.5) (fairseq, T2T), so scaled inputs and tied logits are O(1).
- Dropout on every sub-layer's output and on the embeddings; none on the attention weights or
  inside the feed-forward (fairseq's defaults; dropout on the weights forces the unfused attention).
- Pre-norm (``norm_first=True``) adds a final LayerNorm after each stack; post-norm does not.
- Output projection without bias; with ``tie_embeddings`` its weight is the target embedding.
- Scheduled sampling is two-pass (Duckworth et al. 2019; Mihaylova & Martins 2019): a first
  pass over the gold inputs under ``no_grad`` predicts every position; those argmax predictions,
  shifted by one, replace gold inputs with probability ``1 - teacher_forcing`` per position, and the
  second pass (with gradients) reads the mixed inputs.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

POSITIONS = ("sinusoidal", "learned")
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Scaled dot-product attention: q (B, H, Tq, Dh), k/v (B, H, Tk, Dh), bool mask (True = see)."""
    # On CPU the plain (math) kernel trains faster than the fused flash kernel, whose backward is
    # slow there (see models/asr/conformer_ctc.py); GPUs keep the fused kernels.
    cpu = q.device.type == "cpu"
    with sdpa_kernel(SDPBackend.MATH) if cpu else contextlib.nullcontext():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Tq, Dh)


def sinusoidal_positions(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Vaswani et al. encodings (T, d) for ``positions`` (T,): sin on even channels, cos on odd."""
    inv_freq = torch.exp(
        torch.arange(0, d_model, 2, device=positions.device, dtype=torch.float32)
        * (-math.log(10000.0) / d_model)
    )  # (d / 2,)
    angles = positions.float()[:, None] * inv_freq[None, :]  # (T, d / 2)
    table = torch.zeros(len(positions), d_model, device=positions.device)  # (T, d)
    table[:, 0::2] = angles.sin()
    table[:, 1::2] = angles.cos()[:, : d_model // 2]
    return table


class MultiHeadAttention(nn.Module):
    """Multi-head attention whose keys/values can come from a cache (self) or from memory (cross)."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.nhead = nhead
        self.head_dim = d_model // nhead
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, H, T, Dh)."""
        return x.view(x.shape[0], x.shape[1], self.nhead, self.head_dim).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project x (B, T, d) to keys and values, (B, H, T, Dh) each."""
        k, v = self.kv_proj(x).chunk(2, dim=-1)  # (B, T, d) each
        return self._split(k), self._split(v)

    def forward(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Queries from x (B, Tq, d) attend to k, v (B, H, Tk, Dh) under ``mask``; -> (B, Tq, d)."""
        q = self._split(self.q_proj(x))  # (B, H, Tq, Dh)
        out = _attention(q, k, v, mask)  # (B, H, Tq, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))  # (B, Tq, d)


class FeedForward(nn.Module):
    """Linear(d, ff), activation, Linear(ff, d)."""

    def __init__(self, d_model: int, dim_feedforward: int, activation: str) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, dim_feedforward)
        self.down = nn.Linear(dim_feedforward, d_model)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d) -> (B, T, d)."""
        return self.down(self.activation(self.up(x)))


class EncoderLayer(nn.Module):
    """Self-attention over valid source tokens, then feed-forward; pre- or post-norm residuals."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: str,
        norm_first: bool,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, nhead)
        self.ffn = FeedForward(d_model, dim_feedforward, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        k, v = self.self_attn.keys_values(x)  # (B, H, S, Dh) each
        return self.dropout(self.self_attn(x, k, v, mask))  # (B, S, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, S, d), mask: (B, 1, 1, S) bool (True on valid keys) -> (B, S, d)."""
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            return x + self.dropout(self.ffn(self.norm2(x)))
        x = self.norm1(x + self._sa(x, mask))
        return self.norm2(x + self.dropout(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Causal self-attention (with a key/value cache), cross-attention, feed-forward."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: str,
        norm_first: bool,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, nhead)
        self.cross_attn = MultiHeadAttention(d_model, nhead)
        self.ffn = FeedForward(d_model, dim_feedforward, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(
        self,
        x: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, v = self.self_attn.keys_values(x)  # (B, H, Tn, Dh): the new positions
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, H, Tp + Tn, Dh)
            v = torch.cat([past[1], v], dim=2)  # (B, H, Tp + Tn, Dh)
        return self.dropout(self.self_attn(x, k, v, mask)), k, v

    def forward(
        self,
        x: torch.Tensor,
        cross_kv: tuple[torch.Tensor, torch.Tensor],
        cross_mask: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None,
        self_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the new target positions.

        Args:
            x: (B, Tn, d) the new positions.
            cross_kv: source keys and values, (B, H, S, Dh) each.
            cross_mask: (B, 1, 1, S) bool, True on valid source tokens.
            past: cached self-attention keys and values (B, H, Tp, Dh) each, or None.
            self_mask: (Tn, Tp + Tn) bool causal mask, or None when every key may be seen.

        Returns:
            ``(x (B, Tn, d), k, v)`` with k, v (B, H, Tp + Tn, Dh): the new cache.
        """
        if self.norm_first:
            h, k, v = self._sa(self.norm1(x), past, self_mask)
            x = x + h
            x = x + self.dropout(self.cross_attn(self.norm2(x), *cross_kv, cross_mask))
            return x + self.dropout(self.ffn(self.norm3(x))), k, v
        h, k, v = self._sa(x, past, self_mask)
        x = self.norm1(x + h)
        x = self.norm2(x + self.dropout(self.cross_attn(x, *cross_kv, cross_mask)))
        return self.norm3(x + self.dropout(self.ffn(x))), k, v


class TransformerSeq2Seq(nn.Module):
    """Transformer translation model with the seq2seq interface (see ``seqlab.models.mt``).

    Args:
        src_vocab_size: source vocabulary size (specials included).
        tgt_vocab_size: target vocabulary size (specials included).
        d_model: model width (and embedding size).
        nhead: attention heads (must divide d_model).
        dim_feedforward: feed-forward hidden size.
        num_encoder_layers: encoder layers.
        num_decoder_layers: decoder layers.
        dropout: dropout on embeddings and every sub-layer's output.
        activation: "relu" or "gelu" in the feed-forward.
        norm_first: pre-norm (True) or post-norm (False) residual blocks.
        share_embeddings: one embedding table for source and target (joint vocabulary; the sizes
            must be equal).
        tie_embeddings: the output projection is the target embedding matrix.
        positions: "sinusoidal" (any length) or "learned" (at most ``max_positions`` tokens).
        max_positions: table size for learned positions (also the decoding length limit then).
        pad_id: padding id (zero embedding, masked in attention).
        bos_id: begin-of-sentence id.
        eos_id: end-of-sentence id.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        d_model: int = 256,
        nhead: int = 4,
        dim_feedforward: int = 1024,
        num_encoder_layers: int = 3,
        num_decoder_layers: int = 3,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = True,
        share_embeddings: bool = False,
        tie_embeddings: bool = True,
        positions: str = "sinusoidal",
        max_positions: int = 512,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
    ) -> None:
        super().__init__()
        if d_model % nhead != 0:
            raise ValueError(
                f"TransformerSeq2Seq: d_model={d_model} is not divisible by nhead={nhead}; "
                "change model.d_model or model.nhead"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"TransformerSeq2Seq: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}"
            )
        if positions not in POSITIONS:
            raise ValueError(
                f"TransformerSeq2Seq: positions must be one of {POSITIONS}, got {positions!r}"
            )
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(
                f"TransformerSeq2Seq: share_embeddings needs one joint vocabulary, but the source "
                f"has {src_vocab_size} entries and the target {tgt_vocab_size}; use a joint "
                "vocabulary or set model.share_embeddings=false"
            )
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.d_model = d_model
        self.positions = positions
        self.max_positions = max_positions
        # Learned positions end at max_positions: decoders stop there (tokens incl. eos).
        self.max_decode_len: int | None = max_positions if positions == "learned" else None

        self.src_embedding = nn.Embedding(src_vocab_size, d_model, padding_idx=pad_id)
        self.tgt_embedding = (
            self.src_embedding
            if share_embeddings
            else nn.Embedding(tgt_vocab_size, d_model, padding_idx=pad_id)
        )
        if positions == "learned":
            self.position_embedding = nn.Embedding(max_positions, d_model)
            nn.init.normal_(self.position_embedding.weight, std=d_model**-0.5)
        self.dropout = nn.Dropout(dropout)
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, norm_first)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(*layer_args) for _ in range(num_encoder_layers)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(*layer_args) for _ in range(num_decoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = nn.Linear(d_model, tgt_vocab_size, bias=False)

        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        # A list, not a set: a set of modules is ordered by memory address, so the two tables
        # would draw their weights in a different order from run to run (seeds would not hold).
        embeddings = [self.src_embedding]
        if self.tgt_embedding is not self.src_embedding:
            embeddings.append(self.tgt_embedding)
        for embedding in embeddings:
            nn.init.normal_(embedding.weight, std=d_model**-0.5)
            with torch.no_grad():
                embedding.weight[pad_id].zero_()
        if tie_embeddings:
            self.output.weight = self.tgt_embedding.weight

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """tokens (B, T) at positions start..start+T-1 -> (B, T, d) scaled embeddings + positions."""
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)  # (T,)
        if self.positions == "learned":
            if start + tokens.shape[1] > self.max_positions:
                raise ValueError(
                    f"TransformerSeq2Seq: a sequence of {start + tokens.shape[1]} tokens exceeds "
                    f"max_positions={self.max_positions} (learned positions); filter long sentences "
                    "or raise model.max_positions"
                )
            pos = self.position_embedding(positions)  # (T, d)
        else:
            pos = sinusoidal_positions(positions, self.d_model)  # (T, d)
        x = embedding(tokens) * math.sqrt(self.d_model) + pos.to(embedding.weight.dtype)
        return self.dropout(x)  # (B, T, d)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode a padded source batch.

        Args:
            src: (B, S) long, padded with ``pad_id``.
            src_lengths: (B,) long, valid tokens per item (>= 1).

        Returns:
            memory: ``src_mask`` (B, S) bool (True on valid tokens), ``enc_out`` (B, S, d), and per
            decoder layer i the cross-attention keys/values ``cross_k{i}``, ``cross_v{i}``
            (B, H, S, Dh), computed once per sentence.
        """
        if len(src_lengths) and (
            int(src_lengths.min()) < 1 or int(src_lengths.max()) > src.shape[1]
        ):
            raise ValueError(
                f"TransformerSeq2Seq: source lengths must lie in [1, {src.shape[1]}] (the padded "
                f"width), got {src_lengths.tolist()}; drop empty sentences or fix the collator"
            )
        src_mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths[:, None]
        attn_mask = src_mask[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(self.src_embedding, src, 0)  # (B, S, d)
        for layer in self.encoder_layers:
            x = layer(x, attn_mask)  # (B, S, d)
        enc_out = self.encoder_norm(x)  # (B, S, d)
        memory = {"src_mask": src_mask, "enc_out": enc_out}
        for i, layer in enumerate(self.decoder_layers):
            memory[f"cross_k{i}"], memory[f"cross_v{i}"] = layer.cross_attn.keys_values(enc_out)
        return memory

    def _decode(
        self,
        tokens: torch.Tensor,
        memory: dict[str, torch.Tensor],
        cache: dict[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits (B, Tn, V) for the tokens not yet in the cache, and the extended cache."""
        past_len = 0 if cache is None else cache["self_k0"].shape[2]
        new = tokens[:, past_len:]  # (B, Tn)
        n_new = new.shape[1]
        # Causal: new position i (absolute past_len + i) sees keys 0..past_len + i.
        self_mask = None
        if n_new > 1:
            self_mask = torch.ones(
                n_new, past_len + n_new, dtype=torch.bool, device=tokens.device
            ).tril(diagonal=past_len)  # (Tn, Tp + Tn)
        cross_mask = memory["src_mask"][:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(self.tgt_embedding, new, past_len)  # (B, Tn, d)
        new_cache = {}
        for i, layer in enumerate(self.decoder_layers):
            past = None if cache is None else (cache[f"self_k{i}"], cache[f"self_v{i}"])
            cross_kv = (memory[f"cross_k{i}"], memory[f"cross_v{i}"])
            x, new_cache[f"self_k{i}"], new_cache[f"self_v{i}"] = layer(
                x, cross_kv, cross_mask, past, self_mask
            )  # (B, Tn, d), (B, H, Tp + Tn, Dh) x 2
        return self.output(self.decoder_norm(x)), new_cache  # (B, Tn, V)

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        teacher_forcing: float = 1.0,
    ) -> torch.Tensor:
        """Teacher-forced (or two-pass scheduled-sampling) logits for every target position.

        Args:
            src: (B, S) long, padded with ``pad_id``.
            src_lengths: (B,) long.
            tgt_in: (B, T) long: ``bos`` + target[:-1], padded with ``pad_id``.
            teacher_forcing: probability of keeping each gold input. Below 1, a first pass under
                ``no_grad`` predicts every position; at positions t >= 1 (not padding), with
                probability ``1 - teacher_forcing`` each, the input becomes the first pass's argmax
                at t-1; the returned logits come from a second pass over these mixed inputs.

        Returns:
            logits: (B, T, V).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(
                f"TransformerSeq2Seq: teacher_forcing must lie in [0, 1], got {teacher_forcing}"
            )
        memory = self.encode(src, src_lengths)
        if teacher_forcing < 1.0 and tgt_in.shape[1] > 1:
            with torch.no_grad():
                predicted = self._decode(tgt_in, memory, None)[0].argmax(dim=-1)  # (B, T)
            gold_next = tgt_in[:, 1:]  # (B, T-1)
            use_pred = torch.rand(gold_next.shape, device=tgt_in.device) >= teacher_forcing
            use_pred &= gold_next != self.pad_id  # (B, T-1)
            mixed_next = torch.where(use_pred, predicted[:, :-1], gold_next)  # (B, T-1)
            tgt_in = torch.cat([tgt_in[:, :1], mixed_next], dim=1)  # (B, T)
        return self._decode(tgt_in, memory, None)[0]  # (B, T, V)

    def decode_step(
        self,
        tokens: torch.Tensor,
        memory: dict[str, torch.Tensor],
        cache: dict[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Next-token log-probabilities for incremental decoding (self-attention KV cache).

        Args:
            tokens: (B, t) long, every token so far (``bos`` first); positions already in the cache
                are not recomputed.
            memory: from ``encode`` (possibly reordered along dim 0).
            cache: None at the first step, else the returned cache: ``self_k{i}``, ``self_v{i}``
                (B, H, t-1, Dh) per decoder layer.

        Returns:
            ``(log_probs (B, V) float32, cache)``.
        """
        logits, cache = self._decode(tokens, memory, cache)  # (B, Tn, V)
        return F.log_softmax(logits[:, -1].float(), dim=-1), cache  # (B, V)
