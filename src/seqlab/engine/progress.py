"""Training progress for people: a tqdm bar on a terminal, plain log lines otherwise (CI, nohup).

Shows loss, lr and throughput: items/s (the batch size), units/s when the task reports
``n_units`` (e.g. tokens) and audio seconds per second when it reports ``n_seconds``.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from tqdm.auto import tqdm


def _format(scalars: dict) -> str:
    parts = []
    for key, value in scalars.items():
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


class Progress:
    """Progress of the training steps.

    Args:
        total_steps: optimizer steps of the whole run.
        mode: "auto" (bar if stderr is a terminal, else plain), "bar", "plain" or "none".
        log_every_n_steps: plain mode prints a line every that many steps.
        enabled: False on ranks other than 0.
        initial_step: the step a resumed run starts from.
    """

    def __init__(
        self,
        total_steps: int,
        mode: str = "auto",
        log_every_n_steps: int = 10,
        enabled: bool = True,
        initial_step: int = 0,
    ):
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "plain"
        if mode not in ("bar", "plain", "none"):
            raise ValueError(f"trainer.progress is '{mode}'; use auto, bar, plain or none")
        self.mode = mode if enabled else "none"
        self.log_every = max(1, int(log_every_n_steps))
        self.total_steps = total_steps
        self._bar = None
        if self.mode == "bar":
            self._bar = tqdm(
                total=total_steps, initial=initial_step, dynamic_ncols=True, unit="step"
            )
        self._window_start = time.perf_counter()
        self._counts = {"items": 0.0, "units": 0.0, "seconds": 0.0}

    def update(
        self,
        step: int,
        epoch: int,
        scalars: dict,
        items: float,
        units: float | None,
        seconds: float | None,
    ) -> dict:
        """Count one optimizer step; show it when due.

        Args:
            items/units/seconds: how many items, task units and audio seconds this step saw.

        Returns:
            throughput scalars since the last call that returned them ({} when not due).
        """
        self._counts["items"] += items
        self._counts["units"] += units or 0.0
        self._counts["seconds"] += seconds or 0.0
        if self._bar is not None:
            self._bar.update(1)
        if step % self.log_every != 0:
            return {}
        elapsed = max(time.perf_counter() - self._window_start, 1e-9)
        rates = {"items_per_s": self._counts["items"] / elapsed}
        if units is not None:
            rates["units_per_s"] = self._counts["units"] / elapsed
        if seconds is not None:
            rates["audio_s_per_s"] = self._counts["seconds"] / elapsed
        # "loss", or one "loss/<optimizer>" per optimizer of a GAN-style task
        shown = {
            k: v for k, v in scalars.items() if k.split("/")[0] == "loss" or k.startswith("lr")
        }
        shown.update(rates)
        if self._bar is not None:
            self._bar.set_postfix_str(_format(shown), refresh=False)
        elif self.mode == "plain":
            print(
                f"step {step}/{self.total_steps} epoch {epoch} {_format(shown)}",
                file=sys.stderr,
                flush=True,
            )
        self._window_start = time.perf_counter()
        self._counts = dict.fromkeys(self._counts, 0.0)
        return rates

    @contextmanager
    def paused(self):
        """Time spent inside (validation, checkpointing) is left out of the throughput."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._window_start += time.perf_counter() - start

    def set_total(self, total_steps: int) -> None:
        """The run's length changed (a time budget planned its steps)."""
        self.total_steps = total_steps
        if self._bar is not None:
            self._bar.total = total_steps
            self._bar.refresh()

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        if self.mode == "bar":
            tqdm.write(message, file=sys.stderr)
        elif self.mode == "plain":
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
