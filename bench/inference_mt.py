"""Translation inference: seqlab's own beam search vs CTranslate2 (float32 and int8) on one
trained transformer_mt checkpoint, the built-in corpus's test split, one interleaved run.

    python bench/inference_mt.py CHECKPOINT [--split test] [--threads 2] [--rounds 2]
                                 [--joeynmt-python PY --joeynmt-config CFG]

For beam 5 (the checkpoint's generation settings otherwise) at batch 1 and 16, each peer
translates the same sentences in turn (torch, ct2 float32, ct2 int8, then again), so that a
change of machine load hits every peer alike. Each measurement runs in a fresh process of its own
(``--worker``; the model load is not timed), as a user's ``seqlab translate --runtime ...`` does:
in one process, torch's idle thread pool slowed CTranslate2 at 2 threads ~8x on 2 cores. Prints sentences/s (best round), the ratio to
seqlab's torch path, BLEU (sacreBLEU, detokenised) and the share of sentences whose translation
equals torch's (the parity of the export). ``main()`` is what bench/inference.py calls.

With ``--joeynmt-python`` (a JoeyNMT 2.3 environment's interpreter) and ``--joeynmt-config`` (the
config of a JoeyNMT Transformer trained on the same corpus, e.g. by ``bench/mt.py
--joeynmt-python``), JoeyNMT's own beam search decodes the same sentences in the same rounds
(bench/joeynmt_decode.py in a child process; its decoding time only, not its start-up). Its model
is JoeyNMT's, not this checkpoint: its speed compares the decoders at the same architecture and
beam, its BLEU is its own model's, and "= torch" does not apply.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def _bleu(hyps: list[str], refs: list[str]) -> float:
    from sacrebleu.metrics import BLEU

    return float(BLEU().corpus_score(hyps, [refs]).score)


class JoeyNMTDecoder:
    """JoeyNMT's decoding of ``sources`` in a child process of its own environment, timed there."""

    def __init__(self, python: str, config: str, sources: list[str], threads: int) -> None:
        import tempfile

        self.python, self.config, self.threads = python, config, threads
        self.file = tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8")
        self.file.write("".join(line + "\n" for line in sources))
        self.file.flush()

    def translate(self, batch: int, beam: int) -> tuple[list[str], float]:
        """(hypotheses, seconds of JoeyNMT's predict)."""
        script = Path(__file__).with_name("joeynmt_decode.py")
        argv = [self.python, str(script), self.config, self.file.name]
        argv += ["--batch", str(batch), "--beam", str(beam), "--threads", str(self.threads)]
        row = _child_row(argv, self.threads)
        return row["hypotheses"], row["seconds"]


def _child_row(argv: list[str], threads: int) -> dict:
    """Run ``argv`` with ``threads`` OpenMP threads; the JSON object its last output line holds."""
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _in_worker(
    checkpoint: str, split: str, limit: int, peer: str, batch: int, threads: int
) -> tuple[list[str], float]:
    """(translations, seconds) of one peer in a fresh process (:func:`worker`)."""
    import sys

    argv = [sys.executable, __file__, checkpoint, "--split", split, "--limit", str(limit)]
    argv += ["--worker", peer, "--batch", str(batch), "--threads", str(threads)]
    row = _child_row(argv, threads)
    return row["translations"], row["seconds"]


def worker(checkpoint: str, split: str, limit: int, peer: str, batch: int, threads: int) -> None:
    """Load ``peer`` ("seqlab torch", "ct2 float32", "ct2 int8"), translate the split once with
    beam 5 at ``batch``, print {"seconds", "translations"} (the load is not timed)."""
    if peer != "seqlab torch":  # as seqlab translate --runtime ct2 does, before torch
        from seqlab.runtime import load_ctranslate2_before_torch

        load_ctranslate2_before_torch()
    import torch

    torch.set_num_threads(threads)
    from seqlab.inference import load_task
    from seqlab.tasks.mt.ct2 import CT2Translator, cached_export

    task, _ = load_task(checkpoint)
    pairs, _ = task.pairs(split)
    sources = [s for s, _ in (pairs[:limit] if limit else pairs)]
    if peer == "seqlab torch":
        translator = task.for_inference("cpu")
    else:
        compute_type = peer.split()[1]
        translator = CT2Translator(task, "cpu", cached_export(task), compute_type, threads)
    start = time.perf_counter()
    translations = translator.translate(sources, batch_size=batch, beam_size=5)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "translations": translations}))


def run(
    checkpoint: str,
    split: str = "test",
    threads: int = 2,
    rounds: int = 2,
    limit: int = 0,
    joeynmt: tuple[str, str] | None = None,
) -> dict:
    """The measurements as a dict (see the module docstring); ``joeynmt`` is (python, config)."""
    import tempfile

    from seqlab.inference import load_task
    from seqlab.tasks.mt.ct2 import cached_export, export_ctranslate2

    task, _ = load_task(checkpoint)
    pairs, _ = task.pairs(split)
    if limit:
        pairs = pairs[:limit]
    sources = [s for s, _ in pairs]
    refs = [task._reference(t) for _, t in pairs]  # detokenised as seqlab eval scores them
    t0 = time.perf_counter()  # the export is a one-off cost, timed apart
    with tempfile.TemporaryDirectory() as tmp:
        export_ctranslate2(task, Path(tmp) / "m")
    export_seconds = time.perf_counter() - t0
    cached_export(task)  # made once here, so that no worker times an export
    peers = ["seqlab torch", "ct2 float32", "ct2 int8"]
    gen = {"beam_size": 5}
    joey = JoeyNMTDecoder(*joeynmt, sources, threads) if joeynmt else None
    results: dict = {}
    for batch in (1, 16):
        best = {name: float("inf") for name in [*peers, *(["joeynmt"] if joey else [])]}
        outputs: dict = {}
        for _ in range(rounds):
            for name in peers:  # interleaved: peers alternate, each in a fresh process
                outputs[name], seconds = _in_worker(checkpoint, split, limit, name, batch, threads)
                best[name] = min(best[name], seconds)
            if joey:  # its output is tokenised as its training text: detokenised as seqlab's is
                hypotheses, seconds = joey.translate(batch, gen["beam_size"])
                outputs["joeynmt"] = [task._reference(h) for h in hypotheses]
                best["joeynmt"] = min(best["joeynmt"], seconds)
        base = outputs["seqlab torch"]
        for name in best:
            same = None  # JoeyNMT's is another model: equality does not apply
            if name in peers:
                same = sum(a == b for a, b in zip(outputs[name], base, strict=True)) / len(base)
            results[f"{name}, batch {batch}"] = {
                "sentences_per_s": len(sources) / best[name],
                "x_torch": best["seqlab torch"] / best[name],
                "bleu": _bleu(outputs[name], refs),
                "equal_to_torch": same,
            }
    return {
        "checkpoint": str(checkpoint),
        "sentences": len(sources),
        "generation": {**dict(task.cfg.generation), **gen},
        "threads": threads,
        "machine": f"{platform.processor() or platform.machine()}, {threads} threads per peer",
        "export_seconds": export_seconds,
        "results": results,
    }


def main(argv: list[str] | None = None) -> dict:
    """Run and print the table; returns the measurements."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint", help="a trained transformer_mt checkpoint (run/checkpoints/best)")
    p.add_argument(
        "--split", default="test", help="data split of the checkpoint's corpus (data.<split>)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch and CTranslate2 threads")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best of)")
    p.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    p.add_argument("--json", default=None, help="also write the measurements here")
    p.add_argument("--joeynmt-python", default=None, help="python of a JoeyNMT 2.3 environment")
    p.add_argument("--joeynmt-config", default=None, help="config of a trained JoeyNMT model")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one peer, one measurement
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.checkpoint, args.split, args.limit, args.worker, args.batch, args.threads)
        return {}
    if bool(args.joeynmt_python) != bool(args.joeynmt_config):
        p.error("--joeynmt-python and --joeynmt-config go together")
    joeynmt = (args.joeynmt_python, args.joeynmt_config) if args.joeynmt_python else None
    out = run(args.checkpoint, args.split, args.threads, args.rounds, args.limit, joeynmt)
    print(
        f"{out['sentences']} sentences, {out['threads']} threads, beam 5; export {out['export_seconds']:.1f} s"
    )
    print(f"{'peer':28s} {'sent/s':>8s} {'x torch':>8s} {'BLEU':>6s} {'= torch':>8s}")
    for name, r in out["results"].items():
        same = "n/a" if r["equal_to_torch"] is None else f"{100 * r['equal_to_torch']:.1f}%"
        print(
            f"{name:28s} {r['sentences_per_s']:8.1f} {r['x_torch']:8.2f} {r['bleu']:6.2f} "
            f"{same:>8s}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
