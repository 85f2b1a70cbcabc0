"""CTC beam search with an n-gram LM: seqlab vs pyctcdecode on the same logits, in one run.

    python bench/ctc_decode.py [--checkpoint runs/asr_conformer/<run>/checkpoints/best]
                               [--data data/synth_speech] [--lm data/synth_speech/lm_3gram.arpa]
                               [--neural-lm runs/lm_gpt2_small/<run>/checkpoints/best]
                               [--beam-size 10] [--alpha 0.5] [--beta 1.0]

The demo model runs once over the built-in test split; both decoders then decode the same
log-probabilities with the same KenLM model, beam width, alpha, beta, per-frame token cutoff and
beam pruning threshold, one utterance after another in one process. Printed: utterances per
second for both and the ratio, WER/CER for both; then seqlab's greedy vs beam vs beam+n-gram vs
beam+neural-LM WER and speed. Numbers depend on the machine and its load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder
from seqlab.decoding.ctc_greedy import GreedyDecoder
from seqlab.decoding.lm import load_lm
from seqlab.evaluation import collect_log_probs
from seqlab.metrics.asr import corpus_wer_cer


def _latest(pattern: str) -> Path | None:
    found = sorted(Path().glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _norm(text: str) -> str:
    return " ".join(text.split())


def _timed(fn, repeats: int):
    """The best of ``repeats`` runs (the machine is shared: the minimum is the least disturbed)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: newest asr_conformer best")
    parser.add_argument("--data", default="data/synth_speech", help="the built-in corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--lm", default=None, help="ARPA (default: <data>/lm_3gram.arpa, built if missing)"
    )
    parser.add_argument("--order", type=int, default=3, help="order of the LM built if missing")
    parser.add_argument(
        "--neural-lm", default=None, help="HF causal-LM dir or lm_gpt2_small checkpoint"
    )
    parser.add_argument("--beam-size", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--token-min-logp", type=float, default=-5.0, help="pyctcdecode's default")
    parser.add_argument(
        "--beam-prune-logp", type=float, default=-10.0, help="pyctcdecode's default"
    )
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed runs per decoder")
    parser.add_argument("--copies", type=int, default=3, help="passes over the split per timed run")
    parser.add_argument(
        "--processes", type=int, default=2, help="also compare with N processes each"
    )
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    from pyctcdecode import build_ctcdecoder

    ckpt = (
        Path(args.checkpoint)
        if args.checkpoint
        else _latest("runs/asr_conformer/*/checkpoints/best")
    )
    if ckpt is None:
        raise SystemExit("no checkpoint: run `make demo` first or pass --checkpoint")
    lm_path = Path(args.lm) if args.lm else Path(args.data) / f"lm_{args.order}gram.arpa"
    if not lm_path.is_file():
        from seqlab.decoding.lm.kneser_ney import build_arpa

        print(f"building {lm_path} from {Path(args.data) / 'lm_corpus.txt'} ...")
        build_arpa(Path(args.data) / "lm_corpus.txt", lm_path, order=args.order)

    task, ckpt, outputs = collect_log_probs(ckpt, [f"data.root={args.data}"], args.split)
    log_probs = [lp for o in outputs for lp in o["log_probs"]]  # (T_i, V) float32 each
    refs = [r for o in outputs for r in o["refs"]]
    frames = sum(len(lp) for lp in log_probs)
    print(f"checkpoint {ckpt}: {len(log_probs)} {args.split} utterances, {frames} frames")
    vocab = task.vocab
    if vocab.kind != "char":
        raise SystemExit("this benchmark compares character vocabularies (pyctcdecode's labels)")

    rows = []

    def record(name, hyps, seconds):
        scores = corpus_wer_cer(refs, [_norm(h) for h in hyps])
        row = {
            "decoder": name,
            "wer": float(scores["wer"]),
            "cer": float(scores["cer"]),
            "seconds": round(seconds, 3),
            "utterances_per_second": round(len(log_probs) / seconds, 1),
        }
        rows.append(row)
        print(
            f"  {name:<34} WER {100 * row['wer']:6.2f}%  CER {100 * row['cer']:6.2f}%  "
            f"{row['utterances_per_second']:8.1f} utt/s"
        )
        return row

    print(
        f"\n[1] beam {args.beam_size} + {lm_path.name} (alpha {args.alpha}, beta {args.beta}, "
        f"token_min_logp {args.token_min_logp}, beam_prune_logp {args.beam_prune_logp}), one process"
    )
    labels = ["" if i == vocab.blank_id else s for i, s in enumerate(vocab.symbols)]
    peer = build_ctcdecoder(labels, kenlm_model_path=str(lm_path), alpha=args.alpha, beta=args.beta)
    ngram = load_lm(lm_path)
    settings = dict(token_min_logp=args.token_min_logp, beam_prune_logp=args.beam_prune_logp)
    ours = CTCBeamSearchDecoder.from_vocab(
        vocab, beam_size=args.beam_size, lm=ngram, alpha=args.alpha, beta=args.beta, **settings
    )

    # each timed run decodes the split `copies` times: long enough to even out the machine's hiccups
    workload = log_probs * args.copies

    def run_peer():
        return [peer.decode(lp, beam_width=args.beam_size, **settings) for lp in workload]

    def run_ours():  # pyctcdecode's caches live for one utterance; ours starts cold per pass
        hyps = []
        for _ in range(args.copies):
            ngram.clear_cache()
            hyps.extend(ours.decode(log_probs))
        return hyps

    # Interleaved runs (peer, ours, peer, ours, ...): the machine is shared and its speed drifts,
    # so each pair gives a ratio under the same conditions; the median ratio is reported.
    peer_times, our_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        peer_hyps = run_peer()
        peer_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours_hyps = run_ours()
        our_times.append(time.perf_counter() - t0)
    ratios = sorted(p / o for p, o in zip(peer_times, our_times, strict=True))
    n = len(log_probs)
    peer_row = record("pyctcdecode", peer_hyps[:n], statistics.median(peer_times) / args.copies)
    ours_row = record("seqlab", ours_hyps[:n], statistics.median(our_times) / args.copies)
    speed = ours_row["utterances_per_second"] / peer_row["utterances_per_second"]
    print(
        f"  seqlab / pyctcdecode: speed x{speed:.2f} (medians of {len(ratios)} interleaved runs of "
        f"{len(workload)} utterances; pairwise x{ratios[0]:.2f}-x{ratios[-1]:.2f}), "
        f"WER {100 * (ours_row['wer'] - peer_row['wer']):+.2f} points"
    )
    if args.processes > 1:
        from multiprocessing import get_context

        print(f"\n[1b] the same with {args.processes} processes each")
        with get_context("fork").Pool(args.processes) as pool:
            t0 = time.perf_counter()
            peer.decode_batch(pool, workload, beam_width=args.beam_size, **settings)
            peer_pool = time.perf_counter() - t0
        parallel = CTCBeamSearchDecoder.from_vocab(
            vocab, beam_size=args.beam_size, lm=ngram, alpha=args.alpha, beta=args.beta,
            workers=args.processes, **settings,
        )  # fmt: skip
        ngram.clear_cache()
        t0 = time.perf_counter()
        parallel.decode(workload)
        ours_pool = time.perf_counter() - t0
        print(
            f"  pyctcdecode {len(workload) / peer_pool:8.1f} utt/s   seqlab "
            f"{len(workload) / ours_pool:8.1f} utt/s   x{peer_pool / ours_pool:.2f}"
        )

    print("\n[2] seqlab's decoders on the same logits")
    greedy_hyps, greedy_s = _timed(lambda: GreedyDecoder(vocab).decode(log_probs), args.repeats)
    record("greedy", greedy_hyps, greedy_s)
    plain = CTCBeamSearchDecoder.from_vocab(
        vocab,
        beam_size=args.beam_size,
        token_min_logp=args.token_min_logp,
        beam_prune_logp=args.beam_prune_logp,
    )
    hyps, seconds = _timed(lambda: plain.decode(log_probs), args.repeats)
    record(f"beam {args.beam_size}", hyps, seconds)
    # the timed runs of [1] decoded the split `copies` times: one pass's hypotheses and time
    record(
        f"beam {args.beam_size} + {lm_path.name}",
        ours_hyps[:n],
        statistics.median(our_times) / args.copies,
    )
    neural_path = (
        Path(args.neural_lm) if args.neural_lm else _latest("runs/lm_gpt2_small/*/checkpoints/best")
    )
    if neural_path is not None:
        neural = load_lm(neural_path)
        fused = CTCBeamSearchDecoder.from_vocab(
            vocab,
            beam_size=args.beam_size,
            lm=neural,
            alpha=args.alpha,
            beta=args.beta,
            token_min_logp=args.token_min_logp,
            beam_prune_logp=args.beam_prune_logp,
            group_size=64,
        )
        hyps, seconds = _timed(lambda: fused.decode(log_probs), 1)
        record(f"beam {args.beam_size} + neural ({neural_path.parent.parent.name})", hyps, seconds)
    else:
        print("  (no neural LM: train one with `seqlab train lm_gpt2_small` or pass --neural-lm)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"checkpoint": str(ckpt), "lm": str(lm_path), "rows": rows, "speed_ratio": speed},
                indent=2,
            )  # fmt: skip
        )


if __name__ == "__main__":
    main()
