"""seqlab: train, evaluate, decode and report speech and sequence models with one engine."""

__version__ = "0.1.0"


def load(checkpoint, device: str = "cpu"):
    """Load a trained checkpoint for inference, e.g. ``seqlab.load(run/"checkpoints/best")``.

    Returns the task's inference object; for speech recognition an
    :class:`seqlab.inference.ASRModel` with ``.transcribe(paths_or_arrays)``.
    """
    from seqlab.inference import load as _load

    return _load(checkpoint, device=device)
