"""WER/CER wrappers against numbers worked out by hand."""

from __future__ import annotations

import pytest

from seqlab.metrics.asr import corpus_wer_cer, utterance_scores

# Worked by hand:
# 1. "the cat sat on the mat" -> "the cat sat on mat": 1 word deleted of 6; "the " = 4 chars of 22.
# 2. "hello world" -> "yellow world there": 1 substitution + 1 insertion of 2 words;
#    chars: h->y, +w, +" there" = 8 edits of 11.
# 3. "good morning" -> "": 2 words deleted of 2; 12 chars deleted of 12.
REFS = ["the cat sat on the mat", "hello world", "good morning"]
HYPS = ["the cat sat on mat", "yellow world there", ""]


def test_corpus_scores_are_pooled_counts():
    scores = corpus_wer_cer(REFS, HYPS)
    assert scores["n_utterances"] == 3
    assert scores["n_ref_words"] == 10
    assert scores["n_ref_chars"] == 45
    assert (scores["substitutions"], scores["deletions"], scores["insertions"]) == (1, 3, 1)
    assert scores["word_errors"] == 5
    assert scores["char_errors"] == 24
    assert scores["wer"] == pytest.approx(5 / 10)
    assert scores["cer"] == pytest.approx(24 / 45)


def test_utterance_scores_by_hand():
    scores = utterance_scores(REFS, HYPS)
    assert [s["wer"] for s in scores] == pytest.approx([1 / 6, 1.0, 1.0])
    assert [s["cer"] for s in scores] == pytest.approx([4 / 22, 8 / 11, 1.0])
    assert [(s["substitutions"], s["deletions"], s["insertions"]) for s in scores] == [
        (0, 1, 0),
        (1, 0, 1),
        (0, 2, 0),
    ]
    assert [s["n_ref_words"] for s in scores] == [6, 2, 2]


def test_pooled_wer_is_not_the_mean_of_utterance_wers():
    pooled = corpus_wer_cer(REFS, HYPS)["wer"]
    mean = sum(s["wer"] for s in utterance_scores(REFS, HYPS)) / len(REFS)
    assert mean == pytest.approx((1 / 6 + 1 + 1) / 3)
    assert pooled == pytest.approx(0.5)
    assert abs(pooled - mean) > 0.2


def test_perfect_and_empty_hypotheses():
    assert corpus_wer_cer(["a b c"], ["a b c"])["wer"] == 0.0
    scores = corpus_wer_cer(["a b c", "d"], ["", ""])
    assert scores["wer"] == pytest.approx(1.0)
    assert scores["deletions"] == 4
    # An empty reference scores its insertions as full errors (jiwer's convention).
    assert utterance_scores([""], ["x y"])[0]["wer"] == 2.0
    assert utterance_scores([""], [""])[0]["wer"] == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        corpus_wer_cer([], [])
    with pytest.raises(ValueError, match="empty"):
        utterance_scores([], [])
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        corpus_wer_cer(["a", "b"], ["a"])
