"""`seqlab sweep`: a grid trained one point after another, killed with SIGKILL in the middle of a
point and resumed by running the same command again; a two-value sweep of a real experiment
whose comparison legend names the swept values."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from seqlab.cli import main
from seqlab.config import ConfigError
from seqlab.engine.writers import read_events
from seqlab.report.compare import compare_runs
from seqlab.report.sweep import parse_grid, run_sweep
from toy_task import child_env, default_config


def test_grid_axes_use_hydra_sweep_syntax():
    axes, fixed = parse_grid(["model.hidden=8,16", "optimizer.lr=0.1", "+x.y=1,2", "a=[1,2]"])
    assert axes == [("model.hidden", ["8", "16"]), ("+x.y", ["1", "2"])]
    assert fixed == ["optimizer.lr=0.1", "a=[1,2]"]


def _toy_config(tmp_path):
    cfg = default_config(
        runs_root=str(tmp_path / "runs"), n_epochs=2, save_every_n_steps=1, log_every_n_steps=1
    )
    path = tmp_path / "toy.yaml"
    OmegaConf.save(cfg, path)
    return path


def _starts(run_dir):
    return [e for e in read_events(run_dir) if e["event"] == "start"]


def test_sigkilled_sweep_resumes_where_it_stopped(tmp_path):
    config = _toy_config(tmp_path)
    argv = [str(config), "model.hidden=8,16", "task.sleep_s=0.1", "--name", "s"]
    sweep_dir = tmp_path / "runs" / "toy" / "s"
    second = sweep_dir / "model.hidden=16"
    process = subprocess.Popen(
        [sys.executable, "-m", "seqlab.cli", "sweep", *argv],
        env=child_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    last = second / "checkpoints" / "last"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if last.is_symlink() and int(os.readlink(last).split("-")[1]) >= 3:
            break
        time.sleep(0.01)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)  # in the middle of the second point
    process.wait()
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert [p["status"] for p in manifest["points"]] == ["done", "running"]
    killed_at = int(os.readlink(last).split("-")[1])
    assert 3 <= killed_at < 12

    lines = []
    # the same command again (in this process)
    result = run_sweep(
        str(config), ["model.hidden=8,16", "task.sleep_s=0.1"], name="s", log=lines.append
    )
    assert any("model.hidden=8: finished before, skipped" in line for line in lines)
    assert any(f"model.hidden=16: resuming from step-{killed_at}" in line for line in lines)
    assert len(_starts(sweep_dir / "model.hidden=8")) == 1  # not trained again
    resumes = [e for e in read_events(second) if e["event"] == "resume"]
    assert [e["step"] for e in resumes] == [killed_at]
    assert [p["status"] for p in result["points"]] == ["done", "done"]
    assert result["points"][1]["summary"]["step"] == 12
    comparison = result["comparison"]
    assert comparison["labels"] == ["model.hidden=8", "model.hidden=16"]
    plots = json.loads((sweep_dir / "plots.json").read_text())
    assert plots[0]["file"] == "compare_val_loss.png"
    assert plots[0]["labels"] == ["model.hidden=8", "model.hidden=16"]
    assert (sweep_dir / "compare.html").is_file()
    # the sweep directory stands for its points (in name order)
    again = compare_runs([sweep_dir], ["val_loss"], tmp_path / "again")
    assert again["labels"] == ["model.hidden=16", "model.hidden=8"]


def test_a_point_killed_before_its_first_checkpoint_starts_again(tmp_path):
    config = _toy_config(tmp_path)
    sweep_dir = tmp_path / "runs" / "toy" / "p"
    partial = sweep_dir / "model.hidden=4"
    partial.mkdir(parents=True)
    (partial / "metrics.jsonl").write_text('{"event": "start", "time": 1.0, "step": 0}\n')
    lines = []
    result = run_sweep(str(config), ["model.hidden=4,6"], name="p", log=lines.append)
    assert any("no checkpoint to resume" in line for line in lines)
    assert len(list((sweep_dir / ".abandoned").iterdir())) == 1
    assert len(_starts(partial)) == 1 and [p["status"] for p in result["points"]] == ["done"] * 2


def test_train_fraction_for_a_task_without_it_fails_clearly(tmp_path, capsys):
    config = _toy_config(tmp_path)
    with pytest.raises(ConfigError, match="has no data.train_fraction key"):
        run_sweep(str(config), ["model.hidden=4,6"], train_fraction=0.5)
    assert main(["sweep", str(config), "model.hidden=4,6", "--train-fraction", "0.5"]) == 2
    assert "leave --train-fraction out" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least one key with several values"):
        run_sweep(str(config), ["model.hidden=4"])


def test_two_value_sweep_of_a_translation_experiment(tmp_path):
    corpus = tmp_path / "corpus"
    argv = ["data", "synth-mt", str(corpus), "--pairs", "300", "--val-pairs", "40"]
    assert main([*argv, "--test-pairs", "40", "--seed", "3"]) == 0
    fixed = [f"data.root={corpus}", "model.d_model=32", "model.dim_feedforward=64",
             "model.num_encoder_layers=1", "model.num_decoder_layers=1",
             "data.max_batch_tokens=600", "lr_scheduler.warmup_steps=2", "trainer.precision=fp32",
             "writer=jsonl", f"trainer.runs_root={tmp_path / 'runs'}", "trainer.log_every_n_steps=1"]  # fmt: skip
    code = main(["sweep", "mt_transformer", "model.nhead=1,2", *fixed, "--max-steps", "2",
                 "--train-fraction", "0.5", "--name", "heads"])  # fmt: skip
    assert code == 0
    sweep_dir = tmp_path / "runs" / "mt_transformer" / "heads"
    compare = json.loads((sweep_dir / "compare.json").read_text())
    assert compare["labels"] == ["model.nhead=1", "model.nhead=2"]
    # val_loss and the experiment's monitored metric (max val_bleu)
    assert set(compare["metrics"]) == {"val_loss", "val_bleu"}
    assert compare["metrics"]["val_bleu"]["direction"] == "max"
    legends = {p["file"]: p["labels"] for p in json.loads((sweep_dir / "plots.json").read_text())}
    assert legends["compare_val_loss.png"] == ["model.nhead=1", "model.nhead=2"]
    for point in ("model.nhead=1", "model.nhead=2"):
        cfg = OmegaConf.load(sweep_dir / point / "config.yaml")
        assert cfg.trainer.max_steps == 2 and cfg.data.train_fraction == 0.5
        assert cfg.model.nhead == int(point[-1])
    # the same command again: nothing is retrained
    assert main(["sweep", "mt_transformer", "model.nhead=1,2", *fixed, "--max-steps", "2",
                 "--train-fraction", "0.5", "--name", "heads"]) == 0  # fmt: skip
    assert all(len(_starts(sweep_dir / p)) == 1 for p in ("model.nhead=1", "model.nhead=2"))
