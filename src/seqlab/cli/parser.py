"""The ``seqlab`` command: one entry point for training, evaluation, inference and data.

    seqlab list                                   experiments you can train
    seqlab train EXPERIMENT [overrides]           e.g. seqlab train asr_bilstm trainer.n_epochs=45
    seqlab eval CHECKPOINT [overrides] [--decoder beam --lm lm.arpa --alpha A --beta B]
                                                  greedy vs beam vs beam+LM WER/CER side by side
    seqlab transcribe CHECKPOINT AUDIO... [--decoder beam --beam-size 5 --lm PATH] [--json]
    seqlab tune-decoder CHECKPOINT --lm PATH      grid-search alpha/beta on the dev split
    seqlab lm build-ngram TEXT --order 3 --out lm.arpa
    seqlab export CHECKPOINT --hf DIR             a fine-tuned HF speech model as a plain HF directory
    seqlab export CHECKPOINT --hifigan FILE       a vocoder's generator in the official HiFi-GAN layout
    seqlab average CKPT CKPT... --out DIR         average checkpoints into one that decodes like any other
    seqlab translate CHECKPOINT [--beam-size N] < src.txt > hyp.txt
    seqlab vocode CHECKPOINT INPUT... --out DIR   wav (copy-synthesis) or .npy mel [80, T] -> wav
    seqlab data synth-speech OUT [--hours H] [--seed S]
    seqlab data synth-speech OUT --language ru       Russian speech, OpenSLR TSV layout (HF fine-tuning)
    seqlab data synth-speech OUT --layout ljspeech   one voice, 22,050 Hz, LJSpeech layout (vocoders)
    seqlab data synth-mt OUT [--pairs N] [--seed S]   the built-in German->English corpus
    seqlab data get NAME DIR [--subsets a,b] [--pair de-en] [--id 54] [--mirror URL] [--from DIR] [--jobs N]
    seqlab data get --list                        real corpora it fetches (resumable, verified)
    seqlab demo                                   corpus, train asr_conformer, n-gram LM, test WER/CER
    seqlab report RUN_DIR                         report.md + report.html + plots/ of one run
    seqlab compare RUN_DIR... [--metric val_loss] curves overlaid, labelled by what differs
    seqlab sweep EXPERIMENT key=a,b [--max-steps N] [--train-fraction F]   train a grid, compare it
    seqlab serve CKPT [CKPT...] [--lm LM] [--port 7860]   a web page + HTTP API (127.0.0.1 by default)

Overrides use Hydra's grammar: ``a.b=v``, ``+a.b=v`` (add), ``~a.b`` (delete), ``group=option``.
Loading a checkpoint builds only seqlab's own classes; ``--trust-target mypkg.MyModel`` accepts
yours (docs/security.md).
"""

from __future__ import annotations

import argparse

from seqlab.cli import data, demo, evaluate, infer, serve, train

# The order ``seqlab --help`` lists the commands in.
COMMANDS = (
    train.add_list_parser,
    train.add_train_parser,
    evaluate.add_eval_parser,
    infer.add_transcribe_parser,
    evaluate.add_tune_decoder_parser,
    train.add_average_parser,
    infer.add_export_parser,
    data.add_lm_parser,
    infer.add_translate_parser,
    infer.add_vocode_parser,
    data.add_data_parser,
    demo.add_demo_parser,
    evaluate.add_report_parser,
    evaluate.add_compare_parser,
    train.add_sweep_parser,
    serve.add_serve_parser,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``seqlab`` argument parser: one sub-command per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="seqlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser in COMMANDS:
        add_parser(sub)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with ``key=value`` overrides accepted after options too
    (``seqlab eval RUN --split test data.root=X --out F``): argparse alone stops collecting a
    command's positional overrides at its first option."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        stray = [e for e in extra if e.startswith("-") or ("=" not in e and e[:1] != "~")]
        if stray or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
        args.overrides = [*(args.overrides or []), *extra]
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqlab`` console script."""
    from seqlab.registry import trusting

    args = parse_args(argv)
    with trusting(getattr(args, "trust_target", None) or ()):  # --trust-target, for every load
        return int(args.func(args) or 0)
