"""The models a server holds: each checkpoint loaded once (``seqlab.inference.load_task`` and its
task's ``for_inference``: the kind comes from the checkpoint), its inputs checked before they
are queued, and its batched call run by a :class:`~seqlab.serve.batching.DynamicBatcher`. This
module holds what every kind shares and :func:`load_models`; each kind's served model lives in
asr.py (the recognizer's ``transcribe_nbest``), mt.py (the translator's ``translate``) and
vocoder.py (the vocoder's ``vocode``).

A request that the model cannot take raises :class:`InputError` (HTTP 422, or 413 for what is too
large) with a message naming the input by the name the client gave it.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

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


def client_named(err: Exception, path: str | Path, label: str) -> str:
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
    from seqlab.serve.asr import ServedRecognizer
    from seqlab.serve.mt import ServedTranslator
    from seqlab.serve.vocoder import ServedVocoder

    served_as = {"asr": ServedRecognizer, "mt": ServedTranslator, "vocoder": ServedVocoder}

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
        if kind is not None and kind not in served_as:
            hint = " (give it as --lm)" if kind == "lm" else ""
            raise ValueError(
                f"{path} is a {kind_label(kind)} checkpoint; seqlab serve serves "
                f"speech-recognition, translation and vocoder checkpoints{hint}"
            )
        task, ckpt = load_task(path, trust_targets=trust_targets, runtime=runtime)
        if task.kind not in served_as:
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
        served[unique] = served_as[task.kind](
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
