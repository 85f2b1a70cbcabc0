"""seqlab: train, evaluate, decode and report speech and sequence models with one engine.

The library API (what scripts and notebooks import)::

    import seqlab
    summary = seqlab.train("asr_bilstm", ["trainer.n_epochs=45"])
    best = f"{summary['run_dir']}/checkpoints/best"
    model = seqlab.load(best)  # e.g. model.transcribe(["a.flac"])
    result = seqlab.evaluate(best, split="test")

Each function imports what it needs when called, so ``import seqlab`` stays cheap.
"""

from seqlab.version import __version__

__all__ = ["__version__", "evaluate", "load", "train"]


def train(experiment: str, overrides=()) -> dict:
    """Train a shipped experiment, as ``seqlab train EXPERIMENT [overrides]`` does.

    ``overrides`` use Hydra's grammar (``["trainer.n_epochs=45", "model=bilstm_ctc"]``).
    Returns the engine's summary (run_dir, step, best_metric, best_checkpoint, stop_reason, ...);
    see :func:`seqlab.experiment.train`.
    """
    from seqlab.experiment import train as _train

    return _train(experiment, overrides)


def load(checkpoint, device: str = "cpu", overrides=(), trust_targets=(), runtime: str = "torch"):
    """Load a trained checkpoint for inference, e.g. ``seqlab.load(run/"checkpoints/best")``.

    Loading never runs code named by the checkpoint (docs/security.md): its config may only build
    seqlab's known classes, plus ``trust_targets`` (your own, e.g. ``["mypkg.MyModel"]``).
    ``overrides`` (Hydra grammar, e.g. ``["decoder=ctc_beam"]``) are yours and may name anything.

    ``runtime`` runs the model with ``"torch"`` (default), ``"onnx"`` (ONNX Runtime; give the
    directory ``seqlab export CKPT --onnx DIR`` wrote) or ``"ct2"`` (CTranslate2); a task that
    does not run with it says so in one ``ValueError``.

    Returns the task's inference object; for speech recognition an
    :class:`seqlab.tasks.asr.recognizer.ASRModel` with ``.transcribe(paths_or_arrays)``.
    """
    if runtime == "ct2":  # before torch is imported: see load_ctranslate2_before_torch
        from seqlab.runtime import load_ctranslate2_before_torch

        load_ctranslate2_before_torch()
    from seqlab.inference import load as _load

    return _load(
        checkpoint,
        device=device,
        overrides=overrides,
        trust_targets=trust_targets,
        runtime=runtime,
    )


def evaluate(
    checkpoint,
    overrides=(),
    split: str = "test",
    out=None,
    device: str = "cpu",
    exclude_left_out: bool = False,
    trust_targets=(),
) -> dict:
    """Score a checkpoint on a data split and write the result as JSON, as ``seqlab eval`` does.

    Args:
        checkpoint: a checkpoint (``run/checkpoints/best``) or run directory.
        overrides: Hydra-grammar overrides of the saved config (``["data.root=DIR"]``,
            ``["decoder=ctc_beam", "decoder.lm=lm.arpa"]``).
        split: the data key to score: ``test``, ``val`` or ``train``.
        out: the JSON file to write (default ``<run>/eval.json``).
        device: ``cpu`` or ``cuda``.
        exclude_left_out: score only the items that could be read (default: an item the data
            layer left out counts as all errors).
        trust_targets: your own classes the checkpoint's config may name (see :func:`load`).

    Returns:
        the written dict (metrics, n_items, left_out, per-item results; see
        :func:`seqlab.evaluation.evaluate`).
    """
    from seqlab.evaluation import evaluate as _evaluate
    from seqlab.registry import trusting

    with trusting(trust_targets):
        return _evaluate(
            checkpoint,
            overrides,
            split=split,
            out=out,
            device=device,
            exclude_left_out=exclude_left_out,
        )
