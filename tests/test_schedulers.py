"""Our schedules against hand-computed values; torch's schedules driven through the engine."""

import io

import hydra
import pytest
import torch

from seqlab.engine.schedulers import Noam, WarmupLinearDecay
from seqlab.engine.trainer import fit
from seqlab.engine.writers import read_metrics
from toy_task import default_config


def _lrs(scheduler_factory, steps: int, lr: float = 1.0) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = scheduler_factory(optimizer)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def test_warmup_linear_decay_matches_hand_computed_values():
    # warmup 2 of 6 steps: 0, 1/2, 1, then down by 1/4 per step to 0 and staying there.
    lrs = _lrs(lambda opt: WarmupLinearDecay(opt, warmup_steps=2, total_steps=6), steps=7, lr=2.0)
    assert lrs == pytest.approx([0.0, 1.0, 2.0, 1.5, 1.0, 0.5, 0.0, 0.0])


def test_noam_matches_the_paper_formula():
    d_model, warmup, factor = 16, 4, 2.0
    lrs = _lrs(lambda opt: Noam(opt, d_model=d_model, warmup_steps=warmup, factor=factor), steps=8)
    # lr(step) = factor * d^-0.5 * min(step^-0.5, step * warmup^-1.5), step 0 counted as 1.
    expected = [2.0 * 0.25 * min(max(s, 1) ** -0.5, max(s, 1) * 4**-1.5) for s in range(9)]
    assert lrs == pytest.approx(expected)
    assert max(lrs) == pytest.approx(lrs[warmup])  # the peak is at the end of warmup
    assert lrs[4] == pytest.approx(0.25)  # 2 * 1/4 * 4^-0.5


@pytest.mark.parametrize(
    "make",
    [lambda opt: WarmupLinearDecay(opt, 3, 10), lambda opt: Noam(opt, d_model=16, warmup_steps=3)],
    ids=["warmup_linear", "noam"],
)
def test_our_schedulers_state_dict_round_trips_with_weights_only(make):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make(optimizer)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = make(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    fresh.load_state_dict(state)
    assert fresh.last_epoch == 4 and fresh.get_last_lr() == scheduler.get_last_lr()
    fresh.optimizer.step()
    fresh.step()
    scheduler.optimizer.step()
    scheduler.step()
    assert fresh.get_last_lr() == scheduler.get_last_lr()  # the schedule goes on where it was


def test_warmup_longer_than_run_is_clamped_with_a_warning():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.warns(UserWarning, match=r"warmup_steps=10 is longer than the run \(5 optimizer"):
        scheduler = WarmupLinearDecay(optimizer, warmup_steps=10, total_steps=5)
    assert scheduler.warmup_steps == 5  # the lr peaks at the run's last step
    with pytest.raises(ValueError, match="warmup_steps >= 0"):
        WarmupLinearDecay(optimizer, warmup_steps=-1, total_steps=5)


def _train(tmp_path, lr_scheduler, optimizer=None, **trainer):
    cfg = default_config(runs_root=str(tmp_path), val_every_n_epochs=1, **trainer)
    cfg.lr_scheduler = lr_scheduler
    if optimizer:
        cfg.optimizer = optimizer
    task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    summary = fit(cfg, task)
    records = read_metrics(summary["run_dir"])
    train_lrs = [r["lr/main"] for r in records if r["split"] == "train"]
    return summary, train_lrs


def test_one_cycle_with_auto_total_steps_runs_to_the_end(tmp_path):
    # 48 items / 8 = 6 steps per epoch, 3 epochs = 18 steps; a wrong total_steps makes
    # OneCycleLR raise ("Tried to step 19 times") or stop short of its final lr.
    sched = {
        "_target_": "torch.optim.lr_scheduler.OneCycleLR",
        "max_lr": 0.05,
        "total_steps": "auto",
    }
    summary, lrs = _train(tmp_path, sched, n_epochs=3)
    assert summary["step"] == 18 and len(lrs) == 18
    assert max(lrs) == pytest.approx(0.05, rel=0.05)
    # lrs[i] is logged after step i + 1, so lrs[-2] drove the last update: the cycle's minimum,
    # max_lr / (div_factor * final_div_factor), only when total_steps was exactly 18.
    assert lrs[-2] == pytest.approx(0.05 / (25 * 1e4))


def test_cosine_t_max_auto_reaches_eta_min(tmp_path):
    sched = {
        "_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
        "T_max": "auto",
        "eta_min": 0.001,
    }
    _, lrs = _train(tmp_path, sched, n_epochs=2, max_steps=10)
    assert lrs[-1] == pytest.approx(0.001)  # T_max = min(12, max_steps=10)


def test_exponential_per_epoch(tmp_path):
    sched = {
        "_target_": "torch.optim.lr_scheduler.ExponentialLR",
        "gamma": 0.5,
        "interval": "epoch",
    }
    _, lrs = _train(tmp_path, sched, n_epochs=3)
    assert lrs[:6] == [0.01] * 6 and lrs[6:12] == [0.005] * 6 and lrs[12:] == [0.0025] * 6


def test_plateau_steps_on_validation_metric(tmp_path):
    # lr so small that val_mse never improves by ReduceLROnPlateau's threshold: halve every validation.
    sched = {
        "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "factor": 0.5,
        "patience": 0,
        "interval": "metric",
        "monitor": "val_mse",
    }
    optimizer = {"_target_": "torch.optim.SGD", "lr": 1e-6}
    _, lrs = _train(tmp_path, sched, optimizer=optimizer, n_epochs=3)
    assert lrs[0] == lrs[5] == 1e-6
    assert lrs[6] == pytest.approx(1e-6)  # first validation only sets the best
    assert lrs[12] == pytest.approx(0.5e-6)  # second one did not improve


def test_onecycle_survives_a_run_where_torch_would_divide_by_zero():
    """OneCycleLR with pct_start * total_steps == 1 divides by zero inside torch (0.2 x 5)."""
    from omegaconf import OmegaConf

    from seqlab.engine.optim import build_schedulers

    cfg = OmegaConf.create(
        {
            "trainer": {"n_epochs": 1},
            "lr_scheduler": {
                "_target_": "torch.optim.lr_scheduler.OneCycleLR",
                "max_lr": 1e-3,
                "total_steps": "auto",
                "pct_start": 0.2,
                "interval": "step",
            },
        }
    )
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=1e-3)
    scheduler = build_schedulers(cfg, {"main": optimizer}, 5, 5)["main"].scheduler
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] >= 0.0
