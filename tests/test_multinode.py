"""Two torchrun "nodes" on this machine: two separate torchrun launches (``--nnodes 2``, one process
each, c10d rendezvous on a loopback port, gloo) train a tiny ASR and a tiny MT experiment to the
same weights on both ranks and to those of one process seeing the same global batches; then one
node dies (SIGKILL of its whole process tree) after a checkpoint, the other exits on its own, and
the whole job restarted with ``trainer.resume_from`` ends with the weights of the uninterrupted run.

One torchrun job runs several trainings in each process (tests/multinode_worker.py): starting
torchrun and its processes costs far more than these 4-step runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.config import compose_experiment
from seqlab.engine import checkpoint as ckpt
from seqlab.engine.trainer import run
from seqlab.engine.writers import read_events, read_metrics
from tiny_experiments import RUN, STEP2_SCHEDULE, tiny_overrides
from toy_task import child_env

WORKER = Path(__file__).with_name("multinode_worker.py")
# 4 steps, validation and a checkpoint every 2: the node dies after the step-2 checkpoint.
SCHEDULE = [
    *STEP2_SCHEDULE,
    "trainer.dist_timeout_s=60",  # a peer that hangs fails the others within a minute, not 30
]
# No randomness that depends on the rank (each rank draws its own dropout masks and
# augmentations), so that two ranks can equal one process.
EXPERIMENTS = {
    "asr_bilstm": ["augment=none", "model.dropout=0.0"],
    "mt_transformer": ["model.dropout=0.0"],
}


def _torchrun() -> str:
    return str(Path(sys.executable).with_name("torchrun"))  # the venv's, next to its python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(experiment: str, run_name: str, runs: Path, corpora: dict, *extra: str):
    overrides = [*RUN, *SCHEDULE, f"trainer.runs_root={runs}", f"trainer.run_name={run_name}"]
    overrides += [*EXPERIMENTS[experiment], *extra]
    return compose_experiment(experiment, tiny_overrides(experiment, overrides, corpora))


def _start_nodes(configs: list[Path], log_dir: Path, hold: str | None = None) -> list:
    """Two torchrun launches as on two machines: ``torchrun --nnodes 2 --nproc_per_node 1``, c10d
    rendezvous at a loopback port. Each is the leader of its own process group."""
    port, job = _free_port(), uuid.uuid4().hex[:8]
    env = child_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("SEQLAB_TEST_HOLD", None)
    if hold:
        env["SEQLAB_TEST_HOLD"] = hold
    nodes = []
    for node in range(2):
        command = [
            _torchrun(), "--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d",
            "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", job, "--max_restarts", "0",
            str(WORKER), *map(str, configs),
        ]  # fmt: skip
        log = open(log_dir / f"node{node}-{job}.log", "w")  # noqa: SIM115 (closed by _stop)
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        nodes.append((process, log))
    return nodes


def _log(node) -> str:
    return Path(node[1].name).read_text()[-3000:]


def _wait(node, timeout: float, what: str) -> int:
    try:
        return node[0].wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: still running after {timeout:.0f} s (hung)\n{_log(node)}")


def _stop(nodes) -> None:
    """Whatever is left of the nodes: SIGTERM (torchrun then stops its workers), then SIGKILL."""
    for process, _ in nodes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process, log in nodes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _weights(checkpoint: Path) -> dict:
    return ckpt.load_checkpoint(checkpoint)["models"]


def _sha256(checkpoint: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(checkpoint.glob("*.safetensors"))
    }


def _train_losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run_dir) if r["split"] == "train"}


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_two_nodes_train_like_one_process_and_resume_after_a_node_dies(tmp_path, tiny_corpora):
    runs = tmp_path / "runs"
    paths = {}
    for experiment in EXPERIMENTS:
        paths[experiment] = tmp_path / f"{experiment}.yaml"
        OmegaConf.save(_config(experiment, "two_nodes", runs, tiny_corpora), paths[experiment])
    paths["killed"] = tmp_path / "killed.yaml"
    OmegaConf.save(_config("asr_bilstm", "killed", runs, tiny_corpora), paths["killed"])

    # Job 1: the uninterrupted ASR and MT runs, then an ASR run whose rank 0 (the process that
    # writes the run directory) stops answering after the step-2 checkpoint; its node is killed.
    killed = runs / "asr_bilstm" / "killed"
    nodes = _start_nodes(
        [paths["asr_bilstm"], paths["mt_transformer"], paths["killed"]],
        tmp_path,
        hold="killed:2:0",
    )
    try:
        deadline = time.monotonic() + 240
        while not (killed / "hold.json").is_file():
            for node in nodes:
                if node[0].poll() is not None:
                    pytest.fail(f"a node exited ({node[0].returncode}) too soon\n{_log(node)}")
            if time.monotonic() > deadline:
                pytest.fail(f"no step-2 checkpoint in time\n{_log(nodes[0])}\n{_log(nodes[1])}")
            time.sleep(0.2)
        time.sleep(0.5)  # the other rank is into step 3, waiting on the dead one's gradients
        hold = json.loads((killed / "hold.json").read_text())
        dead = next(n for n in nodes if n[0].pid == hold["agent_pid"])
        survivor = next(n for n in nodes if n is not dead)
        os.killpg(hold["pid"], signal.SIGKILL)  # the machine dies: its training process ...
        os.killpg(hold["agent_pid"], signal.SIGKILL)  # ... and its torchrun
        # The survivor's gloo connection to the dead rank closes: it fails at once and exits.
        assert _wait(survivor, 60, "the surviving node") != 0
        dead[0].wait(timeout=10)
    finally:
        _stop(nodes)
    assert (killed / "checkpoints" / "last").resolve().name == "step-2"

    # Both ranks end with the same weights, equal to one process seeing the same global
    # batches: the sampler gives rank r the batches r, r + 2, ... of one list, so two ranks with
    # a batch each per step see what one process sees with grad_accum_steps=2. Tolerance 1e-6:
    # the all-reduce adds the two ranks' gradients (a + b, as one process accumulating the two
    # micro-batches does); only float rounding could differ (it does not here: 0.0).
    for experiment in EXPERIMENTS:
        two_nodes = runs / experiment / "two_nodes"
        end = [e for e in read_events(two_nodes) if e["event"] == "end"][-1]
        assert [c["rank"] for c in end["param_checksums"]] == [0, 1]
        assert len({c["sha256"] for c in end["param_checksums"]}) == 1
        assert [e["world_size"] for e in read_events(two_nodes) if e["event"] == "start"] == [2]
        # One thread like each node (OMP_NUM_THREADS=1 there): a kernel's reductions split over
        # two threads round differently, and Adam turns that into lr-sized steps on tiny gradients.
        cfg = _config(
            experiment,
            "single",
            runs,
            tiny_corpora,
            "trainer.grad_accum_steps=2",
            "trainer.threads=1",
        )
        run(cfg)
        single = runs / experiment / "single"
        ranks, one = _weights(two_nodes / "checkpoints" / "last"), _weights(single / "checkpoints" / "last")  # fmt: skip
        assert sorted(ranks) == sorted(one)
        for name in one:
            for key, value in one[name].items():
                torch.testing.assert_close(ranks[name][key], value, rtol=0, atol=1e-6)
        assert _train_losses(two_nodes) == pytest.approx(_train_losses(single), abs=1e-6)
        assert len(_train_losses(two_nodes)) == 4

    # Job 2: the whole job again, resumed from the checkpoint the dead node left: it ends with
    # the uninterrupted run's weights, bit for bit, and logs its losses of steps 3 and 4.
    resumed = tmp_path / "resumed.yaml"
    cfg = OmegaConf.load(paths["killed"])
    cfg.trainer.resume_from = str(killed / "checkpoints" / "step-2")
    OmegaConf.save(cfg, resumed)
    nodes = _start_nodes([resumed], tmp_path)
    try:
        for node in nodes:
            assert _wait(node, 120, "the resumed job") == 0, _log(node)
    finally:
        _stop(nodes)
    uninterrupted = runs / "asr_bilstm" / "two_nodes"
    assert _sha256(killed / "checkpoints" / "last") == _sha256(
        uninterrupted / "checkpoints" / "last"
    )
    assert _train_losses(killed) == _train_losses(uninterrupted)
    assert [e["step"] for e in read_events(killed) if e["event"] == "resume"] == [2]
