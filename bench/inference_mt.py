"""Translation inference: seqlab's own beam search vs CTranslate2 (float32 and int8) on one
trained transformer_mt checkpoint, the built-in corpus's test split, one interleaved run.

    python bench/inference_mt.py CHECKPOINT [--split test] [--threads 2] [--rounds 2]

For beam 5 (the checkpoint's generation settings otherwise) at batch 1 and 16, each peer
translates the same sentences in turn (torch, ct2 float32, ct2 int8, then again), so that a
change of machine load hits every peer alike. Prints sentences/s (best round), the ratio to
seqlab's torch path, BLEU (sacreBLEU, detokenised) and the share of sentences whose translation
equals torch's (the parity of the export). ``main()`` is what bench/inference.py calls.
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


def run(
    checkpoint: str, split: str = "test", threads: int = 2, rounds: int = 2, limit: int = 0
) -> dict:
    """The measurements as a dict (see the module docstring)."""
    import tempfile

    import torch

    torch.set_num_threads(threads)
    from seqlab.inference import load_task
    from seqlab.tasks.mt.ct2 import CT2Translator, cached_export, export_ctranslate2

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
    model_dir = cached_export(task)
    peers = {
        "seqlab torch": task.for_inference("cpu"),
        "ct2 float32": CT2Translator(task, "cpu", model_dir, "float32", threads),
        "ct2 int8": CT2Translator(task, "cpu", model_dir, "int8", threads),
    }
    gen = {"beam_size": 5}
    results: dict = {}
    for batch in (1, 16):
        best = {name: float("inf") for name in peers}
        outputs: dict = {}
        for _ in range(rounds):
            for name, translator in peers.items():  # interleaved: peers alternate
                t0 = time.perf_counter()
                outputs[name] = translator.translate(sources, batch_size=batch, **gen)
                best[name] = min(best[name], time.perf_counter() - t0)
        base = outputs["seqlab torch"]
        for name in peers:
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
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
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
    args = p.parse_args(argv)
    out = run(args.checkpoint, args.split, args.threads, args.rounds, args.limit)
    print(
        f"{out['sentences']} sentences, {out['threads']} threads, beam 5; export {out['export_seconds']:.1f} s"
    )
    print(f"{'peer':28s} {'sent/s':>8s} {'x torch':>8s} {'BLEU':>6s} {'= torch':>8s}")
    for name, r in out["results"].items():
        print(
            f"{name:28s} {r['sentences_per_s']:8.1f} {r['x_torch']:8.2f} {r['bleu']:6.2f} "
            f"{100 * r['equal_to_torch']:7.1f}%"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
