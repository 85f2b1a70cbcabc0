"""The user's story for speech recognition: train from the CLI, then `seqlab eval` and `seqlab transcribe`
on a LibriSpeech-layout directory written by hand (conftest's ``librispeech_dir``, not by seqlab's
corpus writer)."""

import json

import numpy as np
import pytest
import soundfile as sf

import seqlab
from handwritten_librispeech import SENTENCES
from seqlab.cli import main


@pytest.fixture(scope="module")
def corpus(librispeech_dir):
    """The session's hand-written LibriSpeech directory (tests/conftest.py)."""
    return librispeech_dir


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    code = main(
        [
            "train",
            "asr_bilstm",
            "data=librispeech",
            f"data.root={corpus}",
            "model.hidden_size=32",
            "model.num_layers=1",
            "trainer.max_steps=6",
            "trainer.n_epochs=3",
            "trainer.num_workers=0",
            f"trainer.runs_root={runs}",
            "trainer.run_name=tiny",
            "trainer.progress=plain",
            "writer=jsonl",
        ]
    )
    assert code == 0
    return runs / "asr_bilstm" / "tiny"


def test_train_writes_a_complete_run_directory(trained):
    for name in ("config.yaml", "overrides.txt", "env.json", "metrics.jsonl"):
        assert (trained / name).is_file(), name
    best = trained / "checkpoints" / "best"
    assert (best / "model.safetensors").is_file() and (best / "vocab.json").is_file()
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if "val_wer" in r]
    assert val and all(np.isfinite(r["val_wer"]) for r in val)
    assert "data.root" in (trained / "overrides.txt").read_text()


def test_eval_on_a_hand_written_librispeech_dir(trained, corpus, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = main(
        ["eval", str(trained / "checkpoints" / "best"), f"data.root={corpus}", "--out", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text())
    # the item whose audio is missing is left out, reported, and scored as all errors
    assert result["subsets"] == ["test-clean"] and result["n_items"] == 4
    assert result["left_out"]["reasons"] == {"missing_file": 1}
    assert 0.0 <= result["metrics"]["cer"] and result["metrics"]["wer"] >= 0.0
    refs = {u["reference"] for u in result["utterances"]}
    assert refs == {*SENTENCES[3:], "this file is missing"}
    assert all({"id", "path", "hypothesis", "wer", "cer"} <= set(u) for u in result["utterances"])
    printed = capsys.readouterr()
    assert "wer=" in printed.out
    # the 22,050 Hz test audio is resampled to the model's rate: said once, not silently
    n = len(SENTENCES[3:])
    assert f"test: {n} of {n} items are resampled to the model's 16000 Hz on load" in printed.err
    assert f"({n} at 22050 Hz)" in printed.err
    # the Python API scores the same
    again = seqlab.evaluate(
        trained / "checkpoints" / "best", [f"data.root={corpus}"], out=tmp_path / "api.json"
    )
    assert again["metrics"] == result["metrics"] and again["n_items"] == result["n_items"]


def test_transcribe_cli_json_and_python_api(trained, corpus, capsys):
    files = sorted((corpus / "test-clean").rglob("*.flac"))
    code = main(["transcribe", str(trained / "checkpoints" / "best"), *map(str, files), "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["path"] for d in lines] == [str(f) for f in files]
    assert all(isinstance(d["text"], str) for d in lines)
    model = seqlab.load(trained / "checkpoints" / "best")
    wave, rate = sf.read(files[0], dtype="float32")
    # arrays at their own rate give the same text as the file
    assert model.transcribe(wave, sample_rate=rate) == lines[0]["text"]
    assert model.transcribe([str(files[0]), str(files[1])]) == [lines[0]["text"], lines[1]["text"]]


def test_transcribe_reports_an_unreadable_file_and_goes_on(trained, corpus, tmp_path, capsys):
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"not audio at all")
    good = sorted((corpus / "dev-clean").rglob("*.flac"))[0]
    code = main(["transcribe", str(trained / "checkpoints" / "best"), str(bad), str(good)])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.flac" in captured.err
    assert len(captured.out.strip().splitlines()) == 1


def tiny_train_args(corpus, runs, name, *extra):
    return [
        "train",
        "asr_bilstm",
        "data=librispeech",
        f"data.root={corpus}",
        "model.hidden_size=16",
        "model.num_layers=1",
        "trainer.num_workers=0",
        f"trainer.runs_root={runs}",
        f"trainer.run_name={name}",
        "trainer.progress=none",
        "writer=jsonl",
        *extra,
    ]


def test_resume_with_more_epochs_continues_the_same_run(corpus, tmp_path):
    """The report's workflow: train n epochs, then resume from best with a larger n_epochs."""
    from seqlab.engine.writers import read_events, read_metrics, training_seconds

    assert main(tiny_train_args(corpus, tmp_path, "grow", "trainer.n_epochs=1")) == 0
    run = tmp_path / "asr_bilstm" / "grow"
    steps_one_epoch = max(r["step"] for r in read_metrics(run))
    best = run / "checkpoints" / "best"
    assert (
        main(
            tiny_train_args(
                corpus, tmp_path, "ignored", "trainer.n_epochs=2", f"trainer.resume_from={best}"
            )
        )
        == 0
    )
    assert not (tmp_path / "asr_bilstm" / "ignored").exists()  # the resumed run keeps its directory
    events = [e["event"] for e in read_events(run)]
    assert events == ["start", "end", "resume", "start", "end"]
    assert max(r["step"] for r in read_metrics(run)) > steps_one_epoch
    assert training_seconds(run) > 0
    assert "trainer.n_epochs=2" in (run / "overrides.txt").read_text()


def test_sentencepiece_vocabulary_trains_and_transcribes(corpus, tmp_path):
    args = tiny_train_args(
        corpus,
        tmp_path,
        "sp",
        "data.vocab=sentencepiece",
        "data.vocab_size=40",
        "trainer.max_steps=2",
    )
    assert main(args) == 0
    best = tmp_path / "asr_bilstm" / "sp" / "checkpoints" / "best"
    assert (best / "sentencepiece.model").is_file()
    model = seqlab.load(best)
    assert len(model.task.vocab) == 41  # 40 pieces + the CTC blank
    assert isinstance(model.transcribe(sorted(corpus.rglob("*.flac"))[0]), str)


def test_asr_resume_is_exact_with_augmentations(corpus, tmp_path):
    """Train 6 steps straight; train 3, resume from `last` to 6: same losses, same weights.

    All augmentations of `augment=default` are on (each draws from the RNG for every batch) and
    dropout is 0.3, so the RNG states in the checkpoint are what makes the two runs agree.
    """
    import torch
    from safetensors.torch import load_file

    from seqlab.engine.writers import read_metrics

    common = [
        "lr_scheduler=none",
        "trainer.log_every_n_steps=1",
        "trainer.save_every_n_steps=1",
        "trainer.val_every_n_epochs=null",
        "model.dropout=0.3",
    ]
    assert main(tiny_train_args(corpus, tmp_path, "straight", "trainer.max_steps=6", *common)) == 0
    assert main(tiny_train_args(corpus, tmp_path, "split", "trainer.max_steps=3", *common)) == 0
    split = tmp_path / "asr_bilstm" / "split"
    resume = [f"trainer.resume_from={split / 'checkpoints' / 'last'}", "trainer.max_steps=6"]
    assert main(tiny_train_args(corpus, tmp_path, "split", *common, *resume)) == 0

    def losses(run):
        return [(r["step"], r["loss"]) for r in read_metrics(run) if r.get("split") == "train"]

    straight = tmp_path / "asr_bilstm" / "straight"
    assert len(losses(straight)) == 6 and losses(split) == losses(straight)
    a = load_file(straight / "checkpoints" / "last" / "model.safetensors")
    b = load_file(split / "checkpoints" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def ngram(tmp_path_factory):
    """A 3-gram ARPA model of the corpus's sentences, built through the CLI."""
    folder = tmp_path_factory.mktemp("lm")
    text = folder / "text.txt"
    text.write_text("\n".join(SENTENCES * 3) + "\n")
    assert (
        main(["lm", "build-ngram", str(text), "--order", "3", "--out", str(folder / "lm.arpa")])
        == 0
    )
    return folder / "lm.arpa"


def test_eval_reports_each_decoder_side_by_side(trained, corpus, ngram, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", str(trained / "checkpoints" / "best"), f"data.root={corpus}", "--out", str(out)]
    code = main(
        [*argv, "--decoder", "beam", "--beam-size", "4", "--lm", str(ngram), "--alpha", "0.3"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    names = [row["decoder"] for row in result["decoders"]]
    assert names[0] == "greedy" and names[1] == "beam4" and names[2].startswith("beam4+lm.arpa")
    for row in result["decoders"]:
        assert row["decoder"] in printed
        assert 0.0 <= row["wer"] and 0.0 <= row["cer"] and row["utterances_per_second"] > 0
        # the end-to-end speed counts the model's forward pass too, not only decoding
        total = row["end_to_end_utterances_per_second"]
        decoded = result["n_items"] - result["left_out"]["count"]  # the left-out item is not
        expected = decoded / (result["forward_seconds"] + row["seconds"])
        assert total == pytest.approx(expected, rel=0.15)  # (forward_seconds is rounded)
        assert 0 < total < row["utterances_per_second"]
    assert "decode utt/s" in printed and "total utt/s" in printed
    # the headline metrics are the last configuration's (the one asked for)
    assert result["metrics"]["wer"] == pytest.approx(result["decoders"][-1]["wer"])
    assert "log_probs" not in json.dumps(result["utterances"][0])
    # an LM that does not exist is named, nothing is written
    code = main([*argv, "--decoder", "beam", "--lm", str(tmp_path / "nope.arpa")])
    assert code == 2 and "nope.arpa" in capsys.readouterr().err


def test_transcribe_with_beam_and_lm_prints_nbest(trained, corpus, ngram, capsys):
    files = sorted((corpus / "test-clean").rglob("*.flac"))[:2]
    ckpt = str(trained / "checkpoints" / "best")
    code = main(
        ["transcribe", ckpt, *map(str, files), "--json", "--lm", str(ngram), "--nbest", "3"]
    )
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2
    for row in rows:
        scores = [h["score"] for h in row["nbest"]]
        assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True)
        assert row["text"] == row["nbest"][0]["text"]
    # beam size 1 without an LM is greedy decoding
    assert main(["transcribe", ckpt, *map(str, files), "--json"]) == 0
    greedy = [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()]
    assert main(["transcribe", ckpt, *map(str, files), "--json", "--beam-size", "1"]) == 0
    beam1 = [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()]
    assert beam1 == greedy


def test_tune_decoder_prints_the_grid_and_the_best_pair(trained, corpus, ngram, tmp_path, capsys):
    out = tmp_path / "tune.json"
    ckpt = str(trained / "checkpoints" / "best")
    code = main(
        ["tune-decoder", ckpt, f"data.root={corpus}", "--lm", str(ngram), "--alphas", "0,0.5",
         "--betas", "0,1", "--beam-size", "3", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert len(result["rows"]) == 4 and result["split"] == "val"
    assert result["best"]["wer"] == min(r["wer"] for r in result["rows"])
    assert "best on val" in printed and "--alpha" in printed
    # without an LM there is nothing to tune
    assert main(["tune-decoder", ckpt, f"data.root={corpus}"]) == 2
    assert "--lm" in capsys.readouterr().err
