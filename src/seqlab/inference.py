"""Load a checkpoint for evaluation or inference: ``seqlab.load(ckpt)`` -> the task's inference
object (a recognizer, a translator, a vocoder, a language model), through the task protocol of
seqlab/engine/task.py. The objects themselves live with their tasks (``seqlab/tasks/<kind>/``)."""

from __future__ import annotations

from pathlib import Path

import torch

from seqlab.config import ConfigError, apply_overrides

# The command that uses a checkpoint of each task kind (named when a command refuses one).
KIND_COMMANDS = {
    "asr": "seqlab transcribe",
    "mt": "seqlab translate",
    "vocoder": "seqlab vocode",
    "lm": "seqlab eval (or as decoder.lm of a recognizer)",
}


# What each task kind is, in words (for messages).
KIND_NAMES = {
    "asr": "speech-recognition",
    "mt": "translation",
    "vocoder": "vocoder",
    "lm": "language-model",
}


def kind_label(kind: str) -> str:
    """``"translation (mt)"``: a task kind for messages."""
    return f"{KIND_NAMES[kind]} ({kind})" if kind in KIND_NAMES else kind


class WrongKindError(ConfigError):
    """A checkpoint of another task kind than the command takes (a translation model given to
    ``seqlab transcribe``...)."""


def check_kind(kind: str, wanted: str, checkpoint, what: str) -> None:
    """Raise :class:`WrongKindError` unless ``kind == wanted``: one line naming the checkpoint,
    its kind and the command that takes it (``what`` is the refusing command, e.g. ``seqlab
    transcribe``)."""
    if kind != wanted:
        use = KIND_COMMANDS.get(kind, "seqlab eval")
        raise WrongKindError(
            f"{checkpoint} is a {kind_label(kind)} checkpoint; {what} takes "
            f"{kind_label(wanted)} checkpoints (use {use})"
        )


def checkpoint_kind(checkpoint: str | Path, trust_targets: list[str] | tuple[str, ...] = ()) -> str:
    """The ``kind`` of the task a checkpoint holds ("asr", "mt", ...), read from its checked config
    through the registry, without building anything (commands pick their flags by it)."""
    from seqlab.engine.checkpoint import resolve_checkpoint
    from seqlab.registry import load_checkpoint_config

    ckpt = resolve_checkpoint(checkpoint)
    return task_class(load_checkpoint_config(ckpt, trust_targets), ckpt).kind


def task_class(cfg, checkpoint: Path) -> type:
    """The :class:`~seqlab.engine.task.EvaluableTask` subclass ``cfg.task._target_`` names (a
    checked config: see seqlab/registry.py), else a ``ConfigError`` naming ``checkpoint``."""
    from seqlab.engine.task import EvaluableTask
    from seqlab.registry import target_class

    cls = target_class(cfg.task._target_)
    if not (isinstance(cls, type) and issubclass(cls, EvaluableTask)):
        raise ConfigError(
            f"{checkpoint}: task._target_ {cfg.task._target_} is not an evaluable task (a subclass "
            "of seqlab.engine.task.EvaluableTask); it cannot be loaded for evaluation or inference"
        )
    return cls


def load_task(
    checkpoint: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    trust_targets: list[str] | tuple[str, ...] = (),
    kind: str | None = None,
    command: str = "this command",
    runtime: str = "torch",
):
    """Rebuild the task of a checkpoint with its weights loaded (or of an export directory
    written by ``seqlab export --onnx``, without weights, for a runtime other than torch).

    The checkpoint's config.yaml is checked before anything is built (seqlab/registry.py): every
    ``_target_`` must be a seqlab class (or in ``trust_targets``), it may hold no interpolation, and
    its text hooks are dropped. The user's ``overrides`` are applied after that check: they are
    the user's own and may name any class or hook.

    Args:
        checkpoint: a checkpoint directory (``run/checkpoints/best``), or a run directory (its ``best``).
        overrides: Hydra-grammar overrides applied to the checkpoint's saved config.
        trust_targets: ``_target_`` names of the user's own classes to accept in the saved config
            (``mypkg.MyModel``, or ``mypkg.*``); the CLI's ``--trust-target``.
        kind: refuse a task of another kind (:class:`WrongKindError`) before building anything.
        command: what is asking, for that error (``seqlab transcribe``).
        runtime: what will run the model (see :func:`load`); an export directory (a saved
            config and no torch weights) is refused for ``"torch"``.

    Returns:
        ``(task, checkpoint_dir)``; the task is a
        :class:`seqlab.engine.task.EvaluableTask` in eval mode.
    """
    from seqlab.engine.checkpoint import load_model_weights, resolve_checkpoint
    from seqlab.registry import load_checkpoint_config
    from seqlab.runtime.onnx import is_export_dir

    exported = is_export_dir(checkpoint)
    if exported and runtime == "torch":
        raise ValueError(
            f"{checkpoint} is an export (a graph, no torch weights); load it with runtime onnx "
            "(--runtime onnx), or give the checkpoint it was exported from"
        )
    ckpt = Path(checkpoint).resolve() if exported else resolve_checkpoint(checkpoint)
    cfg = load_checkpoint_config(ckpt, trust_targets)
    cfg = apply_overrides(cfg, list(overrides) + ["trainer.resume_from=null"])
    task_cls = task_class(cfg, ckpt)
    if kind is not None:
        check_kind(task_cls.kind, kind, ckpt, command)
    task = task_cls(cfg, checkpoint_dir=ckpt)
    if not exported:  # an export's graph holds the weights; the torch modules stay unused
        load_model_weights(ckpt, task.models())
    for module in task.models().values():
        module.eval()
    return task, ckpt


def load(
    checkpoint: str | Path,
    device: str | torch.device = "cpu",
    overrides: list[str] | tuple[str, ...] = (),
    trust_targets: list[str] | tuple[str, ...] = (),
    kind: str | None = None,
    command: str = "this command",
    runtime: str = "torch",
):
    """The task's inference object for ``checkpoint`` (see ``seqlab.load``).

    Args:
        checkpoint: checkpoint or run directory; for ``runtime="onnx"`` the directory
            ``seqlab export CKPT --onnx DIR`` wrote.
        device: where to run the model.
        runtime: ``"torch"``, ``"onnx"`` or ``"ct2"`` (see
            :meth:`seqlab.engine.task.EvaluableTask.for_inference`); a task refuses one it does
            not run with, in one line (``ValueError``).
        overrides: of the saved config, e.g. ``["decoder=ctc_beam", "decoder.lm=lm.arpa"]``.
        trust_targets: the user's own classes the saved config may name (see :func:`load_task`).
        kind, command: refuse a checkpoint of another task kind (see :func:`load_task`).
    """
    from seqlab.runtime import RUNTIMES

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    task, _ = load_task(
        checkpoint, overrides, trust_targets, kind=kind, command=command, runtime=runtime
    )
    return task.for_inference(device, runtime=runtime)
