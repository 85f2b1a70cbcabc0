"""Load a checkpoint for inference: ``seqlab.load(ckpt).transcribe(["a.flac", wave])``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hydra.utils import get_class

from seqlab.config import apply_overrides


def load_task(
    checkpoint: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    trust_targets: list[str] | tuple[str, ...] = (),
):
    """Rebuild the task of a checkpoint with its weights loaded.

    The checkpoint's config.yaml is checked before anything is built (seqlab/registry.py): every
    ``_target_`` must be a seqlab class (or in ``trust_targets``), it may hold no interpolation, and
    its text hooks are dropped. The user's ``overrides`` are applied after that check: they are
    the user's own and may name any class or hook.

    Args:
        checkpoint: a checkpoint directory (``run/checkpoints/best``), or a run directory (its ``best``).
        overrides: Hydra-grammar overrides applied to the checkpoint's saved config.
        trust_targets: ``_target_`` names of the user's own classes to accept in the saved config
            (``mypkg.MyModel``, or ``mypkg.*``); the CLI's ``--trust-target``.

    Returns:
        ``(task, checkpoint_dir)``.
    """
    from seqlab.engine.checkpoint import load_model_weights, resolve_checkpoint
    from seqlab.registry import load_checkpoint_config

    ckpt = resolve_checkpoint(checkpoint)
    cfg = load_checkpoint_config(ckpt, trust_targets)
    cfg = apply_overrides(cfg, list(overrides) + ["trainer.resume_from=null"])
    task_cls = get_class(cfg.task._target_)
    task = task_cls(cfg, vocab_dir=ckpt)
    load_model_weights(ckpt, task.models())
    for module in task.models().values():
        module.eval()
    return task, ckpt


def load(
    checkpoint: str | Path,
    device: str | torch.device = "cpu",
    overrides: list[str] | tuple[str, ...] = (),
    trust_targets: list[str] | tuple[str, ...] = (),
):
    """The task's inference object for ``checkpoint`` (see ``seqlab.load``).

    Args:
        checkpoint: checkpoint or run directory.
        device: where to run the model.
        overrides: of the saved config, e.g. ``["decoder=ctc_beam", "decoder.lm=lm.arpa"]``.
        trust_targets: the user's own classes the saved config may name (see :func:`load_task`).
    """
    task, _ = load_task(checkpoint, overrides, trust_targets)
    return task.for_inference(device)


class ASRModel:
    """A trained recognizer: ``transcribe`` audio files or arrays.

    Args:
        task: an :class:`seqlab.tasks.asr.ASRTask` with its weights loaded.
        device: where to run the model.
    """

    def __init__(self, task, device: str | torch.device = "cpu"):
        self.task = task
        self.device = torch.device(device)
        self.model = task.model.to(self.device).eval()
        self.sample_rate = task.sample_rate

    def transcribe(
        self,
        inputs: str | Path | np.ndarray | list,
        sample_rate: int | None = None,
        batch_size: int = 8,
    ) -> str | list[str]:
        """Transcribe one input or a list of inputs with the configured decoder.

        Args:
            inputs: a path (wav/flac/ogg), a 1-D float waveform, or a list of these.
            sample_rate: the rate of array inputs (default: the model's rate); files carry their own.
            batch_size: utterances decoded together.

        Returns:
            A transcript string for a single input, else a list of transcripts in input order.
        """
        single = isinstance(inputs, (str, Path, np.ndarray, torch.Tensor))
        lists = self.transcribe_nbest(inputs, sample_rate, batch_size)
        texts = [hyps[0].text for hyps in ([lists] if single else lists)]
        return texts[0] if single else texts

    @torch.no_grad()
    def transcribe_nbest(
        self,
        inputs: str | Path | np.ndarray | list,
        sample_rate: int | None = None,
        batch_size: int = 8,
    ):
        """Like :meth:`transcribe`, but n-best lists of :class:`seqlab.decoding.ctc_beam.Hypothesis`
        (``decoder.nbest`` long; one entry for greedy decoding)."""
        from seqlab.audio.io import load_audio
        from seqlab.audio.resample import resample

        single = isinstance(inputs, (str, Path, np.ndarray, torch.Tensor))
        items = [inputs] if single else list(inputs)
        waves = []
        for item in items:
            if isinstance(item, (str, Path)):
                waves.append(load_audio(item, self.sample_rate))
                continue
            wave = (
                item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
            )
            wave = wave.astype(np.float32)
            if wave.ndim != 1:
                raise ValueError(f"array inputs must be 1-D mono waveforms, got shape {wave.shape}")
            if sample_rate is not None and sample_rate != self.sample_rate:
                wave = resample(wave, sample_rate, self.sample_rate)
            waves.append(wave)
        texts = []
        for start in range(0, len(waves), batch_size):
            chunk = waves[start : start + batch_size]
            lengths = torch.tensor([len(w) for w in chunk], dtype=torch.long)
            audio = torch.zeros(len(chunk), int(lengths.max()))
            for i, w in enumerate(chunk):
                audio[i, : len(w)] = torch.from_numpy(w)
            log_probs, out_lengths = self.model(audio.to(self.device), lengths.to(self.device))
            texts.extend(self.task.decoder.decode_batch(log_probs, out_lengths))
        return texts[0] if single else texts
