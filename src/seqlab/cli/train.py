"""``seqlab list``, ``seqlab train``, ``seqlab sweep`` and ``seqlab average``: what can be
trained, training it (one run or a grid), and averaging the checkpoints it wrote."""

from __future__ import annotations

import argparse
import json
import sys

from seqlab.cli.common import add_trust_flag, print_config_error
from seqlab.config import ConfigError


def cmd_list(args: argparse.Namespace) -> int:
    """Print the shipped experiments and the options of each config group."""
    from seqlab.config import GROUPS, list_experiments, list_group_options

    print("experiments (seqlab train NAME):")
    for name, desc in list_experiments().items():
        print(f"  {name:<20} {desc}")
    print("\nconfig groups (override with group=option):")
    for group in GROUPS:
        print(f"  {group:<14} {', '.join(list_group_options(group))}")
    return 0


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the user's config or data must change: printed as one line, no
    traceback (their messages name the key or file and what to do)."""
    from seqlab.data.parallel import ParallelDataError

    return (ConfigError, FileNotFoundError, ParallelDataError)


def cmd_train(args: argparse.Namespace) -> int:
    """Train one experiment; print fit's summary as JSON (rank 0 only under torchrun)."""
    import os

    from seqlab.experiment import train

    try:
        summary = train(args.experiment, args.overrides)
    except _user_errors() as err:
        return print_config_error(err)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one summary (rank 0's)
        print(json.dumps(summary, indent=2, default=str))
    return 130 if summary.get("stop_reason") == "interrupted" else 0  # 130: the shell's Ctrl-C code


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train every point of a grid, then compare them; one line per point."""
    from seqlab.report.sweep import run_sweep

    metrics = [m for value in args.metric for m in value.split(",") if m] or None
    try:
        result = run_sweep(
            args.experiment,
            args.overrides,
            max_steps=args.max_steps,
            train_fraction=args.train_fraction,
            name=args.name,
            metrics=metrics,
        )
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    for point in result["points"]:
        print(f"  {point['status']:<8} {point['run_dir']}")
    if result["comparison"]:
        for metric, info in result["comparison"]["metrics"].items():
            if info["winner"] is not None:
                print(f"{metric} ({info['direction']}): best point {info['winner']}")
        print(f"wrote {result['comparison']['markdown']} and {result['comparison']['html']}")
    if result["failed"]:
        print(
            f"seqlab: {len(result['failed'])} points failed (see {result['manifest']})",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_average(args: argparse.Namespace) -> int:
    """Average the weights of several checkpoints into a new one."""
    from seqlab.engine.checkpoint_averaging import average_checkpoints

    try:
        result = average_checkpoints(args.checkpoints, args.out)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        return print_config_error(err)
    print(
        f"averaged {len(result['sources'])} checkpoints ({result['parameters']:,} values of "
        f"{', '.join(result['models'])}) into {result['path']}"
    )
    return 0


def add_list_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab list``."""
    p = sub.add_parser("list", help="list experiments and config options")
    p.set_defaults(func=cmd_list)


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab train EXPERIMENT [overrides]``."""
    p = sub.add_parser("train", help="train an experiment")
    p.add_argument("experiment", help="experiment name (see `seqlab list`)")
    p.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. trainer.n_epochs=45 model=bilstm_ctc"
    )
    p.set_defaults(func=cmd_train)


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab sweep EXPERIMENT key=a,b [...]``."""
    p = sub.add_parser("sweep", help="train a grid of overrides one after another, then compare")
    p.add_argument("experiment", help="experiment name or a config YAML (e.g. a run's config.yaml)")
    p.add_argument("overrides", nargs="*", help="grid axes key=a,b and fixed overrides key=v")
    p.add_argument("--max-steps", type=int, default=None, help="trainer.max_steps of every point")
    p.add_argument(
        "--train-fraction", type=float, default=None, help="data.train_fraction of every point"
    )
    p.add_argument("--name", default=None, help="sweep directory name (default from the grid)")
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        help="compared metrics (default val_loss + monitor)",
    )
    p.set_defaults(func=cmd_sweep)


def add_average_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab average CKPT CKPT... --out DIR``."""
    p = sub.add_parser("average", help="average the weights of several checkpoints into one")
    p.add_argument("checkpoints", nargs="+", help="checkpoint dirs, e.g. run/checkpoints/step-*")
    p.add_argument("--out", required=True, help="the new checkpoint directory")
    add_trust_flag(p)
    p.set_defaults(func=cmd_average)
