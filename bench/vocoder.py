"""HiFi-GAN on this machine: synthesis speed against the official inference path, training speed,
and mel extraction batched on the device against per item in the loader.

    python bench/vocoder.py [--presets v1,v2,v3] [--seconds 4] [--repeats 5] [--threads 2]

1. Synthesis real-time factor (audio seconds per wall second) of V1, V2 and V3 at batch 1 (one
   ``--seconds`` clip) and batch 16 (16 one-second clips): seqlab's ``Vocoder`` (weight norm
   folded, in-place residual sums, ``torch.inference_mode``) against the official inference path
   (``bench/hifigan_reference.py``: the official module tree with legacy weight norm, loaded from
   seqlab's export in the official layout, ``remove_weight_norm``, out-of-place sums,
   ``torch.no_grad``) on identical weights. The two outputs are compared; timings interleave the
   two, ``--repeats`` times, and the ratio is of the best runs (the least disturbed by load).
2. Training optimizer steps per second (one D step + one G step each) of ``vocoder_demo`` and of
   the official V1 recipe (full discriminators; ``--v1-batch`` segments, official 16), on random
   segments.
3. Log-mel extraction of 8192-sample training segments: in batch on the device (seqlab) against
   per item inside DataLoader workers (the official dataset's way), in segments per second.
Numbers depend on the machine and its load; the ratios are what the README quotes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hifigan_reference import OfficialLayoutGenerator  # noqa: E402
from seqlab.audio.hifigan_mel import HiFiGANMel  # noqa: E402
from seqlab.models.vocoder.hifigan import HIFIGAN_CONFIGS, build_generator  # noqa: E402
from seqlab.models.vocoder.official import to_official  # noqa: E402
from seqlab.tasks.vocoder.vocoding import Vocoder  # noqa: E402

SAMPLE_RATE, HOP = 22050, 256


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired_generators(preset: str):
    """seqlab's HiFi-GAN generator of ``preset`` with seeded random weights of a plausible scale,
    the official-layout generator holding the same weights (weight norm removed), and seqlab's
    ``Vocoder`` around ours: ``(generator, official, vocoder)``."""
    torch.manual_seed(0)
    generator = build_generator(preset)
    for p in generator.parameters():  # weights of a plausible scale (init draws tiny ones)
        p.data.add_(torch.randn_like(p) * 0.01)
    official = OfficialLayoutGenerator(HIFIGAN_CONFIGS[preset])
    official.load_state_dict(to_official(generator.state_dict()), strict=True)
    official.remove_weight_norm().eval()
    return generator, official, Vocoder(generator, HiFiGANMel(), SAMPLE_RATE)


def synthesis(preset: str, batch: int, seconds: float, repeats: int) -> dict:
    """Median RTFs of seqlab's and the official inference path on the same random weights."""
    generator, official, ours = paired_generators(preset)
    frames = int(seconds * SAMPLE_RATE / HOP)
    mels = torch.randn(batch, 80, frames) - 5.0  # (B, 80, F) log-mels
    mel_list = [m.numpy() for m in mels]

    def run_official():
        with torch.no_grad():
            return official(mels)

    def run_ours():
        return ours.vocode(mel_list, batch_size=batch)

    reference = run_official()[:, 0].numpy()
    mine = np.stack(run_ours())
    max_diff = float(np.abs(reference - mine).max())
    audio = batch * frames * HOP / SAMPLE_RATE
    times = {"seqlab": [], "official": []}
    for r in range(repeats):  # interleaved, alternating who goes first
        order = ("seqlab", "official") if r % 2 == 0 else ("official", "seqlab")
        for name in order:
            times[name].append(_timed(run_ours if name == "seqlab" else run_official))
    rtf = {k: audio / min(v) for k, v in times.items()}  # best run: least disturbed by load
    return {
        "preset": preset,
        "batch": batch,
        "audio_s": audio,
        "rtf_seqlab": rtf["seqlab"],
        "rtf_official": rtf["official"],
        "ratio": rtf["seqlab"] / rtf["official"],
        "max_abs_diff": max_diff,
    }


def training_speed(experiment: str, overrides: list[str], steps: int) -> dict:
    """Optimizer steps per second (D + G) of ``experiment`` on random segments."""
    from hydra.utils import instantiate

    from seqlab.config import compose_experiment

    cfg = compose_experiment(experiment, ["data.root=/unused", *overrides])
    task = instantiate(cfg.task, cfg=cfg, _recursive_=False)
    g_opt = torch.optim.AdamW(task.generator.parameters(), 2e-4, betas=(0.8, 0.99))
    d_opt = torch.optim.AdamW(task.discriminator.parameters(), 2e-4, betas=(0.8, 0.99))
    optimizers = {"generator": g_opt, "discriminator": d_opt}
    batch_size, segment = int(cfg.data.batch_size), int(cfg.data.segment_size)
    batch = {
        "audio": torch.randn(batch_size, segment).clamp(-1, 1) * 0.3,
        "audio_lengths": torch.full((batch_size,), segment),
    }

    def step():
        for name, out in task.training_step(batch):
            optimizers[name].zero_grad()
            out["loss"].backward()
            optimizers[name].step()

    step()  # warm-up
    seconds = [_timed(step) for _ in range(steps)]
    return {
        "experiment": experiment,
        "batch": batch_size,
        "segment": segment,
        "generator_parameters": sum(p.numel() for p in task.generator.parameters()),
        "discriminator_parameters": sum(p.numel() for p in task.discriminator.parameters()),
        "steps_per_s": 1.0 / statistics.median(seconds),
    }


class _Segments(torch.utils.data.Dataset):
    """Random 8192-sample segments; with ``mel`` each item's log-mel is computed in the worker."""

    def __init__(self, n: int, mel: HiFiGANMel | None):
        self.n, self.mel = n, mel

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        audio = torch.from_numpy(
            np.random.default_rng(i).uniform(-0.5, 0.5, 8192).astype(np.float32)
        )
        if self.mel is None:
            return audio
        with torch.no_grad():
            return audio, self.mel(audio[None])[0]


def mel_extraction(n_items: int, workers: int, repeats: int) -> dict:
    """Segments per second: mel per item in the loader's workers vs in batch after loading."""
    mel = HiFiGANMel()

    def per_item():
        loader = torch.utils.data.DataLoader(
            _Segments(n_items, mel), batch_size=16, num_workers=workers
        )
        for _audio, _mels in loader:
            pass

    def batched():
        loader = torch.utils.data.DataLoader(
            _Segments(n_items, None), batch_size=16, num_workers=workers
        )
        with torch.no_grad():
            for audio in loader:
                mel(audio)

    times = {"batched": [], "per_item": []}
    for r in range(repeats):
        order = ("batched", "per_item") if r % 2 == 0 else ("per_item", "batched")
        for name in order:
            times[name].append(_timed(batched if name == "batched" else per_item))
    rates = {k: n_items / statistics.median(v) for k, v in times.items()}
    return {**rates, "ratio": rates["batched"] / rates["per_item"], "workers": workers}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="v1,v2,v3")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length at batch 1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue's: 2)")
    parser.add_argument("--train-steps", type=int, default=2, help="timed steps after a warm-up")
    parser.add_argument(
        "--v1-batch",
        type=int,
        default=4,
        help="V1 training batch (official 16: minutes per CPU step)",
    )
    parser.add_argument("--skip", default="", help="comma list of: synthesis,training,mel")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    print(f"torch {torch.__version__}, {args.threads} threads")
    if "synthesis" not in skip:
        print("\nsynthesis, real-time factor (audio s / wall s), best of interleaved runs")
        print(f"{'':4} {'batch':>5} {'seqlab':>8} {'official':>9} {'ratio':>6} {'max |diff|':>10}")
        for preset in args.presets.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                seconds = args.seconds if batch == 1 else 1.0
                r = synthesis(preset, batch, seconds, args.repeats)
                print(
                    f"{preset:4} {batch:5d} {r['rtf_seqlab']:7.2f}x {r['rtf_official']:8.2f}x "
                    f"{r['ratio']:5.2f}x {r['max_abs_diff']:10.1e}",
                    flush=True,
                )
    if "training" not in skip:
        print("\ntraining, optimizer steps (D + G) per second on random segments")
        for experiment, overrides in (
            ("vocoder_demo", []),
            ("vocoder_hifigan_v1", [f"data.batch_size={args.v1_batch}"]),
        ):
            r = training_speed(experiment, overrides, args.train_steps)
            print(
                f"{experiment:20} batch {r['batch']} x {r['segment']}: {r['steps_per_s']:.3f} "
                f"steps/s, {r['steps_per_s'] * r['batch']:.2f} segments/s "
                f"(G {r['generator_parameters']:,}, D {r['discriminator_parameters']:,} parameters)",
                flush=True,
            )
    if "mel" not in skip:
        r = mel_extraction(n_items=512, workers=2, repeats=args.repeats)
        print(
            f"\nlog-mel of 8192-sample segments, {r['workers']} loader workers: batched "
            f"{r['batched']:.0f} segments/s, per item in the workers {r['per_item']:.0f}/s, "
            f"ratio {r['ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
