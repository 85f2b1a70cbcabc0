"""Where an mt_lstm training step's time goes on Multi30k: the old recipe against the new ones.

    OMP_NUM_THREADS=1 python bench/mt_lstm_step.py --data /path/to/multi30k [--batches 6] [--repeats 3]

One process, one torch thread, the same length-bucketed batches (the task's own batching limits:
4,000 padded tokens, 128 pairs) for every variant, and the variants interleaved repeat by repeat so
that load from other processes falls on all of them alike. A step is the task's: forward, label-smoothed
cross-entropy, backward, gradient clipping and an AdamW step. Variants:

  old          the issue's run: raw whitespace words, min_freq 1, 3 layers, input feeding
  old_ss       the same at teacher forcing 0.9 (scheduled sampling from epoch 2 on)
  no_feeding   the same without input feeding (the decoder runs over the target in one call)
  multi30k     mt_lstm_multi30k's model: Moses-tokenised words, min_freq 2, 1 layer, input feeding
  multi30k_nf  the same without input feeding

Prints ms per step, target tokens per second and each one's speed-up over `old`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.models.mt.lstm_seq2seq import LSTMSeq2Seq
from seqlab.text.mt_vocab import BOS_ID, EOS_ID, PAD_ID, WordVocab

VARIANTS = {
    # name: (tokenize, min_freq, model kwargs, teacher forcing)
    "old": ("none", 1, dict(num_layers=3, input_feeding=True, dropout=0.2), 1.0),
    "old_ss": ("none", 1, dict(num_layers=3, input_feeding=True, dropout=0.2), 0.9),
    "no_feeding": ("none", 1, dict(num_layers=3, input_feeding=False, dropout=0.2), 1.0),
    "multi30k": ("moses", 2, dict(num_layers=1, input_feeding=True, dropout=0.2), 1.0),
    "multi30k_nf": ("moses", 2, dict(num_layers=1, input_feeding=False, dropout=0.2), 1.0),
}


def _batches(src_ids, tgt_ids, n: int, seed: int = 0) -> list[tuple]:
    """``n`` batches of similar-length pairs within 4,000 padded tokens and 128 pairs."""
    order = sorted(range(len(src_ids)), key=lambda i: (len(src_ids[i]), len(tgt_ids[i])))
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = rng.randrange(0, len(order) - 128)
        chosen, width = [], 0
        for i in order[start:]:
            width = max(width, len(src_ids[i]) + 1, len(tgt_ids[i]) + 1)
            if len(chosen) == 128 or (len(chosen) + 1) * width > 4000:
                break
            chosen.append(i)
        src = [src_ids[i] + [EOS_ID] for i in chosen]
        tgt = [tgt_ids[i] + [EOS_ID] for i in chosen]

        def pad(rows):
            width = max(map(len, rows))
            return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows])

        out.append(
            (
                pad(src),
                torch.tensor([len(s) for s in src]),
                pad([[BOS_ID] + t[:-1] for t in tgt]),
                pad(tgt),
            )
        )
    return out


def main() -> None:
    """Build each vocabulary, model and batch set, then time interleaved training steps."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dir with train.de-en.de / train.de-en.en")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(args.data)
    de = (root / "train.de-en.de").read_text(encoding="utf-8").splitlines()
    en = (root / "train.de-en.en").read_text(encoding="utf-8").splitlines()
    setups = {}
    vocabs: dict[tuple, tuple] = {}
    for name, (tokenize, min_freq, kwargs, tf) in VARIANTS.items():
        key = (tokenize, min_freq)
        if key not in vocabs:
            sv = WordVocab.build(de, min_freq=min_freq, lang="de", tokenize=tokenize)
            tv = WordVocab.build(en, min_freq=min_freq, lang="en", tokenize=tokenize)
            ids = ([sv.encode(x) for x in de], [tv.encode(x) for x in en])
            vocabs[key] = (sv, tv, _batches(*ids, args.batches))
            print(f"vocabulary tokenize={tokenize} min_freq={min_freq}: de {len(sv)}, en {len(tv)}")
        sv, tv, batches = vocabs[key]
        torch.manual_seed(0)
        model = LSTMSeq2Seq(len(sv), len(tv), emb_dim=256, hidden_size=256, **kwargs).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01)
        setups[name] = (model, opt, batches, tf, [])
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params / 1e6:.1f}M parameters")

    def step(model, opt, batch, tf) -> None:
        src, src_lengths, tgt_in, tgt_out = batch
        logits = model(src, src_lengths, tgt_in, teacher_forcing=tf)  # (B, T, V)
        loss = F.cross_entropy(
            logits.transpose(1, 2), tgt_out, ignore_index=PAD_ID, label_smoothing=0.1
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for model, opt, batches, tf, _ in setups.values():  # warm-up: allocator, oneDNN primitives
        step(model, opt, batches[0], tf)
    for _ in range(args.repeats):
        for model, opt, batches, tf, times in setups.values():
            t0 = time.perf_counter()
            for batch in batches:
                step(model, opt, batch, tf)
            times.append(time.perf_counter() - t0)
    base = None
    print(f"\n{'variant':11s} {'ms/step':>8s} {'tgt tok/s':>10s} {'speed-up':>8s}")
    for name, (_, _, batches, _, times) in setups.items():
        per_step = statistics.median(times) / len(batches)
        tokens = sum(int((b[3] != PAD_ID).sum()) for b in batches) / len(batches)
        base = base or per_step
        print(f"{name:11s} {per_step * 1e3:8.0f} {tokens / per_step:10.0f} {base / per_step:8.2f}x")


if __name__ == "__main__":
    main()
