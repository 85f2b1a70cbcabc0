"""Config composition and overrides as a user types them on the command line."""

import pytest
from omegaconf import OmegaConf

from seqlab.config import (
    ConfigError,
    apply_overrides,
    compose_experiment,
    list_experiments,
    list_group_options,
    load_group_option,
)


def test_experiments_are_listed_with_descriptions():
    experiments = list_experiments()
    assert {"asr_bilstm", "asr_conformer"} <= set(experiments)
    assert all(desc for desc in experiments.values())


def test_reference_report_commands_compose():
    cfg = compose_experiment("asr_bilstm", ["trainer.n_epochs=45"])
    assert cfg.trainer.n_epochs == 45
    # the report's hyper-parameters
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.optimizer.lr == pytest.approx(3e-4)
    assert cfg.lr_scheduler._target_.endswith(
        "OneCycleLR"
    ) and cfg.lr_scheduler.max_lr == pytest.approx(1e-3)
    assert cfg.optimizer.clip_grad_norm == 5.0
    assert all(a.p == 0.5 for a in cfg.augment.wave + cfg.augment.spec)
    assert cfg.model.hidden_size == 256 and cfg.model.num_layers == 2
    cfg = compose_experiment(
        "asr_bilstm", ["trainer.n_epochs=60", "trainer.resume_from=runs/x/checkpoints/best"]
    )
    assert cfg.trainer.n_epochs == 60 and cfg.trainer.resume_from == "runs/x/checkpoints/best"


def test_misspelt_key_fails_naming_it_and_suggesting():
    with pytest.raises(ConfigError) as err:
        compose_experiment("asr_bilstm", ["trainer.n_epoch=3"])
    assert "trainer.n_epoch" in str(err.value) and "trainer.n_epochs" in str(err.value)


def test_unknown_experiment_and_group_option():
    with pytest.raises(ConfigError, match="asr_bilstm"):
        compose_experiment("asr_bilstmm")
    with pytest.raises(ConfigError, match="conformer_ctc"):
        compose_experiment("asr_bilstm", ["model=conformer"])


def test_group_swap_add_delete_and_required_values():
    cfg = compose_experiment(
        "asr_bilstm",
        [
            "model=conformer_ctc",
            "data=librispeech",
            "data.root=/corpora/LibriSpeech",
            "+extra.note=hi",
            "~writer.wandb_project",
        ],
    )
    assert cfg.model._target_.endswith("ConformerCTC")
    assert cfg.data.root == "/corpora/LibriSpeech" and cfg.data.train == ["train-clean-100"]
    assert cfg.extra.note == "hi" and "wandb_project" not in cfg.writer
    with pytest.raises(ConfigError, match="data.root"):
        compose_experiment("asr_bilstm", ["data=librispeech"])  # root is required


def test_overrides_on_a_saved_config(tmp_path):
    cfg = compose_experiment("asr_conformer")
    path = tmp_path / "config.yaml"
    path.write_text(OmegaConf.to_yaml(cfg))
    saved = OmegaConf.load(path)
    out = apply_overrides(saved, ["data=librispeech", "data.root=/x", "trainer.n_epochs=2"])
    assert out.data.root == "/x" and out.data.test == ["test-clean"] and out.trainer.n_epochs == 2
    assert out.model == cfg.model  # untouched groups stay
    with pytest.raises(ConfigError, match="model.d_modle"):
        apply_overrides(saved, ["model.d_modle=3"])
    with pytest.raises(ConfigError, match="Options"):
        apply_overrides(saved, ["model=nope"])


def _kind(group: str, config) -> str:
    """Which options can stand in for each other: data of the same kind (vocoder segments,
    speech, parallel text, plain text), models of the same family (the package of _target_),
    optimizers/schedulers of the same shape (one config, or a mapping of named ones)."""
    keys = set(config.keys())
    if group == "data":
        if "segment_size" in keys:
            return "vocoder"
        return "audio" if "sample_rate" in keys else "parallel" if "src_lang" in keys else "text"
    if group == "model":
        return str(config.get("_target_", "")).rsplit(".", 2)[0]
    if group in ("optimizer", "lr_scheduler"):
        return "single" if "_target_" in keys or not keys else "named"
    return ""


@pytest.mark.parametrize(
    "experiment",
    [
        "asr_bilstm",
        "asr_conformer",
        "lm_gpt2_small",
        "mt_lstm",
        "mt_transformer",
        "vocoder_hifigan_v1",
        "vocoder_demo",
    ],
)
def test_swapping_a_group_leaves_no_keys_of_the_old_option(experiment):
    """An experiment's own keys must exist in every option of their group (else e.g.
    `lr_scheduler=plateau` would receive OneCycle's max_lr and crash). Options only stand in for
    options of the same kind (see _kind)."""
    base = compose_experiment(experiment, ["data.root=/corpus"])  # some data options require it
    for group in ("model", "optimizer", "lr_scheduler", "augment", "writer", "data"):
        if group not in base or base[group] is None:  # e.g. a language model has no augmentations
            continue
        for option in list_group_options(group):
            option_cfg = load_group_option(group, option)
            option_keys = set(option_cfg.keys())
            if _kind(group, base[group]) != _kind(group, option_cfg):
                continue
            cfg = compose_experiment(experiment, [f"{group}={option}", "data.root=/corpus"])
            assert set(cfg[group].keys()) == option_keys, (group, option)


def test_overrides_after_options_are_overrides():
    # argparse alone stopped collecting overrides at the first option: "unrecognized arguments"
    from seqlab.cli import parse_args

    args = parse_args(
        ["eval", "RUN", "--split", "test", "data.root=X", "--out", "F", "~trainer.averaging"]
    )
    assert args.overrides == ["data.root=X", "~trainer.averaging"]
    assert (args.split, args.out, args.checkpoint) == ("test", "F", "RUN")
    args = parse_args(["train", "asr_bilstm", "trainer.n_epochs=2"])
    assert args.overrides == ["trainer.n_epochs=2"]
    with pytest.raises(SystemExit):  # a misspelt option is still an error
        parse_args(["eval", "RUN", "--splitt", "test"])
