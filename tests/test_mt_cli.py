"""The user's story for translation: a small built-in corpus, `seqlab train mt_*`, eval with
sacreBLEU (equal to sacrebleu's own CLI), `seqlab translate` streaming, SWA and averaged checkpoints."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from seqlab.cli import main
from seqlab.tasks.mt.task import teacher_forcing_ratio

TINY_TRANSFORMER = [
    "model.d_model=32",
    "model.nhead=2",
    "model.dim_feedforward=64",
    "model.num_encoder_layers=1",
    "model.num_decoder_layers=1",
]
TINY_LSTM = ["model.emb_dim=16", "model.hidden_size=24", "model.num_layers=2"]


@pytest.fixture(scope="module")
def corpus(mt_corpus):
    """The session's tiny built-in German-English corpus (tests/conftest.py)."""
    return mt_corpus


def _train(corpus, runs, experiment, name, *extra):
    tiny = TINY_TRANSFORMER if experiment == "mt_transformer" else TINY_LSTM
    code = main(
        [
            "train",
            experiment,
            f"data.root={corpus}",
            *tiny,
            "trainer.n_epochs=2",
            "data.max_batch_tokens=600",
            f"trainer.runs_root={runs}",
            f"trainer.run_name={name}",
            "trainer.progress=plain",
            "trainer.precision=fp32",
            "writer=jsonl",
            *extra,
        ]
    )
    assert code == 0
    return Path(runs) / experiment / name


@pytest.fixture(scope="module")
def transformer_run(corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return _train(
        corpus, runs, "mt_transformer", "swa", "trainer.averaging.swa_start=0.5",
        "lr_scheduler.warmup_steps=4",
        "trainer.save_every_n_epochs=1", "trainer.keep_last=5",
    )  # fmt: skip


def test_teacher_forcing_schedule_per_epoch():
    cfg = OmegaConf.create(
        {"enabled": True, "start": 1.0, "from_epoch": 2, "decrease": 0.25, "min": 0.3}
    )
    assert [teacher_forcing_ratio(cfg, e) for e in range(6)] == [1.0, 1.0, 0.75, 0.5, 0.3, 0.3]
    off = OmegaConf.create(
        {"enabled": False, "start": 0.2, "from_epoch": 0, "decrease": 0.5, "min": 0}
    )
    assert [teacher_forcing_ratio(off, e) for e in range(3)] == [1.0, 1.0, 1.0]
    assert teacher_forcing_ratio(None, 5) == 1.0


def test_lstm_trains_with_scheduled_sampling_and_logs_both_losses(corpus, tmp_path):
    run = _train(
        corpus, tmp_path, "mt_lstm", "tf", "teacher_forcing.enabled=true",
        "teacher_forcing.from_epoch=1",
        "teacher_forcing.decrease=0.3", "teacher_forcing.min=0.5",
    )  # fmt: skip
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r.get("split") == "train" and "teacher_forcing" in r]
    assert sorted({round(r["teacher_forcing"], 6) for r in train}) == [0.7, 1.0]
    val = [r for r in rows if r.get("split") == "val"]
    assert val and all(
        {"val_loss", "val_loss_no_tf", "val_bleu", "val_chrf"} <= set(r) for r in val
    )


def test_swa_run_decodes_and_eval_bleu_equals_sacrebleu_cli(transformer_run, corpus, tmp_path):
    best = transformer_run / "checkpoints" / "last"
    assert (best / "model_swa.safetensors").is_file()
    out = tmp_path / "eval.json"
    assert main(["eval", str(best), f"data.root={corpus}", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_items"] == sum(1 for _ in open(corpus / "test1.de-en.en", encoding="utf-8"))
    assert "nrefs:1" in result["signatures"]["bleu"]
    hyp = tmp_path / "hyp.txt"
    ref = tmp_path / "ref.txt"
    hyp.write_text("".join(u["hypothesis"] + "\n" for u in result["utterances"]), encoding="utf-8")
    ref.write_text("".join(u["reference"] + "\n" for u in result["utterances"]), encoding="utf-8")
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "sacrebleu"), str(ref), "-i", str(hyp), "-m", "bleu", "-b", "-w", "6"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(cli.stdout.strip()) == pytest.approx(result["metrics"]["bleu"], abs=1e-6)


def test_translate_streams_stdin_to_stdout(transformer_run, corpus, tmp_path):
    src = (corpus / "test1.de-en.de").read_text(encoding="utf-8").splitlines()[:5]
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli", "translate", str(transformer_run), "--beam-size", "3"],
        input="\n".join(src) + "\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    greedy = subprocess.run(
        [sys.executable, "-m", "seqlab.cli", "translate", str(transformer_run), "--beam-size", "1"],
        input="\n".join(src) + "\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert len(greedy.stdout.splitlines()) == 5


def test_averaged_checkpoint_translates_like_any_other(transformer_run, tmp_path, capsys):
    steps = sorted((transformer_run / "checkpoints").glob("step-*"))
    assert len(steps) >= 2
    out = tmp_path / "avg"
    assert main(["average", *map(str, steps[-2:]), "--out", str(out)]) == 0
    import seqlab

    translator = seqlab.load(out)
    assert len(translator.translate(["das ist gut .", "ich habe zwei katzen ."])) == 2
