"""Why: a 960-hour corpus has ~300,000 utterances; this shows what the index and the sampler cost there.

    python bench/index_scale.py [--utterances 300000] [--root /tmp/seqlab_index_scale]
                                [--world-sizes 1 8] [--keep]

Generates a LibriSpeech-layout tree (``<subset>/<speaker>/<chapter>/*.trans.txt`` and one ``.flac``
per utterance) whose flac files are real headers only: a ``fLaC`` marker and a STREAMINFO block
that declares a varied, realistic length (1-35 s, most near 15 s, like train-960), and no audio
frames. The index reads durations from exactly that header, so bucketing sees real-looking lengths
while the tree costs one 42-byte file per utterance. A few utterances have no audio file, so the
bad-item path runs too.

Then, each in a fresh child process (so that peak RSS belongs to one phase):

1. cold index build: ``scan_librispeech`` + ``build_index`` with no cache (headers are read;
   the files were just written, so they are in the page cache: this is CPU cost, not disk I/O);
2. cached reload: the same with the cache written by 1 (stats the files, reads no header);
3. the ASR dataset over the reloaded index (it encodes every transcript up front);
4. one epoch of ``DynamicBucketBatchSampler`` (LibriSpeech config: 320 s per batch, 30 buckets)
   for each world size, rank 0: construction, then the first epoch's batch list, then the second.

Printed: seconds and peak RSS (absolute, and above the phase's starting RSS) per phase, and a
digest of each epoch's batch order so that two versions of the sampler can be compared. The
figures depend on the machine and its load; the issue's target is one epoch of bucketing and
sharding over 300,000 items under 2 s and 1 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SUBSET = "train-960"
WORDS = (
    "the and of to a in that he was it his i you with her had as for she not but at be him on is "
    "my they so all by this have from which said one were we me when there no an what if would "
    "their them or could been out then more into upon very some now little time down like man "
    "don't over good great before came old know made well any your eyes only first never himself "
    "thought long hand after again house through life away where nothing shall must young father "
    "night o'clock mother heard seemed asked every face place morning light voice door"
).split()
WORDS_PER_SECOND = 2.7  # LibriSpeech read speech: ~160 words per minute


def flac_header(frames: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A FLAC stream with its STREAMINFO block only: 16-bit mono, ``frames`` samples declared.

    STREAMINFO (FLAC format spec): min/max block size (16 bits each), min/max frame size (24 bits
    each, 0 = unknown), then 20 bits sample rate, 3 bits channels-1, 5 bits bits-per-sample-1,
    36 bits total samples, and a 16-byte MD5 of the audio (0 = not computed).
    """
    body = (4096).to_bytes(2, "big") * 2 + bytes(6)
    packed = (sample_rate << 44) | (0 << 41) | (15 << 36) | frames
    body += packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80]) + len(body).to_bytes(3, "big") + body  # 0x80: last block


def utterance_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Durations shaped like train-960 (mean 12.3 s): most 12-17 s, a tail of short ones, a few long."""
    kind = rng.random(n)
    main = rng.normal(14.8, 1.5, n).clip(10.0, 17.5)
    short = rng.uniform(1.0, 10.0, n)
    long = rng.uniform(17.5, 35.0, n)
    seconds = np.where(kind < 0.74, main, np.where(kind < 0.98, short, long))  # mean ~12.6 s
    return seconds.round(4)  # (n,)


def generate_tree(root: str | Path, n_utterances: int, seed: int = 0, missing_every: int = 50_000):
    """Write a LibriSpeech-layout subset ``<root>/train-960`` of ``n_utterances`` utterances.

    Args:
        root: the ``LibriSpeech``-like directory (created).
        n_utterances: utterances in all, spread over chapters of 20-100 and speakers of 1-4
            chapters (train-960 has ~55 utterances per chapter, ~2.3 chapters per speaker).
        seed: everything (layout, lengths, words) is a function of it.
        missing_every: every such utterance is listed in its transcript but has no audio
            file (a ``missing_file`` bad item); 0 for none.

    Returns:
        ``(utterance id -> declared seconds, ids of the utterances without an audio file)``.
    """
    rng = np.random.default_rng(seed)
    subset = Path(root) / SUBSET
    seconds = utterance_seconds(rng, n_utterances)
    n_words = np.maximum(1, (seconds * WORDS_PER_SECOND * rng.uniform(0.8, 1.2, n_utterances)))
    word_ids = rng.integers(0, len(WORDS), int(n_words.astype(np.int64).sum()))
    declared: dict[str, float] = {}
    missing: list[str] = []
    done = word_pos = speaker = 0
    while done < n_utterances:
        speaker += 1
        speaker_id = 19 + 7 * speaker
        for _ in range(int(rng.integers(1, 5))):
            if done >= n_utterances:
                break
            chapter_id = 100_000 + int(rng.integers(0, 900_000))
            chapter = subset / str(speaker_id) / str(chapter_id)
            chapter.mkdir(parents=True, exist_ok=True)
            lines = []
            for k in range(min(int(rng.integers(20, 101)), n_utterances - done)):
                utt_id = f"{speaker_id}-{chapter_id}-{k:04d}"
                count = int(n_words[done])
                text = " ".join(WORDS[i] for i in word_ids[word_pos : word_pos + count]).upper()
                word_pos += count
                lines.append(f"{utt_id} {text}\n")
                declared[utt_id] = float(seconds[done])
                if missing_every and done % missing_every == missing_every - 1:
                    missing.append(utt_id)
                else:
                    frames = int(round(float(seconds[done]) * SAMPLE_RATE))
                    (chapter / f"{utt_id}.flac").write_bytes(flac_header(frames))
                done += 1
            # LibriSpeech lists each chapter's utterances in id order (sorted scan order too).
            (chapter / f"{speaker_id}-{chapter_id}.trans.txt").write_text("".join(lines))
    return declared, missing


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _phase_index(args) -> dict:
    from seqlab.data.index import build_index
    from seqlab.data.librispeech import scan_librispeech
    from seqlab.text.vocab import build_vocab

    vocab = build_vocab("char")
    start_rss = _rss_bytes()
    t0 = time.perf_counter()
    items = scan_librispeech(args.root, [SUBSET])
    t1 = time.perf_counter()
    index = build_index(
        items,
        cache_path=args.cache,
        vocab=vocab,
        # a 10 ms hop and 4x subsampling, as the recipes' models (for the CTC length check)
        min_frames_fn=lambda seconds: int(seconds * 100) // 4,
        bad_items_path=Path(args.cache).with_name("bad_items.jsonl"),
        split="train",
    )
    t2 = time.perf_counter()
    durations = np.asarray(index.durations, dtype=np.float64)
    np.save(args.durations, durations)
    return {
        "scan_s": t1 - t0,
        "index_s": t2 - t1,
        "total_s": t2 - t0,
        "items": len(items),
        "good": len(index.utterances),
        "summary": index.summary,
        "hours": float(durations.sum() / 3600),
        "start_rss": start_rss,
        "peak_rss": _peak_rss_bytes(),
    }


def _phase_dataset(args) -> dict:
    """The training dataset over the (cached) index: what a run builds after the index."""
    from seqlab.data.asr_dataset import ASRDataset
    from seqlab.data.index import build_index
    from seqlab.data.librispeech import scan_librispeech
    from seqlab.text.vocab import build_vocab

    vocab = build_vocab("char")
    index = build_index(scan_librispeech(args.root, [SUBSET]), args.cache, vocab)
    start_rss = _rss_bytes()
    t0 = time.perf_counter()
    dataset = ASRDataset(index.utterances, vocab, SAMPLE_RATE)
    durations = dataset.durations
    t1 = time.perf_counter()
    return {"items": len(durations), "s": t1 - t0, "start_rss": start_rss,
            "peak_rss": _peak_rss_bytes(), "rss": _rss_bytes()}  # fmt: skip


def _digest(batches) -> str:
    h = hashlib.sha256()
    for batch in batches:
        h.update(np.asarray(batch, dtype=np.int64).tobytes() + b"|")
    return h.hexdigest()[:12]


def _phase_sampler(args) -> dict:
    from seqlab.data.bucketing import DynamicBucketBatchSampler

    durations = np.load(args.durations).tolist()  # a list, as ASRDataset.durations gives it
    start_rss = _rss_bytes()
    t0 = time.perf_counter()
    sampler = DynamicBucketBatchSampler(
        durations,
        max_batch_seconds=320.0,
        num_buckets=30,
        seed=0,
        num_replicas=args.world_size,
        rank=0,
    )
    t1 = time.perf_counter()
    epochs = []
    for epoch in range(2):
        t = time.perf_counter()
        sampler.set_epoch(epoch)
        batches = list(sampler)  # what the DataLoader draws over the epoch
        epochs.append((time.perf_counter() - t, len(batches), _digest(batches)))
        del batches
    return {
        "world_size": args.world_size,
        "construct_s": t1 - t0,
        "epoch_s": [e[0] for e in epochs],
        "batches": epochs[0][1],
        "digests": [e[2] for e in epochs],
        "start_rss": start_rss,
        "peak_rss": _peak_rss_bytes(),
    }


def _run_child(*argv: str) -> dict:
    """Run one phase in a fresh interpreter and return its JSON result (last stdout line)."""
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=300_000)
    parser.add_argument("--root", default="/tmp/seqlab_index_scale")
    parser.add_argument("--world-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    parser.add_argument("--phase", choices=["index", "dataset", "sampler"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--durations", help=argparse.SUPPRESS)
    parser.add_argument("--world-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child: one phase, one JSON line
        phases = {"index": _phase_index, "dataset": _phase_dataset, "sampler": _phase_sampler}
        result = phases[args.phase](args)
        print(json.dumps(result))
        return

    root = Path(args.root)
    work = root / "_bench"
    if root.exists():
        if not work.is_dir():  # never delete a folder this bench did not make
            sys.exit(f"{root} exists and was not made by this bench; give another --root")
        shutil.rmtree(root)
    work.mkdir(parents=True)
    cache, durations = work / "index.jsonl", work / "durations.npy"
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, cpus: {os.cpu_count()}")
    try:
        t = time.perf_counter()
        _, missing = generate_tree(root, args.utterances)
        print(f"generate {args.utterances} utterances ({len(missing)} without audio) under {root}: "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        for label in ("cold build", "cached reload"):
            r = _run_child(
                "--phase", "index", "--root", str(root), "--cache", str(cache),
                "--durations", str(durations),
            )  # fmt: skip
            print(f"{label:13s}: {r['total_s']:.2f} s (scan {r['scan_s']:.2f} s, index "
                  f"{r['index_s']:.2f} s), peak RSS {_mb(r['peak_rss'])} "
                  f"(+{_mb(r['peak_rss'] - r['start_rss'])}); {r['summary']}; "
                  f"{r['hours']:.0f} h")  # fmt: skip
        print(f"cache file: {_mb(cache.stat().st_size)}")
        r = _run_child("--phase", "dataset", "--root", str(root), "--cache", str(cache))
        print(f"ASRDataset over the reloaded index: {r['s']:.2f} s, RSS +"
              f"{_mb(r['rss'] - r['start_rss'])} (token ids encoded up front)")  # fmt: skip
        for world_size in args.world_sizes:
            r = _run_child(
                "--phase", "sampler", "--durations", str(durations),
                "--world-size", str(world_size),
            )  # fmt: skip
            epochs = ", ".join(f"{s:.3f} s" for s in r["epoch_s"])
            print(f"sampler world_size={world_size} rank 0: construct {r['construct_s']:.3f} s, "
                  f"epochs 0/1 {epochs}, {r['batches']} batches, peak RSS "
                  f"{_mb(r['peak_rss'])} (+{_mb(r['peak_rss'] - r['start_rss'])}), "
                  f"order digests {' '.join(r['digests'])}")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
