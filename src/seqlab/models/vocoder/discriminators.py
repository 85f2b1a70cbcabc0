"""HiFi-GAN's discriminators and losses: multi-period (MPD) and multi-scale (MSD).

Module names follow the official implementation (``discriminators.i.convs.j``, ``conv_post``,
``meanpools``), so its ``do_*`` checkpoints' ``mpd``/``msd`` state dicts load after the weight-norm
rename of ``seqlab/models/vocoder/official.py``.

Each discriminator returns its logits and its feature maps; a multi-discriminator returns, for the
real and the generated batch, one list entry per sub-discriminator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from seqlab.models.vocoder.hifigan import LRELU_SLOPE, same_padding

Logits = list[torch.Tensor]  # one (B, N) tensor per sub-discriminator
FeatureMaps = list[list[torch.Tensor]]  # per sub-discriminator, its layers' outputs


def _conv_stack(convs, conv_post, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """LReLU after every conv, then ``conv_post``: flattened logits and every layer's output."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return torch.flatten(x, 1), features


def _scaled(channels: int, width: float, multiple_of: int = 1) -> int:
    """``channels * width`` (the official networks have width 1), a multiple of ``multiple_of``."""
    scaled = int(round(channels * width))
    if scaled < multiple_of or scaled % multiple_of:
        raise ValueError(
            f"discriminator width {width} gives {scaled} channels for {channels}; use a width that "
            f"keeps every layer a multiple of {multiple_of} channels (e.g. 1, 0.5, 0.25)"
        )
    return scaled


class PeriodDiscriminator(nn.Module):
    """Looks at every ``period``-th sample: the wave ``(B, 1, T)`` folded to ``(B, 1, T/p, p)``."""

    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3, width: float = 1.0):
        super().__init__()
        self.period = period
        pad = (same_padding(kernel_size), 0)
        channels = [1, *(_scaled(c, width) for c in (32, 128, 512, 1024))]
        convs = [
            nn.Conv2d(c_in, c_out, (kernel_size, 1), (stride, 1), padding=pad)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        ]
        convs.append(nn.Conv2d(channels[-1], channels[-1], (kernel_size, 1), 1, padding=pad))
        self.convs = nn.ModuleList([weight_norm(c) for c in convs])
        self.conv_post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(B, 1, T)`` -> logits ``(B, N)`` and the feature map of every layer."""
        b, c, t = wave.shape
        if t % self.period:  # reflect-pad to a whole number of periods
            wave = F.pad(wave, (0, self.period - t % self.period), "reflect")
        return _conv_stack(self.convs, self.conv_post, wave.view(b, c, -1, self.period))


class ScaleDiscriminator(nn.Module):
    """Strided grouped 1-D convolutions over the wave (or an average-pooled version of it)."""

    def __init__(self, use_spectral_norm: bool = False, width: float = 1.0):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        # (c_in, c_out, kernel, stride, groups); padding keeps "same" alignment
        layers = [
            (1, 128, 15, 1, 1),
            (128, 128, 41, 2, 4),
            (128, 256, 41, 2, 16),
            (256, 512, 41, 4, 16),
            (512, 1024, 41, 4, 16),
            (1024, 1024, 41, 1, 16),
            (1024, 1024, 5, 1, 1),
        ]
        w = lambda c: c if c == 1 else _scaled(c, width, multiple_of=16)  # noqa: E731
        self.convs = nn.ModuleList(
            [
                norm(nn.Conv1d(w(i), w(o), k, s, groups=g, padding=(k - 1) // 2))
                for i, o, k, s, g in layers
            ]
        )
        self.conv_post = norm(nn.Conv1d(w(1024), 1, 3, 1, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(B, 1, T)`` -> logits ``(B, N)`` and the feature map of every layer."""
        return _conv_stack(self.convs, self.conv_post, wave)


class MultiPeriodDiscriminator(nn.Module):
    """One :class:`PeriodDiscriminator` per period (2, 3, 5, 7, 11 in the paper)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList([PeriodDiscriminator(p, width=width) for p in periods])

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        """Real and generated waves ``(B, 1, T)`` -> (real logits, fake logits, real feature
        maps, fake feature maps), each a list over the sub-discriminators."""
        return _run_all(self.discriminators, [None] * len(self.discriminators), real, fake)


class MultiScaleDiscriminator(nn.Module):
    """Three :class:`ScaleDiscriminator` on the wave, x2 and x4 average-pooled (the first with
    spectral norm, as in the paper)."""

    def __init__(self, n_scales: int = 3, width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [ScaleDiscriminator(use_spectral_norm=i == 0, width=width) for i in range(n_scales)]
        )
        self.meanpools = nn.ModuleList([nn.AvgPool1d(4, 2, padding=2) for _ in range(n_scales - 1)])

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        """As :meth:`MultiPeriodDiscriminator.forward`; scale i sees the wave pooled i times."""
        pools = [None, *self.meanpools]
        return _run_all(self.discriminators, pools, real, fake, cumulative=True)


def _run_all(discriminators, pools, real, fake, cumulative: bool = False):
    real_logits, fake_logits, real_maps, fake_maps = [], [], [], []
    for disc, pool in zip(discriminators, pools, strict=True):
        if pool is not None:
            real, fake = pool(real), pool(fake)  # cumulative: scale i pools i times
        r, r_maps = disc(real)
        f, f_maps = disc(fake)
        real_logits.append(r)
        fake_logits.append(f)
        real_maps.append(r_maps)
        fake_maps.append(f_maps)
    return real_logits, fake_logits, real_maps, fake_maps


class HiFiGANDiscriminator(nn.Module):
    """MPD + MSD in one module (one optimizer, one checkpoint file), as the official training
    steps them together. ``width`` scales every hidden channel count (1 = the official networks;
    0.25 makes them ~16x cheaper, for CPU demos)."""

    def __init__(
        self, periods: Sequence[int] = (2, 3, 5, 7, 11), n_scales: int = 3, width: float = 1.0
    ):
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, width)
        self.msd = MultiScaleDiscriminator(n_scales, width)

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        """Both discriminators' outputs concatenated: (real logits, fake logits, real maps,
        fake maps), the MPD's sub-discriminators first."""
        a = self.mpd(real, fake)
        b = self.msd(real, fake)
        return tuple(x + y for x, y in zip(a, b, strict=True))


# ---- losses (least-squares GAN, feature matching), as in the paper ----------------------------
def discriminator_loss(
    real_logits: Logits, fake_logits: Logits
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSGAN: sum over sub-discriminators of mean((1 - D(real))^2) + mean(D(fake)^2).

    Returns:
        (loss, mean real score, mean fake score): the scores (mean logits over every
        sub-discriminator) show an imbalance: real near 1 and fake near 0 means D is winning.
    """
    loss = real_logits[0].new_zeros(())
    for r, f in zip(real_logits, fake_logits, strict=True):
        loss = loss + torch.mean((1 - r.float()) ** 2) + torch.mean(f.float() ** 2)
    real_score = torch.stack([r.float().mean() for r in real_logits]).mean()
    fake_score = torch.stack([f.float().mean() for f in fake_logits]).mean()
    return loss, real_score.detach(), fake_score.detach()


def generator_adversarial_loss(fake_logits: Logits) -> torch.Tensor:
    """LSGAN for the generator: sum over sub-discriminators of mean((1 - D(G(s)))^2)."""
    loss = fake_logits[0].new_zeros(())
    for f in fake_logits:
        loss = loss + torch.mean((1 - f.float()) ** 2)
    return loss


def feature_matching_loss(real_maps: FeatureMaps, fake_maps: FeatureMaps) -> torch.Tensor:
    """Sum over every layer of every sub-discriminator of mean |real - fake| (unweighted: the
    caller multiplies by ``lambda_fm`` = 2)."""
    loss = real_maps[0][0].new_zeros((), dtype=torch.float32)
    for r_layers, f_layers in zip(real_maps, fake_maps, strict=True):
        for r, f in zip(r_layers, f_layers, strict=True):
            loss = loss + torch.mean(torch.abs(r.detach().float() - f.float()))
    return loss
