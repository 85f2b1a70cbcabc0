"""Running an experiment from the library: ``import seqlab`` stays cheap, the task's own errors
reach the caller unwrapped, and a bad ``resume_from`` fails before anything is built."""

import subprocess
import sys

import pytest
from hydra.errors import InstantiationException

from seqlab.config import ConfigError
from seqlab.engine.trainer import build_task, run
from toy_task import default_config

BUILT = []


def refusing_task(cfg, error: str):
    """A task constructor that rejects its config, as a real task does with a bad data.root."""
    BUILT.append(error)
    raise {"config": ConfigError, "missing": FileNotFoundError, "bug": RuntimeError}[error](
        f"task says: {error}"
    )


def _config(tmp_path, error: str):
    cfg = default_config(runs_root=str(tmp_path / "runs"))
    cfg.task = {"_target_": "test_experiment.refusing_task", "error": error}
    return cfg


def test_import_seqlab_loads_neither_torch_nor_hydra():
    code = "import sys, seqlab; print(sorted(m for m in ('torch', 'hydra') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert callable(__import__("seqlab").train) and __import__("seqlab").__version__


@pytest.mark.parametrize("error, raised", [("config", ConfigError), ("missing", FileNotFoundError)])
def test_the_tasks_own_error_reaches_the_caller_unwrapped(tmp_path, error, raised):
    with pytest.raises(raised, match=f"task says: {error}"):
        build_task(_config(tmp_path, error))


def test_a_bug_in_a_task_keeps_hydras_context(tmp_path):
    with pytest.raises(InstantiationException, match="task says: bug"):
        build_task(_config(tmp_path, "bug"))


def test_a_bad_resume_from_fails_before_the_task_is_built(tmp_path):
    cfg = _config(tmp_path, "config")
    cfg.trainer.resume_from = str(tmp_path / "no_such_checkpoint")
    BUILT.clear()
    with pytest.raises(ConfigError, match="trainer.resume_from"):
        run(cfg)
    assert BUILT == [] and not (tmp_path / "runs").exists()
