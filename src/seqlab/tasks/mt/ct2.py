"""CTranslate2 for ``transformer_mt``: ``seqlab export CKPT --ctranslate2 DIR`` and the translator
behind ``seqlab translate --runtime ct2`` / ``seqlab.load(ckpt, runtime="ct2")``.

CTranslate2 (OpenNMT's C++ inference engine for Transformers, on PyPI) rather than our own
optimised decoder: it is what the field deploys translation models with (int8 GEMMs, fused
kernels, its own beam search). We fill its ``TransformerSpec`` through its Python converter API
(the way its fairseq/OpenNMT converters do) from seqlab's weights:

- pre-norm (with the final LayerNorm of each stack) or post-norm, LayerNorm epsilon 1e-5 (torch's);
- embeddings scaled by ``sqrt(d_model)``; positions as an explicit table: seqlab's sinusoidal
  layout (sin on even channels, cos on odd) is not CTranslate2's default (sin then cos halves),
  so the table is written out (``SINUSOIDAL_TABLE`` rows), and learned positions are copied;
- self-attention q, k, v fused into one projection, cross-attention k, v into one (seqlab already
  fuses k and v); the output projection (tied or not) and shared source/target tables are written
  as they are (CTranslate2 stores a repeated array once);
- the vocabularies' tokens (words or sentencepiece pieces) as CTranslate2's vocabularies: seqlab
  still tokenises and detokenises around it, with the checkpoint's own vocabularies, which the
  export directory also holds.

Generation settings (``generation.*`` and ``translate(...)`` overrides) map onto CTranslate2's as
far as it has them; see :class:`CT2Translator` for the differences.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from seqlab.tasks.mt.translator import Translator

QUANTIZATIONS = ("int8", "int8_float32", "int16", "float16", "bfloat16", "float32")
SINUSOIDAL_TABLE = 2048  # rows of the sinusoidal table: the longest source or output it decodes
EXPORT_INFO = "seqlab_ct2.json"  # what seqlab needs besides CTranslate2's files
EXPORT_FORMAT = 1  # bumped when an export of the same weights would differ (cache key)
LSTM_REFUSAL = "CTranslate2 has no LSTM seq2seq spec; use --runtime torch"


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy().copy()


def _linear(spec, linear: torch.nn.Linear) -> None:
    spec.weight = _numpy(linear.weight)
    if linear.bias is not None:
        spec.bias = _numpy(linear.bias)


def _norm(spec, norm: torch.nn.LayerNorm) -> None:
    spec.gamma = _numpy(norm.weight)
    spec.beta = _numpy(norm.bias)


def _attention(spec, attn, self_attention: bool) -> None:
    """seqlab's q_proj / kv_proj ([k; v] on the output dim) / out_proj -> CTranslate2's linears:
    self-attention [q; k; v] in linear[0], cross-attention q in linear[0] and [k; v] in linear[1]."""
    q_w, kv_w = _numpy(attn.q_proj.weight), _numpy(attn.kv_proj.weight)
    q_b, kv_b = _numpy(attn.q_proj.bias), _numpy(attn.kv_proj.bias)
    if self_attention:
        spec.linear[0].weight = np.concatenate([q_w, kv_w], axis=0)
        spec.linear[0].bias = np.concatenate([q_b, kv_b], axis=0)
    else:
        spec.linear[0].weight, spec.linear[0].bias = q_w, q_b
        spec.linear[1].weight, spec.linear[1].bias = kv_w, kv_b
    _linear(spec.linear[-1], attn.out_proj)


def _position_table(model) -> np.ndarray:
    """(P, d) positions 0..P-1 exactly as the model adds them."""
    if model.positions == "learned":
        return _numpy(model.position_embedding.weight)
    from seqlab.models.mt.transformer import sinusoidal_positions

    return _numpy(sinusoidal_positions(torch.arange(SINUSOIDAL_TABLE), model.d_model))


def _tokens(vocab) -> list[str]:
    """The vocabulary's tokens by id (words, or sentencepiece pieces)."""
    if hasattr(vocab, "itos"):
        return list(vocab.itos)
    return [vocab.processor.id_to_piece(i) for i in range(len(vocab))]


def build_spec(task):
    """A filled ``ctranslate2.specs.TransformerSpec`` of the task's Transformer (weights, config,
    vocabularies). Raises ValueError for a model CTranslate2 has no spec for (the LSTM)."""
    from ctranslate2.specs import common_spec, transformer_spec

    from seqlab.models.mt.transformer import TransformerSeq2Seq

    model = getattr(task.model, "module", task.model)
    if not isinstance(model, TransformerSeq2Seq):
        raise ValueError(LSTM_REFUSAL)
    enc_layers, dec_layers = model.encoder_layers, model.decoder_layers
    first = (enc_layers or dec_layers)[0]
    activation = first.ffn.activation
    activations = {
        torch.nn.functional.relu: common_spec.Activation.RELU,
        torch.nn.functional.gelu: common_spec.Activation.GELU,  # exact (erf) GELU in both
    }
    spec = transformer_spec.TransformerSpec.from_config(
        (len(enc_layers), len(dec_layers)),
        first.self_attn.nhead,
        pre_norm=first.norm_first,
        activation=activations[activation],
    )
    positions = _position_table(model)
    for stack, embedding in (
        (spec.encoder, model.src_embedding),
        (spec.decoder, model.tgt_embedding),
    ):
        emb_spec = stack.embeddings[0] if isinstance(stack.embeddings, list) else stack.embeddings
        emb_spec.weight = _numpy(embedding.weight)
        stack.scale_embeddings = True  # x sqrt(d_model), as seqlab's _embed
        stack.position_encodings.encodings = positions
    for layer_spec, layer in zip(spec.encoder.layer, enc_layers, strict=True):
        _attention(layer_spec.self_attention, layer.self_attn, self_attention=True)
        _norm(layer_spec.self_attention.layer_norm, layer.norm1)
        _linear(layer_spec.ffn.linear_0, layer.ffn.up)
        _linear(layer_spec.ffn.linear_1, layer.ffn.down)
        _norm(layer_spec.ffn.layer_norm, layer.norm2)
    for layer_spec, layer in zip(spec.decoder.layer, dec_layers, strict=True):
        _attention(layer_spec.self_attention, layer.self_attn, self_attention=True)
        _norm(layer_spec.self_attention.layer_norm, layer.norm1)
        _attention(layer_spec.attention, layer.cross_attn, self_attention=False)
        _norm(layer_spec.attention.layer_norm, layer.norm2)
        _linear(layer_spec.ffn.linear_0, layer.ffn.up)
        _linear(layer_spec.ffn.linear_1, layer.ffn.down)
        _norm(layer_spec.ffn.layer_norm, layer.norm3)
    if first.norm_first:  # post-norm has no final LayerNorm (nor a spec for one)
        _norm(spec.encoder.layer_norm, model.encoder_norm)
        _norm(spec.decoder.layer_norm, model.decoder_norm)
    _linear(spec.decoder.projection, model.output)
    spec.config.layer_norm_epsilon = 1e-5  # torch's nn.LayerNorm default (CTranslate2's: 1e-6)
    spec.config.decoder_start_token = "<s>"  # seqlab's bos starts every target
    spec.register_source_vocabulary(_tokens(task.src_vocab))
    spec.register_target_vocabulary(_tokens(task.tgt_vocab))
    return spec


def export_ctranslate2(task, out_dir: str | Path, quantization: str | None = None) -> Path:
    """Write the task's Transformer as a CTranslate2 model directory.

    Args:
        task: an :class:`~seqlab.tasks.mt.task.MTTask` with its weights loaded.
        out_dir: the directory to write (replaced if it exists): CTranslate2's ``model.bin``,
            ``config.json`` and vocabularies, plus seqlab's ``src_vocab.json`` / ``tgt_vocab.json``
            (and sentencepiece models) and ``seqlab_ct2.json`` (the generation settings).
        quantization: the stored weight type (one of :data:`QUANTIZATIONS`); None keeps float32.
            A float32 export can still run int8 (``compute_type="int8"`` when loading).

    Returns:
        ``out_dir``.
    """
    from ctranslate2.converters.converter import Converter

    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ValueError(f"--quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    spec = build_spec(task)  # refuses the LSTM before anything is written

    class _SeqlabConverter(Converter):
        def _load(self):
            return spec

    out_dir = Path(out_dir)
    _SeqlabConverter().convert(str(out_dir), quantization=quantization, force=True)
    task.src_vocab.save(out_dir, "src")
    task.tgt_vocab.save(out_dir, "tgt")
    info = {
        "format": EXPORT_FORMAT,
        "quantization": quantization or "float32",
        "positions": getattr(task.model, "positions", None),
        "position_table_rows": int(_position_table(task.model).shape[0]),
        "generation": {k: v for k, v in task.cfg.generation.items()},
    }
    (out_dir / EXPORT_INFO).write_text(json.dumps(info, indent=2))
    return out_dir


def weights_digest(task) -> str:
    """A hash of the model's weights, vocabularies and the export format: the cache key of an
    on-the-fly export (a new checkpoint, or a new export format, is exported again)."""
    h = hashlib.sha256(f"seqlab-ct2-{EXPORT_FORMAT}".encode())
    for name, tensor in sorted(task.model.state_dict().items()):
        h.update(name.encode())
        h.update(_numpy(tensor).tobytes())  # float32 bytes (bf16 has no numpy dtype)
    for vocab in (task.src_vocab, task.tgt_vocab):
        h.update("\n".join(_tokens(vocab)).encode())
    return h.hexdigest()[:16]


def cached_export(task) -> Path:
    """The float32 CTranslate2 export of the task's weights in ``$SEQLAB_CACHE_DIR/ct2/<digest>``
    (see seqlab/data/cache.py), exported there first if it is not yet (into a temporary
    directory, then renamed: a crash leaves no half-written model)."""
    from seqlab.data.cache import cache_dir

    target = cache_dir() / "ct2" / weights_digest(task)
    if (target / EXPORT_INFO).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        export_ctranslate2(task, tmp / "model")
        try:
            os.replace(tmp / "model", target)
        except OSError:  # another process exported the same weights first
            if not (target / EXPORT_INFO).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _ct2_device(device: str | torch.device) -> tuple[str, int]:
    device = torch.device(device)
    return device.type, device.index or 0


class CT2Translator(Translator):
    """A translation checkpoint run by CTranslate2: the same ``translate(lines, batch_size=...,
    **generation)`` as :class:`~seqlab.tasks.mt.translator.Translator` (empty lines, long lines
    split, one output per line), with the model's forward passes and beam search in CTranslate2.

    Generation settings, and how they map:

    - ``beam_size``: the same (1 = greedy).
    - ``length_penalty="none"``: CTranslate2's ``length_penalty=0`` (the same ranking, the raw
      log-probability). ``"average"``: its ``length_penalty=1`` with the end token counted in the
      length, as seqlab counts it. ``"gnmt"`` (``lp_alpha``): CTranslate2 has no GNMT penalty
      (``((5 + |y|) / 6) ** alpha``); it returns its ``beam_size`` best finished hypotheses by raw
      log-probability and seqlab reranks them with the GNMT penalty.
    - Stopping: CTranslate2 stops a sentence when its best candidate ends (no penalty) or when
      ``beam_size`` hypotheses have ended (a penalty); seqlab's search stops when no live beam can
      beat the best finished one. Both keep the best ``beam_size`` non-ending candidates of the
      best ``2 * beam_size`` at each step (fairseq's scheme), so they agree unless a better
      hypothesis ends after CTranslate2 has stopped.
    - ``max_len_ratio`` / ``max_len_offset``: CTranslate2 takes one maximum length per call, so a
      batch is decoded in one call per distinct limit among its items. At the limit seqlab forces
      the end token (and scores it); CTranslate2 stops without it: both keep the first
      ``limit - 1`` tokens, but the ranking of such cut hypotheses against finished ones can
      differ (the end token's log-probability is not in CTranslate2's score).
    - ``pad`` and ``bos`` are never produced (CTranslate2's ``suppress_sequences``), as in seqlab.
    - Not in seqlab's search and left off: CTranslate2's ``no_repeat_ngram_size``,
      ``repetition_penalty``, ``coverage_penalty``, sampling.

    Args:
        task: an :class:`~seqlab.tasks.mt.task.MTTask` with its weights loaded (its vocabularies,
            generation settings and length limits are used; its model is not run).
        device: "cpu" or "cuda[:i]".
        model_dir: a CTranslate2 export of these weights (None: :func:`cached_export`).
        compute_type: CTranslate2's compute type ("default" = as stored, "int8", "float32"...).
        intra_threads: CTranslate2's threads per translation (0: torch's thread count, so that
            both runtimes use the same number of cores).
    """

    runtime = "ct2"

    def __init__(
        self,
        task,
        device: str | torch.device = "cpu",
        model_dir: str | Path | None = None,
        compute_type: str = "default",
        intra_threads: int = 0,
    ):
        import ctranslate2

        self.task = task
        self.device = torch.device(device)
        self.model_dir = Path(model_dir) if model_dir is not None else cached_export(task)
        self.compute_type = compute_type
        kind, index = _ct2_device(device)
        self.ct2 = ctranslate2.Translator(
            str(self.model_dir),
            device=kind,
            device_index=index,
            compute_type=compute_type,
            intra_threads=intra_threads or torch.get_num_threads(),
        )
        self.src_tokens = _tokens(task.src_vocab)
        self.tgt_ids = {token: i for i, token in enumerate(_tokens(task.tgt_vocab))}

    def describe(self) -> str:
        """One line naming the runtime (``seqlab translate`` prints it on stderr)."""
        import ctranslate2

        return (
            f"runtime ct2 (CTranslate2 {ctranslate2.__version__}, compute_type "
            f"{self.compute_type}, model {self.model_dir})"
        )

    def _max_len(self, n_src: int, gen: dict) -> int:
        """seqlab's per-item limit: floor(ratio * len) + offset tokens, end token included."""
        limit = math.floor(n_src * float(gen.get("max_len_ratio", 1.5))) + int(
            gen.get("max_len_offset", 10)
        )
        cap = getattr(self.task.model, "max_decode_len", None)
        return max(1, min(limit, cap) if cap else limit)

    def _decode(self, sources: list[list[str]], max_len: int, gen: dict) -> list[list[int]]:
        """Target ids (no bos/eos) of token sequences decoded with one maximum length."""
        beam = int(gen.get("beam_size", 1))
        penalty = str(gen.get("length_penalty", "gnmt"))
        alpha = float(gen.get("lp_alpha", 0.6))
        rerank = beam > 1 and penalty == "gnmt"
        results = self.ct2.translate_batch(
            sources,
            beam_size=beam,
            num_hypotheses=beam if rerank else 1,
            length_penalty=1.0 if (beam > 1 and penalty == "average") else 0.0,
            return_end_token=True,  # counted in the length, as seqlab counts it
            return_scores=rerank,
            max_decoding_length=max_len,
            min_decoding_length=0,  # seqlab may end at once (an empty translation); CT2's default: 1
            max_input_length=0,  # the translator already split lines longer than the model takes
            suppress_sequences=[["<pad>"], ["<s>"]],
        )
        out = []
        for result in results:
            if rerank:
                ranked = [
                    (score / ((5.0 + len(hyp)) / 6.0) ** alpha, hyp)
                    for hyp, score in zip(result.hypotheses, result.scores, strict=True)
                ]
                hyp = max(ranked, key=lambda pair: pair[0])[1]
            else:
                hyp = result.hypotheses[0]
            if hyp and hyp[-1] == "</s>":
                hyp = hyp[:-1]
            else:  # stopped at the limit: seqlab keeps limit - 1 tokens and ends there
                hyp = hyp[: max_len - 1]
            out.append([self.tgt_ids.get(token, self.task.tgt_vocab.unk_id) for token in hyp])
        return out

    def _translate_texts(self, texts: list[str], generation: dict) -> list[str]:
        """Translations of source texts that fit the model (one CTranslate2 call per batch)."""
        gen = {**dict(self.task.cfg.generation), **generation}
        vocab = self.task.src_vocab
        sources = [[self.src_tokens[i] for i in vocab.encode(text)] for text in texts]
        limits = [self._max_len(len(src), gen) for src in sources]
        ids: list[list[int]] = [[] for _ in sources]
        # CTranslate2 takes one maximum length per call: one call per distinct limit (a batch
        # sorted by length has few), so that every item stops where seqlab's search stops it
        for limit in sorted(set(limits)):
            group = [k for k, n in enumerate(limits) if n == limit]
            for k, seq in zip(
                group, self._decode([sources[k] for k in group], limit, gen), strict=True
            ):
                ids[k] = seq
        return [self.task.tgt_vocab.decode(seq) for seq in ids]
