"""The CTC recognizer as an ONNX graph: ``seqlab export CKPT --onnx DIR`` and ``runtime="onnx"``.

The whole :class:`~seqlab.tasks.asr.task.CTCRecognizer` is one graph: the log-mel front end
(torch.stft exports cleanly with the dynamo exporter), its normalisation statistics and the encoder
(BiLSTM or Conformer). Inputs are padded waveforms and their lengths, as the torch module takes
them, so :class:`~seqlab.tasks.asr.recognizer.ASRModel` calls :class:`OnnxAcousticModel` in its
place and the decoders (greedy, beam, LM fusion) are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from seqlab.runtime.onnx import OnnxSession, export_graph, write_export_dir


class OnnxAcousticModel:
    """``(audio (B, S) float, lengths (B,) long) -> (log_probs (B, T', V), out_lengths (B,))``,
    the torch recognizer's call, run by ONNX Runtime.

    Args:
        path: the exported graph.
        output_lengths: the recognizer's frame arithmetic (sample counts -> output frames; no
            weights involved), for :attr:`ASRModel.min_samples`.
        device: where ONNX Runtime runs (outputs come back on this torch device).
    """

    def __init__(self, path: str | Path, output_lengths, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.session = OnnxSession(path, self.device)
        self.output_lengths = output_lengths

    def __call__(self, audio: torch.Tensor, lengths: torch.Tensor):
        log_probs, out_lengths = self.session.run(audio.float(), lengths.long())
        return log_probs.to(self.device), out_lengths.to(self.device)

    def eval(self) -> OnnxAcousticModel:
        """Already an inference graph (kept for code written against ``nn.Module``)."""
        return self


def export_ctc_graph(model, sample_rate: int, min_samples: int, path: str | Path) -> Path:
    """Write a CTCRecognizer ``(audio, lengths) -> (log_probs, out_lengths)`` as an ONNX graph
    with a dynamic batch and number of samples (at least ``min_samples``, the shortest input
    that gives one output frame); returns ``path``."""
    model = model.cpu().eval()
    # two items of different lengths (padding in the trace), both well above the minimum
    longest = max(int(sample_rate), 4 * int(min_samples))
    lengths = torch.tensor([longest, longest * 3 // 4])
    audio = torch.randn(2, longest) * 0.1
    audio[1, lengths[1] :] = 0.0
    batch = torch.export.Dim("batch", min=1)
    samples = torch.export.Dim("samples", min=max(2, int(min_samples)))
    return export_graph(
        model,
        (audio, lengths),
        ({0: batch, 1: samples}, {0: batch}),
        ["audio", "lengths"],
        ["log_probs", "out_lengths"],
        path,
    )


def export_ctc_onnx(task, out_dir: str | Path) -> Path:
    """Write ``task.model`` (a CTCRecognizer with its weights) as ``out_dir/model.onnx`` with a
    dynamic batch and length, plus config.json and the checkpoint's vocabulary and config.

    Returns:
        the export directory.
    """
    from seqlab.tasks.asr.recognizer import ASRModel
    from seqlab.version import __version__

    out_dir = Path(out_dir)
    min_samples = ASRModel(task).min_samples
    export_ctc_graph(task.model, task.sample_rate, min_samples, out_dir / "model.onnx")
    features = OmegaConf.to_container(task.cfg.features, resolve=True)
    write_export_dir(
        task.checkpoint_dir,
        out_dir,
        {
            "task": "asr",
            "model": str(task.cfg.model.get("_target_", "")),
            "inputs": {
                "audio": {
                    "dtype": "float32",
                    "shape": ["batch", "samples"],
                    "meaning": "mono waveforms at sample_rate in [-1, 1], zero-padded past lengths",
                },
                "lengths": {"dtype": "int64", "shape": ["batch"], "meaning": "valid samples"},
            },
            "outputs": {
                "log_probs": {
                    "dtype": "float32",
                    "shape": ["batch", "frames", "vocab"],
                    "meaning": "CTC log-softmax; frames past out_lengths are meaningless",
                },
                "out_lengths": {"dtype": "int64", "shape": ["batch"], "meaning": "valid frames"},
            },
            "sample_rate": int(task.sample_rate),
            "min_samples": int(min_samples),
            "front_end": {"in_graph": True, "log_mel": features},
            "vocabulary": "vocab.json",
            "vocab_size": len(task.vocab),
            "blank_id": int(task.vocab.blank_id),
            "source_checkpoint": str(task.checkpoint_dir),
            "seqlab_version": __version__,
        },
    )
    return out_dir
