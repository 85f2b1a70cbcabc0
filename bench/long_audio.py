"""Long-audio transcription: peak memory and time of windowed decoding, and its WER against
whole-file decoding (issue 15).

    python bench/long_audio.py CHECKPOINT --fsdd DIR [--hours 1] [--minutes 2] [--out DIR]

Builds two recordings from Free Spoken Digit Dataset clips (8 kHz) joined with 0.4 s pauses:
a ``--minutes`` file of test clips (``--test-manifest``, else ``DIR/<manifests>/test.jsonl`` of
the checkpoint's config, else ``DIR/test.jsonl``; the reference is their digit words in order)
and a ``--hours`` file of every recording, cycled. Each decode runs in a fresh child process
(``seqlab transcribe``'s library path, 1 thread unless OMP_NUM_THREADS says otherwise), which
reports its peak RSS (``ru_maxrss``) and wall time; the two decodings of the short file alternate
(whole, windowed, whole, windowed) on the same file. Prints one JSON object per measurement and a
summary: WER of each decoding against the reference, WER of windowed against whole-file text,
real-time factors and peak memory.

The model of the README's figures learnt digit sequences (the single-digit recipe emits one word
per input, whatever its length):

    python bench/long_audio.py --make-corpus /tmp/fsdd_seq --fsdd DIR
    seqlab train asr_bilstm_fsdd data.root=/tmp/fsdd_seq data.manifests=. trainer.max_seconds=420

Numbers depend on the machine and its load; compare the ratios. Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 8000
PAUSE = 0.4  # seconds of silence between clips


def build(clips: list[Path], seconds: float, out: Path, seed: int = 0) -> list[str]:
    """Write ``clips`` (cycled, shuffled per cycle) with pauses until ``seconds``, as 16-bit wav
    written block by block; returns the digit word of each clip used (FSDD names: ``3_theo_7.wav``)."""
    words = "zero one two three four five six seven eight nine".split()
    rng = random.Random(seed)
    pause = np.zeros(int(PAUSE * RATE), dtype=np.float32)
    used: list[str] = []
    written = 0
    with sf.SoundFile(str(out), "w", RATE, 1, subtype="PCM_16") as sink:
        while written < seconds * RATE:
            order = list(clips)
            rng.shuffle(order)
            for clip in order:
                wave, rate = sf.read(str(clip), dtype="float32")
                assert rate == RATE, f"{clip}: {rate} Hz, expected {RATE}"
                if wave.ndim > 1:
                    wave = wave.mean(axis=1)
                sink.write(np.concatenate([wave, pause]))
                written += len(wave) + len(pause)
                used.append(words[int(clip.name.split("_")[0])])
                if written >= seconds * RATE:
                    break
    return used


def make_corpus(fsdd: Path, out: Path, seed: int = 0) -> None:
    """Manifests of digit sequences (1-5 clips with 0.05-0.5 s pauses) from the clips of
    ``heldout_jackson`` (2,500 train, 150 val; test: jackson's single clips)."""
    rng = random.Random(seed)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    held = fsdd / "heldout_jackson"
    for split, count in (("train", 2500), ("val", 150), ("test", 0)):
        rows = [json.loads(line) for line in (held / f"{split}.jsonl").read_text().splitlines()]
        for row in rows:
            row["audio_filepath"] = str((held / row["audio_filepath"]).resolve())
        if not count:  # the test split as it is
            (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            continue
        made = []
        for i in range(count):
            pick = [rng.choice(rows) for _ in range(rng.randint(1, 5))]
            parts = [np.zeros(int(rng.uniform(0.0, 0.3) * RATE), np.float32)]
            for row in pick:
                parts.append(sf.read(row["audio_filepath"], dtype="float32")[0])
                parts.append(np.zeros(int(rng.uniform(0.05, 0.5) * RATE), np.float32))
            wave = np.concatenate(parts)
            name = f"wav/{split}_{i}.wav"
            sf.write(str(out / name), wave, RATE, subtype="PCM_16")
            text = " ".join(r["text"] for r in pick)
            made.append(
                {"audio_filepath": name, "duration": round(len(wave) / RATE, 4), "text": text}
            )
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in made))


def child(checkpoint: str, audio: str, window: float | None) -> None:
    """One decode in this process: prints {text, seconds, peak_rss_mb, audio_seconds}."""
    import torch

    import seqlab

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model = seqlab.load(checkpoint)
    start = time.perf_counter()
    text = model.transcribe(audio, window_seconds=window)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux -> MB
    info = sf.info(audio)
    row = {"window": window, "seconds": round(seconds, 2), "peak_rss_mb": round(peak)}
    row.update(audio_seconds=round(info.frames / info.samplerate, 1), text=text)
    print(json.dumps(row))


def run_child(checkpoint: str, audio: Path, window: float | None) -> dict:
    """Run :func:`child` in a fresh process (its own peak memory)."""
    argv = [sys.executable, __file__, "--child", checkpoint, str(audio)]
    argv += ["--window", "0" if window is None else str(window)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def wer(reference: list[str], hypothesis: str) -> float:
    import jiwer

    return jiwer.wer(" ".join(reference), hypothesis or "<empty>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--make-corpus", help="write the digit-sequence corpus here and stop")
    parser.add_argument("audio", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--fsdd", help="free-spoken-digit-dataset directory")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="whole/windowed pairs on the short file"
    )
    parser.add_argument(
        "--test-manifest", help="clips of the short file (default: the checkpoint's test split)"
    )
    parser.add_argument("--out", default="/tmp/seqlab_long_audio")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, default=30.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.checkpoint, args.audio, args.window or None)
    if args.make_corpus:
        return make_corpus(Path(args.fsdd), Path(args.make_corpus))

    import yaml

    fsdd, out = Path(args.fsdd), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((Path(args.checkpoint) / "config.yaml").read_text())
    manifests = (config.get("data") or {}).get("manifests")
    test = fsdd / manifests / "test.jsonl" if manifests else fsdd / "test.jsonl"
    test = Path(args.test_manifest) if args.test_manifest else test
    rows = [json.loads(line) for line in test.read_text().splitlines() if line.strip()]
    test_clips = [(test.parent / r["audio_filepath"]).resolve() for r in rows]
    short = out / f"fsdd_test_{args.minutes:g}min.wav"
    reference = build(test_clips, args.minutes * 60, short)
    hour = out / f"fsdd_{args.hours:g}h.wav"
    build(sorted((fsdd / "recordings").glob("*.wav")), args.hours * 3600, hour, seed=1)
    print(f"# {short.name}: {len(reference)} clips; test clips from {test}", flush=True)

    results: dict[str, list[dict]] = {"whole": [], "windowed": []}
    for _ in range(args.rounds):  # interleaved on the same file
        for name, window in (("whole", None), ("windowed", 30.0)):
            row = run_child(args.checkpoint, short, window)
            results[name].append(row)
            print(json.dumps({"file": short.name, "mode": name, **row, "text": row["text"][:60]}))
    long_row = run_child(args.checkpoint, hour, 30.0)
    print(
        json.dumps(
            {"file": hour.name, "mode": "windowed", **long_row, "text": long_row["text"][:60]}
        )
    )

    whole, windowed = results["whole"][0]["text"], results["windowed"][0]["text"]
    summary = {
        "threads": int(os.environ.get("OMP_NUM_THREADS", "1")),
        "short_file_seconds": results["whole"][0]["audio_seconds"],
        "wer_whole_vs_reference": round(wer(reference, whole), 4),
        "wer_windowed_vs_reference": round(wer(reference, windowed), 4),
        "wer_windowed_vs_whole": round(wer(whole.split(), windowed), 4),
        "short_whole_seconds": [r["seconds"] for r in results["whole"]],
        "short_windowed_seconds": [r["seconds"] for r in results["windowed"]],
        "short_whole_peak_mb": max(r["peak_rss_mb"] for r in results["whole"]),
        "short_windowed_peak_mb": max(r["peak_rss_mb"] for r in results["windowed"]),
        "hour_audio_seconds": long_row["audio_seconds"],
        "hour_windowed_seconds": long_row["seconds"],
        "hour_rtf": round(long_row["seconds"] / long_row["audio_seconds"], 4),
        "hour_windowed_peak_mb": long_row["peak_rss_mb"],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
