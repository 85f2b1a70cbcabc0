"""Vocoder inference: ``seqlab.load(ckpt).vocode(["a.wav", "b.npy"])`` and ``seqlab vocode``.

A wav/flac input is copy-synthesised (wave -> the training recipe's mel -> generator -> wave); a
``.npy`` input is a log-mel ``[n_mels, frames]`` (e.g. from an acoustic model) vocoded directly.
Inputs are batched by length; a padded batch item is padded with silence (the mel floor) and cut
back to its own ``frames * hop`` samples.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import torch

from seqlab.audio.hifigan_mel import HiFiGANMel
from seqlab.audio.io import nonfinite


class Vocoder:
    """A trained HiFi-GAN generator ready for inference.

    Args:
        generator: a :class:`~seqlab.models.vocoder.hifigan.HiFiGANGenerator` (a copy with
            its weight norm folded is used; same outputs), or another object with its call
            ``mel (B, n_mels, F) -> wave (B, 1, F * hop)`` and its ``hop_length`` and ``n_mels``
            (an ONNX Runtime graph: :class:`seqlab.tasks.vocoder.onnx.OnnxGenerator`).
        mel: the mel module of the training recipe (for wave inputs).
        sample_rate: output sample rate.
        device: where to run.
        runtime: what runs the generator ("torch", "onnx"), for what the outputs record.
    """

    def __init__(self, generator, mel: HiFiGANMel, sample_rate: int, device="cpu", runtime="torch"):
        self.device = torch.device(device)
        self.runtime = runtime
        if isinstance(generator, torch.nn.Module):
            generator = copy.deepcopy(generator).cpu().prepare_for_inference().to(self.device)
        self.generator = generator
        self.mel = copy.deepcopy(mel).to(self.device)
        self.sample_rate = int(sample_rate)
        self.hop_length = int(self.generator.hop_length)
        self.n_mels = int(self.generator.n_mels)
        self.mel_floor = math.log(float(getattr(mel, "log_floor", 1e-5)))

    def mel_of(self, wave: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A 1-D wave at ``sample_rate`` -> its log-mel ``(n_mels, frames)``."""
        wave = torch.as_tensor(np.asarray(wave, dtype=np.float32), device=self.device)
        with torch.inference_mode():
            return self.mel(wave[None])[0]

    def as_mel(self, item) -> torch.Tensor:
        """A path (wav/flac, or .npy mel), a 1-D wave or a ``[n_mels, frames]`` array -> the
        log-mel ``(n_mels, frames)`` on the device; raises naming the input when it is unusable."""
        name = None
        if isinstance(item, (str, Path)):
            path = name = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            if path.name.lower().endswith(".npy"):  # also a file named just ".npy"
                item = np.load(path, allow_pickle=False)
            else:
                from seqlab.audio.io import load_audio

                item = load_audio(path, self.sample_rate)
        array = np.asarray(item, dtype=np.float32)
        where = f"{name}: " if name is not None else ""
        bad = nonfinite(array)
        if bad:  # the generator would turn them into full-scale clicks or NaN samples
            raise ValueError(
                f"{where}{bad}; the input is corrupt (or came from a failed "
                "computation): fix or re-export it"
            )
        if array.ndim == 1:
            if len(array) == 0:
                raise ValueError(f"{where}the wave has no samples")
            return self.mel_of(array)
        if array.ndim != 2 or array.shape[0] != self.n_mels:
            raise ValueError(
                f"{where}a mel input must have shape [{self.n_mels}, frames], got "
                f"{list(array.shape)}"
                + (
                    " (transposed? use mel.T)"
                    if array.ndim == 2 and array.shape[1] == self.n_mels
                    else ""
                )
            )
        if array.shape[1] == 0:
            raise ValueError(
                f"{where}the mel has no frames (shape {list(array.shape)}); nothing to vocode"
            )
        return torch.as_tensor(array, device=self.device)

    def vocode(self, inputs, batch_size: int = 16) -> list[np.ndarray]:
        """Waves (float32 in [-1, 1], 1-D) for wav/flac paths, ``.npy`` mel paths, 1-D waves or
        ``[n_mels, frames]`` mel arrays, in input order; up to ``batch_size`` items per forward.

        Only items of equal length share a forward: padding a shorter one would change its last
        samples (the generator sees the padding), so a batch gives each item exactly what it
        gets alone.
        """
        single = not isinstance(inputs, (list, tuple))
        items = [inputs] if single else list(inputs)
        mels = [self.as_mel(item) for item in items]
        by_length: dict[int, list[int]] = {}
        for i, mel in enumerate(mels):
            by_length.setdefault(mel.shape[1], []).append(i)
        outputs: list[np.ndarray | None] = [None] * len(mels)
        with torch.inference_mode():
            for same in by_length.values():
                for start in range(0, len(same), batch_size):
                    chunk = same[start : start + batch_size]
                    batch = torch.stack([mels[i] for i in chunk]).to(self.device)  # (B, n_mels, F)
                    waves = self.generator(batch)[:, 0].float().cpu().numpy()  # (B, F * hop)
                    for row, i in enumerate(chunk):
                        outputs[i] = waves[row].copy()
        return outputs[0] if single else outputs


def load_official(generator_file: str | Path, config_file: str | Path, device="cpu") -> Vocoder:
    """A :class:`Vocoder` from the official implementation's ``g_XXXXXXXX`` and its config JSON
    (``config_v1.json`` ...: generator keys, ``num_mels``, ``n_fft``, ``hop_size``, ``win_size``,
    ``sampling_rate``, ``fmin``, ``fmax``)."""
    from seqlab.models.vocoder.hifigan import HiFiGANGenerator
    from seqlab.models.vocoder.official import load_official_generator

    config_file = Path(config_file)
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: no such official HiFi-GAN config JSON")
    h = json.loads(config_file.read_text())
    keys = (
        "resblock",
        "upsample_rates",
        "upsample_kernel_sizes",
        "upsample_initial_channel",
        "resblock_kernel_sizes",
        "resblock_dilation_sizes",
    )
    missing = [k for k in keys if k not in h]
    if missing:
        raise KeyError(f"{config_file} lacks the generator keys {missing}")
    generator = HiFiGANGenerator(n_mels=int(h.get("num_mels", 80)), **{k: h[k] for k in keys})
    load_official_generator(generator_file, generator)
    mel = HiFiGANMel(
        sample_rate=int(h.get("sampling_rate", 22050)),
        n_fft=int(h.get("n_fft", 1024)),
        hop_length=int(h.get("hop_size", 256)),
        win_length=int(h.get("win_size", 1024)),
        n_mels=int(h.get("num_mels", 80)),
        f_min=float(h.get("fmin", 0)),
        f_max=h.get("fmax", 8000),
    )
    return Vocoder(generator, mel, int(h.get("sampling_rate", 22050)), device=device)


def official_config(cfg) -> dict:
    """The official JSON config of a seqlab vocoder run (for ``seqlab export --hifigan``)."""
    from omegaconf import OmegaConf

    from seqlab.models.vocoder.hifigan import HIFIGAN_CONFIGS

    model = OmegaConf.to_container(cfg.model, resolve=True)
    generator = dict(HIFIGAN_CONFIGS.get(model.get("preset") or "", {}))
    generator.update(
        {k: v for k, v in model.items() if k not in ("_target_", "preset") and v is not None}
    )
    generator["resblock"] = str(generator.get("resblock", "1"))
    return {
        **generator,
        "segment_size": int(cfg.data.segment_size),
        "num_mels": int(cfg.mel.n_mels),
        "n_fft": int(cfg.mel.n_fft),
        "hop_size": int(cfg.mel.hop_length),
        "win_size": int(cfg.mel.win_length),
        "sampling_rate": int(cfg.data.sample_rate),
        "fmin": float(cfg.mel.f_min),
        "fmax": cfg.mel.f_max,
        "fmax_for_loss": cfg.mel.get("f_max_loss"),
    }
