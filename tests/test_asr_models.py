"""CTC acoustic models: the common API, parameter counts by formula, padding invariance, training."""

from __future__ import annotations

import hydra.utils
import pytest
import torch
import torch.nn.functional as F

from seqlab.models.asr.bilstm_ctc import BiLSTMCTC
from seqlab.models.asr.conformer_ctc import ConformerCTC
from seqlab.models.asr.subsampling import Conv2dSubsampling4

N_MELS, VOCAB = 16, 7
TINY_CONFIGS = {
    "bilstm": (BiLSTMCTC, dict(hidden_size=16, num_layers=2)),
    "bilstm_conv": (BiLSTMCTC, dict(hidden_size=16, conv_frontend=True, conv_channels=24)),
    "bilstm_stride3": (BiLSTMCTC, dict(hidden_size=16, num_layers=2, frame_stride=3)),
    "conformer": (
        ConformerCTC,
        dict(d_model=32, num_layers=2, num_heads=2, conv_kernel_size=5, subsampling_channels=8),
    ),
}


def _tiny(name: str) -> torch.nn.Module:
    cls, kwargs = TINY_CONFIGS[name]
    torch.manual_seed(0)
    return cls(n_mels=N_MELS, vocab_size=VOCAB, **kwargs)


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _lstm_params(n_in: int, hidden: int, num_layers: int) -> int:
    """Bidirectional nn.LSTM: per layer and direction 4 * (hidden * (in + hidden) + 2 * hidden)."""
    total = 0
    for layer in range(num_layers):
        layer_in = n_in if layer == 0 else 2 * hidden
        total += 2 * 4 * (hidden * (layer_in + hidden) + 2 * hidden)
    return total


def test_bilstm_parameter_count_by_formula():
    # Course reference: 2-layer BiLSTM, hidden 256, Linear(512, 29), 80 mels.
    expected = _lstm_params(80, 256, 2) + (512 * 29 + 29)
    assert expected == 2_284_061
    assert _n_params(BiLSTMCTC()) == expected
    # With the front end: Conv1d(80, 256, 3) feeds the LSTM 256 channels.
    with_conv = (80 * 256 * 3 + 256) + _lstm_params(256, 256, 2) + (512 * 29 + 29)
    assert _n_params(BiLSTMCTC(conv_frontend=True)) == with_conv
    # Frame averaging (the recipe's CPU default) adds no parameters.
    assert _n_params(BiLSTMCTC(frame_stride=3)) == expected


def test_padded_lstm_equals_packed_outputs_and_gradients():
    """The padded per-direction LSTM (oneDNN on the CPU) computes what the packed one computes."""
    torch.manual_seed(3)
    kwargs = dict(n_mels=N_MELS, vocab_size=VOCAB, hidden_size=16, num_layers=3, dropout=0.0)
    padded = BiLSTMCTC(**kwargs, pack_sequences=False).train()
    packed = BiLSTMCTC(**kwargs, pack_sequences=True).train()
    packed.load_state_dict(padded.state_dict())
    feats = torch.randn(4, 30, N_MELS)
    lengths = torch.tensor([30, 7, 22, 1])
    results = []
    for model in (padded, packed):
        log_probs, out_lengths = model(feats, lengths)
        mask = torch.arange(30)[None, :, None] < out_lengths[:, None, None]  # valid frames only
        (
            log_probs * mask * torch.randn(1, 30, VOCAB, generator=torch.Generator().manual_seed(0))
        ).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results.append((log_probs.detach() * mask, grads))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5, rtol=1e-4)
    for name, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][name], atol=1e-5, rtol=1e-4, msg=name)


def test_checkpoints_of_the_packed_model_load_and_keep_their_architecture():
    """A checkpoint's saved model config from before frame_stride/pack_sequences existed builds the
    same model (no subsampling), its weights load under the same names and give the same outputs."""
    old_config = {  # configs/model/bilstm_ctc.yaml as it was, plus what ASRTask adds
        "_target_": "seqlab.models.asr.bilstm_ctc.BiLSTMCTC",
        **dict(hidden_size=16, num_layers=2, dropout=0.1, conv_frontend=False),
        **dict(conv_channels=24, conv_stride=2, n_mels=N_MELS, vocab_size=VOCAB),
    }
    torch.manual_seed(4)
    old = BiLSTMCTC(**{k: v for k, v in old_config.items() if k != "_target_"}, pack_sequences=True)
    model = hydra.utils.instantiate(old_config)
    assert model.subsampling_factor == 1 and model.pack_sequences is None  # padded on the CPU
    model.load_state_dict(old.state_dict(), strict=True)
    feats, lengths = torch.randn(3, 25, N_MELS), torch.tensor([25, 18, 9])
    with torch.no_grad():
        expected, _ = old.eval()(feats, lengths)
        got, _ = model.eval()(feats, lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(got[b, :n], expected[b, :n], atol=1e-5, rtol=1e-4)


def test_frame_stride_averages_frames_and_drops_an_incomplete_last_group():
    model = BiLSTMCTC(n_mels=N_MELS, vocab_size=VOCAB, hidden_size=8, frame_stride=3)
    assert model.output_lengths(torch.tensor([2, 3, 8, 9])).tolist() == [0, 1, 2, 3]
    both = BiLSTMCTC(
        n_mels=N_MELS, vocab_size=VOCAB, hidden_size=8, frame_stride=2, conv_frontend=True
    )
    assert both.subsampling_factor == 4  # averaging, then the conv's stride 2 (kernel 3)
    assert both.output_lengths(torch.tensor([5, 6, 20])).tolist() == [0, 1, 4]
    with pytest.raises(ValueError, match="frame_stride"):
        BiLSTMCTC(n_mels=N_MELS, vocab_size=VOCAB, frame_stride=0)


def _conformer_params(n_mels, vocab, d, layers, expansion, kernel, channels) -> int:
    """Parameters of ConformerCTC, written out from the architecture description."""
    layer_norm = 2 * d
    feed_forward = layer_norm + (d * expansion * d + expansion * d) + (expansion * d * d + d)
    attention = layer_norm + (d * 3 * d + 3 * d) + (d * d + d)
    convolution = layer_norm + (d * 2 * d + 2 * d) + (d * kernel + d) + layer_norm + (d * d + d)
    block = 2 * feed_forward + attention + convolution + layer_norm
    freq = ((n_mels - 1) // 2 - 1) // 2
    subsampling = (9 * channels + channels) + (9 * channels * channels + channels)
    subsampling += channels * freq * d + d
    return subsampling + layers * block + (d * vocab + vocab)


@pytest.mark.parametrize(
    "size, kwargs, expected",
    [
        ("small", dict(d_model=144, num_layers=8), 4_453_805),
        ("small, 64 subsampling channels", dict(subsampling_channels=64), 4_084_285),
        ("medium", dict(d_model=256, num_layers=12), 20_071_709),
    ],
)
def test_conformer_parameter_counts(size, kwargs, expected):
    model = ConformerCTC(n_mels=80, vocab_size=29, **kwargs)
    d = kwargs.get("d_model", 144)
    formula = _conformer_params(
        80, 29, d, kwargs.get("num_layers", 8), 4, 15, kwargs.get("subsampling_channels") or d
    )
    assert _n_params(model) == formula == expected, size


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_outputs_are_log_probs_with_declared_lengths(name):
    model = _tiny(name).eval()
    lengths = torch.tensor([50, 37, 9])
    feats = torch.randn(3, 50, N_MELS)
    with torch.no_grad():
        log_probs, out_lengths = model(feats, lengths)
    assert log_probs.dtype == torch.float32 and out_lengths.dtype == torch.long
    assert torch.equal(out_lengths, model.output_lengths(lengths))
    assert log_probs.shape == (3, int(model.output_lengths(torch.tensor([50]))), VOCAB)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)
    expected_factor = {"bilstm_conv": 2, "bilstm_stride3": 3, "conformer": 4}.get(name, 1)
    assert model.subsampling_factor == expected_factor


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_padding_does_not_change_valid_outputs(name):
    """An item alone gives the same outputs as inside a padded batch (padding filled with noise)."""
    model = _tiny(name).eval()
    torch.manual_seed(1)
    lengths = torch.tensor([41, 64, 23, 30])
    feats = torch.randn(4, 72, N_MELS) * 3  # padded to more than the longest item
    with torch.no_grad():
        batch_log_probs, batch_out_lengths = model(feats, lengths)
        for b, length in enumerate(lengths.tolist()):
            alone, alone_lengths = model(feats[b : b + 1, :length], lengths[b : b + 1])
            n_out = int(alone_lengths[0])
            assert n_out == int(batch_out_lengths[b]) and alone.shape[1] == n_out
            torch.testing.assert_close(
                batch_log_probs[b, :n_out], alone[0], atol=1e-5, rtol=0, msg=f"{name} item {b}"
            )


def test_conformer_stays_finite_with_an_item_too_short_for_one_frame():
    model = _tiny("conformer").eval()
    lengths = torch.tensor([40, 5])  # 5 frames -> 0 frames after x4 subsampling
    with torch.no_grad():
        log_probs, out_lengths = model(torch.randn(2, 40, N_MELS), lengths)
    assert out_lengths.tolist() == [9, 0]
    assert torch.isfinite(log_probs).all()


def test_bilstm_rejects_lengths_longer_than_the_batch():
    with pytest.raises(ValueError, match="output lengths must lie"):
        _tiny("bilstm")(torch.randn(2, 10, N_MELS), torch.tensor([10, 11]))


def test_subsampling_output_lengths_match_the_convolutions():
    subsampling = Conv2dSubsampling4(n_mels=N_MELS, d_model=8, channels=4)
    for frames in range(7, 40):
        x, out_lengths = subsampling(torch.randn(1, frames, N_MELS), torch.tensor([frames]))
        assert x.shape[1] == int(out_lengths[0]) == ((frames - 1) // 2 - 1) // 2


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_ctc_loss_falls_when_overfitting_one_batch(name):
    model = _tiny(name).train()
    torch.manual_seed(2)
    feats = torch.randn(2, 48, N_MELS)
    lengths = torch.tensor([48, 40])
    targets = torch.tensor([[1, 2, 3, 4], [5, 6, 1, 0]])
    target_lengths = torch.tensor([4, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        log_probs, out_lengths = model(feats, lengths)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_hydra_instantiates_from_plain_keyword_arguments(name):
    cls, kwargs = TINY_CONFIGS[name]
    config = {
        "_target_": f"{cls.__module__}.{cls.__name__}",
        "n_mels": N_MELS,
        "vocab_size": VOCAB,
        **kwargs,
    }
    model = hydra.utils.instantiate(config)
    assert isinstance(model, cls)
    assert model.head.out_features == VOCAB


def test_rotary_scores_depend_only_on_relative_position():
    from seqlab.models.asr.conformer_ctc import _apply_rotary, _rotary_cos_sin

    torch.manual_seed(3)
    cos, sin = _rotary_cos_sin(12, 8, torch.device("cpu"))  # (12, 8) each
    q, k = torch.randn(8), torch.randn(8)
    frames_q = _apply_rotary(q.expand(1, 1, 12, 8), cos, sin)[0, 0]  # q at every position
    frames_k = _apply_rotary(k.expand(1, 1, 12, 8), cos, sin)[0, 0]  # k at every position
    scores = frames_q @ frames_k.T  # (12, 12): score of q at i with k at j
    for offset in (-3, 0, 5):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal))
    assert not torch.allclose(scores[0, 0], scores[0, 5])  # and they do depend on it


def test_the_recipe_model_keeps_the_reports_parameter_count_with_fewer_lstm_steps():
    from seqlab.config import compose_experiment

    cfg = compose_experiment("asr_bilstm")
    model = hydra.utils.instantiate(cfg.model, n_mels=80, vocab_size=29)
    assert _n_params(model) == 2_284_061  # the course report's model, frame for frame
    assert model.subsampling_factor == 3 and model.pack_sequences is None
