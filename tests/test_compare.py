"""`seqlab compare`: runs labelled by what differs between them (never a bare run id), the best
and final values with the winner marked, one PNG per metric, different experiments refused."""

import json
import warnings

import matplotlib.image
import pytest

from seqlab.cli import main
from seqlab.engine.trainer import fit
from seqlab.report.compare import CompareError, compare_runs
from toy_task import ToyRegressionTask, default_config


def _train(root, name, overrides, experiment="toy"):
    """A toy run whose config has ``overrides`` applied (and recorded in overrides.txt)."""
    cfg = default_config(runs_root=str(root), run_name=name, n_epochs=3, log_every_n_steps=2)
    cfg.experiment_name = experiment
    for override in overrides:
        key, value = override.split("=")
        node, leaf = cfg, key.split(".")
        for part in leaf[:-1]:
            node = node[part]
        node[leaf[-1]] = type(node[leaf[-1]])(value)
    return fit(cfg, ToyRegressionTask(cfg), overrides=[*overrides, f"trainer.run_name={name}"])[
        "run_dir"
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    return root, [
        _train(root, "a", ["model.hidden=4"]),
        _train(root, "b", ["model.hidden=32"]),
        _train(root, "c", ["model.hidden=32", "optimizer.lr=0.001"]),
    ]


def _best(run_dir, key):
    values = [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]
    return min(r[key] for r in values if r.get("split") == "val")


def test_labels_name_the_differing_overrides_and_the_winner_is_the_best(runs, tmp_path):
    root, run_dirs = runs
    result = compare_runs(run_dirs, ["val_loss", "val_mse"], tmp_path / "out")
    assert result["label_source"] == "overrides"
    assert result["labels"] == [
        "model.hidden=4, optimizer.lr=(default)",
        "model.hidden=32, optimizer.lr=(default)",
        "model.hidden=32, optimizer.lr=0.001",
    ]
    info = result["metrics"]["val_loss"]
    assert info["direction"] == "min"
    bests = [_best(d, "val_loss") for d in run_dirs]
    assert [r["best"] for r in info["runs"]] == pytest.approx(bests)
    assert info["winner"] == result["labels"][bests.index(min(bests))]
    plots = {
        p["file"]: p["labels"] for p in json.loads((tmp_path / "out" / "plots.json").read_text())
    }
    assert plots == {
        "compare_val_loss.png": result["labels"],
        "compare_val_mse.png": result["labels"],
    }
    for name in plots:
        png = tmp_path / "out" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).shape[2] in (3, 4)
    markdown = result["markdown"].read_text()
    winner_row = next(line for line in markdown.splitlines() if line.startswith("| ★"))
    assert info["winner"] in winner_row
    assert "toy/a" not in "".join(result["labels"])
    page = result["html"].read_text()
    assert page.count("data:image/png;base64,") == 2


def test_labels_come_from_the_configs_when_overrides_do_not_differ(tmp_path):
    a = _train(tmp_path, "x", ["model.hidden=8"])
    b = _train(tmp_path, "y", ["model.hidden=8"])
    # the same overrides, but one run's config was changed by hand afterwards (e.g. a file edit)
    config = tmp_path / "toy" / "y" / "config.yaml"
    config.write_text(config.read_text().replace("dropout: 0.1", "dropout: 0.3"))
    result = compare_runs([a, b], ["val_loss"], tmp_path / "out")
    assert result["label_source"] == "config"
    assert result["labels"] == ["model.dropout=0.1", "model.dropout=0.3"]


def test_identical_configs_fall_back_to_run_names_with_a_warning(tmp_path):
    a = _train(tmp_path, "first", [])
    b = _train(tmp_path, "second", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare_runs([a, b], ["val_loss"], tmp_path / "out")
    assert result["labels"] == ["first", "second"]
    assert any("identical configs" in str(w.message) for w in caught)


def test_runs_of_different_experiments_are_refused_unless_forced(runs, tmp_path, capsys):
    root, run_dirs = runs
    other = _train(root, "other", ["model.hidden=4"], experiment="toy_other")
    with pytest.raises(CompareError, match="different experiments .*toy, toy_other.*--force"):
        compare_runs([run_dirs[0], other], ["val_loss"], tmp_path / "out")
    assert main(["compare", run_dirs[0], other, "--out", str(tmp_path / "cli")]) == 2
    assert "--force" in capsys.readouterr().err
    forced = compare_runs([run_dirs[0], other], ["val_loss"], tmp_path / "out", force=True)
    assert len(forced["labels"]) == 2


def test_unknown_metric_lists_what_was_recorded(runs, tmp_path):
    with pytest.raises(CompareError, match="no run recorded 'val_wer'.*val_mse"):
        compare_runs(runs[1], ["val_wer"], tmp_path / "out")


def test_cli_compare_writes_the_files(runs, tmp_path, capsys):
    root, run_dirs = runs
    out = tmp_path / "cli"
    assert main(["compare", *run_dirs[:2], "--metric", "val_mse,loss", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "val_mse (min): best run model.hidden=" in printed
    assert {p.name for p in out.iterdir()} >= {
        "compare.md",
        "compare.html",
        "compare.json",
        "compare_val_mse.png",
        "compare_loss.png",
    }


def test_diagnostics_like_the_learning_rate_get_no_winner(runs, tmp_path):
    _, run_dirs = runs
    result = compare_runs(run_dirs, ["lr/main", "grad_norm/main"], tmp_path / "diag")
    for metric in ("lr/main", "grad_norm/main"):
        info = result["metrics"][metric]
        assert info["direction"] == "none" and info["winner"] is None
        assert all(r["best"] == r["final"] for r in info["runs"])
    assert "| ★" not in result["markdown"].read_text()
