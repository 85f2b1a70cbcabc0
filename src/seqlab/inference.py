"""Load a checkpoint for inference: ``seqlab.load(ckpt).transcribe(["a.flac", wave])``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from hydra.utils import get_class

from seqlab.config import apply_overrides

# A clip whose every sample is below this (-80 dBFS, about 3 LSB of 16-bit audio) is digital
# silence: there is nothing to recognise, and CTC models emit their most frequent word for it.
SILENCE_PEAK = 1e-4


class InputWarning(UserWarning):
    """An input that was handled but gives a result the user should know about (e.g. silence)."""


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
        self._min_samples: int | None = None

    @property
    def min_samples(self) -> int:
        """The shortest input (in samples at ``sample_rate``) that gives the model one output frame."""
        if self._min_samples is None:
            frames = getattr(self.model, "output_lengths", None)
            if frames is None:  # a model that states no minimum takes anything non-empty
                self._min_samples = 1
            else:

                def ok(n: int) -> bool:
                    return int(frames(torch.tensor([n]))[0]) >= 1

                high = 1
                while not ok(high) and high < 3600 * self.sample_rate:
                    high *= 2
                low = high // 2  # not ok (or 0); binary search for the first ok length
                while high - low > 1:
                    mid = (low + high) // 2
                    low, high = (low, mid) if ok(mid) else (mid, high)
                self._min_samples = high
        return self._min_samples

    def _read(self, path: str | Path) -> tuple[np.ndarray, int]:
        """A file as a mono float32 wave and its rate (not resampled); errors name the file."""
        from seqlab.audio.io import audio_info, load_audio

        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(
                f"{path}: is a directory, not an audio file (give its files, e.g. {path}/*.flac)"
            )
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found")
        try:
            return load_audio(path), audio_info(path).sample_rate
        except (RuntimeError, OSError) as err:  # soundfile's errors for what it cannot decode
            raise ValueError(f"{path}: not a readable audio file ({err})") from err

    def _checked(self, wave: np.ndarray, rate: int, name: str) -> np.ndarray | None:
        """``wave`` at the model's rate, or None for digital silence (warned about); raises a
        ``ValueError`` naming ``name`` for non-finite samples or a clip the model cannot take."""
        from seqlab.audio.io import nonfinite
        from seqlab.audio.resample import resample

        bad = nonfinite(wave, "sample")
        if bad:
            raise ValueError(
                f"{name}: {bad}; the audio is corrupt (or was written from a failed "
                "computation): fix or re-export it"
            )
        if rate != self.sample_rate:
            wave = resample(wave, rate, self.sample_rate)
        if len(wave) < self.min_samples:
            # floor the clip and ceil the minimum to 10 ms, so the shown numbers never overlap
            have = len(wave) * 100 // self.sample_rate / 100
            need = -(-self.min_samples * 100 // self.sample_rate) / 100
            raise ValueError(
                f"{name}: too short ({have:.2f} s < {need:.2f} s, the shortest input this model "
                "takes); pad it with silence or leave it out"
            )
        peak = float(np.abs(wave).max())
        if peak < SILENCE_PEAK:
            warnings.warn(
                f"{name}: digital silence (peak {peak:.1e}); nothing to transcribe, the text is empty",
                InputWarning,
                stacklevel=3,
            )
            return None
        return wave

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
        """Like :meth:`transcribe`, but n-best lists of :class:`seqlab.decoding.hypothesis.Hypothesis`
        (``decoder.nbest`` long; one entry for greedy decoding).

        Raises (naming the file, or ``input N`` for arrays): ``FileNotFoundError``,
        ``IsADirectoryError``, ``ValueError`` for undecodable files, NaN/inf samples and clips
        shorter than :attr:`min_samples`. Digital silence gives an empty transcript and an
        :class:`InputWarning`."""
        from seqlab.decoding.hypothesis import Hypothesis

        single = isinstance(inputs, (str, Path, np.ndarray, torch.Tensor))
        items = [inputs] if single else list(inputs)
        waves: list[np.ndarray | None] = []
        for number, item in enumerate(items, 1):
            if isinstance(item, (str, Path)):
                waves.append(self._checked(*self._read(item), str(item)))
                continue
            wave = (
                item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
            )
            wave = wave.astype(np.float32)
            if wave.ndim != 1:
                raise ValueError(
                    f"input {number}: array inputs must be 1-D mono waveforms, got shape {wave.shape}"
                )
            waves.append(self._checked(wave, sample_rate or self.sample_rate, f"input {number}"))
        texts: list = [[Hypothesis("", [], 0.0, 0.0, 0.0, 0)] for _ in waves]  # silence: empty
        audible = [i for i, w in enumerate(waves) if w is not None]
        for start in range(0, len(audible), batch_size):
            chunk = audible[start : start + batch_size]
            lengths = torch.tensor([len(waves[i]) for i in chunk], dtype=torch.long)
            audio = torch.zeros(len(chunk), int(lengths.max()))
            for row, i in enumerate(chunk):
                audio[row, : len(waves[i])] = torch.from_numpy(waves[i])
            log_probs, out_lengths = self.model(audio.to(self.device), lengths.to(self.device))
            hyps_of_chunk = self.task.decoder.decode_batch(log_probs, out_lengths)
            for i, hyps in zip(chunk, hyps_of_chunk, strict=True):
                texts[i] = hyps
        return texts[0] if single else texts
