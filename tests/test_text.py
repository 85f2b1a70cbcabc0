"""Normalisation and vocabularies: the rules as documented, round trips, the blank at id 0."""

import random

import pytest

from seqlab.text.normalize import normalize_text
from seqlab.text.vocab import CharVocab, SentencePieceVocab, build_vocab, load_vocab


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello,  World!", "hello world"),
        ("Café NAÏVE façade", "cafe naive facade"),
        ("Don\u2019t say \u2018no\u2019", "don't say no"),
        ("'tis the dogs' bone", "tis the dogs bone"),
        ("well-known and/or self\u2014made", "well known and or self made"),
        ("wait...what?", "wait what"),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
        ("Room 101", "room 101"),  # digits are kept; the vocab reports them
        ("\ufb01ne", "fine"),  # NFKD splits the ligature
        ('"quoted" (aside)', "quoted aside"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_char_vocab_layout_and_round_trip(tmp_path):
    vocab = CharVocab()
    assert len(vocab) == 29 and vocab.blank_id == 0 and vocab.kind == "char"
    assert vocab.symbols[:3] == ["<blank>", " ", "'"] and vocab.symbols[3] == "a"
    ids = vocab.encode("It's a Test!")
    assert 0 not in ids and ids[:2] == [3 + 8, 3 + 19]  # "i", "t"
    assert vocab.decode(ids) == "it's a test"
    assert vocab.decode([0, *ids, 0]) == "it's a test"  # blanks are skipped
    vocab.save(tmp_path)
    again = load_vocab(tmp_path)
    assert isinstance(again, CharVocab) and again.symbols == vocab.symbols


def test_char_vocab_names_unmappable_characters():
    vocab = CharVocab()
    assert vocab.unmappable("Room 101 ñ") == {"1", "0"}  # ñ -> n by NFKD
    assert vocab.unmappable("жук") == {"ж", "у", "к"}
    with pytest.raises(ValueError, match=r"'0', '1'"):
        vocab.encode("room 101")


def _generated_corpus(n=300, seed=0):
    rng = random.Random(seed)
    words = "the quick brown fox jumps over a lazy dog while speech models train on data".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 10))) for _ in range(n)]


def test_sentencepiece_trains_and_round_trips(tmp_path):
    texts = _generated_corpus()
    vocab = build_vocab("sentencepiece", texts=texts, vocab_size=40, out_dir=tmp_path / "sp")
    assert isinstance(vocab, SentencePieceVocab) and vocab.kind == "sentencepiece"
    assert len(vocab) == 41 and vocab.blank_id == 0
    for text in texts[:20] + ["Quick, BROWN dog!"]:
        ids = vocab.encode(text)
        assert ids and min(ids) >= 1  # id 0 is reserved for the blank
        assert vocab.decode(ids) == normalize_text(text)
        assert vocab.decode([0, *ids]) == normalize_text(text)
    assert vocab.unmappable("the 3 foxes") == {"3"}
    with pytest.raises(ValueError, match="'3'"):
        vocab.encode("the 3 foxes")
    again = load_vocab(tmp_path / "sp")
    assert isinstance(again, SentencePieceVocab)
    assert again.encode(texts[0]) == vocab.encode(texts[0]) and len(again) == len(vocab)


def test_sentencepiece_too_large_vocab_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="smaller vocab_size"):
        SentencePieceVocab.train(["ab ba"] * 5, vocab_size=500)


@pytest.mark.parametrize(
    ("raw", "english", "script", "script_no_apostrophe"),
    [
        ("don't", "don't", "don't", "don t"),
        ("o''clock", "oclock", "o clock", "o clock"),  # a dropped apostrophe: "" vs a space
        ("'tis the dogs'", "tis the dogs", "tis the dogs", "tis the dogs"),
        ("end.Next - a/b", "end next a b", "end next a b", "end next a b"),
    ],
)
def test_one_punctuation_rule_for_both_recipes(raw, english, script, script_no_apostrophe):
    """normalize_text and ScriptNormalizer share drop_punctuation; only what an apostrophe that
    is not kept becomes differs (as it did before they shared it)."""
    from seqlab.text.script_normalize import ScriptNormalizer

    assert normalize_text(raw) == english
    assert ScriptNormalizer()(raw) == script
    assert ScriptNormalizer(keep_apostrophe=False)(raw) == script_no_apostrophe


def _drop_punctuation_per_character(text, keep_apostrophe=True, dropped_apostrophe=""):
    """drop_punctuation as it was written before its ASCII fast path: one character at a time."""
    import re
    import unicodedata

    text = re.sub(r"[-\u2010\u2011\u2012\u2013\u2014\u2212/\\]", " ", text)
    kept = []
    for i, ch in enumerate(text):
        if ch == "'":
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            flanked = keep_apostrophe and before.isalnum() and after.isalnum()
            kept.append(ch if flanked else dropped_apostrophe)
            continue
        kept.append(" " if unicodedata.category(ch).startswith("P") else ch)
    return re.sub(r"\s+", " ", "".join(kept)).strip()


@pytest.mark.parametrize(("keep", "dropped"), [(True, ""), (True, " "), (False, " "), (True, "-")])
def test_ascii_fast_path_equals_the_per_character_rules(keep, dropped):
    """Every ASCII character, apostrophes and punctuation next to each other: same output as the
    per-character loop (the fast path only exists to index large corpora quickly)."""
    from seqlab.text.normalize import drop_punctuation

    rng = random.Random(17)
    alphabet = [chr(c) for c in range(128)] + ["'"] * 20 + ["a", "Z", "7", " "] * 10
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(3000)]
    texts += ["'", "''", "a'", "'a", "a'b", "a''b", "a'_b", "_'_", "a.'b", "o`clock"]
    for text in texts:
        expected = _drop_punctuation_per_character(text, keep, dropped)
        assert drop_punctuation(text, keep, dropped) == expected, repr(text)


def test_normalize_text_ascii_fast_path_equals_the_full_rules():
    """ASCII text skips NFKD and the combining-mark filter (both leave ASCII as it is) and maps
    only the backtick, the one ASCII typographic apostrophe: same output as the full recipe."""
    import unicodedata

    from seqlab.text.normalize import APOSTROPHES

    def full(text):
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return _drop_punctuation_per_character(text.lower().translate(APOSTROPHES))

    rng = random.Random(3)
    alphabet = [chr(c) for c in range(128)] + list("'`-") * 10 + list("aZ ") * 10
    for _ in range(3000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        assert normalize_text(text) == full(text), repr(text)
