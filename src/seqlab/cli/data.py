"""``seqlab data`` (build the built-in corpora, fetch real ones) and ``seqlab lm build-ngram``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seqlab.cli.common import print_config_error


def cmd_data(args: argparse.Namespace) -> int:
    """``seqlab data synth-speech|synth-mt|get|shard``: build a built-in corpus, fetch a real
    one, or write one as tar shards."""
    if args.data_command == "get":
        return cmd_data_get(args)
    if args.data_command == "shard":
        return cmd_data_shard(args)
    if args.data_command == "synth-speech":
        return _synth_speech(args)
    if args.data_command == "synth-mt":
        from seqlab.corpora.mt.corpus import build_mt_corpus

        summary = build_mt_corpus(
            args.out,
            n_train=args.pairs,
            n_val=args.val_pairs,
            n_test=args.test_pairs,
            seed=args.seed,
        )
        print(json.dumps(summary, indent=2, default=str))
        return 0
    raise AssertionError(args.data_command)


def _synth_speech(args: argparse.Namespace) -> int:
    """``seqlab data synth-speech``: English (LibriSpeech or LJSpeech layout) or another language."""
    # --hours left out: each builder's own default (2.5 h; 0.3 h for the LJSpeech layout and
    # the other languages)
    hours = {} if args.hours is None else {"hours": args.hours}
    if args.layout == "ljspeech":
        from seqlab.corpora.synth_ljspeech import build_ljspeech_corpus

        summary = build_ljspeech_corpus(args.out, seed=args.seed, workers=args.workers, **hours)
        print(json.dumps(summary, indent=2, default=str))
        return 0
    if args.language != "en":
        from seqlab.corpora.synth_speech_lang import build_lang_corpus

        summary = build_lang_corpus(args.out, language=args.language, seed=args.seed, **hours)
        print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
        return 0
    from seqlab.corpora.synth_speech import build_corpus

    summary = build_corpus(args.out, seed=args.seed, workers=args.workers, **hours)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_data_get(args: argparse.Namespace) -> int:
    """``seqlab data get``: fetch a corpus (or list the catalogue); errors are one message."""
    from seqlab.data.download import DownloadError

    if args.list:
        from seqlab.data.catalogue import listing
        from seqlab.data.download import format_bytes

        for row in listing():
            size = format_bytes(row["bytes"]) if row["bytes"] else "unknown"
            size += "" if row["size_known"] or not row["bytes"] else "+"
            print(f"{row['name']:<17} {size:>9}  {row['description']}")
            print(f"{'':<28} parts: {', '.join(row['units'])}")
            print(f"{'':<28} read with: {row['layout']}")
        return 0
    if not args.name or not args.dir:
        print("error: seqlab data get NAME DIR (or --list)", file=sys.stderr)
        return 2
    from seqlab.data.corpus_get import get

    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()] if args.subsets else None
    for flag, value, owner in (("--pair", args.pair, "multi30k"), ("--id", args.id, "openslr")):
        if value is not None and args.name != owner:
            print(f"error: {flag} is for {owner}, not {args.name}", file=sys.stderr)
            return 2
    try:
        summary = get(
            args.name,
            args.dir,
            subsets=subsets,
            pair=args.pair,
            openslr_id=args.id,
            mirror=args.mirror,
            from_dir=args.from_dir,
            jobs=args.jobs,
        )
    except (DownloadError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: nothing half-done is kept under the final names; run the same "
            "command again to resume (partial downloads continue where they stopped)",
            file=sys.stderr,
        )
        return 130
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    print(f"ready: {summary['data']}")
    return 0


def cmd_data_shard(args: argparse.Namespace) -> int:
    """``seqlab data shard SRC OUT``: a LibriSpeech-layout tree as WebDataset tar shards."""
    from seqlab.data.shard_writer import shard_corpus

    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()] if args.subsets else None
    try:
        summary = shard_corpus(
            args.src,
            args.out,
            subsets=subsets,
            shard_size=args.shard_size,
            max_shard_bytes=int(args.max_shard_mb * (1 << 20)),
            shuffle_seed=None if args.no_shuffle else args.seed,
        )
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"ready: train from it with data.format=shards data.root={Path(args.out).resolve()}")
    return 0


def cmd_lm(args: argparse.Namespace) -> int:
    """``seqlab lm build-ngram``: estimate an ARPA n-gram LM from a text file."""
    if args.lm_command == "build-ngram":
        from seqlab.decoding.lm.kneser_ney import build_arpa

        text = Path(args.text)
        if not text.is_file():
            return print_config_error(FileNotFoundError(f"{text}: no such text file"))
        try:
            summary = build_arpa(text, args.out, order=args.order)
        except ValueError as err:
            return print_config_error(err)
        fallback = summary.get("fallback_orders")
        print(
            f"wrote {summary['path']}: order {summary['order']}, n-grams {summary['ngrams']}, "
            f"{summary['sentences']} sentences, {summary['seconds']:.1f} s"
            + (f"; fallback discounts (0.5, 1, 1.5) for orders {fallback}" if fallback else "")
        )
        return 0
    raise AssertionError(args.lm_command)


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab data synth-speech|synth-mt|get|shard ...``."""
    p = sub.add_parser("data", help="build the built-in corpora")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    q = data_sub.add_parser("synth-speech", help="synthesise English speech (LibriSpeech layout)")
    q.add_argument("out", help="output directory")
    q.add_argument(
        "--hours", type=float, default=None,
        help="hours of training speech (default 2.5; 0.3 with --layout ljspeech)",
    )  # fmt: skip
    q.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    q.add_argument(
        "--workers", type=int, default=None, help="synthesis processes (default: all cores)"
    )
    q.add_argument(
        "--layout", choices=("librispeech", "ljspeech"), default="librispeech",
        help="librispeech: many voices, 16 kHz FLAC, train/dev/test (ASR); ljspeech: one voice, "
        "22,050 Hz WAV, metadata.csv + wavs/ (vocoders)",
    )  # fmt: skip
    q.add_argument(
        "--language", default="en",
        help="en (default): the English corpus; ru: Russian speech in the OpenSLR TSV layout "
        "(train/dev/test.tsv + data/<xx>/<utt>.flac, 0.3 h by default) for HF fine-tuning",
    )  # fmt: skip
    q = data_sub.add_parser("synth-mt", help="German->English parallel corpus (homework layout)")
    q.add_argument("out", help="output directory")
    q.add_argument("--pairs", type=int, default=50_000, help="training pairs (default 50,000)")
    q.add_argument("--val-pairs", type=int, default=1_000, help="validation pairs (default 1,000)")
    q.add_argument("--test-pairs", type=int, default=1_000, help="test pairs (default 1,000)")
    q.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    q = data_sub.add_parser(
        "get", help="fetch a real corpus into the layout its data= option reads (see --list)"
    )
    q.add_argument("name", nargs="?", help="librispeech, librispeech-lm, ljspeech, openslr, ...")
    q.add_argument(
        "dir", nargs="?", help="where it goes (created; re-runs fetch only what is missing)"
    )
    q.add_argument("--list", action="store_true", help="list what can be fetched, with sizes")
    q.add_argument(
        "--subsets", default=None,
        help="comma-separated parts: LibriSpeech subsets, Multi30k splits, OpenSLR shards",
    )  # fmt: skip
    q.add_argument("--pair", default=None, help="Multi30k language pair SRC-TGT (default de-en)")
    q.add_argument("--id", type=int, default=None, help="OpenSLR set id: 52, 53, 54 (default 54)")
    q.add_argument("--mirror", default=None, help="another host: replaces each URL's scheme+host")
    q.add_argument(
        "--from", dest="from_dir", default=None,
        help="take the archives from this folder (upstream file names) instead of downloading",
    )  # fmt: skip
    q.add_argument("--jobs", type=int, default=1, help="parts fetched at the same time")
    q = data_sub.add_parser(
        "shard",
        help="write a LibriSpeech-layout corpus as WebDataset tar shards + index.json per subset "
        "(train from them with data.format=shards)",
    )
    q.add_argument(
        "src", help="the corpus directory (holding train/, dev/, ... or train-clean-100/, ...)"
    )
    q.add_argument("out", help="output directory: OUT/<subset>/shard-NNNNNN.tar + index.json")
    q.add_argument("--subsets", default=None, help="comma-separated subsets (default: all found)")
    q.add_argument(
        "--shard-size", type=int, default=1000, help="items per shard at most (default 1000)"
    )
    q.add_argument(
        "--max-shard-mb", type=float, default=256,
        help="a shard is closed before it passes this many MiB (default 256)",
    )  # fmt: skip
    q.add_argument("--seed", type=int, default=0, help="seed of the order items are written in")
    q.add_argument(
        "--no-shuffle", action="store_true",
        help="keep the corpus order (default: a seeded random order, so shards mix speakers)",
    )  # fmt: skip
    p.set_defaults(func=cmd_data)


def add_lm_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab lm build-ngram TEXT --order 3 --out lm.arpa``."""
    p = sub.add_parser("lm", help="language models for decoding")
    lm_sub = p.add_subparsers(dest="lm_command", required=True)
    q = lm_sub.add_parser(
        "build-ngram", help="estimate an interpolated modified Kneser-Ney ARPA model"
    )
    q.add_argument("text", help="training text, one sentence per line")
    q.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    q.add_argument("--out", required=True, help="output .arpa (or .arpa.gz)")
    p.set_defaults(func=cmd_lm)
