"""Weight averaging while training: SWA over the last part of a run, or an EMA of the weights.

Both come from ``torch.optim.swa_utils.AveragedModel``: SWA is the equal average of the weights
after each averaged step from ``swa_start`` (a fraction of the run's optimizer steps) on; EMA is
``w_avg <- decay * w_avg + (1 - decay) * w`` from the first step. With ``trainer.max_seconds``,
SWA's start is a fraction of the steps planned for the budget (``engine/time_budget.py``). The
averaged weights are saved in every checkpoint as ``<model>_<type>.safetensors`` (``model_swa``,
``model_ema``) and are what ``seqlab eval``/``translate``/``transcribe`` load when they exist.
With ``validate_averaged`` the validation (and so the ``best`` checkpoint) uses them once
averaging has begun.

``cfg.trainer.averaging`` keys: ``type`` (none | swa | ema), ``swa_start`` (fraction of the
optimizer steps after which SWA averages), ``ema_decay``, ``every_n_steps`` (average every N
optimizer steps; null = once per epoch, at its end), ``validate_averaged``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

TYPES = ("none", "swa", "ema")


class WeightAveraging:
    """The averaged copies of a run's models; see the module docstring.

    Args:
        cfg: ``trainer.averaging`` (or None: no averaging).
        models: name -> the raw (unwrapped) module being trained.
        total_steps: the run's optimizer steps (SWA's start is a fraction of it).
    """

    def __init__(self, cfg, models: dict[str, nn.Module], total_steps: int) -> None:
        cfg = cfg or {}
        self.kind = str(cfg.get("type", "none") or "none")
        if self.kind not in TYPES:
            raise ValueError(f"trainer.averaging.type is '{self.kind}'; use none, swa or ema")
        self.models = models
        self.every = cfg.get("every_n_steps", 1)
        self.validate_averaged = bool(cfg.get("validate_averaged", True))
        self.start_step = 0
        self.averaged: dict[str, AveragedModel] = {}
        if self.kind == "none":
            return
        if self.kind == "swa":
            start = float(cfg.get("swa_start", 0.75))
            if not 0.0 <= start < 1.0:
                raise ValueError(f"trainer.averaging.swa_start must be in [0, 1), got {start}")
            self.swa_start = start
            self.start_step = int(start * total_steps)
            avg_fn = None  # equal weights
        else:
            decay = float(cfg.get("ema_decay", 0.999))
            if not 0.0 < decay < 1.0:
                raise ValueError(f"trainer.averaging.ema_decay must be in (0, 1), got {decay}")
            avg_fn = get_ema_multi_avg_fn(decay)
        for name, module in models.items():
            # buffers (feature statistics, filterbanks) are not averaged: the live ones are used
            self.averaged[name] = AveragedModel(module, multi_avg_fn=avg_fn, use_buffers=False)

    @property
    def enabled(self) -> bool:
        return bool(self.averaged)

    @property
    def n_averaged(self) -> int:
        if not self.averaged:
            return 0
        return int(next(iter(self.averaged.values())).n_averaged)

    def set_run_length(self, total_steps: int) -> None:
        """SWA starts after ``swa_start * total_steps`` (a time budget's planned steps) unless
        averaging has already begun."""
        if self.kind == "swa" and self.n_averaged == 0:
            self.start_step = int(self.swa_start * total_steps)

    def after_step(self, step: int, position: int | None = None) -> None:
        """Called after every successful optimizer step (``step`` counts from 1).

        Args:
            position: where the run is in its schedule when a time budget moves it ahead of
                ``step`` (``engine/time_budget.py``); SWA begins once it passes the start.
        """
        progress = step if position is None else position
        if (
            self.enabled
            and self.every
            and progress > self.start_step
            and step % int(self.every) == 0
        ):
            self._update()

    def after_epoch(self, step: int, position: int | None = None) -> None:
        """Called at every epoch's end; averages then when ``every_n_steps`` is null."""
        progress = step if position is None else position
        if self.enabled and not self.every and progress > self.start_step:
            self._update()

    @torch.no_grad()
    def _update(self) -> None:
        for name, avg in self.averaged.items():
            avg.update_parameters(self.models[name])

    # ---- checkpoints -------------------------------------------------------------------------------
    def weight_files(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{"<model>_<type>": state_dict}`` for the checkpoint (nothing before the first average)."""
        if not self.enabled or self.n_averaged == 0:
            return {}
        return {f"{n}_{self.kind}": self.averaged_state(n) for n in self.averaged}

    def averaged_state(self, name: str) -> dict[str, torch.Tensor]:
        """The state dict of model ``name`` with averaged parameters and the live buffers."""
        state = dict(self.averaged[name].module.state_dict())
        live_state = self.models[name].state_dict()
        # persistent buffers only: non-persistent ones (filterbanks, windows) are not state_dict
        # entries, and load_state_dict refuses them as unexpected keys
        for key, _ in self.models[name].named_buffers():
            if key in live_state:
                state[key] = live_state[key]
        return state

    def meta(self) -> dict:
        if not self.enabled:
            return {}
        return {"type": self.kind, "n_averaged": self.n_averaged, "start_step": self.start_step}

    def load(self, model_files: dict[str, dict], state: dict) -> None:
        """Restore from a checkpoint's weight files and its ``averaging`` train-state entry."""
        if not self.enabled:
            return
        saved = state.get("averaging") or {}
        n = int(saved.get("n_averaged", 0))
        if saved.get("type") not in (None, self.kind) and n:
            raise ValueError(
                f"the checkpoint averaged weights with {saved.get('type')}, this run asks for "
                f"{self.kind}; resume with the same trainer.averaging.type"
            )
        if n:  # averaging has begun: keep its start even if the run was extended
            self.start_step = int(saved.get("start_step", self.start_step))
        for name, avg in self.averaged.items():
            weights = model_files.get(f"{name}_{self.kind}")
            if weights is not None and n:
                avg.module.load_state_dict(weights)
            avg.n_averaged.fill_(n)

    # ---- validation ----------------------------------------------------------------------------------
    @contextmanager
    def swapped_in(self) -> Iterator[bool]:
        """Put the averaged weights into the models for a validation; restore them after.

        Yields whether the averaged weights are in (False before the first average).
        """
        if not (self.enabled and self.validate_averaged and self.n_averaged > 0):
            yield False
            return
        saved = {
            n: {k: v.detach().clone() for k, v in m.state_dict().items()}
            for n, m in self.models.items()
        }
        try:
            for name, module in self.models.items():
                module.load_state_dict(self.averaged_state(name))
            yield True
        finally:
            for name, module in self.models.items():
                module.load_state_dict(saved[name])
