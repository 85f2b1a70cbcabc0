"""The user's story for fine-tuning a pretrained HF speech model, offline: a tiny random
Wav2Vec2-BERT saved with save_pretrained plays the pretrained model; the built-in Russian corpus
(OpenSLR layout) gets a corrupted FLAC, a truncated FLAC, an empty transcript and a clip too short
for its transcript; train through the CLI, resume exactly, eval, transcribe, export, and load the
export with plain transformers."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from seqlab.cli import main
from seqlab.corpora.synth_speech_lang import build_lang_corpus
from seqlab.engine.writers import read_metrics

transformers = pytest.importorskip("transformers")

TINY_BERT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_depthwise_kernel_size=5,
    output_hidden_size=32,
    vocab_size=12,  # the "pretrained" head: seqlab replaces it with one for its own vocabulary
)


@pytest.fixture(scope="module")
def pretrained_bert(tmp_path_factory):
    """A tiny random Wav2Vec2-BERT in a local directory, as a downloaded model would be."""
    folder = tmp_path_factory.mktemp("tiny-w2v-bert")
    torch.manual_seed(0)
    transformers.Wav2Vec2BertForCTC(transformers.Wav2Vec2BertConfig(**TINY_BERT)).save_pretrained(
        folder
    )
    transformers.SeamlessM4TFeatureExtractor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_ru") / "corpus"
    build_lang_corpus(root, language="ru", hours=0.015, seed=3)
    lines = (root / "train.tsv").read_text(encoding="utf-8").splitlines()
    good = root / "data" / lines[0][:2] / f"{lines[0].split()[0]}.flac"
    broken = {
        "ff00000001": b"fLaC this is not a flac stream at all" * 20,  # undecodable header
        "ff00000002": good.read_bytes()[: len(good.read_bytes()) // 3],  # truncated mid-stream
    }
    for utt, data in broken.items():
        (root / "data" / "ff").mkdir(exist_ok=True)
        (root / "data" / "ff" / f"{utt}.flac").write_bytes(data)
    sf.write(root / "data" / "ff" / "ff00000003.flac", np.zeros(1600, np.float32) + 0.01, 16000)
    shutil.copy(good, root / "data" / "ff" / "ff00000004.flac")
    extra = [
        "ff00000001\tbad\tсломанный файл",
        "ff00000002\tbad\tобрезанный файл",
        "ff00000003\tbad\tслишком длинный текст для такой короткой записи",
        "ff00000004\tbad\t!!! ... ?",
    ]
    (root / "train.tsv").write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    # a test item with a character never seen in training: kept and scored, as [UNK]
    shutil.copy(good, root / "data" / "ff" / "ff00000005.flac")
    with open(root / "test.tsv", "a", encoding="utf-8") as f:
        f.write("ff00000005\tbad\tквартира x\n")
    return root


def train_args(corpus, pretrained, runs, name, *extra):
    return [
        "train",
        "asr_w2v2bert",
        "data=synth_speech_ru",
        f"data.root={corpus}",
        "data.builtin=null",
        f"model.pretrained={pretrained}",
        "trainer.precision=fp32",
        "trainer.num_workers=0",
        "trainer.val_every_n_steps=null",
        "trainer.save_every_n_steps=null",
        "trainer.val_every_n_epochs=1",
        "trainer.save_every_n_epochs=1",
        "trainer.log_every_n_steps=1",
        "lr_scheduler.warmup_steps=1",
        "optimizer.lr=1e-3",
        f"trainer.runs_root={runs}",
        f"trainer.run_name={name}",
        "trainer.progress=none",
        "writer=jsonl",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(corpus, pretrained_bert, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(train_args(corpus, pretrained_bert, runs, "tiny", "trainer.max_steps=4")) == 0
    return runs / "asr_w2v2bert" / "tiny"


def test_broken_items_are_listed_and_left_out_and_the_loss_stays_finite(trained):
    bad = [json.loads(line) for line in (trained / "bad_items.jsonl").read_text().splitlines()]
    reasons = {b["id"]: b["reason"] for b in bad}
    assert reasons == {
        "ff00000001": "undecodable",
        "ff00000002": "undecodable",
        "ff00000003": "too_short_for_ctc",
        "ff00000004": "empty_transcript",
    }
    rows = read_metrics(trained)
    train = [r["loss"] for r in rows if r.get("split") == "train"]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert len(train) == 4 and val
    assert all(np.isfinite(train)) and all(np.isfinite(val))


def test_checkpoint_holds_the_processor_and_a_cyrillic_vocabulary(trained):
    best = trained / "checkpoints" / "best"
    vocab = json.loads((best / "vocab.json").read_text())
    assert vocab["kind"] == "script_char" and "й" in vocab["chars"] and "ё" in vocab["chars"]
    assert not any(c.isdigit() for c in vocab["chars"])  # "номер 41" was spelled out
    hf = best / "hf_config"
    config = json.loads((hf / "config.json").read_text())
    assert config["vocab_size"] == len(vocab["chars"]) + 3 and config["pad_token_id"] == 0
    assert config["ctc_loss_reduction"] == "mean" and config["add_adapter"] is True
    assert config["mask_time_prob"] == 0.05 and config["layerdrop"] == 0.1
    assert json.loads((hf / "preprocessor_config.json").read_text())["stride"] == 2


def test_resume_is_exact(corpus, pretrained_bert, tmp_path):
    """4 steps straight == 2 steps, then resumed from `last` to 4 (dropout, layerdrop, masking on)."""
    assert (
        main(train_args(corpus, pretrained_bert, tmp_path, "straight", "trainer.max_steps=4")) == 0
    )
    assert main(train_args(corpus, pretrained_bert, tmp_path, "split", "trainer.max_steps=2")) == 0
    split = tmp_path / "asr_w2v2bert" / "split"
    resume = [f"trainer.resume_from={split / 'checkpoints' / 'last'}", "trainer.max_steps=4"]
    assert main(train_args(corpus, pretrained_bert, tmp_path, "split", *resume)) == 0

    def losses(run):
        return [(r["step"], r["loss"]) for r in read_metrics(run) if r.get("split") == "train"]

    straight = tmp_path / "asr_w2v2bert" / "straight"
    assert len(losses(straight)) == 4 and losses(split) == losses(straight)
    a = load_file(straight / "checkpoints" / "last" / "model.safetensors")
    b = load_file(split / "checkpoints" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_eval_and_export_to_plain_transformers_transcribe_the_same(
    trained, corpus, tmp_path, capsys
):
    import seqlab

    best = trained / "checkpoints" / "best"
    out = tmp_path / "eval.json"
    assert main(["eval", str(best), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_items"] == len((corpus / "test.tsv").read_text().splitlines())

    export = tmp_path / "export"
    assert main(["export", str(best), "--hf", str(export)]) == 0
    capsys.readouterr()
    processor = transformers.AutoProcessor.from_pretrained(export)
    model = transformers.AutoModelForCTC.from_pretrained(export).eval()
    assert isinstance(model, transformers.Wav2Vec2BertForCTC)

    files = sorted((corpus / "data").rglob("*.flac"))[:5]
    waves = [sf.read(f, dtype="float32")[0] for f in files]
    ours_model = seqlab.load(best)

    # one file at a time, as plain transformers is used most often; the frames decoded are those
    # the attention mask makes valid (the extractor pads an odd frame count with a masked frame)
    singles = []
    for wave in waves:
        inputs = processor(wave, sampling_rate=16000, return_tensors="pt")
        n = int(model._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))[0])
        with torch.no_grad():
            singles.append(processor.decode(model(**inputs).logits[0, :n].argmax(-1)))
    assert ours_model.transcribe([str(f) for f in files], batch_size=1) == singles

    # a padded batch: same scores on every valid frame, same transcripts
    inputs = processor(waves, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits  # (B, T', V)
    their_lengths = model._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))
    lengths = torch.tensor([len(w) for w in waves])
    audio = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        audio[i, : len(w)] = torch.from_numpy(w)
    with torch.no_grad():
        log_probs, out_lengths = ours_model.model(audio, lengths)
    assert out_lengths.tolist() == their_lengths.tolist()
    theirs = []
    for i, n in enumerate(out_lengths.tolist()):
        torch.testing.assert_close(
            log_probs[i, :n], torch.log_softmax(logits[i, :n], -1), atol=2e-3, rtol=0
        )
        theirs.append(processor.decode(logits[i, :n].argmax(-1)))
    ours = ours_model.transcribe([str(f) for f in files])
    assert ours == theirs
    code = main(["transcribe", str(best), *map(str, files[:2])])
    assert code == 0 and capsys.readouterr().out.splitlines() == ours[:2]


def test_wav2vec2_with_a_frozen_feature_encoder_and_checkpointing_trains(corpus, tmp_path):
    folder = tmp_path / "tiny-wav2vec2"
    config = transformers.Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        vocab_size=12,
    )
    transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
    args = train_args(
        corpus,
        folder,
        tmp_path,
        "w2v2",
        "model=wav2vec2_ctc",
        "model.gradient_checkpointing=true",
        "trainer.max_steps=2",
    )
    assert main(args) == 0
    run = tmp_path / "asr_w2v2bert" / "w2v2"
    before = load_file(folder / "model.safetensors")
    after = load_file(run / "checkpoints" / "last" / "model.safetensors")
    conv = "wav2vec2.feature_extractor.conv_layers.0.conv.weight"
    assert torch.equal(after[f"hf.{conv}"], before[conv])  # frozen
    head = "wav2vec2.encoder.layers.0.attention.k_proj.weight"
    assert not torch.equal(after[f"hf.{head}"], before[head])  # trained


def test_no_network_and_no_local_copy_gives_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    corpus = tmp_path / "c"  # the vocabulary needs only the transcripts; the model fails first
    corpus.mkdir()
    (corpus / "train.tsv").write_text("0000000001\tspk\tпривет мир\n", encoding="utf-8")
    code = main(
        [
            "train",
            "asr_w2v2bert",
            "data=synth_speech_ru",
            f"data.root={corpus}",
            "data.builtin=null",
            f"trainer.runs_root={tmp_path}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "facebook/w2v-bert-2.0" in err and "model.pretrained=/path/to/DIR" in err


def test_demo_experiment_builds_a_tiny_model_offline(corpus):
    """asr_w2v2bert_demo: no pretrained weights at all, a fresh tiny model from model.init."""
    from hydra.utils import instantiate

    from seqlab.config import compose_experiment
    from seqlab.engine.task import Task

    cfg = compose_experiment("asr_w2v2bert_demo", [f"data.root={corpus}", "data.builtin=null"])
    task = instantiate(cfg.task, cfg=cfg, _recursive_=False)
    assert isinstance(task, Task)
    n_params = sum(p.numel() for p in task.model.parameters())
    assert 100_000 < n_params < 1_000_000
    spec = task.train_data(0, 1, None)
    batch = spec.collate_fn([spec.dataset[i] for i in next(iter(spec.batch_sampler))])
    assert len(batch["ids"]) <= cfg.data.max_batch_size
    out = task.training_step(batch)
    assert torch.isfinite(out["loss"]) and out["n_units"] == len(
        batch["ids"]
    )  # mean: per utterance


def test_synth_speech_cli_builds_the_russian_corpus_in_openslr_layout(tmp_path, capsys):
    out = tmp_path / "ru"
    assert main(["data", "synth-speech", str(out), "--language", "ru", "--hours", "0.001"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["language"] == "ru" and summary["splits"]["train"]["utterances"] == 20
    utt, speaker, text = (out / "train.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert (out / "data" / utt[:2] / f"{utt}.flac").is_file() and "+" in speaker
    assert any("\u0400" <= c <= "\u04ff" for c in text)  # Cyrillic
    with pytest.raises(ValueError, match="no built-in sentence grammar for language 'xx'"):
        main(["data", "synth-speech", str(tmp_path / "xx"), "--language", "xx"])
