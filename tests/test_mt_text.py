"""Real text for translation: raw corpora (Multi30k-like: cased, punctuation attached) are
Moses-tokenised for word vocabularies, their references are scored exactly as they are in the file,
and vocabularies saved before these options load and behave as before."""

import json
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.text.mt_vocab import (
    SubwordVocab,
    WordVocab,
    build_mt_vocabs,
    detokenize,
    load_mt_vocab,
    looks_tokenized,
)

# Raw captions, as Multi30k ships them; the last two are lines Moses detokenisation alters
# (a quote glued to the previous word, an ellipsis moved): a raw reference must stay as it is.
RAW_EN = [
    "A man in an orange hat starring at something.",
    "Two young, White males are outside near many bushes.",
    "A little girl climbing into a wooden playhouse.",
    "A dog is running on green grass in front of a white fence.",
    "Military personnel standing under a 'Grand Opening' sign.",
    'A sign that says "Come on now ... what\'s that."',
]
RAW_DE = [
    "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
    "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
    "Ein kleines Mädchen klettert in ein Spielhaus aus Holz.",
    "Ein Hund läuft über grünes Gras vor einem weißen Zaun.",
    "Soldaten stehen unter einem Schild mit der Aufschrift 'Grand Opening'.",
    'Ein Schild, auf dem steht: "Come on now ... what\'s that."',
]
TOKENIZED_EN = [
    "anna 's car is red .",
    "i missed the train at eight o'clock .",
    "is it late ?",
    "the man , who is old , sleeps .",
]


def test_raw_and_tokenized_text_are_told_apart():
    assert not looks_tokenized(RAW_EN, "en") and not looks_tokenized(RAW_DE, "de")
    assert looks_tokenized(TOKENIZED_EN, "en")
    assert detokenize(RAW_EN[4], "en") != RAW_EN[4]  # why raw references must not be detokenised


def test_word_vocab_moses_tokenises_raw_text_and_saves_the_choice(tmp_path):
    vocab = WordVocab.build(RAW_EN, lang="en", tokenize="moses")
    assert {"hat", "bushes", "playhouse", ".", ","} <= set(vocab.itos)
    assert "playhouse." not in vocab.itos
    ids = vocab.encode("A little girl in a hat.")
    assert vocab.unk_id not in ids
    assert vocab.tokens(ids) == ["A", "little", "girl", "in", "a", "hat", "."]
    assert vocab.decode(ids) == "A little girl in a hat."  # output is detokenised
    plain = WordVocab.build(RAW_EN, lang="en")  # whitespace only: "playhouse." is a word
    assert plain.encode("a playhouse")[-1] == plain.unk_id
    assert vocab.encode("a playhouse")[-1] != vocab.unk_id
    vocab.save(tmp_path, "tgt")
    assert json.loads((tmp_path / "tgt_vocab.json").read_text())["tokenize"] == "moses"
    assert load_mt_vocab(tmp_path, "tgt").encode("A little girl in a hat.") == ids
    src, tgt = build_mt_vocabs(RAW_DE, RAW_EN, kind="word", tokenized=False)  # auto: moses
    assert src.tokenize == tgt.tokenize == "moses" and "Hut" in src.itos
    src, tgt = build_mt_vocabs(RAW_DE, TOKENIZED_EN, kind="word", tokenized=True)  # auto: none
    assert tgt.tokenize == "none" and "'s" in tgt.itos  # Moses would make it "' s"
    with pytest.raises(ValueError, match="vocab.tokenize"):
        build_mt_vocabs(RAW_DE, RAW_EN, kind="word", tokenize="spacy")


def test_vocabularies_saved_before_the_options_load_and_behave_as_before(tmp_path):
    itos = ["<pad>", "<unk>", "<s>", "</s>", "the", "hat.", "hat"]
    (tmp_path / "src_vocab.json").write_text(
        json.dumps({"kind": "word", "lang": "en", "itos": itos})
    )
    old = load_mt_vocab(tmp_path, "src")
    assert old.tokenize == "none" and old.encode("the hat.") == [4, 5]  # split on spaces only
    lines = [line.lower() for line in TOKENIZED_EN * 20]
    spm = SubwordVocab.train(lines, vocab_size=40, model_type="bpe", lang="en")
    spm.save(tmp_path, "tgt")
    payload = json.loads((tmp_path / "tgt_vocab.json").read_text())
    assert payload.pop("detokenize_input") is True
    (tmp_path / "tgt_vocab.json").write_text(json.dumps(payload))
    old = load_mt_vocab(tmp_path, "tgt")
    assert old.detokenize_input  # as before: the input is detokenised before encoding
    assert old.encode("anna 's car .") == old.processor.encode("anna's car.")
    raw = SubwordVocab.train(RAW_EN * 5, 60, "bpe", lang="en", detokenize_input=False)
    raw.save(tmp_path, "raw")
    again = load_mt_vocab(tmp_path, "raw")
    assert not again.detokenize_input
    assert again.encode(RAW_EN[4]) == again.processor.encode(RAW_EN[4])


def _write(root: Path, split: str, de: list[str], en: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}.de-en.de").write_text("\n".join(de) + "\n", encoding="utf-8")
    (root / f"{split}.de-en.en").write_text("\n".join(en) + "\n", encoding="utf-8")


def test_raw_corpus_trains_with_moses_words_and_scores_references_as_in_the_file(tmp_path, capsys):
    root = tmp_path / "raw"
    _write(root, "train", RAW_DE * 4, RAW_EN * 4)
    _write(root, "val", RAW_DE, RAW_EN)
    _write(root, "test2016", RAW_DE, RAW_EN)
    common = [
        f"data.root={root}",
        "data.build_if_missing=false",
        "data.test=test2016",
        "model.d_model=16",
        "model.nhead=2",
        "model.dim_feedforward=16",
        "model.num_encoder_layers=1",
        "model.num_decoder_layers=1",
        "trainer.n_epochs=1",
        "trainer.averaging.type=none",
        "trainer.precision=fp32",
        "trainer.progress=none",
        "trainer.num_workers=0",
        f"trainer.runs_root={tmp_path / 'runs'}",
        "writer=jsonl",
        "generation.beam_size=1",
    ]
    assert main(["train", "mt_transformer", *common, "trainer.run_name=raw"]) == 0
    assert "target lines look like raw text" in capsys.readouterr().out
    ckpt = tmp_path / "runs" / "mt_transformer" / "raw" / "checkpoints" / "last"
    assert json.loads((ckpt / "tgt_vocab.json").read_text())["tokenize"] == "moses"
    out = tmp_path / "eval.json"
    assert main(["eval", str(ckpt), "--split", "test", "--out", str(out)]) == 0
    refs = [u["reference"] for u in json.loads(out.read_text())["utterances"]]
    assert sorted(refs) == sorted(RAW_EN)  # exactly the file's lines, quotes and "..." included
    forced = tmp_path / "forced.json"  # data.detokenize=true says the files are tokenised
    argv = ["eval", "--split", "test", "--out", str(forced), str(ckpt), "data.detokenize=true"]
    assert main(argv) == 0
    refs = [u["reference"] for u in json.loads(forced.read_text())["utterances"]]
    assert detokenize(RAW_EN[4], "en") in refs and RAW_EN[4] not in refs


def test_multi30k_experiment_reads_the_data_get_layout_as_raw_text():
    from seqlab.config import compose_experiment

    cfg = compose_experiment("mt_transformer_multi30k")
    assert (cfg.data.root, cfg.data.train, cfg.data.val, cfg.data.test) == (
        "data/multi30k",
        "train",
        "val",
        "test2016",
    )
    assert cfg.data.build_if_missing is False and cfg.data.detokenize is False
    assert cfg.model.share_embeddings and cfg.vocab.joint  # one table needs one vocabulary
    assert cfg.trainer.max_seconds == 1800
    user = compose_experiment("mt_transformer", ["data.detokenize=false", "vocab.tokenize=moses"])
    assert user.data.detokenize is False and user.vocab.tokenize == "moses"
