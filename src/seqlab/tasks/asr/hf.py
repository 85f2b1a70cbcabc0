"""Fine-tuning pretrained Hugging Face CTC models (wav2vec2-BERT, wav2vec2) through seqlab's engine.

The data path is :class:`seqlab.tasks.asr.task.ASRTask`'s (index with bad items, duration buckets,
padding to the longest item); this task only changes what differs for a pretrained model:

- the vocabulary: every character of the training transcripts, in any script
  (:class:`seqlab.text.script_vocab.ScriptCharVocab`, normalised by ``data.text``);
- the model: :func:`seqlab.models.asr.hf_ctc.build_hf_ctc` (``from_pretrained``; the front end runs
  on the device in batch);
- the training loss: ``model.ctc_loss_reduction`` as Hugging Face defines it (``mean``: each
  utterance's loss over its target length, averaged over utterances; ``sum``: summed);
- the checkpoint: ``hf_config/`` (model, feature extractor and tokenizer configs, no weights)
  next to the weights, so eval, transcribe and ``seqlab export --hf`` need nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqlab.engine.task import DataSpec
from seqlab.tasks.asr.task import ASRTask
from seqlab.text.script_normalize import ScriptNormalizer
from seqlab.text.script_vocab import ScriptCharVocab
from seqlab.text.vocab import load_vocab

HF_CONFIG_DIR = "hf_config"


class HFCTCTask(ASRTask):
    """CTC fine-tuning of a Hugging Face speech model (see the module docstring).

    Args:
        cfg: the resolved experiment config.
        checkpoint_dir: a checkpoint directory: its vocabulary and ``hf_config/`` are used, and the
            pretrained weights are not loaded (the checkpoint's replace them).
    """

    runtimes = ("torch",)  # its export is a Hugging Face directory, not seqlab's ONNX graph

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        self._built_from: Path | None = None
        _ensure_builtin_corpus(cfg.data)
        super().__init__(cfg, checkpoint_dir)
        reduction = str(cfg.model.get("ctc_loss_reduction", "mean"))
        if reduction not in ("mean", "sum"):
            raise ValueError(f"model.ctc_loss_reduction is {reduction!r}; use mean or sum")
        self.reduction = reduction
        self.zero_infinity = bool(cfg.model.get("ctc_zero_infinity", False))
        # Layer drop skips whole layers at random, differently on each rank: DDP must look for the
        # parameters a step left unused, or the ranks' gradient all-reduces stop matching.
        self.ddp_find_unused_parameters = float(cfg.model.get("layerdrop") or 0.0) > 0
        # validation loss stays per target token (comparable across models and reductions)
        self.ctc_loss = nn.CTCLoss(
            blank=self.vocab.blank_id, reduction="sum", zero_infinity=self.zero_infinity
        )
        if checkpoint_dir is None and str(cfg.trainer.get("strategy") or "ddp") == "fsdp":
            _no_adapter_layerdrop(self.model)

    # ---- hooks of ASRTask ----------------------------------------------------------------------
    def _vocab(self, checkpoint_dir):
        if checkpoint_dir is not None and (Path(checkpoint_dir) / "vocab.json").is_file():
            from seqlab.registry import trusted_hook

            # a text hook saved in the vocabulary runs only if the user's config names it too
            return load_vocab(checkpoint_dir, hook=trusted_hook(self.cfg))
        settings = OmegaConf.to_container(self.cfg.data.get("text") or {}, resolve=True)
        normalizer = ScriptNormalizer(**settings)
        return ScriptCharVocab.from_texts(
            (text for _, _, text, _ in self._scan("train")), normalizer
        )

    def _build_model(self, checkpoint_dir) -> nn.Module:
        from seqlab.models.asr.hf_ctc import build_hf_ctc

        saved = Path(checkpoint_dir) / HF_CONFIG_DIR if checkpoint_dir is not None else None
        saved = saved if saved is not None and (saved / "config.json").is_file() else None
        if saved is not None:  # read by the family's own config classes (no auto_map), inside
            from seqlab.registry import check_tree_inside

            check_tree_inside(saved, checkpoint_dir, str(saved))
        model, self.feature_extractor = build_hf_ctc(self.cfg.model, self.vocab, saved)
        rate = int(self.feature_extractor.sampling_rate)
        if rate != self.sample_rate:
            raise ValueError(
                f"data.sample_rate is {self.sample_rate} but the model's feature extractor expects "
                f"{rate} Hz; set data.sample_rate={rate} (audio is resampled on load)"
            )
        return model

    def _split_vocab(self, split: str):
        """Training items need every character in the vocabulary; evaluation items keep theirs
        (an unseen character is an ``[UNK]`` target), so their references and WER stay whole."""
        return self.vocab if split == "train" else self.vocab.with_unknowns()

    def _train_loss(self, log_probs, out_lengths, batch) -> tuple[torch.Tensor, int]:
        """``mean``: mean over utterances of loss / target length (n_units = utterances);
        ``sum``: summed over utterances (n_units = 1 per micro-batch, as the Trainer averages)."""
        per_item = nn.functional.ctc_loss(
            log_probs.float().transpose(0, 1),  # (T', B, V)
            batch["tokens"],
            out_lengths,
            batch["token_lengths"],
            blank=self.vocab.blank_id,
            reduction="none",
            zero_infinity=self.zero_infinity,
        )  # (B,)
        if self.reduction == "mean":
            return (per_item / batch["token_lengths"].clamp(min=1)).mean(), int(per_item.numel())
        return per_item.sum(), 1

    # ---- the engine's contract -------------------------------------------------------------
    def optimizer_params(self, name: str):
        """The trainable parameters (a frozen feature encoder is left out)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Bucketed, shuffled batches of the training subsets (bad items reported in the run dir)."""
        return self._data_spec("train", rank, world_size, run_dir, shuffle=True)

    def save_artifacts(self, directory: Path) -> None:
        """The vocabulary and ``hf_config/`` (configs and tokenizer, not the weights)."""
        from seqlab.models.asr.hf_ctc import save_hf_config

        self.vocab.save(directory)
        save_hf_config(
            self._recognizer(), self.feature_extractor, self.vocab, Path(directory) / HF_CONFIG_DIR
        )

    def export_formats(self) -> tuple[str, ...]:
        """``seqlab export --hf``: a plain Hugging Face model directory."""
        return ("hf",)

    def export(self, fmt: str, path: str | Path) -> Path:
        """``fmt`` ``"hf"``: :meth:`export_hf` (no ONNX export of its own: Hugging Face's
        ``optimum`` exports the directory ``--hf`` writes)."""
        if fmt != "hf":
            raise ValueError(
                f"a Hugging Face CTC checkpoint ({type(self).__qualname__}) cannot be exported as "
                f"{fmt!r}: export it with --hf DIR (Hugging Face optimum turns that into ONNX)"
            )
        return self.export_hf(path)

    def export_hf(self, directory: str | Path) -> Path:
        """Write a plain Hugging Face model directory (see ``seqlab export --hf``)."""
        from seqlab.models.asr.hf_ctc import export_hf

        return export_hf(
            self._recognizer(), self.feature_extractor, self.vocab, self.cfg.model, Path(directory)
        )


def _ensure_builtin_corpus(data: DictConfig) -> None:
    """Build the built-in non-English corpus at ``data.root`` when the config asks for it and it is missing."""
    builtin = data.get("builtin")
    if not builtin or (Path(data.root) / "corpus.json").is_file():
        return
    from seqlab.corpora.build_once import build_once
    from seqlab.corpora.synth_speech_lang import build_lang_corpus

    def build() -> None:
        print(f"[seqlab] building the built-in {builtin.language} corpus in {data.root} ...")
        build_lang_corpus(
            data.root,
            language=str(builtin.language),
            hours=float(builtin.hours),
            seed=int(builtin.seed),
        )

    build_once(data.root, build)  # DDP ranks: one builds, the others wait for it


def _no_adapter_layerdrop(model: nn.Module) -> None:
    """Under FSDP every rank must compute the same sharded parameters' gradients. transformers
    keeps the encoder's layer drop in step across ranks when sharded (the layer runs, its output is
    dropped), but not the adapter's, which skips a layer on one rank only: FSDP's gradient
    reduce-scatters would then differ in size and the ranks stop. The adapter's is turned off."""
    for module in model.modules():
        if type(module).__name__.endswith("Adapter") and getattr(module, "layerdrop", 0.0) > 0:
            module.layerdrop = 0.0
            print(
                "[hf] trainer.strategy=fsdp: the adapter's layer drop is off (the encoder's stays)",
                file=sys.stderr,
            )
