"""Pretrained Hugging Face CTC speech models (wav2vec2-BERT, wav2vec2) as seqlab recognizers.

:class:`HFCTCRecognizer` has the interface of :class:`seqlab.tasks.asr.task.CTCRecognizer`
(``forward(audio, audio_lengths) -> (log_probs, lengths)``, ``output_lengths``), so ASRTask's
loss, decoding, evaluation and inference serve it unchanged. Its front end runs in batch on the
model's device: :class:`seqlab.audio.seamless_fbank.SeamlessFbank` for wav2vec2-BERT,
:class:`WaveformNorm` for wav2vec2; both reproduce the Hugging Face feature extractors, whose
configs are saved with every checkpoint so that plain transformers rebuilds the same inputs.

``build_hf_ctc`` loads ``from_pretrained`` (a hub id or a local directory) with seqlab's config keys
as Hugging Face config overrides; the vocabulary size and pad (= CTC blank) id come from the
vocabulary. From a checkpoint it builds the model from the saved config only (the engine then loads
the fine-tuned weights), so evaluation and resume never need the pretrained weights again.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqlab.audio.seamless_fbank import SeamlessFbank
from seqlab.config import ConfigError

FAMILIES = {  # seqlab name -> (model class, feature extractor class, processor class)
    "w2v2bert": ("Wav2Vec2BertForCTC", "SeamlessM4TFeatureExtractor", "Wav2Vec2BertProcessor"),
    "wav2vec2": ("Wav2Vec2ForCTC", "Wav2Vec2FeatureExtractor", "Wav2Vec2Processor"),
}
# seqlab config keys passed to the Hugging Face config as they are
HF_CONFIG_KEYS = (
    "attention_dropout",
    "hidden_dropout",
    "feat_proj_dropout",
    "activation_dropout",
    "final_dropout",
    "mask_time_prob",
    "mask_time_length",
    "layerdrop",
    "ctc_loss_reduction",
    "ctc_zero_infinity",
    "add_adapter",
    "num_adapter_layers",
)


class WaveformNorm(nn.Module):
    """wav2vec2's input: each waveform scaled to mean 0, variance 1 over its own samples; padding 0.

    Args:
        do_normalize: the feature extractor's ``do_normalize``.
        return_attention_mask: pass a sample mask to the model (only models with layer-norm feature
            encoders take one; the group-norm ones, like wav2vec2-base, must see zero padding only).
    """

    def __init__(self, do_normalize: bool = True, return_attention_mask: bool = False):
        super().__init__()
        self.do_normalize, self.return_attention_mask = do_normalize, return_attention_mask

    def forward(self, audio: torch.Tensor, audio_lengths: torch.Tensor):
        """``(B, T)`` waveforms and ``(B,)`` lengths -> ``input_values`` (B, T), mask (B, T) or None."""
        mask = torch.arange(audio.shape[1], device=audio.device) < audio_lengths[:, None]  # (B, T)
        audio = audio.float() * mask
        if self.do_normalize:
            count = audio_lengths.clamp(min=1).to(audio.dtype)[:, None]  # (B, 1)
            mean = audio.sum(dim=1, keepdim=True) / count
            var = ((audio - mean) * mask).square().sum(dim=1, keepdim=True) / count  # biased, as HF
            audio = (audio - mean) / torch.sqrt(var + 1e-7) * mask
        return audio, (mask.long() if self.return_attention_mask else None)

    def output_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """The model's input length is the sample count."""
        return sample_lengths


class HFCTCRecognizer(nn.Module):
    """Front end (on the device) + a Hugging Face ``*ForCTC`` model.

    Args:
        hf_model: ``Wav2Vec2BertForCTC`` or ``Wav2Vec2ForCTC``.
        front_end: :class:`SeamlessFbank` or :class:`WaveformNorm`.
    """

    def __init__(self, hf_model: nn.Module, front_end: nn.Module):
        super().__init__()
        self.front_end = front_end
        self.hf = hf_model

    def output_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Output frames (CTC time steps) of ``(B,)`` sample counts."""
        lengths = self.front_end.output_lengths(sample_lengths)
        return self.hf._get_feat_extract_output_lengths(lengths).long()

    def forward(self, audio: torch.Tensor, audio_lengths: torch.Tensor):
        """Waveforms ``(B, T)`` with lengths ``(B,)`` -> CTC log-probs ``(B, T', V)`` and lengths ``(B,)``."""
        with torch.autocast(device_type=audio.device.type, enabled=False):
            inputs, mask = self.front_end(audio, audio_lengths)  # (B, F, D) or (B, T)
        kwargs = {} if mask is None else {"attention_mask": mask}
        logits = self.hf(inputs, **kwargs).logits  # (B, T', V)
        lengths = self.output_lengths(audio_lengths).clamp(max=logits.shape[1])
        return torch.log_softmax(logits.float(), dim=-1), lengths


def _transformers():
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            "pretrained speech models need transformers: pip install 'seqlab[hf]'"
        ) from err
    return transformers


def _family(model_cfg: DictConfig) -> tuple:
    family = str(model_cfg.family)
    if family not in FAMILIES:
        raise ConfigError(f"model.family is {family!r}; use one of {', '.join(FAMILIES)}")
    transformers = _transformers()
    return tuple(getattr(transformers, name) for name in FAMILIES[family])


def _from_pretrained(cls, source: str, what: str, **kwargs):
    """``cls.from_pretrained`` with an error that says what to do when the weights are not here."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return cls.from_pretrained(source, local_files_only=offline, **kwargs)
    except OSError as err:
        where = (
            "a local directory" if Path(source).expanduser().exists() else "the Hugging Face hub"
        )
        raise ConfigError(
            f"cannot load the pretrained {what} {source!r} from {where}"
            f"{' (HF_HUB_OFFLINE is set)' if offline else ''}: {str(err).strip().rstrip('.')}. Without network, download it "
            f"once elsewhere (`huggingface-cli download {source} --local-dir DIR`), copy DIR here "
            "and pass model.pretrained=/path/to/DIR"
        ) from err


def build_hf_ctc(model_cfg: DictConfig, vocab, saved_dir: str | Path | None = None):
    """The recognizer and its Hugging Face feature extractor.

    Args:
        model_cfg: ``cfg.model`` (family, pretrained, config overrides, freezing, checkpointing).
        vocab: the output vocabulary (its size and blank id = ``pad_token_id`` go to the model).
        saved_dir: a directory with ``config.json`` and ``preprocessor_config.json`` written by
            :func:`save_hf_config` (a checkpoint's ``hf_config/``): the model is built from that
            config with random weights, to be overwritten by the checkpoint's.

    Returns:
        ``(HFCTCRecognizer, feature_extractor)``.
    """
    model_cls, extractor_cls, _ = _family(model_cfg)
    settings = OmegaConf.to_container(model_cfg, resolve=True)
    overrides = {k: settings[k] for k in HF_CONFIG_KEYS if settings.get(k) is not None}
    overrides.update(settings.get("config_overrides") or {})
    overrides.update(vocab_size=len(vocab), pad_token_id=int(vocab.blank_id))
    if saved_dir is not None:
        config = model_cls.config_class.from_pretrained(saved_dir)
        hf_model = model_cls(config)
        extractor = extractor_cls.from_pretrained(saved_dir)
    elif settings.get("pretrained"):
        source = str(settings["pretrained"])
        revision = {"revision": settings["revision"]} if settings.get("revision") else {}
        hf_model = _from_pretrained(
            model_cls, source, "model", ignore_mismatched_sizes=True, **revision, **overrides
        )
        try:
            extractor = _from_pretrained(extractor_cls, source, "feature extractor", **revision)
        except ConfigError:  # a bare model directory: the family's default extractor
            extractor = extractor_cls()
    else:  # no pretrained weights: a fresh model of model.init (tests, the offline demo)
        config = model_cls.config_class(**{**(settings.get("init") or {}), **overrides})
        hf_model = model_cls(config)
        extractor = extractor_cls()
    hf_model.config.vocab_size = len(vocab)
    if settings.get("freeze_feature_encoder"):
        if not hasattr(hf_model, "freeze_feature_encoder"):
            raise ConfigError(
                f"model.freeze_feature_encoder=true, but {model_cls.__name__} has no convolutional "
                "feature encoder (its input is fbank features); set it to false"
            )
        hf_model.freeze_feature_encoder()
    if settings.get("gradient_checkpointing"):
        kwargs = {"use_reentrant": False}  # checkpoint's non-reentrant variant: exact with RNG
        if hasattr(hf_model, "activation_checkpointing_enable"):  # transformers >= 5 name
            hf_model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if str(model_cfg.family) == "w2v2bert":
        front_end = SeamlessFbank(
            int(extractor.sampling_rate), int(extractor.num_mel_bins), int(extractor.stride)
        )
    else:
        front_end = WaveformNorm(
            bool(extractor.do_normalize), bool(extractor.return_attention_mask)
        )
    return HFCTCRecognizer(hf_model, front_end), extractor


def save_hf_config(recognizer: HFCTCRecognizer, extractor, vocab, directory: Path) -> None:
    """Everything but the weights: model config, feature extractor config, tokenizer files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    recognizer.hf.config.save_pretrained(directory)
    extractor.save_pretrained(directory)
    vocab.hf_tokenizer(directory).save_pretrained(directory)


def export_hf(recognizer: HFCTCRecognizer, extractor, vocab, model_cfg, directory: Path) -> Path:
    """A plain Hugging Face directory: ``AutoModelForCTC`` + ``AutoProcessor`` load it without seqlab.

    Returns:
        the directory.
    """
    _, _, processor_cls = _family(model_cfg)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = vocab.hf_tokenizer(directory)
    processor_cls(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)
    recognizer.hf.save_pretrained(directory)
    (directory / "README.md").write_text(
        f"# seqlab fine-tuned {recognizer.hf.__class__.__name__}\n\n"
        "Exported with `seqlab export CHECKPOINT --hf DIR`. Transcripts were normalised with "
        f"{vocab.normalizer.to_dict()} before training.\n\n"
        "```python\nimport torch\nfrom transformers import AutoModelForCTC, AutoProcessor\n"
        "processor = AutoProcessor.from_pretrained(DIR)\nmodel = AutoModelForCTC.from_pretrained(DIR).eval()\n"
        "inputs = processor(waveform_16k, sampling_rate=16000, return_tensors='pt')\n"
        "ids = model(**inputs).logits.argmax(-1)\nprint(processor.batch_decode(ids))\n```\n",
        encoding="utf-8",
    )
    return directory
