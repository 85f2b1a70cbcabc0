"""The official HiFi-GAN generator's layout and inference path, rebuilt independently of seqlab.

Why ours: the official repository (jik876/hifi-gan) is not a package and cannot be fetched here.
This is its module tree and parameter names (legacy ``torch.nn.utils.weight_norm``, so the
state dict has ``weight_g``/``weight_v`` as in the official ``g_XXXXXXXX`` files) and its forward
as the official ``inference.py`` runs it: weight norm removed, out-of-place sums,
``torch.no_grad``. ``bench/vocoder.py`` times it against seqlab's generator on the same weights;
``tests/test_hifigan_models.py`` uses it as an independent check of the official layout.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn


class OfficialLayoutGenerator(nn.Module):
    """The generator of an official config dict ``h`` (keys of config_v1.json)."""

    def __init__(self, h: dict, n_mels: int = 80):
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # legacy weight_norm is deprecated
            wn = nn.utils.weight_norm
            self.h = h
            self.conv_pre = wn(nn.Conv1d(n_mels, h["upsample_initial_channel"], 7, 1, padding=3))
            self.ups, self.resblocks = nn.ModuleList(), nn.ModuleList()
            ch = h["upsample_initial_channel"]
            for u, k in zip(h["upsample_rates"], h["upsample_kernel_sizes"], strict=True):
                self.ups.append(wn(nn.ConvTranspose1d(ch, ch // 2, k, u, padding=(k - u) // 2)))
                ch //= 2
                for k2, dils in zip(
                    h["resblock_kernel_sizes"], h["resblock_dilation_sizes"], strict=True
                ):
                    self.resblocks.append(self._block(ch, k2, dils, wn))
            self.conv_post = wn(nn.Conv1d(ch, 1, 7, 1, padding=3))

    def _block(self, ch: int, k: int, dils, wn) -> nn.Module:
        def conv(d):
            return wn(nn.Conv1d(ch, ch, k, 1, dilation=d, padding=(k * d - d) // 2))

        block = nn.Module()
        if str(self.h["resblock"]) == "1":
            block.convs1 = nn.ModuleList([conv(d) for d in dils])
            block.convs2 = nn.ModuleList([conv(1) for _ in dils])
        else:
            block.convs = nn.ModuleList([conv(d) for d in dils])
        return block

    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if str(self.h["resblock"]) == "1":
            for c1, c2 in zip(block.convs1, block.convs2, strict=True):
                xt = c2(F.leaky_relu(c1(F.leaky_relu(x, 0.1)), 0.1))
                x = xt + x
        else:
            for c in block.convs:
                x = c(F.leaky_relu(x, 0.1)) + x
        return x

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, F)`` -> ``(B, 1, F * hop)``, computed as the official code does."""
        x = self.conv_pre(mel)
        n = len(self.h["resblock_kernel_sizes"])
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, 0.1))
            xs = None
            for block in self.resblocks[i * n : (i + 1) * n]:
                y = self._run_block(block, x)
                xs = y if xs is None else xs + y
            x = xs / n
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def remove_weight_norm(self) -> OfficialLayoutGenerator:
        """As the official ``Generator.remove_weight_norm`` (legacy API)."""
        for module in self.modules():
            if hasattr(module, "weight_g"):
                nn.utils.remove_weight_norm(module)
        return self
