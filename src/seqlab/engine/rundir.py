"""Run directories: ``runs_root/experiment_name/run_name/`` with config.yaml, overrides.txt and
env.json (versions, platform, git commit and dirty diff), so every run can be reproduced."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from seqlab.config import ConfigError
from seqlab.engine.checkpoint import resolve_checkpoint
from seqlab.version import __version__


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git installed, or it hung
    return result.stdout if result.returncode == 0 else None


def environment_info() -> dict:
    """Versions, platform, device and the git state of the cwd's repo (or seqlab's own).

    Returns:
        dict with python, torch, accelerate, seqlab, platform, cuda (or null), gpus,
        git_commit, git_dirty, git_diff (null when there is no git or no repo).
    """
    import accelerate
    import torch

    info = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "accelerate": accelerate.__version__,
        "seqlab": __version__,
        "platform": platform.platform(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "argv": sys.argv,
        "git_commit": None,
        "git_dirty": None,
        "git_diff": None,
    }
    for repo in (Path.cwd(), Path(__file__).resolve().parents[1]):
        commit = _git(["rev-parse", "HEAD"], repo)
        if commit:
            diff = _git(["diff", "HEAD"], repo) or ""
            info.update(git_commit=commit.strip(), git_dirty=bool(diff), git_diff=diff or None)
            break
    return info


def write_config(run_dir: Path, cfg: DictConfig) -> None:
    """Write the resolved config to ``run_dir/config.yaml``; an existing one is kept as
    ``config.<timestamp>.yaml`` (a resumed run may have changed keys on the command line)."""
    path = run_dir / "config.yaml"
    if path.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        archive, number = run_dir / f"config.{stamp}.yaml", 2
        while archive.exists():  # two resumes within a second
            archive, number = run_dir / f"config.{stamp}-{number}.yaml", number + 1
        path.rename(archive)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))


def create_run_dir(cfg: DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Make a new run directory and write config.yaml, overrides.txt and env.json into it.

    Args:
        cfg: the composed config; reads ``trainer.runs_root`` (default "runs"),
            ``experiment_name`` and ``trainer.run_name`` (default: ``%Y%m%d-%H%M%S``, with a
            suffix ``-2``, ``-3``... if that exists).
        overrides: the command-line overrides, one per line in overrides.txt.

    Returns:
        the run directory.
    """
    trainer_cfg = cfg.get("trainer") or {}
    root = Path(trainer_cfg.get("runs_root") or "runs") / str(
        cfg.get("experiment_name") or "default"
    )
    name = trainer_cfg.get("run_name") or time.strftime("%Y%m%d-%H%M%S")
    run_dir = root / name
    if not trainer_cfg.get("run_name"):
        suffix = 2
        while run_dir.exists():
            run_dir = root / f"{name}-{suffix}"
            suffix += 1
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, cfg)
    (run_dir / "overrides.txt").write_text("".join(f"{o}\n" for o in overrides))
    (run_dir / "env.json").write_text(json.dumps(environment_info(), indent=2) + "\n")
    return run_dir


def resume_run_dir(cfg: DictConfig) -> Path | None:
    """Check ``trainer.resume_from`` before anything is built or written; return the run
    directory that owns the checkpoint, or None for a new run directory.

    None when ``resume_from`` is unset, or when the checkpoint is not inside a run directory
    (``<run>/checkpoints/<tag>`` next to ``<run>/config.yaml``, e.g. a ``best/`` copied to
    /tmp): that run continues from the checkpoint in a new directory under ``runs_root``.

    Raises:
        ConfigError: ``resume_from`` is not a checkpoint, or one of another experiment (its
            config.yaml says so): resuming it would mix two experiments and rewrite that run's
            config.yaml and overrides.txt.
    """
    resume_from = (cfg.get("trainer") or {}).get("resume_from")
    if not resume_from:
        return None
    try:
        ckpt = resolve_checkpoint(resume_from)
    except FileNotFoundError as err:
        raise ConfigError(f"trainer.resume_from: {err}") from None
    owner = ckpt.parent.parent
    in_run = ckpt.parent.name == "checkpoints" and (owner / "config.yaml").is_file()
    saved = ckpt / "config.yaml" if (ckpt / "config.yaml").is_file() else owner / "config.yaml"
    if saved.is_file() and (in_run or saved.parent == ckpt):
        try:  # plain YAML: only a name is read from the file, nothing is built from it
            theirs = (yaml.safe_load(saved.read_text()) or {}).get("experiment_name")
        except (yaml.YAMLError, AttributeError):
            theirs = None
        ours = cfg.get("experiment_name")
        if theirs is not None and ours is not None and str(theirs) != str(ours):
            raise ConfigError(
                f"trainer.resume_from={resume_from} is a checkpoint of experiment '{theirs}', not "
                f"'{ours}': resume it with `seqlab train {theirs} trainer.resume_from=...`, or "
                f"give a checkpoint of '{ours}'"
            )
    return owner if in_run else None


def prepare_run_dir(cfg: DictConfig, overrides: Sequence[str] = ()) -> Path:
    """The run directory for ``cfg``: a new one, or, when ``trainer.resume_from`` is a
    checkpoint inside a run directory (:func:`resume_run_dir`), that run, whose config.yaml is
    replaced by this config (the old one kept) and whose overrides.txt gets the new overrides
    appended under a ``# resume`` line."""
    run_dir = resume_run_dir(cfg)
    if run_dir is None:
        return create_run_dir(cfg, overrides)
    write_config(run_dir, cfg)
    with open(run_dir / "overrides.txt", "a", encoding="utf-8") as file:
        file.write(
            f"# resume {time.strftime('%Y%m%d-%H%M%S')}\n" + "".join(f"{o}\n" for o in overrides)
        )
    return run_dir


def agree_on_run_dir(cfg: DictConfig, overrides: Sequence[str], accelerator) -> Path:
    """:func:`prepare_run_dir` on rank 0, broadcast to every rank (their clocks, and so the
    default timestamped names, may differ by a second)."""
    from accelerate.utils import broadcast_object_list

    names = [str(prepare_run_dir(cfg, overrides)) if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        names = broadcast_object_list(names)
    return Path(names[0])
