"""Several processes (one or many machines): what the engine asks of Accelerate and torch.distributed.

torchrun (or ``accelerate launch``, or Slurm's srun around torchrun) starts the processes and sets
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; Accelerate reads them and makes the
process group. Global rank 0 writes the run directory (so on several machines ``trainer.runs_root``
must be on storage every machine sees, as it must for ``trainer.resume_from``); every rank reads
its data and the resumed checkpoint.

``trainer.strategy: fsdp`` shards parameters, gradients and optimizer state across the ranks with
torch's FSDP2 (``fully_shard``) through Accelerate's ``FullyShardedDataParallelPlugin``, for models
whose weights, gradients and Adam state do not fit one GPU. Checkpoints stay what they are without
it: the full weights gathered to rank 0 as safetensors and the optimizer state in torch's usual
layout, so ``seqlab eval`` loads them in one process and a run can resume with another strategy.

``cfg.trainer`` keys read here:
    find_unused_parameters [null]: DDP looks for parameters a step did not use (needed when a
        model skips layers at random: layer drop); null: as the task says
        (``ddp_find_unused_parameters``; the Hugging Face CTC task: when model.layerdrop > 0).
    strategy [ddp]: ddp (each rank holds the whole model; gradients are all-reduced) | fsdp.
    fsdp: (strategy=fsdp only)
        auto_wrap [transformer]: what is sharded (gathered, computed and freed) as one unit:
            transformer (each layer of the classes ``layer_classes`` names) | size (every
            submodule of at least ``min_num_params`` parameters) | none (the whole model).
        layer_classes [null]: class names for ``auto_wrap=transformer``; null: those the Hugging
            Face model inside lists in ``_no_split_modules`` (e.g. Wav2Vec2BertEncoderLayer).
        min_num_params [100000000]: for ``auto_wrap=size``.
        reshard_after_forward [true]: free gathered parameters after the forward pass (less
            memory; gathered again for the backward pass).
        cpu_offload [false]: keep parameters and optimizer state in CPU memory.
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
from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import DistributedDataParallelKwargs, DistributedType, InitProcessGroupKwargs
from omegaconf import DictConfig
from torch import nn

_EXIT_HOOK = {"registered": False}
STRATEGIES = ("ddp", "fsdp")
AUTO_WRAP = {"transformer": "transformer_based_wrap", "size": "size_based_wrap", "none": "no_wrap"}


def accelerator_kwargs(tcfg: DictConfig, task) -> dict:
    """The ``Accelerator(...)`` keyword arguments that ``cfg.trainer`` asks for: the process group
    timeout, DDP's search for unused parameters and, for ``strategy: fsdp``, the FSDP plugin (see
    the module docstring)."""
    from seqlab.config import ConfigError

    handlers = []
    timeout = tcfg.get("dist_timeout_s")
    if timeout is not None:
        if float(timeout) <= 0:
            raise ConfigError(f"trainer.dist_timeout_s is {timeout}; give seconds > 0, or null")
        handlers.append(InitProcessGroupKwargs(timeout=timedelta(seconds=float(timeout))))
    unused = tcfg.get("find_unused_parameters")
    if unused is None:  # the task knows (e.g. a model with layer drop skips whole layers)
        unused = bool(getattr(task, "ddp_find_unused_parameters", False))
    if unused:
        handlers.append(DistributedDataParallelKwargs(find_unused_parameters=True))
    kwargs = {"kwargs_handlers": handlers} if handlers else {}
    models = dict(task.models())
    strategy = str(tcfg.get("strategy") or "ddp")
    if strategy not in STRATEGIES:
        raise ConfigError(f"trainer.strategy is '{strategy}'; use ddp or fsdp")
    if strategy == "fsdp":
        averaging = (tcfg.get("averaging") or {}).get("type", "none")
        if averaging not in (None, "none"):
            raise ConfigError(
                f"trainer.strategy=fsdp with trainer.averaging.type={averaging}: weight averaging "
                "keeps a full copy of the weights on every rank, which FSDP exists to avoid; set "
                "trainer.averaging.type=none or trainer.strategy=ddp"
            )
        kwargs["fsdp_plugin"] = fsdp_plugin(tcfg.get("fsdp") or {}, models)
    return kwargs


def fsdp_plugin(fcfg, models: dict[str, nn.Module]):
    """Accelerate's FSDP2 plugin for ``cfg.trainer.fsdp``; full state dicts for checkpoints."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    from seqlab.config import ConfigError

    auto_wrap = str(fcfg.get("auto_wrap", "transformer"))
    if auto_wrap not in AUTO_WRAP:
        raise ConfigError(f"trainer.fsdp.auto_wrap is '{auto_wrap}'; use {', '.join(AUTO_WRAP)}")
    options = {
        "fsdp_version": 2,
        "reshard_after_forward": bool(fcfg.get("reshard_after_forward", True)),
        "state_dict_type": "FULL_STATE_DICT",
        "cpu_offload": bool(fcfg.get("cpu_offload", False)),
    }
    if auto_wrap == "transformer":
        names = list(fcfg.get("layer_classes") or layer_classes(models))
        if names:
            options["transformer_cls_names_to_wrap"] = names
        else:  # nothing to shard layer by layer: the whole model is one unit
            auto_wrap = "none"
    elif auto_wrap == "size":
        options["min_num_params"] = int(fcfg.get("min_num_params", 100_000_000))
    return FullyShardedDataParallelPlugin(auto_wrap_policy=AUTO_WRAP[auto_wrap], **options)


def layer_classes(models: dict[str, nn.Module]) -> list[str]:
    """The layer class names Hugging Face models inside ``models`` declare (``_no_split_modules``)
    and that occur in them."""
    present = {type(m).__name__ for model in models.values() for m in model.modules()}
    names = []
    for model in models.values():
        for module in model.modules():
            for name in getattr(module, "_no_split_modules", None) or []:
                if name in present and name not in names:
                    names.append(name)
    return names


def enable_fsdp_on_cpu(accelerator, plugin) -> None:
    """Accelerate turns its FSDP plugin on for GPUs (and other accelerators) only: on CPU processes
    it would silently train with DDP. torch's FSDP2 runs on CPUs with gloo (what the tests use), so
    the engine sets the distributed type itself there."""
    state = AcceleratorState()
    if plugin is None or accelerator.distributed_type != DistributedType.MULTI_CPU:
        return
    PartialState().distributed_type = DistributedType.FSDP
    state.__dict__["distributed_type"] = DistributedType.FSDP
    state.fsdp_plugin = plugin


def mark_fsdp_modules(accelerator, models: dict[str, nn.Module]) -> None:
    """Tell Hugging Face models they are sharded (what transformers' own FSDP2 set-up does): a
    sharded layer must run on every rank, so its layer drop runs the layer and drops the output
    instead of skipping it on one rank only (which would leave the others waiting)."""
    if is_fsdp(accelerator):
        for model in models.values():
            for module in model.modules():
                module._is_fsdp_managed_module = True


def is_fsdp(accelerator) -> bool:
    """True when the models are sharded with FSDP."""
    return accelerator.distributed_type == DistributedType.FSDP


def full_model_states(accelerator, models: dict[str, nn.Module]) -> dict[str, dict]:
    """``{name: state_dict}`` of every model, whole: under FSDP gathered to rank 0 (a collective:
    every rank calls it; the others get empty dicts), else each model's own ``state_dict()``."""
    if not is_fsdp(accelerator):
        return {name: model.state_dict() for name, model in models.items()}
    return {name: accelerator.get_state_dict(model) for name, model in models.items()}


def _fqns(models: dict[str, nn.Module], optimizer) -> list[str]:
    """The name of each parameter of ``optimizer`` (in its param_groups order) in ``_joined``."""
    names = {id(p): n for n, p in _joined(models).named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def _joined(models: dict[str, nn.Module]) -> nn.Module:
    return nn.ModuleDict(models)


def full_optimizer_state(accelerator, models: dict[str, nn.Module], optimizer) -> dict:
    """The optimizer's ``state_dict()`` in torch's usual layout (state keyed by parameter index):
    under FSDP gathered whole from the shards (a collective: rank 0 gets it, the others ``{}``)."""
    if not is_fsdp(accelerator):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    by_name = get_optimizer_state_dict(_joined(models), optimizer, options=options)
    if not by_name:  # ranks other than 0 (cpu_offload keeps the gathered state on rank 0 only)
        return {}
    index = {name: i for i, name in enumerate(_fqns(models, optimizer))}
    groups = [
        {**group, "params": [index[name] for name in group["params"]]}
        for group in by_name["param_groups"]
    ]
    return {"state": {index[n]: v for n, v in by_name["state"].items()}, "param_groups": groups}


def load_full_optimizer_state(accelerator, models: dict[str, nn.Module], optimizer, saved) -> None:
    """Load a :func:`full_optimizer_state` dict (every rank has it) into ``optimizer``; under FSDP
    each rank keeps its own shard of it."""
    if not is_fsdp(accelerator):
        optimizer.load_state_dict(saved)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    names = _fqns(models, optimizer)
    groups = [
        {**group, "params": [names[i] for i in group["params"]]} for group in saved["param_groups"]
    ]
    by_name = {"state": {names[i]: v for i, v in saved["state"].items()}, "param_groups": groups}
    options = StateDictOptions(full_state_dict=True)
    set_optimizer_state_dict(_joined(models), optimizer, by_name, options=options)


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
