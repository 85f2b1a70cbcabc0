"""Every option of every config group survives a checkpoint save and a resume: each case below
trains a tiny run 4 steps (a checkpoint and a validation every 2), resumes it from step-2 as after
a crash, and must log the same losses, learning rates and validation metrics and end with the same
weights. A writer that cannot start fails before the run directory is made, naming the fix."""

import sys

import pytest

from seqlab.cli import main
from seqlab.config import GROUPS, list_group_options
from tiny_experiments import choices, group_overrides, run_in_processes

CASES = {  # name -> (experiment, overrides); comments: the options each case is there for
    # transformer_mt, parallel_text, adamw, mt_triangle (+ SWA from step 2)
    "mt_transformer": ("mt_transformer", []),
    "noam+adam": ("mt_transformer", ["lr_scheduler=noam", "optimizer=adam"]),
    "cosine+sgd": ("mt_transformer", ["lr_scheduler=cosine", "optimizer=sgd"]),
    # per-epoch decay: epochs of one step (12 pairs, one bucket), stepped before the save
    "exponential": (
        "mt_transformer",
        ["lr_scheduler=exponential", "data.train_fraction=0.1", "data.num_buckets=1"],
    ),
    "onecycle": ("mt_transformer", ["lr_scheduler=onecycle"]),
    "onecycle_fast": ("mt_transformer", ["lr_scheduler=onecycle_fast"]),
    "none+tensorboard": ("mt_transformer", ["lr_scheduler=none", "writer=default"]),
    "warmup_linear+ema": (
        "mt_transformer",
        ["lr_scheduler=warmup_linear", "trainer.averaging.type=ema"],
    ),
    "mlflow": ("mt_transformer", ["writer.mlflow=true"]),
    # lstm_seq2seq with its own recipe: mt_lstm_triangle (short warm-up, linear decay)
    "mt_lstm_triangle": ("mt_lstm", []),
    # lstm_seq2seq; plateau, validating every step: no value counts as better (threshold 100 %),
    # so the lr is cut at every validation and the state saved at step 2 matters
    "mt_lstm": (
        "mt_lstm",
        [
            "lr_scheduler=plateau",
            "lr_scheduler.patience=0",
            "+lr_scheduler.threshold=1.0",
            "trainer.val_every_n_steps=1",
        ],
    ),
    # bilstm_ctc, synth_speech, augment default, ctc_greedy, onecycle
    "asr_bilstm": ("asr_bilstm", []),
    "conformer+light+beam+librispeech": (
        "asr_bilstm",
        ["model=conformer_ctc", "augment=light", "decoder=ctc_beam", "data=librispeech"],
    ),
    "conformer_medium+none+manifest": (
        "asr_bilstm",
        ["model=conformer_ctc_medium", "augment=none", "data=manifest"],
    ),
    # conformer_ctc, fsdd (8 kHz, sentencepiece words), short_clips; no time budget (its plan
    # depends on the step rate, which a resume does not repeat)
    "asr_conformer_fsdd": ("asr_conformer_fsdd", ["trainer.max_seconds=null"]),
    "asr_bilstm_fsdd": ("asr_bilstm_fsdd", ["trainer.max_seconds=null"]),  # short_clips_noise
    "conformer_fsdd+vtlp": (  # VTLP's warp factors come from the RNG a resume restores
        "asr_conformer_fsdd",
        ["augment=short_clips_vtlp", "trainer.max_seconds=null"],
    ),
    "bilstm_fsdd+channel": (  # Reverb and RandomEQ draw from the RNG a resume restores
        "asr_bilstm_fsdd",
        ["augment=short_clips_channel", "trainer.max_seconds=null"],
    ),
    "asr_w2v2bert": ("asr_w2v2bert", []),  # w2v2bert_ctc, openslr, warmup_linear
    "wav2vec2+commonvoice": ("asr_w2v2bert", ["model=wav2vec2_ctc", "data=commonvoice"]),
    "hf_disk": ("asr_w2v2bert", ["data=hf_disk"]),
    "asr_w2v2bert_demo": ("asr_w2v2bert_demo", []),  # synth_speech_ru
    "lm_gpt2_small": ("lm_gpt2_small", []),  # gpt2_small, lm_text
    # hifigan_v2, synth_ljspeech, optimizer and lr_scheduler hifigan (two of each, per epoch;
    # epochs of two steps: the decay steps with the save at step 2)
    "vocoder_demo": ("vocoder_demo", ["data.val_fraction=0.5"]),
    "vocoder_hifigan_v1": ("vocoder_hifigan_v1", []),  # hifigan_v1, ljspeech
    "vocoder_hifigan_v3": ("vocoder_hifigan_v3", []),
}
# (group, option) -> why it is not trained above. Empty: every option is.
NOT_TRAINED: dict[tuple[str, str], str] = {}


def _mlflow_installed() -> bool:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def results(tiny_corpora, tmp_path_factory):
    """Every case, in two worker processes at once (one CPU thread each)."""
    cases = [
        {"name": name, "experiment": experiment, "overrides": overrides, "mode": "resume"}
        for name, (experiment, overrides) in CASES.items()
        if name != "mlflow" or _mlflow_installed()
    ]
    # the cases that import transformers in one process (it takes seconds), the rest in the other
    with_hf = ("asr_w2v2bert", "lm_", "vocoder_")
    jobs = [
        {"cases": [c for c in cases if c["experiment"].startswith(with_hf)]},
        {"cases": [c for c in cases if not c["experiment"].startswith(with_hf)]},
    ]
    out = {}
    for done in run_in_processes(jobs, tmp_path_factory.mktemp("options"), tiny_corpora):
        out.update(done)
    return out


def test_every_option_of_every_group_is_trained_or_listed():
    trained = set()
    for experiment, overrides in CASES.values():
        picked = choices(experiment, group_overrides(overrides))
        trained |= {(group, option) for group, option in picked.items() if group in GROUPS}
    every = {(group, option) for group in GROUPS for option in list_group_options(group)}
    assert every - trained - set(NOT_TRAINED) == set(), "add a case or list it in NOT_TRAINED"


@pytest.mark.parametrize("name", list(CASES))
def test_option_survives_a_save_and_a_resume(results, name):
    if name == "mlflow" and not _mlflow_installed():
        pytest.skip("mlflow is not installed: pip install 'seqlab[mlflow]'")
    got = results[name]
    assert got["ok"], got["error"]
    assert got["resume_events"] == [2], "the second run must resume from step-2"
    assert got["rerun_train_steps"] == [3, 4], "the resumed run trains steps 3 and 4 again"
    uninterrupted, resumed = got["uninterrupted"], got["resumed"]
    assert {"train/1", "train/4", "val/2", "val/4"} <= set(uninterrupted)
    for key in uninterrupted:  # losses, learning rates, grad norms, validation metrics
        assert resumed[key] == uninterrupted[key], key
    assert set(resumed) == set(uninterrupted)
    assert got["weights_resumed"] == got["weights_uninterrupted"]  # model and averaged weights


def test_mlflow_run_continues_after_the_resume(results, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="pip install 'seqlab[mlflow]'")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the writer sets it for its store
    from pathlib import Path

    got = results["mlflow"]
    assert got["ok"], got["error"]
    run_dir = Path(got["run_dir"])
    client = mlflow.tracking.MlflowClient((run_dir / "mlruns").resolve().as_uri())
    run_id = (run_dir / "mlflow_run_id").read_text().strip()
    (experiment,) = client.search_experiments(filter_string="name = 'mt_transformer'")
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [run_id]
    history = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 3, 4]  # the resumed steps logged again
    losses = {f"train/{m.step}": m.value for m in history}
    assert losses == {key: pytest.approx(got["resumed"][key]["loss"]) for key in losses}


TINY_MT = [
    "model.d_model=16",
    "model.nhead=2",
    "model.dim_feedforward=32",
    "model.num_encoder_layers=1",
    "model.num_decoder_layers=1",
]


@pytest.mark.parametrize(
    "overrides, blocked, expected",
    [
        (["writer.mlflow=true"], "mlflow", "pip install 'seqlab[mlflow]'"),
        (["writer.wandb=true"], "wandb", "pip install 'seqlab[wandb]'"),
        (
            ["writer.mlflow=true", "writer.mlflow_tracking_uri=sqlite:///runs/mlflow.db"],
            "sqlalchemy",  # what mlflow-skinny lacks for a database store
            "needs the full mlflow package (pip install mlflow)",
        ),
    ],
    ids=["mlflow-missing", "wandb-missing", "mlflow-sqlite-without-sqlalchemy"],
)
def test_a_writer_that_cannot_start_fails_before_the_run_dir(
    tmp_path, tiny_corpora, monkeypatch, capsys, overrides, blocked, expected
):
    monkeypatch.setitem(sys.modules, blocked, None)  # `import <blocked>` raises ImportError
    if blocked == "sqlalchemy":
        pytest.importorskip("mlflow", reason="pip install 'seqlab[mlflow]'")
    argv = ["train", "mt_transformer", *TINY_MT, f"data.root={tiny_corpora['mt']}"]
    argv += ["data.build_if_missing=false", "lr_scheduler.warmup_steps=1", "trainer.max_steps=2"]
    argv += [f"trainer.runs_root={tmp_path / 'runs'}", *overrides]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and overrides[-1].split("=")[0] in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()
