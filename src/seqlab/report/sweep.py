"""``seqlab sweep EXPERIMENT key=a,b [key2=c,d] [--max-steps N] [--train-fraction F]``: train
every point of the grid one after another, then write the comparison into the sweep directory.

Layout: ``<runs_root>/<experiment>/<sweep name>/`` holds ``sweep.json`` (the grid and each
point's status), one run directory per point named after its values (``model.n_heads=8``), and
compare.md / compare.html / compare_*.png. Running the same command again resumes: finished
points are skipped, an unfinished point resumes from its ``last`` checkpoint, a point killed
before its first checkpoint starts again (its partial directory is moved to ``.abandoned/``).
Grid values use Hydra's sweep grammar (``key=a,b``, ``key=range(1,4)``, ``group=x,y``)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from pathlib import Path

from omegaconf import DictConfig

from seqlab.config import ConfigError, quote_override

MANIFEST = "sweep.json"


def parse_grid(overrides: list[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Split overrides into grid axes (``key=a,b`` and other Hydra sweeps) and fixed ones.

    Returns:
        ``(axes, fixed)``: axes as ``[(key, [value strings])]`` in the order given.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception as err:  # Hydra's grammar errors name the override
        raise ConfigError(f"cannot parse the sweep overrides: {err}") from err
    axes, fixed = [], []
    for text, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            # the key element keeps Hydra's prefix (+key, ++key)
            axes.append((override.get_key_element(), list(override.sweep_string_iterator())))
        else:
            fixed.append(text)
    return axes, fixed


def compose_base(base: str, overrides: list[str]) -> DictConfig:
    """The config of one point: a shipped experiment composed with Hydra, or a saved config
    file (e.g. another run's config.yaml) with the overrides applied."""
    from seqlab.config import apply_overrides, compose_experiment, load_config

    if base.endswith((".yaml", ".yml")) or Path(base).is_file():
        return apply_overrides(load_config(base), overrides)
    return compose_experiment(base, overrides)


def point_name(values: list[tuple[str, str]]) -> str:
    """``[("model.n_heads", "8"), ("optimizer.lr", "1e-3")]`` -> ``model.n_heads=8,optimizer.lr=1e-3``
    (characters a folder name should not hold become ``_``)."""
    text = ",".join(f"{k}={v.strip(chr(39) + chr(34))}" for k, v in values)
    return re.sub(r"[^A-Za-z0-9._=,+@-]+", "_", text)


def _is_finished(run_dir: Path) -> bool:
    from seqlab.engine.writers import read_events

    if not (run_dir / "metrics.jsonl").is_file():
        return False
    segments = [e["event"] for e in read_events(run_dir) if e.get("event") in ("start", "end")]
    return bool(segments) and segments[-1] == "end"


def _write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(path)


def run_sweep(
    base: str,
    overrides: list[str],
    max_steps: int | None = None,
    train_fraction: float | None = None,
    name: str | None = None,
    metrics: list[str] | None = None,
    log=print,
) -> dict:
    """Train the grid, one point after another, and compare the points.

    Args:
        base: a shipped experiment name or a config YAML file.
        overrides: grid axes (``key=a,b``) and fixed overrides (``key=v``), Hydra grammar.
        max_steps: ``trainer.max_steps`` of every point.
        train_fraction: ``data.train_fraction`` of every point (the data config must have it).
        name: the sweep directory's name (default: ``sweep-<axis keys>-<hash of the grid>``, so
            the same command finds the same directory and resumes).
        metrics: compared metrics (default: val_loss and the experiment's monitored metric).
        log: where progress lines go.

    Returns:
        ``{"dir", "manifest", "points": [...], "comparison": compare_runs' result or None,
        "failed": [point names]}``.

    Raises:
        ConfigError: no grid axis, an unknown key, ``--train-fraction`` for data without it, or
            a sweep directory that holds a different grid.
    """
    from seqlab.engine.trainer import run

    axes, fixed = parse_grid(overrides)
    if not axes:
        raise ConfigError(
            "a sweep needs at least one key with several values, e.g. model.n_heads=4,8 "
            "(comma-separated, Hydra's sweep syntax)"
        )
    if max_steps is not None:
        fixed.append(f"trainer.max_steps={int(max_steps)}")
    first = [f"{key}={values[0]}" for key, values in axes]
    cfg = compose_base(base, [*fixed, *first])  # fails early on a bad key, before any training
    if train_fraction is not None:
        if "train_fraction" not in (cfg.get("data") or {}):
            raise ConfigError(
                f"--train-fraction: the data config of '{base}' has no data.train_fraction key, so "
                "this task cannot train on a fraction of its data (ASR, translation and LM data "
                "configs have it); leave --train-fraction out"
            )
        fixed.append(f"data.train_fraction={float(train_fraction)}")
        cfg = compose_base(base, [*fixed, *first])
    experiment = str(cfg.get("experiment_name") or "default")
    runs_root = Path(str(cfg.trainer.get("runs_root") or "runs"))
    grid = json.loads(
        json.dumps({"base": base, "axes": axes, "fixed": fixed})
    )  # as sweep.json has it
    digest = hashlib.sha1(json.dumps(grid, sort_keys=True).encode()).hexdigest()[:8]
    name = name or "sweep-" + "+".join(k.lstrip("+") for k, _ in axes)[:60] + f"-{digest}"
    sweep_dir = runs_root / experiment / name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = sweep_dir / MANIFEST
    points = []
    for combo in itertools.product(*[[(key, v) for v in values] for key, values in axes]):
        point = point_name(list(combo))
        point_overrides = [*fixed, *(f"{k}={v}" for k, v in combo),
                           f"trainer.run_name={quote_override(f'{name}/{point}')}"]  # fmt: skip
        points.append({"name": point, "overrides": point_overrides,
                       "run_dir": str(sweep_dir / point), "status": "pending"})  # fmt: skip
    manifest = {"grid": grid, "experiment": experiment, "points": points}
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous.get("grid") != grid:
            raise ConfigError(
                f"{sweep_dir} holds a different sweep ({manifest_path}: {previous.get('grid')}); "
                "give this one another --name"
            )
        for point, old in zip(points, previous["points"], strict=True):
            point.update({k: old[k] for k in ("status", "summary", "error") if k in old})
    _write_manifest(manifest_path, manifest)

    failed = []
    for number, point in enumerate(points, start=1):
        run_dir = Path(point["run_dir"])
        header = f"[sweep] {number}/{len(points)} {point['name']}"
        if _is_finished(run_dir):
            point["status"] = "done"
            _write_manifest(manifest_path, manifest)
            log(f"{header}: finished before, skipped")
            continue
        extra = []
        last = run_dir / "checkpoints" / "last"
        if last.exists():
            extra = [f"trainer.resume_from={quote_override(last.resolve())}"]
            log(f"{header}: resuming from {last.resolve().name}")
        else:
            if run_dir.exists():  # killed before its first checkpoint: nothing to resume
                aside = (
                    sweep_dir / ".abandoned" / f"{point['name']}-{time.strftime('%Y%m%d-%H%M%S')}"
                )
                aside.parent.mkdir(parents=True, exist_ok=True)
                run_dir.rename(aside)
                log(f"{header}: no checkpoint to resume; the partial run moved to {aside}")
            log(f"{header}: training")
        point["status"] = "running"
        _write_manifest(manifest_path, manifest)
        try:
            given = [*point["overrides"], *extra]
            summary = run(compose_base(base, given), given)
        except Exception as err:  # one failing point must not lose the others
            point.update(status="failed", error=f"{type(err).__name__}: {err}")
            _write_manifest(manifest_path, manifest)
            failed.append(point["name"])
            log(f"{header}: FAILED: {point['error']}")
            continue
        point.update(status="done", summary={k: summary.get(k) for k in
                     ("step", "epoch", "best_metric", "best_step", "monitor")})  # fmt: skip
        point.pop("error", None)
        _write_manifest(manifest_path, manifest)

    done = [p["run_dir"] for p in points if p["status"] == "done"]
    comparison = None
    if done:
        from seqlab.report.compare import compare_runs

        if metrics is None:
            monitor = str(cfg.trainer.get("monitor") or "").split()
            metrics = ["val_loss"] + (
                [monitor[1]] if len(monitor) == 2 and monitor[1] != "val_loss" else []
            )
        comparison = compare_runs(done, metrics, out_dir=sweep_dir, skip_missing=True)
    return {"dir": sweep_dir, "manifest": manifest_path, "points": points,
            "comparison": comparison, "failed": failed}  # fmt: skip
