"""Measured claims of seqlab's ASR pipeline, each against a peer on the same input in one run.

    python bench/asr_pipeline.py [--data data/synth_speech] [--demo-run runs/asr_conformer/<run>]

1. Log-mel features: seqlab's batched LogMelSpectrogram (torch.stft, on the training device) vs
   librosa per item, as a course template computes them in its Dataset: (a) the computation alone,
   (b) the whole loader: DataLoader workers that decode + compute per item vs workers that only
   decode and the batch computed in the main process.
2. Batching: padding fraction over an epoch and training throughput (valid audio seconds per wall
   second, Conformer-CTC forward + CTC + backward + AdamW) with length-bucketed dynamic batches vs
   random batches of the same mean size.
3. The demo: test WER/CER of a `make demo` run (its eval.json) and its training time.

Numbers depend on the machine and its load; the ratios are what to compare. Nothing here is
asserted in the tests.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlab.audio.features import LogMelSpectrogram
from seqlab.config import compose_experiment
from seqlab.data.asr_dataset import ASRDataset
from seqlab.data.bucketing import DynamicBucketBatchSampler, RandomBatchSampler, padding_fraction
from seqlab.data.collate import collate_asr
from seqlab.engine.rng import seed_everything
from seqlab.engine.trainer import resolve_precision
from seqlab.engine.writers import read_metrics, training_seconds
from seqlab.tasks.asr.task import ASRTask

MEL = dict(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80)


def librosa_logmel(wave: np.ndarray) -> np.ndarray:
    """The per-item peer: librosa power mel -> log -> per-utterance mean/variance normalisation."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=wave,
        sr=MEL["sample_rate"],
        n_fft=MEL["n_fft"],
        win_length=MEL["win_length"],
        hop_length=MEL["hop_length"],
        n_mels=MEL["n_mels"],
        center=True,
        pad_mode="constant",
        htk=False,
        norm="slaney",
    )
    logmel = np.log(np.maximum(mel, 1e-10))
    return (logmel - logmel.mean(1, keepdims=True)) / np.maximum(logmel.std(1, keepdims=True), 1e-5)


class LibrosaFeatureDataset(torch.utils.data.Dataset):
    """A course-template Dataset: decode and compute the log-mel of one item in the worker."""

    def __init__(self, dataset: ASRDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> torch.Tensor:
        item = self.dataset[i]
        return torch.from_numpy(librosa_logmel(item["audio"].numpy())).T  # (F, n_mels)


def pad_features(items: list[torch.Tensor]) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(items, batch_first=True)


def bench_features(dataset: ASRDataset, n_items: int, workers: int) -> dict:
    """(a) computation alone on decoded audio, (b) the whole loader with worker processes."""
    subset = list(range(min(n_items, len(dataset))))
    waves = [dataset[i]["audio"] for i in subset]
    seconds = sum(len(w) for w in waves) / MEL["sample_rate"]
    durations = [dataset.durations[i] for i in subset]
    batches = [
        [subset[j] for j in b]
        for b in DynamicBucketBatchSampler(durations, max_batch_seconds=120, shuffle=False)
    ]
    logmel = LogMelSpectrogram(**MEL, normalize="utterance")

    with torch.inference_mode():
        logmel(waves[0][None], torch.tensor([len(waves[0])]))  # warm-up
        t0 = time.perf_counter()
        for batch in batches:
            audio = torch.nn.utils.rnn.pad_sequence([waves[i] for i in batch], batch_first=True)
            logmel(audio, torch.tensor([len(waves[i]) for i in batch]))
        ours = time.perf_counter() - t0
    librosa_logmel(waves[0].numpy())  # warm-up (numba, caches)
    t0 = time.perf_counter()
    for wave in waves:
        librosa_logmel(wave.numpy())
    theirs = time.perf_counter() - t0

    # (b) the loader as a whole: workers decode (+ compute, for the template) one epoch of the subset
    sub = torch.utils.data.Subset(dataset, subset)
    loader_ours = DataLoader(sub, batch_size=16, num_workers=workers, collate_fn=collate_asr)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for items in loader_ours:
            logmel(items["audio"], items["audio_lengths"])
    ours_loader = time.perf_counter() - t0
    loader_theirs = DataLoader(
        LibrosaFeatureDataset(sub), batch_size=16, num_workers=workers, collate_fn=pad_features
    )
    t0 = time.perf_counter()
    for _ in loader_theirs:
        pass
    theirs_loader = time.perf_counter() - t0
    return {
        "audio_seconds": round(seconds, 1),
        "compute_seqlab_audio_s_per_s": round(seconds / ours, 1),
        "compute_librosa_audio_s_per_s": round(seconds / theirs, 1),
        "compute_ratio": round(theirs / ours, 2),
        "loader_seqlab_audio_s_per_s": round(seconds / ours_loader, 1),
        "loader_librosa_audio_s_per_s": round(seconds / theirs_loader, 1),
        "loader_ratio": round(theirs_loader / ours_loader, 2),
    }


def bench_batching(cfg, steps: int, warmup: int) -> dict:
    """Padding fraction over an epoch and training throughput, bucketed vs random batches."""
    seed_everything(int(cfg.seed))
    task = ASRTask(cfg)
    dataset = ASRDataset(task.utterances("train", None), task.vocab, task.sample_rate)
    bucketed = DynamicBucketBatchSampler(
        dataset.durations, max_batch_seconds=float(cfg.data.max_batch_seconds), seed=0
    )
    bucket_batches = list(bucketed)
    mean_size = max(1, round(len(dataset) / len(bucket_batches)))
    random_batches = list(RandomBatchSampler(dataset.durations, batch_size=mean_size, seed=0))
    initial = {k: v.clone() for k, v in task.model.state_dict().items()}
    precision = resolve_precision(str(cfg.trainer.precision), use_cpu=True)  # as the engine does
    result = {
        "mean_batch_size": mean_size,
        "padding_bucketed": round(padding_fraction(bucket_batches, dataset.durations), 4),
        "padding_random": round(padding_fraction(random_batches, dataset.durations), 4),
        "precision": precision,
    }
    for name, batches in (("bucketed", bucket_batches), ("random", random_batches)):
        task.model.load_state_dict(initial)
        task.model.train()
        optimizer = torch.optim.AdamW(task.model.parameters(), lr=1e-3)
        valid = 0.0
        elapsed = 0.0
        for i, batch_ids in enumerate(batches[: warmup + steps]):
            batch = collate_asr([dataset[j] for j in batch_ids])
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = task.training_step(batch)["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if i >= warmup:
                elapsed += time.perf_counter() - t0
                valid += float(batch["audio_lengths"].sum()) / task.sample_rate
        result[f"train_{name}_audio_s_per_s"] = round(valid / elapsed, 1)
    result["train_ratio"] = round(
        result["train_bucketed_audio_s_per_s"] / result["train_random_audio_s_per_s"], 2
    )
    return result


def demo_figures(run_dir: Path) -> dict:
    """Test WER/CER (eval.json) and training time (metrics.jsonl) of a finished demo run."""
    evaluation = json.loads((run_dir / "eval.json").read_text())
    records = read_metrics(run_dir)
    val = [r for r in records if "val_wer" in r]
    return {
        "run": str(run_dir),
        "test_wer": round(evaluation["metrics"]["wer"], 4),
        "test_cer": round(evaluation["metrics"]["cer"], 4),
        "test_items": evaluation["n_items"],
        "best_val_wer": round(min(r["val_wer"] for r in val), 4) if val else None,
        "training_minutes": round(training_seconds(run_dir) / 60, 2),
        "steps": max((r["step"] for r in records), default=0),
    }


def latest_demo_run(root: Path) -> Path | None:
    runs = sorted(p.parent for p in (root / "asr_conformer").glob("*/eval.json"))
    return max(runs, key=lambda p: (p / "eval.json").stat().st_mtime) if runs else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default="data/synth_speech", help="built-in corpus (make demo builds it)"
    )
    parser.add_argument(
        "--items", type=int, default=300, help="utterances for the feature benchmark"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="DataLoader workers in the loader comparison"
    )
    parser.add_argument(
        "--steps", type=int, default=8, help="timed training steps per batching strategy"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    parser.add_argument(
        "--demo-run", default=None, help="run dir of `make demo` (default: newest under runs/)"
    )
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / "corpus.json").is_file():
        from seqlab.corpora.synth_speech import build_corpus

        print(f"building a 0.5 h corpus in {data} (make demo builds the 2.5 h one)")
        build_corpus(data, hours=0.5, seed=0)
    cfg = compose_experiment("asr_conformer", [f"data.root={data}"])
    torch.manual_seed(0)
    results: dict = {"torch_threads": torch.get_num_threads()}

    task = ASRTask(cfg)
    dataset = ASRDataset(task.utterances("train", None), task.vocab, task.sample_rate)
    print("1. log-mel features: seqlab batched (torch.stft) vs librosa per item ...", flush=True)
    results["features"] = bench_features(dataset, args.items, args.workers)
    print(json.dumps(results["features"], indent=2))
    print(
        "2. batching: bucketed dynamic batches vs random batches of the same mean size ...",
        flush=True,
    )
    results["batching"] = bench_batching(cfg, args.steps, args.warmup)
    print(json.dumps(results["batching"], indent=2))
    run = Path(args.demo_run) if args.demo_run else latest_demo_run(Path(cfg.trainer.runs_root))
    if run is not None and (run / "eval.json").is_file():
        results["demo"] = demo_figures(run)
        print("3. the demo run:")
        print(json.dumps(results["demo"], indent=2))
    else:
        print("3. no demo run with eval.json found: run `make demo` first (or pass --demo-run)")

    f, b = results["features"], results["batching"]
    print("\nratios (seqlab / peer, same input, same process):")
    print(f"  log-mel compute, batched vs librosa per item:      x{f['compute_ratio']}")
    print(f"  loader with features, batched vs per item in workers: x{f['loader_ratio']}")
    print(
        f"  padding, bucketed vs random batches:              {100 * b['padding_bucketed']:.1f}% vs "
        f"{100 * b['padding_random']:.1f}%"
    )
    print(f"  training throughput, bucketed vs random batches:  x{b['train_ratio']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
