"""The bad-input matrix: every input a careless or unlucky user gives seqlab gets a clear answer
(an error naming the input, or a reported skip), never a traceback and never a silently wrong result.

One test per row, through the CLI as a user runs it; tiny checkpoints are built once per module.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import seqlab
from seqlab.cli import main
from test_mt_cli import TINY_TRANSFORMER

RATE = 16000


# ---- tiny checkpoints (one of each kind per module) ---------------------------------------------
@pytest.fixture(scope="module")
def asr_corpus(librispeech_dir):
    """The session's hand-written LibriSpeech directory (tests/conftest.py): its test split
    holds an item whose audio is missing, which evaluation leaves out, reports and scores."""
    return librispeech_dir


@pytest.fixture(scope="module")
def asr_run(asr_corpus, tmp_path_factory):
    """A one-step Conformer-CTC run (its subsampling convolutions give it a minimum input length)."""
    runs = tmp_path_factory.mktemp("runs")
    code = main(
        [
            "train", "asr_conformer", "data=librispeech", f"data.root={asr_corpus}",
            "model.d_model=16", "model.num_layers=1", "model.num_heads=2",
            "trainer.max_steps=1", "trainer.n_epochs=1", "trainer.num_workers=0",
            f"trainer.runs_root={runs}", "trainer.run_name=asr", "trainer.progress=none",
            "writer=jsonl",
        ]
    )  # fmt: skip
    assert code == 0
    return runs / "asr_conformer" / "asr"


MAX_SRC = 30  # the MT model's maximum source length (data.max_src_tokens of its training)


def mt_args(corpus, runs, name, *extra):
    return [
        "train", "mt_transformer", f"data.root={corpus}", *TINY_TRANSFORMER,
        "model.positions=learned", "model.max_positions=40", f"data.max_src_tokens={MAX_SRC}",
        "trainer.max_steps=1", "trainer.n_epochs=1", f"trainer.runs_root={runs}",
        f"trainer.run_name={name}", "trainer.progress=none", "trainer.precision=fp32",
        "writer=jsonl", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def mt_run(mt_corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(mt_args(mt_corpus, runs, "mt", "lr_scheduler.warmup_steps=0")) == 0
    return runs / "mt_transformer" / "mt"


@pytest.fixture(scope="module")
def vocoder(tmp_path_factory):
    """A tiny random HiFi-GAN generator in the official layout (``seqlab vocode --official-config``)."""
    from seqlab.models.vocoder.hifigan import HiFiGANGenerator
    from seqlab.models.vocoder.official import save_official_generator

    config = {
        "resblock": "1", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
        "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3]], "num_mels": 80, "n_fft": 1024, "hop_size": 256,
        "win_size": 1024, "sampling_rate": 22050, "fmin": 0, "fmax": 8000,
    }  # fmt: skip
    torch.manual_seed(0)
    keys = [k for k in config if k.startswith(("resblock", "upsample"))]
    generator = HiFiGANGenerator(n_mels=80, **{k: config[k] for k in keys})
    path = save_official_generator(generator, tmp_path_factory.mktemp("hifigan") / "g_0", config)
    return ["vocode", str(path), "--official-config", str(path.parent / "config.json")]


def mel(frames=20, seed=0):
    return np.random.default_rng(seed).normal(-5, 1, size=(80, frames)).astype(np.float32)


def noise(seconds, seed=0):
    n = int(round(seconds * RATE))
    return np.random.default_rng(seed).normal(0, 0.1, n).astype(np.float32)


# ---- transcribe ---------------------------------------------------------------------------------
def test_transcribe_nan_or_inf_samples_is_a_per_file_error(asr_run, tmp_path, capsys):
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        wave = noise(1.0)
        wave[100] = bad
        sf.write(tmp_path / f"{name}.wav", wave, RATE, subtype="FLOAT")
    sf.write(tmp_path / "good.wav", noise(1.0), RATE)
    files = [str(tmp_path / f) for f in ("nan.wav", "good.wav", "inf.wav")]
    code = main(["transcribe", str(asr_run), *files, "--json"])
    out, err = capsys.readouterr()
    assert code == 1  # some files failed
    assert [json.loads(line)["path"] for line in out.splitlines()] == [files[1]]
    assert re.search(r"nan\.wav: .*NaN", err) and re.search(r"inf\.wav: .*inf", err)
    assert "Traceback" not in err


def test_transcribe_digital_silence_is_empty_text_with_a_warning(asr_run, tmp_path, capsys):
    sf.write(tmp_path / "silence.wav", np.zeros(RATE, np.float32), RATE)
    assert main(["transcribe", str(asr_run), str(tmp_path / "silence.wav"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == ""
    assert "silence" in row["warning"]


def test_transcribe_too_short_names_the_models_real_minimum(asr_run, tmp_path, capsys):
    sf.write(tmp_path / "short.wav", noise(0.05), RATE)
    assert main(["transcribe", str(asr_run), str(tmp_path / "short.wav")]) == 1
    err = capsys.readouterr().err
    found = re.search(r"short\.wav: too short \(0\.05 s < ([0-9.]+) s", err)
    assert found, err
    minimum = float(found.group(1))
    assert 0.05 < minimum < 1.0
    # the named minimum is real: a clip that long transcribes, one 10 ms shorter does not
    sf.write(tmp_path / "ok.wav", noise(minimum), RATE)
    assert main(["transcribe", str(asr_run), str(tmp_path / "ok.wav")]) == 0
    sf.write(tmp_path / "under.wav", noise(minimum - 0.01), RATE)
    assert main(["transcribe", str(asr_run), str(tmp_path / "under.wav")]) == 1
    assert "too short" in capsys.readouterr().err


def test_transcribe_directory_or_missing_path(asr_run, tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    sf.write(tmp_path / "good.wav", noise(1.0), RATE)
    args = [str(tmp_path / "folder"), str(tmp_path / "missing.wav"), str(tmp_path / "good.wav")]
    assert main(["transcribe", str(asr_run), *args]) == 1
    out, err = capsys.readouterr()
    assert "folder: is a directory" in err and "missing.wav: not found" in err
    assert len(out.splitlines()) == 1  # the good file is still transcribed


def test_python_api_gives_the_same_clear_errors(asr_run, tmp_path):
    model = seqlab.load(asr_run)
    wave = noise(1.0)
    wave[5] = np.nan
    sf.write(tmp_path / "nan.wav", wave, RATE, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan\.wav: .*NaN"):
        model.transcribe(str(tmp_path / "nan.wav"))
    with pytest.raises(ValueError, match=r"input 2: .*NaN"):
        model.transcribe([noise(1.0), wave])
    with pytest.raises(ValueError, match=r"too short \(0\.05 s <"):
        model.transcribe(noise(0.05))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        model.transcribe(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"missing\.wav: not found"):
        model.transcribe(str(tmp_path / "missing.wav"))
    with pytest.warns(UserWarning, match="silence"):
        assert model.transcribe(np.zeros(RATE, np.float32)) == ""
    # silence skipped inside a batch: every other input keeps its own text, as if alone
    waves = [noise(0.8 + 0.3 * seed, seed) for seed in range(3)]  # padded in the batch
    alone = [model.transcribe(w) for w in waves]
    with pytest.warns(UserWarning, match="input 2: digital silence"):
        batched = model.transcribe([waves[0], np.zeros(RATE, np.float32), *waves[1:]], batch_size=2)
    assert batched == [alone[0], "", *alone[1:]]


# ---- translate ----------------------------------------------------------------------------------
def test_translate_empty_lines_give_empty_lines_and_the_stream_goes_on(
    mt_run, mt_corpus, tmp_path, capsys
):
    src = (mt_corpus / "test1.de-en.de").read_text(encoding="utf-8").splitlines()[:3]
    lines = [src[0], "", "   ", src[1], "\t", src[2]]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (
        main(["translate", str(mt_run), "--input", str(tmp_path / "in.txt"), "--batch-size", "4"])
        == 0
    )
    out = capsys.readouterr().out.split("\n")
    assert out[-1] == "" and len(out[:-1]) == len(lines)  # one output line per input line
    assert out[1] == out[2] == out[4] == ""
    (tmp_path / "alone.txt").write_text("\n".join(src) + "\n", encoding="utf-8")
    assert main(["translate", str(mt_run), "--input", str(tmp_path / "alone.txt")]) == 0
    alone = capsys.readouterr().out.splitlines()
    assert [out[0], out[3], out[5]] == alone


def test_translate_non_utf8_names_the_line_via_stdin_and_input(mt_run, tmp_path, capsys):
    data = b"der hund\n" + "das b\xe4r\n".encode("latin-1") + b"die katze\n"
    (tmp_path / "latin.txt").write_bytes(data)
    code = main(["translate", str(mt_run), "--input", str(tmp_path / "latin.txt")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "line 2" in err and "UTF-8" in err and "Traceback" not in err
    assert len(out.splitlines()) == 3 and out.splitlines()[1] == ""
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli", "translate", str(mt_run)],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout.decode() == out
    assert "line 2" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def test_translate_long_line_is_split_with_a_warning_never_cut(mt_run, mt_corpus, tmp_path, capsys):
    src = (mt_corpus / "train.de-en.de").read_text(encoding="utf-8").splitlines()
    # sentences any two of which exceed the model's maximum together, each ending in punctuation
    long = [s for s in src if MAX_SRC // 2 < len(s.split()) <= MAX_SRC and s.endswith(".")][:3]
    assert len(long) == 3
    line = " ".join(long)
    assert len(line.split()) > MAX_SRC
    (tmp_path / "in.txt").write_text(f"{src[0]}\n{line}\n", encoding="utf-8")
    assert main(["translate", str(mt_run), "--input", str(tmp_path / "in.txt")]) == 0
    out, err = capsys.readouterr()
    assert re.search(rf"line 2: .*{len(line.split())} tokens.*maximum of {MAX_SRC}", err), err
    (tmp_path / "pieces.txt").write_text("\n".join(long) + "\n", encoding="utf-8")
    assert main(["translate", str(mt_run), "--input", str(tmp_path / "pieces.txt")]) == 0
    pieces = capsys.readouterr().out.splitlines()
    assert out.splitlines()[1] == " ".join(p for p in pieces if p)


# ---- vocode -------------------------------------------------------------------------------------
def test_vocode_nan_or_inf_mel_is_a_per_file_error(vocoder, tmp_path, capsys):
    for name, bad in (("nan", np.nan), ("inf", -np.inf)):
        m = mel()
        m[3, 5] = bad
        np.save(tmp_path / f"{name}.npy", m)
    np.save(tmp_path / "good.npy", mel())
    files = [str(tmp_path / f) for f in ("nan.npy", "good.npy", "inf.npy")]
    out_dir = tmp_path / "out"
    assert main([*vocoder, *files, "--out", str(out_dir)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"nan\.npy: .*NaN", err) and re.search(r"inf\.npy: .*inf", err)
    assert sorted(p.name for p in out_dir.iterdir()) == ["good.wav"]


def test_vocode_a_mel_without_frames_is_a_clear_error(vocoder, tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((80, 0), np.float32))
    np.save(tmp_path / "good.npy", mel())
    out_dir = tmp_path / "out"
    code = main(
        [*vocoder, str(tmp_path / "empty.npy"), str(tmp_path / "good.npy"), "--out", str(out_dir)]
    )
    err = capsys.readouterr().err
    assert code == 1 and "empty.npy" in err and "no frames" in err and "Traceback" not in err
    assert (out_dir / "good.wav").is_file()


def test_vocode_inputs_with_the_same_stem_get_distinct_outputs(vocoder, tmp_path, capsys):
    for sub, frames in (("a", 20), ("b", 12)):
        (tmp_path / sub).mkdir()
        np.save(tmp_path / sub / "x.npy", mel(frames))
    inputs = [str(tmp_path / "a" / "x.npy"), str(tmp_path / "b" / "x.npy")]
    out_dir = tmp_path / "out"
    assert main([*vocoder, *inputs, "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    written = {}
    for line in out.splitlines():
        source, _, target = line.partition(" -> ")
        written[source] = target
    assert set(written) == set(inputs) and len(set(written.values())) == 2
    for source, frames in zip(inputs, (20, 12), strict=True):
        assert len(sf.read(written[source])[0]) == frames * 256  # each output is its own input's


def test_vocode_odd_names_are_handled_and_later_inputs_written(vocoder, tmp_path, capsys):
    (tmp_path / "odd").mkdir()
    np.save(tmp_path / "odd" / "..npy", mel(20))
    shutil.copy(tmp_path / "odd" / "..npy", tmp_path / "odd" / ".npy")
    np.save(tmp_path / "later.npy", mel(10))
    inputs = [
        str(tmp_path / "odd" / "..npy"),
        str(tmp_path / "odd" / ".npy"),
        str(tmp_path / "later.npy"),
    ]
    out_dir = tmp_path / "out"
    assert main([*vocoder, *inputs, "--out", str(out_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    targets = [Path(line.partition(" -> ")[2]) for line in lines]
    assert len(set(targets)) == 3 and all(t.parent == out_dir and t.is_file() for t in targets)
    assert all(not t.name.startswith(".") for t in targets)
    assert len(sf.read(out_dir / "later.wav")[0]) == 10 * 256


# ---- train --------------------------------------------------------------------------------------
def test_train_override_of_the_wrong_type_fails_before_any_run_dir(mt_corpus, tmp_path, capsys):
    for override, expected in (
        ("trainer.n_epochs=abc", "integer"),
        ("trainer.val_at_start=maybe", "boolean"),
        ("optimizer.lr=fast", "number"),
        ("trainer.n_epochs=2.5", "integer"),
    ):
        code = main(mt_args(mt_corpus, tmp_path / "runs", "typed", override))
        err = capsys.readouterr().err
        key, _, value = override.partition("=")
        assert code == 2, override
        assert key in err and repr(value) in err and expected in err, err
        assert not (tmp_path / "runs").exists()
    # a float key takes an int, a null key takes anything: no false alarms
    from seqlab.config import compose_experiment

    cfg = compose_experiment("mt_transformer", ["optimizer.lr=1", "trainer.max_steps=7"])
    assert cfg.optimizer.lr == 1 and cfg.trainer.max_steps == 7


def test_train_misaligned_parallel_files_is_the_clear_message(mt_corpus, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(mt_corpus, corpus)
    target = corpus / "train.de-en.en"
    target.write_text("".join(target.read_text().splitlines(keepends=True)[1:]))
    code = main(mt_args(corpus, tmp_path / "runs", "mis"))
    err = capsys.readouterr().err
    assert code == 2
    assert "has 399 lines but" in err and "line-aligned" in err  # 400 pairs, one line cut
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_resume_from_a_missing_path_is_one_line(mt_corpus, tmp_path, capsys):
    code = main(
        mt_args(mt_corpus, tmp_path / "runs", "r", f"trainer.resume_from={tmp_path / 'nope'}")
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "trainer.resume_from" in err and "nope" in err
    assert not (tmp_path / "runs").exists()


def test_train_resume_from_another_experiments_checkpoint_is_refused(
    mt_corpus, asr_run, tmp_path, capsys
):
    before = {p.name: p.read_bytes() for p in asr_run.iterdir() if p.is_file()}
    best = asr_run / "checkpoints" / "best"
    code = main(mt_args(mt_corpus, tmp_path / "runs", "r", f"trainer.resume_from={best}"))
    err = capsys.readouterr().err
    assert code == 2 and "asr_conformer" in err and "mt_transformer" in err
    after = {p.name: p.read_bytes() for p in asr_run.iterdir() if p.is_file()}
    assert after == before  # nothing written into the other run
    assert not (tmp_path / "runs").exists()


def test_train_resume_from_a_checkpoint_outside_a_run_dir_makes_a_new_run(
    mt_run, mt_corpus, tmp_path, capsys
):
    copy = tmp_path / "shared" / "best"
    shutil.copytree((mt_run / "checkpoints" / "last").resolve(), copy)
    runs = tmp_path / "runs"
    args = mt_args(mt_corpus, runs, "resumed", f"trainer.resume_from={copy}", "trainer.max_steps=2")
    assert main([*args, "lr_scheduler.warmup_steps=0"]) == 0
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["best"]
    run = runs / "mt_transformer" / "resumed"
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last").exists()
    steps = [
        json.loads(line).get("step") for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert max(s for s in steps if s is not None) == 2  # it continued from step 1


def test_train_resume_with_another_model_size_is_one_line_and_writes_nothing(
    mt_run, mt_corpus, tmp_path, capsys
):
    before = sorted(p.name for p in mt_run.iterdir())
    config = (mt_run / "config.yaml").read_bytes()
    last = mt_run / "checkpoints" / "last"
    args = mt_args(mt_corpus, tmp_path, "mt", f"trainer.resume_from={last}", "model.d_model=48")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "do not fit" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in mt_run.iterdir()) == before
    assert (mt_run / "config.yaml").read_bytes() == config


def test_train_warmup_longer_than_the_run_is_clamped_with_a_warning(mt_corpus, tmp_path):
    with pytest.warns(UserWarning, match=r"warmup_steps=300 .*1 optimizer step"):
        assert main(mt_args(mt_corpus, tmp_path / "runs", "wu")) == 0  # mt_triangle: warm-up 300


# ---- eval ---------------------------------------------------------------------------------------
def test_eval_records_left_out_items_and_writes_them_to_the_output_dir(
    asr_run, asr_corpus, tmp_path, capsys
):
    from seqlab.metrics.asr import corpus_wer_cer

    out = tmp_path / "results" / "eval.json"
    argv = ["eval", str(asr_run / "checkpoints" / "best"), f"data.root={asr_corpus}"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"1 item left out", printed)
    result = json.loads(out.read_text())
    assert result["left_out"]["count"] == 1
    assert result["left_out"]["reasons"] == {"missing_file": 1}
    assert result["left_out"]["scored_as"] == "errors"
    bad = [json.loads(line) for line in (out.parent / "bad_items.jsonl").read_text().splitlines()]
    assert [(b["id"], b["split"]) for b in bad] == [("61-70968-0099", "test")]
    assert not (asr_run / "bad_items.jsonl").exists()
    assert not list((asr_run / "checkpoints").rglob("bad_items.jsonl"))
    # the left-out item counts as an error (an empty hypothesis) ...
    rows = result["utterances"]
    assert len(rows) == 4 and {r["id"]: r["hypothesis"] for r in rows}["61-70968-0099"] == ""
    expected = corpus_wer_cer([r["reference"] for r in rows], [r["hypothesis"] for r in rows])
    assert result["metrics"]["wer"] == pytest.approx(float(expected["wer"]))
    # ... unless the user asks otherwise
    out2 = tmp_path / "results2" / "eval.json"
    assert main([*argv, "--out", str(out2), "--exclude-left-out"]) == 0
    result2 = json.loads(out2.read_text())
    assert result2["left_out"]["scored_as"] == "excluded" and len(result2["utterances"]) == 3


def test_eval_of_a_copied_checkpoint_writes_nothing_into_it(
    asr_run, asr_corpus, tmp_path, monkeypatch, capsys
):
    copy = tmp_path / "from_a_friend" / "best"
    shutil.copytree((asr_run / "checkpoints" / "best").resolve(), copy)
    before = sorted(p.name for p in copy.parent.rglob("*"))
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(copy), f"data.root={asr_corpus}"]) == 0
    assert sorted(p.name for p in copy.parent.rglob("*")) == before
    written = Path(capsys.readouterr().out.splitlines()[-1].removeprefix("wrote "))
    assert written.is_file() and copy.parent not in written.parents
    assert (written.parent / "bad_items.jsonl").is_file()


def test_eval_of_a_split_the_data_config_lacks_names_the_splits(
    asr_run, asr_corpus, tmp_path, capsys
):
    ckpt = str(asr_run / "checkpoints" / "best")
    out = tmp_path / "eval.json"
    argv = ["eval", ckpt, f"data.root={asr_corpus}", "--split", "test2016", "--out", str(out)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "--split test2016" in err and "train, val, test" in err and "data.test=" in err
    assert "Traceback" not in err and not out.exists()
    # the way the message names works: the other set scored as the test split
    argv = ["eval", ckpt, f"data.root={asr_corpus}", "data.test=[dev-clean]", "--out", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["subsets"] == ["dev-clean"]


def test_eval_decoder_flags_of_a_translation_checkpoint_set_its_beam_search(
    mt_run, mt_corpus, tmp_path, capsys
):
    out = tmp_path / "eval.json"
    argv = ["eval", str(mt_run), f"data.root={mt_corpus}", "--out", str(out)]
    for flags, beam in ((["--beam-size", "3"], 3), (["--decoder", "greedy"], 1)):
        assert main([*argv, *flags]) == 0
        result = json.loads(out.read_text())
        assert f"generation.beam_size={beam}" in result["overrides"]
        assert not any(o.startswith("decoder") for o in result["overrides"])
    capsys.readouterr()
    assert main([*argv, "--alpha", "0.5"]) == 2  # a CTC flag: refused, never silently ignored
    assert "--alpha is a CTC decoding flag" in capsys.readouterr().err
