"""What a file being loaded may name: seqlab's registry of known classes, no interpolations, no
hooks, and only paths inside its own directory.

A checkpoint (its config.yaml, vocabularies, ``hf/`` folders) is data from whoever sent it. Hydra
imports and calls any ``_target_`` it is given, and OmegaConf resolvers build values when a config
is resolved, so loading checks the file first: every ``_target_`` must be a class seqlab ships (or
one the user trusts on their own command line: ``--trust-target NAME``), no value may be an
interpolation, a text hook named in it is never imported, and a file it names must lie inside its
directory. The user's own configs and overrides are not checked: they are the user's code.
See docs/security.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from seqlab.config import ConfigError, load_config

# Every class or function a shipped config names as a ``_target_``.
# tests/test_security.py checks that each shipped ``_target_`` is here.
SEQLAB_TARGETS = frozenset(
    {
        # tasks
        "seqlab.tasks.asr.task.ASRTask",
        "seqlab.tasks.asr.hf.HFCTCTask",
        "seqlab.tasks.lm.task.LMTask",
        "seqlab.tasks.mt.task.MTTask",
        "seqlab.tasks.vocoder.task.VocoderTask",
        # models
        "seqlab.models.asr.bilstm_ctc.BiLSTMCTC",
        "seqlab.models.asr.conformer_ctc.ConformerCTC",
        "seqlab.models.mt.lstm_seq2seq.LSTMSeq2Seq",
        "seqlab.models.mt.transformer.TransformerSeq2Seq",
        "seqlab.models.vocoder.hifigan.HiFiGANGenerator",
        "seqlab.models.vocoder.hifigan.build_generator",
        # augmentations
        "seqlab.audio.augment.Gain",
        "seqlab.audio.augment.PolarityInversion",
        "seqlab.audio.augment.ColoredNoise",
        "seqlab.audio.augment.SpeedPerturb",
        "seqlab.audio.augment.SpecAugment",
        "seqlab.audio.augment.VTLP",
        "seqlab.audio.augment.RandomEQ",
        "seqlab.audio.augment.Reverb",
        # schedulers (writers are chosen by flags in cfg.writer, never by a _target_)
        "seqlab.engine.schedulers.WarmupLinearDecay",
        "seqlab.engine.schedulers.Noam",
        # Hugging Face model configs (lm_gpt2_small builds its model from one)
        "transformers.GPT2Config",
    }
)

# Class paths that checkpoints saved by earlier versions name, and where those classes live now.
# A loaded config's ``_target_`` is rewritten through this table after it is checked (never by
# importing the old path), so old checkpoints keep loading after a class moves.
TARGET_ALIASES: dict[str, str] = {
    # the tasks before each had a folder of its own (seqlab 0.1.0 checkpoints)
    "seqlab.tasks.asr.ASRTask": "seqlab.tasks.asr.task.ASRTask",
    "seqlab.tasks.asr_hf.HFCTCTask": "seqlab.tasks.asr.hf.HFCTCTask",
    "seqlab.tasks.lm.LMTask": "seqlab.tasks.lm.task.LMTask",
    "seqlab.tasks.mt.MTTask": "seqlab.tasks.mt.task.MTTask",
    "seqlab.tasks.vocoder.VocoderTask": "seqlab.tasks.vocoder.task.VocoderTask",
}

_TRUSTED: ContextVar[tuple[str, ...]] = ContextVar("seqlab_trusted_targets", default=())


class UntrustedContentError(ConfigError):
    """A loaded file names code or a path that seqlab does not load from files (see docs/security.md)."""


@cache
def torch_targets() -> frozenset[str]:
    """``torch.optim.<Optimizer>`` and ``torch.optim.lr_scheduler.<Scheduler>`` names."""
    import torch.optim
    import torch.optim.lr_scheduler as schedulers

    names = {
        f"torch.optim.{name}"
        for name, obj in vars(torch.optim).items()
        if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)
    }
    bases = (schedulers.LRScheduler, schedulers.ReduceLROnPlateau)
    names |= {
        f"torch.optim.lr_scheduler.{name}"
        for name, obj in vars(schedulers).items()
        if isinstance(obj, type) and issubclass(obj, bases) and not name.startswith("_")
    }
    return frozenset(names)


@contextmanager
def trusting(names: Iterable[str]) -> Iterator[None]:
    """Within the block, loading also accepts these ``_target_`` names (``mypkg.MyModel``, or
    ``mypkg.*`` for a whole package): the CLI's ``--trust-target``."""
    token = _TRUSTED.set(_TRUSTED.get() + tuple(names))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def is_known_target(name: str, trusted: Iterable[str] = ()) -> bool:
    """True for seqlab's registry, torch's optimizers and schedulers, and names the user trusts."""
    if name in SEQLAB_TARGETS or name in TARGET_ALIASES or name in torch_targets():
        return True
    for pattern in (*trusted, *_TRUSTED.get()):
        if name == pattern or (pattern.endswith(".*") and name.startswith(pattern[:-1])):
            return True
    return False


def _walk(node, path: str) -> Iterator[tuple[str, object, object]]:
    """``(key path, key, value)`` of every entry of nested dicts and lists."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        where = (
            f"{path}[{key}]" if isinstance(node, list) else f"{path}.{key}" if path else str(key)
        )
        yield where, key, value
        if isinstance(value, (dict, list)):
            yield from _walk(value, where)


def check_loaded_config(cfg: DictConfig, source: str, trusted: Iterable[str] = ()) -> list[str]:
    """Refuse a loaded config that would run code when built or resolved.

    Args:
        cfg: the config as read from disk (not resolved).
        source: where it came from, for the messages (``.../checkpoints/best/config.yaml``).
        trusted: more ``_target_`` names to accept (besides :func:`trusting`'s).

    Returns:
        the key paths of text hooks set in it (``data.text.hook``): never to be imported from it.

    Raises:
        UntrustedContentError: naming the key and the value: a ``_target_`` outside the registry,
        or an interpolation (``${...}``: a saved config is resolved, and resolvers such as
        ``oc.decode`` or ``oc.env`` would build values from the file or read the environment).
    """
    trusted = tuple(trusted)
    hooks = []
    for where, key, value in _walk(OmegaConf.to_container(cfg, resolve=False), ""):
        for text in (key, value):
            if isinstance(text, str) and "${" in text:
                raise UntrustedContentError(
                    f"{source}: {where} = {value!r} is an interpolation; a saved config is fully "
                    "resolved, and loading never evaluates resolvers from a file (they can read "
                    "the environment or build classes). Write the value itself there."
                )
        if key == "_target_" and not (isinstance(value, str) and is_known_target(value, trusted)):
            raise UntrustedContentError(
                f"{source}: {where} = {value!r} is not a seqlab class; loading a checkpoint only "
                "builds seqlab's known classes (tasks, models, augmentations, torch optimizers "
                "and schedulers), never a name taken from the file. If it is a class of your "
                "own and you trust where this checkpoint came from, accept it on your command "
                f"line: --trust-target {value} (Python: seqlab.load(..., trust_targets=[{value!r}]))."
            )
        if key == "hook" and value is not None:
            hooks.append(where)
    return hooks


def load_checkpoint_config(checkpoint_dir: Path, trusted: Iterable[str] = ()) -> DictConfig:
    """``checkpoint_dir/config.yaml``, checked by :func:`check_loaded_config`, with its text hooks
    cleared (only the user's own overrides may set one again).

    Raises:
        UntrustedContentError, or ConfigError when the file is missing.
    """
    source = Path(checkpoint_dir) / "config.yaml"
    cfg = load_config(source)
    for where in check_loaded_config(cfg, str(source), trusted):
        parent, _, leaf = where.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        with open_dict(node):
            node[leaf] = None
    _rename_targets(cfg)
    return cfg


def _rename_targets(node) -> None:
    """Replace every ``_target_`` that :data:`TARGET_ALIASES` names by the class's path today."""
    if isinstance(node, DictConfig):
        for key in list(node.keys()):
            value = node[key]
            if key == "_target_" and isinstance(value, str) and value in TARGET_ALIASES:
                node[key] = TARGET_ALIASES[value]
            elif isinstance(value, (DictConfig, ListConfig)):
                _rename_targets(value)
    elif isinstance(node, ListConfig):
        for value in node:
            if isinstance(value, (DictConfig, ListConfig)):
                _rename_targets(value)


def target_class(name: str) -> type:
    """The class a ``_target_`` names, through :data:`TARGET_ALIASES` for a path an earlier
    version saved. Check the name first (:func:`check_loaded_config`): this imports it."""
    from hydra.utils import get_class

    return get_class(TARGET_ALIASES.get(name, name))


def trusted_hook(cfg) -> str | None:
    """The text hook the user's own config or command line names (``data.text.hook``), if any."""
    return OmegaConf.select(cfg, "data.text.hook", default=None) if cfg is not None else None


def withheld_hook_error(hook: str, source: str) -> UntrustedContentError:
    """The error raised when text must be normalised with a hook that only a loaded file named."""
    return UntrustedContentError(
        f"{source} names the text hook {hook!r}; seqlab never imports a function named by a file "
        "it loads, and transcripts cannot be normalised as in training without it. If you trust "
        f"it, give it yourself: data.text.hook={hook} on the command line (+data.text.hook=... "
        "when the config has no data.text section)."
    )


def check_inside(directory: str | Path, path: str | Path, source: str, what: str) -> Path:
    """``path`` if it resolves (symlinks followed) inside ``directory``, else an error naming it."""
    root, real = Path(directory).resolve(), Path(path).resolve()
    if not real.is_relative_to(root):
        raise UntrustedContentError(
            f"{source}: {what} leads to {real}, outside {root}; a checkpoint may only refer to "
            "files inside its own directory (no absolute paths, '..' or symlinks out)"
        )
    return Path(path)


def artifact_path(directory: str | Path, name, source: str, key: str) -> Path:
    """The file ``name`` (read from ``source`` at ``key``) inside ``directory``.

    Raises:
        UntrustedContentError: unless ``name`` is a plain file name that stays inside
        ``directory`` (an absolute path, ``..``, a sub-path or a symlink out is refused).
    """
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
        raise UntrustedContentError(
            f"{source}: {key} = {name!r} must be the plain name of a file next to it in {directory}"
        )
    return check_inside(directory, Path(directory) / name, source, f"{key} = {name!r}")


def check_tree_inside(directory: str | Path, root: str | Path, source: str) -> None:
    """Refuse ``directory`` (e.g. a checkpoint's ``hf/``) when it, or any symlink in it, leads out
    of ``root`` (the checkpoint directory)."""
    check_inside(root, directory, source, Path(directory).name)
    for folder, names, files in os.walk(directory):
        for name in (*names, *files):
            path = Path(folder) / name
            if path.is_symlink():
                check_inside(root, path, source, str(path.relative_to(directory)))
