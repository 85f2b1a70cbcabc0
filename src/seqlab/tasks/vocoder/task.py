"""HiFi-GAN vocoder training: how a batch of waveform segments becomes a discriminator step and a
generator step, and what validation measures.

The engine owns the loop: ``training_step`` yields ``("discriminator", ...)`` and then
``("generator", ...)``; the engine steps each named optimizer (its own lr, clipping, scheduler,
non-finite check and grad-norm log) as soon as its loss is yielded, so the generator's adversarial
loss sees the freshly updated discriminator, as in the official training loop. Mel spectrograms
are computed here, in batch, on the training device.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqlab.audio.hifigan_mel import HiFiGANMel
from seqlab.engine.task import DataSpec, EvaluableTask
from seqlab.metrics.audio import multi_resolution_stft_distance, speech_quality
from seqlab.models.vocoder.discriminators import (
    HiFiGANDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from seqlab.models.vocoder.official import load_official_generator
from seqlab.tasks.vocoder.data import vocoder_data_spec


class VocoderTask(EvaluableTask):
    """HiFi-GAN generator + MPD/MSD discriminators (see the task protocols in seqlab/engine/task.py).

    Config sections: ``model`` (the generator, ``_target_`` + preset/keys), ``discriminator``
    (periods, scales), ``mel`` (the official recipe), ``loss`` (lambda_mel, lambda_fm),
    ``validation`` (examples, speech-quality metrics), ``data`` (LJSpeech layout).

    Args:
        cfg: the resolved experiment config.
        checkpoint_dir: a checkpoint directory when rebuilt for inference (then ``init_from`` is
            not read: the checkpoint's weights replace it anyway).
    """

    kind = "vocoder"
    runtimes = ("torch", "onnx")

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        super().__init__(cfg, checkpoint_dir)
        self.sample_rate = int(cfg.data.sample_rate)
        mel = OmegaConf.to_container(cfg.mel, resolve=True)
        loss_f_max = mel.pop("f_max_loss", None)
        self.mel = HiFiGANMel(sample_rate=self.sample_rate, **mel)  # the generator's input
        # the loss mel has no f_max cap (fmax_for_loss: null in the official configs)
        self.loss_mel = HiFiGANMel(sample_rate=self.sample_rate, **{**mel, "f_max": loss_f_max})
        self.generator = instantiate(cfg.model, n_mels=int(cfg.mel.n_mels))
        if self.generator.hop_length != int(cfg.mel.hop_length):
            raise ValueError(
                f"the generator upsamples by {self.generator.hop_length} (product of "
                f"model.upsample_rates) but mel.hop_length is {cfg.mel.hop_length}; they must match"
            )
        disc = cfg.get("discriminator") or {}
        self.discriminator = HiFiGANDiscriminator(
            periods=tuple(disc.get("periods", (2, 3, 5, 7, 11))),
            n_scales=int(disc.get("n_scales", 3)),
            width=float(disc.get("width", 1.0)),
        )
        self.lambda_mel = float(cfg.loss.lambda_mel)
        self.lambda_fm = float(cfg.loss.lambda_fm)
        init_from = cfg.get("init_from")
        if init_from and checkpoint_dir is None and not cfg.trainer.get("resume_from"):
            load_official_generator(Path(str(init_from)).expanduser(), self.generator)
        self._warned_quality = False

    # ---- the engine's contract -------------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        """``generator.safetensors`` and ``discriminator.safetensors`` in every checkpoint."""
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizer_params(self, name: str):
        """The ``generator`` and ``discriminator`` optimizers each get their own module."""
        if name not in ("generator", "discriminator"):
            raise ValueError(
                f"the vocoder task has optimizers 'generator' and 'discriminator', not '{name}'; "
                "give cfg.optimizer as a mapping with those two names"
            )
        return getattr(self, name).parameters()

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Random ``data.segment_size``-sample crops of the training clips."""
        return vocoder_data_spec(
            self.cfg.data, "train", rank, world_size, run_dir, int(self.cfg.seed)
        )

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Whole validation clips (capped by ``data.val_max_seconds``), in a fixed order."""
        return vocoder_data_spec(
            self.cfg.data, "val", rank, world_size, run_dir, int(self.cfg.seed)
        )

    def test_data(self, rank: int, world_size: int, run_dir: Path, split: str = "val") -> DataSpec:
        """``seqlab eval`` scores the validation clips (LJSpeech has no separate test split)."""
        return self.val_data(rank, world_size, run_dir)

    def _mels_to(self, device: torch.device) -> None:
        """The mel modules are not trained (not in ``models()``): follow the batch's device."""
        if next(self.mel.buffers()).device != device:
            self.mel.to(device)
            self.loss_mel.to(device)

    def training_step(self, batch: dict):
        """One discriminator update, then one generator update, on the same generated audio."""
        audio = batch["audio"]  # (B, S)
        self._mels_to(audio.device)
        fake = self.generator(self.mel(audio))  # (B, 1, S)
        real = audio.unsqueeze(1)  # (B, 1, S)

        real_logits, fake_logits, _, _ = self.discriminator(real, fake.detach())
        d_loss, real_score, fake_score = discriminator_loss(real_logits, fake_logits)
        yield "discriminator", {"loss": d_loss, "score_real": real_score, "score_fake": fake_score}

        mel_l1 = F.l1_loss(self.loss_mel(fake.squeeze(1)), self.loss_mel(audio))
        _, fake_logits, real_maps, fake_maps = self.discriminator(real, fake)
        adversarial = generator_adversarial_loss(fake_logits)
        matching = feature_matching_loss(real_maps, fake_maps)
        loss = adversarial + self.lambda_fm * matching + self.lambda_mel * mel_l1
        yield (
            "generator",
            {
                "loss": loss,
                "mel_l1": mel_l1.detach(),
                "adversarial": adversarial.detach(),
                "feature_matching": matching.detach(),
                "n_seconds": float(batch["audio_lengths"].sum()) / self.sample_rate,
            },
        )

    def validation_step(self, batch: dict) -> dict:
        """Per clip: mel L1 (loss mel) and multi-resolution STFT distance of the copy-synthesis,
        and both waves (for PESQ/STOI and the audio examples)."""
        audio, lengths = batch["audio"], batch["audio_lengths"]  # (B, T), (B,)
        self._mels_to(audio.device)
        fake = self.generator(self.mel(audio)).squeeze(1).float()  # (B, frames * hop)
        hop = int(self.cfg.mel.hop_length)
        out = {"ids": list(batch["ids"]), "mel_l1": [], "stft": [], "refs": [], "hyps": []}
        for i, n in enumerate(lengths.tolist()):
            n = min(n // hop * hop, fake.shape[1])  # whole frames of this clip
            ref, hyp = audio[i : i + 1, :n].float(), fake[i : i + 1, :n]
            out["mel_l1"].append(float(F.l1_loss(self.loss_mel(hyp), self.loss_mel(ref))))
            out["stft"].append(float(multi_resolution_stft_distance(ref, hyp)))
            out["refs"].append(ref[0].cpu().numpy())
            out["hyps"].append(hyp[0].cpu().numpy())
        return out

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Means over clips: loss (= mel L1, the official "validation mel-spec error"), mel_l1,
        stft; pesq and stoi over the clips they can score, with the counts of skipped clips."""
        mel = [v for o in outputs for v in o["mel_l1"]]
        metrics = {
            "loss": float(np.mean(mel)),
            "mel_l1": float(np.mean(mel)),
            "stft": float(np.mean([v for o in outputs for v in o["stft"]])),
        }
        if self.cfg.validation.get("speech_quality", True):
            refs = [r for o in outputs for r in o["refs"]]
            hyps = [h for o in outputs for h in o["hyps"]]
            try:
                quality = speech_quality(refs, hyps, self.sample_rate)
            except ImportError as err:  # the [audio-metrics] extra is not installed
                if not self._warned_quality:
                    print(f"NOTE: no PESQ/STOI in validation: {err}", file=sys.stderr)
                    self._warned_quality = True
                quality = {}
            # means, and how many clips each metric had to skip (speech_quality also counts them
            # per reason; one total per metric keeps the logs readable)
            metrics.update(
                {
                    k: float(quality[k])
                    for k in ("pesq", "stoi", "pesq_skipped", "stoi_skipped")
                    if quality.get(k) is not None
                }
            )
        return metrics

    def examples(self, outputs: list[dict]) -> dict:
        """Ground truth and generated audio of the first ``validation.n_examples`` clips."""
        n = int(self.cfg.validation.get("n_examples", 2))
        audio = {}
        for o in outputs:
            for clip_id, ref, hyp in zip(o["ids"], o["refs"], o["hyps"], strict=True):
                if len(audio) >= 2 * n:
                    break
                audio[f"val/{clip_id}/real"] = (ref, self.sample_rate)
                audio[f"val/{clip_id}/generated"] = (hyp, self.sample_rate)
        return {"audio": audio}

    def eval_rows(self, outputs: list[dict]) -> list[dict]:
        """Per-clip rows for eval.json."""
        return [
            {"id": i, "mel_l1": m, "stft": s}
            for o in outputs
            for i, m, s in zip(o["ids"], o["mel_l1"], o["stft"], strict=True)
        ]

    def export_formats(self) -> tuple[str, ...]:
        """``seqlab export --hifigan``: the official HiFi-GAN layout; ``--onnx``: the generator as
        an ONNX graph."""
        return ("hifigan", "onnx")

    def export(self, fmt: str, path: str | Path) -> Path:
        """``fmt`` ``"hifigan"``: :meth:`export_official`; ``"onnx"``:
        :func:`seqlab.tasks.vocoder.onnx.export_generator_onnx` into directory ``path``."""
        if fmt == "onnx":
            from seqlab.tasks.vocoder.onnx import export_generator_onnx

            return export_generator_onnx(self, path)
        if fmt != "hifigan":
            return super().export(fmt, path)
        return self.export_official(path)

    def export_official(self, path: str | Path) -> Path:
        """The generator as an official ``g_`` checkpoint plus its ``config.json``."""
        from seqlab.models.vocoder.official import save_official_generator
        from seqlab.tasks.vocoder.vocoding import official_config

        return save_official_generator(self.generator, path, official_config(self.cfg))

    # ---- inference ---------------------------------------------------------------------------
    def for_inference(self, device: str | torch.device = "cpu", runtime: str = "torch"):
        """The Python API object returned by ``seqlab.load`` (``.vocode(...)``): the torch
        generator, or (``runtime="onnx"``) the graph ``seqlab export --onnx`` wrote in the
        loaded directory."""
        from seqlab.tasks.vocoder.vocoding import Vocoder

        self.check_runtime(runtime)
        generator = self.generator
        if runtime == "onnx":
            from seqlab.runtime.onnx import graph_of
            from seqlab.tasks.vocoder.onnx import OnnxGenerator

            generator = OnnxGenerator(
                graph_of(self.checkpoint_dir),
                self.generator.hop_length,
                self.generator.n_mels,
                device=device,
            )
        return Vocoder(generator, self.mel, self.sample_rate, device=device, runtime=runtime)
