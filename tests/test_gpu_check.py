"""bench/gpu_check.py where there is no GPU: without CUDA it refuses with "no CUDA device"; its CPU
smoke mode runs its code paths (training checks, feature comparisons, the DDP skip, throughput)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message of a machine without CUDA"
)
def test_without_cuda_it_says_so_and_fails(tmp_path, capsys):
    assert _script().main(["--out", str(tmp_path / "out.json")]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_cpu_smoke_mode_runs_every_kind_of_check(tmp_path, tiny_corpora, capsys):
    out = tmp_path / "gpu_check.json"
    argv = ["--device", "cpu", "--out", str(out), "--work", str(tmp_path / "work"), "--steps", "2"]
    argv += ["--corpora", str(tiny_corpora["speech"].parent), "--throughput-steps", "3"]
    assert _script().main([*argv, "--experiments", "mt_transformer"]) == 0  # one is enough here
    result = json.loads(out.read_text())
    rows = {row["check"]: row for row in result["checks"]}
    assert (
        rows["train mt_transformer bf16"]["ok"] and rows["train mt_transformer bf16"]["steps"] == 2
    )
    for name in ("log-mel", "vocoder mel"):
        assert rows[f"{name} cpu vs cpu"]["max_abs_diff"] == 0.0
    assert rows["ddp nccl 2 processes"]["ok"] is None  # skipped: no 2 GPUs
    assert rows["throughput mt_transformer fp32 cpu vs cpu"]["ratio_vs_cpu"] == 1.0
    assert "passed or skipped" in capsys.readouterr().out
