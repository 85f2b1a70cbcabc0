"""FSDP (``trainer.strategy=fsdp``: torch FSDP2 through Accelerate) for Hugging Face CTC fine-tuning,
on the CPU with gloo: two processes fine-tune a tiny randomly initialised Wav2Vec2-BERT (built from
a config, nothing downloaded) to the weights DDP gives; the checkpoint is whole safetensors that one
process evaluates; an FSDP run resumed from its own checkpoint still ends with DDP's weights.
Gradients are accumulated over 2 micro-batches per step, as the recipe does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import seqlab
from seqlab.config import compose_experiment
from seqlab.engine import checkpoint as ckpt
from seqlab.engine.writers import read_events, read_metrics
from tiny_experiments import RUN, STEP2_SCHEDULE, tiny_overrides
from toy_task import child_env

pytest.importorskip("transformers")
WORKER = Path(__file__).with_name("multinode_worker.py")
SCHEDULE = [
    *STEP2_SCHEDULE,
    # Layer drop takes other paths under the two strategies (DDP skips a layer, FSDP runs it and
    # drops its output, for every rank to gather the same shards): off, to compare the weights.
    "model.layerdrop=0.0",
    "optimizer.fused=false",
    "trainer.grad_accum_steps=2",  # as the recipe: the first micro-batch is not synced
]


def _config(tmp_path: Path, corpora: dict, strategy: str, *extra: str):
    overrides = [*RUN, *SCHEDULE, f"trainer.runs_root={tmp_path / 'runs'}"]
    overrides += [f"trainer.run_name={strategy}", f"trainer.strategy={strategy}", *extra]
    cfg = compose_experiment("asr_w2v2bert", tiny_overrides("asr_w2v2bert", overrides, corpora))
    path = tmp_path / f"{strategy}.yaml"
    OmegaConf.save(cfg, path)
    return path


def _torchrun(configs: list[Path]) -> None:
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    command = [torchrun, "--standalone", "--nproc_per_node", "2", str(WORKER), *map(str, configs)]
    env = child_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_fsdp_fine_tuning_equals_ddp_saves_whole_weights_and_resumes(tmp_path, tiny_corpora):
    ddp, fsdp = _config(tmp_path, tiny_corpora, "ddp"), _config(tmp_path, tiny_corpora, "fsdp")
    runs = tmp_path / "runs" / "asr_w2v2bert"
    # The FSDP run once more, resumed from its step-2 checkpoint (whole weights and optimizer
    # state, sharded again on load) as after a crash: it rewrites step 4 and `last`.
    cfg = OmegaConf.load(fsdp)
    cfg.trainer.resume_from = str(runs / "fsdp" / "checkpoints" / "step-2")
    resumed = tmp_path / "resumed.yaml"
    OmegaConf.save(cfg, resumed)
    _torchrun([ddp, fsdp, resumed])  # one torchrun: three runs in each of its two processes
    end = [e for e in read_events(runs / "fsdp") if e["event"] == "end"]
    assert len(end) == 2 and all(e["param_checksums"][0]["sharded"] for e in end)  # FSDP2
    assert [e["step"] for e in read_events(runs / "fsdp") if e["event"] == "resume"] == [2]

    # Same weights as DDP, after 2 steps and after the resumed steps 3 and 4 (AdamW, clipping).
    # Tolerance 1e-6: FSDP's reduce-scatter and DDP's all-reduce both average the two ranks'
    # gradients, (a + b) / 2; only float rounding (of the clipping norm, summed from shards)
    # could differ (measured: 0.0).
    for tag in ("step-2", "last"):
        by_ddp = ckpt.load_checkpoint(runs / "ddp" / "checkpoints" / tag)
        by_fsdp = ckpt.load_checkpoint(runs / "fsdp" / "checkpoints" / tag)
        assert sorted(by_fsdp["models"]["model"]) == sorted(by_ddp["models"]["model"])
        for key, value in by_ddp["models"]["model"].items():
            torch.testing.assert_close(by_fsdp["models"]["model"][key], value, rtol=0, atol=1e-6)
        # The optimizer state is whole too, in torch's usual layout (resumable by either strategy).
        adam_ddp, adam_fsdp = by_ddp["state"]["optimizers"]["main"], by_fsdp["state"]["optimizers"]["main"]  # fmt: skip
        assert adam_fsdp["param_groups"][0]["params"] == adam_ddp["param_groups"][0]["params"]
        for index, moments in adam_ddp["state"].items():
            for name in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(adam_fsdp["state"][index][name], moments[name], rtol=0, atol=1e-6)  # fmt: skip
    losses = {s: [r["loss"] for r in read_metrics(runs / s) if r["split"] == "train"] for s in ("ddp", "fsdp")}  # fmt: skip
    assert losses["fsdp"] == pytest.approx(losses["ddp"], abs=1e-6) and len(losses["fsdp"]) == 4

    # One process (no torchrun) loads the FSDP checkpoint and evaluates it, as `seqlab eval` does.
    last = runs / "fsdp" / "checkpoints" / "last"
    model = seqlab.load(last)
    for key, value in model.task.model.state_dict().items():
        torch.testing.assert_close(value, by_fsdp["models"]["model"][key], rtol=0, atol=0)
    assert 0.0 <= seqlab.evaluate(last, split="test")["metrics"]["wer"]
