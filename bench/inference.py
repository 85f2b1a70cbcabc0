"""Inference speed of seqlab's runtimes against each other and against the peers, on this machine.

    python bench/inference.py [--only vocoder,asr,mt] [--threads 2] [--repeats 3] [--mt-checkpoint CKPT]

Each section runs every peer in the same process on the same inputs, interleaved (the order
alternates per repeat), and prints the ratio of the best runs (the least disturbed by load):

- vocoder: HiFi-GAN synthesis real-time factor (audio s / wall s) at batch 1 (one ``--seconds``
  clip) and batch 16 (``--batch-seconds`` clips) of seqlab's ``Vocoder`` with the torch generator,
  the same ``Vocoder`` with the ONNX Runtime graph ``seqlab export --onnx`` writes, and the
  official inference path (bench/hifigan_reference.py, as bench/vocoder.py runs it), on identical
  random weights; the max abs difference of each to the official output. Also each path's
  convolution arithmetic rate (GFLOP/s: the convolutions' multiply-adds / wall time) beside this
  machine's fp32 matrix-multiply rate (a 2048 x 2048 matmul, the practical ceiling of any fp32
  convolution): a speed-up over the official path that would need more than that ceiling cannot
  come from a faster runtime at the same arithmetic.
- asr: the shipped ``asr_bilstm`` and ``asr_conformer`` recognizers (random weights: speed does
  not depend on training) transcribing the same clips with torch and with ONNX Runtime: real-time
  factor, max abs difference of the log-probs, memory (each runtime in a fresh subprocess: its
  resident memory once loaded, and the peak while transcribing one long clip); and where the time
  goes with greedy decoding and with beam search + a 3-gram LM (acoustic model vs decoder).
- mt (with ``--mt-checkpoint``, a trained transformer_mt): seqlab's beam 5 vs CTranslate2 float32
  and int8 at batch 1 and 16, sentences/s and BLEU (bench/inference_mt.py, also runnable alone);
  with ``--joeynmt-python`` and ``--joeynmt-config``, JoeyNMT's beam search too.

Numbers depend on the machine and its load; the README quotes the ratios with both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seqlab.tasks.vocoder.onnx import OnnxGenerator, export_generator_graph  # noqa: E402
from seqlab.tasks.vocoder.vocoding import Vocoder  # noqa: E402
from vocoder import paired_generators  # noqa: E402

SAMPLE_RATE, HOP = 22050, 256
ASR_RATE = 16000


def _best_of_interleaved(runs: dict, repeats: int) -> dict[str, float]:
    """name -> the shortest wall time of ``repeats`` interleaved calls of ``runs[name]()``."""
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # who goes first rotates
        for name in order:
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    return {n: min(v) for n, v in times.items()}


# ---- vocoder -------------------------------------------------------------------------------------
def conv_flops(module: torch.nn.Module, *inputs: torch.Tensor) -> int:
    """Floating-point operations (2 per multiply-add) of ``module``'s Conv1d/ConvTranspose1d
    layers in one forward pass on ``inputs``: the bulk of a HiFi-GAN generator's arithmetic."""
    total = 0

    def count(layer, args, out):
        nonlocal total
        if isinstance(layer, torch.nn.ConvTranspose1d):  # every input sample meets the kernel
            total += 2 * args[0].numel() * layer.out_channels * layer.kernel_size[0] // layer.groups
        else:
            total += 2 * out.numel() * layer.in_channels * layer.kernel_size[0] // layer.groups

    hooks = [
        m.register_forward_hook(count)
        for m in module.modules()
        if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))
    ]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def matmul_gflops(repeats: int = 7, size: int = 2048) -> float:
    """This machine's fp32 matrix-multiply rate at torch's thread count (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):  # warm-up: thread pool, caches, clocks
        a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def vocoder_section(preset: str, batch: int, seconds: float, repeats: int, work: Path) -> dict:
    """RTFs of seqlab torch, seqlab ONNX Runtime and the official path on the same weights."""
    generator, official, ours = paired_generators(preset)  # the same weights as bench/vocoder.py
    graph = work / f"hifigan_{preset}.onnx"  # the same weights for every batch size
    if not graph.is_file():
        export_generator_graph(ours.generator, graph)  # its folded copy: the same weights
    onnx = Vocoder(
        OnnxGenerator(graph, generator.hop_length, generator.n_mels),
        ours.mel,  # the same mel parameters (the Vocoder copies what it is given)
        SAMPLE_RATE,
        runtime="onnx",
    )
    frames = int(seconds * SAMPLE_RATE / HOP)
    mels = torch.randn(batch, 80, frames) - 5.0  # (B, 80, F) log-mels
    mel_list = [m.numpy() for m in mels]

    def run_official():
        with torch.no_grad():
            return official(mels)

    runs = {
        "seqlab torch": lambda: ours.vocode(mel_list, batch_size=batch),
        "seqlab onnx": lambda: onnx.vocode(mel_list, batch_size=batch),
        "official": run_official,
    }
    reference = run_official()[:, 0].numpy()
    diffs = {
        name: float(np.abs(reference - np.stack(runs[name]())).max())
        for name in ("seqlab torch", "seqlab onnx")
    }
    best = _best_of_interleaved(runs, repeats)
    audio = batch * frames * HOP / SAMPLE_RATE
    flops = conv_flops(official, mels)
    return {
        "rtf": {n: audio / t for n, t in best.items()},
        "max_abs_diff": diffs,
        "conv_gflops": {n: flops / t / 1e9 for n, t in best.items()},
    }


# ---- recognition ---------------------------------------------------------------------------------
def _asr_task(experiment: str):
    """The shipped recognizer of ``experiment`` with random weights (no data needed)."""
    from hydra.utils import instantiate

    from seqlab.config import compose_experiment

    torch.manual_seed(0)
    cfg = compose_experiment(experiment, ["data.root=/unused"])
    task = instantiate(cfg.task, cfg=cfg, _recursive_=False)
    task.model.eval()
    return task


def _clips(seconds: list[float], seed: int = 0) -> list[np.ndarray]:
    """Speech-like test clips: a gliding harmonic tone with noise, one per duration."""
    rng = np.random.default_rng(seed)
    clips = []
    for s in seconds:
        t = np.arange(int(s * ASR_RATE)) / ASR_RATE
        phase = 2 * np.pi * np.cumsum(110 + 40 * np.sin(2 * np.pi * 0.7 * t)) / ASR_RATE
        wave = sum(np.sin(k * phase) / k for k in (1, 2, 3)) * 0.2
        clips.append((wave + 0.02 * rng.standard_normal(len(t))).astype(np.float32))
    return clips


def _recognizers(experiment: str, work: Path, onnx: bool = True):
    """(task, torch ASRModel, onnx ASRModel or None) of one task, sharing its decoder."""
    from seqlab.tasks.asr.onnx import OnnxAcousticModel, export_ctc_graph
    from seqlab.tasks.asr.recognizer import ASRModel

    task = _asr_task(experiment)
    torch_model = ASRModel(task)
    graph = work / f"{experiment}.onnx"
    if not graph.is_file():
        export_ctc_graph(task.model, task.sample_rate, torch_model.min_samples, graph)
    if not onnx:
        return task, torch_model, None
    acoustic = OnnxAcousticModel(graph, task.model.output_lengths)
    return task, torch_model, ASRModel(task, model=acoustic, runtime="onnx")


def asr_speed(experiment: str, repeats: int, work: Path) -> dict:
    """RTF (greedy decoding) and log-prob difference, torch vs ONNX Runtime, 8 clips of 3-8 s."""
    task, torch_model, onnx_model = _recognizers(experiment, work)
    clips = _clips([3, 4, 5, 6, 8, 5, 4, 7])
    audio = sum(len(c) for c in clips) / ASR_RATE
    lengths = torch.tensor([len(c) for c in clips])
    batch = torch.zeros(len(clips), int(lengths.max()))
    for row, c in enumerate(clips):
        batch[row, : len(c)] = torch.from_numpy(c)
    with torch.no_grad():
        want, out_lengths = torch_model.model(batch, lengths)
    got, _ = onnx_model.model(batch, lengths)
    diff = max(
        float((got[i, :n] - want[i, :n]).abs().max()) for i, n in enumerate(out_lengths.tolist())
    )
    best = _best_of_interleaved(
        {
            "torch": lambda: torch_model.transcribe(clips, batch_size=8),
            "onnx": lambda: onnx_model.transcribe(clips, batch_size=8),
        },
        repeats,
    )
    return {"rtf": {n: audio / t for n, t in best.items()}, "max_abs_diff": diff}


def _rss_mib() -> float:
    """This process's resident memory now (Linux /proc), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def asr_memory_worker(experiment: str, runtime: str, seconds: float, work: Path) -> None:
    """(In a fresh process) print the resident memory before transcribing one long clip and its
    peak while doing so, sampled every 2 ms (ru_maxrss would report the parent's high-water
    mark, which a child inherits across fork and exec)."""
    import threading

    # the torch module is built in both (seqlab.load builds the task around the graph too)
    _, torch_model, onnx_model = _recognizers(experiment, work, onnx=runtime == "onnx")
    model = onnx_model if runtime == "onnx" else torch_model
    model.transcribe(_clips([2.0])[0])  # warm-up: the runtime's first-call allocations
    clip = _clips([seconds])[0]
    before = _rss_mib()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    model.transcribe(clip)
    done.set()
    sampler.join()
    print(json.dumps({"before_mib": before, "peak_mib": peak[0], "growth_mib": peak[0] - before}))


def asr_memory(experiment: str, runtime: str, seconds: float, work: Path, threads: int) -> dict:
    """Run :func:`asr_memory_worker` in a subprocess (peak RSS only grows within a process)."""
    command = [sys.executable, __file__, "--memory-worker", experiment, runtime, str(seconds)]
    command += ["--work", str(work), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def asr_time_shares(experiment: str, work: Path) -> dict:
    """Wall time of the acoustic model (torch) and of the decoder, greedy and beam + 3-gram LM."""
    from seqlab.decoding.factory import build_decoder
    from seqlab.decoding.lm.kneser_ney import build_arpa

    task, torch_model, _ = _recognizers(experiment, work, onnx=False)
    rng = np.random.default_rng(1)
    words = "the a cat dog sat on mat she reads book red house in of and to is was".split()
    text = work / "lm.txt"
    text.write_text(
        "\n".join(" ".join(rng.choice(words, rng.integers(3, 9))) for _ in range(2000)) + "\n"
    )
    arpa = work / "lm3.arpa"
    build_arpa(text, arpa, order=3)
    clips = _clips([4, 6, 5, 7])
    lengths = torch.tensor([len(c) for c in clips])
    batch = torch.zeros(len(clips), int(lengths.max()))
    for row, c in enumerate(clips):
        batch[row, : len(c)] = torch.from_numpy(c)
    t0 = time.perf_counter()
    with torch.no_grad():
        log_probs, out_lengths = torch_model.model(batch, lengths)
    forward = time.perf_counter() - t0
    shares = {}
    for name, cfg in (
        ("greedy", {"type": "greedy"}),
        ("beam10+3gram", {"type": "beam", "beam_size": 10, "lm": str(arpa)}),
    ):
        decoder = build_decoder(cfg, task.vocab)
        t0 = time.perf_counter()
        decoder.decode_batch(log_probs, out_lengths)
        decode = time.perf_counter() - t0
        shares[name] = {
            "forward_s": forward,
            "decode_s": decode,
            "decode_share": decode / (forward + decode),
        }
    return shares


# ---- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="vocoder,asr", help="comma list of: vocoder,asr,mt")
    parser.add_argument("--mt-checkpoint", default=None, help="mt: a trained transformer_mt")
    parser.add_argument("--joeynmt-python", default=None, help="mt: a JoeyNMT 2.3 interpreter")
    parser.add_argument("--joeynmt-config", default=None, help="mt: a trained JoeyNMT's config")
    parser.add_argument("--threads", type=int, default=2, help="torch and ORT threads (issue: 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", default="v1,v2", help="HiFi-GAN presets")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--seconds", type=float, default=2.0, help="vocoder clip at batch 1")
    parser.add_argument("--batch-seconds", type=float, default=0.5, help="vocoder clip at 16")
    parser.add_argument("--experiments", default="asr_bilstm,asr_conformer")
    parser.add_argument("--long-seconds", type=float, default=60.0, help="memory: one clip")
    parser.add_argument("--work", default=None, help="where graphs go (default: a temp dir)")
    parser.add_argument("--memory-worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # ONNX Runtime sessions take the same number
    work = Path(args.work or tempfile.mkdtemp(prefix="seqlab_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.memory_worker:
        experiment, runtime, seconds = args.memory_worker
        asr_memory_worker(experiment, runtime, float(seconds), work)
        return
    import onnxruntime

    only = set(args.only.split(","))
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} "
        f"threads, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    if "mt" in only:
        if not args.mt_checkpoint:
            parser.error("--only mt needs --mt-checkpoint (a trained transformer_mt checkpoint)")
        from inference_mt import main as mt_main  # bench/ is this script's folder

        print("\ntranslation, beam 5: seqlab torch vs CTranslate2 (bench/inference_mt.py)")
        joey = ["--joeynmt-python", args.joeynmt_python, "--joeynmt-config", args.joeynmt_config]
        mt_main(
            [
                args.mt_checkpoint,
                "--threads",
                str(args.threads),
                *(joey if args.joeynmt_python else []),
            ]
        )
    if "vocoder" in only:
        print("\nvocoder synthesis, real-time factor (audio s / wall s), best of interleaved runs")
        peak = matmul_gflops()
        print(f"fp32 matmul 2048^2 at {args.threads} threads: {peak:.0f} GFLOP/s (the ceiling)")
        print(
            f"{'':4} {'batch':>5} {'torch':>8} {'onnx':>8} {'official':>9} {'onnx/off':>9} "
            f"{'torch/off':>9} {'|diff| torch':>12} {'|diff| onnx':>11}  conv GFLOP/s torch/onnx/"
            "official (1.5x official needs)"
        )
        for preset in args.presets.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                seconds = args.seconds if batch == 1 else args.batch_seconds
                r = vocoder_section(preset, batch, seconds, args.repeats, work)
                rtf, diff = r["rtf"], r["max_abs_diff"]
                print(
                    f"{preset:4} {batch:5d} {rtf['seqlab torch']:7.2f}x {rtf['seqlab onnx']:7.2f}x "
                    f"{rtf['official']:8.2f}x {rtf['seqlab onnx'] / rtf['official']:8.2f}x "
                    f"{rtf['seqlab torch'] / rtf['official']:8.2f}x {diff['seqlab torch']:12.1e} "
                    f"{diff['seqlab onnx']:11.1e}  "
                    + "/".join(f"{g:.0f}" for g in r["conv_gflops"].values())
                    + f" ({1.5 * r['conv_gflops']['official']:.0f} of {peak:.0f})",
                    flush=True,
                )
    if "asr" in only:
        print("\nrecognition, 8 clips of 3-8 s in one batch, greedy: real-time factor")
        for experiment in args.experiments.split(","):
            r = asr_speed(experiment, args.repeats, work)
            mem = {
                rt: asr_memory(experiment, rt, args.long_seconds, work, args.threads)
                for rt in ("torch", "onnx")
            }
            print(
                f"{experiment:14} torch {r['rtf']['torch']:7.1f}x  onnx {r['rtf']['onnx']:7.1f}x  "
                f"onnx/torch {r['rtf']['onnx'] / r['rtf']['torch']:.2f}x  max |diff| log-probs "
                f"{r['max_abs_diff']:.1e}",
                flush=True,
            )
            for rt, m in mem.items():
                print(
                    f"{'':14} {rt:5} RSS {m['before_mib']:5.0f} MiB loaded, peak "
                    f"{m['peak_mib']:5.0f} MiB transcribing one {args.long_seconds:.0f} s clip "
                    f"(+{m['growth_mib']:.0f} MiB)",
                    flush=True,
                )
            shares = asr_time_shares(experiment, work)
            for name, s in shares.items():
                print(
                    f"{'':14} {name:13} acoustic model {s['forward_s']:.3f} s, decoder "
                    f"{s['decode_s']:.3f} s: decoding {100 * s['decode_share']:.0f} % of the time",
                    flush=True,
                )


if __name__ == "__main__":
    main()
