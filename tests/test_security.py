"""A checkpoint from a classmate, a cluster or a forum is data: loading it never runs code.

The story: train tiny ASR and MT checkpoints, then plant what a hostile sender would (a class name
in config.yaml, an interpolation, a text hook in vocab.json, a vocabulary file outside the
checkpoint, a symlink out of it, HTML in transcripts) and check that seqlab refuses with a clear
message, creates nothing, and still lets the user trust their OWN classes and hooks."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

import seqlab
from seqlab.cli import main
from seqlab.config import ConfigError
from seqlab.models.asr.bilstm_ctc import BiLSTMCTC
from test_mt_cli import _train as train_mt

CALLS: list[str] = []


class TinyBiLSTM(BiLSTMCTC):
    """A user's own model class (the kind `--trust-target` is for)."""


def record_hook(text: str) -> str:
    """A user's own text hook: records that it ran."""
    CALLS.append(text)
    return text


@pytest.fixture(scope="module")
def corpus(librispeech_dir):
    """The session's hand-written LibriSpeech directory (tests/conftest.py)."""
    return librispeech_dir


@pytest.fixture(scope="module")
def asr_ckpt(corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    argv = [
        "train", "asr_bilstm", "data=librispeech", f"data.root={corpus}", "model.hidden_size=16",
        "model.num_layers=1", "trainer.max_steps=1", "trainer.n_epochs=1", "lr_scheduler=none",
        "trainer.num_workers=0", f"trainer.runs_root={runs}", "trainer.run_name=tiny",
        "trainer.progress=none", "writer=jsonl",
    ]  # fmt: skip
    assert main(argv) == 0
    return (runs / "asr_bilstm" / "tiny" / "checkpoints" / "best").resolve()


@pytest.fixture(scope="module")
def mt_run(mt_corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return train_mt(
        mt_corpus, runs, "mt_lstm", "tiny", "trainer.max_steps=2", "trainer.save_every_n_steps=1",
        "trainer.keep_last=5",
    )  # fmt: skip


def planted(ckpt: Path, dest: Path, edit) -> Path:
    """A copy of the checkpoint dir whose config.yaml went through ``edit(dict)``."""
    shutil.copytree(ckpt, dest)
    config = yaml.safe_load((dest / "config.yaml").read_text())
    edit(config)
    (dest / "config.yaml").write_text(yaml.safe_dump(config))
    return dest


def makedirs_node(path: Path) -> dict:
    return {"_target_": "os.makedirs", "name": str(path)}


def test_transcribe_and_load_refuse_a_planted_class(asr_ckpt, corpus, tmp_path, capsys):
    victim = tmp_path / "pwned"

    def edit(config):
        config["augment"]["wave"][0]["p"] = makedirs_node(victim)

    ckpt = planted(asr_ckpt, tmp_path / "ckpt", edit)
    audio = sorted(corpus.rglob("*.flac"))[0]
    assert main(["transcribe", str(ckpt), str(audio)]) == 2
    err = capsys.readouterr().err
    assert "augment.wave[0].p._target_ = 'os.makedirs'" in err and "config.yaml" in err
    assert "Traceback" not in err
    with pytest.raises(ConfigError, match=r"augment\.wave\[0\]\.p\._target_"):
        seqlab.load(ckpt)
    # every other command that loads a checkpoint refuses it the same way
    assert main(["eval", str(ckpt), f"data.root={corpus}", "--out", str(tmp_path / "e.json")]) == 2
    assert main(["export", str(ckpt), "--hf", str(tmp_path / "hf")]) == 2
    twin = shutil.copytree(ckpt, tmp_path / "twin")
    assert main(["average", str(ckpt), str(twin), "--out", str(tmp_path / "avg")]) == 2
    assert "os.makedirs" in capsys.readouterr().err
    assert not victim.exists() and not (tmp_path / "avg").exists()


def test_an_interpolation_in_a_loaded_config_is_refused(asr_ckpt, tmp_path):
    victim = tmp_path / "pwned"

    def edit(config):  # oc.decode would build a node with a _target_ only when resolved
        config["augment"]["wave"][0]["p"] = (
            f"${{oc.decode:'{{_target_: os.makedirs, name: {victim}}}'}}"
        )

    ckpt = planted(asr_ckpt, tmp_path / "ckpt", edit)
    with pytest.raises(ConfigError, match=r"augment\.wave\[0\]\.p = .*interpolation"):
        seqlab.load(ckpt)
    assert not victim.exists()


def test_translate_refuses_a_planted_class(mt_run, tmp_path, capsys):
    victim = tmp_path / "pwned"

    def edit(config):
        config["model"]["dropout"] = makedirs_node(victim)

    ckpt = planted((mt_run / "checkpoints" / "last").resolve(), tmp_path / "ckpt", edit)
    source = tmp_path / "src.txt"
    source.write_text("das ist gut .\n", encoding="utf-8")
    assert main(["translate", str(ckpt), "--input", str(source)]) == 2
    err = capsys.readouterr().err
    assert "model.dropout._target_ = 'os.makedirs'" in err and "--trust-target" in err
    assert not victim.exists()


def test_the_users_own_classes_are_trusted_on_their_command_line(asr_ckpt, corpus, tmp_path):
    name = f"{__name__}.TinyBiLSTM"

    def edit(config):
        config["model"]["_target_"] = name

    ckpt = planted(asr_ckpt, tmp_path / "ckpt", edit)
    audio = str(sorted(corpus.rglob("*.flac"))[0])
    assert main(["transcribe", str(ckpt), audio]) == 2
    assert main(["transcribe", str(ckpt), audio, "--trust-target", name]) == 0
    assert isinstance(seqlab.load(ckpt, trust_targets=[name]).model.encoder, TinyBiLSTM)
    # the user's overrides are checked after the file, so they may name any class
    model = seqlab.load(asr_ckpt, overrides=[f"model._target_={name}"])
    assert isinstance(model.model.encoder, TinyBiLSTM)


def test_the_registry_knows_every_class_seqlab_ships():
    from seqlab.config import _configs_dir
    from seqlab.registry import is_known_target

    def targets(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_target_":
                    yield value
                yield from targets(value)
        elif isinstance(node, list):
            for value in node:
                yield from targets(value)

    shipped = {
        t for f in _configs_dir().rglob("*.yaml") for t in targets(yaml.safe_load(f.read_text()))
    }
    assert len(shipped) > 20
    assert [t for t in shipped if not is_known_target(t)] == []
    for name in (
        "torch.optim.RAdam",
        "torch.optim.lr_scheduler.StepLR",
    ):
        assert is_known_target(name)
    # the tests' toy task is the tests' own code: known only where they trust it
    assert not is_known_target("toy_task.ToyRegressionTask")
    assert is_known_target("toy_task.ToyRegressionTask", ["toy_task.*"])
    for name in (
        "os.system",
        "builtins.eval",
        "torch.load",
        "hydra.utils.get_method",
        "subprocess.run",
    ):
        assert not is_known_target(name)


def script_vocab_dir(directory: Path, hook: str | None) -> Path:
    """A script_char vocab.json with 29 outputs (the size of the tiny ASR model's CharVocab)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": "script_char",
        "chars": ["'", *"abcdefghijklmnopqrstuvwxyz"[:25]],
        "normalizer": {"language": None, "lowercase": True, "numbers": "keep",
                       "keep_apostrophe": True, "hook": hook},
    }  # fmt: skip
    (directory / "vocab.json").write_text(json.dumps(payload))
    return directory


def test_a_hook_in_a_loaded_vocabulary_is_never_imported(tmp_path):
    from seqlab.text.vocab import load_vocab

    vocab = load_vocab(script_vocab_dir(tmp_path / "a", "seqlab_planted_module:run"))
    assert "seqlab_planted_module" not in sys.modules
    assert len(vocab) == 29  # loads: transcription needs no normaliser
    with pytest.raises(ConfigError, match=r"data\.text\.hook=seqlab_planted_module:run"):
        vocab.normalize("any transcript")
    # the user names the same hook: it is theirs now, and it runs
    CALLS.clear()
    vocab = load_vocab(script_vocab_dir(tmp_path / "b", f"{__name__}:record_hook"),
                       hook=f"{__name__}:record_hook")  # fmt: skip
    assert vocab.normalize("hello") == "hello" and CALLS == ["hello"]


def test_eval_does_not_run_a_hook_planted_in_vocab_json(
    asr_ckpt, corpus, tmp_path, monkeypatch, capsys
):
    """`"hook": "os:makedirs"` would create a directory named by each reference transcript."""
    ckpt = shutil.copytree(asr_ckpt, tmp_path / "ckpt")
    script_vocab_dir(ckpt, "os:makedirs")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["eval", str(ckpt), f"data.root={corpus}", "--out", str(tmp_path / "eval.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "os:makedirs" in err and "data.text.hook=os:makedirs" in err
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_vocabulary_files_stay_inside_the_checkpoint(tmp_path, where):
    from seqlab.text.mt_vocab import load_mt_vocab
    from seqlab.text.vocab import SentencePieceVocab, load_vocab

    outside = tmp_path / "outside"
    SentencePieceVocab.train(["the cat sat", "on the mat", "a dog ran"] * 5, 16, outside)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    name = {"parent": "../outside/sentencepiece.model",
            "absolute": str(outside / "sentencepiece.model"), "symlink": "sp.model"}[where]  # fmt: skip
    if where == "symlink":
        (ckpt / "sp.model").symlink_to(outside / "sentencepiece.model")
    (ckpt / "vocab.json").write_text(json.dumps({"kind": "sentencepiece", "model_file": name}))
    (ckpt / "src_vocab.json").write_text(json.dumps({"kind": "bpe", "model_file": name}))
    with pytest.raises(ConfigError, match="model_file"):
        load_vocab(ckpt)
    with pytest.raises(ConfigError, match="model_file"):
        load_mt_vocab(ckpt, "src")


def test_average_refuses_a_symlink_out_of_a_checkpoint(mt_run, tmp_path, capsys):
    steps = sorted((mt_run / "checkpoints").glob("step-*"))
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    newest = shutil.copytree(steps[-1], tmp_path / "newest")
    (newest / "notes.txt").symlink_to(secret)
    assert main(["average", str(steps[0]), str(newest), "--out", str(tmp_path / "avg")]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert not (tmp_path / "avg").exists()


def test_report_markdown_escapes_what_runs_wrote(tmp_path):
    from seqlab.report.document import Code, Document

    doc = Document("run <b>x</b>", tmp_path)
    doc.paragraph(["differs from ", Code("seqlab train a|b"), " <i>here</i>"])
    doc.table(["reference", "hypothesis"],
              [["<script>alert(1)</script>", "a | b\nc"], ["[x](javascript:alert(1))", "back\\|slash"]])  # fmt: skip
    doc.code("trainer.n_epochs=3\n```\n<script>alert(2)</script>")
    md = doc.to_markdown()
    assert md.count("<script>") == 1 and "````\ntrainer.n_epochs=3\n```\n<script>alert(2)" in md
    assert "<b>" not in md and "<i>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    unescaped_pipes = [line.replace("\\\\", "").replace("\\|", "").count("|") for line in rows]
    assert unescaped_pipes == [3, 3, 3]  # every row keeps its two cells
    assert "\\[x\\](javascript:alert(1))" in md
    assert "`seqlab train a|b`" in md
    # the only raw <script> is inside a code block whose fence (````) the ``` in it cannot close
    assert "<code>seqlab train a|b</code>" in doc.to_html()


def test_run_report_shows_hostile_transcripts_and_overrides_as_text(tmp_path, monkeypatch):
    from seqlab.report import run_report
    from test_report import ToyWithExamples
    from test_report import _train as train_toy

    monkeypatch.setattr(run_report, "run_plots", lambda run, folder: [])  # tested in test_report

    class Hostile(ToyWithExamples):
        def examples(self, outputs):
            found = super().examples(outputs)
            found["text"]["predictions"][1]["hypothesis"] = "<script>alert(1)</script> | x"
            return found

    run_dir = Path(train_toy(tmp_path, "hostile", task_cls=Hostile, n_epochs=1))
    with open(run_dir / "overrides.txt", "a") as file:
        file.write("```\n<img src=x onerror=alert(2)>\n")
    markdown = run_report.write_report(run_dir)["markdown"].read_text()
    fence = next(line for line in markdown.splitlines() if line.startswith("```"))
    outside_code = markdown.split(fence)[0::2]  # the text between the fenced blocks
    assert fence != "```" and len(outside_code) >= 2
    assert not any("<script>" in part or "<img" in part for part in outside_code)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| x" in markdown


def test_the_tensorboard_prediction_table_shows_transcripts_as_text():
    from seqlab.engine.writers import markdown_table

    table = markdown_table([{"reference": "a <b>", "hypothesis": "<script>x</script> | y\nz"}])
    assert "<script>" not in table and "<b>" not in table
    assert "&lt;script&gt;x&lt;/script&gt; \\| y z" in table
    assert all(line.replace("\\|", "").count("|") == 3 for line in table.splitlines())
