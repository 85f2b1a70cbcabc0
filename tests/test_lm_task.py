"""The user's story for language models: train `lm_gpt2_small` from the CLI on a small text corpus,
then load the checkpoint's hf/ folder with plain transformers, evaluate it and score sentences."""

import json
import math

import pytest
import torch

transformers = pytest.importorskip("transformers")
import seqlab  # noqa: E402
from seqlab.corpora.synth_text import SentenceGenerator  # noqa: E402
from seqlab.decoding.lm import load_lm  # noqa: E402
from seqlab.decoding.lm.neural import HFCausalLM  # noqa: E402
from seqlab.evaluation import evaluate  # noqa: E402
from seqlab.inference import load_task  # noqa: E402

LONG = " ".join(["and then"] * 20)  # 40 words: longer than n_positions=32, must be left out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    sentences = SentenceGenerator(7).sentences(400)
    (root / "train.txt").write_text("\n".join(sentences[:300] + ["", LONG]) + "\n")
    (root / "val.txt").write_text("\n".join(s.upper() + "." for s in sentences[300:340]) + "\n")
    chapter = root / "test" / "19" / "198"  # a LibriSpeech-layout subset: transcripts only
    chapter.mkdir(parents=True)
    lines = [f"19-198-{i:04d} {s.upper()}" for i, s in enumerate(sentences[340:])]
    (chapter / "19-198.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def train_tiny(corpus, runs, kind):
    summary = seqlab.train(
        "lm_gpt2_small",
        [
            f"data.root={corpus}",
            "data.train=[train.txt]",
            "data.val=[val.txt]",
            "data.max_batch_tokens=512",
            f"tokenizer.kind={kind}",
            "tokenizer.vocab_size=400",
            "model.n_layer=1",
            "model.n_embd=32",
            "model.n_head=2",
            "model.n_positions=32",
            "trainer.n_epochs=3",
            "trainer.val_at_start=true",
            "trainer.precision=fp32",
            f"trainer.runs_root={runs}",
            f"trainer.run_name={kind}",
            "trainer.progress=none",
            "writer=jsonl",
        ],
    )
    return summary


@pytest.fixture(scope="module")
def word_run(corpus, tmp_path_factory):
    return train_tiny(corpus, tmp_path_factory.mktemp("runs"), "word")


def test_training_logs_perplexity_and_learns(word_run):
    run_dir = word_run["run_dir"]
    rows = [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]
    val = [r for r in rows if "val_ppl" in r]
    assert len(val) == 4  # at start + after each of 3 epochs
    for r in val:
        assert r["val_ppl"] == pytest.approx(math.exp(r["val_loss"]), rel=1e-6)
        assert r["val_word_ppl"] == pytest.approx(r["val_ppl"], rel=1e-6)  # one token per word
    assert val[-1]["val_ppl"] < 0.5 * val[0]["val_ppl"]
    bad = [json.loads(line) for line in open(f"{run_dir}/bad_items.jsonl")]
    assert [(b["id"], b["reason"]) for b in bad] == [("train.txt:302", "too_long")]


def test_hf_folder_loads_with_plain_transformers_and_matches_seqlab(word_run, corpus):
    best = word_run["best_checkpoint"]
    model = transformers.AutoModelForCausalLM.from_pretrained(f"{best}/hf").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(f"{best}/hf")
    task, _ = load_task(best)
    sentence = next(  # a training sentence without rare (<unk>) words
        s
        for s in SentenceGenerator(7).sentences(300)
        if tokenizer.unk_token_id not in tokenizer.encode(s, add_special_tokens=False)
    )
    ids = [tokenizer.bos_token_id, *tokenizer.encode(sentence, add_special_tokens=False)]
    assert tokenizer.decode(ids[1:]) == sentence
    with torch.no_grad():
        theirs = model(input_ids=torch.tensor([ids])).logits
        ours = task.model(input_ids=torch.tensor([ids])).logits
    torch.testing.assert_close(theirs, ours)
    assert model.config.eos_token_id == tokenizer.eos_token_id == task.eos_id


def test_eval_and_fusion_lm_agree_on_sentence_scores(word_run, tmp_path):
    best = word_run["best_checkpoint"]
    result = evaluate(best, split="test", out=tmp_path / "eval.json")
    assert result["n_items"] == 60 and result["subsets"] == ["test"]
    assert result["metrics"]["ppl"] == pytest.approx(math.exp(result["metrics"]["loss"]))
    rows = result["utterances"][:5]
    lm = load_lm(best)  # a checkpoint directory: its hf/ folder
    assert isinstance(lm, HFCausalLM)
    scores = lm.sentence_scores([r["text"] for r in rows])
    assert scores == pytest.approx([-r["nll"] for r in rows], abs=1e-3)
    in_memory = seqlab.load(best)  # the Python API: the task's own model, same scores
    assert isinstance(in_memory, HFCausalLM)
    assert in_memory.sentence_scores([r["text"] for r in rows]) == pytest.approx(scores, abs=1e-4)


def test_bpe_tokenizer_run(corpus, tmp_path):
    summary = train_tiny(corpus, tmp_path, "bpe")
    hf = f"{summary['best_checkpoint']}/hf"
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf)
    assert tokenizer.bos_token == tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.decode(tokenizer.encode("zebras dance")) == "zebras dance"  # no unknown words
    assert summary["val_metrics"]["val_word_ppl"] > 1.0
    lm = load_lm(hf)
    assert lm.word_is_known("zebras")
    [(score, state)] = lm.score_words([(lm.start(), "zebras")])
    assert math.isfinite(score) and len(state) > 2  # several pieces


def test_resume_takes_the_tokenizer_from_the_checkpoint(word_run, corpus, monkeypatch):
    """Resuming must not rebuild the tokenizer (a changed text would change the vocabulary)."""

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the tokenizer was rebuilt on resume")

    monkeypatch.setattr("seqlab.tasks.lm.task.build_tokenizer", no_rebuild)
    last = f"{word_run['run_dir']}/checkpoints/last"
    summary = seqlab.train(
        "lm_gpt2_small",
        [
            f"data.root={corpus}",
            "data.train=[train.txt]",
            "data.val=[val.txt]",
            "data.max_batch_tokens=512",
            "tokenizer.vocab_size=400",
            "model.n_layer=1",
            "model.n_embd=32",
            "model.n_head=2",
            "model.n_positions=32",
            "trainer.n_epochs=3",
            "trainer.precision=fp32",
            f"trainer.resume_from={last}",
            "trainer.progress=none",
            "writer=jsonl",
        ],
    )
    assert summary["run_dir"] == word_run["run_dir"] and summary["step"] == word_run["step"]
