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

Overrides use Hydra's grammar: ``a.b=v``, ``+a.b=v`` (add), ``~a.b`` (delete), ``group=option``.
Loading a checkpoint builds only seqlab's own classes; ``--trust-target mypkg.MyModel`` accepts
yours (docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from seqlab.config import ConfigError


def _print_config_error(err: Exception) -> int:
    print(f"seqlab: error: {err}", file=sys.stderr)
    return 2


def _quote(value: str) -> str:
    """A value for a Hydra override, quoted so that paths with any characters survive."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _decoder_overrides(args: argparse.Namespace) -> list[str]:
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
            out.append(f"decoder.{flag}={_quote(path.resolve())}")
    return out


def _saved_config(checkpoint: str) -> dict:
    """A checkpoint's config.yaml as plain data (nothing resolved or built), or {} if unreadable:
    enough to tell which kind of model it holds before loading it."""
    import yaml

    from seqlab.engine.checkpoint import resolve_checkpoint

    try:
        data = yaml.safe_load((resolve_checkpoint(checkpoint) / "config.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return {}  # loading it names the problem
    return data if isinstance(data, dict) else {}


def _generation_overrides(args: argparse.Namespace) -> list[str]:
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


def _add_trust_flag(p: argparse.ArgumentParser) -> None:
    """``--trust-target``: the user's own classes a loaded checkpoint's config may name."""
    p.add_argument(
        "--trust-target",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this _target_ (mypkg.MyModel, or mypkg.*) in the checkpoint's config.yaml: "
        "loading otherwise builds only seqlab's own classes (docs/security.md)",
    )


def _add_decoder_flags(p: argparse.ArgumentParser, nbest: bool = False) -> None:
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
    import os

    from seqlab.experiment import train

    try:
        summary = train(args.experiment, args.overrides)
    except _user_errors() as err:
        return _print_config_error(err)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one summary (rank 0's)
        print(json.dumps(summary, indent=2, default=str))
    return 130 if summary.get("stop_reason") == "interrupted" else 0  # 130: the shell's Ctrl-C code


def cmd_eval(args: argparse.Namespace) -> int:
    from seqlab.evaluation import evaluate

    try:
        translation = "generation" in _saved_config(args.checkpoint)
        decoding = _generation_overrides(args) if translation else _decoder_overrides(args)
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
        return _print_config_error(err)
    if result.get("decoders"):
        print(_decoder_table(result["decoders"]))
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


def _decoder_table(rows: list[dict]) -> str:
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


def cmd_transcribe(args: argparse.Namespace) -> int:
    import warnings

    from seqlab.inference import InputWarning, load

    try:
        model = load(args.checkpoint, device=args.device, overrides=_decoder_overrides(args))
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return _print_config_error(err)
    failed = 0
    nbest = args.nbest or 1
    for path in args.audio:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InputWarning)
                hyps = model.transcribe_nbest(path)
        except Exception as err:  # one unreadable file must not stop the others
            failed += 1
            message = str(err) if str(path) in str(err) else f"cannot transcribe {path}: {err}"
            print(f"seqlab: {message}", file=sys.stderr)
            continue
        notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
        for note in notes if not args.json else ():
            print(f"seqlab: warning: {note}", file=sys.stderr)
        if args.json:
            row = {"path": str(path), "text": hyps[0].text}
            if notes:
                row["warning"] = "; ".join(notes)
            if nbest > 1:
                row["nbest"] = [
                    {"text": h.text, "score": h.score, "acoustic": h.acoustic, "lm": h.lm}
                    for h in hyps[:nbest]
                ]
            print(json.dumps(row))
        elif nbest > 1:
            for rank, h in enumerate(hyps[:nbest], 1):
                print(f"{path}\t{rank}\t{h.score:.3f}\t{h.text}")
        else:
            print(hyps[0].text)
    return 1 if failed else 0


def cmd_tune_decoder(args: argparse.Namespace) -> int:
    """Grid-search alpha and beta on a split; print the table and the best pair."""
    from seqlab.tuning import tune_decoder

    try:
        alphas = [float(a) for a in args.alphas.split(",")]
        betas = [float(b) for b in args.betas.split(",")]
        overrides = [*args.overrides, *_decoder_overrides(args)]
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
        return _print_config_error(err)
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


def cmd_average(args: argparse.Namespace) -> int:
    from seqlab.averaging_cli import average_checkpoints

    try:
        result = average_checkpoints(args.checkpoints, args.out)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        return _print_config_error(err)
    print(
        f"averaged {len(result['sources'])} checkpoints ({result['parameters']:,} values of "
        f"{', '.join(result['models'])}) into {result['path']}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a checkpoint of a Hugging Face model task as a plain Hugging Face directory."""
    from seqlab.inference import load_task

    try:
        task, ckpt = load_task(args.checkpoint)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return _print_config_error(err)
    if args.hifigan:  # a vocoder checkpoint in the official HiFi-GAN layout
        if not hasattr(task, "export_official"):
            return _print_config_error(ValueError(f"{ckpt} is not a HiFi-GAN vocoder checkpoint"))
        out = task.export_official(args.hifigan)
        print(f"wrote {out} and {out.parent / 'config.json'} (the official HiFi-GAN layout)")
        return 0
    if not args.hf:
        return _print_config_error(ValueError("give --hf DIR (or --hifigan FILE for a vocoder)"))
    if not hasattr(task, "export_hf"):
        return _print_config_error(
            ValueError(f"{ckpt} is not a checkpoint of a Hugging Face model task (asr_w2v2bert...)")
        )
    out = task.export_hf(args.hf)
    print(f"wrote {out} (transformers.AutoModelForCTC / AutoProcessor.from_pretrained load it)")
    return 0


def cmd_lm(args: argparse.Namespace) -> int:
    if args.lm_command == "build-ngram":
        from seqlab.lm.kneser_ney import build_arpa

        text = Path(args.text)
        if not text.is_file():
            return _print_config_error(FileNotFoundError(f"{text}: no such text file"))
        try:
            summary = build_arpa(text, args.out, order=args.order)
        except ValueError as err:
            return _print_config_error(err)
        fallback = summary.get("fallback_orders")
        print(
            f"wrote {summary['path']}: order {summary['order']}, n-grams {summary['ngrams']}, "
            f"{summary['sentences']} sentences, {summary['seconds']:.1f} s"
            + (f"; fallback discounts (0.5, 1, 1.5) for orders {fallback}" if fallback else "")
        )
        return 0
    raise AssertionError(args.lm_command)


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


def cmd_data(args: argparse.Namespace) -> int:
    if args.data_command == "get":
        return cmd_data_get(args)
    if args.data_command == "synth-speech" and args.layout == "ljspeech":
        from seqlab.data.synth_ljspeech import build_ljspeech_corpus

        hours = 0.3 if args.hours is None else args.hours
        summary = build_ljspeech_corpus(args.out, hours=hours, seed=args.seed, workers=args.workers)
        print(json.dumps(summary, indent=2, default=str))
        return 0
    if args.data_command == "synth-speech" and args.language != "en":
        from seqlab.data.synth_speech_lang import build_lang_corpus

        hours = 0.3 if args.hours is None else args.hours
        summary = build_lang_corpus(args.out, language=args.language, hours=hours, seed=args.seed)
        print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
        return 0
    if args.data_command == "synth-speech" and args.hours is None:
        args.hours = 2.5  # the LibriSpeech layout's default (--layout ljspeech: 0.3)
    if args.data_command == "synth-speech":
        from seqlab.data.synth_speech import build_corpus

        summary = build_corpus(args.out, hours=args.hours, seed=args.seed, workers=args.workers)
        print(json.dumps(summary, indent=2, default=str))
        return 0
    if args.data_command == "synth-mt":
        from seqlab.data.synth_mt import build_mt_corpus

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


def cmd_translate(args: argparse.Namespace) -> int:
    """Stream source lines from stdin (or --input) to translations on stdout, batch by batch."""
    import warnings

    from seqlab.inference import load

    overrides = []
    try:
        model = load(args.checkpoint, device=args.device, overrides=overrides)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return _print_config_error(err)
    if not hasattr(model, "translate"):
        return _print_config_error(ValueError(f"{args.checkpoint} is not a translation checkpoint"))
    generation = {}
    if args.beam_size is not None:
        generation["beam_size"] = args.beam_size
    if args.length_penalty is not None:
        generation["length_penalty"] = args.length_penalty
    if args.lp_alpha is not None:
        generation["lp_alpha"] = args.lp_alpha
    if args.input and not Path(args.input).is_file():
        return _print_config_error(FileNotFoundError(f"--input {args.input}: no such file"))
    # bytes, decoded line by line: a line that is not UTF-8 is named (the same via stdin and
    # --input) and gets an empty output line, so the output stays aligned with the input
    source = open(args.input, "rb") if args.input else sys.stdin.buffer
    not_utf8 = 0

    def flush(chunk: list[str], first_line: int) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            lines = model.translate(
                chunk, batch_size=args.batch_size, first_line=first_line, **generation
            )
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                print(f"seqlab: warning: {warning.message}", file=sys.stderr)
        _emit(lines)

    try:
        chunk: list[str] = []
        first_line = 1
        for number, data in enumerate(source, 1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as err:
                not_utf8 += 1
                line = ""
                print(
                    f"seqlab: error: line {number} is not UTF-8 (byte {err.start + 1} of the line: "
                    f"{err.reason}); its output line is left empty. Re-encode the input, e.g. "
                    "`iconv -f latin1 -t utf-8`",
                    file=sys.stderr,
                )
            chunk.append(line.removesuffix("\n").removesuffix("\r"))
            if len(chunk) == args.batch_size:
                flush(chunk, first_line)
                first_line, chunk = first_line + len(chunk), []
        if chunk:
            flush(chunk, first_line)
    finally:
        if args.input:
            source.close()
    if not_utf8:
        print(f"seqlab: {not_utf8} input lines were not UTF-8 (see above)", file=sys.stderr)
    return 1 if not_utf8 else 0


def cmd_vocode(args: argparse.Namespace) -> int:
    """Copy-synthesis (wav -> mel -> wav) or mel (.npy) -> wav with a vocoder checkpoint."""
    import soundfile as sf

    from seqlab.inference import load
    from seqlab.vocoding import load_official

    try:
        if args.official_config:  # an official g_XXXXXXXX file and its config JSON
            vocoder = load_official(args.checkpoint, args.official_config, device=args.device)
        else:
            vocoder = load(args.checkpoint, device=args.device)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as err:
        return _print_config_error(err)
    if not hasattr(vocoder, "vocode"):
        return _print_config_error(ValueError(f"{args.checkpoint} is not a vocoder checkpoint"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    targets = dict(zip(args.inputs, _vocode_targets(args.inputs, out), strict=True))
    good, failed = [], 0
    for path in args.inputs:  # check every input first: one bad file must not stop the others
        try:
            vocoder.as_mel(path)
            good.append(path)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            failed += 1
            message = str(err) if str(path) in str(err) else f"{path}: {err}"
            print(f"seqlab: cannot vocode {message}", file=sys.stderr)
    t0 = time.perf_counter()
    waves = vocoder.vocode(good, batch_size=args.batch_size) if good else []
    seconds = time.perf_counter() - t0
    for path, wave in zip(good, waves, strict=True):
        try:  # the format named: soundfile cannot guess it from every file name
            sf.write(targets[path], wave, vocoder.sample_rate, subtype="PCM_16", format="WAV")
        except (OSError, RuntimeError) as err:
            failed += 1
            print(f"seqlab: cannot write {targets[path]} (from {path}): {err}", file=sys.stderr)
            continue
        print(f"{path} -> {targets[path]}")  # which input went where (names may be disambiguated)
    audio = sum(len(w) for w in waves) / vocoder.sample_rate
    if waves:
        print(
            f"vocoded {len(waves)} files, {audio:.1f} s of audio in {seconds:.1f} s "
            f"({audio / max(seconds, 1e-9):.1f}x real time)",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _vocode_targets(inputs: list[str], out: Path) -> list[Path]:
    """One distinct ``out/<name>.wav`` per input: its stem without leading dots (``input<N>`` when
    nothing is left, e.g. for ``..npy``), then ``-2``, ``-3``... for a stem seen before
    (``a/x.npy`` and ``b/x.npy`` -> ``x.wav`` and ``x-2.wav``), compared case-insensitively."""
    targets, used = [], set()
    for number, path in enumerate(inputs, 1):
        name = Path(path).name
        stem = name[: -len(".npy")] if name.lower().endswith(".npy") else Path(path).stem
        stem = stem.lstrip(".") or f"input{number}"
        candidate, suffix = stem, 2
        while candidate.lower() in used:
            candidate, suffix = f"{stem}-{suffix}", suffix + 1
        used.add(candidate.lower())
        targets.append(out / f"{candidate}.wav")
    return targets


def _emit(lines: list[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


# The demo's decoding: beam 10 with a 3-gram LM of the built-in LM corpus; alpha and beta were
# picked with `seqlab tune-decoder` on the demo model's validation split (see README).
DEMO_LM_ORDER = 3
DEMO_BEAM = 10
DEMO_ALPHA = 0.6
DEMO_BETA = 4.0


def cmd_demo(args: argparse.Namespace) -> int:
    """Built-in corpus (unless there) -> train asr_conformer -> n-gram LM -> test WER/CER per decoder."""
    from seqlab.evaluation import evaluate
    from seqlab.experiment import train

    data = Path(args.data)
    summary_file = data / "corpus.json"
    t0 = time.perf_counter()
    built = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    if built.get("hours_requested") == args.hours and built.get("seed") == args.seed:
        print(f"[demo] using the corpus already built in {data}")
    else:
        from seqlab.data.synth_speech import build_corpus

        print(
            f"[demo] synthesising {args.hours} h of English speech with eSpeak NG into {data} ..."
        )
        build_corpus(data, hours=args.hours, seed=args.seed, overwrite=bool(built))
    t_data = time.perf_counter() - t0
    overrides = [f"data.root={data}", *args.overrides]
    print(f"[demo] training asr_conformer ({' '.join(overrides)}) ...")
    t1 = time.perf_counter()
    try:
        summary = train("asr_conformer", overrides)
    except ConfigError as err:
        return _print_config_error(err)
    t_train = time.perf_counter() - t1
    run_dir = Path(summary["run_dir"])
    lm_path = data / f"lm_{DEMO_LM_ORDER}gram.arpa"
    t2 = time.perf_counter()
    if not lm_path.is_file():
        from seqlab.lm.kneser_ney import build_arpa

        print(f"[demo] building a {DEMO_LM_ORDER}-gram LM from {data / 'lm_corpus.txt'} ...")
        build_arpa(data / "lm_corpus.txt", lm_path, order=DEMO_LM_ORDER)
    t_lm = time.perf_counter() - t2
    print("[demo] evaluating the best checkpoint on the held-out test split ...")
    decoding = [
        "decoder=ctc_beam",
        f"decoder.beam_size={DEMO_BEAM}",
        f"decoder.lm={_quote(lm_path.resolve())}",
        f"decoder.alpha={DEMO_ALPHA}",
        f"decoder.beta={DEMO_BETA}",
    ]
    result = evaluate(run_dir / "checkpoints" / "best", decoding, split="test")
    print()
    print(_decoder_table(result["decoders"]))
    print(f"  ({result['n_items']} test utterances; sentences and voices never heard in training)")
    print(
        f"  corpus {t_data / 60:.1f} min, training {t_train / 60:.1f} min, LM {t_lm / 60:.1f} min"
    )
    print(f"  run:        {run_dir}")
    print(f"  best:       {run_dir / 'checkpoints' / 'best'}")
    print(f"  metrics:    {run_dir / 'metrics.jsonl'}   (tensorboard --logdir {run_dir / 'tb'})")
    print(f"  eval:       {result['path']}")
    print(
        f"  transcribe: seqlab transcribe {run_dir / 'checkpoints' / 'best'} AUDIO.flac "
        f"--decoder beam --lm {lm_path} --alpha {DEMO_ALPHA} --beta {DEMO_BETA}"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seqlab.report.run_report import write_report

    try:
        result = write_report(args.run_dir, args.out)
    except (FileNotFoundError, ValueError) as err:
        return _print_config_error(err)
    print(f"{args.run_dir}: {result['status']}; {len(result['plots'])} plots")
    print(f"wrote {result['markdown']} and {result['html']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import warnings

    from seqlab.report.compare import compare_runs

    metrics = [m for value in args.metric for m in value.split(",") if m] or ["val_loss"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = compare_runs(args.run_dirs, metrics, args.out, force=args.force)
    except (FileNotFoundError, ValueError) as err:
        return _print_config_error(err)
    for warning in caught:
        print(f"seqlab: warning: {warning.message}", file=sys.stderr)
    for metric, info in result["metrics"].items():
        if info["winner"] is None:
            print(f"{metric} ({info['direction']}): no winner (a diagnostic, or no finite values)")
        else:
            print(f"{metric} ({info['direction']}): best run {info['winner']}")
    print(f"wrote {result['markdown']} and {result['html']}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
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
        return _print_config_error(err)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list experiments and config options")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("train", help="train an experiment")
    p.add_argument("experiment", help="experiment name (see `seqlab list`)")
    p.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. trainer.n_epochs=45 model=bilstm_ctc"
    )
    p.set_defaults(func=cmd_train)

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
    _add_decoder_flags(p)
    _add_trust_flag(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("transcribe", help="transcribe audio files with a checkpoint")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("audio", nargs="+", help="wav/flac/ogg files")
    p.add_argument("--json", action="store_true", help="one JSON object per line: {path, text}")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    _add_decoder_flags(p, nbest=True)
    _add_trust_flag(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("tune-decoder", help="search the LM weight alpha and word bonus beta")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("overrides", nargs="*", help="overrides of the saved config")
    p.add_argument("--split", default="val", help="data split key to tune on (default val)")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1.0,1.5", help="comma-separated alphas")
    p.add_argument("--betas", default="0,0.5,1,2,3", help="comma-separated betas")
    p.add_argument("--out", default=None, help="output JSON (default <run>/tune_decoder.json)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    _add_decoder_flags(p)
    _add_trust_flag(p)
    p.set_defaults(func=cmd_tune_decoder)

    p = sub.add_parser("average", help="average the weights of several checkpoints into one")
    p.add_argument("checkpoints", nargs="+", help="checkpoint dirs, e.g. run/checkpoints/step-*")
    p.add_argument("--out", required=True, help="the new checkpoint directory")
    _add_trust_flag(p)
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("export", help="write a fine-tuned HF model as a plain HF directory")
    p.add_argument("checkpoint", help="run/checkpoints/best (or last, step-N, or a run directory)")
    p.add_argument("--hf", default=None, help="output directory (transformers loads it alone)")
    p.add_argument(
        "--hifigan",
        default=None,
        help="vocoders: write the generator as an official HiFi-GAN g_ file (+ config.json)",
    )
    _add_trust_flag(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("lm", help="language models for decoding")
    lm_sub = p.add_subparsers(dest="lm_command", required=True)
    q = lm_sub.add_parser(
        "build-ngram", help="estimate an interpolated modified Kneser-Ney ARPA model"
    )
    q.add_argument("text", help="training text, one sentence per line")
    q.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    q.add_argument("--out", required=True, help="output .arpa (or .arpa.gz)")
    p.set_defaults(func=cmd_lm)

    p = sub.add_parser("translate", help="translate lines from stdin with a checkpoint")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("--input", default=None, help="read this file instead of stdin")
    p.add_argument("--beam-size", type=int, default=None, help="1 = greedy (default: the config's)")
    p.add_argument("--length-penalty", choices=["gnmt", "average", "none"], default=None)
    p.add_argument("--lp-alpha", type=float, default=None, help="GNMT length-penalty exponent")
    p.add_argument("--batch-size", type=int, default=64, help="sentences translated together")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    _add_trust_flag(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("vocode", help="wav (copy-synthesis) or .npy mels -> wav with a vocoder")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run dir, or an official g_ file)")
    p.add_argument("inputs", nargs="+", help="wav/flac files, or .npy log-mels [n_mels, frames]")
    p.add_argument("--out", required=True, help="directory for the generated <name>.wav files")
    p.add_argument("--batch-size", type=int, default=16, help="inputs vocoded together")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--official-config",
        default=None,
        help="CHECKPOINT is an official HiFi-GAN g_ file; this is its config JSON",
    )
    _add_trust_flag(p)
    p.set_defaults(func=cmd_vocode)

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
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("demo", help="built-in corpus -> train asr_conformer -> test WER/CER")
    p.add_argument("--data", default="data/synth_speech", help="corpus directory")
    p.add_argument("--hours", type=float, default=2.5, help="hours of training speech")
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    p.add_argument("overrides", nargs="*", help="overrides for the training run")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", help="write report.md, report.html and plots/ of a run")
    p.add_argument("run_dir", help="a run directory (finished or in progress)")
    p.add_argument("--out", default=None, help="output folder (default: the run directory)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="overlay runs' curves, labelled by what differs")
    p.add_argument("run_dirs", nargs="+", help="run directories (of one experiment) or a sweep dir")
    p.add_argument(
        "--metric", action="append", default=[], help="val_loss (default), val_wer, loss, ..."
    )
    p.add_argument("--out", default=None, help="output folder (default <runs' parent>/compare)")
    p.add_argument("--force", action="store_true", help="compare runs of different experiments")
    p.set_defaults(func=cmd_compare)

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


if __name__ == "__main__":
    sys.exit(main())
