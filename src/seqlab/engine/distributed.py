"""Several processes (one or many machines): what the engine asks of Accelerate and torch.distributed.

torchrun (or ``accelerate launch``, or Slurm's srun around torchrun) starts the processes and sets
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; Accelerate reads them and makes the
process group. Global rank 0 writes the run directory (so on several machines ``trainer.runs_root``
must be on storage every machine sees, as it must for ``trainer.resume_from``); every rank reads
its data and the resumed checkpoint.

``cfg.trainer`` keys read here:
    dist_timeout_s [null]: seconds a collective (a gradient all-reduce, the barrier after a
        checkpoint) waits for the other processes before this one fails with an error; null keeps
        torch's default (30 minutes for gloo, 10 for NCCL). A peer that crashed is noticed at once
        (its connections close); this bounds the wait for one that hangs. Keep it above the longest
        checkpoint save and validation of rank 0, which the others wait for.
"""

from __future__ import annotations

import atexit
from datetime import timedelta

import torch
from accelerate.utils import InitProcessGroupKwargs
from omegaconf import DictConfig

_EXIT_HOOK = {"registered": False}


def accelerator_kwargs(tcfg: DictConfig) -> dict:
    """The ``Accelerator(...)`` keyword arguments that ``cfg.trainer`` asks for (process group timeout)."""
    timeout = tcfg.get("dist_timeout_s")
    if timeout is None:
        return {}
    if float(timeout) <= 0:
        raise ValueError(f"trainer.dist_timeout_s is {timeout}; give seconds > 0, or null")
    return {"kwargs_handlers": [InitProcessGroupKwargs(timeout=timedelta(seconds=float(timeout)))]}


def end_training(accelerator) -> None:
    """End a run's use of the process group.

    One process: nothing to keep. Several (torchrun): the group stays up for the next ``fit()`` of
    this process (a sweep or a notebook under torchrun): a group made again in the same process would
    wait forever on the keys the first one left in torchrun's store. It ends when the process does.
    """
    if accelerator.num_processes == 1:
        accelerator.end_training()
        return
    for tracker in accelerator.trackers:
        tracker.finish()
    if not _EXIT_HOOK["registered"]:
        _EXIT_HOOK["registered"] = True
        atexit.register(_destroy_process_group)


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
