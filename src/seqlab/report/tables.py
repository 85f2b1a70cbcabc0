"""The numbers of a run report: the per-epoch (or per-validation) table, best and worst
predictions, throughput. Plain data here; :mod:`seqlab.report.run_report` lays them out."""

from __future__ import annotations

import math
import statistics

from seqlab.report.run_data import RunData, as_float, eval_step

TRAIN_MEAN_NOTE = (
    "train_* columns: the mean of the training records logged in that {unit} "
    "(one every trainer.log_every_n_steps steps); val_* columns: the validation at its end; "
    "test_* columns: eval*.json files of the checkpoint saved at that step."
)


def _loss_keys(run: RunData) -> list[str]:
    return [k for k in run.keys("train") if k == "loss" or k.startswith("loss/")]


def _val_keys(run: RunData) -> list[str]:
    return [k for k in run.keys("val") if k != "val_averaged"]


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def progress_table(run: RunData) -> tuple[list[dict], str, str]:
    """One row per epoch (runs validated per epoch) or per validation (validated every N steps).

    Returns:
        ``(rows, unit, note)``: rows are dicts ``{"epoch" or "validation", "step", "train_<loss>",
        "val_<metric>"..., "test_<metric>"...}`` with float values (NaN where not measured);
        ``unit`` is "epoch" or "validation"; ``note`` says how the columns were computed.
    """
    trainer = run.config.get("trainer") or {}
    per_epoch = not trainer.get("val_every_n_steps")
    loss_keys, val_keys = _loss_keys(run), _val_keys(run)
    train, val = run.train, run.val
    rows: list[dict] = []
    if per_epoch:
        groups: dict[int, list[dict]] = {}
        for record in train:
            epoch = as_float(record.get("epoch"))
            index = max(1, math.ceil(epoch - 1e-9)) if math.isfinite(epoch) else 1
            groups.setdefault(index, []).append(record)
        val_by_epoch: dict[int, dict] = {}
        epochs = run.epoch_of_steps([int(r["step"]) for r in val])
        for record, epoch in zip(val, epochs, strict=True):
            index = 0 if int(record["step"]) == 0 else max(1, math.ceil(epoch - 1e-6))
            val_by_epoch[index] = record  # the last validation in the epoch
        for index in sorted(set(groups) | set(val_by_epoch)):
            records = groups.get(index, [])
            row = {"epoch": index}
            steps = [int(r["step"]) for r in records]
            if index in val_by_epoch:
                steps.append(int(val_by_epoch[index]["step"]))
            row["step"] = max(steps) if steps else 0
            reached = run.epoch_of_steps([row["step"]])[0] if index else 0.0
            if math.isfinite(reached) and index - reached > 1e-3:  # stopped inside the epoch
                row["epoch"] = round(reached, 3)
            for key in loss_keys:
                row[f"train_{key}"] = _mean([as_float(r[key]) for r in records if key in r])
            for key in val_keys:
                row[key] = as_float(val_by_epoch.get(index, {}).get(key))
            rows.append(row)
    else:
        previous = -1
        for number, record in enumerate(val, start=1):
            step = int(record["step"])
            window = [r for r in train if previous < int(r["step"]) <= step]
            row = {"validation": number, "step": step}
            row["epoch"] = run.epoch_of_steps([step])[0]
            for key in loss_keys:
                row[f"train_{key}"] = _mean([as_float(r[key]) for r in window if key in r])
            for key in val_keys:
                row[key] = as_float(record.get(key))
            rows.append(row)
            previous = step
    _add_test_columns(run, rows)
    unit = "epoch" if per_epoch else "validation"
    return rows, unit, TRAIN_MEAN_NOTE.format(unit="epoch" if per_epoch else "validation interval")


def _add_test_columns(run: RunData, rows: list[dict]) -> None:
    """test_<metric> from eval files of the test split, in the row of the checkpoint's step."""
    for name, result in run.evals.items():
        if result.get("split") != "test":
            continue
        step = eval_step(result)
        prefix = "test_" if name == "eval" else f"{name}_"
        target = next((r for r in rows if r["step"] == step), None)
        if target is None:
            continue  # a checkpoint outside the table (e.g. averaged): listed under Test results
        for key, value in result["metrics"].items():
            if isinstance(value, (int, float)):
                target[f"{prefix}{key}"] = float(value)
    columns = {k for r in rows for k in r}
    for row in rows:
        for key in columns:
            row.setdefault(key, math.nan)


def table_columns(rows: list[dict], unit: str) -> list[str]:
    """Column order: epoch/validation, step, train_*, val_*, test_* and other eval columns."""
    first = ["validation", "epoch", "step"] if unit == "validation" else ["epoch", "step"]
    present = {k for r in rows for k in r}
    rest = sorted(present - set(first), key=lambda k: (
        0 if k.startswith("train_") else 1 if k.startswith("val_") else 2, k))  # fmt: skip
    return [c for c in first if c in present] + rest


def _score_rows(rows: list[dict]) -> tuple[str, bool] | None:
    """Which per-row score a prediction table carries: ("wer", lower is better) etc."""
    if not rows or "reference" not in rows[0] or "hypothesis" not in rows[0]:
        return None
    for key, lower in (("wer", True), ("bleu", False), ("cer", True), ("chrf", False)):
        if key in rows[0]:
            return key, lower
    return None


def _scored_examples(rows: list[dict]) -> tuple[list[dict], str, bool] | None:
    """Validation example rows with reference/hypothesis, scored per row: sentence BLEU when
    they have a source (translation), else WER (speech recognition)."""
    if not rows or "reference" not in rows[0] or "hypothesis" not in rows[0]:
        return None
    refs = [str(r["reference"]) for r in rows]
    hyps = [str(r["hypothesis"]) for r in rows]
    if "source" in rows[0]:
        import sacrebleu

        scores = [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
        return [{**r, "bleu": s} for r, s in zip(rows, scores, strict=True)], "bleu", False
    from seqlab.metrics.asr import utterance_scores

    scores = utterance_scores(refs, hyps)
    return [{**r, "wer": s["wer"]} for r, s in zip(rows, scores, strict=True)], "wer", True


def predictions(run: RunData, n: int = 5) -> dict | None:
    """Best and worst predictions with their references.

    From an eval file's per-item rows when there is one (per-utterance WER, sentence BLEU), else
    from the last validation's example table (scored here).

    Returns:
        ``{"source": text, "score": key, "lower_is_better", "best": rows, "worst": rows}``;
        ``{"source", "rows"}`` (no score) for example tables without references (LM samples);
        None when the run saved no examples.
    """
    for name in sorted(run.evals, key=lambda k: (k != "eval", k)):
        result = run.evals[name]
        rows = result.get("utterances") or []
        kind = _score_rows(rows)
        if kind:
            key, lower = kind
            step = eval_step(result)
            where = f"{name}.json, {result.get('split')} split" + (f", step {step}" if step else "")
            return _best_worst(rows, key, lower, n, where)
    if not run.examples:
        return None
    last_step = run.examples[-1]["step"]
    for record in (r for r in run.examples if r["step"] == last_step):
        scored = _scored_examples(record["rows"])
        where = f"the '{record['name']}' examples of the validation at step {last_step}"
        if scored:
            rows, key, lower = scored
            return _best_worst(rows, key, lower, n, where + f" ({key} computed per row here)")
    record = run.examples[-1]
    return {"source": f"the '{record['name']}' examples of the validation at step {last_step}",
            "rows": record["rows"]}  # fmt: skip


def _best_worst(rows: list[dict], key: str, lower: bool, n: int, source: str) -> dict:
    ordered = sorted(rows, key=lambda r: as_float(r.get(key)) * (1 if lower else -1))
    n = min(n, max(1, len(ordered) // 2)) if len(ordered) > 1 else len(ordered)
    return {
        "source": source,
        "score": key,
        "lower_is_better": lower,
        "best": ordered[:n],
        "worst": list(reversed(ordered[-n:])) if len(ordered) > 1 else [],
    }


def throughput(run: RunData) -> dict[str, dict[str, float]]:
    """``{key: {"median", "last"}}`` for every logged ``*_per_s`` training scalar."""
    out = {}
    for key in (k for k in run.keys("train") if k.endswith("_per_s")):
        _, values = run.series(key, "train")
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out[key] = {"median": statistics.median(finite), "last": finite[-1]}
    return out


def fmt(value, digits: int = 4) -> str:
    """A table cell: ints as ints, floats with ``digits`` significant digits, NaN as "-"."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.{digits}g}"
    return str(value)
