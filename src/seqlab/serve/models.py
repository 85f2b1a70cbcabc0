"""The models a server holds: each checkpoint loaded once (``seqlab.inference.load_task`` and its
task's ``for_inference``: the kind comes from the checkpoint), its inputs checked before they
are queued, and its batched call (the recognizer's ``transcribe_nbest``, the translator's
``translate``, the vocoder's ``vocode``) run by a :class:`~seqlab.serve.batching.DynamicBatcher`.

A request that the model cannot take raises :class:`InputError` (HTTP 422, or 413 for what is too
large) with a message naming the input by the name the client gave it.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab.serve.batching import DynamicBatcher

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class InputError(ValueError):
    """A request the model cannot take: ``status`` 422 (bad input) or 413 (too large)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What the server accepts (``seqlab serve`` flags).

    Attributes:
        max_upload_mb: the largest upload (413 beyond).
        max_audio_seconds: the longest audio to transcribe or vocode (413 beyond).
        max_text_chars: the longest text to translate (413 beyond).
    """

    max_upload_mb: float = 20.0
    max_audio_seconds: float = 120.0
    max_text_chars: int = 5000

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


@dataclass(frozen=True)
class Batching:
    """How each model batches (``seqlab serve`` flags): ``max_batch`` 1 turns batching off."""

    max_batch: int = 16
    max_wait_ms: float = 10.0
    queue_size: int = 64


def _named(err: Exception, path: str | Path, label: str) -> str:
    """``err``'s message with the server's temporary ``path`` replaced by the client's ``label``."""
    return str(err).replace(str(path), label)


class ServedModel:
    """A loaded model with its batcher. Subclasses say what a request is and how a batch runs.

    Args:
        name: how clients name it (``/api/...`` ``model`` field, the page's tab).
        task: the loaded :class:`~seqlab.engine.task.EvaluableTask`.
        model: ``task.for_inference(...)``.
        checkpoint: where it was loaded from.
        batching: the batcher's settings.
        limits: what requests may hold.
    """

    kind = ""

    def __init__(self, name, task, model, checkpoint, batching: Batching, limits: Limits) -> None:
        self.name = name
        self.task = task
        self.model = model
        self.checkpoint = Path(checkpoint)
        self.limits = limits
        self.batcher = DynamicBatcher(
            self._run_batch,
            max_batch=batching.max_batch,
            max_wait_ms=batching.max_wait_ms,
            queue_size=batching.queue_size,
            name=name,
        )

    def info(self) -> dict:
        """What ``GET /api/models`` says about this model."""
        return {
            "name": self.name,
            "kind": self.kind,
            "checkpoint": str(self.checkpoint),
            "runtime": getattr(self.model, "runtime", "torch"),
            "batching": {
                "max_batch": self.batcher.max_batch,
                "max_wait_ms": self.batcher.max_wait * 1000,
                "queue_size": self.batcher.queue_size,
                **self.batcher.stats.as_dict(),
            },
        }

    def submit(self, key: Hashable, payload) -> dict:
        """Queue one checked request and wait for its result (a dict); the time it waited and
        ran is added as ``seconds``."""
        t0 = time.perf_counter()
        result = self.batcher.submit(key, payload).result()
        return {**result, "seconds": round(time.perf_counter() - t0, 4)}

    def _run_batch(self, key: Hashable, payloads: list) -> list:
        raise NotImplementedError

    def close(self) -> None:
        self.batcher.close()


# ---- speech recognition ---------------------------------------------------------------------------
class ServedRecognizer(ServedModel):
    """A CTC recognizer: an audio file -> transcript and n-best list, decoded greedy, with beam
    search, or with beam search and the server's ``--lm``, exactly as ``seqlab transcribe``
    decodes with ``--decoder greedy``, ``--decoder beam`` or ``--lm LM`` (the same decoder configs,
    built from the same flags)."""

    kind = "asr"
    MAX_BEAM = 128
    MAX_NBEST = 20

    def __init__(self, *args, lm: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lm = lm
        self._options: dict[tuple, object] = {}
        if lm:  # load the LM now: a bad --lm stops the server at start, not at a request
            self.option("beam+lm", None, None)

    @property
    def decoders(self) -> list[str]:
        """The decoder choices: greedy, beam, and beam+lm with ``--lm``."""
        return ["greedy", "beam"] + (["beam+lm"] if self.lm else [])

    def info(self) -> dict:
        return {**super().info(), "decoders": self.decoders, "sample_rate": self.model.sample_rate}

    def key(self, decoder: str = "greedy", beam_size: int | None = None, nbest: int | None = None):
        """The batch key of a request: its checked decoder choice (an :class:`InputError` names a
        choice this model does not have)."""
        if decoder not in self.decoders:
            hint = (
                " (start the server with --lm ARPA to get beam+lm)" if decoder == "beam+lm" else ""
            )
            raise InputError(
                f"decoder {decoder!r} is not one of {', '.join(self.decoders)} for model "
                f"{self.name}{hint}"
            )
        if decoder == "greedy":
            return ("greedy", None, None)
        if beam_size is not None and not 1 <= beam_size <= self.MAX_BEAM:
            raise InputError(f"beam_size must be between 1 and {self.MAX_BEAM}, got {beam_size}")
        if nbest is not None and not 1 <= nbest <= self.MAX_NBEST:
            raise InputError(f"nbest must be between 1 and {self.MAX_NBEST}, got {nbest}")
        return (decoder, beam_size, nbest)

    def option(self, decoder: str, beam_size: int | None, nbest: int | None):
        """The :class:`~seqlab.engine.task.DecodingOption` of a key, built once: the checkpoint's
        config with ``seqlab transcribe``'s decoder flags applied (``cli.common.decoder_overrides``)."""
        key = (decoder, beam_size, nbest)
        if key not in self._options:
            from seqlab.cli.common import decoder_overrides
            from seqlab.config import apply_overrides
            from seqlab.decoding.factory import build_decoder

            flags = argparse.Namespace(
                decoder="greedy" if decoder == "greedy" else "beam",
                beam_size=beam_size,
                nbest=nbest,
                lm=self.lm if decoder == "beam+lm" else None,
            )
            cfg = apply_overrides(self.task.cfg, decoder_overrides(flags))
            build_decoder(cfg.decoder, self.task.vocab)  # an LM that cannot load fails here
            self._options[key] = self.task.decoding_option(cfg.decoder)
        return self._options[key]

    def check(self, path: str | Path, label: str) -> float:
        """Check an uploaded audio file before it is queued; returns its duration in seconds."""
        from seqlab.audio.io import audio_info

        try:
            info = audio_info(path)
        except (RuntimeError, OSError) as err:
            raise InputError(
                f"{label}: not a readable audio file ({_named(err, path, label)}); send a wav, flac "
                "or ogg file"
            ) from err
        if info.frames == 0:
            raise InputError(f"{label}: the audio has no samples; send a recording")
        if info.duration > self.limits.max_audio_seconds:
            raise InputError(
                f"{label}: {info.duration:.1f} s of audio is longer than this server's limit of "
                f"{self.limits.max_audio_seconds:g} s (--max-audio-seconds); cut it, or use "
                "`seqlab transcribe` for long recordings",
                status=413,
            )
        return info.duration

    def transcribe(self, path, label: str, decoder="greedy", beam_size=None, nbest=None) -> dict:
        """Check, queue and transcribe one audio file (``label``: the client's name for it)."""
        key = self.key(decoder, beam_size, nbest)
        self.option(*key)  # built outside the worker, so a request's bad choice fails here
        duration = self.check(path, label)
        return {**self.submit(key, (str(path), label)), "audio_seconds": round(duration, 4)}

    def _run_batch(self, key, payloads: list) -> list:
        from seqlab.tasks.asr.recognizer import InputWarning

        option = self.option(*key)
        self.task.use_decoding(option)
        paths = [path for path, _ in payloads]
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            try:
                lists = self.model.transcribe_nbest(paths, batch_size=len(paths))
            except (ValueError, OSError) as err:  # a bad input fails the whole call
                if len(paths) == 1:
                    lists = [InputError(_named(err, *payloads[0]))]
                else:  # run each alone to say which (batched results equal these)
                    lists = [self._alone(path, label) for path, label in payloads]
        seconds = time.perf_counter() - t0
        notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
        out = []
        for (path, label), hyps in zip(payloads, lists, strict=True):
            if isinstance(hyps, Exception):
                out.append(hyps)
                continue
            row = {
                "model": self.name,
                "decoder": option.name,
                "text": hyps[0].text,
                "nbest": [
                    {"text": h.text, "score": h.score, "acoustic": h.acoustic, "lm": h.lm}
                    for h in hyps
                ],
                "batch_size": len(paths),
                "compute_seconds": round(seconds, 4),
            }
            mine = [_named(n, path, label) for n in notes if path in n]
            if mine:
                row["warning"] = "; ".join(mine)
            out.append(row)
        return out

    def _alone(self, path: str, label: str):
        """One input's n-best list, or the :class:`InputError` it gives."""
        try:
            return self.model.transcribe_nbest(path)
        except (ValueError, OSError) as err:
            return InputError(_named(err, path, label))


# ---- translation ----------------------------------------------------------------------------------
class ServedTranslator(ServedModel):
    """A translation model: text (one sentence per line) -> its translation, line by line, as
    ``seqlab translate`` gives it (the same ``translate`` call, several requests' lines in one)."""

    kind = "mt"
    MAX_BEAM = 64

    def info(self) -> dict:
        default = self.task.cfg.get("generation", {}).get("beam_size", 1)
        return {**super().info(), "default_beam_size": default}

    def translate(self, text, beam_size: int | None = None) -> dict:
        """Check, queue and translate one text."""
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        if len(text) > self.limits.max_text_chars:
            raise InputError(
                f"the text has {len(text):,} characters, more than this server's limit of "
                f"{self.limits.max_text_chars:,} (--max-text-chars); send it in parts, or use "
                "`seqlab translate` for whole files",
                status=413,
            )
        if not text.strip():
            raise InputError("the text is empty; send a sentence to translate")
        if "\x00" in text:
            raise InputError("the text holds a NUL character; send plain text")
        if beam_size is not None and not 1 <= beam_size <= self.MAX_BEAM:
            raise InputError(f"beam_size must be between 1 and {self.MAX_BEAM}, got {beam_size}")
        lines = text.replace("\r\n", "\n").split("\n")
        return self.submit(beam_size, lines)

    def _run_batch(self, beam_size, payloads: list) -> list:
        flat = [line for lines in payloads for line in lines]
        generation = {} if beam_size is None else {"beam_size": beam_size}
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            hyps = self.model.translate(flat, batch_size=max(len(flat), 1), **generation)
        seconds = time.perf_counter() - t0
        # warnings name "line N" of the whole call: give each request its own line numbers
        notes: dict[int, str] = {}
        for w in caught:
            found = re.match(r"line (\d+): ", str(w.message))
            if found:
                notes[int(found.group(1)) - 1] = str(w.message)[found.end() :]
        out, start = [], 0
        for lines in payloads:
            mine = [
                f"line {i + 1}: {notes[start + i]}" for i in range(len(lines)) if start + i in notes
            ]
            row = {
                "model": self.name,
                "translation": "\n".join(hyps[start : start + len(lines)]),
                "beam_size": beam_size,
                "batch_size": len(payloads),
                "compute_seconds": round(seconds, 4),
            }
            if mine:
                row["warning"] = "; ".join(mine)
            out.append(row)
            start += len(lines)
        return out


# ---- vocoder --------------------------------------------------------------------------------------
class ServedVocoder(ServedModel):
    """A vocoder: a wav/flac/ogg file (copy-synthesis) or a ``.npy`` log-mel ``[n_mels, frames]``
    -> a wave, as ``seqlab vocode`` makes it.

    Requests are batched only with others of the same number of mel frames: the generator's
    convolutions see a padded item's padding in its last few samples (``Vocoder.vocode`` pads
    with the mel floor), so a padded batch differs from one-at-a-time output there (by ~1e-5),
    while equal lengths give the same samples."""

    kind = "vocoder"

    def info(self) -> dict:
        return {**super().info(), "sample_rate": self.model.sample_rate}

    def check(self, path: str | Path, label: str) -> np.ndarray:
        """The log-mel ``(n_mels, frames)`` of an uploaded file (the vocoder's own ``as_mel``),
        or an :class:`InputError` naming what is wrong with it."""
        name = Path(path).name.lower()
        if not name.endswith((".npy", *AUDIO_SUFFIXES)):
            raise InputError(
                f"{label}: send a .npy log-mel [{self.model.n_mels}, frames] or a wav/flac/ogg file"
            )
        if not name.endswith(".npy"):
            from seqlab.audio.io import audio_info

            try:
                info = audio_info(path)
            except (RuntimeError, OSError) as err:
                raise InputError(
                    f"{label}: not a readable audio file ({_named(err, path, label)})"
                ) from err
            self._check_seconds(info.duration, label)
        try:
            mel = self.model.as_mel(path)
        except ValueError as err:
            if str(path) in str(err):  # the vocoder's own message, naming the input
                raise InputError(_named(err, path, label)) from err
            what = "a .npy array" if name.endswith(".npy") else "audio"
            raise InputError(f"{label}: cannot be read as {what} ({err})") from err
        except Exception as err:  # np.load / soundfile on a corrupt file raise many kinds
            what = "a .npy array" if name.endswith(".npy") else "audio"
            raise InputError(
                f"{label}: cannot be read as {what} ({type(err).__name__}: "
                f"{_named(err, path, label)})"
            ) from err
        self._check_seconds(mel.shape[1] * self.model.hop_length / self.model.sample_rate, label)
        return mel.cpu().numpy()

    def _check_seconds(self, seconds: float, label: str) -> None:
        if seconds > self.limits.max_audio_seconds:
            raise InputError(
                f"{label}: {seconds:.1f} s of audio is longer than this server's limit of "
                f"{self.limits.max_audio_seconds:g} s (--max-audio-seconds); use `seqlab vocode`",
                status=413,
            )

    def vocode(self, path, label: str) -> dict:
        """Check, queue and vocode one file: ``{"wave": float32 (T,), "sample_rate", ...}``."""
        mel = self.check(path, label)
        return self.submit(mel.shape[1], mel)  # batched only with mels of as many frames

    def _run_batch(self, frames, payloads: list) -> list:
        t0 = time.perf_counter()
        waves = self.model.vocode(list(payloads), batch_size=len(payloads))
        seconds = time.perf_counter() - t0
        return [
            {
                "model": self.name,
                "wave": wave,
                "sample_rate": self.model.sample_rate,
                "batch_size": len(payloads),
                "compute_seconds": round(seconds, 4),
            }
            for wave in waves
        ]


SERVED = {"asr": ServedRecognizer, "mt": ServedTranslator, "vocoder": ServedVocoder}


def split_spec(spec: str) -> tuple[str | None, str]:
    """``NAME=CKPT`` -> ``(NAME, CKPT)``; a bare ``CKPT`` -> ``(None, CKPT)``."""
    name, sep, path = spec.partition("=")
    if sep and name and re.fullmatch(r"[A-Za-z0-9_.-]+", name) and not Path(spec).exists():
        return name, path
    return None, spec


def load_models(
    specs: list[str],
    runtime: str = "torch",
    device: str = "cpu",
    lm: str | None = None,
    batching: Batching = Batching(),
    limits: Limits = Limits(),
    trust_targets: tuple[str, ...] = (),
    max_batch_of: dict[str, int] | None = None,
) -> dict[str, ServedModel]:
    """Load each checkpoint once: name -> :class:`ServedModel`. Its kind comes from the
    checkpoint (``seqlab.inference.load_task``); ``runtime`` is used by the models whose task
    takes it, the others run with torch (said on stderr). Names: ``NAME=CKPT``, else the
    experiment's name (``asr_bilstm``, then ``asr_bilstm-2``...). ``max_batch_of`` sets the
    batch limit of named models (``{"vocoder_demo": 1}``: no batching for that one).

    Raises ``ConfigError``/``ValueError``/``FileNotFoundError`` with one line naming the checkpoint.
    """
    from seqlab.inference import checkpoint_kind, kind_label, load_task

    if lm is not None and not Path(lm).expanduser().exists():
        raise FileNotFoundError(
            f"--lm {lm}: no such file or directory; build an n-gram LM with `seqlab lm "
            "build-ngram TEXT --order 3 --out lm.arpa`"
        )
    served: dict[str, ServedModel] = {}
    for spec in specs:
        name, path = split_spec(spec)
        try:  # refuse another kind before building its model (read from its config alone)
            kind = checkpoint_kind(path, trust_targets)
        except Exception:  # an export directory, or what load_task will name in one line
            kind = None
        if kind is not None and kind not in SERVED:
            hint = " (give it as --lm)" if kind == "lm" else ""
            raise ValueError(
                f"{path} is a {kind_label(kind)} checkpoint; seqlab serve serves "
                f"speech-recognition, translation and vocoder checkpoints{hint}"
            )
        task, ckpt = load_task(path, trust_targets=trust_targets, runtime=runtime)
        if task.kind not in SERVED:
            raise ValueError(
                f"{path} is a {kind_label(task.kind)} checkpoint; seqlab serve cannot serve it"
            )
        rt = runtime
        if runtime not in task.runtimes:
            if runtime != "torch" and "torch" in task.runtimes:
                print(
                    f"seqlab serve: {path} ({kind_label(task.kind)}) runs with torch: its task "
                    f"does not take runtime {runtime}",
                    file=sys.stderr,
                )
                rt = "torch"
        model = task.for_inference(device, runtime=rt)  # refuses an impossible runtime in one line
        base = name or str(task.cfg.get("experiment_name") or ckpt.name)
        unique, n = base, 2
        while unique in served:
            unique, n = f"{base}-{n}", n + 1
        extra = (
            {"lm": str(Path(lm).expanduser().resolve()) if lm else None}
            if task.kind == "asr"
            else {}
        )
        mine = batching
        if unique in (max_batch_of or {}):
            mine = dataclasses.replace(batching, max_batch=int(max_batch_of[unique]))
        served[unique] = SERVED[task.kind](
            unique, task, model, ckpt, batching=mine, limits=limits, **extra
        )
    unknown = sorted(set(max_batch_of or {}) - set(served))
    if unknown:
        for model in served.values():
            model.close()
        raise ValueError(
            f"--max-batch {unknown[0]}=N: no model is named {unknown[0]!r} (the models are "
            f"{', '.join(served)})"
        )
    return served
