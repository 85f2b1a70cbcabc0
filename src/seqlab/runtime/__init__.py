"""Inference runtimes other than eager PyTorch: exports to ONNX and the ONNX Runtime sessions that
run them (onnx.py). Each task's own part (its graph's inputs, its config.json) lives with the task."""

#: Every inference runtime ``for_inference`` / ``seqlab.load`` / ``--runtime`` may name: eager
#: PyTorch, ONNX Runtime, CTranslate2. (Here, not in engine/task.py, so the CLI's parser can
#: list them without importing torch.)
RUNTIMES = ("torch", "onnx", "ct2")
