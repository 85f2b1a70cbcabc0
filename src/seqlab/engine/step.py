"""One optimizer step, made exact: gradient accumulation weighted by ``n_units``, DDP gradient
sync only on the last micro-batch, then per named optimizer unscale, clip, step, scheduler.
Non-finite losses or grad norms skip the update on every rank.

Why weights: a micro-batch's loss is a mean over its units (tokens, frames, items); the window's
loss must be the mean over ALL its units, whatever the split into micro-batches and ranks. The
total is only known once every micro-batch has run, so each backward uses ``loss * n_units``
and the grads are multiplied by ``world_size / total_units`` at the end (torchtune's way; DDP
has already averaged over ranks, hence the ``world_size``).
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch

SKIPPED_KEYS = ("loss", "n_units", "n_seconds")  # step-dict keys that are not logged as is


def to_device(batch: dict, device: torch.device) -> dict:
    """Move the tensors of a batch dict to ``device``; lists (texts, paths, ids) stay."""
    return {
        k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
    }


@dataclass
class StepResult:
    """What one optimizer step did.

    Attributes:
        ok: False when the update was skipped (non-finite loss or grad norm).
        logs: loss (weighted mean over all ranks' units), grad_norm/<optimizer>, other scalars
            of the task's step dict (weighted mean over this rank's micro-batches).
        units: total units over all ranks, or None when the task gave no ``n_units``.
        seconds: audio seconds (``n_seconds``) over all ranks, or None.
        fp16_skipped: optimizer steps the fp16 grad scaler skipped (overflow).
    """

    ok: bool = True
    logs: dict = field(default_factory=dict)
    units: float | None = None
    seconds: float | None = None
    fp16_skipped: int = 0


class OptimizerStep:
    """Turns a window of micro-batches into one update of every named optimizer.

    Args:
        accelerator: the run's Accelerator.
        task: calls ``task.training_step(batch)``.
        models: name -> prepared (maybe DDP-wrapped) module, for ``no_sync``.
        optimizers: name -> NamedOptimizer (prepared optimizer + clip_grad_norm).
        schedulers: name -> NamedScheduler; those with interval "step" step here.
    """

    def __init__(self, accelerator, task, models: dict, optimizers: dict, schedulers: dict):
        self.accelerator, self.task = accelerator, task
        self.models, self.optimizers, self.schedulers = models, optimizers, schedulers
        self.world_size = accelerator.num_processes

    def __call__(self, window: list[dict], grad_accum_steps: int) -> StepResult:
        """Backward every micro-batch of the window (grads synced only on the last), then step.

        Args:
            window: CPU batch dicts; each moves to the device only for its own forward.
            grad_accum_steps: the configured window size (the last window of an epoch may be
                shorter).
        """
        names = list(self.optimizers)
        self._zero_grad(names)
        local, extras = torch.zeros(3, dtype=torch.float64), defaultdict(float)
        for i, batch in enumerate(window):
            with contextlib.ExitStack() as stack:
                if i < len(window) - 1:  # DDP all-reduces only on the window's last backward
                    for model in self.models.values():
                        stack.enter_context(self.accelerator.no_sync(model))
                with self.accelerator.autocast():
                    out = self.task.training_step(to_device(batch, self.accelerator.device))
                if not isinstance(out, dict):  # a generator of (optimizer name, outputs)
                    if len(window) > 1 and self.world_size > 1:
                        raise ValueError(
                            "a training_step that yields (several optimizers) accumulates "
                            "micro-batches in one process only; under DDP use "
                            "trainer.grad_accum_steps=1 (and a larger per-process batch)"
                        )
                    device = self.accelerator.device
                    rest = [self.task.training_step(to_device(b, device)) for b in window[1:]]
                    return self._step_each_yielded([out, *rest])
                self._backward(out, local, extras)
        return self._finish(local, extras, names)

    def _step_each_yielded(self, streams: list) -> StepResult:
        """Several optimizers (GANs): every micro-batch's ``training_step`` generator yields
        (name, outputs) in the same order. Per name, each micro-batch's loss is backpropagated
        (weighted by ``n_units`` as usual), then that optimizer steps before any generator runs
        on, so the generator loss sees the updated discriminator. With accumulation, every
        micro-batch's graph stays alive until its last yield."""
        total = StepResult()
        while True:
            name, local, extras = None, torch.zeros(3, dtype=torch.float64), defaultdict(float)
            for i, stream in enumerate(streams):
                with self.accelerator.autocast():  # the task's code between yields runs here
                    item = next(stream, None)
                item_name = None if item is None else item[0]
                if i == 0:
                    name = item_name
                    if name is not None:
                        self._zero_grad([name])
                elif item_name != name:
                    raise ValueError(
                        f"micro-batch {i} of the window yielded {item_name!r} where micro-batch 0 "
                        f"yielded {name!r}: every training_step must yield the same optimizers "
                        "in the same order"
                    )
                if item is not None:
                    self._backward(item[1], local, extras)
            if name is None:
                return total
            result = self._finish(local, extras, [name])
            total.ok = total.ok and result.ok
            total.fp16_skipped += result.fp16_skipped
            total.units, total.seconds = result.units, result.seconds
            for key, value in result.logs.items():
                total.logs[key if key.startswith("grad_norm/") else f"{key}/{name}"] = value

    def _backward(self, out: dict, local: torch.Tensor, extras: dict) -> None:
        """Backward ``loss * n_units``; add (units, loss * units, non-finite) to ``local``."""
        loss, units = out["loss"], float(out.get("n_units", 1.0))
        self.accelerator.backward(loss * units)
        value = loss.detach().float().item()
        local += torch.tensor(
            [units, value * units, float(not math.isfinite(value))], dtype=torch.float64
        )
        for key, scalar in out.items():
            if torch.is_tensor(scalar) and scalar.dim() == 0:
                scalar = scalar.detach().item()
            if key not in SKIPPED_KEYS and isinstance(scalar, (int, float)):
                extras[key] += float(scalar) * units
        if "n_units" in out:
            extras["_has_units"] = 1.0
        if "n_seconds" in out:
            extras["_seconds"] += float(out["n_seconds"])

    def _finish(self, local: torch.Tensor, extras: dict, names: list[str]) -> StepResult:
        """Normalise grads by the global units, then unscale, clip and step each optimizer."""
        # One all-reduce for the units, the loss and the non-finite flag of every rank.
        reduced = self.accelerator.reduce(local.to(self.accelerator.device), "sum")
        units, loss_sum, nonfinite = reduced.tolist()
        result = StepResult(logs={"loss": loss_sum / units})
        result.logs.update(
            {k: v / float(local[0]) for k, v in extras.items() if not k.startswith("_")}
        )
        result.units = units if "_has_units" in extras else None
        result.seconds = extras["_seconds"] * self.world_size if "_seconds" in extras else None
        if nonfinite > 0:  # some rank had a non-finite loss: nobody steps
            self._zero_grad(names)
            result.ok = False
            return result
        for name in names:
            factor = self.world_size / units
            for param in self._params_with_grad(name):
                param.grad.mul_(factor)
            finite, result.logs[f"grad_norm/{name}"], skipped = self._step_optimizer(name)
            result.ok = result.ok and finite
            result.fp16_skipped += skipped
        return result

    def _params_with_grad(self, name: str) -> list:
        groups = self.optimizers[name].optimizer.param_groups
        return [p for group in groups for p in group["params"] if p.grad is not None]

    def _zero_grad(self, names: list[str]) -> None:
        for name in names:
            self.optimizers[name].optimizer.zero_grad(set_to_none=True)

    def _step_optimizer(self, name: str) -> tuple[bool, float, int]:
        """Unscale, clip, step, zero grads, step-interval schedulers.

        Returns:
            (grad norm finite, grad norm before clipping, 1 if the fp16 scaler skipped else 0).
        """
        named, params = self.optimizers[name], self._params_with_grad(name)
        # Unscale this optimizer only: accelerator.clip_grad_norm_ would unscale all of them.
        self.accelerator.unscale_gradients(named.optimizer)
        if named.clip_grad_norm:
            norm = _whole(torch.nn.utils.clip_grad_norm_(params, named.clip_grad_norm))
        else:
            norm = (
                _whole(torch.nn.utils.get_total_norm([p.grad for p in params])) if params else 0.0
            )
        has_scaler = self.accelerator.scaler is not None  # fp16 on a GPU
        if not math.isfinite(norm) and not has_scaler:  # else the scaler skips and backs off
            self._zero_grad([name])
            return False, norm, 0
        named.optimizer.step()
        self._zero_grad([name])
        if named.optimizer.step_was_skipped:  # fp16 overflow: the lr schedule waits too
            return True, norm, 1
        for sched in self.schedulers.values():
            # those that follow a time budget are moved by the trainer (engine/time_budget.py)
            if sched.name == name and sched.interval == "step" and not sched.follows_budget:
                sched.scheduler.step()
        return True, norm, 0


def _whole(norm) -> float:
    """A gradient norm as a float; under FSDP it is a DTensor that every rank must resolve."""
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
