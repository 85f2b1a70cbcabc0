"""HiFi-GAN generator (Kong et al., 2020): log-mel ``(B, 80, F)`` -> waveform ``(B, 1, F * hop)``.

The official V1, V2 and V3 configurations are :data:`HIFIGAN_CONFIGS`; module and parameter names
follow the official implementation (``conv_pre``, ``ups.i``, ``resblocks.j.convs1.k``, ``conv_post``)
so that its checkpoints load with a plain rename of the weight-norm tensors
(``seqlab/models/vocoder/official.py``).

Inference: :meth:`HiFiGANGenerator.remove_weight_norm` folds the weight norm into plain weights
(the parameter counts of the official configs, 13,926,017 / 925,985 / 1,462,273, are counted then).
The residual sums are accumulated in place into fresh convolution outputs (one memory pass less per
sum than ``a = a + b``; autograd needs none of those outputs), so training and inference share one
forward. ``bench/vocoder.py`` times it against the official inference path on identical weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1  # leaky ReLU slope inside the network (the last one, before conv_post, is 0.01)

# The official configurations (config_v1.json, config_v2.json, config_v3.json of the paper's code).
HIFIGAN_CONFIGS: dict[str, dict] = {
    "v1": {
        "resblock": "1",
        "upsample_rates": [8, 8, 2, 2],
        "upsample_kernel_sizes": [16, 16, 4, 4],
        "upsample_initial_channel": 512,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    },
    "v2": {
        "resblock": "1",
        "upsample_rates": [8, 8, 2, 2],
        "upsample_kernel_sizes": [16, 16, 4, 4],
        "upsample_initial_channel": 128,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    },
    "v3": {
        "resblock": "2",
        "upsample_rates": [8, 8, 4],
        "upsample_kernel_sizes": [16, 16, 8],
        "upsample_initial_channel": 256,
        "resblock_kernel_sizes": [3, 5, 7],
        "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]],
    },
}


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps the length of a stride-1 convolution."""
    return (kernel_size * dilation - dilation) // 2


def _init(module: nn.Module) -> None:
    """N(0, 0.01) weights for every convolution, as the official code initialises them."""
    if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d, nn.Conv2d)):
        module.weight.data.normal_(0.0, 0.01)


def _conv(c_in: int, c_out: int, kernel: int, dilation: int = 1) -> nn.Conv1d:
    """A weight-normed, length-preserving Conv1d."""
    conv = nn.Conv1d(
        c_in, c_out, kernel, 1, dilation=dilation, padding=same_padding(kernel, dilation)
    )
    _init(conv)
    return weight_norm(conv)


class ResBlock1(nn.Module):
    """V1/V2 residual block: per dilation, LReLU -> dilated conv -> LReLU -> conv, plus the input."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()
        self.convs1 = nn.ModuleList([_conv(channels, channels, kernel_size, d) for d in dilations])
        self.convs2 = nn.ModuleList([_conv(channels, channels, kernel_size) for _ in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T)`` -> ``(B, C, T)``."""
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            h = conv1(F.leaky_relu(x, LRELU_SLOPE))  # x stays: it is the residual
            x = conv2(F.leaky_relu_(h, LRELU_SLOPE)).add_(x)  # in place into fresh outputs
        return x


class ResBlock2(nn.Module):
    """V3 residual block: per dilation, LReLU -> dilated conv, plus the input."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()
        self.convs = nn.ModuleList([_conv(channels, channels, kernel_size, d) for d in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T)`` -> ``(B, C, T)``."""
        for conv in self.convs:
            x = conv(F.leaky_relu(x, LRELU_SLOPE)).add_(x)  # in place into the fresh output
        return x


class HiFiGANGenerator(nn.Module):
    """The HiFi-GAN generator.

    Args:
        n_mels: input mel bands (80).
        resblock: "1" (V1/V2) or "2" (V3).
        upsample_rates: stride of each transposed convolution; their product is the hop (256).
        upsample_kernel_sizes: kernel of each transposed convolution.
        upsample_initial_channel: channels after ``conv_pre``; halved at every upsampling.
        resblock_kernel_sizes, resblock_dilation_sizes: the multi-receptive-field fusion blocks
            after every upsampling (their outputs are averaged).
    """

    def __init__(
        self,
        n_mels: int = 80,
        resblock: str = "1",
        upsample_rates: Sequence[int] = (8, 8, 2, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4),
        upsample_initial_channel: int = 512,
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    ):
        super().__init__()
        if str(resblock) not in ("1", "2"):
            raise ValueError(f"HiFiGANGenerator: resblock must be '1' or '2', got {resblock!r}")
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        self.hop_length = 1
        for rate in upsample_rates:
            self.hop_length *= int(rate)
        self.n_mels = n_mels
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = _conv(n_mels, upsample_initial_channel, 7)
        block = ResBlock1 if str(resblock) == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = upsample_initial_channel
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes, strict=True):
            up = nn.ConvTranspose1d(
                channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2
            )
            _init(up)
            self.ups.append(weight_norm(up))
            channels //= 2
            for k, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(channels, k, dilations))
        self.conv_post = _conv(channels, 1, 7)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel ``(B, n_mels, F)`` -> waveform in [-1, 1] ``(B, 1, F * hop_length)``."""
        x = self.conv_pre(mel)  # (B, C, F)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))  # (B, C / 2^(i+1), F * prod(rates[:i+1]))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            fused = blocks[0](x)  # a fresh tensor: the sum accumulates in place
            for block in blocks[1:]:
                fused.add_(block(x))
            x = fused.div_(self.num_kernels)
        x = self.conv_post(F.leaky_relu(x))  # the official code uses the default slope (0.01) here
        return torch.tanh(x)

    def remove_weight_norm(self) -> HiFiGANGenerator:
        """Fold every weight norm into a plain weight (for inference and parameter counts)."""
        # Folded by hand: parametrize.remove_parametrizations deletes the weight property from
        # the module's injected class, which copy.deepcopy shares with the original, so folding
        # a copy (Vocoder, the ONNX export) would break the original's weight.
        for module in list(self.modules()):
            if parametrize.is_parametrized(module, "weight"):
                weight = module.weight.detach().clone()  # g * v / |v|
                module.__class__ = module.__class__.__bases__[0]  # this instance only
                del module.parametrizations
                module.weight = nn.Parameter(weight)
        return self

    def prepare_for_inference(self) -> HiFiGANGenerator:
        """Weight norm folded (same outputs, one weight per convolution), eval mode."""
        return self.remove_weight_norm().eval()


def build_generator(preset: str | None = None, n_mels: int = 80, **overrides) -> HiFiGANGenerator:
    """A generator from an official preset (``v1``/``v2``/``v3``) with optional key overrides."""
    if preset and preset not in HIFIGAN_CONFIGS:
        raise ValueError(
            f"unknown HiFi-GAN preset {preset!r}; use one of {sorted(HIFIGAN_CONFIGS)}"
        )
    config = dict(HIFIGAN_CONFIGS[preset]) if preset else {}
    config.update({k: v for k, v in overrides.items() if v is not None})
    return HiFiGANGenerator(n_mels=n_mels, **config)


def count_parameters(module: nn.Module) -> int:
    """Number of parameter values of ``module``."""
    return sum(p.numel() for p in module.parameters())
