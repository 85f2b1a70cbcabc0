"""Fixtures several test files share: the corpora they train and evaluate on, each built once
per session (seconds each, but several files need the same one), in pytest's session folder."""

from pathlib import Path

import pytest

from handwritten_librispeech import SENTENCES, write_librispeech
from tiny_experiments import build_corpora


@pytest.fixture(scope="session")
def librispeech_dir(tmp_path_factory) -> Path:
    """A LibriSpeech-layout directory written by hand: train-clean-100 (12 utterances), dev-clean
    (3), and test-clean (3) at 22,050 Hz in another voice, whose transcript also names a file
    that is missing. Read-only: a test that changes it works on a copy."""
    root = tmp_path_factory.mktemp("LibriSpeech")
    write_librispeech(root, "train-clean-100", 19, 198, SENTENCES * 2, 16000)
    write_librispeech(root, "dev-clean", 84, 121123, SENTENCES[:3], 16000)
    # a 22,050 Hz test subset: the loader must resample it to the model's 16 kHz
    write_librispeech(root, "test-clean", 61, 70968, SENTENCES[3:], 22050, voice="en-gb-x-rp")
    # a bad item: a transcript line whose audio is missing must be reported, not crash
    trans = root / "test-clean" / "61" / "70968" / "61-70968.trans.txt"
    trans.write_text(trans.read_text() + "61-70968-0099 THIS FILE IS MISSING\n")
    return root


@pytest.fixture(scope="session")
def mt_corpus(tmp_path_factory) -> Path:
    """The built-in German-English corpus, tiny (400 training pairs, 60 validation, 60 test;
    seed 3), written by ``seqlab data synth-mt`` as a user would. Read-only, like the others."""
    from seqlab.cli import main

    root = tmp_path_factory.mktemp("mt") / "synth_mt"
    argv = ["data", "synth-mt", str(root), "--pairs", "400", "--val-pairs", "60"]
    assert main([*argv, "--test-pairs", "60", "--seed", "3"]) == 0
    return root


@pytest.fixture(scope="session")
def tiny_corpora(tmp_path_factory) -> dict[str, Path]:
    """Every built-in corpus, tiny, and the same speech in the other on-disk formats
    (``tiny_experiments.build_corpora``): name -> directory."""
    return build_corpora(tmp_path_factory.getbasetemp() / "tiny_corpora")
