"""Why asr_bilstm was slow on the CPU and what the recipe's defaults do about it.

    python bench/asr_bilstm.py [--threads 1] [--items 16] [--seconds 5] [--rounds 2]
                               [--runs RUN_DIR ...]

1. One training step (forward, CTC loss, backward) of the recipe's model (2 x 256 BiLSTM, 80
   mels, 29 classes) on one synthetic batch of log-mels, for each variant, measured interleaved
   round by round in this process; printed as seconds, audio seconds per second and the ratio to
   the old default (packed sequences, no subsampling):
   - packed: ``nn.LSTM`` over a PackedSequence (the old path; torch's step-by-step CPU fallback)
   - padded, oneDNN off: the per-direction padded path on torch's native kernel
   - padded: the same on oneDNN (torch's CPU default), frame_stride 1, 2, 3 (3 = the recipe's default)
   - the Conv1d front end (stride 2; more parameters), and the model in bf16 (no native bf16 on
     AVX2; under autocast the model keeps its LSTM in fp32, as oneDNN refuses bf16 there)
   - batch size: the default variant on 1/4 and 4x the batch (``data.max_batch_seconds``)
2. ``--runs``: the engine's own logged training rate (``audio_s_per_s`` in metrics.jsonl, one
   record per ``trainer.log_every_n_steps``) of ``seqlab train asr_bilstm`` runs.

Numbers depend on the machine and its load; compare the ratios. Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.engine.writers import read_metrics
from seqlab.models.asr.bilstm_ctc import BiLSTMCTC

N_MELS, VOCAB, FRAMES_PER_SECOND = 80, 29, 100


def make_batch(items: int, seconds: float, seed: int = 0):
    """Random log-mels (B, T, 80) with lengths spread over [0.8, 1] x ``seconds`` and char targets."""
    gen = torch.Generator().manual_seed(seed)
    frames = int(seconds * FRAMES_PER_SECOND)
    lengths = torch.randint(int(0.8 * frames), frames + 1, (items,), generator=gen)
    lengths[0] = frames
    feats = torch.randn(items, frames, N_MELS, generator=gen)
    target_lengths = (lengths // 12).clamp(min=1)  # ~8 characters per second of speech
    targets = torch.randint(1, VOCAB, (items, int(target_lengths.max())), generator=gen)
    return feats, lengths, targets, target_lengths


def train_step(model: BiLSTMCTC, batch) -> float:
    """Seconds of one forward + CTC loss + backward."""
    feats, lengths, targets, target_lengths = batch
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    log_probs, out_lengths = model(feats, lengths)
    loss = F.ctc_loss(
        log_probs.transpose(0, 1), targets, out_lengths, target_lengths, zero_infinity=True
    )
    loss.backward()
    return time.perf_counter() - start


def profile(args) -> None:
    torch.manual_seed(0)
    base = BiLSTMCTC(n_mels=N_MELS, vocab_size=VOCAB)
    n_base = sum(p.numel() for p in base.parameters())

    def model(**kwargs) -> BiLSTMCTC:
        m = BiLSTMCTC(n_mels=N_MELS, vocab_size=VOCAB, **kwargs).train()
        if not kwargs.get("conv_frontend"):
            m.load_state_dict(base.state_dict())  # same weights: same work
        return m

    batch = make_batch(args.items, args.seconds)
    variants = {  # name -> (model, batch, oneDNN enabled)
        "packed, stride 1 (old default)": (model(pack_sequences=True), batch, True),
        "padded, stride 1, oneDNN off": (model(), batch, False),
        "padded, stride 1": (model(), batch, True),
        "padded, stride 2": (model(frame_stride=2), batch, True),
        "padded, stride 3 (new default)": (model(frame_stride=3), batch, True),
        "padded, conv front end stride 2": (model(conv_frontend=True), batch, True),
        "padded, stride 3, bf16 weights": (
            model(frame_stride=3).to(torch.bfloat16),
            tuple(t.bfloat16() if t.is_floating_point() else t for t in batch),
            True,
        ),
        "padded, stride 3, 1/4 batch": (
            model(frame_stride=3),
            make_batch(max(1, args.items // 4), args.seconds),
            True,
        ),
        "padded, stride 3, 4x batch": (
            model(frame_stride=3),
            make_batch(args.items * 4, args.seconds),
            True,
        ),
    }
    if args.skip_packed:
        del variants["packed, stride 1 (old default)"]
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds + 1):  # round 0 warms up (allocations, oneDNN primitives)
        for name, (m, b, onednn) in variants.items():
            with torch.backends.mkldnn.flags(enabled=onednn):
                seconds = train_step(m, b)
            if round_ > 0:
                times[name].append(seconds)
            print(f"  round {round_} {name}: {seconds:.2f} s", flush=True)
    print(
        f"\nOne training step, {args.items} items of {0.8 * args.seconds:.1f}-{args.seconds:.1f} s, "
        f"{torch.get_num_threads()} thread(s), median of {args.rounds} interleaved rounds:"
    )
    ref_name = next(iter(variants))
    ref = statistics.median(times[ref_name]) / float(batch[1].sum())
    print(f"{'variant':<36} {'params':>10} {'step s':>8} {'audio s/s':>10} {'speed-up':>9}")
    for name, (m, b, _) in variants.items():
        step = statistics.median(times[name])
        audio = float(b[1].sum()) / FRAMES_PER_SECOND
        params = sum(p.numel() for p in m.parameters())
        speedup = ref / (step / float(b[1].sum()))
        print(f"{name:<36} {params:>10,} {step:>8.2f} {audio / step:>10.1f} {speedup:>8.1f}x")
    print(f"(default model: {n_base:,} parameters; the speed-up is per audio second vs {ref_name})")


def engine_rates(run_dirs: list[str]) -> None:
    """The engine's logged training rate of each run (one record per ``log_every_n_steps``)."""
    for run in run_dirs:
        rates = [r["audio_s_per_s"] for r in read_metrics(Path(run)) if "audio_s_per_s" in r]
        if not rates:
            print(f"{run}: no audio_s_per_s records")
            continue
        print(
            f"{run}: training audio s/s median {statistics.median(rates):.1f} "
            f"(min {min(rates):.1f}, max {max(rates):.1f}; {len(rates)} logged windows)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--items", type=int, default=16, help="utterances in the batch")
    parser.add_argument("--seconds", type=float, default=5.0, help="longest utterance (s)")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds (after a warm-up)")
    parser.add_argument("--skip-packed", action="store_true", help="leave the slow packed path out")
    parser.add_argument("--runs", nargs="*", default=[], help="run dirs: their logged audio s/s")
    parser.add_argument("--no-profile", action="store_true", help="only read --runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.no_profile:
        profile(args)
    engine_rates(args.runs)


if __name__ == "__main__":
    main()
