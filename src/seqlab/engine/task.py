"""What the engine needs from a task: the ``Task`` protocol and the ``DataSpec`` of a split.

A task (``seqlab/tasks/*.py``) builds its model(s) and data from the config and says how a
batch becomes losses, predictions and metrics; the engine owns everything else (devices,
precision, accumulation, optimizers, validation schedule, checkpoints, logging). The caller
builds it with ``hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)``.

Convention for several processes (DDP): each name in ``models()`` is also the attribute that
holds the module (``{"model": self.model}``). The engine replaces that attribute with the
prepared (DDP-wrapped) module, so ``self.model(x)`` in ``training_step`` syncs gradients. To
reach the raw module's own methods or attributes under DDP, use
``accelerate.utils.extract_model_from_parallel(self.model)``. Optional methods:
``examples(outputs) -> {"text": {name: rows}, "audio": {name: (wave, sr)}}`` for the writers and
``save_artifacts(directory)`` for extra files a checkpoint needs (e.g. a vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from omegaconf import DictConfig
from torch import nn


@dataclass
class DataSpec:
    """One split's data as the engine loads it.

    Attributes:
        dataset: map-style dataset; ``dataset[i]`` is one item.
        batch_sampler: yields lists of indices for THIS rank; has ``set_epoch(int)``,
            ``set_start_batch(int)`` (skip that many batches of the epoch: exact mid-epoch
            resume) and ``__len__`` (batches per epoch on this rank, equal on every rank).
        collate_fn: list of items -> batch dict (tensors + plain lists).
    """

    dataset: torch.utils.data.Dataset
    batch_sampler: Any
    collate_fn: Callable


@runtime_checkable
class Task(Protocol):
    """The glue between a batch and the engine (see module docstring)."""

    cfg: DictConfig

    def models(self) -> dict[str, nn.Module]:
        """Named modules built in ``__init__``, e.g. ``{"model": m}``; saved as <name>.safetensors."""

    def optimizer_params(self, name: str) -> Iterable:
        """Parameters (or param groups) for the optimizer called ``name`` ("main" by default)."""

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Training data sharded for ``rank`` of ``world_size``; bad items go to run_dir."""

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Validation data sharded for ``rank`` of ``world_size``."""

    def training_step(self, batch: dict) -> dict | Iterator[tuple[str, dict]]:
        """One micro-batch. Returns ``{"loss": 0-dim tensor (mean over this micro-batch's
        units), "n_units": weight of this micro-batch (e.g. target tokens; default 1),
        other scalars to log}``; GAN-style tasks yield ``(optimizer_name, {"loss": ...})`` and
        the engine steps that optimizer before asking for the next item."""

    def validation_step(self, batch: dict) -> dict:
        """Scalars and picklable predictions of one validation batch (gathered from all ranks)."""

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Corpus metrics from all validation outputs, e.g. ``{"wer": 0.31, "loss": 1.2}``."""


def give_prepared_models(task, models: dict[str, nn.Module], prepared: list[nn.Module]) -> dict:
    """Swap Accelerate's prepared modules into the task (see module docstring).

    On one process ``prepare`` returns the same objects and nothing changes; under DDP the
    wrapper must be what the task calls, or gradients would not be synced.

    Returns:
        name -> prepared module.
    """
    prepared_models = dict(zip(models, prepared, strict=True))
    for name, wrapped in prepared_models.items():
        if wrapped is models[name]:
            continue
        if getattr(task, name, None) is not models[name]:
            raise AttributeError(
                f"task.models() has a model '{name}' but task.{name} is not that module; the "
                f"engine swaps the DDP-wrapped module into task.{name}, so store it there"
            )
        setattr(task, name, wrapped)
    return prepared_models
