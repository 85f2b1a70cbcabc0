"""Checkpoints: atomic save, ``best``/``last`` tags, retention, safe loading.

Layout of one checkpoint, ``<run>/checkpoints/step-<N>/``::

    <model_name>.safetensors   weights of each named model (unwrapped, contiguous)
    state.pt                   optimizers, schedulers, scaler, counters, RNG states of every rank
    meta.json                  step, epoch, metrics at save time, time, seqlab version
    config.yaml                the resolved config of the run
    (+ whatever task.save_artifacts(dir) writes, e.g. a vocabulary)

``best`` and ``last`` are relative symlinks next to the step dirs. Nothing here unpickles
arbitrary objects: weights load with safetensors, state with ``torch.load(weights_only=True)``.
Ours rather than ``accelerator.save_state``: that one pickles RNG states, has no tags or
retention and does not write atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from seqlab.version import __version__

TAGS = ("best", "last")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    """fsync every file under ``directory`` and the directories themselves."""
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb+") as file:
                os.fsync(file.fileno())
        _fsync_dir(Path(root))


def remove_stale_tmp(checkpoints_dir: Path) -> None:
    """Delete ``.tmp-*`` dirs and links left by a save that was killed half-way."""
    if checkpoints_dir.is_dir():
        for path in checkpoints_dir.glob(".tmp-*"):
            if path.is_symlink() or path.is_file():
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)


def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    model_states: dict[str, dict[str, torch.Tensor]],
    train_state: dict,
    meta: dict,
    config_yaml: str | None = None,
    save_artifacts: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``checkpoints_dir/step-<step>`` atomically and return its path.

    Args:
        checkpoints_dir: ``<run>/checkpoints``.
        step: optimizer step; names the directory.
        model_states: model name -> state dict (tensors; made contiguous and moved to CPU here).
        train_state: tensors/primitives/dicts/lists only (loaded with ``weights_only=True``).
        meta: JSON-serialisable summary; "step", "time" and "seqlab_version" are added.
        config_yaml: the resolved config as YAML text.
        save_artifacts: called with the temporary dir to add task files (vocabulary, ...).

    Returns:
        the final directory. A step dir that already exists (a resumed run passing the same
        step again) is replaced.
    """
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoints_dir / f"step-{step}"
    tmp = checkpoints_dir / f".tmp-step-{step}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, state in model_states.items():
        tensors, seen = {}, set()
        for key, value in state.items():
            value = value.detach().cpu().contiguous()
            if value.data_ptr() in seen:  # tied weights: safetensors refuses shared memory
                value = value.clone()
            seen.add(value.data_ptr())
            tensors[key] = value
        weights = tmp / f"{name}.safetensors"
        safetensors.torch.save_file(tensors, str(weights))
        # safetensors creates the file private (0600); give it the mode of every other run file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(weights, 0o666 & ~umask)
    torch.save(train_state, tmp / "state.pt")
    meta = {**meta, "step": step, "time": time.time(), "seqlab_version": __version__}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    if config_yaml is not None:
        (tmp / "config.yaml").write_text(config_yaml)
    if save_artifacts is not None:
        save_artifacts(tmp)
    _fsync_tree(tmp)
    if final.exists():
        # Move the old one aside under a .tmp- name (removed at the next start if we die now).
        old = checkpoints_dir / f".tmp-replaced-step-{step}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(checkpoints_dir)
    return final


def update_tag(checkpoints_dir: Path, tag: str, target: Path) -> None:
    """Point the symlink ``checkpoints_dir/<tag>`` at ``target`` atomically (relative link)."""
    tmp_link = checkpoints_dir / f".tmp-link-{tag}-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(target.name, tmp_link)
    os.replace(tmp_link, checkpoints_dir / tag)
    _fsync_dir(checkpoints_dir)


def _save_time(step_dir: Path) -> float:
    try:
        return float(json.loads((step_dir / "meta.json").read_text())["time"])
    except (OSError, ValueError, KeyError):
        return step_dir.stat().st_mtime


def prune_checkpoints(checkpoints_dir: Path, keep_last: int) -> list[Path]:
    """Delete all step dirs but the ``keep_last`` most recently saved and the tagged ones.

    "Most recent" is by save time, not step number, so a run resumed from an earlier
    checkpoint keeps its new checkpoints rather than the abandoned later ones. A run always
    keeps at least one checkpoint.

    Returns:
        the deleted directories.
    """
    step_dirs = sorted(checkpoints_dir.glob("step-*"), key=_save_time, reverse=True)
    tagged = {
        (checkpoints_dir / tag).resolve() for tag in TAGS if (checkpoints_dir / tag).is_symlink()
    }
    keep = set(step_dirs[: max(keep_last, 1)]) | {d for d in step_dirs if d.resolve() in tagged}
    deleted = [d for d in step_dirs if d not in keep]
    for step_dir in deleted:
        shutil.rmtree(step_dir, ignore_errors=True)
    return deleted


def resolve_checkpoint(path: str | Path) -> Path:
    """Turn a run dir, a tag or a step dir into the real checkpoint directory.

    Args:
        path: ``<run>`` (-> its best, else last), ``<run>/checkpoints`` (same),
            ``<run>/checkpoints/best|last|step-N``.

    Returns:
        the resolved step directory (symlinks followed).

    Raises:
        FileNotFoundError listing the checkpoints that do exist.
    """
    path = Path(path).expanduser()
    candidates = [path]
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    if path.name == "checkpoints":
        candidates = [path / "best", path / "last"]
    for candidate in candidates:
        if (candidate / "state.pt").is_file() or any(candidate.glob("*.safetensors")):
            return candidate.resolve()
    folder = path if path.name == "checkpoints" else path.parent
    existing = (
        sorted(p.name for p in folder.glob("*") if not p.name.startswith("."))
        if folder.is_dir()
        else []
    )
    raise FileNotFoundError(
        f"no checkpoint at {Path(candidates[0])}: expected a run dir or checkpoints/best|last|step-N "
        f"with *.safetensors and state.pt; {folder} holds: {existing or 'nothing'}"
    )


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint into memory (CPU tensors).

    Returns:
        {"path": Path, "models": {name: state_dict}, "state": dict (from state.pt, or {}),
         "meta": dict (from meta.json, or {})}.
    """
    directory = resolve_checkpoint(path)
    models = {
        file.stem: safetensors.torch.load_file(str(file))
        for file in sorted(directory.glob("*.safetensors"))
    }
    state_file = directory / "state.pt"
    state = (
        torch.load(state_file, map_location="cpu", weights_only=True) if state_file.exists() else {}
    )
    meta_file = directory / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return {"path": directory, "models": models, "state": state, "meta": meta}


AVERAGED_SUFFIXES = ("swa", "ema")  # <name>_swa.safetensors, <name>_ema.safetensors


def load_model_weights(
    path: str | Path, models: dict[str, nn.Module], strict: bool = True, averaged: bool = True
) -> Path:
    """Load the weights of a checkpoint into ``models`` (by name), for inference or fine-tuning.

    Args:
        path: anything :func:`resolve_checkpoint` accepts.
        models: name -> module; each name needs ``<name>.safetensors`` in the checkpoint.
        strict: passed to ``load_state_dict``.
        averaged: take the SWA/EMA weights (``<name>_swa``/``<name>_ema``) where the run made them.

    Returns:
        the resolved checkpoint directory.
    """
    directory = resolve_checkpoint(path)
    for name, module in models.items():
        file = directory / f"{name}.safetensors"
        if averaged:
            for suffix in AVERAGED_SUFFIXES:
                if (directory / f"{name}_{suffix}.safetensors").exists():
                    file = directory / f"{name}_{suffix}.safetensors"
        if not file.exists():
            found = sorted(f.stem for f in directory.glob("*.safetensors"))
            raise FileNotFoundError(
                f"{directory} has no weights for model '{name}' (it has {found})"
            )
        module.load_state_dict(safetensors.torch.load_file(str(file)), strict=strict)
    return directory


def param_checksum(models: dict[str, nn.Module]) -> dict:
    """Fingerprint of every parameter and buffer (in name order), to compare DDP ranks.

    Returns:
        {"sum": float64 sum of all values, "sha256": hex digest of all bytes}.
    """
    return state_checksum({name: model.state_dict() for name, model in models.items()})


def state_checksum(states: dict[str, dict]) -> dict:
    """:func:`param_checksum` of ``{model name: state_dict}``."""
    digest, total = hashlib.sha256(), 0.0
    for name in sorted(states):
        for tensor in states[name].values():
            tensor = tensor.detach().cpu().contiguous()
            total += float(tensor.double().sum())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"sum": total, "sha256": digest.hexdigest()}
