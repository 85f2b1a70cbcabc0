"""A trained CTC recognizer for inference: ``seqlab.load(ckpt).transcribe(["a.flac", wave])``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

# A clip whose every sample is below this (-80 dBFS, about 3 LSB of 16-bit audio) is digital
# silence: there is nothing to recognise, and CTC models emit their most frequent word for it.
SILENCE_PEAK = 1e-4


class InputWarning(UserWarning):
    """An input that was handled but gives a result the user should know about (e.g. silence)."""


class ASRModel:
    """A trained recognizer: ``transcribe`` audio files or arrays.

    Args:
        task: an :class:`seqlab.tasks.asr.task.ASRTask` with its weights loaded.
        device: where to run the model.
        model: the acoustic model to call instead of ``task.model``, with its call
            ``(audio (B, S), lengths (B,)) -> (log_probs (B, T', V), out_lengths (B,))``
            (e.g. an ONNX Runtime graph: :class:`seqlab.tasks.asr.onnx.OnnxAcousticModel`).
        runtime: what runs ``model`` ("torch", "onnx"), for what the outputs record.
    """

    def __init__(self, task, device: str | torch.device = "cpu", model=None, runtime="torch"):
        self.task = task
        self.device = torch.device(device)
        self.runtime = runtime
        self.model = model if model is not None else task.model.to(self.device).eval()
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
