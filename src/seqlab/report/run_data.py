"""Everything a run directory records, read once for reports and comparisons: config, overrides,
environment, scalar records, events, checkpoints, eval files and examples."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seqlab.engine.writers import (
    read_audio_examples,
    read_events,
    read_examples,
    read_metrics,
    training_seconds,
)

# Record fields that are bookkeeping, not scalars to plot or tabulate.
RECORD_FIELDS = ("step", "epoch", "split", "time")


def as_float(value) -> float:
    """A record value as a float: JSON numbers, "nan"/"inf" strings; anything else is NaN."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


@dataclass
class Checkpoint:
    """A tagged checkpoint: ``tag`` (best/last), ``step``, ``epoch``, validation ``metrics``."""

    tag: str
    path: Path
    step: int | None
    epoch: int | None
    metrics: dict


@dataclass
class RunData:
    """A run directory read into memory (see :func:`load_run`)."""

    path: Path
    name: str
    experiment: str
    config: dict
    overrides: list[str]
    env: dict
    records: list[dict]
    events: list[dict]
    training_seconds: float
    finished: bool
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    evals: dict[str, dict] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)
    audio: dict[int, list[Path]] = field(default_factory=dict)

    @property
    def train(self) -> list[dict]:
        return [r for r in self.records if r.get("split") == "train"]

    @property
    def val(self) -> list[dict]:
        return [r for r in self.records if r.get("split") == "val"]

    def keys(self, split: str) -> list[str]:
        """Scalar names of one split, in first-seen order, bookkeeping fields left out."""
        seen: dict[str, None] = {}
        for record in self.records:
            if record.get("split") == split:
                for key in record:
                    if key not in RECORD_FIELDS:
                        seen.setdefault(key, None)
        return list(seen)

    def series(self, key: str, split: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one scalar over the run (records without it skipped)."""
        steps, values = [], []
        for record in self.records:
            if record.get("split") == split and key in record:
                steps.append(int(record["step"]))
                values.append(as_float(record[key]))
        return steps, values

    def epoch_of_steps(self, steps: list[int]) -> list[float]:
        """Fractional epochs at ``steps``, interpolated from the training records' epoch field
        (validation records carry the integer epoch counter only)."""
        known = [(int(r["step"]), as_float(r.get("epoch"))) for r in self.train]
        known = [(s, e) for s, e in known if math.isfinite(e)]
        if not known:
            by_step = {int(r["step"]): as_float(r.get("epoch")) for r in self.records}
            return [by_step.get(s, math.nan) for s in steps]
        import numpy as np

        xs, ys = zip(*known, strict=True)
        per_step = ys[-1] / xs[-1] if xs[-1] else 0.0  # beyond the last record: extrapolate
        out = []
        for s in steps:
            out.append(
                float(np.interp(s, xs, ys)) if s <= xs[-1] else ys[-1] + (s - xs[-1]) * per_step
            )
        return out

    @property
    def status(self) -> str:
        return "finished" if self.finished else "in progress (or stopped without an end event)"


def parse_overrides(lines: list[str]) -> list[str]:
    """overrides.txt lines -> overrides in effect: comments (``# resume ...``) dropped and, for a
    key given twice (a resume changed it), the last value kept in the first position."""
    latest: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0].lstrip("+~")
        latest.pop(key, None)
        latest[key] = line
    return list(latest.values())


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory.

    Args:
        run_dir: ``runs/<experiment>/<run>`` (holds metrics.jsonl and config.yaml).

    Returns:
        the :class:`RunData`; works for runs in progress (no end event, maybe no checkpoint).

    Raises:
        FileNotFoundError: no metrics.jsonl or config.yaml there (names the directory).
    """
    path = Path(run_dir)
    for name in ("metrics.jsonl", "config.yaml"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{path} has no {name}: it is not a seqlab run directory "
                "(give runs/<experiment>/<run>, the folder that holds metrics.jsonl)"
            )
    config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    overrides_file = path / "overrides.txt"
    overrides = parse_overrides(
        overrides_file.read_text().splitlines() if overrides_file.is_file() else []
    )
    events = read_events(path)
    segments = [e["event"] for e in events if e.get("event") in ("start", "end")]
    run = RunData(
        path=path,
        name=path.name,
        experiment=str(config.get("experiment_name") or path.parent.name),
        config=config,
        overrides=overrides,
        env=_read_json(path / "env.json") or {},
        records=read_metrics(path),
        events=events,
        training_seconds=training_seconds(path),
        finished=bool(segments) and segments[-1] == "end",
        examples=read_examples(path),
        audio=read_audio_examples(path),
    )
    for tag in ("best", "last"):
        link = path / "checkpoints" / tag
        if link.exists():
            target = link.resolve()
            meta = _read_json(target / "meta.json") or {}
            step = int(target.name.split("-")[1]) if target.name.startswith("step-") else None
            run.checkpoints[tag] = Checkpoint(
                tag, target, step, meta.get("epoch"), meta.get("metrics") or {}
            )
    for eval_file in sorted(path.glob("eval*.json")):
        result = _read_json(eval_file)
        if isinstance(result, dict) and isinstance(result.get("metrics"), dict):
            run.evals[eval_file.stem] = result
    return run


def eval_step(result: dict) -> int | None:
    """The training step of the checkpoint an eval file scored (from its ``checkpoint`` path)."""
    checkpoint = Path(str(result.get("checkpoint", "")))
    if checkpoint.is_symlink() or checkpoint.exists():
        checkpoint = checkpoint.resolve()
    if checkpoint.name.startswith("step-"):
        try:
            return int(checkpoint.name.split("-")[1])
        except ValueError:
            return None
    return None
