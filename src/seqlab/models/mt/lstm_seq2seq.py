"""Attentional LSTM encoder-decoder (Bahdanau et al. 2015; Luong et al. 2015), the course report's model.

Our own file rather than JoeyNMT's or OpenNMT-py's: none of them has scheduled sampling (a teacher-
forcing ratio below 1), and the course reading level wants one plain file.

- Encoder: embedding, dropout, a (bi)directional multi-layer LSTM over packed sequences (padding
  never reaches the recurrences), a bridge from its final states to the decoder's initial states
  (per layer: ``h0 = tanh(W_h [h_fwd; h_bwd])``, ``c0 = W_c [c_fwd; c_bwd]``).
- Decoder (JoeyNMT's "input feeding" layout, for both attentions): at step t the LSTM reads
  ``[embedding(y_{t-1}); a_{t-1}]``, its top state ``s_t`` queries the encoder outputs, and the
  attentional vector ``a_t = tanh(W_a [s_t; context_t])`` gives the logits. With
  ``input_feeding=False`` (Luong et al.'s plain global attention) the LSTM reads
  ``embedding(y_{t-1})`` only: under teacher forcing it then runs over the whole target in one
  fused LSTM call and attends for all steps in one batched product, instead of a Python loop of
  T single-step calls (decoding stays step by step). On one CPU thread that saves 1-10 % of a
  training step (the LSTM kernels and the output layer dominate; bench/mt_lstm_step.py); on a
  GPU, where the loop's kernel launches dominate, it should save more. Attention scores are
  additive ("bahdanau": ``v^T tanh(W_k h + W_q s)``) or bilinear ("luong" general: ``s^T W_k h``);
  "none" drops the context (``a_t = tanh(W_a s_t)``). Padded source positions get no weight.
- Output: ``Linear(hidden, V)``, or with tied embeddings the target embedding matrix itself,
  after a ``Linear(hidden, emb_dim)`` when the sizes differ. No output bias (as JoeyNMT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ATTENTIONS = ("bahdanau", "luong", "none")


class LSTMSeq2Seq(nn.Module):
    """LSTM encoder-decoder with attention, tied decoder embeddings and scheduled sampling.

    Args:
        src_vocab_size: source vocabulary size (specials included).
        tgt_vocab_size: target vocabulary size (specials included).
        emb_dim: source and target embedding size.
        hidden_size: LSTM hidden size (per direction in the encoder) and attentional vector size.
        num_layers: stacked LSTM layers in the encoder and in the decoder.
        dropout: dropout on embeddings, between LSTM layers and on the attentional layer's input.
        attention: "bahdanau" (additive), "luong" (bilinear "general") or "none".
        bidirectional_encoder: run the encoder LSTM in both directions.
        tie_embeddings: the output projection is the target embedding matrix.
        input_feeding: feed the previous attentional vector to the decoder LSTM (True, JoeyNMT's
            layout) or not (False: teacher-forced training runs without a loop over time steps).
        pad_id: padding id (zero embedding, masked in attention).
        bos_id: begin-of-sentence id (first decoder input).
        eos_id: end-of-sentence id.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        emb_dim: int = 256,
        hidden_size: int = 512,
        num_layers: int = 3,
        dropout: float = 0.2,
        attention: str = "bahdanau",
        bidirectional_encoder: bool = True,
        tie_embeddings: bool = True,
        input_feeding: bool = True,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(
                f"LSTMSeq2Seq: attention must be one of {ATTENTIONS}, got {attention!r}; "
                "set model.attention accordingly"
            )
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.max_decode_len: int | None = None  # recurrent: any length
        self.attention = attention
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.input_feeding = input_feeding
        num_dirs = 2 if bidirectional_encoder else 1
        enc_dim = num_dirs * hidden_size
        lstm_dropout = dropout if num_layers > 1 else 0.0

        self.src_embedding = nn.Embedding(src_vocab_size, emb_dim, padding_idx=pad_id)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, emb_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.encoder = nn.LSTM(
            emb_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional_encoder,
            dropout=lstm_dropout,
        )
        self.bridge_h = nn.Linear(enc_dim, hidden_size)
        self.bridge_c = nn.Linear(enc_dim, hidden_size)
        # Input feeding: the previous attentional vector joins the embedding.
        self.decoder = nn.LSTM(
            emb_dim + (hidden_size if input_feeding else 0),
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=lstm_dropout,
        )
        if attention != "none":
            self.key_proj = nn.Linear(enc_dim, hidden_size, bias=False)
        if attention == "bahdanau":
            self.query_proj = nn.Linear(hidden_size, hidden_size, bias=False)
            self.energy = nn.Linear(hidden_size, 1, bias=False)
        att_in = hidden_size + (enc_dim if attention != "none" else 0)
        self.att_vector = nn.Linear(att_in, hidden_size)
        if tie_embeddings:
            self.out_proj = (
                nn.Linear(hidden_size, emb_dim, bias=False)
                if hidden_size != emb_dim
                else nn.Identity()
            )
            self.output = nn.Linear(emb_dim, tgt_vocab_size, bias=False)
            self.output.weight = self.tgt_embedding.weight
        else:
            self.out_proj = nn.Identity()
            self.output = nn.Linear(hidden_size, tgt_vocab_size, bias=False)
        # Classic seq2seq init for embeddings (small uniform): with tied weights N(0, 1) rows would
        # make the initial logits large.
        for embedding in (self.src_embedding, self.tgt_embedding):
            nn.init.uniform_(embedding.weight, -0.1, 0.1)
            with torch.no_grad():
                embedding.weight[pad_id].zero_()

    # ---------------------------------------------------------------- encoder

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode a padded source batch.

        Args:
            src: (B, S) long, padded with ``pad_id``.
            src_lengths: (B,) long, valid tokens per item (>= 1).

        Returns:
            memory: ``enc_out`` (B, S, D_enc), ``src_mask`` (B, S) bool (True on valid tokens),
            ``keys`` (B, S, H) projected encoder outputs (unless attention is "none"), and the
            decoder's initial states ``h0``, ``c0`` (B, L, H).
        """
        lengths_cpu = src_lengths.cpu()  # packing needs CPU lengths: one small copy per batch
        if len(lengths_cpu) and (
            int(lengths_cpu.min()) < 1 or int(lengths_cpu.max()) > src.shape[1]
        ):
            raise ValueError(
                f"LSTMSeq2Seq: source lengths must lie in [1, {src.shape[1]}] (the padded width), got "
                f"{lengths_cpu.tolist()}; drop empty sentences or fix the collator's lengths"
            )
        batch, width = src.shape
        x = self.dropout(self.src_embedding(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
        packed_out, (h_n, c_n) = self.encoder(packed)  # h_n, c_n: (L * dirs, B, H)
        enc_out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=width)
        # enc_out: (B, S, D_enc), zeros on padding
        num_dirs = h_n.shape[0] // self.num_layers

        def _per_layer(state: torch.Tensor) -> torch.Tensor:
            state = state.view(
                self.num_layers, num_dirs, batch, self.hidden_size
            )  # (L, dirs, B, H)
            return state.permute(2, 0, 1, 3).reshape(batch, self.num_layers, -1)  # (B, L, D_enc)

        memory = {
            "enc_out": enc_out,
            "src_mask": torch.arange(width, device=src.device)[None, :] < src_lengths[:, None],
            "h0": torch.tanh(self.bridge_h(_per_layer(h_n))),  # (B, L, H)
            "c0": self.bridge_c(_per_layer(c_n)),  # (B, L, H)
        }
        if self.attention != "none":
            memory["keys"] = self.key_proj(enc_out)  # (B, S, H): computed once per sentence
        return memory

    # ---------------------------------------------------------------- decoder

    def _attend(self, query: torch.Tensor, memory: dict[str, torch.Tensor]) -> torch.Tensor:
        """Context vectors (B, T, D_enc) for decoder top states ``query`` (B, T, H), T >= 1."""
        keys = memory["keys"]  # (B, S, H)
        if self.attention == "bahdanau":
            # (B, T, S, H): all steps at once when the decoder ran over the whole target
            energy = torch.tanh(keys[:, None, :, :] + self.query_proj(query)[:, :, None, :])
            scores = self.energy(energy).squeeze(-1)  # (B, T, S)
        else:  # luong "general"
            scores = torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~memory["src_mask"][:, None, :], float("-inf"))  # (B, T, S)
        weights = scores.softmax(dim=-1)  # (B, T, S)
        return torch.bmm(weights, memory["enc_out"])  # (B, T, D_enc)

    def _attentional(self, query: torch.Tensor, memory: dict[str, torch.Tensor]) -> torch.Tensor:
        """Attentional vectors ``tanh(W_a [s; context])`` (B, T, H) for top states (B, T, H)."""
        if self.attention != "none":
            att_in = torch.cat([query, self._attend(query, memory)], dim=-1)  # (B, T, H + D_enc)
        else:
            att_in = query  # (B, T, H)
        return torch.tanh(self.att_vector(self.dropout(att_in)))  # (B, T, H)

    def _step(
        self,
        emb: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        att_prev: torch.Tensor,
        memory: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One decoder step.

        Args:
            emb: (B, E) embedding of the previous target token (dropout applied).
            state: LSTM ``(h, c)``, (L, B, H) each.
            att_prev: (B, H) previous attentional vector (zeros at t = 0).
            memory: from ``encode``.

        Returns:
            ``(att_vec (B, H), state)``.
        """
        if self.input_feeding:
            rnn_in = torch.cat([emb, att_prev], dim=-1)[:, None, :]  # (B, 1, E + H)
        else:
            rnn_in = emb[:, None, :]  # (B, 1, E)
        out, state = self.decoder(rnn_in, state)  # (B, 1, H)
        return self._attentional(out, memory)[:, 0], state  # (B, H)

    def _logits(self, att_vec: torch.Tensor) -> torch.Tensor:
        """(..., H) attentional vectors -> (..., V) logits."""
        return self.output(self.out_proj(att_vec))

    def _initial(
        self, memory: dict[str, torch.Tensor]
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Decoder state ``(h, c)`` (L, B, H) and a zero attentional vector (B, H) from memory."""
        h0 = memory["h0"].transpose(0, 1).contiguous()  # (L, B, H)
        c0 = memory["c0"].transpose(0, 1).contiguous()  # (L, B, H)
        return (h0, c0), h0.new_zeros(h0.shape[1], self.hidden_size)

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        teacher_forcing: float = 1.0,
    ) -> torch.Tensor:
        """Teacher-forced (or scheduled-sampling) logits for every target position.

        Args:
            src: (B, S) long, padded with ``pad_id``.
            src_lengths: (B,) long.
            tgt_in: (B, T) long: ``bos`` + target[:-1], padded with ``pad_id``.
            teacher_forcing: probability of feeding the gold previous token. Below 1, at every step
                t >= 1 and for every sentence independently, with probability ``1 - teacher_forcing``
                the model's own argmax at step t-1 (detached) is fed instead (scheduled sampling,
                Bengio et al. 2015). Padded positions keep the pad token.

        Returns:
            logits: (B, T, V), float in the model's dtype.
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(
                f"LSTMSeq2Seq: teacher_forcing must lie in [0, 1], got {teacher_forcing}"
            )
        memory = self.encode(src, src_lengths)
        state, att_vec = self._initial(memory)
        gold_emb = self.dropout(self.tgt_embedding(tgt_in))  # (B, T, E)
        sampling = teacher_forcing < 1.0
        if not sampling and not self.input_feeding:
            # No step depends on an earlier attentional vector: one LSTM call over the target (its
            # padding is at the end, so it never reaches a real position) and batched attention.
            out, _ = self.decoder(gold_emb, state)  # (B, T, H)
            return self._logits(self._attentional(out, memory))  # (B, T, V)
        att_vecs, step_logits = [], []
        prev_pred = None
        for t in range(tgt_in.shape[1]):
            if sampling and t > 0:
                use_pred = torch.rand(tgt_in.shape[0], device=tgt_in.device) >= teacher_forcing
                use_pred &= tgt_in[:, t] != self.pad_id  # (B,) bool
                tokens = torch.where(use_pred, prev_pred, tgt_in[:, t])  # (B,)
                emb = self.dropout(self.tgt_embedding(tokens))  # (B, E)
            else:
                emb = gold_emb[:, t]  # (B, E)
            att_vec, state = self._step(emb, state, att_vec, memory)  # (B, H)
            if sampling:
                logits_t = self._logits(att_vec)  # (B, V)
                prev_pred = logits_t.detach().argmax(dim=-1)  # (B,)
                step_logits.append(logits_t)
            else:
                att_vecs.append(att_vec)
        if sampling:
            return torch.stack(step_logits, dim=1)  # (B, T, V)
        return self._logits(torch.stack(att_vecs, dim=1))  # (B, T, V): one matmul for all steps

    def decode_step(
        self,
        tokens: torch.Tensor,
        memory: dict[str, torch.Tensor],
        cache: dict[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Next-token log-probabilities for incremental decoding.

        Args:
            tokens: (B, t) long, every token so far (``bos`` first). With a cache only the last
                one is read; without one the whole prefix is run.
            memory: from ``encode`` (possibly reordered along dim 0).
            cache: None at the first step, else the cache returned by the previous call:
                ``h``, ``c`` (B, L, H) and ``att`` (B, H).

        Returns:
            ``(log_probs (B, V) float32, cache)``.
        """
        if cache is None:
            state, att_vec = self._initial(memory)
            prefix = tokens  # (B, t): run the whole prefix
        else:
            state = (
                cache["h"].transpose(0, 1).contiguous(),
                cache["c"].transpose(0, 1).contiguous(),
            )  # (L, B, H) each
            att_vec = cache["att"]  # (B, H)
            prefix = tokens[:, -1:]  # (B, 1)
        for t in range(prefix.shape[1]):
            emb = self.dropout(self.tgt_embedding(prefix[:, t]))  # (B, E)
            att_vec, state = self._step(emb, state, att_vec, memory)  # (B, H)
        log_probs = F.log_softmax(self._logits(att_vec).float(), dim=-1)  # (B, V)
        cache = {"h": state[0].transpose(0, 1), "c": state[1].transpose(0, 1), "att": att_vec}
        return log_probs, cache
