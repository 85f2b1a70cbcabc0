"""A trained CTC recognizer for inference: ``seqlab.load(ckpt).transcribe(["a.flac", wave])``."""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqlab.audio.features import compute_global_stats
from seqlab.tasks.asr.long_audio import OVERLAP_SECONDS, WINDOW_SECONDS

# A clip whose every sample is below this (-80 dBFS, about 3 LSB of 16-bit audio) is digital
# silence: there is nothing to recognise, and CTC models emit their most frequent word for it.
SILENCE_PEAK = 1e-4


class InputWarning(UserWarning):
    """An input that was handled but gives a result the user should know about (e.g. silence)."""


@dataclass(frozen=True)
class Partial:
    """What one window of a long input settled: the greedy text of the input's ``start``..``end``
    seconds (the final transcript comes from the configured decoder over all windows)."""

    start: float
    end: float
    text: str


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

    def _info(self, path: str | Path):
        """The header of an audio file (:class:`seqlab.audio.io.AudioInfo`); errors name the file."""
        from seqlab.audio.io import audio_info

        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(
                f"{path}: is a directory, not an audio file (give its files, e.g. {path}/*.flac)"
            )
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found")
        try:
            return audio_info(path)
        except (RuntimeError, OSError) as err:  # soundfile's errors for what it cannot decode
            raise ValueError(f"{path}: not a readable audio file ({err})") from err

    def _read(self, path: str | Path) -> tuple[np.ndarray, int]:
        """A file as a mono float32 wave and its rate (not resampled); errors name the file."""
        from seqlab.audio.io import load_audio

        rate = self._info(path).sample_rate
        try:
            return load_audio(path), rate
        except (RuntimeError, OSError) as err:
            raise ValueError(f"{path}: not a readable audio file ({err})") from err

    def _at_model_rate(self, wave: np.ndarray, rate: int, name: str, where: str = "") -> np.ndarray:
        """``wave`` resampled to the model's rate; a ``ValueError`` naming ``name`` (and ``where``
        in it, e.g. a window's time range) for non-finite samples."""
        from seqlab.audio.io import nonfinite
        from seqlab.audio.resample import resample

        bad = nonfinite(wave, "sample")
        if bad:
            raise ValueError(
                f"{name}: {bad}{where}; the audio is corrupt (or was written from a failed "
                "computation): fix or re-export it"
            )
        return resample(wave, rate, self.sample_rate) if rate != self.sample_rate else wave

    def _checked(self, wave: np.ndarray, rate: int, name: str) -> np.ndarray | None:
        """``wave`` at the model's rate, or None for digital silence (warned about); raises a
        ``ValueError`` naming ``name`` for non-finite samples or a clip the model cannot take."""
        wave = self._at_model_rate(wave, rate, name)
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
        window_seconds: float | None = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
    ) -> str | list[str]:
        """Transcribe one input or a list of inputs with the configured decoder.

        Args:
            inputs: a path (wav/flac/ogg), a 1-D float waveform, or a list of these.
            sample_rate: the rate of array inputs (default: the model's rate); files carry their own.
            batch_size: utterances decoded together.
            window_seconds: an input longer than this is decoded in overlapping windows read
                from disk one at a time (bounded memory: seqlab/tasks/asr/long_audio.py); None:
                every input whole.
            overlap_seconds: audio shared by consecutive windows; each cut lies in its middle.

        Returns:
            A transcript string for a single input, else a list of transcripts in input order.
        """
        single = isinstance(inputs, (str, Path, np.ndarray, torch.Tensor))
        lists = self.transcribe_nbest(
            inputs, sample_rate, batch_size, window_seconds, overlap_seconds
        )
        texts = [hyps[0].text for hyps in ([lists] if single else lists)]
        return texts[0] if single else texts

    @torch.no_grad()
    def transcribe_nbest(
        self,
        inputs: str | Path | np.ndarray | list,
        sample_rate: int | None = None,
        batch_size: int = 8,
        window_seconds: float | None = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        on_partial: Callable[[Partial], None] | None = None,
    ):
        """Like :meth:`transcribe`, but n-best lists of :class:`seqlab.decoding.hypothesis.Hypothesis`
        (``decoder.nbest`` long; one entry for greedy decoding).

        ``on_partial`` is called with a :class:`Partial` as each window of a long input is
        decoded (``seqlab transcribe --stream``); inputs no longer than a window give none.

        Raises (naming the file, or ``input N`` for arrays): ``FileNotFoundError``,
        ``IsADirectoryError``, ``ValueError`` for undecodable files, NaN/inf samples, clips
        shorter than :attr:`min_samples` and window settings the model cannot take. Digital
        silence gives an empty transcript and an :class:`InputWarning`."""
        from seqlab.decoding.hypothesis import Hypothesis

        single = isinstance(inputs, (str, Path, np.ndarray, torch.Tensor))
        items = [inputs] if single else list(inputs)
        window = None if window_seconds is None else round(window_seconds * self.sample_rate)
        waves: list[np.ndarray | None] = []
        decoded: dict[int, list] = {}  # inputs decoded in windows
        for number, item in enumerate(items, 1):
            if isinstance(item, (str, Path)):
                info = self._info(item)
                if (
                    window is not None
                    and self._model_samples(info.frames, info.sample_rate) > window
                ):
                    decoded[number - 1] = self._decode_windows(
                        item, info.frames, info.sample_rate, str(item),
                        window_seconds, overlap_seconds, on_partial,
                    )  # fmt: skip
                    waves.append(None)
                    continue
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
            rate = sample_rate or self.sample_rate
            if window is not None and self._model_samples(len(wave), rate) > window:
                decoded[number - 1] = self._decode_windows(
                    wave, len(wave), rate, f"input {number}",
                    window_seconds, overlap_seconds, on_partial,
                )  # fmt: skip
                waves.append(None)
                continue
            waves.append(self._checked(wave, rate, f"input {number}"))
        texts: list = [[Hypothesis("", [], 0.0, 0.0, 0.0, 0)] for _ in waves]  # silence: empty
        for i, hyps in decoded.items():
            texts[i] = hyps
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

    # ---- long inputs ---------------------------------------------------------------------------
    def _model_samples(self, samples: int, rate: int) -> int:
        """Samples at the model's rate of ``samples`` at ``rate`` (as resampling gives)."""
        return -(-samples * self.sample_rate // rate)

    def _output_lengths(self, samples: torch.Tensor) -> torch.Tensor:
        """Output frames ``(B,)`` of ``(B,)`` sample counts: the model's own rule, or (for a
        runtime object that has none) the task's torch model's, which has the same geometry."""
        rule = getattr(self.model, "output_lengths", None) or self.task.model.output_lengths
        return rule(samples)

    def window_plan(self, window_seconds: float, overlap_seconds: float, rate: int | None = None):
        """The :class:`seqlab.tasks.asr.long_audio.WindowPlan` for inputs at ``rate`` Hz (default:
        the model's); raises ``ValueError`` for settings this model cannot take."""
        from seqlab.tasks.asr.long_audio import WindowPlan, check_seconds, output_stride

        check_seconds(window_seconds, overlap_seconds)
        rate = rate or self.sample_rate
        window = round(window_seconds * self.sample_rate)
        stride = output_stride(self._output_lengths, window)
        align = self.sample_rate // math.gcd(rate, self.sample_rate)
        plan = WindowPlan.from_seconds(
            window_seconds, overlap_seconds, self.sample_rate, stride, align
        )
        # frames near a window's edges lack the context a whole-file pass has, and a window
        # covers fewer than window/stride frames; each side of a cut must keep clear of that
        edge = plan.window - int(self._output_lengths(torch.tensor([plan.window]))[0]) * stride
        need = max(2 * edge, self.min_samples)
        if plan.overlap < need:
            raise ValueError(
                f"overlap of {overlap_seconds} s: this model needs at least "
                f"{math.ceil(need * 100 / self.sample_rate) / 100:.2f} s between windows"
            )
        return plan

    def _decode_windows(
        self,
        source: str | Path | np.ndarray,
        samples: int,
        rate: int,
        name: str,
        window_seconds: float,
        overlap_seconds: float,
        on_partial: Callable[[Partial], None] | None,
    ) -> list:
        """The n-best list of one long input: its windowed log-probs (:meth:`_window_log_probs`)
        decoded together with the configured decoder; digital silence gives an empty text."""
        from seqlab.decoding.hypothesis import Hypothesis

        joined, peak = self._window_log_probs(
            source, samples, rate, name, window_seconds, overlap_seconds, on_partial
        )
        if peak < SILENCE_PEAK:
            warnings.warn(
                f"{name}: digital silence (peak {peak:.1e}); nothing to transcribe, the text is empty",
                InputWarning,
                stacklevel=4,
            )
            return [Hypothesis("", [], 0.0, 0.0, 0.0, 0)]
        lengths = torch.tensor([len(joined)])
        return self.task.decoder.decode_batch(
            joined[None].to(self.device), lengths.to(self.device)
        )[0]

    def _window_log_probs(
        self,
        source: str | Path | np.ndarray,
        samples: int,
        rate: int,
        name: str,
        window_seconds: float,
        overlap_seconds: float,
        on_partial: Callable[[Partial], None] | None = None,
    ) -> tuple[torch.Tensor, float]:
        """One long input (a file, read a window at a time, or an array of ``samples`` at
        ``rate`` Hz) through the model window by window: ``(log_probs (T', V) on the CPU, peak
        sample)``, each window's central frames kept, every frame of the whole input once.

        A model that normalises each input's features (``features.normalize: utterance``) gets
        the whole input's statistics in every window: a first pass reads the windows through the
        front end alone (cheap next to the model) and gathers the mean and variance of the frames
        each window keeps, so a window is normalised as the whole file would be, not by its own
        30 s. Only the torch runtime can take them (an ONNX graph normalises inside itself).
        """
        plan = self.window_plan(window_seconds, overlap_seconds, rate)
        n_samples = self._model_samples(samples, rate)
        n_frames = int(self._output_lengths(torch.tensor([n_samples]))[0])
        spans = plan.spans(n_samples, n_frames)
        features = self._utterance_normalised_features()
        normalised = contextlib.nullcontext  # a fresh context for each window
        if features is not None:
            windows = self._windows(source, spans, plan, rate, name)
            mean, std = compute_global_stats(_kept_features(features, windows, plan.stride))
            normalised = functools.partial(features.fixed_stats, mean, std)
        kept: list[torch.Tensor] = []
        peak = 0.0
        partials = _GreedyPartials(self.task.vocab, on_partial) if on_partial else None
        for span, wave, last in self._windows(source, spans, plan, rate, name):
            peak = max(peak, float(np.abs(wave).max()))
            audio = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]  # (1, T)
            lengths = torch.tensor([audio.shape[1]])
            with normalised():
                log_probs, out_lengths = self.model(audio.to(self.device), lengths.to(self.device))
            offset = span.start // plan.stride  # the whole input's frame of this window's frame 0
            # the last window keeps all its frames (its count is the model's own, not a formula's)
            high = int(out_lengths[0]) if last else span.keep_end - offset
            piece = torch.as_tensor(log_probs[0, span.keep_start - offset : high]).float().cpu()
            kept.append(piece)  # (frames kept, V)
            if partials is not None:  # the seconds whose frames this window settled
                settled = (span.keep_start * plan.stride, span.start + len(wave))
                if not last:
                    settled = (settled[0], span.keep_end * plan.stride)
                partials.add(piece, *(min(x, n_samples) / self.sample_rate for x in settled))
        return torch.cat(kept), peak

    def _windows(self, source, spans, plan, rate: int, name: str):
        """``(span, wave at the model's rate, last)`` for each window of ``spans`` that holds
        audio, read from ``source`` (a file, a window at a time, or an array at ``rate`` Hz); the
        last is the final span or the one where the file ended early (shorter than its header)."""
        from seqlab.tasks.asr.long_audio import read_windows

        if isinstance(source, np.ndarray):
            chunks = (
                source[
                    -(-s.start * rate // self.sample_rate) : -(-s.end * rate // self.sample_rate)
                ]
                for s in spans
            )
        else:
            chunks = read_windows(source, spans, rate, self.sample_rate)
        for index, (span, wave) in enumerate(zip(spans, chunks, strict=False)):
            begin, end = span.start / self.sample_rate, span.end / self.sample_rate
            wave = self._at_model_rate(wave, rate, name, f" between {begin:.2f} and {end:.2f} s")
            if len(wave) < self.min_samples:
                return
            last = index == len(spans) - 1 or len(wave) < span.end - span.start
            yield span, wave, last
            if last:
                return

    def _utterance_normalised_features(self):
        """The torch front end when it normalises each input by its own statistics, else None
        (other normalisations, or a model this process does not run itself, e.g. ONNX)."""
        from seqlab.tasks.asr.task import CTCRecognizer

        if not isinstance(self.model, CTCRecognizer):
            return None
        features = self.model.features
        return features if features.normalize == "utterance" else None

    @torch.no_grad()
    def log_probs(
        self,
        input: str | Path | np.ndarray,
        sample_rate: int | None = None,
        window_seconds: float | None = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
    ) -> torch.Tensor:
        """The model's CTC log-probabilities ``(T', V)`` (on the CPU) for one input, computed as
        :meth:`transcribe` does: whole, or in windows for an input longer than ``window_seconds``.
        Raises as :meth:`transcribe_nbest` does; digital silence is not special here."""
        if isinstance(input, (str, Path)):
            info = self._info(input)
            samples, rate, name = info.frames, info.sample_rate, str(input)
        else:
            input = np.asarray(input, dtype=np.float32)
            samples, rate, name = len(input), sample_rate or self.sample_rate, "input 1"
        window = None if window_seconds is None else round(window_seconds * self.sample_rate)
        if window is not None and self._model_samples(samples, rate) > window:
            return self._window_log_probs(
                input, samples, rate, name, window_seconds, overlap_seconds
            )[0]
        wave, rate = self._read(input) if isinstance(input, (str, Path)) else (input, rate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InputWarning)
            checked = self._checked(wave, rate, name)
        if checked is None:  # digital silence: transcribe gives "", the model still has an answer
            from seqlab.audio.resample import resample

            checked = resample(wave, rate, self.sample_rate)
        wave = checked
        audio = torch.from_numpy(wave)[None]  # (1, T)
        log_probs, out_lengths = self.model(
            audio.to(self.device), torch.tensor([audio.shape[1]]).to(self.device)
        )
        return torch.as_tensor(log_probs[0, : int(out_lengths[0])]).float().cpu()


def _kept_features(features, windows, stride: int):
    """Unnormalised log-mel frames ``(1, K, n_mels)`` of each window's kept samples (and their
    count), for :func:`compute_global_stats`: the frames centred in ``[keep_start, keep_end)``
    output frames (``stride`` samples each), to the end for the last window, so that every frame
    of the whole input is counted once and, far from the window's edges, equals the whole file's."""
    n_mels = features.n_mels
    identity = (
        torch.zeros(n_mels),
        torch.ones(n_mels),
    )  # fixed stats that leave features as they are
    for span, wave, last in windows:
        audio = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
        audio = audio.to(features.mel_fbank.device)
        with torch.no_grad(), features.fixed_stats(*identity):
            feats, frame_lengths = features(audio, torch.tensor([audio.shape[1]]))
        centres = span.start + features.hop_length * torch.arange(int(frame_lengths[0]))
        keep = centres >= span.keep_start * stride
        if not last:
            keep &= centres < span.keep_end * stride
        frames = feats[:, : int(frame_lengths[0])][:, keep.to(feats.device)]
        yield frames, torch.tensor([frames.shape[1]], device=feats.device)


class _GreedyPartials:
    """``--stream``'s partial texts: the greedy text of each window's kept frames, continuing the
    previous window's collapse (a token whose run crosses a cut is shown once)."""

    def __init__(self, vocab, show: Callable[[Partial], None]) -> None:
        self.vocab, self.show = vocab, show
        self.last_frame: torch.Tensor | None = None  # (1, V): the previous kept frame

    def add(self, piece: torch.Tensor, start: float, end: float) -> None:
        """Show the text of ``piece`` ``(frames, V)``, the kept frames of ``start``..``end`` s."""
        from seqlab.decoding.ctc_greedy import ctc_greedy_decode
        from seqlab.decoding.hypothesis import single_spaced

        if not len(piece):
            return
        blank = self.vocab.blank_id
        context = piece if self.last_frame is None else torch.cat([self.last_frame, piece])
        ids = ctc_greedy_decode(context[None], blank=blank)[0][0]
        if self.last_frame is not None and int(self.last_frame.argmax()) != blank:
            ids = ids[1:]  # the carried frame's token was shown with the previous window
        self.last_frame = piece[-1:]
        self.show(Partial(start, end, single_spaced(self.vocab.decode(ids))))
