"""Two processes on the CPU (gloo) with torchrun: ranks end with identical parameters, and the
DDP run with accumulation and uneven micro-batches equals one process seeing the same items."""

import shutil
import subprocess
import sys
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.trainer import fit
from seqlab.engine.writers import read_events, read_metrics
from toy_task import child_env, default_config


def _torchrun() -> str:
    torchrun = Path(sys.executable).with_name("torchrun")  # the venv's, next to its python
    return str(torchrun) if torchrun.exists() else shutil.which("torchrun")


def _config(tmp_path: Path, run_name: str, **trainer):
    trainer = {"n_epochs": 2, **trainer}
    cfg = default_config(runs_root=str(tmp_path / "runs"), run_name=run_name, **trainer)
    cfg.model.dropout = 0.0
    cfg.optimizer = {"_target_": "torch.optim.SGD", "lr": 0.3, "clip_grad_norm": None}
    return cfg


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_two_ranks_agree_and_match_one_process(tmp_path):
    torchrun = _torchrun()
    # Batches of sizes 1, 2, 2, 3 (repeating) over 16 items; rank 0 takes batches 0, 2, 4, 6 and
    # rank 1 takes 1, 3, 5, 7. With 2 micro-batches per step, step 1 sees items 0-7 and step 2
    # items 8-15, unevenly split between ranks and micro-batches: the weights must equal one
    # process with batches of 8, which needs no_sync, n_units weighting and the x world_size.
    cfg = _config(tmp_path, "ddp", grad_accum_steps=2)
    cfg.data.update(n_items=16, batch_size=[1, 2, 2, 3], shuffle=False)
    config_path = tmp_path / "ddp.yaml"
    OmegaConf.save(cfg, config_path)
    env = child_env(OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--standalone",
            "-m",
            "seqlab.engine.trainer",
            "--config",
            str(config_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    run = tmp_path / "runs" / "toy" / "ddp"
    end = [e for e in read_events(run) if e["event"] == "end"][-1]
    checksums = end["param_checksums"]
    assert [c["rank"] for c in checksums] == [0, 1]
    assert checksums[0]["sha256"] == checksums[1]["sha256"]
    assert "RANKS HAVE DIFFERENT PARAMETERS" not in result.stderr
    train = [r for r in read_metrics(run) if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert train[-1]["loss"] < train[0]["loss"]  # training progressed

    single = _config(tmp_path, "single", grad_accum_steps=1)
    single.data.update(n_items=16, batch_size=8, shuffle=False)
    torch.manual_seed(single.seed)
    task = hydra.utils.instantiate(single.task, cfg=single, _recursive_=False)
    fit(single, task)
    ddp_weights = ckpt.load_checkpoint(run / "checkpoints" / "last")["models"]["model"]
    for key, value in task.model.state_dict().items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=0, atol=1e-6)
    single_train = [
        r for r in read_metrics(tmp_path / "runs" / "toy" / "single") if r["split"] == "train"
    ]
    assert [r["loss"] for r in train] == pytest.approx([r["loss"] for r in single_train], abs=1e-6)


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_two_ranks_with_two_named_optimizers_agree(tmp_path):
    # GAN-style task: two DDP-wrapped models, each yielded loss stepped before the next.
    cfg = _config(tmp_path, "gan", n_epochs=1)
    cfg.task.gan = True
    cfg.optimizer = {
        "generator": {"_target_": "torch.optim.Adam", "lr": 0.01},
        "discriminator": {"_target_": "torch.optim.SGD", "lr": 0.1, "clip_grad_norm": 0.5},
    }
    config_path = tmp_path / "gan.yaml"
    OmegaConf.save(cfg, config_path)
    torchrun = _torchrun()
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--standalone", "-m", "seqlab.engine.trainer", "--config", str(config_path)],
        env=child_env(OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    run = tmp_path / "runs" / "toy" / "gan"
    checksums = [e for e in read_events(run) if e["event"] == "end"][-1]["param_checksums"]
    assert len(checksums) == 2 and checksums[0]["sha256"] == checksums[1]["sha256"]
    train = [r for r in read_metrics(run) if r["split"] == "train"]
    assert len(train) == 3 and all("grad_norm/discriminator" in r for r in train)
