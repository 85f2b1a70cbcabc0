"""``seqlab eval``: score a checkpoint on a data split and write eval.json (corpus metrics + per-item rows)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from seqlab.inference import load_task


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory owning a checkpoint (``run/checkpoints/<tag>``), else the checkpoint dir itself."""
    checkpoint = Path(checkpoint)
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent
    return checkpoint


@torch.no_grad()
def evaluate(
    checkpoint: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    split: str = "test",
    out: str | Path | None = None,
    device: str = "cpu",
    num_workers: int = 1,
) -> dict:
    """Evaluate ``checkpoint`` on ``data.<split>`` and write the result as JSON.

    Args:
        checkpoint: checkpoint or run directory.
        overrides: Hydra-grammar overrides of the saved config (``data=librispeech data.root=DIR``).
        split: the data key to evaluate (``test``, ``val`` or ``train``).
        out: output file; default ``<run>/eval.json``.
        device: ``cpu`` or ``cuda``.
        num_workers: DataLoader workers reading audio.

    Returns:
        The written dict: ``{"checkpoint", "split", "subsets", "metrics", "n_items", "utterances": [...]}``.
    """
    task, ckpt = load_task(checkpoint, overrides)
    dev = torch.device(device)
    for module in task.models().values():
        module.to(dev).eval()
    run_dir = run_dir_of(ckpt)
    spec = task.test_data(0, 1, run_dir, split=split)
    loader = DataLoader(
        spec.dataset,
        batch_sampler=spec.batch_sampler,
        collate_fn=spec.collate_fn,
        num_workers=num_workers,
    )
    start = time.perf_counter()
    outputs = [task.validation_step(_to_device(batch, dev)) for batch in loader]
    metrics = task.validation_end(outputs)
    result = {
        "checkpoint": str(ckpt),
        "split": split,
        "data_root": str(task.cfg.data.root),
        "subsets": list(task.cfg.data[split]),
        "overrides": list(overrides),
        "metrics": metrics,
        "n_items": sum(len(o.get("ids", [])) for o in outputs),
        "seconds": round(time.perf_counter() - start, 2),
        "utterances": task.eval_rows(outputs) if hasattr(task, "eval_rows") else [],
    }
    out_path = Path(out) if out is not None else run_dir / "eval.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(out_path)
    result["path"] = str(out_path)
    return result
