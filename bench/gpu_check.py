"""GPU readiness: every CUDA path of seqlab once, on tiny configs, in a few minutes on one GPU.

    python bench/gpu_check.py [--out gpu_check.json] [--work DIR] [--steps 6]
    python bench/gpu_check.py --device cpu --experiments asr_bilstm,mt_transformer --steps 2

Checks (each a row of the printed table and of the JSON):
- training steps of every experiment (tiny model sizes of tests/tiny_experiments.py, the built-in
  corpora, tiny): ASR CTC (BiLSTM, Conformer), LM (GPT-2 style), MT (LSTM, Transformer), vocoder
  (HiFi-GAN V1), Hugging Face CTC fine-tuning (Wav2Vec2-BERT, random init): in bf16 and in fp16
  with the dynamic grad scaler; a row passes when every logged loss and grad norm is finite (fp16:
  and the loss scale is logged);
- log-mel (ASR), fbank (Wav2Vec2-BERT) and the vocoder's mel on the device vs the CPU: max abs
  difference at most 1e-4 (ASR features; the vocoder mel's tolerance, 1e-3, is for its unnormalised
  log scale);
- two-process NCCL DDP (torchrun) when two GPUs exist; skipped with a message otherwise;
- training throughput on the device vs the CPU for asr_conformer and mt_transformer (items/s from
  each run's log; the CPU run uses the threads torch gives it).

Without CUDA it exits 2 with "no CUDA device". ``--device cpu`` runs every check on the CPU (fp16
and NCCL are skipped, device-vs-CPU comparisons compare the CPU with itself): the smoke mode
tests/test_gpu_check.py runs so that this script's code is exercised where no GPU is. Nothing in
it has run on a GPU yet (no GPU was lent to the session that wrote it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny_experiments: the tiny size of every experiment

EXPERIMENTS = [
    "asr_bilstm",
    "asr_conformer",
    "lm_gpt2_small",
    "mt_lstm",
    "mt_transformer",
    "vocoder_hifigan_v1",
    "asr_w2v2bert",
]
THROUGHPUT = ["asr_conformer", "mt_transformer"]
FEATURE_TOLERANCE = {"log-mel": 1e-4, "fbank": 1e-4, "vocoder mel": 1e-3}


def _overrides(experiment: str, device: str, precision: str, steps: int, runs: Path, name: str, corpora) -> list[str]:  # fmt: skip
    """A tiny, offline ``experiment`` on ``device`` for ``steps`` optimizer steps."""
    from tiny_experiments import tiny_overrides

    run = [
        f"trainer.device={device}",
        f"trainer.precision={precision}",
        f"trainer.max_steps={steps}",
        "trainer.n_epochs=50",
        "trainer.num_workers=0",
        "trainer.progress=none",
        "trainer.log_every_n_steps=1",
        "trainer.val_every_n_epochs=null",
        "trainer.save_every_n_epochs=null",
        "trainer.early_stop_patience=null",
        "trainer.averaging.type=none",
        f"trainer.runs_root={runs}",
        f"trainer.run_name={name}",
    ]
    return tiny_overrides(experiment, run, corpora)


def train_check(experiment, device, precision, steps, runs, corpora) -> dict:
    """Train ``steps`` steps; finite losses and grad norms (fp16: a logged loss scale)."""
    from seqlab.config import compose_experiment
    from seqlab.engine.trainer import run
    from seqlab.engine.writers import read_metrics

    name = f"{experiment}-{device}-{precision}"
    cfg = compose_experiment(experiment, _overrides(experiment, device, precision, steps, runs, name, corpora))  # fmt: skip
    start = time.perf_counter()
    summary = run(cfg)
    seconds = time.perf_counter() - start
    train = [r for r in read_metrics(Path(summary["run_dir"])) if r["split"] == "train"]
    values = [v for r in train for k, v in r.items() if "loss" in k or k.startswith("grad_norm")]
    finite = bool(values) and all(math.isfinite(v) for v in values)
    scale = [r["loss_scale"] for r in train if "loss_scale" in r]
    ok = finite and len(train) == steps and (precision != "fp16" or bool(scale))
    items = [r["items_per_s"] for r in train[1:] if "items_per_s" in r]  # the first warms up
    return {
        "ok": ok,
        "steps": len(train),
        "last_loss": train[-1].get("loss") if train else None,
        "loss_scale": scale[-1] if scale else None,
        "skipped_steps": train[-1].get("skipped_steps") if train else None,
        "items_per_s": sorted(items)[len(items) // 2] if items else None,
        "seconds": round(seconds, 2),
    }


def feature_checks(device: str) -> list[dict]:
    """Log-mel, fbank and the vocoder mel of the same noise on ``device`` and on the CPU."""
    from seqlab.audio.features import LogMelSpectrogram
    from seqlab.audio.hifigan_mel import HiFiGANMel

    generator = torch.Generator().manual_seed(0)
    wave = 0.3 * torch.randn(3, 16000, generator=generator)  # (B, T): 1 s at 16 kHz
    lengths = torch.tensor([16000, 12000, 8000])
    modules = {"log-mel": (LogMelSpectrogram(), True), "vocoder mel": (HiFiGANMel(), False)}
    try:
        from seqlab.audio.seamless_fbank import SeamlessFbank

        modules["fbank"] = (SeamlessFbank(), True)
    except ImportError as error:  # transformers missing: the [hf] extra
        print(f"fbank skipped: {error}", file=sys.stderr)
    rows = []
    for name, (module, with_lengths) in modules.items():
        args = (wave, lengths) if with_lengths else (wave,)
        on_cpu = module(*args)
        on_device = module.to(device)(*[a.to(device) for a in args])
        on_cpu, on_device = on_cpu[0] if with_lengths else on_cpu, on_device[0] if with_lengths else on_device  # fmt: skip
        diff = float((on_device.float().cpu() - on_cpu.float()).abs().max())
        rows.append({"check": f"{name} {device} vs cpu", "ok": diff <= FEATURE_TOLERANCE[name],
                     "max_abs_diff": diff, "tolerance": FEATURE_TOLERANCE[name]})  # fmt: skip
    return rows


def ddp_check(steps: int, runs: Path, corpora) -> dict:
    """Two NCCL processes (torchrun) train tiny asr_bilstm; both ranks must end equal."""
    from omegaconf import OmegaConf

    from seqlab.config import compose_experiment
    from seqlab.engine.writers import read_events

    if torch.cuda.device_count() < 2:
        return {"ok": None, "skipped": f"needs 2 GPUs, {torch.cuda.device_count()} here"}
    name = "ddp-nccl"
    cfg = compose_experiment("asr_bilstm", _overrides("asr_bilstm", "cuda", "bf16", steps, runs, name, corpora))  # fmt: skip
    config = runs / "ddp.yaml"
    OmegaConf.save(cfg, config)
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "seqlab.engine.trainer", "--config", str(config)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    if result.returncode != 0:
        return {"ok": False, "error": result.stderr[-2000:]}
    end = [e for e in read_events(runs / "asr_bilstm" / name) if e["event"] == "end"][-1]
    same = len({c["sha256"] for c in end["param_checksums"]}) == 1
    return {"ok": same and len(end["param_checksums"]) == 2, "ranks": len(end["param_checksums"])}


def main(argv: list[str] | None = None) -> int:
    """Run the checks; print the table; write ``--out``. Returns 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--out", default="gpu_check.json", help="the JSON results")
    parser.add_argument("--work", default=None, help="corpora and runs (default: a temp dir)")
    parser.add_argument("--corpora", default=None, help="reuse tests' tiny corpora in this dir")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per training check")
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS), help="comma-separated")
    parser.add_argument("--throughput-steps", type=int, default=20)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: torch sees no GPU (torch.cuda.is_available() is False); "
              "run on a GPU machine, or --device cpu for the smoke mode", file=sys.stderr)  # fmt: skip
        return 2
    from tiny_experiments import build_corpora

    work = Path(args.work or tempfile.mkdtemp(prefix="gpu_check-"))
    corpora = build_corpora(Path(args.corpora) if args.corpora else work / "corpora")
    runs, rows = work / "runs", []
    experiments = [e for e in args.experiments.split(",") if e]
    precisions = ["bf16", "fp16"] if args.device == "cuda" else ["bf16"]  # fp16 scaler: CUDA only
    started = time.perf_counter()

    def record(row: dict, check) -> None:
        try:
            row.update(check())
        except Exception:  # noqa: BLE001 (a failed check is a row, the others still run)
            row.update(ok=False, error=traceback.format_exc()[-2000:])
        rows.append(row)
        print(f"{'ok' if row['ok'] else 'SKIP' if row['ok'] is None else 'FAIL':4}  {row['check']}", flush=True)  # fmt: skip

    for experiment in experiments:
        for precision in precisions:
            check = f"train {experiment} {precision}"
            record({"check": check}, lambda e=experiment, p=precision: train_check(e, args.device, p, args.steps, runs, corpora))  # fmt: skip
    for row in feature_checks(args.device):
        record(row, dict)
    record({"check": "ddp nccl 2 processes"}, lambda: ddp_check(args.steps, runs, corpora))
    for experiment in [e for e in THROUGHPUT if e in experiments]:

        def throughput(e=experiment) -> dict:
            on = {d: train_check(e, d, "fp32", args.throughput_steps, runs / f"speed-{d}", corpora)
                  for d in dict.fromkeys([args.device, "cpu"])}  # fmt: skip
            rate = {d: r["items_per_s"] for d, r in on.items()}
            ratio = rate[args.device] / rate["cpu"] if rate["cpu"] and rate[args.device] else None
            return {"ok": all(r["ok"] for r in on.values()), "items_per_s": rate, "ratio_vs_cpu": ratio}  # fmt: skip

        record({"check": f"throughput {experiment} fp32 {args.device} vs cpu"}, throughput)

    print(f"\n{'check':52} {'result':6} detail")
    for row in rows:
        detail = {k: v for k, v in row.items() if k not in ("check", "ok", "error")}
        result = "ok" if row["ok"] else "skip" if row["ok"] is None else "FAIL"
        print(f"{row['check']:52} {result:6} {json.dumps(detail)[:110]}")
    summary = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": torch.cuda.device_count(),
        "seconds": round(time.perf_counter() - started, 1),
        "checks": rows,
    }
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    failed = [r["check"] for r in rows if r["ok"] is False]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} passed or skipped in {summary['seconds']} s; JSON: {args.out}")  # fmt: skip
    if failed:
        print("FAILED: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
