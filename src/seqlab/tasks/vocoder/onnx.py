"""The HiFi-GAN generator as an ONNX graph: ``seqlab export CKPT --onnx DIR`` and ``runtime="onnx"``.

The graph is the generator only, weight norm folded (log-mel ``(B, n_mels, F)`` -> wave ``(B, 1,
F * hop)``, dynamic batch and frames). The mel of a wav input (copy synthesis) is a separate step
that :class:`~seqlab.tasks.vocoder.vocoding.Vocoder` computes in torch with the recipe's
parameters, which config.json lists for anyone feeding the graph from elsewhere.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from omegaconf import OmegaConf

from seqlab.runtime.onnx import OnnxSession, export_graph, write_export_dir


class OnnxGenerator:
    """The generator's call ``mel (B, n_mels, F) -> wave (B, 1, F * hop_length)`` run by ONNX
    Runtime; ``hop_length`` and ``n_mels`` as the torch generator has them.

    Args:
        path: the exported graph.
        hop_length, n_mels: of the exported generator (config.json).
        device: where ONNX Runtime runs (outputs come back on this torch device).
    """

    def __init__(self, path: str | Path, hop_length: int, n_mels: int, device="cpu"):
        self.device = torch.device(device)
        self.session = OnnxSession(path, self.device)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        (wave,) = self.session.run(mel.float())
        return wave.to(self.device)


def export_generator_graph(generator, path: str | Path) -> Path:
    """Write a HiFi-GAN generator (weight norm folded on a copy; the original is untouched) as an
    ONNX graph ``mel (B, n_mels, F) -> wave (B, 1, F * hop)`` with a dynamic batch and number of
    frames; returns ``path``."""
    generator = copy.deepcopy(generator).cpu().prepare_for_inference()
    mel = torch.randn(2, int(generator.n_mels), 24) - 5.0  # (B, n_mels, F): a quiet log-mel
    batch = torch.export.Dim("batch", min=1)
    frames = torch.export.Dim("frames", min=2)
    return export_graph(generator, (mel,), ({0: batch, 2: frames},), ["mel"], ["wave"], path)


def export_generator_onnx(task, out_dir: str | Path) -> Path:
    """Write ``task.generator`` (weight norm folded, on a copy) as ``out_dir/model.onnx`` with a
    dynamic batch and number of frames, plus config.json (mel parameters) and the checkpoint's
    config.

    Returns:
        the export directory.
    """
    from seqlab.version import __version__

    out_dir = Path(out_dir)
    generator = task.generator
    n_mels = int(generator.n_mels)
    export_generator_graph(generator, out_dir / "model.onnx")
    write_export_dir(
        task.checkpoint_dir,
        out_dir,
        {
            "task": "vocoder",
            "model": "HiFiGANGenerator (weight norm folded)",
            "inputs": {
                "mel": {
                    "dtype": "float32",
                    "shape": ["batch", n_mels, "frames"],
                    "meaning": "natural-log mel (log(clamp(mel, mel.log_floor))); pad with "
                    "log(log_floor), i.e. silence",
                }
            },
            "outputs": {
                "wave": {
                    "dtype": "float32",
                    "shape": ["batch", 1, f"frames * {generator.hop_length}"],
                    "meaning": "waveform in [-1, 1] at sample_rate",
                }
            },
            "sample_rate": int(task.sample_rate),
            "hop_length": int(generator.hop_length),
            "n_mels": n_mels,
            "front_end": {
                "in_graph": False,
                "note": "wav inputs: seqlab computes this mel in torch (seqlab.audio.hifigan_mel)",
                "mel": OmegaConf.to_container(task.cfg.mel, resolve=True),
            },
            "source_checkpoint": str(task.checkpoint_dir),
            "seqlab_version": __version__,
        },
    )
    return out_dir
