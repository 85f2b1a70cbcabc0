"""The training loop of every seqlab task, on HF Accelerate. Read it top to bottom.

``fit(cfg, task)`` builds a :class:`Trainer`: it prepares the task's models and the named
optimizers with Accelerate (device, mixed precision, DDP), then walks each epoch's batches in
windows of ``trainer.grad_accum_steps`` micro-batches. A window is one optimizer step
(``engine/step.py``: weighted accumulation, unscale, clip, step). Between windows come logging,
validation (best and early-stop tracking) and checkpoints, so a checkpoint always sits on a
window boundary and a resumed run replays exactly what the uninterrupted one would have done.

``cfg.trainer`` keys (defaults in brackets: those of configs/trainer/default.yaml):
    n_epochs [45], max_steps [null: no limit]: stop after that many epochs / optimizer steps.
    max_seconds [null]: also stop once this much wall time went into training (validation and
        checkpoints not counted; resumed segments add up), e.g. to compare recipes at equal
        time. Schedules over "auto" total steps and SWA's start then follow the budget, so the
        run anneals by its end (``engine/time_budget.py``).
    grad_accum_steps [1]: micro-batches per optimizer step.
    threads [null]: torch's CPU threads in this process (``torch.set_num_threads``); null keeps
        torch's default (one per core). Two jobs with two threads each on two cores slow each
        other several times over: give each 1. The number used is logged with the run.
    precision [fp32]: fp32 | bf16 | fp16 (fp16 uses a dynamic grad scaler) | auto (bf16 where the
        device computes it natively: CUDA with bf16, or a CPU with AVX512-BF16/AMX; else fp32).
    device [auto]: auto | cpu | cuda.
    val_every_n_steps [null], val_every_n_epochs [1]: when to validate (also always at the end);
    val_at_start [false]: validate once before training (logged at step 0, not a "best").
    monitor [min val_loss]: "min val_wer" / "max val_bleu": picks the `best` checkpoint (null:
        none).
    early_stop_patience [null]: stop after that many validations without improvement.
    save_every_n_steps [null], save_every_n_epochs [1]: when to save (also at the end and at
        every new best); keep_last [2]: step checkpoints kept besides `best` and `last`.
    resume_from [null]: a checkpoint (or run dir) to continue from, exactly.
    deterministic [false]: deterministic torch kernels.
    max_nonfinite_in_a_row [10]: skipped (non-finite) steps in a row before giving up.
    log_every_n_steps [10]; num_workers [2] (0 when a config leaves the key out);
    progress [auto]: auto | bar | plain | none.
    runs_root [runs], run_name [null: a timestamp]: the run dir is runs_root/experiment_name/run_name.
    dist_timeout_s [null], find_unused_parameters [null], strategy [ddp: or fsdp], fsdp: several
        processes and machines (``engine/distributed.py``).
    averaging [type: none]: SWA over the last part of the run or an EMA of the weights
        (``engine/averaging.py``); the averaged weights are saved and used for inference.
Tasks may define ``on_epoch_start(epoch)`` (e.g. a teacher-forcing schedule); it is called before
every epoch, resumed ones included, so it must depend only on ``epoch``.
Optimizer and scheduler keys: ``engine/optim.py``; writer keys: ``engine/writers.py``.
"""

from __future__ import annotations

import argparse
import functools
import math
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import hydra.utils
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import gather_object
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.averaging import WeightAveraging
from seqlab.engine.distributed import (
    accelerator_kwargs,
    enable_fsdp_on_cpu,
    end_training,
    full_model_states,
    full_optimizer_state,
    is_fsdp,
    load_full_optimizer_state,
    mark_fsdp_modules,
)
from seqlab.engine.optim import build_optimizers, build_schedulers, restore_scheduler
from seqlab.engine.progress import Progress
from seqlab.engine.rng import capture_rng_state, seed_everything
from seqlab.engine.rundir import agree_on_run_dir, resume_run_dir
from seqlab.engine.step import OptimizerStep, to_device
from seqlab.engine.task import Task, give_prepared_models
from seqlab.engine.time_budget import TimeBudget, follows_budget
from seqlab.engine.train_state import TrainState, collect_state, restore_state
from seqlab.engine.writers import Writers, build_writers, check_writers

PRECISIONS = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


def resolve_precision(precision: str, use_cpu: bool) -> str:
    """``auto`` -> ``bf16`` where the device computes bfloat16 natively, else ``fp32``.

    Emulated bf16 (a CPU without AVX512-BF16 or AMX) is slower than fp32, so it is never chosen.
    """
    if precision != "auto":
        if precision not in PRECISIONS:
            raise ValueError(f"trainer.precision is '{precision}'; use fp32, bf16, fp16 or auto")
        return precision
    if not use_cpu:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


ID_KEYS = ("ids", "utt_ids", "keys", "paths")  # batch keys that name items, for error messages


def _clock() -> float:
    """The clock of training time and ``trainer.max_seconds`` (tests replace it)."""
    return time.perf_counter()


def _outside_throughput(method):
    """Validation and checkpointing time does not count in the logged training throughput."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_outside_depth", 0):  # nested (validation saving a new best): the
            return method(self, *args, **kwargs)  # outer call already leaves this time out
        self._outside_depth = 1
        start = _clock()
        try:
            progress = getattr(self, "progress", None)
            if progress is None:
                return method(self, *args, **kwargs)
            with progress.paused():
                return method(self, *args, **kwargs)
        finally:  # nor in trainer.max_seconds
            self._outside_depth = 0
            self._excluded_seconds = getattr(self, "_excluded_seconds", 0.0) + (_clock() - start)

    return wrapper


def fit(cfg: DictConfig, task, run_dir: Path | None = None, overrides=()) -> dict:
    """Train ``task`` as ``cfg`` says (:func:`run` builds the task from ``cfg`` and calls this).

    Args:
        cfg: the full resolved config (seed, experiment_name, optimizer, lr_scheduler, trainer,
            writer).
        task: built by :func:`build_task` (seeded first, so that model initialisation is).
        run_dir: None: a new run dir, or the run that owns ``trainer.resume_from``.
        overrides: the command-line overrides, written to overrides.txt.

    Returns:
        summary: run_dir, step, epoch, best_metric, best_step, monitor, stopped_early (by
            ``early_stop_patience`` only), stop_reason (n_epochs, max_steps, time_budget,
            early_stop or interrupted: Ctrl-C), parameters (per model: total and trainable),
        val_metrics, last_checkpoint, best_checkpoint.
    """
    trainer = Trainer(cfg, task, run_dir, overrides)
    try:
        return trainer.fit()
    finally:
        trainer.close()


def _load_resumed_weights(models: dict, resume: dict, resume_from) -> None:
    """Load a resumed checkpoint's weights into ``models``; a mismatch (another model size or
    family than the checkpoint was trained with) is a ``ConfigError`` naming what differs."""
    from seqlab.config import ConfigError

    for name, module in models.items():
        if name not in resume["models"]:
            raise ConfigError(
                f"trainer.resume_from={resume_from} has no weights for '{name}' (it holds "
                f"{sorted(resume['models'])}); resume with the config it was trained with"
            )
        try:
            module.load_state_dict(resume["models"][name])
        except RuntimeError as err:
            detail = " ".join(str(err).split())
            raise ConfigError(
                f"trainer.resume_from={resume_from}: its '{name}' weights do not fit this config's "
                f"model ({detail[:300]}{'...' if len(detail) > 300 else ''}); resume with the "
                "model settings it was trained with (the run's config.yaml)"
            ) from None


class NonFiniteLossError(RuntimeError):
    """Raised after ``trainer.max_nonfinite_in_a_row`` skipped steps in a row."""


class Trainer:
    """Owns the loop; see the module docstring for the ``cfg.trainer`` keys."""

    def __init__(self, cfg: DictConfig, task, run_dir: Path | None = None, overrides=()):
        if not isinstance(task, Task):
            raise TypeError(
                f"{type(task).__qualname__} is not a seqlab.engine.task.Task: a task class must "
                "inherit it (or EvaluableTask), which declares the methods the engine calls"
            )
        self.cfg, self.task, self.tcfg = cfg, task, cfg.trainer
        t = self.tcfg
        check_writers(cfg.get("writer"))  # a writer that cannot start fails before the run dir
        self._threads_before = torch.get_num_threads()  # restored by close(): fit() may run in
        if t.get("threads"):  # a notebook or test process that goes on
            torch.set_num_threads(int(t.threads))
        device = t.get("device", "auto")
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("trainer.device=cuda but torch sees no GPU; use auto or cpu")
        # fit() may run several times in one process (tests, sweeps, notebooks): Accelerate keeps
        # its settings in a singleton, so start afresh (a process group torchrun made stays up).
        # Accumulation is ours (weighted by n_units): Accelerate's stays at 1.
        AcceleratorState._reset_state(reset_partial_state=True)
        use_cpu = device == "cpu" or not torch.cuda.is_available()
        self.precision = resolve_precision(str(t.get("precision", "fp32")), use_cpu)
        if use_cpu:
            # Denormal floats (tiny gradients late in training) are slow on CPUs; flushing them to
            # zero changes nothing a model can notice and keeps the step time flat (~5%).
            torch.set_flush_denormal(True)
            # numpy notices it (once per dtype) when a library later asks for float limits
            warnings.filterwarnings("ignore", message="The value of the smallest subnormal")
        extra = accelerator_kwargs(t, task)  # timeout, unused parameters, FSDP (strategy)
        self.accelerator = Accelerator(
            mixed_precision=PRECISIONS[self.precision], cpu=use_cpu, **extra
        )
        enable_fsdp_on_cpu(self.accelerator, extra.get("fsdp_plugin"))
        self.rank, self.world_size = self.accelerator.process_index, self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process
        # A resumed run's weights are loaded before Accelerate moves them, and before the run
        # directory is touched: a checkpoint that does not fit this config changes nothing.
        resume = ckpt.load_checkpoint(t.resume_from) if t.get("resume_from") else None
        self.models = dict(task.models())
        if resume:
            _load_resumed_weights(self.models, resume, t.resume_from)
        self.run_dir = Path(run_dir or agree_on_run_dir(cfg, list(overrides), self.accelerator))
        self.ckpt_dir = self.run_dir / "checkpoints"
        # Each rank draws its own dropout masks and augmentations from here on.
        seed_everything(int(cfg.seed) + self.rank, bool(t.get("deterministic", False)))

        # Optimizers (their resumed state is loaded with the rest of the state below).
        self.optimizers = build_optimizers(cfg, task)
        optimizers = [o.optimizer for o in self.optimizers.values()]
        prepared = self.accelerator.prepare(*self.models.values(), *optimizers)
        prepared = list(prepared) if isinstance(prepared, (tuple, list)) else [prepared]
        n_models = len(self.models)
        prepared_models = give_prepared_models(task, self.models, prepared[:n_models])
        mark_fsdp_modules(self.accelerator, self.models)
        for named, optimizer in zip(self.optimizers.values(), prepared[n_models:], strict=True):
            named.optimizer = optimizer

        # Data: the sampler shards by rank itself (Accelerate does not touch the loader) and the
        # loader has a private generator: it never draws from the global RNG that dropout uses.
        self.train_spec = task.train_data(self.rank, self.world_size, self.run_dir)
        self.val_spec = task.val_data(self.rank, self.world_size, self.run_dir)
        self.loader_generator = torch.Generator()
        # Dynamic batching may give each epoch a slightly different number of batches: count them
        # all, so that a schedule over "auto" total steps fits the run exactly.
        sampler = self.train_spec.batch_sampler
        counts = []
        for epoch in range(int(t.n_epochs)):
            sampler.set_epoch(epoch)
            counts.append(len(sampler))
        sampler.set_epoch(0)
        per_rank = gather_object([counts])
        if any(c != per_rank[0] for c in per_rank):
            raise RuntimeError(
                "ranks have different numbers of batches per epoch; the batch sampler must give every "
                "rank the same number"
            )
        self.accum = int(t.get("grad_accum_steps", 1))
        self.steps_per_epoch = math.ceil(counts[0] / self.accum)
        self.total_steps = sum(math.ceil(c / self.accum) for c in counts)
        if t.get("max_steps"):
            self.total_steps = min(self.total_steps, int(t.max_steps))
        raw_optimizers = {name: o.optimizer.optimizer for name, o in self.optimizers.items()}
        self.schedulers = build_schedulers(
            cfg, raw_optimizers, self.steps_per_epoch, self.total_steps
        )
        self.optimizer_step = OptimizerStep(
            self.accelerator, task, prepared_models, self.optimizers, self.schedulers
        )

        self.averaging = WeightAveraging(t.get("averaging"), self.models, self.total_steps)
        self.budget = None  # trainer.max_seconds: what follows it (engine/time_budget.py)
        if t.get("max_seconds"):
            followers = [n for n, s in self.schedulers.items() if follows_budget(s)]
            saved = resume["state"].get("time_budget") if resume else None
            swa = self.averaging.kind == "swa"
            self.budget = TimeBudget(t.max_seconds, self.total_steps, followers, swa, saved)
            for name in followers:
                self.schedulers[name].follows_budget = True
            if self.budget.planned_steps is not None:  # resumed with its plan: same schedule
                self._follow_plan(self.budget.planned_steps, replay=False)
        self.state, self._last_saved, self.val_metrics = TrainState(), None, {}
        self.monitor = _parse_monitor(t.get("monitor"))
        self.writers = Writers([])
        if self.is_main:
            ckpt.remove_stale_tmp(self.ckpt_dir)
            plain_cfg = OmegaConf.to_container(cfg, resolve=True)
            name = str(cfg.get("experiment_name"))
            self.writers = build_writers(
                cfg.get("writer"), self.run_dir, name, self.run_dir.name, plain_cfg
            )
        if resume:
            self._load_state(resume)
            self.averaging.load(resume["models"], resume["state"])
            self.writers.log_event("resume", step=self.state.step, **{"from": str(resume["path"])})

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict:
        """Train to the end (n_epochs, max_steps or early stop), validate, save; see :func:`fit`."""
        t, state = self.tcfg, self.state
        # "start" and "end" bracket each training segment (a resume starts a new one): reports
        # take the training time from them.
        parameters = parameter_counts(self.models)
        threads = torch.get_num_threads()
        self.writers.log_event(
            "start",
            step=state.step,
            world_size=self.world_size,
            parameters=parameters,
            threads=threads,
        )
        self._note(
            f"{threads} CPU thread{'s' if threads > 1 else ''}; parameters: "
            + ", ".join(f"{name} {n['total']:,} ({n['trainable']:,} trainable)" for name, n in parameters.items())
        )  # fmt: skip
        self._stop_reason = None  # set by what ends the run before n_epochs / max_steps
        self._catch_interrupt()
        self._segment_start, self._excluded_seconds = _clock(), 0.0
        self._seconds_before = state.trained_seconds  # earlier segments of this run
        if self.budget is not None and self.budget.active:
            self._note(self.budget.describe())
        progress, log_every = t.get("progress", "auto"), t.get("log_every_n_steps", 10)
        self.progress = Progress(self.total_steps, progress, log_every, self.is_main, state.step)
        for model in self.models.values():
            model.train()
        stop = False
        if t.get("val_at_start") and state.step == 0 and state.last_val_step < 0:
            self._validate(track_best=False)
        while state.epoch < int(t.n_epochs) and not stop:
            stop = self._train_epoch()
            if stop:  # max_steps or early stop in the middle of the epoch
                break
            for sched in self.schedulers.values():
                if sched.interval == "epoch":
                    sched.scheduler.step()
            budget = self.budget if self.budget is not None and self.budget.active else None
            self.averaging.after_epoch(state.step, budget.position if budget else None)
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
            if t.get("val_every_n_epochs") and state.epoch % int(t.val_every_n_epochs) == 0:
                stop = self._validate()
            if t.get("save_every_n_epochs") and state.epoch % int(t.save_every_n_epochs) == 0:
                self._save()
        if self._stop_reason == "interrupted":
            self._save()  # where it stopped; no validation (the user wants out)
            self._note(
                f"interrupted at step {state.step}: saved {self.ckpt_dir / 'last'}; continue with "
                f"`seqlab train <experiment> <your overrides> trainer.resume_from={self.ckpt_dir / 'last'}`"
            )
        else:
            if state.last_val_step != state.step:
                stop = self._validate() or stop
            self._save()
        self._check_ranks_agree()
        self.progress.close()
        self.writers.close()
        best = self.ckpt_dir / "best"
        not_finished = state.epoch < int(t.n_epochs) and state.step < (
            t.get("max_steps") or math.inf
        )
        return {
            "run_dir": str(self.run_dir), "step": state.step, "epoch": state.epoch,
            "best_metric": state.best_metric, "best_step": state.best_step, "monitor": self.tcfg.get("monitor"),
            "stopped_early": bool(stop and not_finished) and self._stop_reason == "early_stop",
            "stop_reason": (self._stop_reason if stop and not_finished else None)
            or ("max_steps" if state.step >= (t.get("max_steps") or math.inf) else "n_epochs"),
            "parameters": parameters, "val_metrics": self.val_metrics,
            "time_budget": self._budget_summary(),
            "precision": self.precision,
            "last_checkpoint": str((self.ckpt_dir / "last").resolve()),
            "best_checkpoint": str(best.resolve()) if best.is_symlink() else None,
        }  # fmt: skip

    def _budget_summary(self) -> dict | None:
        """The summary's ``time_budget``: seconds, planned steps and what followed them."""
        if self.budget is None:
            return None
        follows = [f"lr_scheduler.{name}" for name in self.budget.followers]
        follows += ["averaging.swa_start"] if self.budget.swa else []
        return {
            "seconds": self.budget.seconds,
            "planned_steps": self.budget.planned_steps,
            "follows": follows,
            "message": self.budget.describe() if self.budget.active else None,
        }

    def _train_epoch(self) -> bool:
        """Run the rest of the current epoch; returns True when training must stop."""
        sampler = self.train_spec.batch_sampler
        sampler.set_epoch(self.state.epoch)
        sampler.set_start_batch(self.state.batch_in_epoch)  # 0 unless resuming mid-epoch
        self.task.on_epoch_start(self.state.epoch)
        # Worker seeds come from the loader's generator: seed it from (seed, epoch, rank) only.
        loader = self._loader(
            self.train_spec, int(self.cfg.seed) * 100_003 + self.state.epoch * 101 + self.rank
        )
        window = []
        for batch in loader:
            window.append(batch)  # stays on the CPU until its own forward
            self.state.batch_in_epoch += 1
            if len(window) == self.accum:
                if self._train_window(window):
                    return True
                window = []
        return bool(window) and self._train_window(window)  # the epoch's shorter last window

    def _loader(self, spec, seed: int) -> DataLoader:
        self.loader_generator.manual_seed(seed)
        return spec.loader(
            int(self.tcfg.get("num_workers", 0)), generator=self.loader_generator,
            persistent_workers=False, worker_init_fn=_ignore_interrupts,
        )  # fmt: skip

    def _catch_interrupt(self) -> None:
        """Ctrl-C (SIGINT) ends the run after the current optimizer step, with a checkpoint and
        the command that resumes it; a second Ctrl-C stops at once. One process only: under DDP
        the ranks would have to agree on the step, so torchrun's default handling stays."""
        self._interrupted, self._previous_sigint = False, None
        if self.world_size != 1 or threading.current_thread() is not threading.main_thread():
            return

        def on_interrupt(signum, frame):
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True
            self._note("Ctrl-C: stopping after this step and saving a checkpoint (again: at once)")

        self._previous_sigint = signal.signal(signal.SIGINT, on_interrupt)

    def _train_window(self, window: list[dict]) -> bool:
        """One optimizer step on ``window``; then log, validate and save when due."""
        result = self.optimizer_step(window, self.accum)
        self.state.step += 1
        self.state.skipped_steps += result.fp16_skipped
        self._count_nonfinite(result.ok, window)
        t, step = self.tcfg, self.state.step
        seconds = self.state.trained_seconds = self._training_seconds()
        position = None  # where a time budget has moved the schedules (None: at `step`)
        if self.budget is not None and self.budget.active:
            position = self._follow_budget(seconds)
        if result.ok:
            self.averaging.after_step(step, position)
        items = sum(_batch_size(batch) for batch in window) * self.world_size
        rates = self.progress.update(
            step, self.state.epoch, result.logs, items, result.units, result.seconds
        )
        if step % int(t.get("log_every_n_steps", 10)) == 0:
            self.writers.log_scalars(
                step, {**result.logs, **rates, **self._optimizer_scalars()}, "train"
            )
        stop = bool(t.get("max_steps")) and step >= int(t.max_steps)
        if t.get("max_seconds") and seconds >= float(t.max_seconds):
            self.progress.write(
                f"time budget: {t.max_seconds} s of training reached at step {step}"
            )
            stop, self._stop_reason = True, "time_budget"
        if (
            self._interrupted
        ):  # Ctrl-C during this step: stop here, fit() saves and says how to resume
            self._stop_reason = "interrupted"
            return True
        if t.get("val_every_n_steps") and step % int(t.val_every_n_steps) == 0:
            stop = self._validate() or stop
        if t.get("save_every_n_steps") and step % int(t.save_every_n_steps) == 0:
            self._save()
        return stop

    def _training_seconds(self) -> float:
        """Training wall time of the run (earlier segments included), validation and
        checkpoints left out; with a time budget under DDP rank 0's clock decides for everyone
        (so that all ranks stop at the same step)."""
        seconds = (
            self._seconds_before
            + _clock()
            - self._segment_start
            - getattr(self, "_excluded_seconds", 0.0)
        )
        if self.world_size > 1 and self.tcfg.get("max_seconds"):
            from accelerate.utils import broadcast_object_list

            seconds = broadcast_object_list([seconds])[0]
        return seconds

    def _follow_budget(self, seconds: float) -> int:
        """Plan the time budget's steps once the step rate is known, then move the schedules
        that follow it to its position (``engine/time_budget.py``); returns the position."""
        budget, state = self.budget, self.state
        steps = state.step - state.nonfinite_steps - state.skipped_steps  # that moved schedules
        planned = budget.plan(steps, seconds)
        position = budget.advance(steps, seconds)
        if planned is not None:
            self._follow_plan(planned)
            rate = f"{steps / max(seconds, 1e-9):.3g} steps/s"
            what = [f"lr_scheduler '{n}' spans them" for n in budget.followers]
            if budget.swa:
                what.append(f"SWA starts after step {self.averaging.start_step}")
            self._note(  # printed once, whatever the progress mode
                f"time budget: {planned} steps planned for {budget.seconds:g} s ({rate} so far; "
                f"n_epochs/max_steps allow {budget.count_steps}): {', '.join(what)}"
            )
            self.writers.log_event(
                "time_budget", step=state.step, planned_steps=planned,
                swa_start_step=self.averaging.start_step if budget.swa else None,
            )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
            for name in budget.followers:
                scheduler = self.schedulers[name].scheduler
                while scheduler.last_epoch < position:
                    scheduler.step()
        return position

    def _follow_plan(self, planned: int, replay: bool = True) -> None:
        """Rebuild the schedules that follow the time budget over its ``planned`` steps, at the
        budget's position (``replay``; else a resumed state is loaded next), and move SWA's
        start to its fraction of them."""
        budget = self.budget
        raw = {name: o.optimizer.optimizer for name, o in self.optimizers.items()}
        rebuilt = build_schedulers(
            self.cfg, raw, self.steps_per_epoch, planned, names=budget.followers
        )
        for name, named in rebuilt.items():
            named.follows_budget = True
            if replay:
                restore_scheduler(named, None, raw[name], budget.position, self.state.epoch)
            self.schedulers[name] = named  # the same dict as the OptimizerStep's
        self.averaging.set_run_length(planned)
        self.total_steps = planned
        if getattr(self, "progress", None) is not None:
            self.progress.set_total(planned)

    def _count_nonfinite(self, ok: bool, window: list[dict]) -> None:
        """Count skipped steps; give up with advice after too many in a row."""
        if ok:
            self.state.nonfinite_in_a_row = 0
            return
        self.state.nonfinite_steps += 1
        self.state.nonfinite_in_a_row += 1
        ids = [
            i
            for batch in window
            for k in ID_KEYS
            if isinstance(batch.get(k), list)
            for i in batch[k]
        ]
        where = f"step {self.state.step} (epoch {self.state.epoch})" + (
            f", batch items {ids[:20]}" if ids else ""
        )
        if self.is_main:
            print(
                f"WARNING: non-finite loss or grad norm at {where}; update skipped", file=sys.stderr
            )
        limit = int(self.tcfg.get("max_nonfinite_in_a_row", 10))
        if self.state.nonfinite_in_a_row >= limit:
            raise NonFiniteLossError(
                f"{limit} optimizer steps in a row had a non-finite loss or gradient norm (last at {where}). "
                "Try: a lower learning rate (optimizer.lr), gradient clipping (optimizer.clip_grad_norm=1.0), "
                "trainer.precision=bf16 or fp32 instead of fp16, and check the data of these items."
            )

    def _optimizer_scalars(self) -> dict:
        scalars = {f"lr/{n}": o.optimizer.param_groups[0]["lr"] for n, o in self.optimizers.items()}
        scalars["nonfinite_steps"] = self.state.nonfinite_steps
        batches = max(1, len(self.train_spec.batch_sampler))
        scalars["epoch"] = self.state.epoch + self.state.batch_in_epoch / batches
        if self.accelerator.scaler is not None:  # fp16
            scalars["loss_scale"] = self.accelerator.scaler.get_scale()
            scalars["skipped_steps"] = self.state.skipped_steps
        return scalars

    # ------------------------------------------------------------------ validation
    @_outside_throughput
    def _validate(self, track_best: bool = True) -> bool:
        """Validate on all ranks; log; step metric schedulers; track best. True: stop early."""
        self.val_spec.batch_sampler.set_epoch(0)
        self.val_spec.batch_sampler.set_start_batch(0)
        for model in self.models.values():
            model.eval()
        outputs = []
        with torch.no_grad(), self.averaging.swapped_in() as averaged:
            for batch in self._loader(self.val_spec, int(self.cfg.seed)):
                with self.accelerator.autocast():
                    out = self.task.validation_step(to_device(batch, self.accelerator.device))
                outputs.append({k: _to_cpu(v) for k, v in out.items()})
        for model in self.models.values():
            model.train()
        outputs = gather_object(outputs)  # every rank gets every rank's outputs
        metrics = {f"val_{k}": float(v) for k, v in self.task.validation_end(outputs).items()}
        if self.averaging.enabled:  # 1 when these metrics come from the averaged weights
            metrics["val_averaged"] = float(averaged)
        state = self.state
        self.val_metrics, state.last_val_step = metrics, state.step
        self.writers.log_scalars(state.step, {"epoch": state.epoch, **metrics}, "val")
        self.progress.write(
            f"validation at step {state.step}: "
            + " ".join(f"{k}={v:.5g}" for k, v in metrics.items())
        )
        if self.is_main:
            examples = self.task.examples(outputs) or {}
            for name, rows in examples.get("text", {}).items():
                self.writers.log_text(state.step, name, rows)
            for name, (wave, sample_rate) in examples.get("audio", {}).items():
                self.writers.log_audio(state.step, name, wave, sample_rate)
        for sched in self.schedulers.values():
            if sched.interval == "metric":
                sched.scheduler.step(_metric(metrics, sched.monitor, "lr_scheduler.monitor"))
        if not track_best or not self.monitor:
            return False
        mode, key = self.monitor
        value, best = _metric(metrics, key, "trainer.monitor"), state.best_metric
        if best is None or (value < best if mode == "min" else value > best):
            state.best_metric, state.best_step = value, state.step
            state.validations_without_improvement = 0
            self._save(best=True)
            return False
        state.validations_without_improvement += 1
        patience = self.tcfg.get("early_stop_patience")
        if patience and state.validations_without_improvement >= int(patience):
            self.progress.write(
                f"early stop: {key} did not improve in {patience} validations (best {best:.5g} at step {state.best_step})"
            )
            self._stop_reason = "early_stop"
            return True
        return False

    # ------------------------------------------------------------------ checkpoints
    @_outside_throughput
    def _save(self, best: bool = False) -> None:
        """Save a checkpoint (all ranks join: their RNG states are gathered to rank 0)."""
        position = (self.state.step, self.state.epoch, self.state.batch_in_epoch)
        if self._last_saved == position and not best:
            return  # e.g. a new best was just saved at this step
        self._last_saved = position
        rng_states = gather_object([capture_rng_state()])  # one list item per rank
        # Whole weights and optimizer states (under FSDP every rank sends rank 0 its shards).
        weights = full_model_states(self.accelerator, self.models)
        optimizer_states = {
            name: full_optimizer_state(self.accelerator, self.models, o.optimizer.optimizer)
            for name, o in self.optimizers.items()
        }
        if self.is_main:
            state = collect_state(
                self.state,
                self.optimizers,
                self.schedulers,
                self.accelerator.scaler,
                rng_states,
                self.loader_generator,
                optimizer_states,
            )
            state["averaging"] = self.averaging.meta()
            state["time_budget"] = self.budget.state() if self.budget is not None else None
            fresh = self.state.last_val_step == self.state.step
            meta = {"epoch": self.state.epoch, "metrics": self.val_metrics if fresh else {}}
            if self.averaging.enabled:
                meta["averaging"] = self.averaging.meta()
            weights.update(self.averaging.weight_files())
            config = OmegaConf.to_yaml(self.cfg, resolve=True)
            path = ckpt.save_checkpoint(
                self.ckpt_dir,
                self.state.step,
                weights,
                state,
                meta,
                config,
                self.task.save_artifacts,
            )
            ckpt.update_tag(self.ckpt_dir, "last", path)
            if best:
                ckpt.update_tag(self.ckpt_dir, "best", path)
            ckpt.prune_checkpoints(self.ckpt_dir, int(self.tcfg.get("keep_last", 2)))
        self.accelerator.wait_for_everyone()

    def _load_state(self, resume: dict) -> None:
        """Restore optimizers, schedulers, scaler, counters and this rank's RNG states."""
        scaler = self.accelerator.scaler
        self.state, notes = restore_state(
            resume["state"],
            self.optimizers,
            self.schedulers,
            scaler,
            self.loader_generator,
            self.rank,
            self.world_size,
            functools.partial(load_full_optimizer_state, self.accelerator, self.models)
            if is_fsdp(self.accelerator)
            else None,
        )
        self._last_saved = (self.state.step, self.state.epoch, self.state.batch_in_epoch)
        for note in notes:
            self._note(note)

    def _check_ranks_agree(self) -> None:
        """Under DDP every rank must end with the same parameters: compare checksums."""
        if is_fsdp(self.accelerator):  # each rank holds a shard: fingerprint the whole weights
            whole = full_model_states(self.accelerator, self.models)
            checksums = [{"rank": 0, "sharded": True, **ckpt.state_checksum(whole)}]
            self.writers.log_event("end", step=self.state.step, param_checksums=checksums)
            return
        mine = {"rank": self.rank, **ckpt.param_checksum(self.models)}
        checksums = gather_object([mine])
        self.writers.log_event("end", step=self.state.step, param_checksums=checksums)
        if self.is_main and len({c["sha256"] for c in checksums}) > 1:
            message = f"RANKS HAVE DIFFERENT PARAMETERS at the end of training: {checksums}"
            self._note("!" * 80 + f"\nWARNING: {message}\n" + "!" * 80)
            warnings.warn(message, stacklevel=1)

    def close(self) -> None:
        """Give the task its raw modules back and drop the DDP wrappers (wrappers that outlive
        their process group can abort the interpreter at exit); the process group ends as
        ``engine/distributed.py`` says (at once in one process, at exit under torchrun)."""
        for name, module in self.models.items():
            if getattr(self.task, name, module) is not module:  # the DDP wrapper swapped in
                setattr(self.task, name, module)
        self.optimizer_step.models = {}
        self.accelerator.free_memory()  # drops Accelerate's references, then gc
        end_training(self.accelerator)
        torch.set_num_threads(self._threads_before)
        if getattr(self, "_previous_sigint", None) is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)

    def _note(self, message: str) -> None:
        if self.is_main:
            print(message, file=sys.stderr, flush=True)


def _ignore_interrupts(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which stops at a step boundary."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def parameter_counts(models: dict) -> dict[str, dict[str, int]]:
    """``{model name: {"total": n, "trainable": n}}``: logged at the start of every run segment."""
    counts = {}
    for name, model in models.items():
        params = list(model.parameters())
        counts[name] = {
            "total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad),
        }
    return counts


def _to_cpu(value):
    """Validation outputs travel between ranks: 0-dim tensors -> floats, tensors -> CPU."""
    if torch.is_tensor(value):
        return value.item() if value.dim() == 0 else value.detach().cpu()
    return value


def _parse_monitor(monitor: str | None) -> tuple[str, str] | None:
    """'min val_wer' -> ("min", "val_wer")."""
    if not monitor:
        return None
    parts = monitor.split()
    if len(parts) != 2 or parts[0] not in ("min", "max"):
        raise ValueError(
            f"trainer.monitor is '{monitor}'; write 'min val_<metric>' or 'max val_<metric>'"
        )
    return parts[0], parts[1]


def _metric(metrics: dict, key: str, setting: str) -> float:
    if key not in metrics:
        raise KeyError(f"{setting} asks for '{key}' but validation gave {sorted(metrics)}")
    return metrics[key]


def _batch_size(batch: dict) -> int:
    for value in batch.values():
        if (torch.is_tensor(value) and value.dim() > 0) or isinstance(value, list):
            return len(value)
    return 1


def build_task(cfg: DictConfig):
    """Seed as ``cfg`` says, then build its task (``cfg.task._target_`` called with ``cfg=cfg``).

    Seeding first makes the model's initial weights depend on ``cfg.seed`` alone. A task that
    rejects its config or data (a ``ValueError`` such as ``ConfigError``, or an ``OSError`` such
    as a missing corpus) raises that error itself, not Hydra's ``InstantiationException`` around
    it, so its message, which names the key or file and what to do, reaches the user as it is.
    """
    seed_everything(int(cfg.seed), bool(cfg.trainer.get("deterministic", False)))
    try:
        return hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    except InstantiationException as err:
        if isinstance(err.__cause__, (ValueError, OSError)):
            raise err.__cause__ from None
        raise


def run(cfg: DictConfig, overrides=()) -> dict:
    """Run one experiment from its full config: what ``seqlab train``, ``seqlab sweep``,
    ``seqlab.train`` and the tests all do once the config is composed.

    Checks ``trainer.resume_from`` before anything is built or written, builds the task
    (:func:`build_task`), then trains it (:func:`fit`; the engine makes the run directory on rank
    0, or reuses the one that owns ``trainer.resume_from``, and shares it with every rank).

    Args:
        cfg: the full resolved config (``seqlab.config.compose_experiment``, or a run's config.yaml).
        overrides: the command-line overrides, written to the run's overrides.txt.

    Returns:
        :func:`fit`'s summary.
    """
    resume_run_dir(cfg)
    return fit(cfg, build_task(cfg), None, overrides=overrides)


def main(argv: list[str] | None = None) -> dict:
    """``python -m seqlab.engine.trainer --config run.yaml [key=value ...]``: train from a full
    resolved config (no Hydra composition: ``seqlab train`` does that). Works under torchrun."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--config", required=True, help="a full config YAML, e.g. a run's config.yaml"
    )
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. trainer.n_epochs=3")
    args = parser.parse_args(argv)
    cfg = OmegaConf.merge(OmegaConf.load(args.config), OmegaConf.from_dotlist(args.overrides))
    return run(cfg, args.overrides)


if __name__ == "__main__":
    sys.exit(130 if main().get("stop_reason") == "interrupted" else 0)
