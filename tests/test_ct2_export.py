"""CTranslate2 export of transformer_mt (``seqlab export --ctranslate2``) and its runtime
(``seqlab translate --runtime ct2``): CTranslate2 scores the same targets as seqlab's model within
1e-4 for every architecture option (pre/post-norm, sinusoidal/learned positions, shared/tied
embeddings, GELU/ReLU, word and sentencepiece vocabularies), and its translations equal seqlab's
greedy and beam outputs on padded batches of the tiny checkpoints in tests/fixtures/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ctranslate2 = pytest.importorskip(
    "ctranslate2", reason="the ct2 extra (ctranslate2) is not installed"
)

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
LINES = [
    "der hund sieht die katze .",
    "ich habe den zug verpasst .",
    "",
    "ein mann",
    "das ist gut und das ist schlecht , sagt die frau .",
    "ja",
]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))


def _task(experiment: str):
    from seqlab.inference import load_task

    return load_task(FIXTURES / experiment)[0]


def _variant(task, **options):
    """The fixture task with a fresh Transformer of these options, every weight perturbed (so
    LayerNorms and biases are not the 1/0 that would hide a mapping mistake)."""
    from seqlab.models.mt.transformer import TransformerSeq2Seq

    torch.manual_seed(0)
    cfg = {
        "d_model": 16,
        "nhead": 2,
        "dim_feedforward": 32,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        **options,
    }
    vocab = task.tgt_vocab
    model = TransformerSeq2Seq(
        len(task.src_vocab),
        len(vocab),
        **cfg,
        pad_id=vocab.pad_id,
        bos_id=vocab.bos_id,
        eos_id=vocab.eos_id,
    )
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    task.model = model.eval()
    return task


def _seqlab_scores(task, sources: list[list[int]], targets: list[list[int]]) -> list[list[float]]:
    """seqlab's per-token log-probs of ``targets`` (eos included), on one padded batch."""
    from seqlab.data.parallel import collate_mt

    vocab = task.tgt_vocab
    items = [
        {"id": str(i), "src_ids": s, "tgt_ids": t, "src_text": "", "tgt_text": ""}
        for i, (s, t) in enumerate(zip(sources, targets, strict=True))
    ]
    batch = collate_mt(items, vocab.pad_id, vocab.bos_id, vocab.eos_id)
    with torch.no_grad():
        logits = task.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
    log_probs = logits.float().log_softmax(-1).gather(-1, batch["tgt_out"][..., None])[..., 0]
    return [log_probs[i, : len(t) + 1].tolist() for i, t in enumerate(targets)]


@pytest.mark.parametrize(
    "options",
    [
        {},  # pre-norm, sinusoidal, tied, GELU
        {"norm_first": False, "activation": "relu"},
        {"positions": "learned", "max_positions": 64, "tie_embeddings": False},
    ],
    ids=["prenorm-sinusoidal", "postnorm-relu", "learned-untied"],
)
def test_ctranslate2_scores_equal_seqlab_log_probs(options, tmp_path):
    from seqlab.tasks.mt.ct2 import export_ctranslate2

    task = _variant(_task("mt_transformer"), **options)
    out = export_ctranslate2(task, tmp_path / "ct2")
    src_tokens = [task.src_vocab.itos[i] for i in range(len(task.src_vocab))]
    tgt_tokens = [task.tgt_vocab.itos[i] for i in range(len(task.tgt_vocab))]
    gen = torch.Generator().manual_seed(1)
    sources = [torch.randint(4, len(src_tokens), (n,), generator=gen).tolist() for n in (7, 3, 12)]
    targets = [torch.randint(4, len(tgt_tokens), (n,), generator=gen).tolist() for n in (5, 9, 2)]
    want = _seqlab_scores(task, sources, targets)  # one padded batch
    results = ctranslate2.Translator(str(out), compute_type="float32").score_batch(
        [[src_tokens[i] for i in s] for s in sources], [[tgt_tokens[i] for i in t] for t in targets]
    )
    for result, expected in zip(results, want, strict=True):
        assert result.tokens[-1] == "</s>"
        assert torch.allclose(torch.tensor(result.log_probs), torch.tensor(expected), atol=1e-4)


def test_shared_embeddings_and_sentencepiece_vocabularies(tmp_path):
    """The multi30k fixture: a joint BPE vocabulary with one embedding table for both sides."""
    from seqlab.tasks.mt.ct2 import export_ctranslate2

    task = _task("mt_transformer_multi30k")
    assert task.model.src_embedding is task.model.tgt_embedding
    out = export_ctranslate2(task, tmp_path / "ct2")
    pieces = [task.src_vocab.processor.id_to_piece(i) for i in range(len(task.src_vocab))]
    src = task.src_vocab.encode("Ein Mann fährt Fahrrad.")
    tgt = task.tgt_vocab.encode("A man rides a bike.")
    want = _seqlab_scores(task, [src], [tgt])[0]
    result = ctranslate2.Translator(str(out)).score_batch(
        [[pieces[i] for i in src]], [[pieces[i] for i in tgt]]
    )[0]
    assert torch.allclose(torch.tensor(result.log_probs), torch.tensor(want), atol=1e-4)


@pytest.mark.parametrize("experiment", ["mt_transformer", "mt_transformer_multi30k"])
def test_ct2_greedy_translates_like_seqlab(experiment):
    """Greedy on padded batches: the fixtures' barely trained models never end a sentence, so
    every output is cut at its length limit (seqlab keeps limit - 1 tokens; so must CT2)."""
    task = _task(experiment)
    torch_translator = task.for_inference("cpu")
    ct2_translator = task.for_inference("cpu", runtime="ct2")
    assert (torch_translator.runtime, ct2_translator.runtime) == ("torch", "ct2")
    for gen in ({"beam_size": 1}, {"beam_size": 1, "max_len_ratio": 0.5, "max_len_offset": 1}):
        want = torch_translator.translate(LINES, batch_size=4, **gen)
        assert ct2_translator.translate(LINES, batch_size=4, **gen) == want, gen
    assert want[2] == ""  # the empty line stays empty


def test_ct2_beam_translates_like_seqlab():
    """Beam search, every length penalty (GNMT reranked by seqlab), on padded batches with limits
    long enough that the hypotheses end by themselves. (At the length limit seqlab scores the
    forced end token and CTranslate2 does not, so rankings of cut hypotheses may differ there;
    the trained model's parity on the test set is measured by bench/inference_mt.py.) The
    fixture's barely trained model never ends a sentence: the end token is made likelier (its
    direction added to the final LayerNorm's bias), so hypotheses end at different lengths."""
    task = _task("mt_transformer")
    model = task.model
    with torch.no_grad():
        eos = model.tgt_embedding.weight[model.eos_id]
        model.decoder_norm.bias += 3.0 * eos / eos.norm() ** 2
    torch_translator = task.for_inference("cpu")
    ct2_translator = task.for_inference("cpu", runtime="ct2")
    long = {"max_len_ratio": 3.0, "max_len_offset": 30}
    lengths = set()
    for gen in (
        {"beam_size": 2},
        {"beam_size": 5, "length_penalty": "gnmt", "lp_alpha": 0.6},
        {"beam_size": 5, "length_penalty": "none"},
    ):
        want = torch_translator.translate(LINES, batch_size=4, **gen, **long)
        assert ct2_translator.translate(LINES, batch_size=4, **gen, **long) == want, gen
        lengths |= {len(line.split()) for line in want}
    assert len(lengths) >= 4  # ended at different lengths, not all cut at a limit


def test_the_lstm_is_refused_in_one_line(tmp_path):
    task = _task("mt_lstm")
    with pytest.raises(
        ValueError, match="CTranslate2 has no LSTM seq2seq spec; use --runtime torch"
    ):
        task.export("ctranslate2", tmp_path / "ct2")
    with pytest.raises(ValueError, match="no LSTM seq2seq spec"):
        task.for_inference("cpu", runtime="ct2")
    with pytest.raises(ValueError, match="runs with runtime 'torch' or 'ct2', not 'onnx'"):
        task.for_inference("cpu", runtime="onnx")
    assert not (tmp_path / "ct2").exists()


def test_seqlab_export_and_translate_runtime_ct2(tmp_path, capsys):
    from seqlab.cli import main

    ckpt = str(FIXTURES / "mt_transformer")
    source = tmp_path / "src.de"
    source.write_text("\n".join(LINES) + "\n")
    assert (
        main(["export", ckpt, "--ctranslate2", str(tmp_path / "int8"), "--quantization", "int8"])
        == 0
    )
    assert (tmp_path / "int8" / "model.bin").is_file() and (
        tmp_path / "int8" / "tgt_vocab.json"
    ).is_file()
    capsys.readouterr()
    assert main(["translate", ckpt, "--input", str(source), "--beam-size", "1"]) == 0
    torch_out = capsys.readouterr()
    assert (
        main(["translate", ckpt, "--input", str(source), "--beam-size", "1", "--runtime", "ct2"])
        == 0
    )
    ct2_out = capsys.readouterr()
    assert ct2_out.out == torch_out.out
    assert "runtime ct2 (CTranslate2" in ct2_out.err and "runtime" not in torch_out.err
    assert main(["export", str(FIXTURES / "mt_lstm"), "--ctranslate2", str(tmp_path / "lstm")]) == 2
    assert "no LSTM seq2seq spec" in capsys.readouterr().err


def test_ctranslate2_is_loaded_before_torch_for_the_ct2_runtime(tmp_path):
    """Both wheels bring an OpenMP runtime; CTranslate2 loaded after torch ran ~8x slower with 2
    threads. `seqlab translate --runtime ct2` and `seqlab.load(..., runtime="ct2")` import it
    first (a fresh process each, since this one has torch already); a program that imported
    torch itself is warned."""
    import subprocess
    import sys

    pytest.importorskip("ctranslate2")
    ckpt = str(FIXTURES / "mt_transformer")
    source = tmp_path / "src.de"
    source.write_text(LINES[0] + "\n")
    order = (
        "import sys; mods = list(sys.modules); "
        "print(mods.index('ctranslate2') < mods.index('torch'))"
    )
    cli = (
        f"from seqlab.cli import main; main(['translate', {ckpt!r}, '--input', "
        f"{str(source)!r}, '--runtime', 'ct2'])"
    )
    library = f"import seqlab; seqlab.load({ckpt!r}, runtime='ct2')"
    torch_first = f"import torch, warnings; warnings.simplefilter('error'); {library}"
    for code in (cli, library):
        done = subprocess.run(
            [sys.executable, "-c", f"{code}; {order}"], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "True"
    done = subprocess.run([sys.executable, "-c", torch_first], capture_output=True, text=True)
    assert done.returncode != 0 and "torch was imported before ctranslate2" in done.stderr
