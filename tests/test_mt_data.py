"""Translation data: the built-in corpus, parallel files, filtering, vocabularies, batching."""

import random
import re

import pytest
import torch

from seqlab.corpora.mt.clauses import Clause
from seqlab.corpora.mt.corpus import build_mt_corpus
from seqlab.corpora.mt.lexicon.adjectives import ADJECTIVES
from seqlab.corpora.mt.lexicon.determiners import CASES
from seqlab.corpora.mt.lexicon.names import MONTHS_DE, MONTHS_EN
from seqlab.corpora.mt.lexicon.nouns import COMPOUNDS, FOOD, PEOPLE, PLACES
from seqlab.corpora.mt.lexicon.verbs import TRANSITIVE, conjugate_present
from seqlab.corpora.mt.noun_phrases import NP, noun_np, pp
from seqlab.corpora.mt.numbers import (
    de_cardinal,
    de_ordinal_stem,
    de_year,
    en_cardinal,
    en_ordinal,
    en_year,
)
from seqlab.data.bucketing import DynamicBucketBatchSampler
from seqlab.data.parallel import (
    ParallelDataError,
    collate_mt,
    filter_pairs,
    pair_lengths,
    read_parallel,
    read_tsv,
    take_fraction,
)
from seqlab.text.mt_vocab import (
    SubwordVocab,
    WordVocab,
    build_mt_vocabs,
    detokenize,
    load_mt_vocab,
)

FILES = [f"{s}.de-en.{lang}" for s in ("train", "val", "test1") for lang in ("de", "en")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("mt")
    summary = build_mt_corpus(out, n_train=3000, n_val=200, n_test=200, seed=0)
    pairs = {split: read_parallel(out, split, "de", "en") for split in ("train", "val", "test1")}
    return out, summary, pairs


# ---- the built-in corpus --------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build_mt_corpus(a, n_train=200, n_val=20, n_test=20, seed=3)
    build_mt_corpus(b, n_train=200, n_val=20, n_test=20, seed=3)
    build_mt_corpus(c, n_train=200, n_val=20, n_test=20, seed=4)
    for name in [*FILES, "corpus.json"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "train.de-en.de").read_bytes() != (c / "train.de-en.de").read_bytes()


def test_layout_counts_and_splits_disjoint(corpus):
    out, summary, pairs = corpus
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "corpus.json"])
    assert [len(pairs[s]) for s in ("train", "val", "test1")] == [3000, 200, 200]
    assert summary["splits"]["train"]["pairs"] == 3000 and summary["seed"] == 0
    assert summary["vocab_size"]["de"] > summary["vocab_size"]["en"] > 300
    train_src = {de for de, _ in pairs["train"]}
    assert len(train_src) == 3000  # distinct
    val_src = {de for de, _ in pairs["val"]}
    test_src = {de for de, _ in pairs["test1"]}
    assert not train_src & val_src and not train_src & test_src and not val_src & test_src


def test_lines_are_lowercase_and_tokenized(corpus):
    _, _, pairs = corpus
    for de, en in pairs["train"][:500]:
        for line in (de, en):
            assert line == line.lower() and line == line.strip() and "  " not in line
            assert line[-1] in ".?" and line[-2] == " "  # final punctuation split off
            assert not re.search(r"\w[,.?]", line)


def test_number_renderings_agree_across_languages(corpus):
    _, _, pairs = corpus
    amounts = {de_cardinal(n): n for n in range(2, 5001)}
    years = {de_year(y): y for y in range(1900, 2030)}
    months = dict(zip(MONTHS_DE, MONTHS_EN, strict=True))
    ordinals = {de_ordinal_stem(d) + "en": d for d in range(1, 32)}
    seen = {"euro": 0, "year": 0, "date": 0}
    for de, en in pairs["train"]:
        words = de.split()
        for i, word in enumerate(words):
            if word == "euro" and words[i - 1] in amounts:
                assert f" {en_cardinal(amounts[words[i - 1]])} euros" in en, (de, en)
                seen["euro"] += 1
            if word in years:
                assert en_year(years[word]) in en, (de, en)
                seen["year"] += 1
            if word == "am" and i + 2 < len(words) and words[i + 1] in ordinals:
                month = months[words[i + 2]]
                assert f"on the {en_ordinal(ordinals[words[i + 1]])} of {month}" in en, (de, en)
                seen["date"] += 1
    assert min(seen.values()) >= 20, seen


def test_num2words_renderings():
    assert de_cardinal(250) == "zweihundertfünfzig" and en_cardinal(250) == "two hundred and fifty"
    assert en_cardinal(1500) == "one thousand five hundred"  # no comma inside a token stream
    assert de_year(1987) == "neunzehnhundertsiebenundachtzig"
    assert en_year(1987) == "nineteen eighty-seven"
    assert de_ordinal_stem(3) + "en" == "dritten" and en_ordinal(21) == "twenty-first"


def test_german_declension_and_contractions():
    apfel = next(n for n in FOOD if n.de == "apfel")
    rot = next(a for a in ADJECTIVES if a.de == "rot")
    np = noun_np(apfel, "indef", adj=rot)
    assert np.de == {
        "nom": ["ein", "roter", "apfel"],
        "acc": ["einen", "roten", "apfel"],
        "dat": ["einem", "roten", "apfel"],
    }
    assert np.en == ["a", "red", "apple"]
    assert noun_np(apfel, "num", True, adj=rot, count=3).de["dat"] == ["drei", "roten", "äpfeln"]
    assert noun_np(apfel, "kein", True).en == ["any", "apples"]
    kind = next(n for n in PEOPLE if n.de == "kind")
    assert noun_np(kind, "def", True).de["dat"] == ["den", "kindern"]
    junge = next(n for n in PEOPLE if n.de == "junge")
    assert noun_np(junge, "mein").de["acc"] == ["meinen", "jungen"]  # weak noun
    alt = next(a for a in ADJECTIVES if a.de == "alt")
    bahnhof = next(n for n in PLACES if n.de == "bahnhof")
    assert pp("in", noun_np(bahnhof, "def", adj=alt), "dat") == ["im", "alten", "bahnhof"]
    uhr = next(n for n in COMPOUNDS if n.de == "bahnhofsuhr")
    assert (uhr.gender, uhr.en_form(True)) == ("f", "station clocks")


def _clause(tense, neg=False):
    mutter = next(n for n in PEOPLE if n.de == "mutter")
    anrufen = next(v for v in TRANSITIVE if v.inf == "anrufen")
    subj = NP(de={c: ["er"] for c in CASES}, en=["he"], person=2, pronoun=True)
    return Clause(subj=subj, verb=anrufen, tense=tense, obj=noun_np(mutter, "sein"), neg=neg)


def test_word_order_separable_verbs_and_do_support():
    assert " ".join(_clause("pres").de_main()) == "er ruft seine mutter an"
    assert " ".join(_clause("pres").de_sub("weil")) == "weil er seine mutter anruft"
    assert " ".join(_clause("perf").de_main()) == "er hat seine mutter angerufen"
    assert " ".join(_clause("perf").de_sub("dass")) == "dass er seine mutter angerufen hat"
    assert " ".join(_clause("können").de_sub("ob")) == "ob er seine mutter anrufen kann"
    assert " ".join(_clause("perf", neg=True).de_main()) == "er hat seine mutter nicht angerufen"
    assert " ".join(_clause("pres").en_main()) == "he calls his mother"
    assert " ".join(_clause("perf", neg=True).en_main()) == "he did not call his mother"
    assert " ".join(_clause("perf").en_question("why")) == "why did he call his mother"
    assert " ".join(_clause("wollen").en_question()) == "does he want to call his mother"
    assert conjugate_present("arbeiten")[1:3] == ["arbeitest", "arbeitet"]


def test_corpus_rejects_other_languages(tmp_path):
    with pytest.raises(ValueError, match="German/English"):
        build_mt_corpus(tmp_path, n_train=5, n_val=1, n_test=1, src="de", tgt="fr")


# ---- parallel files -------------------------------------------------------------------------------


def test_misaligned_files_name_both_files_and_counts(tmp_path):
    (tmp_path / "train.de-en.de").write_text("a .\nb .\nc .\n", encoding="utf-8")
    (tmp_path / "train.de-en.en").write_text("a .\nb .\n", encoding="utf-8")
    with pytest.raises(ParallelDataError) as err:
        read_parallel(tmp_path, "train", "de", "en")
    message = str(err.value)
    assert "train.de-en.de has 3" in message and "train.de-en.en has 2 lines" in message
    assert "line-aligned" in message


def test_read_parallel_plain_names_and_missing(tmp_path):
    (tmp_path / "dev.de").write_text("hallo welt .\nja\u2028nein .\n", encoding="utf-8")
    (tmp_path / "dev.en").write_text("hello world .\nyes no .", encoding="utf-8")  # no final \n
    assert read_parallel(tmp_path, "dev", "de", "en") == [
        ("hallo welt .", "hello world ."),
        ("ja\u2028nein .", "yes no ."),  # U+2028 is not a line break in parallel data
    ]
    with pytest.raises(FileNotFoundError, match=r"train\.de-en\.de"):
        read_parallel(tmp_path, "train", "de", "en")


def test_tsv_reports_bad_lines(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("hallo .\thello .\nkaputt ohne tab\na\tb\tc\n\tleer\n", encoding="utf-8")
    pairs, bad = read_tsv(path)
    assert pairs == [("hallo .", "hello ."), ("", "leer")]
    assert [b["line"] for b in bad] == [2, 3]
    assert "found 0" in bad[0]["reason"] and "found 2" in bad[1]["reason"]
    kept, bad_filtered = filter_pairs(pairs)
    assert kept == [("hallo .", "hello .")] and bad_filtered == [
        {"line": 2, "reason": "empty source"}
    ]


def test_filter_pairs_reasons():
    pairs = [
        ("a b c", "x y z"),
        ("a b c d e", "x"),
        ("a", ""),
        ("a " * 9, "x " * 9),
        ("a b", "x " * 12),
    ]
    kept, bad = filter_pairs(pairs, max_src_tokens=8, max_tgt_tokens=10, max_ratio=3.0)
    assert kept == [("a b c", "x y z")]
    reasons = {b["line"]: b["reason"] for b in bad}
    assert reasons[2].startswith("length ratio 5.00 > max_ratio=3.0")
    assert reasons[3] == "empty target"
    assert reasons[4].startswith("source too long: 9 tokens > max_src_tokens=8")
    assert reasons[5].startswith("target too long: 12 tokens")


def test_take_fraction_is_deterministic_and_ordered():
    pairs = [(f"s{i}", f"t{i}") for i in range(100)]
    a = take_fraction(pairs, 0.1, seed=7)
    assert a == take_fraction(pairs, 0.1, seed=7) and len(a) == 10
    assert a == sorted(a, key=lambda p: int(p[0][1:]))
    assert a != take_fraction(pairs, 0.1, seed=8)
    assert take_fraction(pairs, 1.0) == pairs and len(take_fraction(pairs, 0.001)) == 1
    with pytest.raises(ValueError, match="train_fraction"):
        take_fraction(pairs, 0.0)


def test_collate_places_bos_eos_and_padding():
    items = [
        {"id": "a", "src_ids": [5, 6, 7], "tgt_ids": [8, 9], "src_text": "s1", "tgt_text": "t1"},
        {"id": "b", "src_ids": [5], "tgt_ids": [8, 9, 10, 11], "src_text": "s2", "tgt_text": "t2"},
    ]
    batch = collate_mt(items, pad_id=0)
    assert batch["src"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["src_lengths"].tolist() == [3, 1] and batch["tgt_lengths"].tolist() == [3, 5]
    assert batch["tgt_in"].tolist() == [[2, 8, 9, 0, 0], [2, 8, 9, 10, 11]]
    assert batch["tgt_out"].tolist() == [[8, 9, 3, 0, 0], [8, 9, 10, 11, 3]]
    assert batch["src"].dtype == torch.long and batch["ids"] == ["a", "b"]
    assert batch["src_text"] == ["s1", "s2"] and batch["tgt_text"] == ["t1", "t2"]


def test_bucketing_sampler_reused_with_token_lengths():
    rng = random.Random(0)
    src = [[4] * rng.randint(1, 30) for _ in range(200)]
    tgt = [[4] * rng.randint(1, 30) for _ in range(200)]
    lengths = pair_lengths(src, tgt)
    sampler = DynamicBucketBatchSampler(lengths, max_batch_seconds=200, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        padded = collate_mt(
            [
                {"id": i, "src_ids": src[i], "tgt_ids": tgt[i], "src_text": "", "tgt_text": ""}
                for i in batch
            ]
        )
        assert padded["src"].numel() <= 200 and padded["tgt_in"].numel() <= 200


# ---- vocabularies ---------------------------------------------------------------------------------


def test_word_vocab_specials_min_freq_round_trip_and_detok(tmp_path):
    lines = ["i missed the train at eight o'clock .", "the train is late .", "anna 's car ."]
    vocab = WordVocab.build(lines, min_freq=2, lang="en")
    assert vocab.itos[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.itos[4:] == [".", "the", "train"]  # by frequency (3, 2, 2), then alphabetical
    ids = vocab.encode("the train missed .")
    assert ids == [5, 6, 1, 4]
    assert vocab.tokens(ids) == ["the", "train", "<unk>", "."]
    full = WordVocab.build(lines, lang="en")
    ids = full.encode(lines[0])
    assert full.decode([2, *ids, 3, 9, 9]) == "i missed the train at eight o'clock."
    assert full.decode(full.encode(lines[2])) == "anna's car."
    assert len(WordVocab.build(lines, max_size=6)) == 6
    full.save(tmp_path, "tgt")
    again = load_mt_vocab(tmp_path, "tgt")
    assert isinstance(again, WordVocab) and again.itos == full.itos and again.lang == "en"


def test_detokenize_for_references():
    assert detokenize("ich glaube , dass er kommt .", "de") == "ich glaube, dass er kommt."
    assert detokenize("is it eight o'clock ?", "en") == "is it eight o'clock?"


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_vocabs_joint_and_separate_round_trip(corpus, tmp_path, kind):
    _, _, pairs = corpus
    src = [de for de, _ in pairs["train"][:1500]]
    tgt = [en for _, en in pairs["train"][:1500]]
    src_vocab, tgt_vocab = build_mt_vocabs(src, tgt, kind=kind, joint=False, vocab_size=300)
    assert src_vocab is not tgt_vocab and len(src_vocab) == len(tgt_vocab) == 300
    joint_src, joint_tgt = build_mt_vocabs(src, tgt, kind=kind, joint=True, vocab_size=400)
    assert joint_src is joint_tgt and isinstance(joint_src, SubwordVocab)
    for vocab, line, lang in [
        (src_vocab, src[0], "de"),
        (tgt_vocab, tgt[0], "en"),
        (joint_src, src[1], "de"),
    ]:
        ids = vocab.encode(line)
        assert ids and min(ids) > 3  # no specials inside an encoded sentence
        assert vocab.decode([2, *ids, 3, *ids]) == detokenize(line, lang)
        assert "".join(vocab.tokens(ids)).replace("\u2581", " ").strip() == detokenize(line, lang)
    assert [tgt_vocab.processor.id_to_piece(i) for i in range(4)] == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    ]
    tgt_vocab.save(tmp_path, "tgt")
    assert (tmp_path / "tgt.model").is_file() and (tmp_path / "tgt_vocab.json").is_file()
    again = load_mt_vocab(tmp_path, "tgt")
    assert again.kind == kind and again.encode(tgt[5]) == tgt_vocab.encode(tgt[5])


def test_vocab_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown vocabulary kind"):
        build_mt_vocabs(["a ."], ["b ."], kind="char")
    with pytest.raises(FileNotFoundError, match="src_vocab.json"):
        load_mt_vocab(tmp_path, "src")
    with pytest.raises(ValueError, match="smaller vocab_size"):
        SubwordVocab.train(["ein kleiner satz ."], vocab_size=5000, model_type="bpe")
