"""A training-time budget (``trainer.max_seconds``) that the run-length parts of a run follow.

A schedule over "auto" total steps (OneCycle, cosine, warmup_linear, mt_triangle) and SWA's
start are fractions of the run. Sized by ``n_epochs`` alone, a run stopped by the clock ends in
the middle of its schedule and never anneals. So, when a budget is set:

1. Plan: the first steps run on the ``n_epochs`` schedule; once 2 % of the budget is spent (and
   at least two steps are done) the step rate measured after the first step (which pays for
   warm-up and caches) gives the number of steps the budget should hold, ``planned`` (at most
   the run's ``count_steps`` by n_epochs / max_steps). The schedules that follow the budget are
   rebuilt over ``planned`` steps and moved to where the run is; SWA starts after
   ``swa_start * planned``. The plan is frozen and saved in every checkpoint, so a resumed run
   continues the same schedule.
2. Follow: after every optimizer step the run's progress is the larger of the steps fraction
   (``steps / count_steps``) and the time fraction (``elapsed / budget``), and the schedule's
   position is ``planned * progress`` (never moving back). Whichever ends the run, the budget or
   n_epochs / max_steps, the schedule is at its end then: slower steps move it on faster, faster
   steps sometimes stay at one position for two steps. ``planned`` only sets the resolution, so
   that a schedule step stays about one optimizer step and step-counted parts (``warmup_steps``)
   keep their meaning.

Elapsed time is training time only (validation and checkpoints are left out) and adds up over
resumed segments (``TrainState.trained_seconds``). Schedules stepped per epoch or on a metric
(exponential, HiFi-GAN's, plateau) and Noam (no run length) do not follow the budget.
"""

from __future__ import annotations

import math

CALIBRATION_FRACTION = 0.02  # of the budget spent before the step rate is measured
RUN_LENGTH_KEYS = ("total_steps", "num_training_steps", "T_max")


def follows_budget(named) -> bool:
    """Whether a NamedScheduler's length is the run's: stepped per step, an "auto" length."""
    return named.interval == "step" and any(k in named.auto_values for k in RUN_LENGTH_KEYS)


class TimeBudget:
    """The plan and the position of a run with ``trainer.max_seconds``; see the module docstring.

    Args:
        seconds: the budget (training seconds over all segments of the run).
        count_steps: optimizer steps of the run by ``n_epochs`` / ``max_steps`` (the plan never
            exceeds it).
        followers: names of the schedulers that follow the budget.
        swa: whether SWA's start follows it.
        saved: the ``time_budget`` entry of a resumed checkpoint, or None. Its plan is kept when
            it was made for the same budget and the same ``count_steps``; otherwise (the user
            changed the budget or n_epochs) the plan is made again in this segment.
    """

    def __init__(
        self,
        seconds: float,
        count_steps: int,
        followers: list[str],
        swa: bool,
        saved: dict | None = None,
    ) -> None:
        self.seconds, self.count_steps = float(seconds), int(count_steps)
        self.followers, self.swa = list(followers), bool(swa)
        self.planned_steps: int | None = None
        self.position = 0  # where the following schedules are (optimizer steps of the plan)
        self._first: tuple[int, float] | None = None  # (steps, seconds) after this segment's 1st
        saved = saved or {}
        if saved.get("seconds") == self.seconds and saved.get("count_steps") == self.count_steps:
            self.planned_steps = saved.get("planned_steps")
            self.position = int(saved.get("position", 0))

    @property
    def active(self) -> bool:
        """Whether anything follows the budget (else it only stops the run)."""
        return bool(self.followers or self.swa)

    def describe(self) -> str:
        """One line for the user: what follows the budget."""
        what = [f"lr_scheduler '{name}'" for name in self.followers]
        what += ["SWA's start"] if self.swa else []
        verb = "follow" if len(what) > 1 else "follows"
        return (
            f"time budget {self.seconds:g} s: {' and '.join(what)} {verb} elapsed training time "
            f"(planned from the step rate once {CALIBRATION_FRACTION:.0%} of it is spent)"
        )

    def plan(self, steps: int, seconds: float) -> int | None:
        """Measure the step rate; returns the planned steps when the plan is made now, else None.

        Args:
            steps: optimizer steps done that moved the schedules (skipped ones not counted).
            seconds: training seconds spent (all segments).
        """
        if self.planned_steps is not None:
            return None
        if self._first is None:
            self._first = (steps, seconds)
            return None
        first_steps, first_seconds = self._first
        if seconds < CALIBRATION_FRACTION * self.seconds or steps <= first_steps:
            return None
        rate = (steps - first_steps) / max(seconds - first_seconds, 1e-9)  # steps per second
        left = max(0.0, self.seconds - seconds) * rate
        self.planned_steps = max(steps, min(self.count_steps, steps + math.floor(left)))
        return self.planned_steps

    def advance(self, steps: int, seconds: float) -> int:
        """The position after an optimizer step: ``steps`` before the plan, then ``planned``
        times the larger of the steps and time fractions (capped at ``planned``)."""
        if self.planned_steps is None:
            self.position = max(self.position, steps)
            return self.position
        progress = max(steps / max(1, self.count_steps), seconds / self.seconds)
        by_progress = math.floor(self.planned_steps * progress + 1e-9)  # float noise at the end
        self.position = min(self.planned_steps, max(self.position, by_progress))
        return self.position

    def state(self) -> dict:
        """The ``time_budget`` entry of ``state.pt``."""
        return {
            "seconds": self.seconds,
            "count_steps": self.count_steps,
            "planned_steps": self.planned_steps,
            "position": self.position,
        }
