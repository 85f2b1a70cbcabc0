"""``seqlab eval``: score a checkpoint on a data split and write eval.json (corpus metrics + per-item rows)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import torch

from seqlab.config import ConfigError
from seqlab.inference import load_task


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


SPLITS = ("train", "val", "test")


def _check_split(task, split: str) -> None:
    """A ``ConfigError`` naming the splits there are, instead of OmegaConf's traceback, for a split
    the checkpoint's data config does not have (``--split test2016``: a set is chosen by pointing
    ``data.test`` at it)."""
    data = task.cfg.get("data") or {}
    if split in SPLITS and data.get(split) is not None:
        return
    have = ", ".join(s for s in SPLITS if data.get(s) is not None) or "none"
    raise ConfigError(
        f"--split {split}: the data config has the splits {have}; --split takes one of these. "
        f"To score another set, point a split at it, e.g. data.test={split} (a subset or file "
        "under data.root) or data.test=/path/to/it, and keep --split test"
    )


def forward_split(task, report_dir, split, device, num_workers) -> list[dict]:
    """``validation_step`` outputs of every batch of ``split`` with the task's current decoding
    (:meth:`~seqlab.engine.task.EvaluableTask.use_decoding`); items left out of the split are
    listed in ``report_dir/bad_items.jsonl``."""
    _check_split(task, split)
    dev = torch.device(device)
    for module in task.models().values():
        module.to(dev).eval()
    spec = task.test_data(0, 1, Path(report_dir), split=split)
    loader = spec.loader(num_workers)
    with torch.no_grad():
        return [task.validation_step(_to_device(batch, dev)) for batch in loader]


def _decode_side_by_side(
    task, outputs: list[dict], options: list, extra: list[dict] = (), forward_seconds: float = 0.0
) -> tuple[list[dict], list[dict]]:
    """Decode the kept outputs with each decoding option; the last one's predictions are returned.
    ``extra`` outputs (left-out items scored as errors) count in every option's scores. Each row
    has the decoding speed alone and end to end (``forward_seconds``, the model's pass over the
    split with the first option, plus this decoding)."""
    n_items = sum(len(o.get("ids", [])) for o in outputs)
    rows, final = [], outputs
    for option in options:
        task.use_decoding(option, redecodable=True)  # builds its decoder (an LM loads here)
        t0 = time.perf_counter()
        final = task.redecode(outputs, option)
        seconds = time.perf_counter() - t0
        metrics = task.validation_end([*final, *extra])
        rows.append(
            {
                "decoder": option.name,
                "config": option.config,
                **{key: metrics.get(key) for key in option.scores},
                "seconds": round(seconds, 3),
                "utterances_per_second": round(n_items / max(seconds, 1e-9), 1),
                "end_to_end_utterances_per_second": round(
                    n_items / max(forward_seconds + seconds, 1e-9), 1
                ),
            }
        )
    return final, rows


def _as_list(value) -> list:
    from omegaconf import ListConfig

    return list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory owning a checkpoint (``run/checkpoints/<tag>``), else the checkpoint dir itself."""
    checkpoint = Path(checkpoint)
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent
    return checkpoint


def output_dir_of(checkpoint: Path) -> Path:
    """Where results about a checkpoint go by default: its run directory, or the current
    directory for a checkpoint outside a run (a copied ``best/``): never the checkpoint itself,
    which may be shared, read-only or someone else's."""
    checkpoint = Path(checkpoint)
    run = checkpoint.parent.parent
    if checkpoint.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return Path.cwd()


@torch.no_grad()
def evaluate(
    checkpoint: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    split: str = "test",
    out: str | Path | None = None,
    device: str = "cpu",
    num_workers: int = 1,
    exclude_left_out: bool = False,
) -> dict:
    """Evaluate ``checkpoint`` on ``data.<split>`` and write the result as JSON.

    Every reference item is scored: one the data layer left out (missing or undecodable audio,
    an empty source sentence...) counts as an empty hypothesis, i.e. all errors, unless
    ``exclude_left_out``. ``result["left_out"]`` says how many, why, and how they were scored;
    they are listed in ``bad_items.jsonl`` next to the output file.

    Args:
        checkpoint: checkpoint or run directory.
        overrides: Hydra-grammar overrides of the saved config (``data=librispeech data.root=DIR``).
        split: the data key to evaluate (``test``, ``val`` or ``train``).
        out: output file; default ``<run>/eval.json`` (``./eval.json`` for a checkpoint outside
            a run directory).
        device: ``cpu`` or ``cuda``.
        num_workers: DataLoader workers reading audio.
        exclude_left_out: score only the items that were read (the left-out ones are still
            counted and listed).

    Returns:
        The written dict: ``{"checkpoint", "split", "subsets", "metrics", "n_items", "utterances": [...]}``.
    """
    start = time.perf_counter()
    task, ckpt = load_task(checkpoint, overrides)
    options = task.decoding_options()
    # one forward pass: with the first (cheapest) option, keeping what redecode needs for the
    # others; a task without options decodes its evaluation way (translation: beam search)
    task.use_decoding(options[0] if options else None, redecodable=bool(options))
    out_path = Path(out) if out is not None else output_dir_of(ckpt) / "eval.json"
    loaded = time.perf_counter()
    outputs = forward_split(task, out_path.parent, split, device, num_workers)
    forward_seconds = time.perf_counter() - loaded  # data + model (no loading of the checkpoint)
    left_out = task.left_out(split)
    scorable = [item for item in left_out if item.get("reference")]
    extra = [task.left_out_output(scorable)] if scorable and not exclude_left_out else []
    decoders = []
    if options:
        outputs, decoders = _decode_side_by_side(task, outputs, options, extra, forward_seconds)
    outputs = [*outputs, *extra]
    metrics = task.validation_end(outputs)
    result = {
        "checkpoint": str(ckpt),
        "split": split,
        "data_root": str(task.cfg.data.root),
        "subsets": _as_list(task.cfg.data[split]),
        "overrides": list(overrides),
        "metrics": metrics,
        "n_items": sum(len(o.get("ids", [])) for o in outputs),
        "seconds": round(time.perf_counter() - start, 2),
        "load_seconds": round(loaded - start, 2),
        "forward_seconds": round(forward_seconds, 2),
        "decoders": decoders,
        "left_out": {
            "count": len(left_out),
            "reasons": dict(Counter(item["reason"] for item in left_out)),
            # "errors": scored as empty hypotheses; "excluded": not scored (exclude_left_out)
            "scored_as": "excluded" if exclude_left_out else "errors",
            "scored": 0 if exclude_left_out else len(scorable),  # the rest have no reference
            "list": str(out_path.parent / "bad_items.jsonl") if left_out else None,
        },
        **task.eval_info(),
        "utterances": task.eval_rows(outputs),
    }
    write_json_atomic(out_path, result)
    result["path"] = str(out_path)
    return result


def write_json_atomic(path: Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    tmp.replace(path)
