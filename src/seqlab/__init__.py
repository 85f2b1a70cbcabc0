"""seqlab: train, evaluate, decode and report speech and sequence models with one engine."""

__version__ = "0.1.0"


def load(checkpoint, device: str = "cpu", overrides=(), trust_targets=()):
    """Load a trained checkpoint for inference, e.g. ``seqlab.load(run/"checkpoints/best")``.

    Loading never runs code named by the checkpoint (docs/security.md): its config may only build
    seqlab's known classes, plus ``trust_targets`` (your own, e.g. ``["mypkg.MyModel"]``).
    ``overrides`` (Hydra grammar, e.g. ``["decoder=ctc_beam"]``) are yours and may name anything.

    Returns the task's inference object; for speech recognition an
    :class:`seqlab.tasks.asr.recognizer.ASRModel` with ``.transcribe(paths_or_arrays)``.
    """
    from seqlab.inference import load as _load

    return _load(checkpoint, device=device, overrides=overrides, trust_targets=trust_targets)
