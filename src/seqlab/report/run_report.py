"""``seqlab report RUN_DIR``: report.md + report.html (self-contained) + plots/*.png of one run,
from what every run records (metrics.jsonl, config.yaml, overrides.txt, env.json, checkpoints,
eval*.json, examples.jsonl, examples/step-N/*.wav)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import yaml

from seqlab.report.config_diff import diff_configs, experiment_defaults, format_value
from seqlab.report.document import Code, Document
from seqlab.report.plots import NOT_PLOTTED, constant_keys, run_plots
from seqlab.report.run_data import RunData, as_float, eval_step, load_run
from seqlab.report.tables import fmt, predictions, progress_table, table_columns, throughput


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _when(timestamp) -> str:
    if not isinstance(timestamp, (int, float)):
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary(run: RunData, doc: Document) -> None:
    last_step = max((int(r["step"]) for r in run.records), default=0)
    last_epoch = run.epoch_of_steps([last_step])[0] if run.records else 0.0
    trainer = run.config.get("trainer") or {}
    rows = [
        ["status", run.status],
        ["experiment", run.experiment],
        ["run directory", str(run.path)],
        ["started", _when(next((e.get("time") for e in run.events if e.get("event") == "start"), None))],
        ["last record", _when(run.records[-1].get("time") if run.records else None)],
        ["optimizer steps", f"{last_step}" + (f" of max {trainer['max_steps']}" if trainer.get("max_steps") else "")],
        ["epochs", f"{fmt(last_epoch, 3)} of {trainer.get('n_epochs', '-')}"],
        ["training time", _duration(run.training_seconds) + " (validation and checkpoints included)"],
        ["resumes", str(sum(1 for e in run.events if e.get("event") == "resume"))],
    ]  # fmt: skip
    monitor = trainer.get("monitor")
    for tag in ("best", "last"):
        checkpoint = run.checkpoints.get(tag)
        if checkpoint is None:
            rows.append([f"{tag} checkpoint", "none yet"])
            continue
        metric = ""
        if monitor and checkpoint.metrics:
            key = str(monitor).split()[-1]
            if key in checkpoint.metrics:
                metric = f", {key} = {fmt(as_float(checkpoint.metrics[key]), 5)} ({monitor})"
        rows.append(
            [f"{tag} checkpoint", f"{checkpoint.path.name} (epoch {checkpoint.epoch}){metric}"]
        )
    doc.heading("Summary")
    doc.table(["", ""], rows)


def _progress(run: RunData, doc: Document) -> list[dict]:
    rows, unit, note = progress_table(run)
    doc.heading("Per epoch" if unit == "epoch" else "Per validation")
    if not rows:
        doc.paragraph("No training records yet.", note=True)
        return rows
    columns = table_columns(rows, unit)
    doc.table(columns, [[fmt(r.get(c)) for c in columns] for r in rows], note=note)
    return rows


def _test_results(run: RunData, doc: Document) -> None:
    if not run.evals:
        return
    doc.heading("Evaluation (seqlab eval)")
    metric_keys = sorted({k for r in run.evals.values() for k, v in r["metrics"].items()
                          if isinstance(v, (int, float))})  # fmt: skip
    rows = []
    for name, result in run.evals.items():
        step = eval_step(result)
        rows.append([f"{name}.json", result.get("split", "-"), "-" if step is None else step,
                     result.get("n_items", "-")]
                    + [fmt(as_float(result["metrics"].get(k)), 5) for k in metric_keys])  # fmt: skip
    doc.table(["file", "split", "checkpoint step", "items", *metric_keys], rows)
    for name, result in run.evals.items():
        decoders = result.get("decoders") or []
        if decoders:
            doc.paragraph(f"{name}.json, decoders compared on the same model outputs:")
            doc.table(["decoder", "wer", "cer", "decode items/s", "total items/s (with the forward pass)"],
                      [[d.get("decoder"), fmt(as_float(d.get("wer")), 4), fmt(as_float(d.get("cer")), 4),
                        fmt(as_float(d.get("utterances_per_second")), 4),
                        fmt(as_float(d.get("end_to_end_utterances_per_second")), 4)]
                       for d in decoders])  # fmt: skip


def _plots(run: RunData, doc: Document, out_dir: Path) -> list[dict]:
    plots = run_plots(run, out_dir / "plots")
    doc.heading("Curves")
    if not plots:
        doc.paragraph("No scalars recorded yet.", note=True)
    for plot in plots:
        doc.image(f"plots/{plot['file']}", f"{plot['title']}: {', '.join(plot['labels'])}")
    constant = {**constant_keys(run, "train"), **constant_keys(run, "val")}
    shown = {label for plot in plots for label in plot["labels"]}
    constant = {k: v for k, v in constant.items() if k not in shown and k not in NOT_PLOTTED}
    if constant:
        doc.paragraph("Not plotted, the same at every record: "
                      + ", ".join(f"{k} = {fmt(v, 5)}" for k, v in constant.items()) + ".")  # fmt: skip
    return plots


def _cell(value, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _predictions(run: RunData, doc: Document) -> None:
    found = predictions(run)
    if found is None:
        return
    if "rows" in found:  # no references (e.g. LM samples): the table as logged
        doc.heading("Examples")
        rows = found["rows"]
        doc.paragraph(f"From {found['source']}.")
        if rows:
            columns = list(rows[0])
            doc.table(columns, [[_cell(r.get(c, "")) for c in columns] for r in rows])
        return
    key = found["score"]
    doc.heading("Best and worst predictions")
    doc.paragraph(
        f"From {found['source']}; by {key} ({'lower' if found['lower_is_better'] else 'higher'} is better)."
    )
    columns = [c for c in ("id", "source", "reference", "hypothesis") if c in found["best"][0]]
    for title, rows in (("best", found["best"]), ("worst", found["worst"])):
        if rows:
            doc.paragraph(f"{title.capitalize()} {len(rows)}:")
            doc.table([*columns, key], [[_cell(r.get(c, "")) for c in columns] + [fmt(as_float(r[key]), 4)]
                                        for r in rows])  # fmt: skip


def _audio(run: RunData, doc: Document, out_dir: Path) -> None:
    if not run.audio:
        return
    doc.heading("Audio examples")
    doc.paragraph(
        "Kept on disk for the first validation and the latest two (examples/step-N/).", note=True
    )
    for step, waves in run.audio.items():
        doc.paragraph(f"Validation at step {step}:")
        for wave in waves:
            doc.audio(os.path.relpath(wave, out_dir), f"step {step}: {wave.stem}")


def _configuration(run: RunData, doc: Document) -> None:
    doc.heading("Configuration")
    if run.overrides:
        doc.paragraph("Overrides given on the command line (overrides.txt, resumes included):")
        doc.code("\n".join(run.overrides))
    defaults, reason = experiment_defaults(run.experiment)
    if defaults is None:
        doc.paragraph(f"Not compared with defaults: {reason}.", note=True)
    else:
        diff = diff_configs(defaults, run.config)
        doc.paragraph(["How config.yaml differs from ", Code(f"seqlab train {run.experiment}"),
                       f" without overrides ({len(diff)} keys):"])  # fmt: skip
        if diff:
            doc.table(["key", "default", "this run"],
                      [[k, _cell(format_value(a), 80), _cell(format_value(b), 80)] for k, a, b in diff])  # fmt: skip
    doc.paragraph("The resolved config.yaml:")
    doc.code(yaml.safe_dump(run.config, sort_keys=False))


def _parameters(counts: dict | None) -> str:
    """``model 4,084,285`` per model (``, 12 trainable`` where some are frozen); ``-`` for runs
    from before the count was logged."""
    if not counts:
        return "-"
    parts = []
    for name, n in counts.items():
        frozen = n["trainable"] != n["total"]
        parts.append(
            f"{name} {n['total']:,}" + (f" ({n['trainable']:,} trainable)" if frozen else "")
        )
    return ", ".join(parts)


def _environment(run: RunData, doc: Document) -> None:
    env, trainer = run.env, run.config.get("trainer") or {}
    start = next((e for e in run.events if e.get("event") == "start"), {})
    rows = [
        ["platform", env.get("platform", "-")],
        ["GPUs", ", ".join(env.get("gpus") or []) or "none"],
        ["CUDA", env.get("cuda") or "-"],
        ["processes (world size)", start.get("world_size", "-")],
        ["parameters", _parameters(start.get("parameters"))],
        ["CPU threads (torch)", start.get("threads", "-")],
        ["device / precision", f"{trainer.get('device', '-')} / {trainer.get('precision', '-')}"],
    ]
    rows += [[name, env.get(name, "-")] for name in ("python", "torch", "accelerate", "seqlab")]
    commit = env.get("git_commit")
    rows.append(["git commit", f"{commit}{' (with uncommitted changes)' if env.get('git_dirty') else ''}"
                 if commit else "-"])  # fmt: skip
    rows.append(["training time", _duration(run.training_seconds)])
    if trainer.get("max_seconds"):  # engine/time_budget.py: the plan is logged once per run
        plans = [e for e in run.events if e.get("event") == "time_budget"]
        plan = f"; {plans[-1]['planned_steps']:,} steps planned" if plans else ""
        rows.append(["time budget", f"{float(trainer['max_seconds']):g} s{plan}"])
    for key, value in throughput(run).items():
        rows.append(
            [f"throughput {key}", f"median {fmt(value['median'], 4)}, last {fmt(value['last'], 4)}"]
        )
    doc.heading("Hardware, versions, time")
    doc.table(
        ["", ""],
        rows,
        note="Throughput excludes validation and checkpointing (engine/progress.py).",
    )


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> dict:
    """Write the report of one run.

    Args:
        run_dir: the run directory (finished or in progress).
        out_dir: where report.md, report.html and plots/ go (default: the run directory).

    Returns:
        ``{"markdown": path, "html": path, "plots": [plot descriptions], "table": rows,
        "status": text}``.
    """
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path
    out.mkdir(parents=True, exist_ok=True)
    doc = Document(f"{run.experiment} / {run.name}", out)
    if not run.finished:
        doc.paragraph("This run is in progress (or was stopped before its end): the report shows "
                      "what it has recorded so far.")  # fmt: skip
    _summary(run, doc)
    rows = _progress(run, doc)
    _test_results(run, doc)
    plots = _plots(run, doc, out)
    _predictions(run, doc)
    _audio(run, doc, out)
    _environment(run, doc)
    _configuration(run, doc)
    markdown, page = doc.write("report")
    return {"markdown": markdown, "html": page, "plots": plots, "table": rows, "status": run.status}
