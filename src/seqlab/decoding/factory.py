"""Build a CTC decoder from the ``decoder`` config group: greedy, beam, beam + LM, + n-best rescoring.

Every decoder has ``decode_batch(log_probs, lengths) -> list[list[Hypothesis]]`` (n-best lists)
and ``decode(log_probs, lengths) -> list[str]``; ``describe(cfg)`` names a configuration for tables.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from seqlab.decoding.ctc_beam import CTCBeamSearchDecoder
from seqlab.decoding.ctc_greedy import GreedyDecoder
from seqlab.decoding.hypothesis import Hypothesis
from seqlab.decoding.lm.loading import open_lm


class RescoringDecoder:
    """A beam decoder whose n-best list is re-ranked by a second LM over whole sentences.

    ``final = score + weight * ln P_lm(sentence)`` (the first pass's score already holds any fused LM).
    """

    def __init__(self, base: CTCBeamSearchDecoder, lm, weight: float, nbest: int = 1) -> None:
        self.base = base
        self.lm = lm
        self.weight = float(weight)
        self.nbest = nbest

    def decode_batch(self, log_probs, lengths=None) -> list[list[Hypothesis]]:
        lists = self.base.decode_batch(log_probs, lengths)
        flat = [h for hyps in lists for h in hyps]
        scores = self.lm.sentence_scores([h.text for h in flat]) if flat else []
        it = iter(scores)
        out = []
        for hyps in lists:
            rescored = []
            for h in hyps:
                lm = next(it)
                rescored.append(
                    Hypothesis(
                        h.text, h.tokens, h.score + self.weight * lm, h.acoustic, lm, h.n_words
                    )
                )
            rescored.sort(key=lambda h: h.score, reverse=True)
            out.append(rescored[: self.nbest])
        return out

    def decode(self, log_probs, lengths=None) -> list[str]:
        return [h[0].text for h in self.decode_batch(log_probs, lengths)]


def build_decoder(cfg: DictConfig | dict, vocab):
    """A decoder for ``cfg`` (the ``decoder`` group) and the model's vocabulary."""
    cfg = OmegaConf.create(
        OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    )
    kind = cfg.get("type", "greedy")
    if kind == "greedy":
        return GreedyDecoder(vocab)
    if kind != "beam":
        raise ValueError(f"decoder.type must be greedy or beam, got {kind!r}")
    lm = None
    if cfg.get("lm"):
        lm = open_lm(cfg.lm, cfg.get("lm_device", "cpu"), int(cfg.get("lm_batch_size", 64)))
    rescore = cfg.get("rescore_lm")
    nbest = int(cfg.get("nbest", 1))
    beam = CTCBeamSearchDecoder.from_vocab(
        vocab,
        beam_size=int(cfg.beam_size),
        nbest=max(nbest, int(cfg.get("rescore_nbest", 10))) if rescore else nbest,
        token_min_logp=cfg.get("token_min_logp"),
        token_top_k=cfg.get("token_top_k"),
        beam_prune_logp=cfg.get("beam_prune_logp"),
        lm=lm,
        alpha=float(cfg.get("alpha", 0.5)),
        beta=float(cfg.get("beta", 1.0)),
        unk_offset=float(cfg.get("unk_offset", -23.0)),
        workers=int(cfg.get("workers", 1)),
        group_size=int(cfg.get("group_size", 16)),
    )
    if rescore:
        rescorer = open_lm(rescore, cfg.get("lm_device", "cpu"), int(cfg.get("lm_batch_size", 64)))
        return RescoringDecoder(beam, rescorer, float(cfg.get("rescore_alpha", 0.5)), nbest)
    return beam


def describe(cfg: DictConfig | dict) -> str:
    """A short name for a decoder configuration, e.g. ``beam10+lm.arpa(a=0.5,b=1.0)``."""
    if cfg.get("type", "greedy") == "greedy":
        return "greedy"
    name = f"beam{cfg.get('beam_size')}"
    if cfg.get("lm"):
        name += f"+{Path(str(cfg.lm)).name}(a={cfg.get('alpha')},b={cfg.get('beta')})"
    if cfg.get("rescore_lm"):
        name += f"+rescore:{Path(str(cfg.rescore_lm)).name}(w={cfg.get('rescore_alpha')})"
    return name


def decoder_ladder(cfg: DictConfig) -> list[DictConfig]:
    """The configurations ``seqlab eval`` reports side by side: greedy, beam, beam + LM(s)."""
    ladder = [OmegaConf.create({"type": "greedy"})]
    if cfg.get("type", "greedy") != "beam":
        return ladder
    plain = OmegaConf.merge(cfg, {"lm": None, "rescore_lm": None})
    ladder.append(plain)
    if cfg.get("lm") and cfg.get("rescore_lm"):
        ladder.append(OmegaConf.merge(cfg, {"rescore_lm": None}))
    if cfg.get("lm") or cfg.get("rescore_lm"):
        ladder.append(cfg)
    return ladder
