"""The n-gram LM story: estimate a modified Kneser-Ney ARPA from text, load it with kenlm, score
words for CTC fusion. The reference for the estimate is arithmetic done by hand below."""

import gzip
import math

import kenlm
import pytest

from seqlab.corpora.synth_text import SentenceGenerator
from seqlab.decoding.lm import LanguageModel, load_lm, sentence_scores_by_words
from seqlab.decoding.lm.kneser_ney import build_arpa
from seqlab.decoding.lm.ngram import NGramLM, read_arpa_unigrams
from seqlab.text.normalize import normalize_text

LN10 = math.log(10.0)

# Five sentences over {a, b, c}, chosen so that both orders of a bigram model have non-degenerate
# count-of-counts (n1, n2, n3, n4 all > 0): no fallback discounts.
HAND_CORPUS = ["b b", "b c b", "c c b", "c", "a c b"]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parse_arpa(path):
    """Header counts and the n-gram entries of each section: {order: {words: (log10 p, backoff)}}."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    header, sections, current = {}, {}, None
    for line in lines[1:-1]:
        if line.startswith("ngram "):
            n, count = line[len("ngram ") :].split("=")
            header[int(n)] = int(count)
        elif line.startswith("\\") and line.endswith("-grams:"):
            current = int(line[1 : -len("-grams:")])
            sections[current] = {}
        elif line and current is not None:
            fields = line.split("\t")
            backoff = float(fields[2]) if len(fields) > 2 else 0.0
            sections[current][tuple(fields[1].split())] = (float(fields[0]), backoff)
    return header, sections


def kenlm_model(path):
    return kenlm.Model(str(path))


def state_after(model, words):
    state = kenlm.State()
    model.BeginSentenceWrite(state)
    for word in words:
        out = kenlm.State()
        model.BaseScore(state, word, out)
        state = out
    return state


def prob(model, context_words, word):
    out = kenlm.State()
    return 10 ** model.BaseScore(state_after(model, context_words), word, out)


def test_hand_computed_bigram_probabilities(tmp_path):
    arpa = tmp_path / "hand.arpa"
    summary = build_arpa(write_lines(tmp_path / "hand.txt", HAND_CORPUS), arpa, order=2)
    # Bigrams of "<s> b b </s>", "<s> b c b </s>", "<s> c c b </s>", "<s> c </s>", "<s> a c b </s>":
    #   count 1: <s> a, b b, b c, c c, c </s>, a c   -> n1 = 6
    #   count 2: <s> b, <s> c                         -> n2 = 2
    #   count 3: c b                                  -> n3 = 1
    #   count 4: b </s>                               -> n4 = 1
    # Y = 6 / (6 + 2*2) = 0.6; D1 = 1 - 2*0.6*2/6 = 0.6; D2 = 2 - 3*0.6*1/2 = 1.1;
    # D3+ = 3 - 4*0.6*1/1 = 0.6.
    y2 = 6 / (6 + 2 * 2)
    d2 = (1 - 2 * y2 * 2 / 6, 2 - 3 * y2 * 1 / 2, 3 - 4 * y2 * 1 / 1)
    # Unigram continuation counts (distinct left neighbours): a {<s>} = 1, </s> {b, c} = 2,
    # b {<s>, b, c} = 3, c {<s>, a, b, c} = 4; <s> and <unk> have 0. n1 = n2 = n3 = n4 = 1:
    # Y = 1/3; D1 = 1 - 2/3 = 1/3; D2 = 2 - 3*(1/3) = 1; D3+ = 3 - 4/3 = 5/3.
    y1 = 1 / 3
    d1 = (1 - 2 * y1, 2 - 3 * y1, 3 - 4 * y1)
    assert summary["discounts"][0] == pytest.approx(d1) and summary["discounts"][
        1
    ] == pytest.approx(d2)
    assert summary["fallback_orders"] == []

    # Unigrams: total continuation count 1 + 2 + 3 + 4 = 10; gamma = (D1 + D2 + 2*D3+) / 10;
    # uniform over {a, b, c, </s>, <unk>} = 1/5 (<s> is excluded).
    gamma_uni = (d1[0] + d1[1] + 2 * d1[2]) / 10
    p_uni = {
        "a": (1 - d1[0]) / 10 + gamma_uni / 5,  # = 12/75
        "c": (4 - d1[2]) / 10 + gamma_uni / 5,  # = 49/150
        "<unk>": gamma_uni / 5,  # = 7/75
    }
    assert p_uni["a"] == pytest.approx(12 / 75) and p_uni["c"] == pytest.approx(49 / 150)
    # Context "b": b b = 1, b c = 1, b </s> = 4 -> total 6; gamma(b) = (D1 + D1 + D3+) / 6 = 0.3.
    gamma_b = (d2[0] + d2[0] + d2[2]) / 6
    assert gamma_b == pytest.approx(0.3)
    p_c_given_b = (1 - d2[0]) / 6 + gamma_b * p_uni["c"]  # seen bigram: 0.4/6 + 0.3*49/150
    p_a_given_b = gamma_b * p_uni["a"]  # unseen bigram "b a": backoff only, 0.3 * 0.16 = 0.048

    model = kenlm_model(arpa)
    assert prob(model, ["b"], "c") == pytest.approx(p_c_given_b, rel=1e-5)
    assert prob(model, ["b"], "a") == pytest.approx(p_a_given_b, rel=1e-5)
    # Context "<s>": <s> a = 1, <s> b = 2, <s> c = 2 -> total 5; gamma(<s>) = (D1 + 2*D2) / 5 = 0.56.
    # <unk> is never seen: P(<unk> | <s>) = 0.56 * 7/75.
    assert prob(model, [], "<unk>") == pytest.approx((d2[0] + 2 * d2[1]) / 5 * p_uni["<unk>"])
    # The <s> unigram as lmplz writes it: log10 probability 0, backoff log10 gamma(<s>).
    bos_logp, bos_backoff = parse_arpa(arpa)[1][1][("<s>",)]
    assert bos_logp == 0.0
    assert bos_backoff == pytest.approx(math.log10((d2[0] + 2 * d2[1]) / 5), abs=1e-6)
    null = kenlm.State()
    model.NullContextWrite(null)  # no context at all: the unigram distribution
    assert 10 ** model.BaseScore(null, "<unk>", kenlm.State()) == pytest.approx(p_uni["<unk>"])
    assert 10 ** model.BaseScore(null, "a", kenlm.State()) == pytest.approx(p_uni["a"])
    assert p_c_given_b == pytest.approx(0.1646667, abs=1e-7)


def test_fallback_discounts_on_a_degenerate_corpus(tmp_path):
    arpa = tmp_path / "tiny.arpa"
    summary = build_arpa(write_lines(tmp_path / "tiny.txt", ["a b"]), arpa, order=2)
    # Every count is 1 (n2 = 0): lmplz would stop; we use its --discount_fallback 0.5 1 1.5.
    assert summary["fallback_orders"] == [1, 2]
    assert summary["discounts"] == [[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]
    # Unigrams a, b, </s> each continuation count 1, total 3: gamma = 3*0.5/3 = 0.5, uniform 1/4
    # ({a, b, </s>, <unk>}): P(b) = 0.5/3 + 0.5/4 = 7/24. Context "a": a b = 1, gamma(a) = 0.5:
    # P(b | a) = 0.5/1 + 0.5 * 7/24 = 31/48.
    assert prob(kenlm_model(arpa), ["a"], "b") == pytest.approx(31 / 48, rel=1e-5)


def test_arpa_is_valid_and_loads(tmp_path):
    text = write_lines(
        tmp_path / "text.txt",
        ["The cat sat.", "", "the cat ran", "A dog sat on the cat", "the dog, the cat"],
    )
    for order in (2, 3, 4):
        arpa = tmp_path / f"lm{order}.arpa"
        summary = build_arpa(text, arpa, order=order)
        header, sections = parse_arpa(arpa)
        assert sorted(sections) == list(range(1, order + 1))
        assert header == {n: len(grams) for n, grams in sections.items()}
        assert summary["ngrams"] == [header[n] for n in range(1, order + 1)]
        assert summary["sentences"] == 4 and summary["empty_lines"] == 1
        assert summary["tokens"] == 3 + 3 + 6 + 4
        unigrams = sections[1]
        # lmplz writes log10 P(<s>) = 0 (probability 1: <s> is context only), not SRILM's -99
        assert unigrams[("<s>",)][0] == 0.0
        assert {("<unk>",), ("</s>",), ("the",), ("cat",)} <= set(unigrams)
        assert ("The",) not in unigrams  # normalised: lowercase, punctuation gone
        for n in range(2, order + 1):  # every n-gram's context and suffix is listed one order down
            for gram in sections[n]:
                assert gram[:-1] in sections[n - 1] and gram[1:] in sections[n - 1]
        assert kenlm_model(arpa).order == order
    assert not list(tmp_path.glob(".tmp*"))  # the atomic write left nothing behind


def test_gzipped_output(tmp_path):
    text = write_lines(tmp_path / "text.txt", HAND_CORPUS)
    build_arpa(text, tmp_path / "lm.arpa", order=3)
    build_arpa(text, tmp_path / "lm.arpa.gz", order=3)
    assert parse_arpa(tmp_path / "lm.arpa.gz") == parse_arpa(tmp_path / "lm.arpa")
    assert kenlm_model(tmp_path / "lm.arpa.gz").score("b c b") == pytest.approx(
        kenlm_model(tmp_path / "lm.arpa").score("b c b")
    )


def test_conditional_probabilities_sum_to_one(tmp_path):
    lines = SentenceGenerator(0).sentences(300) + HAND_CORPUS
    arpa = tmp_path / "lm.arpa"
    build_arpa(write_lines(tmp_path / "text.txt", lines), arpa, order=3)
    model = kenlm_model(arpa)
    vocabulary = [w for w in read_arpa_unigrams(arpa) if w != "<s>"]  # words, </s>, <unk>
    assert "</s>" in vocabulary and "<unk>" in vocabulary
    first = lines[0].split()
    contexts = [
        [],  # <s>
        first[:1],  # seen bigram context
        first[:2],  # seen trigram context
        ["b", "c"],  # seen words, context seen once
        ["c", "a"],  # unseen pair of seen words
        ["qzxv", "vxzq"],  # out-of-vocabulary words
        ["the", "the", "the"],
    ]
    for context in contexts:
        state = state_after(model, context)
        total = sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-4), context


def test_normalisation_fast_path_agrees_with_normalize_text(tmp_path):
    lines = ["it's o'clock", "rock 'n' roll", "dogs' bones", "Café au lait", "well-known", "5 $"]
    arpa = tmp_path / "lm.arpa"
    build_arpa(write_lines(tmp_path / "text.txt", lines), arpa, order=2)
    words = set(read_arpa_unigrams(arpa)) - {"<s>", "</s>", "<unk>"}
    assert words == {w for line in lines for w in normalize_text(line).split()}
    raw = tmp_path / "raw.arpa"
    build_arpa(tmp_path / "text.txt", raw, order=2, normalize=False)
    assert "Café" in read_arpa_unigrams(raw)


def test_build_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        build_arpa(tmp_path / "missing.txt", tmp_path / "lm.arpa")
    with pytest.raises(ValueError, match="no words"):
        build_arpa(write_lines(tmp_path / "empty.txt", ["", "  ", "..."]), tmp_path / "lm.arpa")
    with pytest.raises(ValueError, match="order"):
        build_arpa(write_lines(tmp_path / "t.txt", ["a"]), tmp_path / "lm.arpa", order=1)
    assert not (tmp_path / "lm.arpa").exists()


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("ngram")
    lines = SentenceGenerator(1).sentences(200)
    arpa = root / "lm.arpa"
    build_arpa(write_lines(root / "text.txt", lines), arpa, order=3)
    return arpa


def test_ngram_lm_scores_match_kenlm(lm_path):
    lm = load_lm(lm_path)
    assert isinstance(lm, NGramLM) and isinstance(lm, LanguageModel)
    model = kenlm_model(lm_path)
    sentences = SentenceGenerator(1).sentences(3) + ["the qzxv vxzq", ""]
    by_words = sentence_scores_by_words(lm, sentences)
    whole = lm.sentence_scores(sentences)
    for sentence, a, b in zip(sentences, by_words, whole, strict=True):
        assert a == pytest.approx(b, abs=1e-4)
        assert b == pytest.approx(model.score(sentence, bos=True, eos=True) * LN10, abs=1e-4)
    # natural logs: one word's score is kenlm's log10 times ln 10
    [(logp, state)] = lm.score_words([(lm.start(), "the")])
    assert logp == pytest.approx(model.score("the", bos=True, eos=False) * LN10, abs=1e-5)
    [end] = lm.score_end([state])
    assert logp + end == pytest.approx(model.score("the") * LN10, abs=1e-5)


def test_ngram_lm_states_and_cache(lm_path):
    lm = NGramLM(lm_path)
    start = lm.start()
    first = lm.score_words([(start, "the"), (start, "the"), (start, "qzxv")])
    assert first[0] == first[1]
    assert first[0][0] > first[2][0]  # an out-of-vocabulary word gets the (small) <unk> score
    # cached: the second request for the same (state, word) returns the very same state object
    assert lm.score_words([(start, "the")])[0][1] is first[0][1]
    # states are values: the same context reached by another instance is the same dictionary key
    other = NGramLM(lm_path)
    [(logp, again)] = other.score_words([(other.start(), "the")])
    assert logp == first[0][0] and again == first[0][1] and again is not first[0][1]
    assert {first[0][1]: "seen"}[again] == "seen"
    # a longer context is a different state
    [(_, longer)] = lm.score_words([(first[0][1], "the")])
    assert longer != first[0][1]


def test_ngram_lm_vocabulary(lm_path):
    lm = NGramLM(lm_path)
    known = sorted(lm.vocabulary)
    word = max(known, key=len)
    assert lm.word_is_known(word) and not lm.word_is_known("qzxvvxzq")
    assert not lm.word_is_known("<s>") and not lm.word_is_known("</s>")
    assert lm.partial_is_known(word[:3]) and lm.partial_is_known(word) and lm.partial_is_known("")
    assert not lm.partial_is_known("zq")
    # an explicit word list (for KenLM binaries) replaces the one read from the ARPA file
    only = NGramLM(lm_path, unigrams=["hello"])
    assert only.partial_is_known("hel") and not only.partial_is_known(word[:3])
    listed = lm_path.with_name("words.txt")
    listed.write_text("hello world\n")
    assert NGramLM(lm_path, unigrams=listed).vocabulary == {"hello", "world"}


def test_ngram_lm_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.arpa"):
        NGramLM(tmp_path / "nope.arpa")
    corrupt = tmp_path / "corrupt.arpa"
    corrupt.write_text("this is not\nan ARPA file\n")
    with pytest.raises(ValueError, match="corrupt.arpa"):
        NGramLM(corrupt)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="junk.bin"):
        NGramLM(junk)
