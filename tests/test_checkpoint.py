"""Checkpoint files, tags, retention and safe loading, on real directories."""

import json
import os
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from seqlab.engine import checkpoint as ckpt
from seqlab.engine.rng import capture_rng_state, restore_rng_state


def _save(directory, step, model=None, **kwargs):
    model = model or nn.Linear(3, 2)
    path = ckpt.save_checkpoint(
        directory,
        step,
        {"model": model.state_dict()},
        {"step": step, "nested": {"x": [1, 2.5]}},
        {"epoch": 0},
        config_yaml="seed: 0\n",
        **kwargs,
    )
    time.sleep(0.01)  # distinct save times for retention order
    return path


def test_save_writes_every_file_and_loads_without_pickle(tmp_path):
    model = nn.Linear(3, 2)
    path = _save(tmp_path, 7, model, save_artifacts=lambda d: (d / "vocab.txt").write_text("a\n"))
    assert path == tmp_path / "step-7"
    assert sorted(p.name for p in path.iterdir()) == [
        "config.yaml",
        "meta.json",
        "model.safetensors",
        "state.pt",
        "vocab.txt",
    ]
    assert not list(tmp_path.glob(".tmp-*"))
    loaded = ckpt.load_checkpoint(path)
    assert torch.equal(loaded["models"]["model"]["weight"], model.weight.detach())
    assert loaded["state"] == {"step": 7, "nested": {"x": [1, 2.5]}}
    assert loaded["meta"]["step"] == 7 and loaded["meta"]["seqlab_version"]
    # state.pt must not need pickle: torch.load(weights_only=True) refuses arbitrary objects.
    torch.load(path / "state.pt", weights_only=True)


def test_state_with_an_arbitrary_object_is_refused_by_the_loader(tmp_path):
    # The guarantee the engine relies on: anything non-primitive in state.pt fails to load.
    path = ckpt.save_checkpoint(tmp_path, 1, {}, {"bad": np.random.get_state()}, {})
    with pytest.raises(Exception, match="(?i)weights_only"):
        ckpt.load_checkpoint(path)


def test_rng_state_round_trips_through_weights_only_load(tmp_path):
    state = capture_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_tags_are_relative_symlinks_replaced_atomically(tmp_path):
    first, second = _save(tmp_path, 1), _save(tmp_path, 2)
    ckpt.update_tag(tmp_path, "last", first)
    ckpt.update_tag(tmp_path, "last", second)
    assert os.readlink(tmp_path / "last") == "step-2"  # relative: the run dir can move
    assert ckpt.resolve_checkpoint(tmp_path / "last") == second.resolve()


def test_retention_keeps_newest_and_tagged(tmp_path):
    paths = [_save(tmp_path, step) for step in range(1, 6)]
    ckpt.update_tag(tmp_path, "best", paths[0])
    ckpt.update_tag(tmp_path, "last", paths[-1])
    deleted = ckpt.prune_checkpoints(tmp_path, keep_last=2)
    assert sorted(p.name for p in deleted) == ["step-2", "step-3"]
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-1", "step-4", "step-5"]


def test_retention_never_deletes_the_only_checkpoint(tmp_path):
    _save(tmp_path, 1)
    ckpt.prune_checkpoints(tmp_path, keep_last=0)
    assert (tmp_path / "step-1" / "state.pt").exists()


def test_retention_orders_by_save_time_not_step(tmp_path):
    # A run resumed from step 2 re-saves step 3 after an abandoned step 5: keep the new ones.
    for step in (1, 2, 3, 4, 5):
        _save(tmp_path, step)
    _save(tmp_path, 3)
    ckpt.prune_checkpoints(tmp_path, keep_last=2)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-3", "step-5"]


def test_saving_an_existing_step_replaces_it(tmp_path):
    old_model, new_model = nn.Linear(3, 2), nn.Linear(3, 2)
    _save(tmp_path, 4, old_model)
    _save(tmp_path, 4, new_model)
    loaded = ckpt.load_checkpoint(tmp_path / "step-4")
    assert torch.equal(loaded["models"]["model"]["weight"], new_model.weight.detach())
    assert not list(tmp_path.glob(".tmp-*"))


def test_stale_tmp_dirs_from_a_killed_save_are_removed(tmp_path):
    (tmp_path / ".tmp-step-9-1234").mkdir()
    (tmp_path / ".tmp-step-9-1234" / "model.safetensors").write_bytes(b"half")
    good = _save(tmp_path, 8)
    ckpt.remove_stale_tmp(tmp_path)
    assert not list(tmp_path.glob(".tmp-*")) and good.exists()


def test_resolve_run_dir_prefers_best_then_last(tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    first, second = _save(checkpoints, 1), _save(checkpoints, 2)
    ckpt.update_tag(checkpoints, "last", second)
    assert ckpt.resolve_checkpoint(tmp_path / "run") == second.resolve()
    ckpt.update_tag(checkpoints, "best", first)
    assert ckpt.resolve_checkpoint(tmp_path / "run") == first.resolve()
    assert ckpt.resolve_checkpoint(checkpoints / "step-2") == second.resolve()


def test_resolve_missing_lists_what_exists(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    _save(checkpoints, 3)
    with pytest.raises(FileNotFoundError, match="step-3"):
        ckpt.resolve_checkpoint(checkpoints / "best")


def test_load_model_weights_by_name_and_missing_name(tmp_path):
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    path = _save(tmp_path, 1, source)
    ckpt.load_model_weights(path, {"model": target})
    assert torch.equal(source.weight, target.weight)
    with pytest.raises(FileNotFoundError, match="'decoder'"):
        ckpt.load_model_weights(path, {"decoder": nn.Linear(3, 2)})


def test_tied_weights_are_saved(tmp_path):
    embedding = nn.Embedding(5, 4)
    model = nn.ModuleDict({"embed": embedding, "out": nn.Linear(4, 5, bias=False)})
    model["out"].weight = embedding.weight  # tied, as in language models
    path = ckpt.save_checkpoint(tmp_path, 1, {"lm": model.state_dict()}, {}, {})
    fresh = nn.ModuleDict({"embed": nn.Embedding(5, 4), "out": nn.Linear(4, 5, bias=False)})
    ckpt.load_model_weights(path, {"lm": fresh})
    assert torch.equal(fresh["out"].weight, embedding.weight)
    assert json.loads((path / "meta.json").read_text())["step"] == 1


def test_weights_file_has_the_mode_of_the_other_run_files(tmp_path):
    """safetensors creates 0600 files; a run directory shared with a group must stay readable."""
    import stat

    old = os.umask(0o022)
    try:
        path = ckpt.save_checkpoint(tmp_path, 1, {"model": {"w": torch.zeros(2)}}, {}, {})
    finally:
        os.umask(old)
    mode = stat.S_IMODE((path / "model.safetensors").stat().st_mode)
    assert mode == stat.S_IMODE((path / "meta.json").stat().st_mode) == 0o644
