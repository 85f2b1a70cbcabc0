"""The built-in German→English parallel corpus: carrier sentences from a bilingual lexicon.

Ours because the corpus must be generated offline and deterministically, with every construction
regular and translatable (so a small model can learn it) yet combinatorial (so memorising is not
enough): German verb-second and verb-final order (perfect tense, modals, future, separable verbs,
"weil"/"dass"/"obwohl"/"ob" clauses), case and gender on articles and adjectives, dative plurals,
weak nouns, compounds ("bahnhofsuhr" ↔ "station clock"), contractions ("im", "zum"), and numbers,
ordinals, years, dates, clock times and amounts spelled out by ``num2words`` in both languages.

The German→English direction is a function (each German sentence has one English translation);
the other direction is not ("you" is "du" or "ihr", "teacher" is "lehrer" or "lehrerin").

Layout written by :func:`build_mt_corpus` (the homework's)::

    OUT/train.de-en.de  OUT/train.de-en.en  OUT/val.de-en.*  OUT/test1.de-en.*  OUT/corpus.json

Sentences are lowercase and tokenized: words separated by single spaces, punctuation split off
("ich habe den zug um acht uhr verpasst ." ↔ "i missed the train at eight o'clock .").
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

from seqlab.corpora.mt.sentences import sentence_pair

GENERATOR_VERSION = "synth-mt-1"  # bump when the sentences a seed gives change
SPLITS = (("train", "n_train"), ("val", "n_val"), ("test1", "n_test"))


def generate_pairs(n: int, rng: random.Random, exclude: set[str]) -> list[tuple[str, str]]:
    """``n`` pairs whose German sides are distinct and not in ``exclude`` (which is updated)."""
    pairs: list[tuple[str, str]] = []
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(
                f"could only draw {len(pairs)} distinct sentences of {n} after {attempts} attempts; "
                "ask for fewer pairs"
            )
        de, en = sentence_pair(rng)
        if de in exclude:
            continue  # redraw: a split never repeats a sentence of an earlier split
        exclude.add(de)
        pairs.append((de, en))
    return pairs


def _stats(pairs: list[tuple[str, str]]) -> dict:
    src = [len(s.split()) for s, _ in pairs]
    tgt = [len(t.split()) for _, t in pairs]
    n = max(1, len(pairs))
    return {
        "pairs": len(pairs),
        "de_tokens": sum(src),
        "en_tokens": sum(tgt),
        "avg_de_len": round(sum(src) / n, 2),
        "avg_en_len": round(sum(tgt) / n, 2),
        "max_de_len": max(src, default=0),
        "max_en_len": max(tgt, default=0),
    }


def build_mt_corpus(
    out: str | Path,
    n_train: int = 50_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    seed: int = 0,
    src: str = "de",
    tgt: str = "en",
) -> dict:
    """Write the built-in parallel corpus in the homework layout and return its summary.

    Args:
        out: output directory (created).
        n_train, n_val, n_test: distinct pairs per split; val and test German sentences never
            occur in train (nor in each other): duplicates are redrawn.
        seed: the same seed gives the same bytes.
        src, tgt: "de" and "en" in either order; files are named ``<split>.<src>-<tgt>.<lang>``.

    Returns:
        the summary also written to ``out/corpus.json``: generator version, seed, languages,
        per-split statistics (pairs, tokens, average and maximum lengths), the training
        vocabulary sizes per language, files, and build seconds.
    """
    if {src, tgt} != {"de", "en"}:
        raise ValueError(
            f"the built-in corpus is German/English: got src={src!r} tgt={tgt!r}; use de and en"
        )
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    seen: set[str] = set()
    counts = {"n_train": n_train, "n_val": n_val, "n_test": n_test}
    summary: dict = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "src": src,
        "tgt": tgt,
        "splits": {},
        "files": [],
    }
    for split, key in SPLITS:
        pairs = generate_pairs(counts[key], rng, seen)
        sides = {"de": [p[0] for p in pairs], "en": [p[1] for p in pairs]}
        for lang in (src, tgt):
            path = out / f"{split}.{src}-{tgt}.{lang}"
            path.write_text("".join(line + "\n" for line in sides[lang]), encoding="utf-8")
            summary["files"].append(path.name)
        summary["splits"][split] = _stats(pairs)
        if split == "train":
            summary["vocab_size"] = {
                lang: len(Counter(w for line in sides[lang] for w in line.split()))
                for lang in ("de", "en")
            }
    # corpus.json holds no timing so that the same seed gives the same bytes everywhere.
    (out / "corpus.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {**summary, "build_seconds": round(time.perf_counter() - start, 2)}
