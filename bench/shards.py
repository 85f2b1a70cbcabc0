"""Training from streamed shards against training from the tree: the same demo recipe, seed and
number of epochs on the built-in corpus, one run reading the LibriSpeech-layout tree, one run
reading `seqlab data shard` tar shards served by a loopback HTTP server; both scored by
``seqlab eval`` on the tree's test split (the same references), plus their training throughput.

    python bench/shards.py [--data data/synth_speech] [--hours 2.5] [--epochs 4] [--threads 1]
                           [--shard-size 200] [--noise-run] [--parallel] [--work /tmp/shards_bench]
                           [--json out.json] [overrides...]

``--data`` is the built-in corpus (built there with ``seqlab data synth-speech --hours H`` when
missing; ``make demo`` builds 2.5 h). Both runs train on all of its training utterances (a
``data.train_fraction`` would pick other items from the shards' shuffled order). Noise: a paired
bootstrap over the test utterances gives a 95 % interval of the WER difference (test-set noise);
``--noise-run`` adds a second tree run with seed + 1, the seed-to-seed spread of training (the
shard run's batches differ from the tree run's as two seeds' do). Training throughput is the
median logged audio seconds per second of training time (validation and checkpoints left out),
and the wall time of each training command. The data path alone: one epoch of the training loader
(no model) from each source, ``--loader-repeats`` times interleaved (``--loader-only``: only this).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fsdd import _cpu_name  # noqa: E402  (bench/: the same machine line)


def _seqlab(*args: str) -> float:
    """Run the ``seqlab`` CLI of this interpreter's environment; its wall seconds."""
    cmd = [sys.executable, "-c", "from seqlab.cli import main; main()", *args]
    print("$ seqlab " + " ".join(args), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd)
    if done.returncode != 0:
        sys.exit(f"bench/shards.py: `seqlab {args[0]}` failed with exit code {done.returncode}")
    return time.perf_counter() - start


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(directory: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    """A threading HTTP server on 127.0.0.1 (a free port) serving ``directory``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}", httpd


def train_and_eval(name: str, data: list[str], tree: Path, args: argparse.Namespace) -> dict:
    """Train the recipe with ``data`` overrides, then score it on the tree's test split."""
    run_dir = Path(args.work) / "runs" / "asr_conformer" / name
    seed = args.seed + (1 if name == "tree_seed2" else 0)
    overrides = [
        *data,
        f"seed={seed}",
        f"trainer.n_epochs={args.epochs}",
        f"trainer.threads={args.threads}",
        f"trainer.runs_root={Path(args.work) / 'runs'}",
        f"trainer.run_name={name}",
        "trainer.progress=plain",
        *args.overrides,
    ]
    seconds = _seqlab("train", "asr_conformer", *overrides)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["audio_s_per_s"] for r in rows if r.get("split") == "train" and "audio_s_per_s" in r]
    out = run_dir / "eval_tree_test.json"
    checkpoint = run_dir / "checkpoints" / "best"
    _seqlab(
        "eval", str(checkpoint), "data.format=librispeech", f"data.root={tree}", "--out", str(out)
    )
    result = json.loads(out.read_text())
    return {
        "run": name,
        "wer": result["metrics"]["wer"],
        "cer": result["metrics"]["cer"],
        "n_items": result["n_items"],
        "train_wall_s": round(seconds, 1),
        "audio_s_per_s": round(sorted(rates)[len(rates) // 2], 1) if rates else None,
        "rows": result["utterances"],
    }


def loader_rates(data: dict[str, list[str]], args: argparse.Namespace) -> dict[str, list[float]]:
    """Audio seconds per second of one training epoch read by the recipe's own loader (no model):
    the data path alone, each source read ``args.loader_repeats`` times, interleaved."""
    import tempfile

    from seqlab.config import compose_experiment
    from seqlab.engine.trainer import build_task

    rates: dict[str, list[float]] = {name: [] for name in data}
    for _ in range(args.loader_repeats):
        for name, overrides in data.items():
            cfg = compose_experiment("asr_conformer", [*overrides, *args.overrides])
            task = build_task(cfg)
            with tempfile.TemporaryDirectory() as run_dir:
                spec = task.train_data(0, 1, Path(run_dir))
                loader = spec.loader(int(cfg.trainer.get("num_workers", 0)))
                start = time.perf_counter()
                seconds = sum(float(b["audio_lengths"].sum()) for b in loader) / task.sample_rate
                rates[name].append(round(seconds / (time.perf_counter() - start), 1))
    return rates


def paired_bootstrap(a: list[dict], b: list[dict], n: int = 2000, seed: int = 0) -> list[float]:
    """95 % interval of WER(b) - WER(a) over the same test utterances resampled with replacement
    (word errors and reference words pooled per resample, as corpus WER is)."""
    by_id = {r["id"]: r for r in b}
    words = np.array([max(len((r["reference"] or "").split()), 1) for r in a], dtype=np.float64)
    errs_a = np.array([r["wer"] * w for r, w in zip(a, words, strict=True)])
    errs_b = np.array([by_id[r["id"]]["wer"] * w for r, w in zip(a, words, strict=True)])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(n, len(a)))  # (n, N)
    diff = (errs_b[picks].sum(1) - errs_a[picks].sum(1)) / words[picks].sum(1)
    return [float(np.quantile(diff, 0.025)), float(np.quantile(diff, 0.975))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="data/synth_speech", help="the built-in corpus (tree)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--hours", type=float, default=2.5, help="corpus size when --data is built")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--shard-size", type=int, default=200)
    p.add_argument("--noise-run", action="store_true", help="a second tree run with seed + 1")
    p.add_argument(
        "--parallel",
        action="store_true",
        help="train the runs side by side (one process each, --threads each): the same load for all",
    )
    p.add_argument("--loader-repeats", type=int, default=3, help="epochs read per source, no model")
    p.add_argument("--loader-only", action="store_true", help="only the loader throughput")
    p.add_argument("--work", default="/tmp/shards_bench", help="shards and runs go here")
    p.add_argument("--json", default=None, help="write the results here too")
    p.add_argument("overrides", nargs="*", help="more overrides for both runs")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    tree = Path(args.data).resolve()
    if not (tree / "corpus.json").is_file():
        _seqlab("data", "synth-speech", str(tree), "--hours", str(args.hours))
    shards = Path(args.work) / "shards"
    start = time.perf_counter()
    _seqlab("data", "shard", str(tree), str(shards), "--shard-size", str(args.shard_size))
    shard_seconds = time.perf_counter() - start
    url, httpd = serve(shards)
    sources = {"tree": [f"data.root={tree}"], "shards": ["data.format=shards", f"data.root={url}"]}
    try:
        loading = loader_rates(sources, args)
        print(f"loader alone, audio s/s per epoch read: {loading}", flush=True)
        if args.loader_only:
            return
        jobs = list(sources.items())
        if args.noise_run:
            jobs.append(("tree_seed2", sources["tree"]))
        if args.parallel:  # each run is its own subprocess: threads here only wait on them
            with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
                rows = list(pool.map(lambda job: train_and_eval(*job, tree, args), jobs))
        else:
            rows = [train_and_eval(name, overrides, tree, args) for name, overrides in jobs]
    finally:
        httpd.shutdown()
    base, streamed = rows[0], rows[1]
    summary = {
        "machine": f"{_cpu_name()}, {os.cpu_count()} cores",
        "threads": args.threads,
        "epochs": args.epochs,
        "train_hours": json.loads((tree / "corpus.json").read_text())["splits"]["train"]["hours"],
        "wer_difference_95ci": paired_bootstrap(base["rows"], streamed["rows"]),
        "sharding_seconds": round(shard_seconds, 1),
        "runs": rows,
        "throughput_ratio_shards_over_tree": round(
            streamed["audio_s_per_s"] / base["audio_s_per_s"], 3
        )
        if base["audio_s_per_s"] and streamed["audio_s_per_s"]
        else None,
        "wall_ratio_shards_over_tree": round(streamed["train_wall_s"] / base["train_wall_s"], 3),
        "loader_audio_s_per_s": loading,
        "loader_ratio_shards_over_tree": round(
            float(np.median(loading["shards"])) / float(np.median(loading["tree"])), 3
        ),
    }
    print(f"\n{summary['machine']}, {args.threads} thread(s), {args.epochs} epochs of "
          f"{summary['train_hours']} h; sharding took {summary['sharding_seconds']} s")  # fmt: skip
    print(f"{'run':<11} {'WER':>7} {'CER':>7} {'audio s/s':>10} {'train wall s':>13}")
    for r in rows:
        print(f"{r['run']:<11} {r['wer']:>7.2%} {r['cer']:>7.2%} {r['audio_s_per_s']!s:>10} "
              f"{r['train_wall_s']:>13}")  # fmt: skip
    low, high = summary["wer_difference_95ci"]
    print(f"WER shards - tree: {streamed['wer'] - base['wer']:+.2%}, paired bootstrap 95 % "
          f"interval over test utterances [{low:+.2%}, {high:+.2%}]")  # fmt: skip
    print(f"loader alone shards/tree: {summary['loader_ratio_shards_over_tree']} (medians of "
          f"{args.loader_repeats} epochs each: {loading})")  # fmt: skip
    print(f"training throughput shards/tree: {summary['throughput_ratio_shards_over_tree']} "
          f"(wall-time ratio {summary['wall_ratio_shards_over_tree']})")  # fmt: skip
    if args.json:
        for r in rows:
            r.pop("rows")
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
