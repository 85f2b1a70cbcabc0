"""``seqlab demo``: the built-in corpus -> train asr_conformer -> test WER/CER per decoder
(``seqlab.demo.run_demo`` does the work; this prints its table)."""

from __future__ import annotations

import argparse

from seqlab import demo
from seqlab.cli.common import decoder_table, print_config_error
from seqlab.config import ConfigError


def cmd_demo(args: argparse.Namespace) -> int:
    """Built-in corpus (unless there) -> train asr_conformer -> n-gram LM -> test WER/CER per decoder."""
    try:
        done = demo.run_demo(args.data, args.hours, args.seed, args.overrides)
    except ConfigError as err:
        return print_config_error(err)
    result, run_dir, minutes = done["eval"], done["run_dir"], done["minutes"]
    print()
    print(decoder_table(result["decoders"]))
    print(f"  ({result['n_items']} test utterances; sentences and voices never heard in training)")
    print(
        f"  corpus {minutes['corpus']:.1f} min, training {minutes['training']:.1f} min, "
        f"LM {minutes['lm']:.1f} min"
    )
    print(f"  run:        {run_dir}")
    print(f"  best:       {done['best']}")
    print(f"  metrics:    {run_dir / 'metrics.jsonl'}   (tensorboard --logdir {run_dir / 'tb'})")
    print(f"  eval:       {result['path']}")
    print(
        f"  transcribe: seqlab transcribe {done['best']} AUDIO.flac "
        f"--decoder beam --lm {done['lm']} --alpha {demo.ALPHA} --beta {demo.BETA}"
    )
    return 0


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab demo [--data DIR] [--hours H] [overrides]``."""
    p = sub.add_parser("demo", help="built-in corpus -> train asr_conformer -> test WER/CER")
    p.add_argument("--data", default=demo.DATA_DIR, help="corpus directory")
    p.add_argument("--hours", type=float, default=demo.HOURS, help="hours of training speech")
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    p.add_argument("overrides", nargs="*", help="overrides for the training run")
    p.set_defaults(func=cmd_demo)
