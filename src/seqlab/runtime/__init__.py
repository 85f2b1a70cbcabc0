"""Inference runtimes other than eager PyTorch: exports to ONNX and the ONNX Runtime sessions that
run them (onnx.py). Each task's own part (its graph's inputs, its config.json) lives with the task."""

#: Every inference runtime ``for_inference`` / ``seqlab.load`` / ``--runtime`` may name: eager
#: PyTorch, ONNX Runtime, CTranslate2. (Here, not in engine/task.py, so the CLI's parser can
#: list them without importing torch.)
RUNTIMES = ("torch", "onnx", "ct2")


def load_ctranslate2_before_torch() -> None:
    """Import CTranslate2 now if torch is not loaded yet, else warn once.

    Both wheels bring their own OpenMP runtime (libgomp). Loaded after torch, CTranslate2's
    library binds to torch's copy, and on 2 cores its 2 threads then ran ~8x slower (12 against
    100 sentences/s at batch 1, beam 5; measured in bench/inference_mt.py). Loaded first, it keeps
    its own. ``seqlab translate --runtime ct2`` and ``seqlab.load(..., runtime="ct2")`` call this
    before anything imports torch; a program that imported torch itself gets the warning.
    """
    import sys

    if "ctranslate2" in sys.modules:
        return
    if "torch" in sys.modules:
        import warnings

        warnings.warn(
            "torch was imported before ctranslate2: CTranslate2 may then share torch's OpenMP "
            "runtime and run several times slower with more than one thread; import ctranslate2 "
            "(or call seqlab.load(..., runtime='ct2')) before torch",
            RuntimeWarning,
            stacklevel=3,
        )
    try:
        import ctranslate2  # noqa: F401  (imported for its side effect: its OpenMP runtime first)
    except ImportError:
        pass  # the ct2 task says how to install it when it needs it
