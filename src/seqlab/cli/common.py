"""What several ``seqlab`` commands share: one-line errors, the decoder flags and their
translation into config overrides, the ``--trust-target`` flag, and the decoder table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqlab.config import ConfigError, quote_override


def print_config_error(err: Exception) -> int:
    """Print ``err`` as one line on stderr (its message names what to change); exit status 2."""
    print(f"seqlab: error: {err}", file=sys.stderr)
    return 2


def decoder_overrides(args: argparse.Namespace) -> list[str]:
    """The decoder flags of eval/transcribe/tune-decoder as overrides of the ``decoder`` group."""
    out = []
    beam_flags = any(
        getattr(args, k, None) is not None
        for k in ("beam_size", "lm", "alpha", "beta", "rescore_lm", "workers", "nbest")
    )
    if getattr(args, "decoder", None) == "greedy":
        if beam_flags and getattr(args, "lm", None):
            raise ConfigError("--lm needs --decoder beam (greedy decoding uses no language model)")
        return ["decoder=ctc_greedy"]
    if getattr(args, "decoder", None) == "beam" or beam_flags:
        out.append("decoder=ctc_beam")
    for flag, key in (
        ("beam_size", "beam_size"),
        ("alpha", "alpha"),
        ("beta", "beta"),
        ("workers", "workers"),
        ("nbest", "nbest"),
        ("rescore_alpha", "rescore_alpha"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            out.append(f"decoder.{key}={value}")
    for flag in ("lm", "rescore_lm"):
        value = getattr(args, flag, None)
        if value is not None:
            path = Path(value).expanduser()
            if not path.exists():
                raise ConfigError(
                    f"--{flag.replace('_', '-')} {value}: no such file or directory; build an n-gram "
                    "LM with `seqlab lm build-ngram TEXT --order 3 --out lm.arpa`"
                )
            out.append(f"decoder.{flag}={quote_override(path.resolve())}")
    return out


def generation_overrides(args: argparse.Namespace) -> list[str]:
    """The decoder flags of eval for a translation checkpoint, whose beam search is set by
    ``generation.*`` (the CTC flags would land in a ``decoder`` section it never reads)."""
    ctc_only = [
        flag
        for flag in ("lm", "alpha", "beta", "rescore_lm", "rescore_alpha", "workers")
        if getattr(args, flag, None) is not None
    ]
    if ctc_only:
        raise ConfigError(
            f"--{ctc_only[0].replace('_', '-')} is a CTC decoding flag, and this is a translation "
            "checkpoint: it decodes with beam search set by --beam-size N (--decoder greedy = "
            "beam 1) and generation.* overrides (generation.length_penalty, generation.lp_alpha)"
        )
    beam = getattr(args, "beam_size", None)
    if getattr(args, "decoder", None) == "greedy":
        if beam not in (None, 1):
            raise ConfigError(f"--decoder greedy decodes with beam 1, not --beam-size {beam}")
        return ["generation.beam_size=1"]
    return [f"generation.beam_size={beam}"] if beam is not None else []


def add_trust_flag(p: argparse.ArgumentParser) -> None:
    """``--trust-target``: the user's own classes a loaded checkpoint's config may name."""
    p.add_argument(
        "--trust-target",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this _target_ (mypkg.MyModel, or mypkg.*) in the checkpoint's config.yaml: "
        "loading otherwise builds only seqlab's own classes (docs/security.md)",
    )


def add_decoder_flags(p: argparse.ArgumentParser, nbest: bool = False) -> None:
    """The flags of eval/transcribe/tune-decoder that :func:`decoder_overrides` reads."""
    g = p.add_argument_group("decoding (overrides of the decoder config group)")
    g.add_argument("--decoder", choices=["greedy", "beam"], default=None, help="decoder type")
    g.add_argument("--beam-size", type=int, default=None, help="beam width (default 10)")
    g.add_argument("--lm", default=None, help="ARPA / KenLM binary / Hugging Face causal-LM dir")
    g.add_argument("--alpha", type=float, default=None, help="LM weight (default 0.5)")
    g.add_argument("--beta", type=float, default=None, help="word-insertion bonus (default 1.0)")
    g.add_argument("--rescore-lm", default=None, help="second LM that rescores the n-best list")
    g.add_argument("--rescore-alpha", type=float, default=None, help="weight of --rescore-lm")
    g.add_argument("--workers", type=int, default=None, help="decoding processes (n-gram or no LM)")
    if nbest:
        g.add_argument("--nbest", type=int, default=None, help="print the N best hypotheses")


def decoder_table(rows: list[dict]) -> str:
    """WER/CER/speed of each decoder configuration as an aligned text table: utterances per second
    of decoding alone, and end to end (the model's forward pass over the split included)."""
    width = max(len("decoder"), *(len(r["decoder"]) for r in rows))
    head = f"{'decoder':<{width}}  {'WER %':>7}  {'CER %':>7}  {'decode utt/s':>12}  {'total utt/s':>11}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['decoder']:<{width}}  {100 * r['wer']:7.2f}  {100 * r['cer']:7.2f}  "
            f"{r['utterances_per_second']:12.1f}  {r['end_to_end_utterances_per_second']:11.1f}"
        )
    return "\n".join(lines)
