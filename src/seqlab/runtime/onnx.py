"""Write a module as an ONNX graph and run it with ONNX Runtime: what every task's ``seqlab export
--onnx`` and ``runtime="onnx"`` share.

ONNX Runtime and ``torch.onnx`` are what the field deploys speech models and vocoders with
(CPU-first, maintained); we only add the export directory's layout and the checks around it.

An export directory holds the graph (``model.onnx``), ``config.json`` (what the graph expects:
inputs, outputs, shapes, rates, front end; written by the task) and a copy of the checkpoint's
non-weight files (``config.yaml``, ``meta.json``, vocabularies), so that ``seqlab.load(DIR,
runtime="onnx")`` rebuilds the task's decoding around the graph without the torch weights.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: the graph's file in an export directory
GRAPH_FILE = "model.onnx"
#: what the graph expects (written by the task's export)
CONFIG_FILE = "config.json"
#: the value of config.json's "format": marks a directory seqlab wrote
EXPORT_FORMAT = "seqlab-onnx"
#: the ONNX opset the exports target (ONNX Runtime >= 1.18 runs it)
OPSET = 18


def import_onnxruntime():
    """``onnxruntime``, or an ``ImportError`` that says how to install it."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(
            "the onnx runtime needs onnxruntime (and onnx, onnxscript to export): "
            "pip install 'seqlab[onnx]'"
        ) from err
    return onnxruntime


def export_graph(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    dynamic_shapes: tuple,
    input_names: list[str],
    output_names: list[str],
    path: str | Path,
) -> Path:
    """Trace ``module`` on ``example`` with ``torch.onnx.export(dynamo=True)`` and save the graph.

    Args:
        module: in eval mode, on the CPU.
        example: inputs for the trace (their sizes must not be 0 or 1 along a dynamic axis:
            torch.export specialises those).
        dynamic_shapes: per input, ``{axis: torch.export.Dim}`` for its dynamic axes.
        input_names, output_names: the graph's names for them.
        path: the ``.onnx`` file to write (weights inside the file).

    Returns:
        ``path``.
    """
    import_onnxruntime()  # fail early, with the install hint, before a long trace
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            opset_version=OPSET,
            dynamic_shapes=dynamic_shapes,
            input_names=input_names,
            output_names=output_names,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    return path


def write_export_dir(checkpoint_dir: Path, out_dir: str | Path, config: dict) -> Path:
    """Copy the checkpoint's non-weight files into ``out_dir`` and write ``config.json``.

    Args:
        checkpoint_dir: the source checkpoint (its ``*.safetensors`` and ``state.pt`` stay there).
        out_dir: the export directory (already holding the graph).
        config: what the graph expects; ``format`` and ``graph`` are added.

    Returns:
        the path of config.json.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in sorted(Path(checkpoint_dir).iterdir()):
        if item.suffix == ".safetensors" or item.name in ("state.pt", CONFIG_FILE, GRAPH_FILE):
            continue
        target = out_dir / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        elif item.is_file():
            shutil.copy2(item, target)
    config = {"format": EXPORT_FORMAT, "graph": GRAPH_FILE, **config}
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return out_dir / CONFIG_FILE


def is_export_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory ``seqlab export`` wrote for a runtime (a saved
    ``config.yaml``, the runtime's ``config.json``, no torch weights), rather than a checkpoint or
    a run directory."""
    path = Path(path)
    return (
        path.is_dir()
        and (path / "config.yaml").is_file()
        and (path / CONFIG_FILE).is_file()
        and not (path / "checkpoints").is_dir()
        and not any(path.glob("*.safetensors"))
        and not (path / "state.pt").is_file()
    )


def graph_of(directory: Path | None) -> Path:
    """The graph of an export directory, or a ``FileNotFoundError`` that says how to make one."""
    if directory is not None and (Path(directory) / GRAPH_FILE).is_file():
        return Path(directory) / GRAPH_FILE
    where = directory if directory is not None else "this task"
    raise FileNotFoundError(
        f"no ONNX graph at {where} ({GRAPH_FILE}): write one with `seqlab export CKPT --onnx DIR` "
        "and load DIR with runtime onnx"
    )


class OnnxSession:
    """An ONNX Runtime session over a graph file, fed and read as torch tensors.

    Args:
        path: the ``.onnx`` file.
        device: ``cpu`` or ``cuda[:N]`` (needs onnxruntime-gpu).
        threads: intra-op threads; default ``torch.get_num_threads()``, so the two runtimes
            use the same cores when compared.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", threads: int = 0):
        ort = import_onnxruntime()
        device = torch.device(device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: the optimiser's notes are not the user's
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError(
                    "runtime onnx on cuda needs onnxruntime-gpu (this onnxruntime runs on "
                    f"{', '.join(ort.get_available_providers())}); use --device cpu"
                )
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), *providers]
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        """The graph's outputs (CPU tensors) for ``inputs`` in the graph's input order."""
        feed = {
            name: np.ascontiguousarray(x.detach().cpu().numpy())
            for name, x in zip(self.input_names, inputs, strict=True)
        }
        return [torch.from_numpy(out) for out in self.session.run(None, feed)]
