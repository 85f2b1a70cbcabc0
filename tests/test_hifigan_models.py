"""HiFi-GAN models: official parameter counts, exact inference rewrites, official checkpoint layout."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models.vocoder.discriminators import (
    HiFiGANDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from seqlab.models.vocoder.hifigan import (
    HIFIGAN_CONFIGS,
    HiFiGANGenerator,
    PolyphaseUpsample,
    build_generator,
    count_parameters,
)
from seqlab.models.vocoder.official import (
    from_official,
    load_official_generator,
    save_official_generator,
    to_official,
)

TINY = {
    "resblock": "1",
    "upsample_rates": [4, 4],
    "upsample_kernel_sizes": [8, 8],
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3, 5],
    "resblock_dilation_sizes": [[1, 3], [1, 2]],
}


@pytest.mark.parametrize(
    "preset, expected", [("v1", 13_926_017), ("v2", 925_985), ("v3", 1_462_273)]
)
def test_parameter_counts_after_weight_norm_removal_match_the_paper(preset, expected):
    generator = build_generator(preset).remove_weight_norm()
    assert count_parameters(generator) == expected
    assert generator.hop_length == 256


@pytest.mark.parametrize("preset", ["v2", "v3"])  # v1 is v2's layout at 4x the width
def test_weight_norm_removal_and_polyphase_fusion_keep_the_output(preset):
    torch.manual_seed(0)
    generator = build_generator(preset).eval()
    mel = torch.randn(2, 80, 12)
    with torch.no_grad():
        reference = generator(mel)  # (B, 1, 12 * 256)
        assert reference.shape == (2, 1, 12 * 256)
        generator.fuse_for_inference()
        assert not any(isinstance(m, nn.ConvTranspose1d) for m in generator.modules())
        fused = generator(mel)
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "kernel, stride", [(16, 8), (4, 2), (8, 4), (11, 5), (6, 2), (2, 2), (5, 2)]
)
def test_polyphase_upsample_equals_conv_transpose(kernel, stride):
    torch.manual_seed(kernel * stride)
    padding = (kernel - stride) // 2
    deconv = nn.ConvTranspose1d(6, 5, kernel, stride, padding=padding)
    x = torch.randn(3, 6, 9)
    if kernel - 2 * padding - stride != 0:  # output length not T * stride: refused
        with pytest.raises(ValueError, match="kernel = stride"):
            PolyphaseUpsample(deconv)(x)
        return
    with torch.no_grad():
        torch.testing.assert_close(PolyphaseUpsample(deconv)(x), deconv(x), atol=1e-6, rtol=0)


def test_bad_configuration_is_refused_with_its_name():
    with pytest.raises(ValueError, match="unknown HiFi-GAN preset 'v4'"):
        build_generator("v4")
    with pytest.raises(ValueError, match="resblock must be '1' or '2'"):
        HiFiGANGenerator(resblock="3")


# ---- the official layout, built independently here with torch's legacy weight norm ---------
def _official_generator(h: dict) -> nn.Module:
    """A module tree named and normed as the official models.py (legacy ``weight_norm``), with
    the official forward, written from the paper's description for this test."""
    wn = nn.utils.weight_norm
    root = nn.Module()
    root.conv_pre = wn(nn.Conv1d(80, h["upsample_initial_channel"], 7, 1, padding=3))
    root.ups, root.resblocks = nn.ModuleList(), nn.ModuleList()
    ch = h["upsample_initial_channel"]
    for u, k in zip(h["upsample_rates"], h["upsample_kernel_sizes"], strict=True):
        root.ups.append(wn(nn.ConvTranspose1d(ch, ch // 2, k, u, padding=(k - u) // 2)))
        ch //= 2
        for k2, dils in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"], strict=True):
            block = nn.Module()
            pad = lambda k, d: (k * d - d) // 2  # noqa: E731
            if h["resblock"] == "1":
                block.convs1 = nn.ModuleList(
                    [wn(nn.Conv1d(ch, ch, k2, 1, dilation=d, padding=pad(k2, d))) for d in dils]
                )
                block.convs2 = nn.ModuleList(
                    [wn(nn.Conv1d(ch, ch, k2, 1, padding=pad(k2, 1))) for _ in dils]
                )
            else:
                block.convs = nn.ModuleList(
                    [wn(nn.Conv1d(ch, ch, k2, 1, dilation=d, padding=pad(k2, d))) for d in dils]
                )
            root.resblocks.append(block)
    root.conv_post = wn(nn.Conv1d(ch, 1, 7, 1, padding=3))
    for module in root.modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            module.weight_v.data.normal_(0, 0.01)
            module.weight_g.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)

    def forward(mel):
        x = root.conv_pre(mel)
        n = len(h["resblock_kernel_sizes"])
        for i, up in enumerate(root.ups):
            x = up(F.leaky_relu(x, 0.1))
            xs = 0
            for block in root.resblocks[i * n : (i + 1) * n]:
                y = x
                if h["resblock"] == "1":
                    for c1, c2 in zip(block.convs1, block.convs2, strict=True):
                        y = y + c2(F.leaky_relu(c1(F.leaky_relu(y, 0.1)), 0.1))
                else:
                    for c in block.convs:
                        y = y + c(F.leaky_relu(y, 0.1))
                xs = xs + y
            x = xs / n
        return torch.tanh(root.conv_post(F.leaky_relu(x)))

    root.forward = forward
    return root


@pytest.fixture(autouse=True)
def _quiet_legacy_weight_norm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's legacy weight_norm is deprecated
        yield


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_official_checkpoint_loads_and_round_trips(tmp_path, resblock):
    torch.manual_seed(1)
    h = dict(TINY, resblock=resblock)
    official = _official_generator(h)
    path = tmp_path / "g_00000100"
    torch.save({"generator": official.state_dict()}, path)
    ours = load_official_generator(path, HiFiGANGenerator(**h))
    mel = torch.randn(2, 80, 7)
    with torch.no_grad():
        expected = official.forward(mel)
        torch.testing.assert_close(ours(mel), expected, atol=1e-6, rtol=0)
        # export in the official layout; the official module loads it strictly
        out = save_official_generator(ours, tmp_path / "export" / "g_ours", config=h)
        again = _official_generator(h)
        again.load_state_dict(torch.load(out, weights_only=True)["generator"], strict=True)
        torch.testing.assert_close(again.forward(mel), expected, atol=1e-6, rtol=0)
        # a generator whose weight norm was removed exports the same layout
        ours.remove_weight_norm()
        save_official_generator(ours, tmp_path / "g_plain")
        plain = _official_generator(h)
        plain.load_state_dict(torch.load(tmp_path / "g_plain", weights_only=True)["generator"])
        torch.testing.assert_close(plain.forward(mel), expected, atol=1e-5, rtol=0)
    assert (tmp_path / "export" / "config.json").is_file()


def test_official_checkpoint_of_another_configuration_names_the_mismatch(tmp_path):
    official = _official_generator(TINY)
    torch.save({"generator": official.state_dict()}, tmp_path / "g")
    other = HiFiGANGenerator(**dict(TINY, upsample_initial_channel=32))
    with pytest.raises(KeyError, match="shape"):
        load_official_generator(tmp_path / "g", other)
    torch.save({"mpd": {}}, tmp_path / "not_g")
    with pytest.raises(KeyError, match="expected a dict with key 'generator'"):
        load_official_generator(tmp_path / "not_g", other)


def test_discriminator_state_round_trips_through_the_official_names():
    disc = HiFiGANDiscriminator()
    state = disc.state_dict()
    official = to_official(state)
    assert "msd.discriminators.0.convs.0.weight_orig" in official  # spectral norm (first scale)
    assert "msd.discriminators.1.convs.0.weight_g" in official  # weight norm (the others)
    assert "mpd.discriminators.4.conv_post.weight_v" in official
    back = from_official(official, disc)
    assert set(back) == set(state)
    for key in state:
        assert torch.equal(back[key], state[key]), key


def test_discriminators_shapes_and_losses():
    torch.manual_seed(0)
    disc = HiFiGANDiscriminator()
    real, fake = torch.randn(2, 1, 2048), torch.randn(2, 1, 2048)
    with torch.no_grad():
        r, f, r_maps, f_maps = disc(real, fake)
    assert len(r) == len(f) == 8  # 5 periods + 3 scales
    assert [len(m) for m in r_maps] == [6] * 5 + [8] * 3
    ones, zeros = [torch.ones(2, 5)], [torch.zeros(2, 5)]
    loss, real_score, fake_score = discriminator_loss(ones, zeros)
    assert float(loss) == 0 and float(real_score) == 1 and float(fake_score) == 0
    assert float(generator_adversarial_loss(ones)) == 0
    assert float(generator_adversarial_loss(zeros)) == 1
    assert float(feature_matching_loss(r_maps, r_maps)) == 0
    assert float(feature_matching_loss(r_maps, f_maps)) > 0


def test_presets_are_the_official_configurations():
    assert HIFIGAN_CONFIGS["v1"]["upsample_initial_channel"] == 512
    assert HIFIGAN_CONFIGS["v2"]["upsample_initial_channel"] == 128
    assert HIFIGAN_CONFIGS["v3"]["resblock"] == "2"
    assert HIFIGAN_CONFIGS["v3"]["upsample_rates"] == [8, 8, 4]
