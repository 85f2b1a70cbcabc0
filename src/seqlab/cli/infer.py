"""``seqlab transcribe``, ``seqlab translate``, ``seqlab vocode`` and ``seqlab export``: use a
trained checkpoint on new inputs, or write it in another toolkit's layout."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from seqlab.cli.common import (
    add_decoder_flags,
    add_trust_flag,
    decoder_overrides,
    print_config_error,
)
from seqlab.config import ConfigError
from seqlab.tasks.asr.long_audio import OVERLAP_SECONDS, WINDOW_SECONDS


def cmd_transcribe(args: argparse.Namespace) -> int:
    import warnings

    from seqlab.inference import load
    from seqlab.tasks.asr.recognizer import InputWarning

    try:
        model = load(
            args.checkpoint,
            device=args.device,
            overrides=decoder_overrides(args),
            kind="asr",
            command="seqlab transcribe",
            runtime=args.runtime,
        )
    except (ConfigError, FileNotFoundError, ValueError, ImportError) as err:
        return print_config_error(err)
    if args.window_seconds:  # refuse window settings the model cannot take once, not per file
        try:
            model.window_plan(args.window_seconds, args.overlap_seconds)
        except ValueError as err:
            return print_config_error(ValueError(f"--window-seconds/--overlap-seconds: {err}"))
    failed = 0
    nbest = args.nbest or 1
    for path in args.audio:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InputWarning)
                hyps = model.transcribe_nbest(
                    path,
                    window_seconds=args.window_seconds or None,
                    overlap_seconds=args.overlap_seconds,
                    on_partial=_partial_printer(path, args.json) if args.stream else None,
                )
        except Exception as err:  # one unreadable file must not stop the others
            failed += 1
            message = str(err) if str(path) in str(err) else f"cannot transcribe {path}: {err}"
            print(f"seqlab: {message}", file=sys.stderr)
            continue
        notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
        for note in notes if not args.json else ():
            print(f"seqlab: warning: {note}", file=sys.stderr)
        if args.json:
            row = {"path": str(path), "text": hyps[0].text, "runtime": model.runtime}
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
        if args.stream:
            sys.stdout.flush()
    return 1 if failed else 0


def _partial_printer(path, as_json: bool):
    """``--stream``: print each window's greedy text as it is decoded, and flush (a JSON row
    ``{path, partial, start, end}`` with ``--json``, else ``[START-END] text``)."""

    def show(partial) -> None:
        if as_json:
            row = {"path": str(path), "partial": partial.text}
            row.update(start=round(partial.start, 3), end=round(partial.end, 3))
            print(json.dumps(row), flush=True)
        else:
            print(f"[{partial.start:.2f}-{partial.end:.2f}] {partial.text}", flush=True)

    return show


def cmd_export(args: argparse.Namespace) -> int:
    """Write a checkpoint in another layout: a plain Hugging Face directory (``--hf``), the
    official HiFi-GAN files (``--hifigan``) or an ONNX graph directory (``--onnx``)."""
    from seqlab.inference import kind_label, load_task

    try:
        task, ckpt = load_task(args.checkpoint)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        return print_config_error(err)
    if args.onnx:  # the CTC recognizers and the HiFi-GAN generators
        if "onnx" not in task.export_formats():
            return print_config_error(
                ValueError(
                    f"{ckpt} is a {kind_label(task.kind)} checkpoint of "
                    f"{type(task).__qualname__}, which --onnx does not export (it exports the CTC "
                    "recognizers asr_bilstm/asr_conformer and the HiFi-GAN vocoders"
                    + ("; this one exports with --hf" if "hf" in task.export_formats() else "")
                    + ")"
                )
            )
        try:
            out = task.export("onnx", args.onnx)
        except ImportError as err:
            return print_config_error(err)
        print(
            f"wrote {out / 'model.onnx'} and {out / 'config.json'} (use it with --runtime onnx "
            f"{out}, or seqlab.load('{out}', runtime='onnx'))"
        )
        return 0
    if args.hifigan:  # a vocoder checkpoint in the official HiFi-GAN layout
        if "hifigan" not in task.export_formats():
            return print_config_error(
                ValueError(
                    f"{ckpt} is a {kind_label(task.kind)} checkpoint, not a HiFi-GAN vocoder one "
                    "(--hifigan exports a vocoder)"
                )
            )
        out = task.export("hifigan", args.hifigan)
        print(f"wrote {out} and {out.parent / 'config.json'} (the official HiFi-GAN layout)")
        return 0
    if args.ctranslate2:  # a transformer_mt checkpoint as a CTranslate2 model directory
        if "ctranslate2" not in task.export_formats():
            return print_config_error(
                ValueError(
                    f"{ckpt} is a {kind_label(task.kind)} checkpoint, not a translation one "
                    "(--ctranslate2 exports transformer_mt)"
                )
            )
        try:
            out = task.export("ctranslate2", args.ctranslate2, quantization=args.quantization)
        except (ImportError, ValueError) as err:  # the LSTM, a bad --quantization, no ctranslate2
            return print_config_error(ValueError(str(err)))
        print(
            f"wrote {out} (CTranslate2, weights {args.quantization or 'float32'}; "
            f"seqlab translate {ckpt} --runtime ct2 runs it)"
        )
        return 0
    if not args.hf:
        return print_config_error(
            ValueError(
                "give --hf DIR, --onnx DIR (or --hifigan FILE for a vocoder, --ctranslate2 DIR for "
                "transformer_mt)"
            )
        )
    if "hf" not in task.export_formats():
        return print_config_error(
            ValueError(
                f"{ckpt} is a {kind_label(task.kind)} checkpoint, not one of a Hugging Face model task "
                "(asr_w2v2bert...)"
            )
        )
    out = task.export("hf", args.hf)
    print(f"wrote {out} (transformers.AutoModelForCTC / AutoProcessor.from_pretrained load it)")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    """Stream source lines from stdin (or --input) to translations on stdout, batch by batch."""
    import warnings

    if args.runtime == "ct2":  # before torch is imported: see load_ctranslate2_before_torch
        from seqlab.runtime import load_ctranslate2_before_torch

        load_ctranslate2_before_torch()
    from seqlab.inference import load

    try:
        model = load(
            args.checkpoint,
            device=args.device,
            kind="mt",
            command="seqlab translate",
            runtime=args.runtime,
        )
    except (ConfigError, FileNotFoundError, ImportError, ValueError) as err:
        return print_config_error(err)
    if args.runtime != "torch":  # recorded with the output: which engine translated it
        print(f"seqlab: {model.describe()}", file=sys.stderr)
    generation = {}
    if args.beam_size is not None:
        generation["beam_size"] = args.beam_size
    if args.length_penalty is not None:
        generation["length_penalty"] = args.length_penalty
    if args.lp_alpha is not None:
        generation["lp_alpha"] = args.lp_alpha
    if args.input and not Path(args.input).is_file():
        return print_config_error(FileNotFoundError(f"--input {args.input}: no such file"))
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
    from seqlab.tasks.vocoder.vocoding import load_official

    try:
        if args.official_config:  # an official g_XXXXXXXX file and its config JSON
            vocoder = load_official(args.checkpoint, args.official_config, device=args.device)
        else:
            vocoder = load(
                args.checkpoint,
                device=args.device,
                kind="vocoder",
                command="seqlab vocode",
                runtime=args.runtime,
            )
    except (ConfigError, FileNotFoundError, KeyError, ValueError, ImportError) as err:
        return print_config_error(err)
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
            f"({audio / max(seconds, 1e-9):.1f}x real time, runtime {vocoder.runtime})",
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
    """Write translated lines to stdout at once, so a pipe sees each batch as it is done."""
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def add_runtime_flag(p: argparse.ArgumentParser) -> None:
    """``--runtime torch|onnx|ct2``: what runs the model (onnx/ct2 take the directory ``seqlab
    export --onnx``/``--ctranslate2`` wrote as CHECKPOINT)."""
    from seqlab.runtime import RUNTIMES

    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="torch (the checkpoint), onnx (ONNX Runtime: give the directory `seqlab export --onnx` "
        "wrote as CHECKPOINT) or ct2 (CTranslate2, translation: the checkpoint is exported into "
        "seqlab's cache on first use)",
    )


def add_transcribe_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab transcribe CHECKPOINT AUDIO... [decoder flags] [--json]``."""
    p = sub.add_parser("transcribe", help="transcribe audio files with a checkpoint")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("audio", nargs="+", help="wav/flac/ogg files")
    p.add_argument("--json", action="store_true", help="one JSON object per line: {path, text}")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--window-seconds",
        type=float,
        default=WINDOW_SECONDS,
        help=f"decode longer files in windows of this length read one at a time, bounded memory "
        f"(default {WINDOW_SECONDS:g}; 0 = every file whole)",
    )
    p.add_argument(
        "--overlap-seconds",
        type=float,
        default=OVERLAP_SECONDS,
        help=f"audio shared by consecutive windows; cuts fall in its middle (default {OVERLAP_SECONDS:g})",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="print each window's greedy text as it is decoded, then the full transcript",
    )
    add_runtime_flag(p)
    add_decoder_flags(p, nbest=True)
    add_trust_flag(p)
    p.set_defaults(func=cmd_transcribe)


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab export CHECKPOINT --hf DIR``, ``--onnx DIR`` or ``--hifigan FILE``."""
    p = sub.add_parser(
        "export",
        help="write a checkpoint as a plain HF directory, an ONNX graph, or HiFi-GAN files",
    )
    p.add_argument("checkpoint", help="run/checkpoints/best (or last, step-N, or a run directory)")
    p.add_argument("--hf", default=None, help="output directory (transformers loads it alone)")
    p.add_argument(
        "--ctranslate2",
        default=None,
        metavar="DIR",
        help="transformer_mt: write a CTranslate2 model directory (seqlab translate --runtime ct2)",
    )
    p.add_argument(
        "--quantization",
        default=None,
        help="with --ctranslate2: stored weight type (int8, int8_float32, int16, float16, "
        "bfloat16, float32; default float32)",
    )
    p.add_argument(
        "--hifigan",
        default=None,
        help="vocoders: write the generator as an official HiFi-GAN g_ file (+ config.json)",
    )
    p.add_argument(
        "--onnx",
        default=None,
        help="CTC recognizers and vocoders: write DIR/model.onnx + config.json (for --runtime onnx)",
    )
    add_trust_flag(p)
    p.set_defaults(func=cmd_export)


def add_translate_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab translate CHECKPOINT < src.txt > hyp.txt``."""
    p = sub.add_parser("translate", help="translate lines from stdin with a checkpoint")
    p.add_argument("checkpoint", help="run/checkpoints/best (or a run directory)")
    p.add_argument("--input", default=None, help="read this file instead of stdin")
    p.add_argument("--beam-size", type=int, default=None, help="1 = greedy (default: the config's)")
    p.add_argument("--length-penalty", choices=["gnmt", "average", "none"], default=None)
    p.add_argument("--lp-alpha", type=float, default=None, help="GNMT length-penalty exponent")
    p.add_argument("--batch-size", type=int, default=64, help="sentences translated together")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_runtime_flag(
        p
    )  # translation runs with torch (seqlab's beam search) or ct2 (transformer_mt)
    add_trust_flag(p)
    p.set_defaults(func=cmd_translate)


def add_vocode_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab vocode CHECKPOINT INPUT... --out DIR``."""
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
    add_runtime_flag(p)
    add_trust_flag(p)
    p.set_defaults(func=cmd_vocode)
