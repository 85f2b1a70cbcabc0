"""JoeyNMT 2.3's own decoding of a list of sentences, timed: run by bench/inference_mt.py with the
interpreter of a JoeyNMT environment (``--joeynmt-python``), never imported by seqlab.

    JOEY_PYTHON bench/joeynmt_decode.py CONFIG SOURCES --batch 16 --beam 5 --threads 2

CONFIG is the training config of a JoeyNMT model (bench/mt.py writes one beside the model dir,
whose best.ckpt is loaded); SOURCES has one source sentence per line. The sentences go through
JoeyNMT's ``translate`` path (its stream dataset, tokenizer and ``predict`` with beam search, as
``python -m joeynmt translate`` runs them); only ``predict`` is timed, not the model load. Prints
one JSON line: {"seconds", "sentences", "batch", "beam", "threads", "hypotheses"}.
"""

from __future__ import annotations

import argparse
import json
import logging
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("sources")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from joeynmt.config import load_config, parse_global_args
    from joeynmt.prediction import predict, prepare

    logging.disable(logging.INFO)  # JoeyNMT logs the model and every batch otherwise
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    joey = parse_global_args(cfg, rank=0, mode="translate")
    joey = joey._replace(
        test=joey.test._replace(
            batch_size=args.batch, batch_type="sentence", beam_size=args.beam, n_best=1
        )
    )
    model, _, _, stream = prepare(joey, rank=0, mode="translate")
    with open(args.sources, encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f]
    for line in sources:
        stream.set_item(line)
    start = time.perf_counter()
    with torch.no_grad():
        _, _, hypotheses, _, _, _ = predict(
            model=model,
            data=stream,
            compute_loss=False,
            device=joey.device,
            rank=0,
            n_gpu=joey.n_gpu,
            normalization="none",
            num_workers=0,
            args=joey.test,
            autocast=joey.autocast,
        )
    seconds = time.perf_counter() - start
    row = {"seconds": seconds, "sentences": len(sources), "batch": args.batch}
    row.update(beam=args.beam, threads=args.threads, hypotheses=list(hypotheses))
    print(json.dumps(row))


if __name__ == "__main__":
    main()
