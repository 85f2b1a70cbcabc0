"""Run a shipped experiment by name: ``seqlab.train("asr_bilstm", ["trainer.n_epochs=45"])``.

Composition (Hydra, ``seqlab.config``) is here; everything after it (resume check, seeding,
building the task, training) is :func:`seqlab.engine.trainer.run`, shared by ``seqlab train``,
``seqlab sweep``, ``python -m seqlab.engine.trainer --config`` and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence


def train(experiment: str, overrides: Sequence[str] = ()) -> dict:
    """Compose ``experiment`` with ``overrides``, build its task and train it.

    Args:
        experiment: a shipped experiment name (``seqlab list`` prints them), e.g. ``asr_bilstm``.
        overrides: Hydra overrides, e.g. ``["trainer.n_epochs=45", "model=bilstm_ctc"]``.

    Returns:
        the engine's summary (:func:`seqlab.engine.trainer.fit`): run_dir, step, epoch,
        best_metric, stop_reason, ...

    Raises:
        ConfigError: an unknown experiment or key, a bad override, or a ``trainer.resume_from``
            that cannot be resumed; the task's own errors about its data (e.g. a missing corpus:
            ``FileNotFoundError``) come as they are.
    """
    from seqlab.config import compose_experiment
    from seqlab.engine.trainer import run

    overrides = list(overrides)
    return run(compose_experiment(experiment, overrides), overrides)
