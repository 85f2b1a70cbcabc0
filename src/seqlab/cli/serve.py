"""``seqlab serve CKPT [CKPT...]``: a web page and an HTTP API for trained checkpoints
(seqlab/serve/)."""

from __future__ import annotations

import argparse
import signal
import sys

from seqlab.cli.common import add_trust_flag, print_config_error
from seqlab.config import ConfigError


def cmd_serve(args: argparse.Namespace) -> int:
    if args.runtime == "ct2":  # before torch is imported: see load_ctranslate2_before_torch
        from seqlab.runtime import load_ctranslate2_before_torch

        load_ctranslate2_before_torch()
    try:
        from seqlab.serve import Batching, Limits, Server, load_models
    except ImportError as err:  # fastapi/gradio/uvicorn are the optional extra [serve]
        return print_config_error(
            ImportError(f"seqlab serve needs the serve extra: pip install 'seqlab[serve]' ({err})")
        )
    try:
        max_batch, max_batch_of = _max_batch(args.max_batch or [])
    except ValueError as err:
        return print_config_error(err)
    if args.queue_size < 1 or args.batch_wait_ms < 0:
        return print_config_error(ValueError("--queue-size must be >= 1, --batch-wait-ms >= 0"))
    limits = Limits(args.max_upload_mb, args.max_audio_seconds, args.max_text_chars)
    batching = Batching(
        max_batch=1 if args.no_batching else max_batch,
        max_wait_ms=0 if args.no_batching else args.batch_wait_ms,
        queue_size=args.queue_size,
    )
    try:
        models = load_models(
            args.checkpoints,
            runtime=args.runtime,
            device=args.device,
            lm=args.lm,
            batching=batching,
            limits=limits,
            trust_targets=tuple(args.trust_target),
            max_batch_of={} if args.no_batching else max_batch_of,
        )
    except (ConfigError, FileNotFoundError, ValueError, ImportError) as err:
        return print_config_error(err)
    try:
        server = Server(models, limits, host=args.host, port=args.port, log_level="info")
    except OSError as err:  # the port is taken, the host is not ours
        for model in models.values():
            model.close()
        return print_config_error(OSError(f"cannot listen on {args.host}:{args.port} ({err})"))
    for model in models.values():
        print(f"seqlab serve: {model.name}: {model.kind} from {model.checkpoint}", file=sys.stderr)
    print(
        f"seqlab serve: the page is {server.url}/ and the API {server.url}/api/ "
        f"(docs {server.url}/api/docs); Ctrl-C stops",
        file=sys.stderr,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up as Ctrl-C does
    try:
        server.run()  # until Ctrl-C / SIGTERM: uvicorn finishes the requests in flight first
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has shut down
        pass
    print("seqlab serve: stopped", file=sys.stderr)
    return 0


def _max_batch(values: list[str]) -> tuple[int, dict[str, int]]:
    """``--max-batch`` values (``16``, ``vocoder_demo=1``) -> (every model's, per named model)."""
    default, named = 16, {}
    for value in values:
        name, _, number = value.rpartition("=")
        if not number.isdigit() or int(number) < 1:
            raise ValueError(f"--max-batch {value}: expected N or NAME=N with N >= 1")
        if name:
            named[name] = int(number)
        else:
            default = int(number)
    return default, named


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    """``seqlab serve CKPT [CKPT...] [--lm LM] [--host H] [--port P] [--runtime R]``."""
    from seqlab.cli.infer import add_runtime_flag

    p = sub.add_parser(
        "serve",
        help="a web page and an HTTP API for recognition, translation and vocoder checkpoints",
        description="Serve checkpoints on a web page (one tab per model) and an HTTP API "
        "(GET /api/models, POST /api/transcribe, /api/translate, /api/vocode; see README.md).",
    )
    p.add_argument(
        "checkpoints",
        nargs="+",
        metavar="CKPT",
        help="checkpoint or run directories (NAME=CKPT names the model); kinds may be mixed",
    )
    p.add_argument("--lm", default=None, help="ARPA / KenLM / HF causal-LM dir: adds beam+lm")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = every interface)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free one)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_runtime_flag(p)
    g = p.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload (413 beyond)")
    g.add_argument(
        "--max-audio-seconds", type=float, default=120.0, help="longest audio (413 beyond)"
    )
    g.add_argument("--max-text-chars", type=int, default=5000, help="longest text (413 beyond)")
    g = p.add_argument_group("dynamic batching (per model)")
    g.add_argument(
        "--max-batch",
        action="append",
        metavar="N|NAME=N",
        help="most requests in one call (default 16); NAME=N for one model (repeat the flag), "
        "e.g. vocoder_demo=1: a HiFi-GAN on a CPU gains nothing from batching (README, Serving)",
    )
    g.add_argument(
        "--batch-wait-ms", type=float, default=10.0, help="how long a request waits for others"
    )
    g.add_argument("--queue-size", type=int, default=64, help="requests waiting (503 beyond)")
    g.add_argument("--no-batching", action="store_true", help="run each request alone")
    add_trust_flag(p)
    p.set_defaults(func=cmd_serve)
