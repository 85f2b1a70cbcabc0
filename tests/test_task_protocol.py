"""The evaluation/inference task protocol (seqlab/engine/task.py): a task declares what it is and
what it does; commands check that instead of probing, and refuse a checkpoint of another kind in
one line that names its kind and the command that takes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqlab.cli import main
from seqlab.engine.task import EvaluableTask
from seqlab.inference import WrongKindError, kind_label, load_task

TASKS = {
    "asr": "seqlab.tasks.asr.task.ASRTask",
    "mt": "seqlab.tasks.mt.task.MTTask",
    "lm": "seqlab.tasks.lm.task.LMTask",
    "vocoder": "seqlab.tasks.vocoder.task.VocoderTask",
}


class Complete(EvaluableTask):
    """Every required method, each doing nothing: the protocol's defaults are what is tested."""

    kind = "toy"

    def models(self):
        return {}

    def optimizer_params(self, name):
        return []

    def train_data(self, rank, world_size, run_dir):
        raise NotImplementedError

    def val_data(self, rank, world_size, run_dir):
        raise NotImplementedError

    def training_step(self, batch):
        return {}

    def validation_step(self, batch):
        return {}

    def validation_end(self, outputs):
        return {}

    def for_inference(self, device="cpu"):
        return self

    def test_data(self, rank, world_size, run_dir, split="test"):
        raise NotImplementedError


@pytest.mark.parametrize("missing", ["for_inference", "test_data", "validation_step"])
def test_a_task_missing_a_required_method_cannot_be_built(missing):
    namespace = {k: v for k, v in vars(Complete).items() if k not in (missing, "__dict__")}
    incomplete = type("Incomplete", (EvaluableTask,), namespace)
    with pytest.raises(TypeError, match=f"Incomplete.*{missing}"):
        incomplete({})


def test_a_task_must_say_what_kind_it_is():
    with pytest.raises(TypeError, match="Kindless must set the class attribute kind"):
        type("Kindless", (Complete,), {"kind": ""})


def test_the_protocol_defaults_fit_a_task_with_one_way_to_decode():
    task = Complete({"a": 1})
    assert task.cfg == {"a": 1}
    assert task.decoding_options() == []
    task.use_decoding(None)
    assert task.left_out("test") == [] and task.eval_info() == {} and task.eval_rows([]) == []
    assert task.export_formats() == ()
    with pytest.raises(ValueError, match="cannot be exported as 'hf'"):
        task.export("hf", "out")
    with pytest.raises(NotImplementedError, match="redecode"):
        task.redecode([], None)
    with pytest.raises(NotImplementedError, match="left_out_output"):
        task.left_out_output([{"id": "a", "reference": "x"}])


def test_the_training_hooks_have_defaults_the_engine_calls_without_probing(tmp_path):
    task = Complete({})
    assert task.on_epoch_start(3) is None and task.examples([]) == {}
    assert task.save_artifacts(tmp_path) is None and not any(tmp_path.iterdir())


def test_the_engine_refuses_a_task_that_does_not_inherit_the_training_base():
    from omegaconf import OmegaConf

    from seqlab.engine.trainer import Trainer

    class Duck:  # every method by name, but no declared contract
        def __init__(self):
            self.cfg = OmegaConf.create({})

        def models(self):
            return {}

    with pytest.raises(TypeError, match="Duck is not a seqlab.engine.task.Task.*inherit"):
        Trainer(OmegaConf.create({"trainer": {}}), Duck())


def test_every_shipped_task_declares_its_kind():
    from seqlab.registry import target_class

    for kind, path in TASKS.items():
        cls = target_class(path)
        assert issubclass(cls, EvaluableTask) and cls.kind == kind
        assert not cls.__abstractmethods__
    assert target_class("seqlab.tasks.asr.hf.HFCTCTask").kind == "asr"


def fake_checkpoint(directory: Path, target: str) -> Path:
    """A checkpoint directory with a config naming ``target``: enough to reach the kind check,
    which comes before anything is built (no weights are read)."""
    directory.mkdir(parents=True)
    config = {"task": {"_target_": target}, "trainer": {"resume_from": None}, "seed": 0}
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    (directory / "model.safetensors").write_bytes(b"")
    return directory


@pytest.mark.parametrize(
    "argv, kind, use",
    [
        (["transcribe", "{ckpt}", "a.wav"], "mt", "seqlab translate"),
        (["translate", "{ckpt}"], "vocoder", "seqlab vocode"),
        (["vocode", "{ckpt}", "a.wav", "--out", "{out}"], "asr", "seqlab transcribe"),
        (["transcribe", "{ckpt}", "a.wav"], "lm", "seqlab eval"),
        (["tune-decoder", "{ckpt}", "--lm", "{lm}"], "vocoder", "seqlab vocode"),
    ],
)
def test_commands_refuse_a_checkpoint_of_another_kind(argv, kind, use, tmp_path, capsys):
    ckpt = fake_checkpoint(tmp_path / "ckpt", TASKS[kind])
    (tmp_path / "lm.arpa").write_text("\\data\\\n")  # never read: the kind is checked first
    argv = [a.format(ckpt=ckpt, out=tmp_path / "out", lm=tmp_path / "lm.arpa") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"is a {kind_label(kind)} checkpoint;" in err and f"seqlab {argv[0]} takes" in err
    assert f"(use {use}" in err and str(ckpt) in err


def test_load_refuses_another_kind_before_building_anything(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "ckpt", TASKS["mt"])
    with pytest.raises(
        WrongKindError,
        match=r"is a translation \(mt\) checkpoint; seqlab transcribe takes speech-recognition \(asr\)",
    ):
        load_task(ckpt, kind="asr", command="seqlab transcribe")


def test_a_task_class_outside_the_protocol_is_refused(tmp_path):
    from seqlab.config import ConfigError

    ckpt = fake_checkpoint(tmp_path / "ckpt", "seqlab.models.asr.bilstm_ctc.BiLSTMCTC")
    with pytest.raises(ConfigError, match="is not an evaluable task"):
        load_task(ckpt)


# ---- with the checkpoints earlier code wrote (tests/fixtures/checkpoints_v0) -------------------------
FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
OLD_PATHS = {  # what those checkpoints' config.yaml name, and where the classes are now
    "asr_bilstm": ("seqlab.tasks.asr.ASRTask", "seqlab.tasks.asr.task.ASRTask"),
    "asr_w2v2bert_demo": ("seqlab.tasks.asr_hf.HFCTCTask", "seqlab.tasks.asr.hf.HFCTCTask"),
    "mt_lstm": ("seqlab.tasks.mt.MTTask", "seqlab.tasks.mt.task.MTTask"),
    "lm_gpt2_small": ("seqlab.tasks.lm.LMTask", "seqlab.tasks.lm.task.LMTask"),
    "vocoder_demo": ("seqlab.tasks.vocoder.VocoderTask", "seqlab.tasks.vocoder.task.VocoderTask"),
}


@pytest.mark.parametrize("experiment", sorted(OLD_PATHS))
def test_old_class_paths_in_a_checkpoint_resolve_through_the_registry(experiment):
    from seqlab.registry import TARGET_ALIASES, load_checkpoint_config, target_class

    old, new = OLD_PATHS[experiment]
    ckpt = FIXTURES / experiment
    assert yaml.safe_load((ckpt / "config.yaml").read_text())["task"]["_target_"] == old
    assert TARGET_ALIASES[old] == new
    assert load_checkpoint_config(ckpt).task._target_ == new  # rewritten once it is checked
    with pytest.raises(ImportError):  # never importable at the old path: no shim module left
        from hydra.utils import get_class

        get_class(old)
    task, _ = load_task(ckpt)
    assert type(task) is target_class(new) and isinstance(task, EvaluableTask)


@pytest.mark.parametrize(
    "argv, experiment, message",
    [
        (
            ["translate", "{ckpt}"],
            "asr_bilstm",
            "is a speech-recognition (asr) checkpoint; seqlab translate takes translation (mt)",
        ),
        (["vocode", "{ckpt}", "x.wav", "--out", "{out}"], "mt_lstm", "(use seqlab translate)"),
        (
            ["export", "{ckpt}", "--hifigan", "{out}/g"],
            "mt_lstm",
            "is a translation (mt) checkpoint, not a HiFi",
        ),
        (
            ["export", "{ckpt}", "--hf", "{out}/hf"],
            "asr_bilstm",
            "is a speech-recognition (asr) checkpoint, not one of a Hugging",
        ),
    ],
)
def test_commands_refuse_an_old_checkpoint_of_another_kind(
    argv, experiment, message, tmp_path, capsys
):
    argv = [a.format(ckpt=FIXTURES / experiment, out=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_the_kind_of_a_checkpoint_is_read_without_building_it():
    from seqlab.inference import checkpoint_kind

    kinds = {"asr_bilstm": "asr", "asr_w2v2bert_demo": "asr", "mt_lstm": "mt"}
    kinds |= {"lm_gpt2_small": "lm", "vocoder_demo": "vocoder"}
    assert {e: checkpoint_kind(FIXTURES / e) for e in kinds} == kinds
