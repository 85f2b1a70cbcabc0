"""Translation on the built-in German->English corpus: training and decoding speed, BLEU at equal time.

    python bench/mt.py [--data data/synth_mt] [--seconds 300] [--models transformer,lstm]

For each model (`mt_transformer`, `mt_lstm`, their shipped configs): train for a fixed training-time
budget (`trainer.max_seconds`, validation not counted), then
  - training target tokens per second (median of the logged rates),
  - decoding sentences per second on the test split: greedy vs beam 5, batched (64) vs batch 1,
  - test BLEU and chrF (sacreBLEU, detokenised) with beam 5.
With --joeynmt-python, JoeyNMT 2.3 (in its own environment: it pins an older protobuf) trains
bench/joeynmt_transformer.yaml, a Transformer matching mt_transformer, on the same files for a
matching number of updates, and both are printed side by side. Numbers depend on the machine.
JoeyNMT trains in fp32; seqlab trains in ``--precision`` (default ``auto``: bf16 autocast where
the CPU has native bf16, as the shipped configs do): pass ``--precision fp32`` to compare both in
the same precision. The precision is printed and saved with the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

EXPERIMENTS = {"transformer": "mt_transformer", "lstm": "mt_lstm"}


def _translate_speed(model, lines: list[str], beam: int, batch: int) -> float:
    t0 = time.perf_counter()
    model.translate(lines, batch_size=batch, beam_size=beam)
    return len(lines) / (time.perf_counter() - t0)


def parse_joeynmt_log(text: str) -> dict:
    """Training target tokens/s (median of the logged rates) and the test BLEU (beam search) that
    JoeyNMT 2.3 writes to its train.log."""
    rates = [float(x) for x in re.findall(r"Tokens per Sec:\s+([0-9.]+)", text)]
    bleus = [
        float(x) for x in re.findall(r"Evaluation result \(beam search\): bleu:\s+([0-9.]+)", text)
    ]
    steps = [int(x) for x in re.findall(r"Step:\s+(\d+)", text)]
    return {
        "train_target_tokens_per_s": statistics.median(rates) if rates else None,
        "test_bleu": bleus[-1] if bleus else None,  # dev first, then test: the last is the test set
        "steps": max(steps) if steps else None,
    }


def run_joeynmt(args) -> dict:
    """Train bench/joeynmt_transformer.yaml with JoeyNMT in its own interpreter, on the same files."""
    template = (Path(__file__).parent / "joeynmt_transformer.yaml").read_text()
    model_dir = Path(args.runs_root).resolve() / f"joeynmt-{time.strftime('%Y%m%d-%H%M%S')}"
    config = template.replace("DATA", str(Path(args.data).resolve())).replace(
        "MODEL_DIR", str(model_dir)
    )
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = model_dir.parent / f"{model_dir.name}.yaml"
    cfg_path.write_text(config)
    print(f"\n[joeynmt] training {cfg_path} ...")
    t0 = time.perf_counter()
    subprocess.run([args.joeynmt_python, "-m", "joeynmt", "train", str(cfg_path)], check=True)
    wall = time.perf_counter() - t0
    result = parse_joeynmt_log((model_dir / "train.log").read_text())
    result["wall_seconds_with_validation_and_test"] = round(wall, 1)
    print(
        f"  joeynmt: {result['steps']} steps, {result['train_target_tokens_per_s']:.0f} target "
        f"tokens/s, test BLEU {result['test_bleu']} (beam 5)"
    )
    return result


def _side_by_side(results: dict) -> None:
    print("\n             training target tokens/s   test BLEU (beam 5)")
    for name, r in results.items():
        print(
            f"  {name:<12} {r['train_target_tokens_per_s'] or 0:>12.0f}   {r['test_bleu']:>14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/synth_mt", help="built if missing")
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="training-time budget per model"
    )
    parser.add_argument("--models", default="transformer,lstm")
    parser.add_argument("--runs-root", default="runs/bench_mt")
    parser.add_argument(
        "--batch1-sentences", type=int, default=100, help="sentences decoded one by one"
    )
    parser.add_argument("--joeynmt-python", default=None, help="python of a JoeyNMT environment")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="seqlab's trainer.precision (JoeyNMT runs fp32; auto = bf16 where native)",
    )
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    import seqlab
    from seqlab.engine.writers import read_metrics
    from seqlab.evaluation import evaluate

    results = {}
    for name in [m for m in args.models.split(",") if m]:
        experiment = EXPERIMENTS[name]
        run_name = f"{name}-{int(args.seconds)}s-{time.strftime('%Y%m%d-%H%M%S')}"
        print(f"\n[{name}] training {experiment} for {args.seconds:.0f} s of training time ...")
        summary = seqlab.train(
            experiment,
            [
                f"data.root={args.data}",
                f"trainer.max_seconds={args.seconds}",
                "trainer.n_epochs=1000",  # the budget ends the run
                f"trainer.runs_root={args.runs_root}",
                f"trainer.run_name={run_name}",
                "trainer.progress=plain",
                f"trainer.precision={args.precision}",
            ],
        )
        run = Path(summary["run_dir"])
        rows = read_metrics(run)
        rates = [r["units_per_s"] for r in rows if r.get("split") == "train" and "units_per_s" in r]
        best = run / "checkpoints" / "best"
        model = seqlab.load(best)
        params = sum(p.numel() for p in model.task.model.parameters())
        test_src = (Path(args.data) / "test1.de-en.de").read_text(encoding="utf-8").splitlines()
        speeds = {
            "greedy_batched": _translate_speed(model, test_src, 1, 64),
            "beam5_batched": _translate_speed(model, test_src, 5, 64),
            "greedy_batch1": _translate_speed(model, test_src[: args.batch1_sentences], 1, 1),
            "beam5_batch1": _translate_speed(model, test_src[: args.batch1_sentences], 5, 1),
        }
        result = evaluate(
            best, [f"data.root={args.data}"], split="test", out=run / "eval_test.json"
        )
        results[name] = {
            "run": str(run),
            "precision": summary.get("precision", args.precision),
            "parameters": params,
            "steps": summary["step"],
            "epochs": summary["epoch"],
            "train_target_tokens_per_s": statistics.median(rates) if rates else None,
            "decode_sentences_per_s": {k: round(v, 1) for k, v in speeds.items()},
            "test_bleu": result["metrics"]["bleu"],
            "test_chrf": result["metrics"]["chrf"],
            "best_val_bleu": summary["best_metric"],
        }
        r = results[name]
        print(
            f"  {name}: {params:,} parameters, {r['steps']} steps ({r['epochs']} epochs) in "
            f"{args.seconds:.0f} s ({r['precision']}); {r['train_target_tokens_per_s']:.0f} "
            "target tokens/s"
        )
        print(
            "  decoding sentences/s: "
            + ", ".join(f"{k} {v:.1f}" for k, v in r["decode_sentences_per_s"].items())
        )
        print(f"  test BLEU {r['test_bleu']:.2f}  chrF {r['test_chrf']:.2f} (beam 5)")
    if args.joeynmt_python:
        results["joeynmt"] = run_joeynmt(args)
        _side_by_side(results)
    else:
        print(
            "\nJoeyNMT: pass --joeynmt-python PATH (an environment with joeynmt 2.3.0 and torch; "
            "see the README) to train its matching Transformer on the same files."
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
