"""Learning-rate schedules that torch.optim.lr_scheduler lacks: linear warmup + linear decay
(BERT/wav2vec2 fine-tuning) and the Noam schedule (Transformer, "Attention is all you need").

Both are :class:`FactorSchedule` subclasses (a ``LambdaLR`` whose multiplier is a method
computed from plain fields): stepped once per optimizer step, state saved by torch.
"""

from __future__ import annotations

import math
import warnings

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class FactorSchedule(LambdaLR):
    """A ``LambdaLR`` whose multiplier is the subclass's ``factor(step)`` method.

    Its state is LambdaLR's without ``lr_lambdas``: LambdaLR would pickle the bound method (and
    so the whole scheduler), which ``torch.load(weights_only=True)`` refuses. The factor is rebuilt
    from the constructor's arguments instead, so a checkpoint holds only numbers.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        """Multiplier of the base lr after ``step`` optimizer steps."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """LambdaLR's state without the (rebuilt) multiplier functions."""
        return {k: v for k, v in super().state_dict().items() if k != "lr_lambdas"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state from :meth:`state_dict`; the multipliers stay this scheduler's own."""
        state_dict = {**state_dict, "lr_lambdas": [None] * len(self.lr_lambdas)}
        super().load_state_dict(state_dict)


class WarmupLinearDecay(FactorSchedule):
    """lr = base_lr * step / warmup_steps for step < warmup_steps, then decays linearly to 0 at
    ``total_steps``: base_lr * (total_steps - step) / (total_steps - warmup_steps).

    Args:
        optimizer: the optimizer whose lr (the "base lr") is scaled.
        warmup_steps: optimizer steps of linear warmup from 0.
        total_steps: optimizer steps of the whole run ("auto" in the config: the engine fills it).
        warmup_ratio: if given, ``warmup_steps = ceil(warmup_ratio * total_steps)`` instead (the
            Hugging Face Trainer's ``warmup_ratio``).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int = 0,
        total_steps: int = 1,
        last_epoch: int = -1,
        warmup_ratio: float | None = None,
    ):
        if warmup_ratio is not None:
            warmup_steps = math.ceil(float(warmup_ratio) * int(total_steps))
        if warmup_steps < 0:
            raise ValueError(f"WarmupLinearDecay needs warmup_steps >= 0, got {warmup_steps}")
        if warmup_steps > total_steps:
            # a short trial run (max_steps) of a long recipe: warm up over the whole run rather
            # than stop; the user is told, since the schedule is not the configured one
            warnings.warn(
                f"lr_scheduler.warmup_steps={warmup_steps} is longer than the run "
                f"({total_steps} optimizer step{'s' if total_steps != 1 else ''}): clamped to "
                f"{total_steps}, so the lr peaks at the last step; lower warmup_steps or train "
                "longer for the configured schedule",
                UserWarning,
                stacklevel=2,
            )
            warmup_steps = total_steps
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        super().__init__(optimizer, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        """Multiplier of the base lr after ``step`` optimizer steps."""
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - self.warmup_steps))


class Noam(FactorSchedule):
    """lr = base_lr * factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5), step >= 1.

    Set the optimizer's lr to 1.0 to get the paper's schedule exactly.

    Args:
        optimizer: the optimizer.
        d_model: model width (the schedule's peak scales with d_model^-0.5).
        warmup_steps: steps of linear warmup; the peak is at ``warmup_steps``.
        factor: extra multiplier.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        d_model: int,
        warmup_steps: int,
        factor: float = 1.0,
        last_epoch: int = -1,
    ):
        self.d_model = int(d_model)
        self.warmup_steps = int(warmup_steps)
        self.noam_factor = float(factor)
        super().__init__(optimizer, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        """Multiplier of the base lr after ``step`` optimizer steps (step 0 is treated as 1)."""
        step = max(step, 1)
        return (
            self.noam_factor * self.d_model**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)
        )
