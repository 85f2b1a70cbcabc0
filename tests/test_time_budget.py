"""trainer.max_seconds: the lr schedule and SWA's start follow the time budget, so a run stopped
by the clock anneals; a resumed run follows the same schedule. Time is faked (the trainer's
clock moves by a set number of seconds per training step): nothing sleeps, no timing is asserted."""

from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from seqlab.engine import checkpoint as ckpt
from seqlab.engine import trainer as trainer_module
from seqlab.engine.time_budget import TimeBudget
from seqlab.engine.trainer import fit
from seqlab.engine.writers import read_metrics
from toy_task import default_config

BUDGET = 20.0  # seconds
SCHEDULES = {
    "cosine": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": "auto",
               "eta_min": 1e-4},
    "onecycle": {"_target_": "torch.optim.lr_scheduler.OneCycleLR", "max_lr": 0.01,
                 "total_steps": "auto", "pct_start": 0.2},
    "warmup_linear": {"_target_": "seqlab.engine.schedulers.WarmupLinearDecay",
                      "warmup_steps": 3, "total_steps": "auto"},
}  # fmt: skip


class FakeClock:
    """The trainer's clock: each training step takes ``seconds(k)`` for the run's k-th step."""

    def __init__(self, seconds, steps_done: int = 0):
        self.now, self.steps, self.seconds = 1000.0, steps_done, seconds

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.steps += 1
        self.now += self.seconds(self.steps)


def slower_after_10(step: int) -> float:
    return 1.0 if step <= 10 else 3.0


def _train(cfg, monkeypatch, clock):
    monkeypatch.setattr(trainer_module, "_clock", clock)
    task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    training_step = task.training_step

    def timed_step(batch):
        clock.tick()
        return training_step(batch)

    task.training_step = timed_step
    return fit(cfg, task)


def _config(tmp_path, schedule: str, **trainer):
    settings = dict(
        runs_root=str(tmp_path), n_epochs=50, max_seconds=BUDGET, val_every_n_epochs=None,
        monitor=None, save_every_n_epochs=None, averaging={"type": "swa", "swa_start": 0.75},
    )  # fmt: skip
    cfg = default_config(**{**settings, **trainer})
    cfg.lr_scheduler = SCHEDULES[schedule]
    return cfg


def _lrs(run_dir) -> dict[int, float]:
    return {r["step"]: r["lr/main"] for r in read_metrics(run_dir) if r["split"] == "train"}


def _expected_lrs(cfg, planned: int, positions: list[int]) -> list[float]:
    """The schedule built for ``planned`` steps on its own, at each position."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=0.01)
    plain = OmegaConf.to_container(cfg.lr_scheduler)
    plain = {k: planned if v == "auto" else v for k, v in plain.items()}
    scheduler = hydra.utils.instantiate(plain, optimizer=optimizer)
    values = []
    for position in positions:
        while scheduler.last_epoch < position:
            optimizer.step()
            scheduler.step()
        values.append(optimizer.param_groups[0]["lr"])
    return values


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_a_time_budget_anneals_the_schedule_and_starts_swa_at_its_fraction(
    tmp_path, monkeypatch, capsys, schedule
):
    """n_epochs=50 would be 300 steps; 1 s steps plan 20 steps for the 20 s budget; from step 11
    steps take 3 s, so the schedule follows the clock: positions 13, 16, 19, then 20 at 22 s."""
    cfg = _config(tmp_path, schedule)
    summary = _train(cfg, monkeypatch, FakeClock(slower_after_10))
    assert summary["stop_reason"] == "time_budget" and summary["step"] == 14
    assert summary["time_budget"]["planned_steps"] == 20
    assert summary["time_budget"]["follows"] == ["lr_scheduler.main", "averaging.swa_start"]
    lrs = _lrs(summary["run_dir"])
    positions = [*range(2, 11), 13, 16, 19, 20]  # the plan is made at step 2
    expected = _expected_lrs(cfg, 20, positions)
    assert [lrs[step] for step in range(2, 15)] == pytest.approx(expected, rel=1e-6)
    if schedule != "onecycle":  # OneCycleLR's last value is at total_steps - 1
        assert lrs[14] == pytest.approx(1e-4 if schedule == "cosine" else 0.0, abs=1e-12)
    last = ckpt.load_checkpoint(f"{summary['run_dir']}/checkpoints/last")
    # SWA starts after 0.75 * 20 = 15 planned steps: at steps 12, 13, 14 (positions 16, 19, 20)
    assert last["meta"]["averaging"]["start_step"] == 15
    assert last["meta"]["averaging"]["n_averaged"] == 3
    err = capsys.readouterr().err
    assert "time budget 20 s: lr_scheduler 'main' and SWA's start follow elapsed training" in err
    assert "time budget: 20 steps planned for 20 s" in err
    if schedule == "cosine":  # the run's report says so too
        from seqlab.report.run_report import write_report

        write_report(summary["run_dir"])
        report = (Path(summary["run_dir"]) / "report.md").read_text()
        assert "| time budget | 20 s; 20 steps planned |" in report


def test_a_resumed_run_follows_the_same_time_budget_schedule(tmp_path, monkeypatch, capsys):
    """Killed at step 11 (past the plan and the first slow step), resumed: the same lrs, the same
    SWA start and the same final weights as the run that was not interrupted."""
    cfg = _config(tmp_path, "cosine", save_every_n_steps=1, keep_last=30)
    summary = _train(cfg, monkeypatch, FakeClock(slower_after_10))
    run_dir = summary["run_dir"]
    whole_lrs, whole = _lrs(run_dir), ckpt.load_checkpoint(f"{run_dir}/checkpoints/last")
    capsys.readouterr()

    resumed_cfg = _config(tmp_path, "cosine", save_every_n_steps=1, keep_last=30)
    resumed_cfg.trainer.resume_from = f"{run_dir}/checkpoints/step-11"
    resumed_summary = _train(resumed_cfg, monkeypatch, FakeClock(slower_after_10, steps_done=11))
    assert "rebuilt" not in capsys.readouterr().err  # the saved schedule was loaded as is
    assert resumed_summary["step"] == summary["step"] == 14
    assert resumed_summary["stop_reason"] == "time_budget"
    resumed_lrs = _lrs(run_dir)  # the same metrics.jsonl, continued
    assert [resumed_lrs[s] for s in (12, 13, 14)] == [whole_lrs[s] for s in (12, 13, 14)]
    resumed = ckpt.load_checkpoint(f"{run_dir}/checkpoints/last")
    assert resumed["meta"]["averaging"] == whole["meta"]["averaging"]
    assert resumed["state"]["time_budget"] == whole["state"]["time_budget"]
    for name in ("model", "model_swa"):
        for key, value in whole["models"][name].items():
            assert torch.equal(value, resumed["models"][name][key]), (name, key)


def test_a_budget_longer_than_n_epochs_leaves_the_run_as_it_was(tmp_path, monkeypatch):
    """2 epochs of 6 steps fit in the budget: the plan is the 12 steps, the run ends by n_epochs
    (its last epoch's end included) with the lrs of the same run without a budget."""
    cfg = _config(tmp_path, "cosine", n_epochs=2)
    summary = _train(cfg, monkeypatch, FakeClock(lambda step: 1.0))
    assert summary["stop_reason"] == "n_epochs" and summary["epoch"] == 2
    assert summary["step"] == summary["time_budget"]["planned_steps"] == 12
    plain = _config(tmp_path, "cosine", n_epochs=2, max_seconds=None)
    plain_summary = _train(plain, monkeypatch, FakeClock(lambda step: 1.0))
    assert plain_summary["time_budget"] is None
    assert _lrs(summary["run_dir"]) == _lrs(plain_summary["run_dir"])


def test_steps_faster_than_planned_follow_the_clock_to_the_budget_end():
    budget = TimeBudget(20.0, 300, ["main"], swa=False)
    assert budget.plan(1, 1.0) is None  # the first step is not measured (warm-up)
    assert budget.plan(2, 2.0) == 20  # 1 step/s, 18 s left
    seconds, positions = 2.0, []
    for step in range(3, 39):  # twice as fast as planned: 36 more steps in the 18 s left
        seconds += 0.5
        positions.append(budget.advance(step, seconds))
    assert positions[:4] == [2, 3, 3, 4] and positions[-1] == 20 and seconds == 20.0
    assert positions == sorted(positions)  # the schedule never moves back
    # n_epochs ends the run first (300 steps of which 20 planned): the steps fraction leads
    ahead = TimeBudget(20.0, 40, ["main"], swa=False)
    ahead.plan(1, 1.0)
    assert ahead.plan(2, 2.0) == 20
    assert ahead.advance(30, 3.0) == 15 and ahead.advance(40, 4.0) == 20
    # the plan never exceeds what n_epochs allows, and a resumed plan is kept only for the same
    # budget and run length
    assert TimeBudget(1000.0, 300, ["main"], False).plan(1, 1.0) is None
    short = TimeBudget(1000.0, 30, ["main"], False)
    short.plan(1, 1.0)
    assert short.plan(30, 30.0) == 30
    assert TimeBudget(20.0, 300, ["main"], False, budget.state()).planned_steps == 20
    assert TimeBudget(40.0, 300, ["main"], False, budget.state()).planned_steps is None
