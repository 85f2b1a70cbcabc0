"""The training loop on the toy task: accumulation, non-finite steps, several optimizers,
validation/best/early stop, precision, writers and run directories."""

import copy
import json
import math
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.rundir import create_run_dir
from seqlab.engine.trainer import NonFiniteLossError, fit
from seqlab.engine.writers import JsonlWriter, read_events, read_metrics
from toy_task import ToyDataset, collate, default_config


def _run(cfg):
    task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    return task, fit(cfg, task)


def _config(tmp_path, **trainer):
    return default_config(runs_root=str(tmp_path), **trainer)


def test_accumulating_batches_of_3_and_5_equals_one_batch_of_8(tmp_path):
    def one_step(batch_size, accum):
        cfg = _config(
            tmp_path, n_epochs=1, grad_accum_steps=accum, val_every_n_epochs=None, monitor=None
        )
        cfg.data.update(n_items=8, batch_size=batch_size, shuffle=False)
        cfg.model.dropout = 0.0
        cfg.optimizer = {"_target_": "torch.optim.SGD", "lr": 0.5}
        torch.manual_seed(0)
        task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
        initial = copy.deepcopy(task.model)
        _, summary = task, fit(cfg, task)
        assert summary["step"] == 1
        return initial, task.model

    initial, accumulated = one_step([3, 5], accum=2)
    _, single = one_step(8, accum=1)
    # Reference by hand: one SGD step on the mean loss over all 8 items.
    data = collate([ToyDataset(8, 4, 1, 0.1)[i] for i in range(8)])
    loss = torch.nn.functional.mse_loss(initial(data["x"]), data["y"])
    loss.backward()
    for p_ref, p_acc, p_single in zip(
        initial.parameters(), accumulated.parameters(), single.parameters(), strict=True
    ):
        expected = p_ref.detach() - 0.5 * p_ref.grad
        torch.testing.assert_close(p_acc.detach(), expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(p_single.detach(), expected, rtol=0, atol=1e-6)


def test_nan_loss_at_step_3_skips_that_update(tmp_path):
    cfg = _config(tmp_path, n_epochs=1, save_every_n_steps=1, keep_last=10)
    cfg.task.nan_at_steps = [3]
    task, summary = _run(cfg)
    run = summary["run_dir"]
    records = {r["step"]: r for r in read_metrics(run) if r["split"] == "train"}
    assert records[2]["nonfinite_steps"] == 0 and records[3]["nonfinite_steps"] == 1
    assert records[3]["loss"] == "nan" and records[6]["nonfinite_steps"] == 1
    step2, step3, step4 = (ckpt.load_checkpoint(f"{run}/checkpoints/step-{s}") for s in (2, 3, 4))
    for key, value in step2["models"]["model"].items():
        assert torch.equal(value, step3["models"]["model"][key])  # step 3 changed nothing
        assert not torch.equal(value, step4["models"]["model"][key])  # step 4 did train
    assert all(torch.isfinite(p).all() for p in task.model.parameters())


def test_always_nan_stops_with_advice(tmp_path):
    cfg = _config(tmp_path, max_nonfinite_in_a_row=3)
    cfg.task.nan_always = True
    with pytest.raises(NonFiniteLossError) as error:
        _run(cfg)
    message = str(error.value)
    for hint in (
        "3 optimizer steps in a row",
        "step 3",
        "lower learning rate",
        "clip_grad_norm",
        "bf16",
        "batch items",
    ):
        assert hint in message


def test_two_named_optimizers_with_own_clipping_and_schedulers(tmp_path):
    cfg = _config(tmp_path, n_epochs=1, save_every_n_epochs=1)
    cfg.task.gan = True
    cfg.optimizer = {
        "generator": {"_target_": "torch.optim.Adam", "lr": 0.01, "clip_grad_norm": None},
        "discriminator": {"_target_": "torch.optim.SGD", "lr": 0.1, "clip_grad_norm": 1e-3},
    }
    cfg.lr_scheduler = {
        "generator": {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 2, "gamma": 0.5},
        "discriminator": {"_target_": "torch.optim.lr_scheduler.ExponentialLR", "gamma": 0.9},
    }
    task, summary = _run(cfg)
    train = [r for r in read_metrics(summary["run_dir"]) if r["split"] == "train"]
    assert len(train) == 6
    for step, record in enumerate(train, start=1):
        assert record["lr/generator"] == pytest.approx(0.01 * 0.5 ** (step // 2))
        assert record["lr/discriminator"] == pytest.approx(0.1 * 0.9**step)
        assert record["grad_norm/generator"] > 0 and record["grad_norm/discriminator"] > 0
        assert {"loss/generator", "loss/discriminator", "mse/generator"} <= set(record)
    files = {p.name for p in ckpt.resolve_checkpoint(summary["run_dir"]).iterdir()}
    assert {"generator.safetensors", "discriminator.safetensors"} <= files


def test_gan_accumulation_of_two_micro_batches_equals_one_batch(tmp_path):
    """Two optimizers and accumulation: each network's update over micro-batches of 4 + 4
    equals the update over one batch of 8 (D first on both halves, then G on the updated D)."""

    def one_step(batch_size, accum):
        cfg = _config(
            tmp_path, n_epochs=1, grad_accum_steps=accum, val_every_n_epochs=None, monitor=None
        )
        cfg.task.gan = True
        cfg.data.update(n_items=8, batch_size=batch_size, shuffle=False)
        cfg.model.dropout = 0.0
        cfg.optimizer = {
            "generator": {"_target_": "torch.optim.SGD", "lr": 0.5},
            "discriminator": {"_target_": "torch.optim.SGD", "lr": 0.5},
        }
        cfg.lr_scheduler = None
        torch.manual_seed(0)
        task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
        initial = {n: copy.deepcopy(m) for n, m in task.models().items()}
        assert fit(cfg, task)["step"] == 1
        return initial, task

    initial, accumulated = one_step(4, accum=2)
    _, single = one_step(8, accum=1)
    for name in ("generator", "discriminator"):
        params = zip(
            initial[name].parameters(),
            getattr(accumulated, name).parameters(),
            getattr(single, name).parameters(),
            strict=True,
        )
        for p_init, p_acc, p_single in params:
            assert not torch.equal(p_init, p_acc)  # both networks were updated
            torch.testing.assert_close(p_acc, p_single, rtol=0, atol=1e-6)


def test_clipping_bounds_the_update(tmp_path):
    # SGD with lr 1 and clip 1e-3: every step moves the weights by exactly lr * 1e-3 in norm.
    cfg = _config(tmp_path, n_epochs=1, max_steps=1, monitor=None)
    cfg.model.dropout = 0.0
    cfg.optimizer = {"_target_": "torch.optim.SGD", "lr": 1.0, "clip_grad_norm": 1e-3}
    torch.manual_seed(0)
    task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    before = torch.cat([p.detach().flatten().clone() for p in task.model.parameters()])
    summary = fit(cfg, task)
    after = torch.cat([p.detach().flatten() for p in task.model.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-3)
    record = read_metrics(summary["run_dir"])[0]
    assert record["grad_norm/main"] > 1e-2  # logged before clipping


def test_early_stop_and_best_tag(tmp_path):
    # lr 0: validation never improves after the first one; patience 2 stops at step 3.
    cfg = _config(
        tmp_path, n_epochs=5, val_every_n_steps=1, val_every_n_epochs=None, early_stop_patience=2
    )
    cfg.optimizer = {"_target_": "torch.optim.SGD", "lr": 0.0}
    _, summary = _run(cfg)
    assert summary["step"] == 3 and summary["stopped_early"] and summary["best_step"] == 1
    assert summary["stop_reason"] == "early_stop"
    assert summary["best_checkpoint"].endswith("step-1")
    assert ckpt.resolve_checkpoint(summary["run_dir"]).name == "step-1"
    vals = [r for r in read_metrics(summary["run_dir"]) if r["split"] == "val"]
    assert [r["step"] for r in vals] == [1, 2, 3]


def test_validation_at_start_max_steps_bf16_and_progress_bar(tmp_path):
    cfg = _config(
        tmp_path, n_epochs=3, max_steps=4, val_at_start=True, precision="bf16", progress="bar"
    )
    _, summary = _run(cfg)
    assert summary["step"] == 4 and not summary["stopped_early"]
    assert summary["stop_reason"] == "max_steps"
    records = read_metrics(summary["run_dir"])
    assert [r["step"] for r in records if r["split"] == "val"] == [0, 4]
    losses = [r["loss"] for r in records if r["split"] == "train"]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]


def test_tensorboard_and_examples_are_written(tmp_path):
    cfg = _config(tmp_path, n_epochs=1)
    cfg.writer.tensorboard = True
    _, summary = _run(cfg)
    assert list((tmp_path / "toy").glob("*/tb/events.out.tfevents.*"))
    events = read_events(summary["run_dir"])
    assert events[-1]["event"] == "end" and len(events[-1]["param_checksums"]) == 1


def test_missing_monitor_metric_is_a_clear_error(tmp_path):
    cfg = _config(tmp_path, n_epochs=1, monitor="min val_wer")
    with pytest.raises(KeyError, match="val_mse"):
        _run(cfg)


def test_wandb_missing_is_a_clear_error(tmp_path):
    pytest.importorskip("torch")
    try:
        import wandb  # noqa: F401

        pytest.skip("wandb is installed")
    except ImportError:
        pass
    from seqlab.config import ConfigError

    cfg = _config(tmp_path, n_epochs=1)
    cfg.writer.wandb = True
    with pytest.raises(ConfigError, match="seqlab\\[wandb\\]"):  # before the run dir is made
        _run(cfg)


def test_read_metrics_last_write_wins_and_resume_drops_abandoned_steps(tmp_path):
    writer = JsonlWriter(tmp_path)
    for step in (1, 2, 3):
        writer.log_scalars(step, {"loss": float(step), "epoch": 0}, "train")
    writer.log_event("resume", step=1)
    writer.log_scalars(2, {"loss": 20.0, "epoch": 0}, "train")
    writer.close()
    with open(tmp_path / "metrics.jsonl", "a") as file:
        file.write('{"step": 9, "spl')  # a line cut by a kill
    records = read_metrics(tmp_path)
    assert [(r["step"], r["loss"]) for r in records] == [(1, 1.0), (2, 20.0)]


def test_create_run_dir_writes_config_overrides_env(tmp_path):
    cfg = _config(tmp_path, run_name=None)
    first = create_run_dir(cfg, ["trainer.n_epochs=2", "model.hidden=8"])
    second = create_run_dir(cfg, [])
    assert first != second and first.parent == second.parent == tmp_path / "toy"
    assert OmegaConf.load(first / "config.yaml").trainer.n_epochs == 2
    assert (first / "overrides.txt").read_text() == "trainer.n_epochs=2\nmodel.hidden=8\n"
    env = json.loads((first / "env.json").read_text())
    assert env["torch"] == torch.__version__ and "git_commit" in env


def test_resume_archives_config_and_appends_overrides(tmp_path):
    from seqlab.engine.rundir import prepare_run_dir

    cfg = _config(tmp_path, n_epochs=1, run_name="r")
    _, summary = _run(cfg)
    resumed = OmegaConf.merge(
        cfg, {"trainer": {"resume_from": f"{summary['run_dir']}/checkpoints/last"}}
    )
    for _ in range(2):
        assert prepare_run_dir(resumed, ["trainer.n_epochs=2"]) == tmp_path / "toy" / "r"
    assert len(list((tmp_path / "toy" / "r").glob("config.*.yaml"))) == 2
    assert (tmp_path / "toy" / "r" / "overrides.txt").read_text().count("trainer.n_epochs=2") == 2


def test_optimizer_param_groups_keep_their_own_settings():
    from seqlab.engine.optim import build_optimizers

    class TwoGroups:
        def __init__(self):
            self.model = torch.nn.Linear(2, 2)

        def optimizer_params(self, name):
            return [
                {"params": [self.model.weight], "weight_decay": 0.1},
                {"params": [self.model.bias], "weight_decay": 0.0, "lr": 0.5},
            ]

    cfg = OmegaConf.create(
        {"optimizer": {"_target_": "torch.optim.AdamW", "lr": 0.1, "clip_grad_norm": 2.0}}
    )
    task = TwoGroups()
    named = build_optimizers(cfg, task)["main"]
    groups = named.optimizer.param_groups
    assert groups[0]["params"][0] is task.model.weight and named.clip_grad_norm == 2.0
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [(0.1, 0.1), (0.5, 0.0)]


def test_precision_auto_picks_native_bf16_only():
    from pathlib import Path

    import pytest

    from seqlab.engine.trainer import resolve_precision

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert resolve_precision("auto", use_cpu=True) == ("bf16" if native else "fp32")
    assert resolve_precision("fp16", use_cpu=True) == "fp16"
    with pytest.raises(ValueError, match="trainer.precision"):
        resolve_precision("half", use_cpu=True)


def test_max_seconds_stops_training_at_a_step_boundary(tmp_path):
    cfg = _config(tmp_path, n_epochs=50, max_seconds=0.3, val_every_n_epochs=None, monitor=None)
    cfg.task.sleep_s = 0.05  # each step takes at least 50 ms
    _, summary = _run(cfg)
    assert 1 <= summary["step"] < 50 * 6  # stopped by the budget, long before 50 epochs
    # the budget is not an early stop (that is early_stop_patience's): the summary says which
    assert not summary["stopped_early"] and summary["stop_reason"] == "time_budget"
    last = ckpt.load_checkpoint(f"{summary['run_dir']}/checkpoints/last")
    assert last["meta"]["step"] == summary["step"]  # and saved where it stopped


def test_the_parameter_count_is_in_the_summary_the_log_and_the_report(tmp_path, capsys):
    from seqlab.report.run_report import write_report

    cfg = _config(tmp_path, n_epochs=1, val_every_n_epochs=None, monitor=None, threads=1)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        task, summary = _run(cfg)
        assert torch.get_num_threads() == 2  # given back when the run ends
    finally:
        torch.set_num_threads(threads_before)
    total = sum(p.numel() for p in task.models()["model"].parameters())
    assert summary["stop_reason"] == "n_epochs"
    assert summary["parameters"] == {"model": {"total": total, "trainable": total}}
    assert (
        f"1 CPU thread; parameters: model {total:,} ({total:,} trainable)"
        in capsys.readouterr().err
    )
    run_dir = Path(summary["run_dir"])
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    start = [r for r in map(json.loads, lines) if r.get("event") == "start"]
    assert start[0]["parameters"]["model"]["total"] == total and start[0]["threads"] == 1
    write_report(run_dir)
    report = (run_dir / "report.md").read_text()
    assert f"| parameters | model {total:,} |" in report and "| CPU threads (torch) | 1 |" in report
