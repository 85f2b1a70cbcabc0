"""Tiny versions of every shipped experiment, on tiny built-in corpora, for the tests that run them
all (test_config_options.py, test_determinism.py): each trains a few steps in a few CPU seconds.

Also runnable as a worker process (``python tests/tiny_experiments.py JOB.json``): it runs the
job's cases one after another in one process and writes what each gave to the job's ``out`` file,
so that a test can run cases in two processes at once, or the same cases in two fresh processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from seqlab.config import CONFIG_MODULE, GROUPS

# The tiny HF CTC models (pretrained=null: a fresh model of model.init, nothing downloaded).
W2V2BERT_INIT = (
    "model.init={hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, "
    "intermediate_size: 32, conv_depthwise_kernel_size: 3, output_hidden_size: 16}"
)
WAV2VEC2_INIT = (
    "model.init={hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, "
    "intermediate_size: 32, conv_dim: [16, 16], conv_stride: [5, 4], conv_kernel: [10, 4], "
    "num_conv_pos_embeddings: 8, num_conv_pos_embedding_groups: 2}"
)
MODEL = {  # sizes that make each model option tiny, and keep what makes it that option
    "bilstm_ctc": ["model.hidden_size=16", "model.num_layers=1"],
    "conformer_ctc": [
        "model.d_model=16",
        "model.num_layers=1",
        "model.num_heads=2",
        "model.conv_kernel_size=3",
        "model.subsampling_channels=8",
    ],
    "gpt2_small": ["model.n_layer=1", "model.n_embd=16", "model.n_head=2", "model.n_positions=48"],
    "lstm_seq2seq": ["model.emb_dim=16", "model.hidden_size=16", "model.num_layers=1"],
    "transformer_mt": [
        "model.d_model=16",
        "model.nhead=2",
        "model.dim_feedforward=32",
        "model.num_encoder_layers=1",
        "model.num_decoder_layers=1",
    ],
    "w2v2bert_ctc": ["model.pretrained=null", W2V2BERT_INIT],
    "wav2vec2_ctc": ["model.pretrained=null", WAV2VEC2_INIT],
}
MODEL["conformer_ctc_medium"] = MODEL["conformer_ctc"]
MODEL.update({f"hifigan_v{v}": ["model.upsample_initial_channel=16"] for v in (1, 2, 3)})

LR_SCHEDULER = {  # warm-ups that fit in a 4-step run
    "warmup_linear": ["lr_scheduler.warmup_steps=1"],
    "mt_triangle": ["lr_scheduler.warmup_steps=1"],
    "noam": ["lr_scheduler.warmup_steps=2", "lr_scheduler.d_model=16"],
}
SPEECH = ["data.max_batch_seconds=8", "data.num_buckets=2", "data.val_max_items=3"]
SCRIPT_SPEECH = [*SPEECH, "data.max_batch_size=2"]
VOCODER_DATA = [
    "data.segment_size=2048",
    "data.batch_size=2",
    "data.val_fraction=0.25",
    "data.val_max_items=1",
    "data.val_max_seconds=0.5",
]


# 4 steps, validation and a checkpoint every 2: the resume tests restart from ``step-2``.
STEP2_SCHEDULE = [
    "trainer.max_steps=4",
    "trainer.n_epochs=20",
    "trainer.save_every_n_steps=2",
    "trainer.save_every_n_epochs=null",
    "trainer.val_every_n_steps=2",
    "trainer.val_every_n_epochs=null",
]


def data_overrides(option: str, corpora: dict[str, Path]) -> list[str]:
    """The tiny corpus of ``corpora`` in the layout of data option ``option``, small batches."""
    speech, ru = corpora["speech"], corpora["ru"]
    return {
        "synth_speech": [f"data.root={speech}", *SPEECH],
        "librispeech": [f"data.root={speech}", "data.train=[train]", "data.val=[dev]", *SPEECH],
        "manifest": [f"data.root={corpora['manifest']}", *SPEECH],
        "fsdd": [  # the same manifests as FSDD's (16 kHz speech read at FSDD's 8 kHz)
            f"data.root={corpora['manifest']}",
            "data.train=[train.jsonl]",
            "data.val=[dev.jsonl]",
            "data.test=[test.jsonl]",
            "data.vocab=char",  # its ten-word vocabulary cannot spell these sentences
            *SPEECH,
        ],
        "openslr": [f"data.root={ru}", *SCRIPT_SPEECH],
        "synth_speech_ru": [f"data.root={ru}", "data.builtin=null", *SCRIPT_SPEECH],
        "commonvoice": [f"data.root={corpora['commonvoice']}", *SCRIPT_SPEECH],
        "hf_disk": [f"data.root={corpora['hf_disk']}", *SCRIPT_SPEECH],
        "lm_text": [
            f"data.root={speech}",
            "data.train_fraction=0.01",
            "data.max_batch_tokens=256",
        ],
        "parallel_text": [
            f"data.root={corpora['mt']}",
            "data.build_if_missing=false",
            "data.test=test1",  # the built-in corpus's name (the Multi30k recipes say test2016)
            "data.max_batch_tokens=300",
        ],
        "ljspeech": [f"data.root={corpora['lj']}", *VOCODER_DATA],
        "synth_ljspeech": [f"data.root={corpora['lj']}", "data.build_if_missing=false"]
        + VOCODER_DATA,
    }[option]


TASK = {  # the task's own keys (not in a config group)
    "seqlab.tasks.asr.task.ASRTask": [],
    "seqlab.tasks.asr.hf.HFCTCTask": ["trainer.grad_accum_steps=1"],
    "seqlab.tasks.lm.task.LMTask": ["tokenizer.vocab_size=300"],
    "seqlab.tasks.mt.task.MTTask": [
        "vocab.vocab_size=300",  # sentencepiece recipes (Multi30k's 8k) on the tiny corpus
        "trainer.averaging.swa_start=0.5",  # SWA from step 2 on
        "generation.max_len_ratio=1.0",  # an untrained model's greedy outputs stop sooner
        "generation.max_len_offset=2",
    ],
    "seqlab.tasks.vocoder.task.VocoderTask": [
        "discriminator.periods=[2,3]",
        "discriminator.n_scales=2",
        "discriminator.width=0.125",
        "validation.speech_quality=false",
    ],
}

# Every run: fp32 on the CPU, no loader processes, no progress bar, a loss logged at every step,
# all checkpoints kept (resumes start from step-2).
RUN = [
    "trainer.precision=fp32",
    "trainer.device=cpu",
    "trainer.num_workers=0",
    "trainer.progress=none",
    "trainer.log_every_n_steps=1",
    "trainer.keep_last=5",
    "trainer.early_stop_patience=null",
    "trainer.val_at_start=false",
]


def choices(experiment: str, overrides: list[str]) -> dict[str, str]:
    """The option of each config group that ``experiment`` with ``overrides`` uses (Hydra's
    choices), and the task's ``_target_`` under ``"task"``."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(f"experiment/{experiment}", overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    picked = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra/")}
    return {**picked, "task": cfg.task._target_}


def group_overrides(overrides: list[str]) -> list[str]:
    """The ``group=option`` overrides of ``overrides``; ``writer=jsonl`` unless one names a writer
    (metrics.jsonl only: no TensorBoard files)."""
    out = [o for o in overrides if o.split("=")[0] in GROUPS]
    return out if any(o.startswith("writer=") for o in out) else [*out, "writer=jsonl"]


def tiny_overrides(experiment: str, overrides: list[str], corpora: dict[str, Path]) -> list[str]:
    """``overrides`` plus what makes ``experiment`` with them tiny and offline: sizes for its
    model option, its data option pointed at ``corpora``, warm-ups that fit 4 steps."""
    groups = group_overrides(overrides)
    picked = choices(experiment, groups)
    out = [*groups, *MODEL[picked["model"]], *data_overrides(picked["data"], corpora)]
    out += LR_SCHEDULER.get(picked.get("lr_scheduler"), []) + TASK[picked["task"]]
    return out + [o for o in overrides if o not in groups]  # the case's own values win


def build_corpora(root: Path) -> dict[str, Path]:
    """The built-in corpora, tiny, under ``root`` (built once: later calls reuse them).

    Returns:
        name -> directory: ``speech`` (English, LibriSpeech layout, with lm_corpus.txt), ``ru``
        (Russian, OpenSLR layout), ``lj`` (LJSpeech layout, 22,050 Hz), ``mt`` (German-English),
        and the same speech in the other on-disk formats: ``manifest`` (NeMo JSONL),
        ``commonvoice`` (TSV + mp3 clips) and ``hf_disk`` (a save_to_disk DatasetDict).
    """
    root = Path(root)
    corpora = {
        name: root / name
        for name in ("speech", "ru", "lj", "mt", "manifest", "commonvoice", "hf_disk")
    }
    if (root / "done").is_file():
        return corpora
    from seqlab.corpora.mt.corpus import build_mt_corpus
    from seqlab.corpora.synth_ljspeech import build_ljspeech_corpus
    from seqlab.corpora.synth_speech import build_corpus
    from seqlab.corpora.synth_speech_lang import build_lang_corpus

    def english():
        build_corpus(corpora["speech"], hours=0.005, seed=3, workers=1, progress=False)
        _write_manifests(corpora["speech"], corpora["manifest"])

    def russian():
        build_lang_corpus(corpora["ru"], language="ru", hours=0.005, seed=3)
        _write_commonvoice(corpora["ru"], corpora["commonvoice"])
        _write_hf_disk(corpora["ru"], corpora["hf_disk"])

    def single_voice():
        build_ljspeech_corpus(corpora["lj"], hours=0.008, seed=3, workers=1, progress=False)
        build_mt_corpus(corpora["mt"], n_train=120, n_val=8, n_test=8, seed=3)

    # At once: the English and LJSpeech builders render in their own worker processes, the
    # Russian one in this process.
    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(build) for build in (english, russian, single_voice)]:
            future.result()
    (root / "done").write_text("")
    return corpora


def _ru_items(ru: Path, split: str) -> list[tuple[Path, str]]:
    """(flac, transcript) of one split of the OpenSLR-layout Russian corpus; 3 of dev and test
    (the runs validate on 3 items)."""
    items = []
    for line in (ru / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        utt, _speaker, text = line.split("\t")
        items.append((ru / "data" / utt[:2] / f"{utt}.flac", text))
    return items if split == "train" else items[:3]


def _write_manifests(speech: Path, out: Path) -> None:
    """NeMo JSONL manifests of the LibriSpeech-layout corpus (absolute audio paths)."""
    out.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train"), ("dev", "dev"), ("test", "test")):
        lines = []
        for trans in sorted((speech / split).rglob("*.trans.txt")):
            for line in trans.read_text().splitlines():
                utt, text = line.split(" ", 1)
                flac = trans.parent / f"{utt}.flac"
                duration = sf.info(flac).duration
                row = {"audio_filepath": str(flac), "duration": duration, "text": text.lower()}
                lines.append(json.dumps(row))
        (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


def _write_commonvoice(ru: Path, out: Path) -> None:
    """A Common Voice language directory: {train,dev,test}.tsv and mp3 clips (48 kHz)."""
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        rows = ["client_id\tpath\tsentence\tup_votes"]
        for flac, text in _ru_items(ru, split):
            wave, rate = sf.read(flac, dtype="float32")
            t = np.arange(int(len(wave) * 48000 / rate)) / 48000  # CV clips are 48 kHz mp3
            wave48 = np.interp(t, np.arange(len(wave)) / rate, wave).astype(np.float32)
            clip = f"common_voice_ru_{flac.stem}.mp3"
            sf.write(out / "clips" / clip, wave48, 48000, format="MP3")
            rows.append(f"x\t{clip}\t{text}\t2")
        (out / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _write_hf_disk(ru: Path, out: Path) -> None:
    """A DatasetDict (train/validation/test, Audio column) written by save_to_disk."""
    import datasets

    splits = {}
    for split, name in (("train", "train"), ("dev", "validation"), ("test", "test")):
        items = _ru_items(ru, split)
        rows = {
            "audio": [{"bytes": f.read_bytes(), "path": f.name} for f, _ in items],
            "sentence": [text for _, text in items],
        }
        splits[name] = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio())
    datasets.DatasetDict(splits).save_to_disk(str(out))


def state_sha256(modules: dict) -> str:
    """One sha256 over every tensor of every module's state_dict (names, dtypes, shapes, bytes)."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(modules):
        for key, value in modules[name].state_dict().items():
            if torch.is_tensor(value):
                digest.update(f"{name}.{key}:{value.dtype}:{tuple(value.shape)}".encode())
                digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


WALL_CLOCK = ("time", "items_per_s", "units_per_s", "audio_s_per_s")  # differ run to run


def _records(run_dir: Path) -> dict[str, dict]:
    """``"<split>/<step>"`` -> the scalars logged for it (resumes applied), wall clock left out."""
    from seqlab.engine.writers import read_metrics

    return {
        f"{r['split']}/{r['step']}": {k: v for k, v in r.items() if k not in WALL_CLOCK}
        for r in read_metrics(run_dir)
    }


def _weights_sha256(checkpoint: Path) -> dict[str, str]:
    """sha256 of each weights file of a checkpoint (the model and its averaged copies)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(checkpoint.glob("*.safetensors"))
    }


def _save_and_resume(experiment: str, overrides: list[str], run_dir: Path) -> dict:
    """Train 4 steps (validation and a checkpoint every 2), then resume from ``step-2`` as after a
    crash and train to step 4 again: what both wrote, and which steps the resume ran."""
    from seqlab.config import apply_overrides, compose_experiment
    from seqlab.engine.trainer import run

    schedule = STEP2_SCHEDULE
    cfg = compose_experiment(experiment, [*schedule, *overrides])  # a case may validate more
    run(cfg)  # as `seqlab train` does after composing
    uninterrupted = _records(run_dir)
    weights = _weights_sha256(run_dir / "checkpoints" / "last")
    lines_before = len((run_dir / "metrics.jsonl").read_text().splitlines())
    run(apply_overrides(cfg, [f"trainer.resume_from={run_dir / 'checkpoints' / 'step-2'}"]))
    new_lines = (run_dir / "metrics.jsonl").read_text().splitlines()[lines_before:]
    rerun = [json.loads(line) for line in new_lines]
    return {
        "run_dir": str(run_dir),
        "uninterrupted": uninterrupted,
        "resumed": _records(run_dir),
        "resume_events": [r["step"] for r in rerun if r.get("event") == "resume"],
        "rerun_train_steps": [r["step"] for r in rerun if r.get("split") == "train"],
        "weights_uninterrupted": weights,
        "weights_resumed": _weights_sha256(run_dir / "checkpoints" / "last"),
    }


def _initial_state(experiment: str, overrides: list[str], run_dir: Path, builds: int) -> dict:
    """Build the task ``builds`` times (seeded as ``seqlab train`` seeds it) and hash its initial
    weights each time; then train one step: the hashes and the first step's losses."""
    from seqlab.config import compose_experiment
    from seqlab.engine.trainer import build_task, run

    cfg = compose_experiment(experiment, [*overrides, "trainer.max_steps=1", "trainer.n_epochs=1"])
    hashes = []
    for _ in range(builds):  # a fresh set of objects (and memory addresses) every time
        task = build_task(cfg)
        hashes.append(state_sha256(dict(task.models())))
    run(cfg)
    first = _records(run_dir)["train/1"]
    return {"weights": hashes, "first_step": {k: v for k, v in first.items() if "loss" in k}}


def run_case(case: dict, runs: Path, corpora: dict[str, Path]) -> dict:
    """Run one case ``{"name", "experiment", "overrides", "mode"}`` of tiny ``experiment``:
    mode ``resume`` (:func:`_save_and_resume`) or ``init`` (:func:`_initial_state`)."""
    experiment, name = case["experiment"], case["name"]
    overrides = [*RUN, f"trainer.runs_root={runs}", f"trainer.run_name={name}"]
    overrides = tiny_overrides(experiment, [*overrides, *case["overrides"]], corpora)
    run_dir = runs / experiment / name
    if case["mode"] == "init":
        return _initial_state(experiment, overrides, run_dir, int(case.get("builds", 2)))
    return _save_and_resume(experiment, overrides, run_dir)


def run_in_processes(jobs: list[dict], folder: Path, corpora: dict[str, Path]) -> list[dict]:
    """Run each job ``{"cases": [...], "env": {...}}`` in a fresh worker process, all at once.

    Each worker uses one CPU thread. Returns, per job, case name -> ``{"ok": True, ...results}``
    or ``{"ok": False, "error": traceback}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    processes = []
    for number, job in enumerate(jobs):
        out = folder / f"results-{number}.json"
        spec = {
            "runs": str(folder / f"runs-{number}"),  # jobs may run the same cases
            "corpora": {k: str(v) for k, v in corpora.items()},
            "cases": job["cases"],
            "out": str(out),
        }
        (folder / f"job-{number}.json").write_text(json.dumps(spec))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **job.get("env", {})}
        log = open(folder / f"log-{number}.txt", "w")  # noqa: SIM115 (closed below)
        command = [sys.executable, __file__, str(folder / f"job-{number}.json")]
        processes.append((subprocess.Popen(command, env=env, stdout=log, stderr=log), log, out))
    results = []
    for process, log, out in processes:
        try:
            process.wait(timeout=900)
        except subprocess.TimeoutExpired:
            process.kill()  # a hung worker: its unfinished cases fail below
            process.wait()
        log.close()
        got = json.loads(out.read_text()) if out.is_file() else {}
        for case in jobs[len(results)]["cases"]:  # a worker that died: its missing cases say so
            got.setdefault(
                case["name"],
                {"ok": False, "error": f"worker exited {process.returncode}: {log.name}"},
            )
        results.append(got)
    return results


def main(job_file: str) -> None:
    """Run the cases of a job file ``{"runs", "corpora", "cases": [...], "out"}``, one by one."""
    job = json.loads(Path(job_file).read_text())
    runs, corpora = Path(job["runs"]), {k: Path(v) for k, v in job["corpora"].items()}
    results = {}
    for case in job["cases"]:
        start = time.perf_counter()
        try:
            results[case["name"]] = {"ok": True, **run_case(case, runs, corpora)}
        except BaseException as error:  # noqa: BLE001 (a case's failure is its result)
            text = "".join(traceback.format_exception(error))
            results[case["name"]] = {"ok": False, "error": text[-4000:]}
        results[case["name"]]["seconds"] = round(time.perf_counter() - start, 2)
        Path(job["out"]).write_text(json.dumps(results))  # what is done survives a later crash
    os._exit(0)  # skip interpreter teardown (threads of tensorboard/tokenizers): seconds saved


if __name__ == "__main__":
    main(sys.argv[1])
