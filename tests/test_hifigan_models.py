"""HiFi-GAN models: official parameter counts, exact inference rewrites, official checkpoint layout."""

import sys
import warnings
from pathlib import Path

import pytest
import torch
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
    build_generator,
    count_parameters,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from hifigan_reference import OfficialLayoutGenerator  # noqa: E402
from seqlab.models.vocoder.official import (  # noqa: E402
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
def test_weight_norm_removal_keeps_the_output(preset):
    torch.manual_seed(0)
    generator = build_generator(preset).eval()
    mel = torch.randn(2, 80, 12)
    with torch.no_grad():
        reference = generator(mel)  # (B, 1, 12 * 256)
        assert reference.shape == (2, 1, 12 * 256)
        generator.prepare_for_inference()
        assert not any(n.endswith("original0") for n, _ in generator.named_parameters())
        fused = generator(mel)
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=0)


def test_folding_a_copy_leaves_the_original_working():
    # a deepcopy shares the parametrized classes: folding the copy (Vocoder, the ONNX export)
    # must not take the original's weight away
    import copy

    torch.manual_seed(0)
    generator = build_generator("v3").eval()
    mel = torch.randn(1, 80, 6)
    with torch.no_grad():
        reference = generator(mel)
        folded = copy.deepcopy(generator).prepare_for_inference()
        torch.testing.assert_close(folded(mel), reference, atol=1e-5, rtol=0)
        torch.testing.assert_close(generator(mel), reference, atol=0, rtol=0)
    copy.deepcopy(generator).prepare_for_inference()  # and again


def test_bad_configuration_is_refused_with_its_name():
    with pytest.raises(ValueError, match="unknown HiFi-GAN preset 'v4'"):
        build_generator("v4")
    with pytest.raises(ValueError, match="resblock must be '1' or '2'"):
        HiFiGANGenerator(resblock="3")


# ---- the official layout, built independently in bench/hifigan_reference.py ---------------
def _official_generator(h: dict) -> nn.Module:
    """The official module tree (legacy weight norm) with random norms and biases."""
    generator = OfficialLayoutGenerator(h)
    for module in generator.modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            module.weight_v.data.normal_(0, 0.01)
            module.weight_g.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
    return generator


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
        expected = official(mel)
        torch.testing.assert_close(ours(mel), expected, atol=1e-6, rtol=0)
        # export in the official layout; the official module loads it strictly
        out = save_official_generator(ours, tmp_path / "export" / "g_ours", config=h)
        again = _official_generator(h)
        again.load_state_dict(torch.load(out, weights_only=True)["generator"], strict=True)
        torch.testing.assert_close(again(mel), expected, atol=1e-6, rtol=0)
        # a generator whose weight norm was removed exports the same layout
        ours.remove_weight_norm()
        save_official_generator(ours, tmp_path / "g_plain")
        plain = _official_generator(h)
        plain.load_state_dict(torch.load(tmp_path / "g_plain", weights_only=True)["generator"])
        torch.testing.assert_close(plain(mel), expected, atol=1e-5, rtol=0)
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


def test_bench_conv_flops_counts_each_multiply_add_twice():
    """bench/inference.py's arithmetic count, which its GFLOP/s ceiling argument rests on."""
    from inference import conv_flops

    net = nn.Sequential(
        nn.Conv1d(4, 6, 3, padding=1),  # 10 outputs x 6 channels x (4 x 3) multiply-adds
        nn.ConvTranspose1d(6, 2, 4, stride=2, padding=1),  # 10 inputs x 6 x (2 x 4)
        nn.Conv1d(2, 2, 3, padding=2, dilation=2, groups=2),  # 20 x 2 x (1 x 3)
    )
    x = torch.randn(1, 4, 10)
    assert conv_flops(net, x) == 2 * (10 * 6 * 12 + 10 * 6 * 8 + 20 * 2 * 3)
    assert conv_flops(net, torch.randn(3, 4, 10)) == 3 * conv_flops(net, x)  # batch scales it
