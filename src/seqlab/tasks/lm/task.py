"""Causal language modelling (GPT-2 style): how text becomes token batches, a next-token loss and perplexity.

The tokenizer is built from the training text with the ``tokenizers`` library (one token per word
with ``<unk>``, or GPT-2's byte-level BPE), the model is ``transformers``' GPT-2, and every checkpoint
holds a plain Hugging Face copy of both in ``hf/`` (``AutoModelForCausalLM.from_pretrained``), which
CTC beam search loads for shallow fusion (:class:`seqlab.decoding.lm.neural.HFCausalLM`).

A sentence is one line of text normalised as the recognizer writes it
(:func:`seqlab.text.normalize.normalize_text`), wrapped as ``<s> w1 ... wn </s>`` (word level) or,
GPT-2's convention, ``<|endoftext|> text <|endoftext|>`` (BPE).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from seqlab.data.bucketing import DynamicBucketBatchSampler
from seqlab.data.librispeech import scan_librispeech
from seqlab.decoding.lm.neural import import_transformers
from seqlab.engine.task import DataSpec, EvaluableTask
from seqlab.text.normalize import normalize_text

logger = logging.getLogger(__name__)

WORD_SPECIALS = {
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "bos_token": "<s>",
    "eos_token": "</s>",
}
GPT2_END = "<|endoftext|>"  # GPT-2's only special token: sentence start, end and padding


@dataclass
class Sentence:
    """One normalised line of text and where it came from (``file:line`` or an utterance id)."""

    id: str
    text: str


def read_sentences(root: str | Path, sources: list[str]) -> list[Sentence]:
    """Normalised, non-empty sentences of text files and LibriSpeech-layout subsets.

    Args:
        root: directory that relative sources are under.
        sources: each a text file (one sentence per line) or a LibriSpeech-layout subset directory
            (its ``*.trans.txt`` transcripts, utterance ids dropped).

    Returns:
        the sentences in source order; blank lines (also after normalisation) are skipped.
    """
    out = []
    for source in sources:
        path = Path(source)
        path = path if path.is_absolute() else Path(root) / path
        if path.is_dir():
            items = [
                (item.id, item.raw_text) for item in scan_librispeech(path.parent, [path.name])
            ]
        elif path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            items = [(f"{path.name}:{n}", line) for n, line in enumerate(lines, 1)]
        else:
            raise FileNotFoundError(
                f"text source {source!r}: {path} is neither a text file (one sentence per line) nor "
                "a LibriSpeech-layout subset directory; build the built-in corpus with `seqlab data "
                "synth-speech DIR` and set data.root=DIR, or give data.train/val/test as paths"
            )
        for item_id, text in items:
            text = normalize_text(text)
            if text:
                out.append(Sentence(item_id, text))
    return out


def build_tokenizer(
    texts: list[str],
    kind: str = "word",
    vocab_size: int | None = None,
    min_frequency: int = 2,
    max_length: int | None = None,
):
    """Train a tokenizer on ``texts`` and wrap it as a ``transformers`` fast tokenizer.

    Args:
        texts: normalised training sentences.
        kind: ``word`` (whitespace-separated words; rarer ones become ``<unk>``; specials ``<pad>``
            ``<unk>`` ``<s>`` ``</s>`` get ids 0-3) or ``bpe`` (GPT-2's byte-level BPE; no unknown
            words; ``<|endoftext|>`` starts and ends sentences).
        vocab_size: word: keep at most this many entries (null = all); bpe: the vocabulary size.
        min_frequency: word: rarer words are left out; bpe: rarer pairs are not merged.
        max_length: the tokenizer's ``model_max_length`` (the model's context).

    Returns:
        a ``PreTrainedTokenizerFast`` (``save_pretrained`` writes tokenizer.json).
    """
    transformers = import_transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=WORD_SPECIALS["unk_token"]))
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()  # decode joins with spaces
        trainer = trainers.WordLevelTrainer(
            vocab_size=int(vocab_size) if vocab_size else 2**31 - 1,
            min_frequency=int(min_frequency),
            special_tokens=list(WORD_SPECIALS.values()),
            show_progress=False,
        )
        specials = WORD_SPECIALS
    elif kind == "bpe":
        if not vocab_size:
            raise ValueError("tokenizer.kind=bpe needs tokenizer.vocab_size (e.g. 8000)")
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=int(vocab_size),
            min_frequency=int(min_frequency),
            special_tokens=[GPT2_END],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        specials = {"bos_token": GPT2_END, "eos_token": GPT2_END, "unk_token": GPT2_END}
    else:
        raise ValueError(f"tokenizer.kind is '{kind}'; use word or bpe")
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    extra = {"model_max_length": int(max_length)} if max_length else {}
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, **specials, **extra)


def export_hf(model: nn.Module, tokenizer, directory: Path) -> None:
    """Write a plain Hugging Face directory: config.json, model.safetensors, tokenizer files, README."""
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    # transformers 5 names its own class here, which 4.x cannot load; the generic one loads in both
    config_file = directory / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    start, end = tokenizer.bos_token, tokenizer.eos_token
    (directory / "README.md").write_text(
        "# seqlab causal language model\n\n"
        "Trained with `seqlab train lm_gpt2_small` on normalised text (lowercase, no punctuation).\n"
        f"A sentence is scored as `{start} text {end}`; the tokenizer adds no special tokens itself.\n\n"
        "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "model = AutoModelForCausalLM.from_pretrained(DIR)\ntokenizer = AutoTokenizer.from_pretrained(DIR)\n"
        "```\n\nFor CTC shallow fusion: `seqlab.decoding.lm.load_lm(DIR)`.\n"
    )


def build_model(model_cfg: DictConfig, tokenizer) -> nn.Module:
    """``AutoModelForCausalLM.from_config`` of ``model_cfg`` (``_target_`` a config class, e.g. GPT2Config).

    The vocabulary and special-token ids come from ``tokenizer``; seqlab's ``dropout`` key sets
    GPT-2's three dropouts (residual, embedding, attention) together.
    """
    transformers = import_transformers()
    settings = OmegaConf.to_container(model_cfg, resolve=True)
    dropout = float(settings.pop("dropout", 0.0))
    config = instantiate(
        {
            **settings,
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "resid_pdrop": dropout,
            "embd_pdrop": dropout,
            "attn_pdrop": dropout,
        }
    )
    return transformers.AutoModelForCausalLM.from_config(config)


class TokenizedSentences(Dataset):
    """Sentences as token ids with their start and end tokens; ``lengths`` drive the bucketing."""

    def __init__(self, sentences: list[Sentence], token_ids: list[list[int]]):
        self.sentences = sentences
        self.token_ids = token_ids
        self.lengths = [len(ids) for ids in token_ids]

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> dict:
        s = self.sentences[index]
        return {"tokens": self.token_ids[index], "id": s.id, "text": s.text}


def collate_sentences(items: list[dict], pad_id: int) -> dict:
    """Right-pad token ids: ``input_ids`` and ``attention_mask`` (B, T) long, ``lengths`` (B,),
    ``ids``/``texts`` lists and ``padding_fraction``."""
    lengths = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)  # (B,)
    input_ids = torch.full((len(items), int(lengths.max())), pad_id, dtype=torch.long)  # (B, T)
    for row, it in enumerate(items):
        input_ids[row, : len(it["tokens"])] = torch.tensor(it["tokens"], dtype=torch.long)
    attention_mask = (torch.arange(input_ids.shape[1]) < lengths[:, None]).long()  # (B, T)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "lengths": lengths,
        "ids": [it["id"] for it in items],
        "texts": [it["text"] for it in items],
        "padding_fraction": 1.0 - float(lengths.sum()) / input_ids.numel(),
    }


class LMTask(EvaluableTask):
    """Causal LM task (see the task protocols in seqlab/engine/task.py).

    Args:
        cfg: the resolved experiment config (tokenizer, model, data, ...).
        checkpoint_dir: a checkpoint directory whose ``hf/`` tokenizer to use instead of
            building one.
    """

    kind = "lm"

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        super().__init__(cfg, checkpoint_dir)
        transformers = import_transformers()
        if checkpoint_dir is None and cfg.trainer.get("resume_from"):
            from seqlab.engine.checkpoint import resolve_checkpoint

            checkpoint_dir = resolve_checkpoint(cfg.trainer.resume_from)
        self._train_sentences: list[Sentence] | None = None
        hf_dir = Path(checkpoint_dir) / "hf" if checkpoint_dir is not None else None
        if hf_dir is not None and (hf_dir / "tokenizer.json").is_file():
            from seqlab.registry import check_tree_inside

            check_tree_inside(
                hf_dir, checkpoint_dir, str(hf_dir)
            )  # no symlink out of the checkpoint
            # never the code an auto_map in a loaded tokenizer_config.json may name
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                hf_dir, trust_remote_code=False
            )
        else:
            tok = cfg.tokenizer
            self.tokenizer = build_tokenizer(
                [s.text for s in self.sentences("train")],
                kind=str(tok.kind),
                vocab_size=tok.get("vocab_size"),
                min_frequency=int(tok.get("min_frequency", 2)),
                max_length=int(cfg.model.n_positions),
            )
        self.bos_id, self.eos_id = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id
        self.pad_id = self.eos_id if self.pad_id is None else self.pad_id  # masked out anyway
        self.unk_id = self.tokenizer.unk_token_id if self.tokenizer.unk_token != GPT2_END else None
        self.model = build_model(cfg.model, self.tokenizer)
        self.n_positions = int(self.model.config.n_positions)  # (the engine may wrap self.model)

    # ---- the engine's contract -------------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        """The trained modules by name; the checkpoint stores ``model.safetensors`` (and ``hf/``)."""
        return {"model": self.model}

    def optimizer_params(self, name: str):
        """All parameters go to the single optimizer ``main``."""
        return self.model.parameters()

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Length-bucketed, shuffled batches of the training sentences (bounded by padded tokens)."""
        return self._data_spec("train", rank, world_size, run_dir, shuffle=True)

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Batches of the validation sentences, in a fixed order."""
        return self._data_spec("val", rank, world_size, run_dir, shuffle=False)

    def test_data(self, rank: int, world_size: int, run_dir: Path, split: str = "test") -> DataSpec:
        """Batches of ``data.<split>`` (``test`` by default) for ``seqlab eval``."""
        return self._data_spec(split, rank, world_size, run_dir, shuffle=False)

    def training_step(self, batch: dict) -> dict:
        """Mean next-token cross-entropy; ``n_units`` = predicted tokens (``</s>`` included)."""
        logits = self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits  # (B, T, V)
        nll, n_tokens = self._nll(logits, batch)
        return {
            "loss": nll.sum() / max(n_tokens, 1),
            "n_units": n_tokens,
            "padding_fraction": float(batch["padding_fraction"]),
        }

    def validation_step(self, batch: dict) -> dict:
        """Summed negative log-likelihood per sentence (the engine has put the model in eval mode)."""
        logits = self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits  # (B, T, V)
        nll, n_tokens = self._nll(logits, batch)
        targets = batch["input_ids"][:, 1:]  # (B, T-1)
        in_sentence = torch.arange(targets.shape[1], device=targets.device) < (
            batch["lengths"][:, None] - 1
        )  # (B, T-1)
        n_unk = (
            int(((targets == self.unk_id) & in_sentence).sum()) if self.unk_id is not None else 0
        )
        return {
            "loss_sum": float(nll.sum()),
            "n_units": n_tokens,
            "n_unk": n_unk,
            "ids": list(batch["ids"]),
            "texts": list(batch["texts"]),
            "sentence_nll": nll.sum(dim=1).tolist(),
            "sentence_tokens": (batch["lengths"] - 1).tolist(),
        }

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Corpus loss per token, perplexity ``exp(loss)``, word perplexity and OOV rate.

        ``word_ppl`` = exp(total NLL / (words + sentences)): per word with ``</s>`` counted as a
        word, as n-gram toolkits report it, so word-level and BPE models compare (for a word-level
        model it equals ``ppl``). ``oov_rate``: fraction of predicted tokens that are ``<unk>``.
        """
        nll = sum(o["loss_sum"] for o in outputs)
        n_tokens = sum(o["n_units"] for o in outputs)
        n_words = sum(len(t.split()) + 1 for o in outputs for t in o["texts"])
        loss = nll / max(n_tokens, 1)
        return {
            "loss": loss,
            "ppl": math.exp(min(loss, 700.0)),
            "word_ppl": math.exp(min(nll / max(n_words, 1), 700.0)),
            "oov_rate": sum(o["n_unk"] for o in outputs) / max(n_tokens, 1),
        }

    def eval_rows(self, outputs: list[dict]) -> list[dict]:
        """Per-sentence rows for eval.json: id, text, tokens, nll (nats), ppl."""
        rows = []
        for o in outputs:
            for i, text, nll, n in zip(
                o["ids"], o["texts"], o["sentence_nll"], o["sentence_tokens"], strict=True
            ):
                ppl = math.exp(min(nll / max(n, 1), 700.0))
                rows.append({"id": i, "text": text, "tokens": n, "nll": nll, "ppl": ppl})
        return rows

    def examples(self, outputs: list[dict], n: int = 4) -> dict:
        """A few sentences sampled from the model (TensorBoard's text tab), seeded and side-effect free."""
        from accelerate.utils import extract_model_from_parallel

        model = extract_model_from_parallel(self.model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        with (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
            torch.no_grad(),
        ):
            torch.manual_seed(int(self.cfg.seed))
            start = torch.full((n, 1), self.bos_id, dtype=torch.long, device=device)  # (n, 1)
            out = model.generate(
                start,
                attention_mask=torch.ones_like(start),
                do_sample=True,
                top_k=0,
                max_new_tokens=min(40, self.n_positions - 1),
                eos_token_id=self.eos_id,
                pad_token_id=self.pad_id,
            )  # (n, <= 41)
        model.train(was_training)
        texts = self.tokenizer.batch_decode(out[:, 1:], skip_special_tokens=True)
        return {"text": {"samples": [{"sample": t.strip()} for t in texts]}}

    def save_artifacts(self, directory: Path) -> None:
        """``hf/``: the current weights and the tokenizer as a plain Hugging Face directory."""
        from accelerate.utils import extract_model_from_parallel

        export_hf(extract_model_from_parallel(self.model), self.tokenizer, Path(directory) / "hf")

    def for_inference(self, device: str | torch.device = "cpu", runtime: str = "torch"):
        """The Python API object returned by ``seqlab.load``: a word-level LM for fusion/rescoring
        (PyTorch only: ``runtime`` other than "torch" is refused)."""
        self.check_runtime(runtime)
        from accelerate.utils import extract_model_from_parallel

        from seqlab.decoding.lm.neural import HFCausalLM

        return HFCausalLM.from_model(
            extract_model_from_parallel(self.model), self.tokenizer, device=device
        )

    # ---- internals -----------------------------------------------------------------------------
    def _nll(self, logits: torch.Tensor, batch: dict) -> tuple[torch.Tensor, int]:
        """Per-token NLL ``(B, T-1)`` (0 at padding) and the number of predicted tokens."""
        targets = batch["input_ids"][:, 1:]  # (B, T-1): each position predicts the next token
        lengths = batch["lengths"]
        in_sentence = torch.arange(targets.shape[1], device=targets.device) < (lengths[:, None] - 1)
        nll = nn.functional.cross_entropy(
            logits[:, :-1].float().transpose(1, 2),  # (B, V, T-1)
            targets.masked_fill(~in_sentence, -100),
            ignore_index=-100,
            reduction="none",
        )  # (B, T-1)
        return nll, int(in_sentence.sum())

    def sentences(self, split: str) -> list[Sentence]:
        """The normalised sentences of ``data.<split>`` (train: the first ``data.train_fraction``)."""
        data = self.cfg.data
        if split == "train" and self._train_sentences is not None:
            return self._train_sentences
        out = read_sentences(data.root, list(data[split]))
        if split == "train":
            fraction = data.get("train_fraction")
            if fraction is not None:
                if not 0.0 < float(fraction) <= 1.0:
                    raise ValueError(f"data.train_fraction must be in (0, 1], got {fraction}")
                out = out[: max(1, round(len(out) * float(fraction)))]
            self._train_sentences = out
        return out

    def _data_spec(self, split, rank, world_size, run_dir, shuffle: bool) -> DataSpec:
        sentences = self.sentences(split)
        if not sentences:
            raise ValueError(
                f"no sentences in data.{split} = {list(self.cfg.data[split])} under "
                f"{self.cfg.data.root} (empty, or empty after normalisation)"
            )
        texts = [s.text for s in sentences]
        # verbose=False: too-long sentences are reported below as bad items, not as a warning
        encoded = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        limit = self.n_positions
        kept, token_ids, bad = [], [], []
        for sentence, ids in zip(sentences, encoded, strict=True):
            ids = [self.bos_id, *ids, self.eos_id]
            if len(ids) > limit:
                detail = f"{len(ids)} tokens with start and end > model.n_positions {limit}"
                bad.append({"id": sentence.id, "reason": "too_long", "detail": detail})
                continue
            kept.append(sentence)
            token_ids.append(ids)
        if bad and run_dir is not None and rank == 0:
            path = Path(run_dir) / "bad_items.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                for b in bad:
                    f.write(json.dumps({**b, "split": split}, ensure_ascii=False) + "\n")
            logger.warning("%s: %d sentences too long, left out -> %s", split, len(bad), path)
        if not kept:
            raise ValueError(
                f"every sentence of data.{split} is longer than model.n_positions={limit} tokens; "
                "raise model.n_positions"
            )
        dataset = TokenizedSentences(kept, token_ids)
        sampler = DynamicBucketBatchSampler(
            dataset.lengths,
            max_batch_seconds=float(self.cfg.data.max_batch_tokens),  # here: padded tokens
            num_buckets=int(self.cfg.data.num_buckets),
            shuffle=shuffle,
            seed=int(self.cfg.seed),
            num_replicas=world_size,
            rank=rank,
        )
        collate = functools.partial(collate_sentences, pad_id=self.pad_id)
        return DataSpec(dataset=dataset, batch_sampler=sampler, collate_fn=collate)
