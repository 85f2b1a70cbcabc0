"""The trainer's side of a checkpoint: the counters (``TrainState``) and everything else a
resume needs (optimizers, schedulers, grad scaler, RNG states of every rank, loader generator),
as one ``state.pt`` dict of tensors and primitives (loaded with ``weights_only=True``)."""

from __future__ import annotations

import dataclasses

import torch

from seqlab.engine.optim import restore_scheduler
from seqlab.engine.rng import restore_rng_state


@dataclasses.dataclass
class TrainState:
    """Counters saved in every checkpoint."""

    step: int = 0  # optimizer steps (windows) done, skipped ones included
    epoch: int = 0  # current epoch, from 0
    batch_in_epoch: int = 0  # micro-batches of this epoch already consumed (sampler position)
    best_metric: float | None = None
    best_step: int | None = None
    validations_without_improvement: int = 0
    last_val_step: int = -1
    nonfinite_steps: int = 0  # windows skipped for a non-finite loss or grad norm
    nonfinite_in_a_row: int = 0
    skipped_steps: int = 0  # optimizer steps the fp16 grad scaler skipped (overflow)
    trained_seconds: float = 0.0  # training wall time of all segments so far (trainer.max_seconds)


def collect_state(
    state: TrainState, optimizers: dict, schedulers: dict, scaler, rng_states: list[dict],
    loader_generator: torch.Generator, optimizer_states: dict | None = None,
) -> dict:  # fmt: skip
    """The ``state.pt`` dict.

    Args:
        state: the counters.
        optimizers: name -> NamedOptimizer; schedulers: name -> NamedScheduler.
        scaler: Accelerate's fp16 GradScaler or None.
        rng_states: :func:`capture_rng_state` of every rank, in rank order.
        loader_generator: the training loader's private generator.
        optimizer_states: name -> the optimizer's state_dict, when the caller gathered it (FSDP).
    """
    if optimizer_states is None:
        optimizer_states = {
            name: named.optimizer.state_dict() for name, named in optimizers.items()
        }
    return {
        "train_state": dataclasses.asdict(state),
        "optimizers": optimizer_states,
        "schedulers": {
            name: {"state": named.scheduler.state_dict(), "auto_values": named.auto_values}
            for name, named in schedulers.items()
        },
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_states,
        "loader_generator": loader_generator.get_state(),
        "world_size": len(rng_states),
    }


def restore_state(
    saved: dict, optimizers: dict, schedulers: dict, scaler, loader_generator: torch.Generator,
    rank: int, world_size: int, load_optimizer=None,
) -> tuple[TrainState, list[str]]:  # fmt: skip
    """Load a ``state.pt`` dict into freshly built optimizers/schedulers/scaler and restore this
    rank's RNG states. Schedulers must have been built before (see :func:`restore_scheduler`).
    ``load_optimizer(raw_optimizer, saved_state)`` loads an optimizer (FSDP: into its shards);
    None: ``load_state_dict``.

    Returns:
        (the counters, notes for the user: rebuilt schedules, a changed number of processes).
    """
    state, notes = TrainState(**saved["train_state"]), []
    for name, named in optimizers.items():
        if load_optimizer is None:
            named.optimizer.load_state_dict(saved["optimizers"][name])
        else:
            load_optimizer(named.optimizer.optimizer, saved["optimizers"][name])
    for name, named in schedulers.items():
        optimizer = optimizers[name].optimizer
        if not restore_scheduler(
            named, saved["schedulers"].get(name), optimizer, state.step, state.epoch
        ):
            notes.append(
                f"NOTE: lr_scheduler '{name}' was rebuilt for the new run length "
                f"{named.auto_values} and fast-forwarded to step {state.step}"
            )
    if saved.get("scaler") and scaler is not None:
        scaler.load_state_dict(saved["scaler"])
    if saved["world_size"] != world_size:
        notes.append(
            f"WARNING: checkpoint saved by {saved['world_size']} processes, resumed with "
            f"{world_size}: the data order and RNG streams differ (not an exact resume)"
        )
    restore_rng_state(saved["rng"][rank % len(saved["rng"])])
    loader_generator.set_state(saved["loader_generator"])
    return state, notes
