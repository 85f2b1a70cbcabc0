"""``seqlab serve`` under load: requests/s and p50/p95 latency at 1, 8 and 32 concurrent clients,
with dynamic batching and without it (``--no-batching``), on the same inputs, in one run.

    python bench/serve.py [--clients 1,8,32] [--threads 1] [--kinds asr,mt,vocoder] [--json out.json]

Two servers run at once in their own processes (``seqlab serve ... --port 0``; ``--threads``
torch threads each), one with batching (``--max-batch 32 --batch-wait-ms 10``), one without; the
clients are threads of this process, each sending its requests one after another (a closed
loop), and every setting is measured on both servers in turn, so that a change of machine load
hits both alike. The models are the shipped sizes of asr_conformer (Conformer-CTC, d_model 144,
8 layers), mt_transformer (d_model 256, 3+3 layers, beam 5) and vocoder_demo (HiFi-GAN V2), with
the vocabularies of tests/fixtures/checkpoints_v0 and seeded random weights (speed does not
depend on the weights; an untrained translator runs every sentence to its length limit).

Inputs: 2 s of speech-like audio per transcription (8 different clips), one sentence per
translation (8), one 1 s mel (86 frames) per vocoding: the vocoder batches only mels of equal
length (seqlab/serve/vocoder.py says why), so its figures are for a steady stream of equal lengths.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "checkpoints_v0"
SHIPPED = {"asr": "asr_conformer", "mt": "mt_transformer", "vocoder": "vocoder_demo"}
SENTENCES = [
    "ein mann liest ein buch .",
    "die frau sieht den hund .",
    "zwei kinder spielen im garten .",
    "der alte mann trinkt einen kaffee .",
    "eine katze schläft auf dem sofa .",
    "drei hunde laufen über die straße .",
    "das kind isst einen roten apfel .",
    "die lehrerin schreibt einen langen brief .",
]


def shipped_checkpoint(experiment: str, out: Path) -> Path:
    """A checkpoint of ``experiment`` at its shipped model size: the fixture's config and
    vocabularies with the shipped ``model`` section, and seeded random weights."""
    import torch
    from omegaconf import OmegaConf, open_dict
    from safetensors.torch import save_file

    from seqlab.config import compose_experiment
    from seqlab.inference import task_class
    from seqlab.registry import load_checkpoint_config

    source = FIXTURES / experiment
    cfg = load_checkpoint_config(source)
    with open_dict(cfg):
        cfg.model = compose_experiment(experiment).model
    torch.manual_seed(0)
    task = task_class(cfg, source)(cfg, checkpoint_dir=source)
    out.mkdir(parents=True, exist_ok=True)
    for name, module in task.models().items():  # clones: tied weights saved under each name
        state = {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}
        save_file(state, str(out / f"{name}.safetensors"))
    for file in source.iterdir():  # vocabularies, tokenizers, meta.json
        if file.suffix in (".json", ".model") and file.name != "expected.json":
            shutil.copy(file, out / file.name)
    OmegaConf.save(cfg, out / "config.yaml")
    return out


def start_server(checkpoints: dict[str, Path], batching: bool, threads: int):
    """``seqlab serve`` in a process of its own on a free port: ``(process, url)``."""
    command = [
        sys.executable, "-c", "from seqlab.cli import main; raise SystemExit(main())", "serve",
        *(f"{kind}={path}" for kind, path in checkpoints.items()),
        "--port", "0", "--max-batch", "32", "--batch-wait-ms", "10", "--queue-size", "512",
    ]  # fmt: skip
    if not batching:
        command.append("--no-batching")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    for line in process.stderr:
        found = re.search(r"the page is (http://\S+?)/ ", line)
        if found:
            # keep reading its log, so that the pipe never fills and blocks the server
            import threading

            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"the server did not start ({' '.join(command)})")


def inputs(kind: str) -> list:
    """The 8 inputs of ``kind``: wav bytes, sentences, or .npy bytes."""
    import soundfile as sf

    out = []
    for i in range(8):
        rng = np.random.default_rng(i)
        if kind == "asr":
            rate = 16000
            t = np.arange(2 * rate) / rate
            wave = np.sin(2 * np.pi * np.cumsum(110 + 40 * t + 7 * i) / rate)
            wave = (0.3 * wave + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
            buffer = io.BytesIO()
            sf.write(buffer, wave, rate, subtype="PCM_16", format="WAV")
            out.append(buffer.getvalue())
        elif kind == "mt":
            out.append(SENTENCES[i])
        else:
            buffer = io.BytesIO()
            np.save(buffer, (-6 + 2 * rng.standard_normal((80, 86))).astype(np.float32))
            out.append(buffer.getvalue())
    return out


def send(client, kind: str, value) -> None:
    if kind == "asr":
        r = client.post("/api/transcribe", files={"file": ("a.wav", value)})
    elif kind == "mt":
        r = client.post("/api/translate", json={"text": value})
    else:
        r = client.post("/api/vocode", files={"file": ("m.npy", value)})
    if r.status_code != 200:
        raise RuntimeError(f"{kind}: {r.status_code} {r.text[:200]}")


def measure(url: str, kind: str, clients: int, values: list) -> dict:
    """``clients`` threads, each sending its share of the requests one after another."""
    import httpx

    total = max(16, 2 * clients)
    per_client = math.ceil(total / clients)
    latencies: list[float] = []

    def model_counts(c) -> tuple[int, int]:
        for m in c.get("/api/models").json()["models"]:
            if m["kind"] == kind:
                return m["batching"]["requests"], m["batching"]["batches"]
        raise RuntimeError(f"no {kind} model")

    with httpx.Client(base_url=url, timeout=600, limits=httpx.Limits(max_connections=64)) as c:
        send(c, kind, values[0])  # warm-up (first call allocations)
        before = model_counts(c)

        def client(number: int) -> None:
            for k in range(per_client):
                t0 = time.perf_counter()
                send(c, kind, values[(number + k) % len(values)])
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        wall = time.perf_counter() - t0
        after = model_counts(c)
    requests, batches = after[0] - before[0], after[1] - before[1]
    return {
        "requests": len(latencies),
        "requests_per_second": len(latencies) / wall,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "mean_batch": requests / max(batches, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    p.add_argument("--kinds", default="asr,mt,vocoder")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    kinds = args.kinds.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = {k: shipped_checkpoint(SHIPPED[k], Path(tmp) / SHIPPED[k]) for k in kinds}
        servers = {b: start_server(checkpoints, b, args.threads) for b in (True, False)}
        try:
            rows = []
            for kind in kinds:
                values = inputs(kind)
                for n in clients:
                    on = measure(servers[True][1], kind, n, values)
                    off = measure(servers[False][1], kind, n, values)
                    rows.append({"kind": kind, "clients": n, "batching": on, "no_batching": off})
                    print(_row(rows[-1]), flush=True)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "threads": args.threads,
        "models": {k: SHIPPED[k] for k in kinds},
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


def _row(r: dict) -> str:
    on, off = r["batching"], r["no_batching"]
    return (
        f"{r['kind']:8s} {r['clients']:3d} clients | batching {on['requests_per_second']:7.1f} req/s "
        f"p50 {on['p50_ms']:7.0f} ms p95 {on['p95_ms']:7.0f} ms (mean batch {on['mean_batch']:.1f}) | "
        f"none {off['requests_per_second']:7.1f} req/s p50 {off['p50_ms']:7.0f} ms "
        f"p95 {off['p95_ms']:7.0f} ms | ratio req/s x{on['requests_per_second'] / off['requests_per_second']:.2f}, "
        f"p50 x{on['p50_ms'] / off['p50_ms']:.2f}, p95 x{on['p95_ms'] / off['p95_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
