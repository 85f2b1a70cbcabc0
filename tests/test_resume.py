"""Kill a training process with SIGKILL mid-epoch, resume from checkpoints/last, and get the
same per-step losses and bit-identical final weights as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.trainer import main
from seqlab.engine.writers import read_events, read_metrics
from toy_task import child_env, default_config

STEPS_PER_EPOCH = 6  # 24 items / batch 4


def _config(tmp_path: Path, run_name: str, num_workers: int) -> Path:
    cfg = default_config(
        runs_root=str(tmp_path / "runs"),
        run_name=run_name,
        n_epochs=2,
        save_every_n_steps=1,
        val_every_n_steps=4,
        val_every_n_epochs=None,
        keep_last=3,
        num_workers=num_workers,
    )
    cfg.data.update(n_items=24, batch_size=4, shuffle=True)
    cfg.model.dropout = 0.3  # dropout draws from the global RNG: resume must restore it
    path = tmp_path / f"{run_name}.yaml"
    OmegaConf.save(cfg, path)
    return path


def _train_curve(run_dir: Path) -> dict:
    records = read_metrics(run_dir)
    return {(r["split"], r["step"]): r.get("loss", r.get("val_mse")) for r in records}


def _entry(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqlab.engine.trainer", *args]


def _resume(run: Path, checkpoint: Path, env: dict) -> None:
    """Continue ``run`` from ``checkpoint`` with its own config.yaml, in a fresh process."""
    result = subprocess.run(
        _entry("--config", str(run / "config.yaml"), f"trainer.resume_from={checkpoint}"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, num_workers):
    env = child_env(PYTHONUNBUFFERED="1")
    # The reference: uninterrupted, in this process (the same code as the entry point).
    main(["--config", str(_config(tmp_path, "reference", num_workers))])
    reference = tmp_path / "runs" / "toy" / "reference"

    # The victim: slowed down so that we can kill it after step 5, in the middle of epoch 0.
    victim_config = _config(tmp_path, "victim", num_workers)
    victim = tmp_path / "runs" / "toy" / "victim"
    process = subprocess.Popen(
        _entry("--config", str(victim_config), "task.sleep_s=0.3"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    last = victim / "checkpoints" / "last"
    while time.time() < deadline and process.poll() is None:
        if last.is_symlink() and int(os.readlink(last).split("-")[1]) >= 5:
            break
        time.sleep(0.01)
    assert process.poll() is None, (
        f"the run ended before it could be killed: {process.stderr.read().decode()[-2000:]}"
    )
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = ckpt.load_checkpoint(last)["state"]["train_state"]
    assert 5 <= killed_at["step"] < 2 * STEPS_PER_EPOCH
    assert 0 < killed_at["batch_in_epoch"] < STEPS_PER_EPOCH, "the kill must land mid-epoch"

    # Resume from the run's own config.yaml (which the resume overwrites, keeping the old one).
    _resume(victim, last, env)
    resume_events = [e for e in read_events(victim) if e["event"] == "resume"]
    assert [e["step"] for e in resume_events] == [killed_at["step"]]
    assert list(victim.glob("config.*.yaml")), "the previous config.yaml is kept"

    expected, got = _train_curve(reference), _train_curve(victim)
    assert len([k for k in expected if k[0] == "train"]) == 2 * STEPS_PER_EPOCH
    assert got == expected  # every train loss and validation value, bit for bit
    final_reference = ckpt.load_checkpoint(reference / "checkpoints" / "last")
    final_resumed = ckpt.load_checkpoint(victim / "checkpoints" / "last")
    for key, value in final_reference["models"]["model"].items():
        assert torch.equal(value, final_resumed["models"]["model"][key]), key
    assert final_resumed["state"]["train_state"]["step"] == 2 * STEPS_PER_EPOCH


def test_resume_with_more_epochs_rebuilds_auto_one_cycle(tmp_path):
    """n_epochs grows on resume: OneCycleLR(total_steps=auto) is rebuilt for the new length and
    fast-forwarded, so the run reaches the end of the new schedule instead of failing."""
    cfg = default_config(runs_root=str(tmp_path / "runs"), run_name="grow", n_epochs=1)
    cfg.lr_scheduler = {
        "_target_": "torch.optim.lr_scheduler.OneCycleLR",
        "max_lr": 0.05,
        "total_steps": "auto",
    }
    path = tmp_path / "grow.yaml"
    OmegaConf.save(cfg, path)
    main(["--config", str(path)])
    run = tmp_path / "runs" / "toy" / "grow"
    main(
        [
            "--config",
            str(run / "config.yaml"),
            "trainer.n_epochs=3",
            f"trainer.resume_from={run}/checkpoints/last",
        ]
    )
    lrs = [r["lr/main"] for r in read_metrics(run) if r["split"] == "train"]
    assert len(lrs) == 18
    assert lrs[-2] == pytest.approx(0.05 / (25 * 1e4))  # the new 18-step cycle ended
    assert OmegaConf.load(run / "config.yaml").trainer.n_epochs == 3


def test_ctrl_c_saves_where_it_stopped_says_how_to_resume_and_resumes_exactly(tmp_path):
    env = child_env(PYTHONUNBUFFERED="1")
    main(["--config", str(_config(tmp_path, "reference", 0))])
    reference = tmp_path / "runs" / "toy" / "reference"

    # No periodic step checkpoints: the only one mid-epoch is the one Ctrl-C writes.
    victim_config, no_step_saves = _config(tmp_path, "victim", 0), "trainer.save_every_n_steps=null"
    victim = tmp_path / "runs" / "toy" / "victim"
    process = subprocess.Popen(
        _entry("--config", str(victim_config), "task.sleep_s=0.3", no_step_saves),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics, deadline = victim / "metrics.jsonl", time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if metrics.exists() and metrics.read_text().count('"split": "train"') >= 2:
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the run ended too soon: {process.stderr.read()[-2000:]}"
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    last = victim / "checkpoints" / "last"
    stopped = ckpt.load_checkpoint(last)["state"]["train_state"]
    assert 2 <= stopped["step"] < STEPS_PER_EPOCH and stopped["batch_in_epoch"] == stopped["step"]
    assert f"interrupted at step {stopped['step']}" in stderr
    assert f"trainer.resume_from={last}" in stderr

    _resume(victim, last, env)
    assert _train_curve(victim) == _train_curve(reference)  # every loss, bit for bit
    final_reference = ckpt.load_checkpoint(reference / "checkpoints" / "last")
    final_resumed = ckpt.load_checkpoint(last)
    for key, value in final_reference["models"]["model"].items():
        assert torch.equal(value, final_resumed["models"]["model"][key]), key
