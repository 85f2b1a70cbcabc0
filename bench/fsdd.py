"""FSDD word error rates of an FSDD recipe (``asr_bilstm_fsdd`` or ``asr_conformer_fsdd``): the
dataset's split and held-out speakers.

    python bench/fsdd.py --corpus data/fsdd [--experiment asr_bilstm_fsdd] [--heldout george[,jackson...]|all]
                         [--seconds S] [--threads 1] [--runs-root /tmp/fsdd_runs] [--only dataset|heldout]
                         [--json out.json] [overrides...]

``--corpus`` is the Free Spoken Digit Dataset directory holding ``recordings/`` (what
``seqlab data get fsdd DIR`` makes). The script writes the manifests
(:func:`seqlab.data.fsdd.write_manifests`), trains the recipe once per split within the time budget
(``trainer.max_seconds``) and scores the test split with ``seqlab eval RUN --split test`` (every test
clip counts; a clip left out would be an error). It prints WER, training minutes, the torch threads
and the machine. The held-out speaker (default george, the first name alphabetically, not a chosen
easy one) is never heard in training or validation: its 500 recordings are the test set.
``--heldout`` takes several speakers (comma-separated) or ``all`` (leave-one-speaker-out: one
training per speaker, six in all); the table then ends with their mean WER.

No peer runs beside it: the published FSDD figures are classification accuracies with other
protocols, so the README quotes them with their source instead of a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _seqlab(*args: str) -> None:
    """Run the ``seqlab`` CLI of this interpreter's environment; stop the bench if it fails."""
    cmd = [sys.executable, "-c", "from seqlab.cli import main; main()", *args]
    print("$ seqlab " + " ".join(args), flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        sys.exit(f"bench/fsdd.py: `seqlab {args[0]}` failed with exit code {done.returncode}")


def run_split(corpus: Path, manifests: str, args: argparse.Namespace) -> dict:
    """Train ``args.experiment`` on one split and evaluate its best checkpoint on test."""
    name = "dataset" if manifests == "." else manifests
    run_dir = Path(args.runs_root) / args.experiment / name
    overrides = [
        f"data.root={corpus}",
        f"data.manifests={manifests}",
        f"trainer.threads={args.threads}",
        f"trainer.runs_root={args.runs_root}",
        f"trainer.run_name={name}",
        "trainer.progress=plain",
        *([f"trainer.max_seconds={args.seconds}"] if args.seconds else []),
        *args.overrides,
    ]
    start = time.perf_counter()
    _seqlab("train", args.experiment, *overrides)
    minutes = (time.perf_counter() - start) / 60
    out = run_dir / "eval_test.json"
    _seqlab("eval", str(run_dir / "checkpoints" / "best"), "--split", "test", "--out", str(out))
    result = json.loads(out.read_text())
    return {
        "split": name,
        "wer": result["metrics"]["wer"],
        "n_items": result["n_items"],
        "left_out": result["left_out"]["count"],
        "train_minutes": round(minutes, 1),
        "run": str(run_dir),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="FSDD directory holding recordings/")
    parser.add_argument(
        "--experiment",
        default="asr_bilstm_fsdd",
        choices=["asr_bilstm_fsdd", "asr_conformer_fsdd"],
        help="the recipe to train (default asr_bilstm_fsdd)",
    )
    parser.add_argument(
        "--heldout",
        default="george",
        help="speaker(s) held out, one training each: a name, a comma-separated list or all "
        "(default george)",
    )
    parser.add_argument(
        "--seconds", type=int, help="training budget per run (s; default: the recipe's)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--runs-root", default="runs/bench_fsdd", help="where the runs go")
    parser.add_argument("--only", choices=["dataset", "heldout"], help="run one split only")
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("overrides", nargs="*", help="more overrides for every training")
    args = parser.parse_args()

    from seqlab.data.fsdd import write_manifests

    corpus = Path(args.corpus).resolve()
    written = write_manifests(corpus)
    speakers = sorted({Path(rel).parts[0][len("heldout_") :] for rel in written if "/" in rel})
    chosen = speakers if args.heldout == "all" else args.heldout.split(",")
    unknown = sorted(set(chosen) - set(speakers))
    if unknown:
        sys.exit(f"bench/fsdd.py: no speaker {', '.join(unknown)}; FSDD has {', '.join(speakers)}")
    splits = [("dataset", ".")] + [("heldout", f"heldout_{name}") for name in chosen]
    rows = [
        run_split(corpus, manifests, args) for key, manifests in splits if args.only in (None, key)
    ]
    machine = f"{_cpu_name()}, {os.cpu_count()} cores visible, {args.threads} torch thread(s)"
    budget = f"{args.seconds} s" if args.seconds else "the recipe's time budget"
    print(f"\nFSDD, {args.experiment}, {budget} per run; {machine}")
    print(f"{'split':<22} {'WER %':>7} {'items':>6} {'left out':>9} {'minutes':>8}")
    for row in rows:
        print(
            f"{row['split']:<22} {_percent(row['wer']):>7.2f} {row['n_items']:>6} "
            f"{row['left_out']:>9} {row['train_minutes']:>8.1f}"
        )
    heldout = [row for row in rows if row["split"] != "dataset"]
    mean = sum(_percent(row["wer"]) for row in heldout) / len(heldout) if heldout else None
    if len(heldout) > 1:
        print(f"{f'mean of {len(heldout)} held out':<22} {mean:>7.2f}")
    if args.json:
        summary = {"machine": machine, "rows": rows, "heldout_mean_wer_percent": mean}
        Path(args.json).write_text(json.dumps(summary, indent=2))


def _percent(wer: float) -> float:
    """WER in percent (eval.json holds a fraction)."""
    return 100 * wer if wer <= 1 else wer


if __name__ == "__main__":
    main()
