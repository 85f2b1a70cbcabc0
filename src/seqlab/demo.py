"""The demo, start to end: the built-in speech corpus (built once), ``asr_conformer`` trained on
it, a 3-gram LM of its LM text, and the test split scored greedy and with beam search + LM.
``seqlab demo`` runs :func:`run_demo` and prints its table."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

EXPERIMENT = "asr_conformer"
DATA_DIR = "data/synth_speech"  # the corpus is built here once, and reused while hours/seed agree
HOURS = 2.5  # hours of training speech
# The demo's decoding: beam 10 with a 3-gram LM of the built-in LM corpus; alpha and beta were
# picked with `seqlab tune-decoder` on the demo model's validation split (see README).
LM_ORDER = 3
BEAM = 10
ALPHA = 0.6
BETA = 4.0


def run_demo(
    data: str | Path = DATA_DIR,
    hours: float = HOURS,
    seed: int = 0,
    overrides: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict:
    """Build (or reuse) the corpus, train, build the LM, and evaluate the best checkpoint.

    Args:
        data: the corpus directory; a corpus already there with the same hours and seed is reused.
        hours: hours of training speech to synthesise.
        seed: the corpus seed.
        overrides: Hydra overrides of the training run (after ``data.root=<data>``).
        log: where progress lines (``[demo] ...``) go.

    Returns:
        ``{"run_dir", "best", "lm", "eval": evaluate()'s result (its "decoders" rows are the
        table), "minutes": {"corpus", "training", "lm"}}``.

    Raises:
        ConfigError: an override the training run cannot apply.
    """
    from seqlab.corpora.synth_speech import build_corpus
    from seqlab.evaluation import evaluate
    from seqlab.experiment import train

    data = Path(data)
    summary_file = data / "corpus.json"
    t0 = time.perf_counter()
    built = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    if built.get("hours_requested") == hours and built.get("seed") == seed:
        log(f"[demo] using the corpus already built in {data}")
    else:
        log(f"[demo] synthesising {hours} h of English speech with eSpeak NG into {data} ...")
        build_corpus(data, hours=hours, seed=seed, overwrite=bool(built))
    t_data = time.perf_counter() - t0
    overrides = [f"data.root={data}", *overrides]
    log(f"[demo] training {EXPERIMENT} ({' '.join(overrides)}) ...")
    t1 = time.perf_counter()
    summary = train(EXPERIMENT, overrides)
    t_train = time.perf_counter() - t1
    run_dir = Path(summary["run_dir"])
    lm_path = data / f"lm_{LM_ORDER}gram.arpa"
    t2 = time.perf_counter()
    if not lm_path.is_file():
        from seqlab.decoding.lm.kneser_ney import build_arpa

        log(f"[demo] building a {LM_ORDER}-gram LM from {data / 'lm_corpus.txt'} ...")
        build_arpa(data / "lm_corpus.txt", lm_path, order=LM_ORDER)
    t_lm = time.perf_counter() - t2
    log("[demo] evaluating the best checkpoint on the held-out test split ...")
    decoding = decoding_overrides(lm_path)
    result = evaluate(run_dir / "checkpoints" / "best", decoding, split="test")
    return {
        "run_dir": run_dir,
        "best": run_dir / "checkpoints" / "best",
        "lm": lm_path,
        "eval": result,
        "minutes": {"corpus": t_data / 60, "training": t_train / 60, "lm": t_lm / 60},
    }


def decoding_overrides(lm_path: str | Path) -> list[str]:
    """The demo's decoder (beam search with the n-gram LM at ``lm_path``) as config overrides."""
    from seqlab.config import quote_override

    return [
        "decoder=ctc_beam",
        f"decoder.beam_size={BEAM}",
        f"decoder.lm={quote_override(Path(lm_path).resolve())}",
        f"decoder.alpha={ALPHA}",
        f"decoder.beta={BETA}",
    ]
