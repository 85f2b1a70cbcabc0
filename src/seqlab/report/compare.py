"""``seqlab compare RUN_DIR... [--metric val_loss] [--out DIR]``: the runs' curves overlaid, each
run labelled by what differs between the runs, and a table of best/final values with the winner
marked. Writes compare.md, compare.html, compare.json and one PNG per metric."""

from __future__ import annotations

import json
import math
from pathlib import Path

from seqlab.report.config_diff import run_labels
from seqlab.report.document import Document
from seqlab.report.plots import Series, plot_curves
from seqlab.report.run_data import RunData, load_run
from seqlab.report.tables import fmt

# Metric names where larger is better; everything else (losses, error rates, distances) is minimised.
HIGHER_IS_BETTER = ("bleu", "chrf", "acc", "accuracy", "pesq", "stoi", "f1", "precision", "recall")
# Diagnostics with no better direction (learning rates, grad norms, a GAN's discriminator scores):
# plotted and tabled, but no winner is named.
DIAGNOSTIC_PREFIXES = ("lr", "grad_norm", "score_", "loss_scale", "epoch")


class CompareError(ValueError):
    """The runs cannot be compared as asked; the message says why and what to do."""


def direction(metric: str, runs: list[RunData]) -> str:
    """ "min", "max" or "none" (a diagnostic): the runs' ``trainer.monitor`` when it names this
    metric, else by name."""
    for run in runs:
        monitor = str((run.config.get("trainer") or {}).get("monitor") or "").split()
        if len(monitor) == 2 and monitor[1] == metric:
            return monitor[0]
    leaf = metric.split("/")[0].removeprefix("val_").removeprefix("test_").lower()
    if leaf.startswith(DIAGNOSTIC_PREFIXES):
        return "none"
    return "max" if leaf in HIGHER_IS_BETTER else "min"


def _split_of(metric: str) -> str:
    return "val" if metric.startswith("val_") else "train"


def _check_experiments(runs: list[RunData], force: bool) -> None:
    experiments = sorted({run.experiment for run in runs})
    if len(experiments) > 1 and not force:
        listing = "; ".join(f"{run.path}: {run.experiment}" for run in runs)
        raise CompareError(
            f"these runs are of different experiments ({', '.join(experiments)}): {listing}. "
            "Their metrics may not mean the same thing; pass --force to compare them anyway."
        )


def _best_and_final(steps: list[int], values: list[float], mode: str) -> dict:
    pairs = [(s, v) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
    if not pairs:
        return {"best": math.nan, "best_step": None, "final": math.nan, "final_step": None}
    if mode == "none":  # a diagnostic: "best" is just the final value
        best = pairs[-1]
    else:
        best = (min if mode == "min" else max)(pairs, key=lambda p: p[1])
    return {
        "best": best[1],
        "best_step": best[0],
        "final": pairs[-1][1],
        "final_step": pairs[-1][0],
    }


def expand_run_dirs(paths: list[str | Path]) -> list[Path]:
    """Run directories from ``paths``: a run directory stays; a folder that is not a run but
    holds runs (a sweep directory, ``runs/<experiment>``) stands for the runs inside it, in name
    order. Anything else stays, so that :func:`load_run` names it in its error."""
    out: list[Path] = []
    for path in map(Path, paths):
        if (path / "metrics.jsonl").is_file() or not path.is_dir():
            out.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if (p / "metrics.jsonl").is_file())
        out.extend(inside or [path])
    return out


def _json_safe(value):
    """NaN -> None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def compare_runs(
    run_dirs: list[str | Path],
    metrics: list[str] | tuple[str, ...] = ("val_loss",),
    out_dir: str | Path | None = None,
    force: bool = False,
    skip_missing: bool = False,
) -> dict:
    """Compare runs on one or more metrics.

    Args:
        run_dirs: two or more run directories (one is allowed: a plot of one run); a folder
            of runs (a sweep directory) stands for the runs in it.
        metrics: scalar names as in metrics.jsonl: ``val_<metric>`` for validation records,
            anything else for training records (``loss``, ``lr/main``).
        out_dir: output folder (default ``<common parent of the runs>/compare``).
        force: compare runs of different experiments.
        skip_missing: leave out metrics that no run recorded instead of raising.

    Returns:
        ``{"markdown", "html", "json": paths, "labels": [per run], "label_source",
        "metrics": {metric: {"direction", "winner": label, "runs": [{label, run, best,
        best_step, final, final_step}]}}, "plots": [plot descriptions]}``.

    Raises:
        CompareError: different experiments without ``force``, or a metric no run recorded.
        FileNotFoundError: a path that is not a run directory.
    """
    if not run_dirs:
        raise CompareError("give at least one run directory")
    runs = [load_run(d) for d in expand_run_dirs(run_dirs)]
    _check_experiments(runs, force)
    labels, label_source = run_labels(runs) if len(runs) > 1 else ([runs[0].name], "run name")
    if out_dir is None:
        parents = {run.path.resolve().parent for run in runs}
        out_dir = (parents.pop() if len(parents) == 1 else Path.cwd()) / "compare"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = Document(f"Comparison of {len(runs)} runs", out)
    doc.paragraph(
        f"Runs are labelled by the {'overrides' if label_source == 'overrides' else label_source}"
        " that differ between them." if label_source in ("overrides", "config") else
        "These runs have identical configs: they are labelled by run name."
    )  # fmt: skip
    doc.table(["label", "run", "status", "experiment"],
              [[lab, str(r.path), r.status, r.experiment] for lab, r in zip(labels, runs, strict=True)])  # fmt: skip
    result = {"labels": labels, "label_source": label_source, "metrics": {}, "plots": []}
    for metric in metrics:
        split = _split_of(metric)
        missing = [str(r.path) for r in runs if metric not in r.keys(split)]
        if len(missing) == len(runs):
            if skip_missing:
                continue
            known = sorted({k for r in runs for k in r.keys("val") + r.keys("train")})
            raise CompareError(f"no run recorded '{metric}'. Recorded: {', '.join(known)}")
        mode = direction(metric, runs)
        series, rows = [], []
        for label, run in zip(labels, runs, strict=True):
            steps, values = run.series(metric, split)
            if steps:
                series.append(Series(label, steps, run.epoch_of_steps(steps), values))
            rows.append(
                {"label": label, "run": str(run.path), **_best_and_final(steps, values, mode)}
            )
        finite = [r for r in rows if math.isfinite(r["best"])]
        winner = (
            (min if mode == "min" else max)(finite, key=lambda r: r["best"])
            if finite and mode != "none"
            else None
        )
        name = f"compare_{metric.replace('/', '_')}"
        title = f"{metric} ({mode} is better)" if mode != "none" else f"{metric} (diagnostic)"
        plot = plot_curves(out / f"{name}.png", title, series, metric)
        result["plots"].append(plot)
        result["metrics"][metric] = {"direction": mode, "winner": winner["label"] if winner else None,
                                     "runs": rows}  # fmt: skip
        doc.heading(metric)
        doc.image(plot["file"], f"{metric}: {', '.join(plot['labels'])}")
        doc.table(
            ["", "label", f"best ({mode})", "at step", "final", "at step"],
            [["★" if r is winner else "", r["label"], fmt(r["best"], 5), fmt(r["best_step"]),
              fmt(r["final"], 5), fmt(r["final_step"])] for r in rows],
            note=(f"★ marks the best {metric} over the run (its {mode}imum)" if mode != "none"
                  else f"{metric} is a diagnostic with no better direction: no winner, best = final")
            + "; runs without it: " + (", ".join(missing) if missing else "none") + ".",
        )  # fmt: skip
    (out / "plots.json").write_text(json.dumps(result["plots"], indent=2) + "\n")
    json_path = out / "compare.json"
    json_path.write_text(json.dumps(_json_safe(result), indent=2, default=str) + "\n")
    markdown, page = doc.write("compare")
    return {**result, "markdown": markdown, "html": page, "json": json_path}
