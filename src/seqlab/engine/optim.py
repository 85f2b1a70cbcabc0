"""Named optimizers and learning-rate schedulers from the config.

``cfg.optimizer`` is one config with ``_target_`` (named "main") or a mapping name -> config
(e.g. ``generator`` and ``discriminator``). Engine-only key, removed before instantiating:
``clip_grad_norm`` (float or null: max total grad norm of this optimizer's parameters).

``cfg.lr_scheduler`` is null, one config (for "main") or a mapping optimizer name -> config.
Engine-only keys: ``interval`` (``step``: after every optimizer step, the default; ``epoch``:
at the end of every epoch; ``metric``: after every validation with the value of ``monitor``,
default ``val_loss``, as for ReduceLROnPlateau). Values equal to the string "auto" are filled:
``total_steps`` / ``num_training_steps`` -> optimizer steps of the whole run; ``epochs`` ->
trainer.n_epochs; ``steps_per_epoch`` -> optimizer steps per epoch; ``T_max`` -> total steps
(interval step) or n_epochs (interval epoch).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import hydra.utils
from omegaconf import DictConfig, OmegaConf

ENGINE_OPTIMIZER_KEYS = ("clip_grad_norm",)
ENGINE_SCHEDULER_KEYS = ("interval", "monitor")


def named_configs(section, what: str) -> dict[str, DictConfig]:
    """``{"main": section}`` for a single config with ``_target_``, else the mapping itself."""
    if section is None:
        return {}
    if not isinstance(section, DictConfig):
        section = OmegaConf.create(section)
    if "_target_" in section:
        return {"main": section}
    for name, sub in section.items():
        if not isinstance(sub, DictConfig) or "_target_" not in sub:
            raise ValueError(
                f"cfg.{what}.{name} has no _target_; cfg.{what} must be one config with _target_ "
                f"or a mapping optimizer-name -> config with _target_"
            )
    return dict(section.items())


def _without(config: DictConfig, keys) -> DictConfig:
    plain = OmegaConf.to_container(config, resolve=True)
    return OmegaConf.create({k: v for k, v in plain.items() if k not in keys})


@dataclass
class NamedOptimizer:
    """An optimizer with the engine's settings for it."""

    name: str
    optimizer: object  # torch.optim.Optimizer (wrapped by Accelerate after prepare)
    clip_grad_norm: float | None = None


def build_optimizers(cfg: DictConfig, task) -> dict[str, NamedOptimizer]:
    """Instantiate ``cfg.optimizer`` with ``params=task.optimizer_params(name)``."""
    optimizers = {}
    for name, opt_cfg in named_configs(cfg.get("optimizer"), "optimizer").items():
        clip = opt_cfg.get("clip_grad_norm")
        params = list(task.optimizer_params(name))
        if not params:
            raise ValueError(f"task.optimizer_params('{name}') returned no parameters")
        # _partial_: Hydra would turn param groups (dicts of tensors) into DictConfigs.
        factory = hydra.utils.instantiate(_without(opt_cfg, ENGINE_OPTIMIZER_KEYS), _partial_=True)
        optimizer = factory(params)
        optimizers[name] = NamedOptimizer(name, optimizer, None if clip is None else float(clip))
    if not optimizers:
        raise ValueError("cfg.optimizer is empty; give one optimizer config with _target_")
    return optimizers


@dataclass
class NamedScheduler:
    """A scheduler, when it steps, and the "auto" values it was built with (for resume)."""

    name: str
    scheduler: object
    interval: str = "step"
    monitor: str = "val_loss"
    auto_values: dict = field(default_factory=dict)
    follows_budget: bool = False  # moved by the engine along trainer.max_seconds (time_budget.py)


def build_schedulers(
    cfg: DictConfig,
    optimizers: dict,
    steps_per_epoch: int,
    total_steps: int,
    names: list[str] | None = None,
) -> dict[str, NamedScheduler]:
    """Instantiate ``cfg.lr_scheduler`` on the (unwrapped) optimizers, filling "auto" values.

    Args:
        optimizers: name -> torch optimizer.
        steps_per_epoch: optimizer steps in one epoch.
        total_steps: optimizer steps of the whole run (max_steps taken into account).
        names: build only these schedulers (None: all); building one sets its optimizer's lr.
    """
    schedulers = {}
    for name, sched_cfg in named_configs(cfg.get("lr_scheduler"), "lr_scheduler").items():
        if names is not None and name not in names:
            continue
        if name not in optimizers:
            raise ValueError(
                f"cfg.lr_scheduler.{name}: there is no optimizer '{name}' (have {list(optimizers)})"
            )
        interval = sched_cfg.get("interval", "step")
        if interval not in ("step", "epoch", "metric"):
            raise ValueError(
                f"cfg.lr_scheduler interval is '{interval}'; use step, epoch or metric"
            )
        fills = {
            "total_steps": total_steps,
            "num_training_steps": total_steps,
            "epochs": int(cfg.trainer.n_epochs),
            "steps_per_epoch": steps_per_epoch,
            "T_max": total_steps if interval == "step" else int(cfg.trainer.n_epochs),
        }
        plain = _without(sched_cfg, ENGINE_SCHEDULER_KEYS)
        auto_values = {
            key: fills[key] for key, value in plain.items() if value == "auto" and key in fills
        }
        plain = OmegaConf.merge(plain, auto_values)
        if str(plain.get("_target_", "")).endswith("OneCycleLR"):
            # torch divides by (pct_start * total_steps - 1): zero on short runs (e.g. 0.2 x 5)
            steps = float(plain.get("total_steps") or 0)
            pct = float(plain.get("pct_start", 0.3))
            if steps and abs(pct * steps - 1.0) < 1e-9:
                plain.pct_start = pct + 0.5 / steps  # half a step longer warm-up
        scheduler = hydra.utils.instantiate(plain, optimizer=optimizers[name])
        monitor = sched_cfg.get("monitor", "val_loss")
        schedulers[name] = NamedScheduler(name, scheduler, interval, monitor, auto_values)
    return schedulers


def restore_scheduler(
    named: NamedScheduler, saved: dict | None, optimizer, step: int, epoch: int
) -> bool:
    """Load a scheduler's saved state, or rebuild its schedule when the run length changed.

    When the "auto" values differ from the checkpoint's (e.g. trainer.n_epochs grew from 45 to
    60 on resume), the saved schedule does not fit the new run: OneCycleLR would fail at its
    old total_steps. The freshly built scheduler is then replayed from the base lrs for the
    steps (or epochs) already done, so the run continues on the NEW schedule at the right
    point. Exact for closed-form and chained torch schedulers alike; the lr curve of the
    finished part of the run differs from the new one (printed by the caller).

    Args:
        named: the scheduler built for this run (before the optimizer state was loaded).
        saved: {"state": scheduler state dict, "auto_values": dict} from the checkpoint, or None.
        optimizer: its optimizer (lrs are reset to the scheduler's base lrs before replaying).
        step, epoch: optimizer steps and epochs already done.

    Returns:
        True when the saved state was loaded as is, False when the schedule was rebuilt.
    """
    if saved and saved["auto_values"] == named.auto_values:
        named.scheduler.load_state_dict(saved["state"])
        return True
    for group, base_lr in zip(optimizer.param_groups, named.scheduler.base_lrs, strict=True):
        group["lr"] = base_lr
    replays = {"step": step, "epoch": epoch}.get(named.interval, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
        for _ in range(replays):
            named.scheduler.step()
    return False
