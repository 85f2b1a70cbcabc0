"""Multi30k German->English (test2016): the README's "Real data" translation figures, reproduced.

    python bench/multi30k.py [--data data/multi30k] [--models transformer,lstm] [--threads 1]
    python bench/multi30k.py --run transformer=RUN_DIR     # score a run trained earlier

Each model is its shipped experiment (`mt_transformer_multi30k`, `mt_lstm_multi30k`), trained for the
experiment's own budget (trainer.max_seconds: 30 minutes of training, validation not counted) with
`--threads` torch threads, then scored like a user would: `seqlab eval RUN --split test` (the best
checkpoint, beam 5, cased detokenised sacreBLEU against the raw references). Printed per model: BLEU,
chrF, minutes of training, steps and epochs, threads, the machine, and its load while it trained
(other jobs sharing the cores slow a run down: the figures depend on it), beside the published figure.

Get the corpus first: `seqlab data get multi30k data/multi30k`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

EXPERIMENTS = {"transformer": "mt_transformer_multi30k", "lstm": "mt_lstm_multi30k"}

# What others report on the same test set, for the side-by-side rows (their budget and scoring differ).
PUBLISHED = {
    "transformer": "36.52 BLEU: bentrevett/pytorch-seq2seq Transformer, 10 GPU epochs, lowercased "
    "and tokenised (torchtext/spaCy), greedy",
    "lstm": "28.1-28.3 BLEU: bentrevett/pytorch-seq2seq GRU + attention, 10 GPU epochs, "
    "lowercased and tokenised",
}


def machine() -> str:
    """The processor, its core count and the OS, for the figure's caption."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def load() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def train_one(name: str, args) -> Path:
    """Train the model's experiment for its own time budget; returns the run directory."""
    import seqlab

    run_name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    overrides = [
        f"data.root={args.data}",
        f"trainer.threads={args.threads}",
        f"trainer.runs_root={args.runs_root}",
        f"trainer.run_name={run_name}",
        "trainer.progress=plain",
    ]
    if args.seconds:
        overrides.append(f"trainer.max_seconds={args.seconds}")
    print(f"\n[{name}] training {EXPERIMENTS[name]} ({' '.join(overrides)}) ...", flush=True)
    summary = seqlab.train(EXPERIMENTS[name], overrides)
    return Path(summary["run_dir"])


def score(name: str, run: Path, args, loads: list) -> dict:
    """Evaluate the run's best checkpoint on test2016 with beam 5 and collect its figures."""
    import torch

    from seqlab.config import compose_experiment
    from seqlab.engine.writers import read_metrics
    from seqlab.evaluation import evaluate

    # the shipped experiment's decoding (a run trained before a change of it is scored the same way)
    gen = compose_experiment(EXPERIMENTS[name]).generation
    overrides = [f"data.root={args.data}", "generation.beam_size=5"] + [
        f"generation.{key}={gen[key]}" for key in ("length_penalty", "lp_alpha") if key in gen
    ]
    result = evaluate(run, overrides, split="test", out=run / "eval_test2016.json")
    last = run / "checkpoints" / "last" / "state.pt"  # training seconds over all segments
    train_state = torch.load(last, weights_only=True)["train_state"]
    trained = train_state.get("trained_seconds")
    rows = read_metrics(run)
    events = [json.loads(line) for line in open(run / "metrics.jsonl") if '"event"' in line]
    start = next((e for e in reversed(events) if e.get("event") == "start"), {})
    train_rows = [r for r in rows if r.get("split") == "train"]
    return {
        "experiment": EXPERIMENTS[name],
        "run": str(run),
        "test_bleu": round(result["metrics"]["bleu"], 2),
        "test_chrf": round(result["metrics"]["chrf"], 2),
        "bleu_signature": result.get("signatures", {}).get("bleu"),
        "training_minutes": round(trained / 60, 2) if trained else None,
        "steps": train_state["step"],
        "epochs": round(train_rows[-1]["epoch"], 2) if train_rows else None,
        "threads": start.get("threads"),
        "parameters": (start.get("parameters") or {}).get("model", {}).get("total"),
        "machine": machine(),
        "load_average_1min_while_training": loads,
        "published": PUBLISHED[name],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/multi30k", help="`seqlab data get multi30k DIR`")
    parser.add_argument(
        "--models", default="transformer,lstm", help="of: " + ", ".join(EXPERIMENTS)
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the figure: 1)")
    parser.add_argument("--seconds", type=float, default=None, help="another training budget")
    parser.add_argument("--runs-root", default="runs/bench_multi30k")
    parser.add_argument(
        "--run", action="append", default=[], help="NAME=RUN_DIR: score this run, do not train"
    )
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.run)
    names = list(given) or [m for m in args.models.split(",") if m]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    if not given and not Path(args.data, "train.de-en.de").is_file():
        parser.error(f"{args.data} has no Multi30k; run `seqlab data get multi30k {args.data}`")

    results = {}
    for name in names:
        if name in given:  # trained earlier: its load is not known here
            run, loads = Path(given[name]), None
        else:
            loads = [load()]
            run = train_one(name, args)
            loads.append(load())
        results[name] = score(name, run, args, loads)
    print("\nMulti30k de->en, test2016, beam 5, cased detokenised sacreBLEU:")
    for r in results.values():
        print(
            f"  {r['experiment']}: BLEU {r['test_bleu']:.2f}  chrF {r['test_chrf']:.2f}  "
            f"({r['training_minutes']} min of training, {r['steps']} steps = {r['epochs']} epochs, "
            f"{r['threads']} thread(s), {r['parameters']:,} parameters; load average "
            f"{r['load_average_1min_while_training']})"
        )
        print(f"      published: {r['published']}")
    print(f"  machine: {machine()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
