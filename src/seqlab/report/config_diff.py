"""How configs differ: a run's config against its experiment's defaults, and runs against each
other (the labels of a comparison name what differs, never a run id)."""

from __future__ import annotations

import json
import warnings

from seqlab.report.run_data import RunData, parse_overrides

# Keys that say where a run lives or how it was started, not what it trained: never a label.
BOOKKEEPING_KEYS = (
    "trainer.run_name",
    "trainer.runs_root",
    "trainer.resume_from",
    "trainer.progress",
    "trainer.num_workers",
)

MISSING = "(absent)"


def flatten(config, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": [1, 2]}`` (lists stay values)."""
    if not isinstance(config, dict):
        return {prefix: config}
    if not config and prefix:
        return {prefix: {}}
    out: dict[str, object] = {}
    for key, value in config.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def format_value(value) -> str:
    """A config value as an override would write it (``null``, ``true``, ``[1, 2]``, ``0.001``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def diff_configs(base: dict, other: dict) -> list[tuple[str, object, object]]:
    """Keys whose values differ: ``[(key, base value or MISSING, other value or MISSING)]``,
    sorted by key."""
    a, b = flatten(base), flatten(other)
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, MISSING), b.get(key, MISSING)
        if va != vb:
            rows.append((key, va, vb))
    return rows


def experiment_defaults(experiment: str) -> tuple[dict | None, str]:
    """The shipped experiment's config without overrides, or ``(None, reason)`` when there is
    no such experiment (e.g. a run made from a config file)."""
    from omegaconf import OmegaConf

    from seqlab.config import ConfigError, compose_experiment

    try:
        cfg = compose_experiment(experiment, [])
    except ConfigError:
        return (
            None,
            f"no shipped experiment named '{experiment}' (the run's config is shown in full)",
        )
    return OmegaConf.to_container(cfg, resolve=True), ""


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _labels_from_overrides(runs: list[RunData]) -> list[str] | None:
    """Labels from the overrides that are not the same in every run, in the order typed."""
    per_run = []
    for run in runs:
        kept = [
            o for o in parse_overrides(run.overrides) if _override_key(o) not in BOOKKEEPING_KEYS
        ]
        per_run.append(kept)
    common = set.intersection(*(set(o) for o in per_run)) if per_run else set()
    keys_in_any = {_override_key(o) for overrides in per_run for o in overrides if o not in common}
    labels = []
    for overrides in per_run:
        shown = [o for o in overrides if _override_key(o) in keys_in_any]
        present = {_override_key(o) for o in shown}
        shown += [f"{k}=(default)" for k in sorted(keys_in_any - present)]
        labels.append(", ".join(shown))
    if not all(labels) or len(set(labels)) != len(labels):
        return None
    return labels


def _labels_from_configs(runs: list[RunData], max_keys: int) -> list[str] | None:
    """Labels from the resolved configs' keys whose values differ between runs."""
    flat = [flatten(run.config) for run in runs]
    keys = sorted(
        k
        for k in set().union(*flat)
        if k not in BOOKKEEPING_KEYS
        and len({json.dumps(f.get(k, MISSING), default=str) for f in flat}) > 1
    )
    if not keys:
        return None
    labels = []
    for f in flat:
        parts = [f"{k}={format_value(f.get(k, MISSING))}" for k in keys[:max_keys]]
        if len(keys) > max_keys:
            parts.append(f"+{len(keys) - max_keys} more keys")
        labels.append(", ".join(parts))
    return labels if len(set(labels)) == len(labels) else None


def run_labels(runs: list[RunData], max_keys: int = 4) -> tuple[list[str], str]:
    """A legend label per run naming what differs between the runs.

    First the command-line overrides that differ (``model.n_heads=8``); if those do not tell the
    runs apart (e.g. the same override given in different ways), the resolved configs' differing
    keys; only for identical configs the run names, with a warning.

    Returns:
        ``(labels, how)`` with ``how`` one of "overrides", "config", "run name (identical configs)".
    """
    labels = _labels_from_overrides(runs)
    if labels:
        return labels, "overrides"
    labels = _labels_from_configs(runs, max_keys)
    if labels:
        return labels, "config"
    message = (
        "the runs have identical configs (bookkeeping keys aside): they are labelled by run name"
    )
    warnings.warn(message, stacklevel=2)
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        names = [f"{run.path.parent.name}/{run.name}" for run in runs]
    return names, "run name (identical configs)"
