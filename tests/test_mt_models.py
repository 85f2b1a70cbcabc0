"""Translation models and seq2seq decoding: padding, scheduled sampling, tied weights, incremental
decoding, beam search against a brute-force search, greedy = beam 1, batched = one by one."""

from __future__ import annotations

import itertools
from pathlib import Path

import hydra.utils
import pytest
import torch
from omegaconf import OmegaConf

import seqlab
from seqlab.decoding.seq2seq import beam_search, greedy_decode
from seqlab.models.mt.lstm_seq2seq import LSTMSeq2Seq
from seqlab.models.mt.transformer import TransformerSeq2Seq

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SRC_V, TGT_V = 11, 9
TINY = {
    "lstm": (LSTMSeq2Seq, dict(emb_dim=8, hidden_size=12, num_layers=2, dropout=0.1)),
    "lstm_luong_uni": (
        LSTMSeq2Seq,
        dict(
            emb_dim=12, hidden_size=12, num_layers=1, attention="luong", bidirectional_encoder=False
        ),
    ),
    # Without input feeding the teacher-forced forward runs without a time loop; every test below
    # that compares it with decode_step / beam search checks the batched path against the step one.
    "lstm_no_input_feeding": (
        LSTMSeq2Seq,
        dict(emb_dim=8, hidden_size=12, num_layers=2, dropout=0.1, input_feeding=False),
    ),
    "lstm_luong_no_input_feeding": (
        LSTMSeq2Seq,
        dict(emb_dim=8, hidden_size=12, num_layers=1, attention="luong", input_feeding=False),
    ),
    "lstm_none_untied": (
        LSTMSeq2Seq,
        dict(emb_dim=8, hidden_size=12, num_layers=2, attention="none", tie_embeddings=False),
    ),
    "transformer": (
        TransformerSeq2Seq,
        dict(d_model=16, nhead=2, dim_feedforward=32, num_encoder_layers=2, num_decoder_layers=2),
    ),
    "transformer_post_learned_gelu": (
        TransformerSeq2Seq,
        dict(
            d_model=16,
            nhead=4,
            dim_feedforward=24,
            num_encoder_layers=1,
            num_decoder_layers=2,
            norm_first=False,
            positions="learned",
            max_positions=40,
            activation="gelu",
        ),
    ),
}


def _tiny(name: str, src_vocab: int = SRC_V, tgt_vocab: int = TGT_V, peaky: bool = False):
    """A tiny seeded model in eval mode; ``peaky`` redraws every weight from N(0, 0.7) so that its
    distributions are far from uniform (no near-ties in argmax or beam decisions)."""
    cls, kwargs = TINY[name]
    torch.manual_seed(0)
    model = cls(src_vocab, tgt_vocab, pad_id=PAD, bos_id=BOS, eos_id=EOS, **kwargs)
    if peaky:
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0.0, 0.7)
    return model.eval()


def _batch(seed: int = 1):
    """Three sources of lengths 6, 4, 1 and targets of 5, 3, 2 tokens, all padded with PAD."""
    gen = torch.Generator().manual_seed(seed)
    src_lengths = torch.tensor([6, 4, 1])
    src = torch.randint(4, SRC_V, (3, 6), generator=gen)
    src[torch.arange(6)[None, :] >= src_lengths[:, None]] = PAD
    tgt_lengths = torch.tensor([5, 3, 2])
    tgt_in = torch.randint(4, TGT_V, (3, 5), generator=gen)
    tgt_in[:, 0] = BOS
    tgt_in[torch.arange(5)[None, :] >= tgt_lengths[:, None]] = PAD
    return src, src_lengths, tgt_in, tgt_lengths


@pytest.mark.parametrize("name", list(TINY))
def test_logits_shape_and_padding_does_not_leak(name):
    model = _tiny(name)
    src, src_lengths, tgt_in, tgt_lengths = _batch()
    logits = model(src, src_lengths, tgt_in)
    assert logits.shape == (3, 5, TGT_V)
    for i in range(3):
        s, t = int(src_lengths[i]), int(tgt_lengths[i])
        alone = model(src[i : i + 1, :s], src_lengths[i : i + 1], tgt_in[i : i + 1, :t])
        torch.testing.assert_close(logits[i : i + 1, :t], alone, atol=1e-5, rtol=1e-5)
    # Padded source positions: change their token ids, nothing changes.
    noisy = src.clone()
    noisy[src == PAD] = 5
    torch.testing.assert_close(model(noisy, src_lengths, tgt_in), logits, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "lstm_no_input_feeding", "transformer"])
def test_teacher_forcing_one_is_the_plain_forward_even_with_dropout(name):
    model = _tiny(name).train()
    src, src_lengths, tgt_in, _ = _batch()
    torch.manual_seed(3)
    plain = model(src, src_lengths, tgt_in)
    torch.manual_seed(3)
    forced = model(src, src_lengths, tgt_in, teacher_forcing=1.0)
    torch.testing.assert_close(forced, plain, atol=0, rtol=0)
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(src, src_lengths, tgt_in, teacher_forcing=1.5)


@pytest.mark.parametrize("name", ["lstm", "lstm_no_input_feeding"])
def test_lstm_teacher_forcing_zero_feeds_its_own_previous_argmax(name):
    model = _tiny(name, peaky=True)
    src, src_lengths, tgt_in, _ = _batch()
    tgt_in = tgt_in[:, :3].clone()
    tgt_in[tgt_in == PAD] = 4  # no padding: every input from step 1 on is replaced
    sampled = model(src, src_lengths, tgt_in, teacher_forcing=0.0)  # (B, 3, V)
    # The same computation by hand: decode step by step, feeding the argmax back.
    memory = model.encode(src, src_lengths)
    tokens, cache, expected = tgt_in[:, :1], None, []
    for _ in range(3):
        log_probs, cache = model.decode_step(tokens, memory, cache)
        expected.append(log_probs)
        tokens = torch.cat([tokens, log_probs.argmax(-1, keepdim=True)], dim=1)
    torch.testing.assert_close(
        sampled.log_softmax(-1), torch.stack(expected, 1), atol=1e-5, rtol=1e-5
    )
    teacher = model(src, src_lengths, tgt_in)
    assert not torch.allclose(sampled, teacher, atol=1e-3)  # the gold inputs were not used


def test_transformer_teacher_forcing_zero_is_two_pass():
    model = _tiny("transformer", peaky=True)
    src, src_lengths, tgt_in, _ = _batch()
    sampled = model(src, src_lengths, tgt_in, teacher_forcing=0.0)
    first_pass = model(src, src_lengths, tgt_in).argmax(-1)  # (B, T)
    mixed = torch.cat([tgt_in[:, :1], first_pass[:, :-1]], dim=1)
    mixed[tgt_in == PAD] = PAD  # padding stays padding
    torch.testing.assert_close(sampled, model(src, src_lengths, mixed), atol=1e-5, rtol=1e-5)
    assert not torch.equal(mixed, tgt_in)
    assert not torch.allclose(sampled, model(src, src_lengths, tgt_in), atol=1e-3)


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_scheduled_sampling_trains(name):
    model = _tiny(name).train()
    src, src_lengths, tgt_in, _ = _batch()
    logits = model(src, src_lengths, tgt_in, teacher_forcing=0.5)
    loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt_in, ignore_index=PAD)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.src_embedding.weight.grad.abs().sum() > 0  # gradients reach the encoder


def test_tied_and_shared_embeddings_are_one_parameter():
    lstm = LSTMSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12, num_layers=1)
    assert lstm.output.weight is lstm.tgt_embedding.weight
    assert isinstance(lstm.out_proj, torch.nn.Linear)  # hidden 12 -> embedding 8
    assert lstm.out_proj.weight.shape == (8, 12)
    untied = LSTMSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12, tie_embeddings=False)
    assert untied.output.weight is not untied.tgt_embedding.weight

    kwargs = dict(
        d_model=16, nhead=2, dim_feedforward=16, num_encoder_layers=1, num_decoder_layers=1
    )
    shared = TransformerSeq2Seq(TGT_V, TGT_V, share_embeddings=True, **kwargs)
    assert shared.src_embedding.weight is shared.tgt_embedding.weight is shared.output.weight
    n_shared = sum(p.numel() for p in shared.parameters())
    n_separate = sum(p.numel() for p in TransformerSeq2Seq(TGT_V, TGT_V, **kwargs).parameters())
    assert n_separate - n_shared == TGT_V * 16
    untied = TransformerSeq2Seq(SRC_V, TGT_V, tie_embeddings=False, **kwargs)
    assert untied.output.weight is not untied.tgt_embedding.weight
    with pytest.raises(ValueError, match=r"source has 11 entries and the target 9"):
        TransformerSeq2Seq(SRC_V, TGT_V, share_embeddings=True, **kwargs)


@pytest.mark.parametrize("name", list(TINY))
def test_incremental_decoding_matches_the_full_forward(name):
    model = _tiny(name)
    src, src_lengths, tgt_in, _ = _batch()
    tgt_in[tgt_in == PAD] = 5
    with torch.no_grad():
        full = model(src, src_lengths, tgt_in).log_softmax(-1)  # (B, T, V)
        memory = model.encode(src, src_lengths)
        cache = None
        for t in range(tgt_in.shape[1]):
            step, cache = model.decode_step(tgt_in[:, : t + 1], memory, cache)
            torch.testing.assert_close(step, full[:, t], atol=1e-5, rtol=1e-5)
        # Without a cache the whole prefix is run (and gives the same answer).
        again, _ = model.decode_step(tgt_in, memory, None)
        torch.testing.assert_close(again, full[:, -1], atol=1e-5, rtol=1e-5)


def _penalised(score: float, n_tokens: int, kind: str, alpha: float) -> float:
    if kind == "gnmt":
        return score / ((5 + n_tokens) / 6) ** alpha
    if kind == "average":
        return score / n_tokens
    return score


def _brute_force(model, src, src_lengths, max_len, kind, alpha):
    """Every output of at most ``max_len`` tokens (eos included) over the allowed tokens (all but
    pad/bos/eos), scored by one full forward pass each; best first."""
    allowed = [t for t in range(TGT_V) if t not in (PAD, BOS, EOS)]
    sequences = [list(seq) for n in range(max_len) for seq in itertools.product(allowed, repeat=n)]
    tgt_in = torch.full((len(sequences), max_len), PAD)
    targets = torch.full((len(sequences), max_len), PAD)
    for row, seq in enumerate(sequences):
        tgt_in[row, : len(seq) + 1] = torch.tensor([BOS, *seq])
        targets[row, : len(seq) + 1] = torch.tensor([*seq, EOS])
    n = len(sequences)
    with torch.no_grad():
        log_probs = model(src.expand(n, -1), src_lengths.expand(n), tgt_in).log_softmax(-1)
    token_scores = log_probs.gather(2, targets[:, :, None]).squeeze(2)  # (N, max_len)
    token_scores = token_scores.masked_fill(targets == PAD, 0.0).sum(1)  # (N,)
    scored = [
        (seq, _penalised(float(s), len(seq) + 1, kind, alpha))
        for seq, s in zip(sequences, token_scores, strict=True)
    ]
    return sorted(scored, key=lambda pair: pair[1], reverse=True)


@pytest.mark.parametrize("name", ["lstm", "lstm_no_input_feeding", "transformer"])
@pytest.mark.parametrize("kind, alpha", [("none", 0.0), ("gnmt", 1.0), ("average", 0.0)])
def test_beam_search_finds_the_brute_force_best(name, kind, alpha):
    # Vocabulary: 4 specials + 5 real tokens; unk and the 5 may be produced (7 choices with eos).
    model = _tiny(name, peaky=True)
    src, src_lengths = torch.tensor([[5, 7, 4]]), torch.tensor([3])
    max_len = 4  # at most 3 tokens + eos: 1 + 6 + 36 + 216 = 259 outputs
    expected = _brute_force(model, src, src_lengths, max_len, kind, alpha)
    assert expected[0][1] - expected[1][1] > 1e-3  # a clear winner, not a numerical tie
    # A beam of 252 = 36 live prefixes x 7 choices at the third step: every prefix stays live and
    # every eos candidate ranks among the best beam_size, so the search must find the exact n-best.
    nbest = beam_search(
        model,
        src,
        src_lengths,
        beam_size=252,
        length_penalty=kind,
        lp_alpha=alpha,
        max_len_ratio=0.0,
        max_len_offset=max_len,
        nbest=5,
    )[0]
    # The 5 best mix lengths 0-3 (checked: the winners differ between the penalties).
    assert [tokens for tokens, _ in nbest] == [seq for seq, _ in expected[:5]]
    for (_, score), (_, want) in zip(nbest, expected[:5], strict=True):
        assert score == pytest.approx(want, abs=1e-4)
    # A small beam may miss it, but never reports a hypothesis better than the best one.
    small = beam_search(
        model,
        src,
        src_lengths,
        beam_size=2,
        length_penalty=kind,
        lp_alpha=alpha,
        max_len_ratio=0.0,
        max_len_offset=max_len,
    )[0]
    assert small[0][1] <= expected[0][1] + 1e-4
    assert len(small[0][0]) <= max_len - 1


@pytest.mark.parametrize(
    "name", ["lstm", "lstm_luong_no_input_feeding", "transformer", "transformer_post_learned_gelu"]
)
def test_beam_of_one_is_greedy_and_batched_equals_one_by_one(name):
    model = _tiny(name, peaky=True)
    src, src_lengths, _, _ = _batch(seed=4)
    greedy = greedy_decode(model, src, src_lengths, max_len_ratio=1.0, max_len_offset=3)
    beam1 = beam_search(
        model,
        src,
        src_lengths,
        beam_size=1,
        length_penalty="none",
        max_len_ratio=1.0,
        max_len_offset=3,
    )
    assert [hyps[0][0] for hyps in beam1] == greedy
    assert all(len(h) <= int(n) + 3 - 1 for h, n in zip(greedy, src_lengths, strict=True))
    assert {len(h) for h in greedy} != {0}  # not a model that stops at once
    beam4 = beam_search(model, src, src_lengths, beam_size=4, nbest=2)
    for i in range(3):
        one_src, one_len = src[i : i + 1, : int(src_lengths[i])], src_lengths[i : i + 1]
        assert greedy_decode(model, one_src, one_len, 1.0, 3) == [greedy[i]]
        alone = beam_search(model, one_src, one_len, beam_size=4, nbest=2)[0]
        assert [t for t, _ in alone] == [t for t, _ in beam4[i]]
        assert [s for _, s in alone] == pytest.approx([s for _, s in beam4[i]], abs=1e-4)


def test_decoding_respects_learned_position_limit_and_restores_training_mode():
    model = _tiny("transformer_post_learned_gelu").train()
    model.max_decode_len = 5  # as if max_positions were 5
    src, src_lengths, _, _ = _batch()
    hyps = greedy_decode(model, src, src_lengths, max_len_ratio=10.0, max_len_offset=10)
    assert max(len(h) for h in hyps) <= 4
    assert model.training
    with pytest.raises(ValueError, match="nbest"):
        beam_search(model, src, src_lengths, beam_size=2, nbest=3)
    with pytest.raises(ValueError, match="max_positions=40"):
        model(src, src_lengths, torch.full((3, 41), 4))


def test_configs_instantiate_with_the_task_arguments():
    configs = Path(seqlab.__file__).parent / "configs" / "model"
    tiny = {
        "lstm_seq2seq": dict(emb_dim=8, hidden_size=8, num_layers=3),
        "transformer_mt": dict(d_model=16, dim_feedforward=32),
    }
    for name, overrides in tiny.items():
        cfg = OmegaConf.merge(OmegaConf.load(configs / f"{name}.yaml"), overrides)
        model = hydra.utils.instantiate(
            cfg, src_vocab_size=SRC_V, tgt_vocab_size=TGT_V, pad_id=PAD, bos_id=BOS, eos_id=EOS
        )
        src, src_lengths, tgt_in, _ = _batch()
        assert model(src, src_lengths, tgt_in).shape == (3, 5, TGT_V)
        assert (model.pad_id, model.bos_id, model.eos_id) == (PAD, BOS, EOS)


def test_lstm_without_the_input_feeding_key_keeps_the_old_layout():
    """Checkpoints saved before model.input_feeding existed have no key: the class default must
    build the layout their weights were trained in (the decoder reads [embedding; att_prev])."""
    old = LSTMSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12, num_layers=1)
    assert old.input_feeding and old.decoder.input_size == 8 + 12
    new = LSTMSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12, num_layers=1, input_feeding=False)
    assert new.decoder.input_size == 8
    with pytest.raises(RuntimeError, match="size mismatch"):
        new.load_state_dict(old.state_dict())


def test_mt_lstm_multi30k_reads_the_data_get_layout_with_a_time_budget():
    from seqlab.config import compose_experiment

    cfg = compose_experiment("mt_lstm_multi30k")
    data = cfg.data
    assert (data.root, data.train, data.val, data.test) == (
        "data/multi30k",
        "train",
        "val",
        "test2016",
    )
    assert data.build_if_missing is False and data.detokenize is False
    assert cfg.trainer.max_seconds == 1800 and cfg.lr_scheduler.total_steps == "auto"
    assert not cfg.teacher_forcing.enabled  # scheduled sampling would force the slow loop
    model = hydra.utils.instantiate(
        cfg.model, src_vocab_size=SRC_V, tgt_vocab_size=TGT_V, pad_id=PAD, bos_id=BOS, eos_id=EOS
    )
    src, src_lengths, tgt_in, _ = _batch()
    assert model(src, src_lengths, tgt_in).shape == (3, 5, TGT_V)
