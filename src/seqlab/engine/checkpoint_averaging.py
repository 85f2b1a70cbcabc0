"""``seqlab average CKPT... --out DIR``: average the weights of several checkpoints into one.

The result is a checkpoint directory like any other (weights, config, vocabularies, meta), so
``seqlab eval``, ``translate`` and ``transcribe`` use it unchanged. Checkpoints must come from the
same experiment and model (same parameter names and shapes); typically the last few of one run.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import safetensors.torch
import torch

from seqlab.engine.checkpoint import AVERAGED_SUFFIXES, resolve_checkpoint
from seqlab.registry import check_tree_inside, load_checkpoint_config

SKIP = {"state.pt", "meta.json"}  # training state does not survive averaging


def average_checkpoints(checkpoints: list[str | Path], out: str | Path) -> dict:
    """Average the model weights of ``checkpoints`` (equal weights) and write a checkpoint to ``out``.

    Args:
        checkpoints: two or more checkpoint (or run) directories.
        out: the new checkpoint directory (must not exist, or be empty).

    Returns:
        ``{"path", "sources", "models", "parameters"}``.
    """
    if len(checkpoints) < 2:
        raise ValueError("seqlab average needs at least two checkpoints")
    dirs = [resolve_checkpoint(c) for c in checkpoints]
    if len(set(dirs)) != len(dirs):
        raise ValueError(f"a checkpoint is listed twice: {[str(d) for d in dirs]}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; pick a new --out directory")
    names = sorted(
        f.stem
        for f in dirs[0].glob("*.safetensors")
        if not any(f.stem.endswith("_" + s) for s in AVERAGED_SUFFIXES)
    )
    for d in dirs:  # the result is loaded like any checkpoint: refuse what loading would refuse
        if (d / "config.yaml").exists():
            load_checkpoint_config(d)
    # the newest one's files are copied: none may lead out of it (a symlink to a private file)
    check_tree_inside(dirs[-1], dirs[-1], str(dirs[-1]))
    configs = {
        (d / "config.yaml").read_text() if (d / "config.yaml").exists() else "" for d in dirs
    }
    models_of = [_model_part(text) for text in configs]
    if len({json.dumps(m, sort_keys=True) for m in models_of}) > 1:
        raise ValueError(
            "the checkpoints come from different model configurations; average checkpoints of "
            "one run (or of runs with the same model settings)"
        )
    averaged: dict[str, dict[str, torch.Tensor]] = {}
    for name in names:
        states = [_weights(d, name) for d in dirs]
        keys = set(states[0])
        for d, state in zip(dirs, states, strict=True):
            if set(state) != keys:
                raise ValueError(f"{d}: model '{name}' has other parameter names than {dirs[0]}")
        averaged[name] = {}
        for key in states[0]:
            tensors = [s[key] for s in states]
            shapes = {tuple(t.shape) for t in tensors}
            if len(shapes) > 1:
                raise ValueError(
                    f"'{name}.{key}' has different shapes across checkpoints: {shapes}"
                )
            if tensors[0].is_floating_point():
                mean = torch.stack([t.double() for t in tensors]).mean(0)
                averaged[name][key] = mean.to(tensors[0].dtype)
            else:  # integer buffers (counters, ids): the newest checkpoint's
                averaged[name][key] = tensors[-1]
    tmp = out.with_name(f".tmp-{out.name}-{time.time_ns()}")
    tmp.mkdir(parents=True)
    for item in dirs[
        -1
    ].iterdir():  # config and task artifacts (vocabularies, hf/ ...) of the newest
        if item.name in SKIP or item.suffix == ".safetensors":
            continue
        if item.is_dir():
            shutil.copytree(item, tmp / item.name)
        else:
            shutil.copy2(item, tmp / item.name)
    for name, state in averaged.items():
        safetensors.torch.save_file(
            {k: v.contiguous().clone() for k, v in state.items()}, str(tmp / f"{name}.safetensors")
        )
    meta = {"averaged_from": [str(d) for d in dirs], "time": time.time(), "metrics": {}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    n_params = sum(v.numel() for s in averaged.values() for v in s.values())
    return {
        "path": str(out),
        "sources": [str(d) for d in dirs],
        "models": names,
        "parameters": n_params,
    }


def _weights(directory: Path, name: str) -> dict[str, torch.Tensor]:
    """A model's weights as inference would load them (the SWA/EMA ones where present)."""
    for suffix in AVERAGED_SUFFIXES:
        file = directory / f"{name}_{suffix}.safetensors"
        if file.exists():
            return safetensors.torch.load_file(str(file))
    file = directory / f"{name}.safetensors"
    if not file.exists():
        raise FileNotFoundError(f"{directory} has no weights for model '{name}'")
    return safetensors.torch.load_file(str(file))


def _model_part(config_text: str) -> dict:
    if not config_text:
        return {}
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(config_text)
    return OmegaConf.to_container(cfg.get("model", {}), resolve=True) if "model" in cfg else {}
