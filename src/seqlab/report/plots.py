"""PNG plots of a run's scalars (against step and epoch) with matplotlib's Agg canvas: no pyplot,
no windows, no global backend switch. Every plot function returns the labels it drew, and the
run's plots are listed with their labels in ``plots/plots.json`` (so tests and tools can check
legends without reading pixels)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from seqlab.report.run_data import RunData

# Train scalars that are counters or copies, not curves worth a plot of their own.
NOT_PLOTTED = {"nonfinite_steps", "skipped_steps", "n_units", "n_seconds", "val_averaged"}


@dataclass
class Series:
    """One curve: ``label``, x values by ``steps`` and by ``epochs``, ``values`` (NaN = gap)."""

    label: str
    steps: list[int]
    epochs: list[float]
    values: list[float]


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def plot_curves(path: Path, title: str, series: list[Series], ylabel: str) -> dict:
    """Draw ``series`` against step (left) and epoch (right) into the PNG ``path``.

    Args:
        path: output .png (its folder is made).
        title: figure title.
        series: the curves; each is drawn in both panels with the same colour and label.
        ylabel: the y axis name.

    Returns:
        ``{"file": name, "title", "labels": [legend labels], "ylabel"}``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.8), dpi=100)
    FigureCanvasAgg(figure)
    by_step, by_epoch = figure.subplots(1, 2, sharey=True)
    # fixed margins: matplotlib's automatic layouts cost more than drawing the curves
    figure.subplots_adjust(left=0.08, right=0.985, bottom=0.13, top=0.89, wspace=0.06)
    values = [v for s in series for v in _finite(s.values)]
    log_y = bool(values) and min(values) > 0 and max(values) / min(values) > 30
    for s in series:
        style = {"marker": "o", "markersize": 3} if len(s.values) <= 30 else {}
        (line,) = by_step.plot(s.steps, s.values, label=s.label, linewidth=1.4, **style)
        by_epoch.plot(s.epochs, s.values, color=line.get_color(), linewidth=1.4, **style)
    for axis, xlabel in ((by_step, "step"), (by_epoch, "epoch")):
        axis.set_xlabel(xlabel)
        axis.grid(True, alpha=0.3)
        if log_y:
            axis.set_yscale("log")
    by_step.set_ylabel(ylabel)
    if series:
        by_step.legend(fontsize=8, loc="best")
    figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    labels = [s.label for s in series]
    return {"file": path.name, "title": title, "labels": labels, "ylabel": ylabel}


def _series(run: RunData, key: str, split: str, label: str) -> Series | None:
    steps, values = run.series(key, split)
    if not _finite(values):
        return None
    return Series(label, steps, run.epoch_of_steps(steps), values)


def constant_keys(run: RunData, split: str) -> dict[str, float]:
    """Scalars of a split recorded at least twice with one value throughout (e.g. counters of
    skipped items that stayed 0): ``{key: value}``. They get a line in the report, not a plot."""
    out = {}
    for key in run.keys(split):
        values = _finite(run.series(key, split)[1])
        if len(values) >= 2 and len(set(values)) == 1:
            out[key] = values[0]
    return out


def _file_stem(key: str) -> str:
    return key.replace("/", "_")


def run_plots(run: RunData, out_dir: Path) -> list[dict]:
    """Every scalar of the run as a PNG in ``out_dir`` (usually ``<run>/plots``).

    Training and validation losses together; each other validation metric; learning rates;
    gradient norms; throughput; each other training scalar (scalars that never changed are
    left to :func:`constant_keys`). Nothing assumes metric names beyond
    the engine's own (``loss``, ``lr/<optimizer>``, ``grad_norm/<optimizer>``, ``*_per_s``).

    Returns:
        the plots' descriptions (see :func:`plot_curves`), also written to ``out_dir/plots.json``.
    """
    out_dir = Path(out_dir)
    train_keys = [k for k in run.keys("train") if k not in NOT_PLOTTED]
    val_keys = [k for k in run.keys("val") if k not in NOT_PLOTTED]
    plots = []

    def add(name: str, title: str, ylabel: str, curves: list[Series | None]) -> None:
        curves = [c for c in curves if c is not None]
        if curves:
            plots.append(plot_curves(out_dir / f"{name}.png", title, curves, ylabel))

    loss_keys = [k for k in train_keys if k == "loss" or k.startswith("loss/")]
    add(
        "loss",
        "training and validation loss",
        "loss",
        [_series(run, k, "train", f"train {k}") for k in loss_keys]
        + ([_series(run, "val_loss", "val", "val loss")] if "val_loss" in val_keys else []),
    )
    for key in val_keys:
        if key != "val_loss" and key not in constant_keys(run, "val"):
            add(_file_stem(key), f"validation {key[4:] if key.startswith('val_') else key}", key,
                [_series(run, key, "val", key)])  # fmt: skip
    groups = [
        ("lr", "learning rate", [k for k in train_keys if k == "lr" or k.startswith("lr/")]),
        ("grad_norm", "gradient norm (before clipping)",
         [k for k in train_keys if k == "grad_norm" or k.startswith("grad_norm/")]),
        ("throughput", "training throughput (per second of training)",
         [k for k in train_keys if k.endswith("_per_s")]),
    ]  # fmt: skip
    grouped = set(loss_keys)
    for name, title, keys in groups:
        grouped.update(keys)
        add(name, title, name, [_series(run, k, "train", k) for k in keys])
    for key in train_keys:
        if key not in grouped and key not in constant_keys(run, "train"):
            add(
                f"train_{_file_stem(key)}",
                f"training {key}",
                key,
                [_series(run, key, "train", key)],
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plots.json").write_text(json.dumps(plots, indent=2) + "\n")
    return plots
