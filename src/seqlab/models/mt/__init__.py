"""Neural machine translation models: an attentional LSTM encoder-decoder and a Transformer.

Both implement the same seq2seq interface, which the decoders in ``seqlab.decoding.seq2seq`` use:

- attributes ``pad_id``, ``bos_id``, ``eos_id`` and ``max_decode_len`` (None = no limit);
- ``forward(src, src_lengths, tgt_in, teacher_forcing=1.0) -> logits (B, T, V)``;
- ``encode(src, src_lengths) -> memory`` (a dict of tensors, batch on dim 0);
- ``decode_step(tokens, memory, cache) -> (log_probs (B, V), cache)`` (cache: dict, batch on dim 0).
"""
