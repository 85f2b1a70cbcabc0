"""``seqlab tune-decoder``: grid-search the LM weight (alpha) and word bonus (beta) on a dev split.

The model runs once; every (alpha, beta) pair decodes the same log-probs. The table and the best
pair are printed and written to ``<run>/tune_decoder.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import OmegaConf

from seqlab.evaluation import collect_log_probs, run_dir_of, write_json_atomic


def tune_decoder(
    checkpoint: str | Path,
    overrides: list[str] | tuple[str, ...],
    alphas: list[float],
    betas: list[float],
    split: str = "val",
    device: str = "cpu",
    out: str | Path | None = None,
) -> dict:
    """Decode ``split`` with every (alpha, beta) and pick the lowest WER (ties: lower CER).

    Args:
        checkpoint: checkpoint or run directory of a CTC model.
        overrides: of the saved config; must select a beam decoder with an LM
            (``decoder=ctc_beam decoder.lm=lm.arpa``; the CLI's ``--lm`` does it).
        alphas, betas: the grid.
        split: data key to tune on (``val``: never tune on the test split).
        device: where the acoustic model runs.
        out: output JSON (default ``<run>/tune_decoder.json``).

    Returns:
        ``{"best": row, "greedy": row, "rows": [...], "table": str, "path": str, ...}``.
    """
    from seqlab.decoding.ctc_greedy import GreedyDecoder
    from seqlab.decoding.factory import build_decoder

    if not alphas or not betas:
        raise ValueError("tune-decoder needs at least one alpha and one beta")
    task, ckpt, outputs = collect_log_probs(checkpoint, overrides, split, device)
    base = task.cfg.decoder
    if base.get("type") != "beam" or not base.get("lm"):
        raise ValueError(
            "tune-decoder needs a language model: pass --lm PATH (an ARPA file, a KenLM binary or "
            "a Hugging Face causal-LM directory)"
        )
    n_items = sum(len(o["log_probs"]) for o in outputs)
    greedy = task.validation_end(task.redecode(outputs, GreedyDecoder(task.vocab)))
    rows = []
    for alpha in alphas:
        for beta in betas:
            cfg = OmegaConf.merge(base, {"alpha": alpha, "beta": beta})
            decoder = build_decoder(cfg, task.vocab)
            t0 = time.perf_counter()
            metrics = task.validation_end(task.redecode(outputs, decoder))
            seconds = time.perf_counter() - t0
            rows.append(
                {
                    "alpha": alpha,
                    "beta": beta,
                    "wer": metrics["wer"],
                    "cer": metrics["cer"],
                    "utterances_per_second": round(n_items / max(seconds, 1e-9), 1),
                }
            )
    best = min(rows, key=lambda r: (r["wer"], r["cer"]))
    lines = [f"{'alpha':>6} {'beta':>6} {'WER %':>7} {'CER %':>7} {'utt/s':>7}"]
    for r in rows:
        mark = "  <- best" if r is best else ""
        lines.append(
            f"{r['alpha']:>6g} {r['beta']:>6g} {100 * r['wer']:7.2f} {100 * r['cer']:7.2f} "
            f"{r['utterances_per_second']:7.1f}{mark}"
        )
    result = {
        "checkpoint": str(ckpt),
        "split": split,
        "lm": str(base.lm),
        "beam_size": int(base.beam_size),
        "n_items": n_items,
        "greedy": {"wer": greedy["wer"], "cer": greedy["cer"]},
        "best": best,
        "rows": rows,
        "table": "\n".join(lines),
    }
    out_path = Path(out) if out is not None else run_dir_of(ckpt) / "tune_decoder.json"
    write_json_atomic(out_path, result)
    result["path"] = str(out_path)
    return result
