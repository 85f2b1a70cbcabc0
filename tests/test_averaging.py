"""SWA and EMA in the engine (torch.optim.swa_utils), exact resume with them, and `seqlab average`."""

import hydra
import pytest
import torch

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.checkpoint_averaging import average_checkpoints
from seqlab.engine.rng import seed_everything
from seqlab.engine.trainer import fit
from seqlab.engine.writers import read_metrics
from seqlab.registry import trusting
from toy_task import default_config


def _run(tmp_path, name, **trainer):
    cfg = default_config(runs_root=str(tmp_path), run_name=name, **trainer)
    cfg.model.dropout = 0.0
    seed_everything(0)  # the same initial weights in every run
    task = hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)
    return task, fit(cfg, task)


def _every_step(tmp_path, name, **trainer):
    base = dict(n_epochs=2, save_every_n_steps=1, keep_last=100, monitor=None)
    return _run(tmp_path, name, **{**base, **trainer})


def test_swa_is_the_mean_of_the_weights_after_its_start(tmp_path):
    # 48 items / batch 8 = 6 steps per epoch, 12 steps; SWA from 50 %: steps 7..12 averaged
    _, plain = _every_step(tmp_path, "plain")
    _, swa = _every_step(tmp_path, "swa", averaging={"type": "swa", "swa_start": 0.5})
    steps = range(7, 13)
    expected = {}
    for key in ckpt.load_checkpoint(f"{plain['run_dir']}/checkpoints/step-12")["models"]["model"]:
        expected[key] = torch.stack(
            [
                ckpt.load_checkpoint(f"{plain['run_dir']}/checkpoints/step-{s}")["models"]["model"][
                    key
                ]
                for s in steps
            ]
        ).mean(0)
    last = ckpt.load_checkpoint(f"{swa['run_dir']}/checkpoints/last")
    assert last["meta"]["averaging"] == {"type": "swa", "n_averaged": 6, "start_step": 6}
    for key, value in expected.items():
        torch.testing.assert_close(last["models"]["model_swa"][key], value, rtol=0, atol=1e-6)
        # the raw weights are trained exactly as without SWA
        assert torch.equal(
            last["models"]["model"][key],
            ckpt.load_checkpoint(f"{plain['run_dir']}/checkpoints/step-12")["models"]["model"][key],
        )
    # before the start there is nothing averaged to save
    assert "model_swa" not in ckpt.load_checkpoint(f"{swa['run_dir']}/checkpoints/step-6")["models"]
    # validation after the start used the averaged weights, and says so
    val = [r for r in read_metrics(swa["run_dir"]) if r["split"] == "val"]
    assert [r["val_averaged"] for r in val] == [0.0, 1.0]


def test_inference_loads_the_averaged_weights(tmp_path):
    task, summary = _every_step(tmp_path, "ema", averaging={"type": "ema", "ema_decay": 0.9})
    last = ckpt.load_checkpoint(f"{summary['run_dir']}/checkpoints/last")
    fresh = hydra.utils.instantiate(task.cfg.task, cfg=task.cfg, _recursive_=False)
    ckpt.load_model_weights(f"{summary['run_dir']}/checkpoints/last", fresh.models())
    for key, value in fresh.model.state_dict().items():
        assert torch.equal(value, last["models"]["model_ema"][key])
        assert not torch.equal(value, last["models"]["model"][key])
    ckpt.load_model_weights(
        f"{summary['run_dir']}/checkpoints/last", fresh.models(), averaged=False
    )
    for key, value in fresh.model.state_dict().items():
        assert torch.equal(value, last["models"]["model"][key])


@pytest.mark.parametrize("kind", ["swa", "ema"])
def test_resume_with_averaging_is_exact(tmp_path, kind):
    averaging = {"type": kind, "swa_start": 0.25, "ema_decay": 0.8}
    _, full = _every_step(tmp_path, kind, averaging=averaging)
    run = full["run_dir"]
    uninterrupted = ckpt.load_checkpoint(f"{run}/checkpoints/step-12")
    # continue from step 7 as after a crash there: steps 8..12 are computed again
    _every_step(tmp_path, kind, averaging=averaging, resume_from=f"{run}/checkpoints/step-7")
    resumed = ckpt.load_checkpoint(f"{run}/checkpoints/step-12")
    assert resumed["meta"]["averaging"] == uninterrupted["meta"]["averaging"]
    assert resumed["meta"]["time"] != uninterrupted["meta"]["time"]  # really written again
    for name in ("model", f"model_{kind}"):
        for key, value in uninterrupted["models"][name].items():
            assert torch.equal(value, resumed["models"][name][key]), (name, key)


def test_average_checkpoints_gives_a_checkpoint_that_loads(tmp_path):
    task, summary = _every_step(tmp_path, "avg")
    run = summary["run_dir"]
    sources = [f"{run}/checkpoints/step-{s}" for s in (10, 11, 12)]
    with trusting(["toy_task.*"]):  # the tests' own task: a name seqlab's registry does not know
        result = average_checkpoints(sources, tmp_path / "averaged")
    fresh = hydra.utils.instantiate(task.cfg.task, cfg=task.cfg, _recursive_=False)
    ckpt.load_model_weights(tmp_path / "averaged", fresh.models())
    for key, value in fresh.model.state_dict().items():
        expected = torch.stack(
            [ckpt.load_checkpoint(s)["models"]["model"][key] for s in sources]
        ).mean(0)
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
    assert (tmp_path / "averaged" / "config.yaml").is_file() and result["models"] == ["model"]
    with pytest.raises(FileExistsError):
        average_checkpoints(sources, tmp_path / "averaged")
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints(sources[:1], tmp_path / "other")


def test_averaged_weights_swap_in_for_a_model_with_non_persistent_buffers():
    # the ASR models hold their mel filterbank and window as non-persistent buffers: validation
    # with SWA weights failed with "Unexpected key(s) in state_dict: features.window"
    from seqlab.engine.averaging import WeightAveraging

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.register_buffer("window", torch.ones(3), persistent=False)
            self.register_buffer("stats", torch.zeros(2))

    net = Net()
    averaging = WeightAveraging({"type": "swa", "swa_start": 0.0}, {"model": net}, total_steps=4)
    before = net.lin.weight.detach().clone()
    averaging.after_step(1)
    with torch.no_grad():
        net.lin.weight.add_(2.0)
    averaging.after_step(2)
    saved = averaging.weight_files()["model_swa"]
    assert set(saved) == set(net.state_dict())  # persistent entries only
    with averaging.swapped_in() as averaged:
        assert averaged
        torch.testing.assert_close(net.lin.weight, before + 1.0)
    torch.testing.assert_close(net.lin.weight, before + 2.0)
