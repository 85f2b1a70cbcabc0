"""`seqlab report RUN_DIR` on real small runs: the table against metrics.jsonl, every plot a valid
PNG with the expected curves, a self-contained HTML page with audio players, best/worst
predictions, in-progress runs, and a translation run with `seqlab eval` results."""

import json
import math
import shutil

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf

from seqlab.cli import main
from seqlab.engine.trainer import fit
from seqlab.report.run_report import write_report
from toy_task import ToyRegressionTask, default_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WORDS = ["one", "two", "three", "four", "five", "six"]


class ToyWithExamples(ToyRegressionTask):
    """The toy task with the examples a speech task logs (transcripts and audio) and a counter
    metric that stays 0 (like a vocoder's count of clips PESQ skipped)."""

    def validation_end(self, outputs):
        return {**super().validation_end(outputs), "skipped": 0.0}

    def examples(self, outputs):
        predictions = outputs[0]["predictions"]
        rows = []
        for i, p in enumerate(predictions[:4]):
            reference = " ".join(WORDS[i : i + 3])
            # item 0 is always right; the others wrong in more words the worse the prediction
            wrong = 0 if i == 0 else min(3, 1 + int(abs(p) * 2))
            hypothesis = " ".join(["x"] * wrong + WORDS[i + wrong : i + 3])
            rows.append({"id": f"utt{i}", "reference": reference, "hypothesis": hypothesis})
        t = np.arange(1600) / 8000
        audio = {
            f"val/utt{i}": (0.5 * np.sin(2 * np.pi * 220 * (i + 1) * t), 8000) for i in range(2)
        }
        return {"text": {"predictions": rows}, "audio": audio}


def _train(tmp_path, name, task_cls=ToyRegressionTask, gan=False, **trainer):
    settings = {"n_epochs": 4, "log_every_n_steps": 2, "run_name": name, **trainer}
    cfg = default_config(runs_root=str(tmp_path / "runs"), **settings)
    cfg.task.gan = gan
    if gan:  # a vocoder-like run: two named optimizers
        cfg.optimizer = {
            "generator": {"_target_": "torch.optim.Adam", "lr": 0.01, "clip_grad_norm": None},
            "discriminator": {"_target_": "torch.optim.Adam", "lr": 0.01, "clip_grad_norm": 1.0},
        }
        cfg.trainer.monitor = "min val_loss"
    task = task_cls(cfg, gan=gan)
    return fit(cfg, task, overrides=[f"trainer.run_name={name}"])["run_dir"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run_dir = _train(tmp_path_factory.mktemp("report"), "toy", ToyWithExamples)
    return run_dir, write_report(run_dir)


def _raw_lines(run_dir):
    return [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]


def test_per_epoch_table_equals_metrics_jsonl(toy_run):
    run_dir, result = toy_run
    lines = [r for r in _raw_lines(run_dir) if "event" not in r]
    table = {row["epoch"]: row for row in result["table"]}
    assert sorted(table) == [1, 2, 3, 4]
    for epoch in (1, 2, 3, 4):
        losses = [
            r["loss"] for r in lines if r["split"] == "train" and math.ceil(r["epoch"]) == epoch
        ]
        (val,) = [r for r in lines if r["split"] == "val" and r["epoch"] == epoch]
        assert len(losses) == 3  # 6 steps per epoch, logged every 2
        assert table[epoch]["train_loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-12)
        assert table[epoch]["val_mse"] == pytest.approx(val["val_mse"], rel=1e-12)
        assert table[epoch]["step"] == val["step"] == 6 * epoch
    # the same numbers in report.md (4 significant digits)
    markdown = result["markdown"].read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| epoch | step"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    body = markdown.splitlines()[markdown.splitlines().index(header) + 2 :][:4]
    for line in body:
        cells = dict(zip(columns, [c.strip() for c in line.strip("|").split("|")], strict=True))
        row = table[int(cells["epoch"])]
        assert float(cells["val_mse"]) == pytest.approx(row["val_mse"], rel=5e-4)
        assert float(cells["train_loss"]) == pytest.approx(row["train_loss"], rel=5e-4)


def test_every_plot_is_a_png_with_the_expected_curves(toy_run):
    run_dir, result = toy_run
    plots = {p["file"]: p for p in json.loads(open(f"{run_dir}/plots/plots.json").read())}
    assert plots["loss.png"]["labels"] == ["train loss", "val loss"]
    assert plots["val_mse.png"]["labels"] == ["val_mse"]
    assert plots["lr.png"]["labels"] == ["lr/main"]
    assert plots["grad_norm.png"]["labels"] == ["grad_norm/main"]
    assert set(plots["throughput.png"]["labels"]) == {"items_per_s", "units_per_s"}
    assert plots["train_abs_error.png"]["labels"] == ["abs_error"]
    assert "val_skipped.png" not in plots  # constant: one line in the report instead
    assert (
        "Not plotted, the same at every record: val_skipped = 0." in result["markdown"].read_text()
    )
    files = sorted(p.name for p in (result["markdown"].parent / "plots").glob("*.png"))
    assert files == sorted(plots)
    for name in files:
        path = result["markdown"].parent / "plots" / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels.std() > 0.01  # something was drawn


def test_html_is_self_contained_with_images_and_audio_players(toy_run):
    run_dir, result = toy_run
    page = result["html"].read_text()
    n_plots = len(list((result["markdown"].parent / "plots").glob("*.png")))
    assert page.count('src="data:image/png;base64,') == n_plots
    # audio: kept for the first validation and the last two (4 validations at steps 6..24)
    examples = result["markdown"].parent / "examples"
    steps = sorted(int(p.name.split("-")[1]) for p in examples.iterdir())
    assert steps == [6, 18, 24]
    waves = sorted(examples.glob("step-*/*.wav"))
    assert [w.name for w in waves[:2]] == ["val_utt0.wav", "val_utt1.wav"]
    wave, rate = sf.read(waves[0])
    assert rate == 8000 and len(wave) == 1600 and sf.info(waves[0]).subtype == "PCM_16"
    assert (
        page.count('<audio controls preload="none" src="data:audio/wav;base64,') == len(waves) == 6
    )
    assert 'src="plots/' not in page and "http" not in page.split("<body>")[1].split("<pre>")[0]


def test_best_and_worst_predictions_from_the_last_validation(toy_run):
    run_dir, result = toy_run
    markdown = result["markdown"].read_text()
    assert "Best and worst predictions" in markdown and "wer computed per row here" in markdown
    best = markdown.split("Best 2:")[1].split("Worst 2:")[0]
    worst = markdown.split("Worst 2:")[1]
    assert "| utt0 | one two three | one two three | 0 |" in best  # the one always right
    assert "utt0" not in worst.split("##")[0]


def test_run_with_two_optimizers_plots_each(tmp_path):
    run_dir = _train(tmp_path, "gan", gan=True, n_epochs=2)
    plots = {p["file"]: p["labels"] for p in write_report(run_dir)["plots"]}
    assert plots["loss.png"] == ["train loss/discriminator", "train loss/generator", "val loss"]
    assert set(plots["grad_norm.png"]) == {"grad_norm/generator", "grad_norm/discriminator"}
    assert set(plots["lr.png"]) == {"lr/generator", "lr/discriminator"}
    assert "train_mse_generator.png" in plots


def test_validated_every_n_steps_gives_a_row_per_validation(tmp_path):
    run_dir = _train(tmp_path, "steps", n_epochs=2, val_every_n_steps=4, val_every_n_epochs=None)
    result = write_report(run_dir)
    lines = [r for r in _raw_lines(run_dir) if "event" not in r]
    vals = [r for r in lines if r["split"] == "val"]
    assert [row["step"] for row in result["table"]] == [r["step"] for r in vals] == [4, 8, 12]
    previous = 0
    for row, val in zip(result["table"], vals, strict=True):
        window = [
            r["loss"]
            for r in lines
            if r["split"] == "train" and previous < r["step"] <= val["step"]
        ]
        assert row["train_loss"] == pytest.approx(sum(window) / len(window))
        assert row["val_mse"] == val["val_mse"]
        previous = val["step"]
    assert "## Per validation" in result["markdown"].read_text()


def test_a_run_in_progress_without_checkpoints_is_reported(tmp_path, toy_run):
    source, _ = toy_run
    run_dir = tmp_path / "running"
    shutil.copytree(source, run_dir, symlinks=True)
    shutil.rmtree(run_dir / "checkpoints")
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"step": 16' in line)  # killed after step 14
    (run_dir / "metrics.jsonl").write_text("\n".join(lines[:cut]) + "\n")
    result = write_report(run_dir)
    markdown = result["markdown"].read_text()
    assert "in progress" in result["status"] and "This run is in progress" in markdown
    assert "| best checkpoint | none yet |" in markdown
    assert [row["epoch"] for row in result["table"]] == [1, 2, 2.333]  # epoch 3 only begun
    assert main(["report", str(run_dir)]) == 0


def test_report_of_a_missing_run_dir_fails_clearly(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a seqlab run directory" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mt_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    argv = ["data", "synth-mt", str(root / "corpus"), "--pairs", "300", "--val-pairs", "40"]
    assert main([*argv, "--test-pairs", "40", "--seed", "3"]) == 0
    overrides = [f"data.root={root / 'corpus'}", "model.d_model=32", "model.nhead=2",
                 "model.dim_feedforward=64", "model.num_encoder_layers=1",
                 "model.num_decoder_layers=1", "data.max_batch_tokens=600", "trainer.n_epochs=2", "trainer.max_steps=6", "trainer.log_every_n_steps=2",
                 "lr_scheduler.warmup_steps=2", "trainer.precision=fp32", "writer=jsonl",
                 f"trainer.runs_root={root / 'runs'}", "trainer.run_name=tiny"]  # fmt: skip
    assert main(["train", "mt_transformer", *overrides]) == 0
    run_dir = root / "runs" / "mt_transformer" / "tiny"
    # greedy: beam search over an untrained model is slow and tests nothing here
    assert main(["eval", str(run_dir / "checkpoints" / "best"), "generation.beam_size=1"]) == 0
    return run_dir


def test_translation_report_uses_eval_rows_and_the_config_diff(mt_run):
    result = write_report(mt_run)
    markdown = result["markdown"].read_text()
    evaluation = json.loads((mt_run / "eval.json").read_text())
    best_step = int((mt_run / "checkpoints" / "best").resolve().name.split("-")[1])
    row = next(r for r in result["table"] if r["step"] == best_step)
    assert row["test_bleu"] == pytest.approx(evaluation["metrics"]["bleu"])
    assert "From eval.json, test split" in markdown and "by bleu (higher is better)" in markdown
    ranked = sorted(evaluation["utterances"], key=lambda r: -r["bleu"])
    best_block = markdown.split("Best 5:")[1].split("Worst 5:")[0]
    assert f"| {ranked[0]['id']} |" in best_block
    worst_block = markdown.split("Worst 5:")[1].split("##")[0]
    assert f"| {ranked[-1]['id']} |" in worst_block
    # the config against `seqlab train mt_transformer` without overrides
    assert "| model.d_model | 256 | 32 |" in markdown and "| model.nhead | 4 | 2 |" in markdown
    labels = {p["file"]: p["labels"] for p in result["plots"]}
    assert labels["loss.png"] == ["train loss", "val loss"] and "val_bleu.png" in labels


def test_throughput_after_a_validation_is_a_real_rate(toy_run):
    # validation and checkpointing are left out of the throughput once, not twice (a new best
    # is saved inside validation): twice made the next rate ~1e10 items/s
    run_dir, result = toy_run
    rates = [r["items_per_s"] for r in _raw_lines(run_dir) if "items_per_s" in r]
    assert len(rates) == 12 and max(rates) < 1e7  # 8 items per step: 1e7/s is < 1 us a step
    assert "| throughput items_per_s | median" in result["markdown"].read_text()


def test_examples_on_disk_follow_retention_and_resumes(tmp_path):
    from seqlab.engine.writers import JsonlWriter, read_audio_examples, read_examples

    writer = JsonlWriter(tmp_path)
    for step in (10, 20, 30, 40, 50):
        writer.log_text(step, "predictions", [{"reference": "a b", "hypothesis": f"a {step}"}])
        writer.log_audio(step, "val/x 1", np.full(80, 2.0 * (step % 20 - 5)), 8000)  # clipped
    assert sorted(read_audio_examples(tmp_path)) == [10, 40, 50]  # first + last two
    wave, _ = sf.read(read_audio_examples(tmp_path)[50][0])
    assert read_audio_examples(tmp_path)[50][0].name == "val_x_1.wav" and wave.max() <= 1.0
    writer.log_event("resume", step=40)  # the run went back to step 40: step 50 was abandoned
    writer.log_text(50, "predictions", [{"reference": "a b", "hypothesis": "again"}])
    writer.close()
    assert sorted(read_audio_examples(tmp_path)) == [10, 40]
    examples = read_examples(tmp_path)
    assert [e["step"] for e in examples] == [10, 20, 30, 40, 50]
    assert examples[-1]["rows"][0]["hypothesis"] == "again"
