"""A Hugging Face causal LM behind the word-level LM interface: scores must equal a plain full
forward pass of the model, however the requests are batched, cached or extended from cached keys."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

from seqlab.decoding.lm import load_lm, sentence_scores_by_words  # noqa: E402
from seqlab.decoding.lm.neural import HFCausalLM  # noqa: E402

TEXT = [
    "the cat sat on the mat",
    "the cat sat down",
    "a dog ran to the park",
    "the dog sat on a mat",
    "we ran to the cat",
    "a cat",
]
SENTENCES = TEXT + ["the zebra sat", "on on on the the dog ran"]  # "zebra" is unknown to the words


def word_tokenizer(text=TEXT):
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    tok.train_from_iterator(text, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


def bpe_tokenizer(text=TEXT):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(text, trainer)
    end = "<|endoftext|>"
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=end, eos_token=end, unk_token=end
    )


def save_lm(directory, tokenizer, n_positions=64):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=4,
        initializer_range=0.3,  # peaked distributions: scores that differ clearly
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model


@pytest.fixture(scope="module", params=["word", "bpe"])
def lm_dir(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"lm-{request.param}")
    tokenizer = word_tokenizer() if request.param == "word" else bpe_tokenizer()
    save_lm(directory, tokenizer)
    return directory


@pytest.fixture(scope="module")
def expected(lm_dir):
    """sentence -> (per-word ln P, ln P(eos)) from plain transformers."""
    model = transformers.AutoModelForCausalLM.from_pretrained(lm_dir).eval()
    tok = transformers.AutoTokenizer.from_pretrained(lm_dir)
    return {s: reference(model, tok, s) for s in SENTENCES}


@torch.no_grad()
def reference(model, tok, sentence):
    """Per-word ln P and ln P(eos) from one full forward of <bos> tokens <eos> (no seqlab code)."""
    words = sentence.split()
    pieces = [
        tok.encode(w if i == 0 else " " + w, add_special_tokens=False) for i, w in enumerate(words)
    ]
    ids = [tok.bos_token_id] + [t for p in pieces for t in p] + [tok.eos_token_id]
    logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
    scores, position = [], 0
    for piece in pieces:
        scores.append(sum(float(logp[position + j, t]) for j, t in enumerate(piece)))
        position += len(piece)
    return scores, float(logp[position, tok.eos_token_id])


def walk(lm, sentences, batched=True):
    """Per-word scores and end scores, asking position by position (batched over sentences)."""
    words = [s.split() for s in sentences]
    states = [lm.start() for _ in words]
    scores = [[] for _ in words]
    for position in range(max(len(w) for w in words)):
        active = [i for i, w in enumerate(words) if position < len(w)]
        requests = [(states[i], words[i][position]) for i in active]
        if batched:
            out = lm.score_words(requests)
        else:
            out = [lm.score_words([r])[0] for r in requests]
        for i, (logp, state) in zip(active, out, strict=True):
            scores[i].append(logp)
            states[i] = state
    ends = lm.score_end(states) if batched else [lm.score_end([s])[0] for s in states]
    return scores, ends, states


def test_batched_unbatched_and_full_forward_agree(lm_dir, expected):
    batched = HFCausalLM(lm_dir, batch_size=64)
    one_by_one = HFCausalLM(lm_dir, batch_size=1, kv_cache=False)
    for lm, is_batched, sentences in (
        (batched, True, SENTENCES),
        (one_by_one, False, SENTENCES[-3:]),
    ):
        scores, ends, _ = walk(lm, sentences, batched=is_batched)
        want = [expected[s] for s in sentences]
        for (ref_words, ref_end), got, end in zip(want, scores, ends, strict=True):
            assert got == pytest.approx(ref_words, abs=1e-4)
            assert end == pytest.approx(ref_end, abs=1e-4)


def test_one_call_mixing_cached_and_new_histories(lm_dir, expected):
    """Histories of every length in one padded batch, some extending cached keys/values."""
    lm = HFCausalLM(lm_dir, batch_size=5)
    walk(lm, SENTENCES[:2])  # caches keys/values for these histories
    del lm._kv[lm.start()]  # as if evicted: histories not sharing a cached prefix start afresh
    past_lengths = []
    run = lm._run
    lm._run = lambda jobs: past_lengths.append([j.past_len for j in jobs]) or run(jobs)
    states_of = {}
    for s in SENTENCES:
        words, state = s.split(), lm.start()
        for k, w in enumerate(words):
            states_of[(s, k)] = state
            state = state + lm.word_tokens(w, first=k == 0)
    requests = [(states_of[(s, k)], w) for s in SENTENCES for k, w in enumerate(s.split())]
    got = [logp for logp, _ in lm.score_words(requests[::-1])][::-1]
    want = [x for s in SENTENCES for x in expected[s][0]]
    assert got == pytest.approx(want, abs=1e-4)
    mixed = [lengths for lengths in past_lengths if min(lengths) == 0 and max(lengths) > 0]
    assert mixed, past_lengths  # the premise: one batch extends cached histories and starts others


def test_sentence_scores_are_word_scores_plus_end(lm_dir):
    lm = HFCausalLM(lm_dir, batch_size=3)
    scores, ends, _ = walk(HFCausalLM(lm_dir), SENTENCES)
    expected = [sum(w) + e for w, e in zip(scores, ends, strict=True)]
    assert lm.sentence_scores(SENTENCES) == pytest.approx(expected, abs=1e-4)
    assert lm.sentence_scores([""]) == pytest.approx(lm.score_end([lm.start()]), abs=1e-5)


def test_a_cache_hit_gives_the_same_values_without_running_the_model(lm_dir):
    lm = HFCausalLM(lm_dir)
    first = walk(lm, SENTENCES)
    calls = []
    forward = lm.model.forward
    lm.model.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
    assert walk(lm, SENTENCES) == first
    assert calls == []


def test_word_level_vocabulary_and_bpe_conventions(tmp_path):
    word_dir, bpe_dir = tmp_path / "word", tmp_path / "bpe"
    save_lm(word_dir, word_tokenizer())
    save_lm(bpe_dir, bpe_tokenizer())
    words = HFCausalLM(word_dir)
    assert words.word_is_known("cat") and not words.word_is_known("zebra")
    assert words.partial_is_known("ca") and not words.partial_is_known("zeb")
    [(unk_score, state)] = words.score_words([(words.start(), "zebra")])
    assert state == (words.bos_id, words.unk_id)
    bpe = HFCausalLM(bpe_dir)
    assert bpe.word_is_known("zebra") and bpe.partial_is_known("zeb")
    # GPT-2's convention: the whole sentence tokenised at once = word by word with leading spaces
    tok = bpe.tokenizer
    whole = tok.encode("the zebra sat", add_special_tokens=False)
    _, _, [state] = walk(bpe, ["the zebra sat"])
    assert list(state) == [tok.bos_token_id, *whole]
    assert bpe.word_tokens("zebra", first=False) != bpe.word_tokens("zebra", first=True)


def test_histories_longer_than_the_context_use_its_last_tokens(tmp_path):
    save_lm(tmp_path, word_tokenizer(), n_positions=8)
    lm = HFCausalLM(tmp_path)
    sentence = " ".join(["the cat sat on the mat"] * 3)  # 18 words + <s>: beyond 8 positions
    scores, end, [state] = walk(lm, [sentence])
    model = lm.model
    with torch.no_grad():
        window = torch.tensor([state[-8:]])
        logp = torch.log_softmax(model(input_ids=window).logits[0, -1], dim=-1)
    assert end[0] == pytest.approx(float(logp[lm.eos_id]), abs=1e-4)
    assert lm.sentence_scores([sentence]) == pytest.approx([sum(scores[0]) + end[0]], abs=1e-4)


def test_rescoring_decoder_orders_by_the_fused_score(lm_dir):
    from seqlab.decoding.factory import RescoringDecoder
    from seqlab.decoding.hypothesis import Hypothesis

    lm = HFCausalLM(lm_dir)
    good, bad = "the cat sat on the mat", "mat the on sat cat the"
    lm_good, lm_bad = lm.sentence_scores([good, bad])
    assert lm_good > lm_bad + 0.1  # the premise: the (random but peaked) LM prefers one order

    class FirstPass:  # a beam search that returned these n-best lists
        def decode_batch(self, log_probs, lengths=None):
            return [
                [
                    Hypothesis(bad, [], -1.0, -1.0, 0.0, 6),
                    Hypothesis(good, [], -1.05, -1.05, 0.0, 6),
                ]
            ]

    plain = RescoringDecoder(FirstPass(), lm, weight=0.0, nbest=2).decode_batch(None)[0]
    assert [h.text for h in plain] == [bad, good]  # acoustics alone: the first hypothesis wins
    fused = RescoringDecoder(FirstPass(), lm, weight=1.0, nbest=2).decode_batch(None)[0]
    assert [h.text for h in fused] == [good, bad]
    assert fused[0].score == pytest.approx(-1.05 + lm_good, abs=1e-4)
    assert fused[0].lm == pytest.approx(lm_good, abs=1e-4)


def test_load_lm_finds_hf_directories_and_rejects_other_models(lm_dir, tmp_path):
    checkpoint = tmp_path / "ckpt"
    (checkpoint / "hf").mkdir(parents=True)
    for f in lm_dir.iterdir():
        (checkpoint / "hf" / f.name).write_bytes(f.read_bytes())
    lm = load_lm(checkpoint, batch_size=4)
    assert isinstance(lm, HFCausalLM) and lm.batch_size == 4
    assert sentence_scores_by_words(lm, ["a cat"]) == pytest.approx(
        lm.sentence_scores(["a cat"]), abs=1e-4
    )
    speech = tmp_path / "speech"
    transformers.Wav2Vec2Config().save_pretrained(speech)
    assert json.loads((speech / "config.json").read_text())["model_type"] == "wav2vec2"
    with pytest.raises(ValueError, match="not a causal language model"):
        HFCausalLM(speech)
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFCausalLM(tmp_path)


def test_beam_search_fused_with_a_tiny_gpt2_equals_brute_force(lm_dir):
    """Shallow fusion with the neural LM: an exhaustive beam finds the best fused score of all
    label sequences, each scored by the same LM through the protocol, word by word."""
    import itertools

    import numpy as np

    from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder

    tokens = ["<blank>", " ", "a", "t"]  # spells "a", "at", "ta", ... ("a" is a word of TEXT)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, len(tokens))) * 2
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    lm = HFCausalLM(lm_dir)
    alpha, beta, unk = 0.8, 0.5, -2.0
    truth: dict[tuple, float] = {}
    for path in itertools.product(range(len(tokens)), repeat=len(lp)):
        labels, previous = [], None
        for k in path:
            if k != previous and k != 0:
                labels.append(k)
            previous = k
        score = float(sum(lp[t, k] for t, k in enumerate(path)))
        truth[tuple(labels)] = np.logaddexp(truth.get(tuple(labels), -np.inf), score)
    fused = {}
    for labels, acoustic in truth.items():
        words = "".join(tokens[i] for i in labels).split()
        lm_total = (
            lm.sentence_scores([" ".join(words)])[0] if words else lm.score_end([lm.start()])[0]
        )
        lm_total += sum(unk for w in words if not lm.word_is_known(w))
        fused[labels] = acoustic + alpha * lm_total + beta * len(words)
    best_labels, best = max(fused.items(), key=lambda kv: kv[1])
    decoder = CTCBeamSearchDecoder(
        tokens, beam_size=10_000, token_min_logp=None, beam_prune_logp=None, lm=lm,
        alpha=alpha, beta=beta, unk_offset=unk,
    )  # fmt: skip
    hyp = decoder.decode_batch([lp])[0][0]
    assert tuple(hyp.tokens) == best_labels
    assert hyp.score == pytest.approx(best, abs=1e-4)


@pytest.mark.parametrize("kind, n", [("word", 24), ("bpe", 10)])  # (BPE knows every word: slower)
def test_groups_with_a_neural_lm_decode_as_alone(tmp_path, kind, n):
    """Lock-step groups batch the neural LM's requests; each utterance still gets exactly the
    n-best list it gets alone. A fresh LM per decoder, so its batches and caches differ; in
    float64, where a history's scores do not depend on the batch it ran in (in float32 they move
    by ~2e-6, which alone would exceed the 1e-6 this test allows on a sentence's score)."""
    from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder
    from test_ctc_beam import CHARS, WORD_CORPUS, assert_groups_decode_as_alone, peaky_inputs

    save_lm(tmp_path, word_tokenizer(WORD_CORPUS) if kind == "word" else bpe_tokenizer(WORD_CORPUS))

    def make_decoder(group_size, workers):
        return CTCBeamSearchDecoder(
            CHARS,
            beam_size=6,
            nbest=3,
            lm=HFCausalLM(tmp_path, dtype=torch.float64),
            alpha=0.8,
            group_size=group_size,
        )

    assert_groups_decode_as_alone(make_decoder, peaky_inputs(7, n, len(CHARS)))
