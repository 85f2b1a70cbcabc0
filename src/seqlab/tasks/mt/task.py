"""Neural machine translation: how a batch of sentence pairs becomes a loss, translations and BLEU.

Models (``models/mt/``): ``lstm_seq2seq`` (LSTM encoder-decoder with attention) and
``transformer_mt``. Training minimises label-smoothed cross-entropy over target tokens (padding
ignored), with teacher forcing as a schedule per epoch (scheduled sampling for the LSTM, two-pass
for the Transformer). Validation reports the loss with and without teacher forcing, greedy BLEU
and chrF (sacrebleu, on detokenised text) and a table of example translations. ``seqlab eval``
decodes with the ``generation`` settings (beam search) and saves sacrebleu's signature.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from seqlab.engine.task import DataSpec, DecodingOption, EvaluableTask


def teacher_forcing_ratio(cfg, epoch: int) -> float:
    """The teacher-forcing ratio of ``epoch`` (0-based) under the ``teacher_forcing`` config.

    ``enabled: false`` (or no config) is plain teacher forcing (1.0) throughout; otherwise the ratio
    is ``start`` before ``from_epoch`` and falls by ``decrease`` in every epoch from ``from_epoch``
    on, down to ``min``: start=1, from_epoch=2, decrease=0.25 gives 1, 1, 0.75, 0.5, ...
    """
    if not cfg or not cfg.get("enabled", False):
        return 1.0
    start, floor = float(cfg.get("start", 1.0)), float(cfg.get("min", 0.0))
    epochs_decreasing = max(0, epoch - int(cfg.get("from_epoch", 0)) + 1)
    return max(floor, min(1.0, start - float(cfg.get("decrease", 0.0)) * epochs_decreasing))


class MTTask(EvaluableTask):
    """Translation task (see the task protocols in seqlab/engine/task.py).

    Args:
        cfg: the resolved experiment config (model, data, vocab, loss, teacher_forcing, generation).
        checkpoint_dir: load the vocabularies from here (a checkpoint directory) instead of
            building them.
    """

    kind = "mt"
    runtimes = (
        "torch",
        "ct2",
    )  # ct2: CTranslate2 runs an export of the Transformer (tasks/mt/ct2.py)

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        super().__init__(cfg, checkpoint_dir)
        data = cfg.data
        self.src_lang, self.tgt_lang = str(data.src_lang), str(data.tgt_lang)
        self._pairs_cache: dict[str, tuple[list, list]] = {}
        self._left_out: dict[str, list[dict]] = {}  # split -> pairs left out (see left_out)
        self._tokenized: bool | None = None  # the corpus is Moses-tokenised text (see pairs)
        if checkpoint_dir is None and cfg.trainer.get("resume_from"):
            from seqlab.engine.checkpoint import resolve_checkpoint

            checkpoint_dir = resolve_checkpoint(cfg.trainer.resume_from)
        self.src_vocab, self.tgt_vocab = self._vocabs(checkpoint_dir)
        tgt = self.tgt_vocab
        self.model = instantiate(
            cfg.model,
            src_vocab_size=len(self.src_vocab),
            tgt_vocab_size=len(tgt),
            pad_id=tgt.pad_id,
            bos_id=tgt.bos_id,
            eos_id=tgt.eos_id,
        )
        self.criterion = nn.CrossEntropyLoss(
            ignore_index=tgt.pad_id,
            label_smoothing=float(cfg.loss.get("label_smoothing", 0.0)),
            reduction="sum",
        )
        self.nll = nn.CrossEntropyLoss(ignore_index=tgt.pad_id, reduction="sum")
        self.teacher_forcing = teacher_forcing_ratio(cfg.get("teacher_forcing"), 0)
        self._use_beam = False  # use_decoding(None): validation_step decodes as generation says

    # ---- the engine's contract -------------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizer_params(self, name: str):
        return self.model.parameters()

    def on_epoch_start(self, epoch: int) -> None:
        """The teacher-forcing schedule is a function of the epoch only (resume-safe)."""
        self.teacher_forcing = teacher_forcing_ratio(self.cfg.get("teacher_forcing"), epoch)

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        return self._data_spec("train", rank, world_size, run_dir, shuffle=True)

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        return self._data_spec("val", rank, world_size, run_dir, shuffle=False)

    def test_data(self, rank: int, world_size: int, run_dir: Path, split: str = "test") -> DataSpec:
        return self._data_spec(split, rank, world_size, run_dir, shuffle=False)

    def training_step(self, batch: dict) -> dict:
        """Label-smoothed cross-entropy per target token at the epoch's teacher-forcing ratio."""
        logits = self.model(
            batch["src"],
            batch["src_lengths"],
            batch["tgt_in"],
            teacher_forcing=self.teacher_forcing,
        )  # (B, T, V)
        n_tokens = int(batch["tgt_lengths"].sum())
        loss = self.criterion(logits.float().flatten(0, 1), batch["tgt_out"].flatten())
        return {
            "loss": loss / max(n_tokens, 1),
            "n_units": n_tokens,
            "teacher_forcing": self.teacher_forcing,
        }

    def validation_step(self, batch: dict) -> dict:
        """Losses with and without teacher forcing, and translations (greedy; beam under eval)."""
        tgt_out = batch["tgt_out"].flatten()
        logits = self.model(
            batch["src"], batch["src_lengths"], batch["tgt_in"], teacher_forcing=1.0
        )
        free = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"], teacher_forcing=0.0)
        hyps = self.translate_batch(batch["src"], batch["src_lengths"], beam=self._use_beam)
        return {
            "loss_sum": float(self.criterion(logits.float().flatten(0, 1), tgt_out)),
            "nll_sum": float(self.nll(logits.float().flatten(0, 1), tgt_out)),
            "loss_no_tf_sum": float(self.criterion(free.float().flatten(0, 1), tgt_out)),
            "n_units": int(batch["tgt_lengths"].sum()),
            "ids": list(batch["ids"]),
            "sources": list(batch["src_text"]),
            "refs": [self._reference(t) for t in batch["tgt_text"]],
            "hyps": hyps,
        }

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Corpus loss (with/without teacher forcing), perplexity, sacreBLEU and chrF."""
        from sacrebleu.metrics import BLEU, CHRF

        n = max(sum(o["n_units"] for o in outputs), 1)
        refs = [r for o in outputs for r in o["refs"]]
        hyps = [h for o in outputs for h in o["hyps"]]
        nll = sum(o["nll_sum"] for o in outputs) / n
        bleu, chrf = BLEU(), CHRF()
        scores = {"bleu": 0.0, "chrf": 0.0}
        if refs:
            scores = {
                "bleu": float(bleu.corpus_score(hyps, [refs]).score),
                "chrf": float(chrf.corpus_score(hyps, [refs]).score),
            }
            self._signatures = {
                "bleu": str(bleu.get_signature()),
                "chrf": str(chrf.get_signature()),
            }
        return {
            "loss": sum(o["loss_sum"] for o in outputs) / n,
            "loss_no_tf": sum(o["loss_no_tf_sum"] for o in outputs) / n,
            "ppl": math.exp(min(nll, 50.0)),
            **scores,
        }

    def eval_rows(self, outputs: list[dict]) -> list[dict]:
        """Per-sentence rows for eval.json: id, source, reference, hypothesis, sentence BLEU."""
        import sacrebleu

        rows = []
        for o in outputs:
            for i, s, r, h in zip(o["ids"], o["sources"], o["refs"], o["hyps"], strict=True):
                bleu = sacrebleu.sentence_bleu(h, [r]).score
                rows.append({"id": i, "source": s, "reference": r, "hypothesis": h, "bleu": bleu})
        return rows

    def left_out(self, split: str) -> list[dict]:
        """Sentence pairs of ``split`` left out when it was read: id, reason, source and the
        detokenised ``reference`` (None when there is no target to score against)."""
        return list(self._left_out.get(split, []))

    def left_out_output(self, rows: list[dict]) -> dict:
        """A :meth:`validation_step`-like output scoring left-out pairs as empty translations,
        for ``seqlab eval``; no loss."""
        return {
            "loss_sum": 0.0,
            "nll_sum": 0.0,
            "loss_no_tf_sum": 0.0,
            "n_units": 0,
            "ids": [r["id"] for r in rows],
            "sources": [r["source"] for r in rows],
            "refs": [r["reference"] for r in rows],
            "hyps": [""] * len(rows),
        }

    def eval_info(self) -> dict:
        """What ``seqlab eval`` saves besides the metrics: decoding settings, sacrebleu signatures."""
        return {
            "generation": {k: v for k, v in self.cfg.generation.items()},
            "signatures": getattr(self, "_signatures", {}),  # set by validation_end
        }

    def use_decoding(self, option: DecodingOption | None = None, redecodable: bool = False) -> None:
        """``seqlab eval`` decodes with the ``generation`` settings (beam search) instead of
        greedy; translation has no other decoding options (``redecodable`` is not needed)."""
        self._use_beam = True

    def examples(self, outputs: list[dict], n: int = 8) -> dict:
        rows = self.eval_rows(outputs[:1] if outputs else [])[:n]
        table = [{k: r[k] for k in ("id", "source", "reference", "hypothesis")} for r in rows]
        return {"text": {"translations": table}}

    def save_artifacts(self, directory: Path) -> None:
        """Both vocabularies go into every checkpoint, so that a checkpoint alone can translate."""
        self.src_vocab.save(directory, "src")
        self.tgt_vocab.save(directory, "tgt")

    def for_inference(self, device: str | torch.device = "cpu", runtime: str = "torch"):
        """The Python API object returned by ``seqlab.load``: a
        :class:`~seqlab.tasks.mt.translator.Translator` (``runtime="torch"``) or a
        :class:`~seqlab.tasks.mt.ct2.CT2Translator` (``"ct2"``: CTranslate2 runs an export of these
        weights, made on the fly into seqlab's cache the first time; Transformers only)."""
        self.check_runtime(runtime)
        if runtime == "torch":
            from seqlab.tasks.mt.translator import Translator

            return Translator(self, device)
        from seqlab.tasks.mt.ct2 import CT2Translator, build_spec  # runtime "ct2"

        build_spec(self)  # the LSTM is refused in one line before CTranslate2 is loaded
        return CT2Translator(self, device)

    def export_formats(self) -> tuple[str, ...]:
        """``seqlab export --ctranslate2``: a CTranslate2 model directory (``transformer_mt``)."""
        return ("ctranslate2",)

    def export(self, fmt: str, path: str | Path, quantization: str | None = None) -> Path:
        """``fmt`` ``"ctranslate2"``: :func:`seqlab.tasks.mt.ct2.export_ctranslate2` (weights
        stored as ``quantization``, float32 by default); the LSTM is refused in one line."""
        if fmt != "ctranslate2":
            return super().export(fmt, path)
        from seqlab.tasks.mt.ct2 import export_ctranslate2

        return export_ctranslate2(self, path, quantization)

    # ---- decoding ---------------------------------------------------------------------------------
    @torch.no_grad()
    def translate_batch(self, src, src_lengths, beam: bool = False, **overrides) -> list[str]:
        """Detokenised translations of a padded source batch ``(B, S)``."""
        from seqlab.decoding.seq2seq import beam_search, greedy_decode

        gen = {**dict(self.cfg.generation), **overrides}
        model = getattr(self.model, "module", self.model)
        was_training = model.training
        model.eval()
        try:
            if beam and int(gen.get("beam_size", 1)) > 1:
                nbest = beam_search(
                    model,
                    src,
                    src_lengths,
                    beam_size=int(gen["beam_size"]),
                    length_penalty=str(gen.get("length_penalty", "gnmt")),
                    lp_alpha=float(gen.get("lp_alpha", 0.6)),
                    max_len_ratio=float(gen.get("max_len_ratio", 1.5)),
                    max_len_offset=int(gen.get("max_len_offset", 10)),
                )
                ids = [hyps[0][0] for hyps in nbest]
            else:
                ids = greedy_decode(
                    model,
                    src,
                    src_lengths,
                    max_len_ratio=float(gen.get("max_len_ratio", 1.5)),
                    max_len_offset=int(gen.get("max_len_offset", 10)),
                )
        finally:
            model.train(was_training)
        return [self.tgt_vocab.decode(seq) for seq in ids]

    # ---- data ---------------------------------------------------------------------------------
    def _reference(self, tgt_text: str) -> str:
        """The reference BLEU/chrF score against: the line as it is in the file when the corpus is
        raw text, Moses-detokenised when it is tokenised (``data.detokenize``)."""
        from seqlab.text.mt_vocab import detokenize

        return detokenize(tgt_text, self.tgt_lang) if self._tokenized else tgt_text

    def _resolve_tokenized(self, split: str, pairs: list) -> None:
        """Decide once whether the corpus is Moses-tokenised text (``data.detokenize``: true,
        false, or null = auto: look at the target lines of the first split read)."""
        if self._tokenized is not None:
            return
        setting = self.cfg.data.get("detokenize", None)
        if isinstance(setting, bool):
            self._tokenized = setting
            return
        if setting is not None and str(setting).lower() != "auto":
            raise ValueError(
                f"data.detokenize must be true, false or null (auto), got {setting!r}: true when "
                "the files are Moses-tokenised text ('a man 's hat .'), false when they are raw text"
            )
        from seqlab.text.mt_vocab import looks_tokenized

        self._tokenized = looks_tokenized([t for _, t in pairs], self.tgt_lang)
        if self._tokenized:
            what = "look Moses-tokenised: references are detokenised for BLEU/chrF"
        else:
            what = "look like raw text: references are scored as they are in the file"
        print(
            f"[mt] data.detokenize=null (auto): the {split} target lines {what} "
            f"(set data.detokenize={str(not self._tokenized).lower()} if that is wrong)",
            flush=True,
        )

    def _root(self) -> Path:
        from seqlab.data.corpus_get import ensure_corpus

        data = self.cfg.data
        # a catalogue corpus (data.corpus, e.g. multi30k): fetch it (data.download) or say how
        ensure_corpus(data, [str(data[s]) for s in ("train", "val", "test") if data.get(s)])
        root = Path(self.cfg.data.root)
        if self.cfg.data.get("build_if_missing", False):
            from seqlab.corpora.build_once import build_once
            from seqlab.corpora.mt.corpus import build_mt_corpus

            def build() -> None:
                print(f"[mt] building the built-in German-English corpus in {root} ...", flush=True)
                build_mt_corpus(root, seed=int(self.cfg.data.get("corpus_seed", 0)))

            # DDP ranks: one builds, the others wait; files of the user's own are never built over
            build_once(root, build, foreign=lambda root: root.exists())
        if not root.exists():
            raise FileNotFoundError(
                f"data.root {root} does not exist; build the built-in corpus with "
                f"`seqlab data synth-mt {root}` or point data.root at your parallel files"
            )
        return root

    def pairs(self, split: str, run_dir: Path | None = None) -> tuple[list, list]:
        """``(kept pairs, bad items)`` of a split: read, length-filtered, subsampled for training."""
        if split in self._pairs_cache:
            return self._pairs_cache[split]
        from seqlab.data.parallel import filter_pairs, read_parallel, read_tsv, take_fraction

        data = self.cfg.data
        root = self._root()
        name = str(data[split])
        bad_read: list = []
        if data.get("format", "parallel") == "tsv":
            path = Path(name) if Path(name).is_absolute() else root / name
            pairs, bad_read = read_tsv(path)
        else:
            pairs = read_parallel(root, name, self.src_lang, self.tgt_lang)
        self._resolve_tokenized(split, pairs)
        if split == "train":
            kept, bad = filter_pairs(
                pairs,
                int(data.max_src_tokens),
                int(data.max_tgt_tokens),
                float(data.max_length_ratio),
            )
            fraction = float(data.get("train_fraction", 1.0))
            if fraction < 1.0:
                kept = take_fraction(kept, fraction, int(self.cfg.seed))
        else:  # evaluation keeps every pair with two non-empty sides: BLEU is over the split
            kept, bad = filter_pairs(pairs)
        self._left_out[split] = [  # a malformed TSV line has no sentences to score
            {"id": f"{split}-file-line{b['line']}", "reason": b["reason"], "reference": None}
            for b in bad_read
        ] + [
            {
                "id": f"{split}-pair{b['line']}",
                "reason": b["reason"],
                "source": pairs[b["line"] - 1][0],
                "reference": self._reference(pairs[b["line"] - 1][1])
                if pairs[b["line"] - 1][1].strip()
                else None,  # no target sentence: nothing to score against
            }
            for b in bad  # b["line"]: 1-based index into pairs
        ]
        bad = [*bad_read, *bad]
        if bad and run_dir is not None:
            path = Path(run_dir) / "bad_items.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as f:
                for item in bad:
                    f.write(json.dumps({"split": split, **item}) + "\n")
            print(f"[mt] {split}: {len(bad)} sentence pairs left out, listed in {path}", flush=True)
        self._pairs_cache[split] = (kept, bad)
        return kept, bad

    def _vocabs(self, checkpoint_dir):
        from seqlab.text.mt_vocab import build_mt_vocabs, load_mt_vocab

        if checkpoint_dir is not None and any(Path(checkpoint_dir).glob("src_vocab.json")):
            return load_mt_vocab(checkpoint_dir, "src"), load_mt_vocab(checkpoint_dir, "tgt")
        v = self.cfg.vocab
        pairs, _ = self.pairs("train")
        return build_mt_vocabs(
            [s for s, _ in pairs],
            [t for _, t in pairs],
            kind=str(v.kind),
            joint=bool(v.get("joint", False)),
            vocab_size=int(v.get("vocab_size", 8000)),
            min_freq=int(v.get("min_freq", 1)),
            src_lang=self.src_lang,
            tgt_lang=self.tgt_lang,
            tokenized=bool(self._tokenized),  # resolved when pairs("train") read the corpus
            tokenize=str(v.get("tokenize", "auto")),
        )

    def _data_spec(self, split, rank, world_size, run_dir, shuffle: bool) -> DataSpec:
        from seqlab.data.bucketing import DynamicBucketBatchSampler
        from seqlab.data.parallel import collate_mt

        pairs, _ = self.pairs(split, run_dir)
        if not pairs:
            raise ValueError(f"data split '{split}' ({self.cfg.data[split]}) has no sentence pairs")
        items = [
            {
                "id": f"{split}-{i}",
                "src_ids": self.src_vocab.encode(src),
                "tgt_ids": self.tgt_vocab.encode(tgt),
                "src_text": src,
                "tgt_text": tgt,
            }
            for i, (src, tgt) in enumerate(pairs)
        ]
        # token budget per batch: padded (longest source or target + bos/eos) x batch size
        lengths = [max(len(it["src_ids"]), len(it["tgt_ids"])) + 1 for it in items]
        sampler = DynamicBucketBatchSampler(
            lengths,
            max_batch_seconds=float(self.cfg.data.max_batch_tokens),
            num_buckets=int(self.cfg.data.get("num_buckets", 20)),
            shuffle=shuffle,
            seed=int(self.cfg.seed),
            num_replicas=world_size,
            rank=rank,
            max_batch_size=self.cfg.data.get("max_batch_size"),
        )
        pad = self.tgt_vocab.pad_id
        return DataSpec(
            items,
            sampler,
            lambda batch: collate_mt(batch, pad, self.tgt_vocab.bos_id, self.tgt_vocab.eos_id),
        )
