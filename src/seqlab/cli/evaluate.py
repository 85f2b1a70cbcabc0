"""``seqlab eval``, ``seqlab tune-decoder``, ``seqlab report`` and ``seqlab compare``: score a
checkpoint, tune its decoder, report a run, compare runs."""

from __future__ import annotations

import argparse
import sys

from seqlab.cli.common import (
    add_decoder_flags,
    add_trust_flag,
    decoder_overrides,
    decoder_table,
    generation_overrides,
    print_config_error,
)
from seqlab.config import ConfigError


def cmd_eval(args: argparse.Namespace) -> int:
    from seqlab.evaluation import evaluate
    from seqlab.inference import checkpoint_kind

    try:
        translation = checkpoint_kind(args.checkpoint) == "mt"  # its flags set generation.*
        decoding = generation_overrides(args) if translation else decoder_overrides(args)
        overrides = [*args.overrides, *decoding]
        result = evaluate(
            args.checkpoint,
            overrides,
            split=args.split,
            out=args.out,
            device=args.device,
            exclude_left_out=args.exclude_left_out,
        )
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    if result.get("decoders"):
        print(decoder_table(result["decoders"]))
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items())
    print(f"{result['split']} ({result['n_items']} items): {metrics}")
    left = result["left_out"]
    if left["count"]:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in left["reasons"].items())
        scored = (
            f"{left['scored']} scored as errors (empty hypotheses; --exclude-left-out to skip)"
            if left["scored_as"] == "errors"
            else "not scored (--exclude-left-out)"
        )
        print(
            f"{left['count']} item{'s' if left['count'] != 1 else ''} left out ({reasons}); "
            f"{scored}; listed in {left['list']}"
        )
    print(f"wrote {result['path']}")
    return 0


def cmd_tune_decoder(args: argparse.Namespace) -> int:
    """Grid-search alpha and beta on a split; print the table and the best pair."""
    from seqlab.tasks.asr.tuning import tune_decoder

    try:
        alphas = [float(a) for a in args.alphas.split(",")]
        betas = [float(b) for b in args.betas.split(",")]
        overrides = [*args.overrides, *decoder_overrides(args)]
        result = tune_decoder(
            args.checkpoint,
            overrides,
            alphas,
            betas,
            split=args.split,
            device=args.device,
            out=args.out,
        )
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    print(result["table"])
    best = result["best"]
    print(
        f"best on {result['split']}: alpha={best['alpha']} beta={best['beta']} "
        f"WER {100 * best['wer']:.2f}% CER {100 * best['cer']:.2f}% "
        f"(greedy WER {100 * result['greedy']['wer']:.2f}%)"
    )
    print(f"use: --decoder beam --lm {result['lm']} --alpha {best['alpha']} --beta {best['beta']}")
    print(f"wrote {result['path']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.md, report.html and plots/ of one run."""
    from seqlab.report.run_report import write_report

    try:
        result = write_report(args.run_dir, args.out)
    except (FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    print(f"{args.run_dir}: {result['status']}; {len(result['plots'])} plots")
    print(f"wrote {result['markdown']} and {result['html']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Overlay several runs' curves; print the best run per metric."""
    import warnings

    from seqlab.report.compare import compare_runs

    metrics = [m for value in args.metric for m in value.split(",") if m] or ["val_loss"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = compare_runs(args.run_dirs, metrics, args.out, force=args.force)
    except (FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    for warning in caught:
        print(f"seqlab: warning: {warning.message}", file=sys.stderr)
    for metric, info in result["metrics"].items():
        if info["winner"] is None:
            print(f"{metric} ({info['direction']}): no winner (a diagnostic, or no finite values)")
        else:
            print(f"{metric} ({info['direction']}): best run {info['winner']}")
    print(f"wrote {result['markdown']} and {result['html']}")
    return 0


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab eval CHECKPOINT [overrides] [decoder flags]``."""
    p = sub.add_parser("eval", help="evaluate a checkpoint; writes eval.json")
    p.add_argument("checkpoint", help="run/checkpoints/best (or last, step-N, or a run directory)")
    p.add_argument(
        "overrides",
        nargs="*",
        help="overrides of the saved config, e.g. data=librispeech data.root=DIR",
    )
    p.add_argument("--split", default="test", help="data split key: test (default), val or train")
    p.add_argument("--out", default=None, help="output JSON (default <run>/eval.json)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--exclude-left-out",
        action="store_true",
        help="score only the items that could be read (default: a left-out item is all errors)",
    )
    add_decoder_flags(p)
    add_trust_flag(p)
    p.set_defaults(func=cmd_eval)


def add_tune_decoder_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab tune-decoder CHECKPOINT --lm PATH``."""
    p = sub.add_parser("tune-decoder", help="search the LM weight alpha and word bonus beta")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("overrides", nargs="*", help="overrides of the saved config")
    p.add_argument("--split", default="val", help="data split key to tune on (default val)")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1.0,1.5", help="comma-separated alphas")
    p.add_argument("--betas", default="0,0.5,1,2,3", help="comma-separated betas")
    p.add_argument("--out", default=None, help="output JSON (default <run>/tune_decoder.json)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_decoder_flags(p)
    add_trust_flag(p)
    p.set_defaults(func=cmd_tune_decoder)


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab report RUN_DIR``."""
    p = sub.add_parser("report", help="write report.md, report.html and plots/ of a run")
    p.add_argument("run_dir", help="a run directory (finished or in progress)")
    p.add_argument("--out", default=None, help="output folder (default: the run directory)")
    p.set_defaults(func=cmd_report)


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab compare RUN_DIR...``."""
    p = sub.add_parser("compare", help="overlay runs' curves, labelled by what differs")
    p.add_argument("run_dirs", nargs="+", help="run directories (of one experiment) or a sweep dir")
    p.add_argument(
        "--metric", action="append", default=[], help="val_loss (default), val_wer, loss, ..."
    )
    p.add_argument("--out", default=None, help="output folder (default <runs' parent>/compare)")
    p.add_argument("--force", action="store_true", help="compare runs of different experiments")
    p.set_defaults(func=cmd_compare)
