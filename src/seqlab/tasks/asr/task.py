"""CTC speech recognition: how a batch becomes log-mels, a CTC loss, transcripts and WER/CER.

The engine owns the loop; this file only says what one batch means. Features and augmentations run
inside the model's forward, on the training device, in batch.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqlab.audio.augment import AugmentPipeline
from seqlab.audio.features import LogMelSpectrogram, compute_global_stats
from seqlab.data.asr_dataset import ASRDataset
from seqlab.data.bucketing import DynamicBucketBatchSampler
from seqlab.data.cache import cache_dir
from seqlab.data.collate import collate_asr
from seqlab.data.index import build_index
from seqlab.data.librispeech import scan_librispeech
from seqlab.data.manifest import scan_manifest
from seqlab.engine.task import DataSpec, DecodingOption, EvaluableTask
from seqlab.metrics.asr import corpus_wer_cer, utterance_scores
from seqlab.text.normalize import normalize_text
from seqlab.text.vocab import build_vocab, load_vocab


class CTCRecognizer(nn.Module):
    """Log-mel front end + augmentations + acoustic model in one module.

    One module so that DDP, checkpoints and inference see the whole recognizer: the feature settings
    (and global normalisation statistics) travel with the weights.
    """

    def __init__(self, features: LogMelSpectrogram, augment: AugmentPipeline, encoder: nn.Module):
        super().__init__()
        self.features = features
        self.augment = augment
        self.encoder = encoder

    def forward(self, audio: torch.Tensor, audio_lengths: torch.Tensor):
        """Waveforms ``(B, T)`` with lengths ``(B,)`` -> CTC log-probs ``(B, T', V)`` and lengths ``(B,)``."""
        with torch.autocast(device_type=audio.device.type, enabled=False):
            audio, audio_lengths = self.augment.apply_wave(audio.float(), audio_lengths)
            feats, frame_lengths = self.features(audio, audio_lengths)  # (B, F, n_mels)
            feats, frame_lengths = self.augment.apply_spec(feats, frame_lengths)
        return self.encoder(feats, frame_lengths)

    def output_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Output frames (CTC time steps) of ``(B,)`` sample counts."""
        return self.encoder.output_lengths(self.features.frame_lengths(sample_lengths))


class ASRTask(EvaluableTask):
    """CTC speech recognition task (see the protocols in seqlab/engine/task.py).

    Args:
        cfg: the resolved experiment config (model, data, features, augment, decoder, ...).
        checkpoint_dir: load the vocabulary from here (a checkpoint directory) instead of
            building it.
    """

    kind = "asr"
    runtimes = ("torch", "onnx")

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        super().__init__(cfg, checkpoint_dir)
        self.sample_rate = int(cfg.data.sample_rate)
        self._left_out: dict[str, list[dict]] = {}  # split -> items left out (see left_out)
        self._shard_splits: dict = {}  # split -> its ShardSplit (data.format=shards)
        if checkpoint_dir is None and cfg.trainer.get("resume_from"):
            from seqlab.engine.checkpoint import resolve_checkpoint

            checkpoint_dir = resolve_checkpoint(cfg.trainer.resume_from)
        self.vocab = self._vocab(checkpoint_dir)
        self.model = self._build_model(checkpoint_dir)
        self.ctc_loss = nn.CTCLoss(blank=self.vocab.blank_id, reduction="sum", zero_infinity=True)
        self._decoder = None  # built from cfg.decoder on first use (an LM loads only then)
        self._decoding: DecodingOption | None = None  # what _decoder was built from (use_decoding)
        self._keep_log_probs = False  # set by use_decoding(redecodable=True)

    def _build_model(self, checkpoint_dir) -> nn.Module:
        """The recognizer of ``cfg.model``: log-mel + augmentations + encoder."""
        cfg = self.cfg
        # window and hop in ms (or in samples in configs saved before): audio/features.py
        features = LogMelSpectrogram.from_config(
            OmegaConf.to_container(cfg.features, resolve=True), self.sample_rate
        )
        augment = AugmentPipeline(
            wave=[instantiate(a) for a in cfg.augment.get("wave") or []],
            spec=[instantiate(a) for a in cfg.augment.get("spec") or []],
        )
        encoder = instantiate(
            cfg.model, n_mels=int(cfg.features.n_mels), vocab_size=len(self.vocab)
        )
        return CTCRecognizer(features, augment, encoder)

    # ---- the engine's contract -------------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        """The trained modules by name; the checkpoint stores ``model.safetensors``."""
        return {"model": self.model}

    def optimizer_params(self, name: str):
        """All parameters go to the single optimizer ``main``."""
        return self.model.parameters()

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Bucketed, shuffled batches of the training subsets (bad items reported in the run dir)."""
        spec = self._data_spec("train", rank, world_size, run_dir, shuffle=True)
        features = self._recognizer().features
        if features.normalize == "global" and not bool(features.global_stats_set):
            streamed = self.cfg.data.format == "shards"  # a sample from the first shards
            self._set_global_stats(spec.dataset.sample_items(500) if streamed else spec.dataset)
        return spec

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Batches of the validation subsets, in a fixed order."""
        return self._data_spec("val", rank, world_size, run_dir, shuffle=False)

    def test_data(self, rank: int, world_size: int, run_dir: Path, split: str = "test") -> DataSpec:
        """Batches of the evaluation subsets (``data.test`` by default) for ``seqlab eval``."""
        return self._data_spec(split, rank, world_size, run_dir, shuffle=False)

    def training_step(self, batch: dict) -> dict:
        """CTC loss per target token; ``n_units`` lets the engine normalise over the accumulation window."""
        log_probs, out_lengths = self.model(batch["audio"], batch["audio_lengths"])  # (B, T', V)
        loss, n_units = self._train_loss(log_probs, out_lengths, batch)
        return {
            "loss": loss,
            "n_units": n_units,
            "n_seconds": float(batch["audio_lengths"].sum()) / self.sample_rate,
            "padding_fraction": float(batch["padding_fraction"]),
        }

    def validation_step(self, batch: dict) -> dict:
        """Loss and greedy transcripts of one batch (the engine has put the model in eval mode)."""
        log_probs, out_lengths = self.model(batch["audio"], batch["audio_lengths"])
        loss_sum = self._ctc(log_probs, out_lengths, batch)
        hyps = self.decode(log_probs, out_lengths)
        extra = {}
        if self._keep_log_probs:  # (T_i, V) float32 arrays on the CPU, one per utterance
            lp = log_probs.float().cpu().numpy()
            extra["log_probs"] = [lp[i, :n] for i, n in enumerate(out_lengths.tolist())]
        return {
            **extra,
            "loss_sum": float(loss_sum),
            "n_units": int(batch["token_lengths"].sum()),
            "ids": list(batch["ids"]),
            "refs": list(batch["texts"]),
            "hyps": hyps,
            "paths": list(batch["paths"]),
        }

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Corpus-level loss per token, WER and CER (pooled over all utterances, with jiwer)."""
        refs = [r for o in outputs for r in o["refs"]]
        hyps = [h for o in outputs for h in o["hyps"]]
        n_units = sum(o["n_units"] for o in outputs)
        scores = corpus_wer_cer(refs, hyps)
        return {
            "loss": sum(o["loss_sum"] for o in outputs) / max(n_units, 1),
            "wer": float(scores["wer"]),
            "cer": float(scores["cer"]),
        }

    def eval_rows(self, outputs: list[dict]) -> list[dict]:
        """Per-utterance rows for eval.json: id, path, reference, hypothesis, wer, cer."""
        ids = [i for o in outputs for i in o["ids"]]
        paths = [p for o in outputs for p in o["paths"]]
        refs = [r for o in outputs for r in o["refs"]]
        hyps = [h for o in outputs for h in o["hyps"]]
        rows = utterance_scores(refs, hyps)
        return [
            {"id": i, "path": p, "reference": r, "hypothesis": h, **s}
            for i, p, r, h, s in zip(ids, paths, refs, hyps, rows, strict=True)
        ]

    def examples(self, outputs: list[dict], n: int = 8, n_audio: int = 2) -> dict:
        """A few transcripts (TensorBoard's text tab, the console) and the audio of the first ones."""
        from seqlab.audio.io import load_audio

        rows = self.eval_rows(outputs)[:n]
        table = [{k: r[k] for k in ("id", "reference", "hypothesis")} for r in rows]
        audio = {  # an item streamed from a shard has no file to play back
            f"val/{r['id']}": (load_audio(r["path"], self.sample_rate), self.sample_rate)
            for r in rows[:n_audio]
            if Path(r["path"]).is_file()
        }
        return {"text": {"predictions": table}, "audio": audio}

    def save_artifacts(self, directory: Path) -> None:
        """The vocabulary goes into every checkpoint, so that a checkpoint alone can transcribe."""
        self.vocab.save(directory)

    # ---- inference ---------------------------------------------------------------------------
    @property
    def decoder(self):
        """The decoder of ``cfg.decoder`` (greedy, beam, beam + LM; see seqlab/decoding/factory.py)."""
        if self._decoder is None:
            from seqlab.decoding.factory import build_decoder

            self._decoder = build_decoder(self.cfg.decoder, self.vocab)
        return self._decoder

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Transcripts of ``(B, T', V)`` log-probs with the configured decoder."""
        return self.decoder.decode(log_probs, lengths)

    def decoding_option(self, cfg: DictConfig) -> DecodingOption:
        """A decoder configuration (the ``decoder`` group's keys) as a :class:`DecodingOption`."""
        from seqlab.decoding.factory import describe

        return DecodingOption(
            describe(cfg), OmegaConf.to_container(cfg, resolve=True), scores=("wer", "cer")
        )

    def decoding_options(self) -> list[DecodingOption]:
        """Greedy, beam, beam + LM(s) as ``cfg.decoder`` asks (``decoding/factory.decoder_ladder``)."""
        if "decoder" not in self.cfg:
            return []
        from seqlab.decoding.factory import decoder_ladder

        return [self.decoding_option(cfg) for cfg in decoder_ladder(self.cfg.decoder)]

    def use_decoding(self, option: DecodingOption | None = None, redecodable: bool = False) -> None:
        """Decode with ``option`` (None: ``cfg.decoder``); ``redecodable`` keeps the log-probs of
        every utterance in the validation outputs (``log_probs``: ``(T_i, V)`` float32 arrays)."""
        from seqlab.decoding.factory import build_decoder

        self._decoder = None if option is None else build_decoder(option.config, self.vocab)
        self._decoding = option
        self._keep_log_probs = bool(redecodable)

    def redecode(self, outputs: list[dict], option: DecodingOption) -> list[dict]:
        """``outputs`` of :meth:`validation_step` (kept log-probs) with hypotheses decoded with
        ``option`` (the decoder :meth:`use_decoding` built for it, if it is the current one)."""
        from seqlab.decoding.factory import build_decoder

        if any("log_probs" not in out for out in outputs):
            raise ValueError(
                "redecode needs validation outputs made after use_decoding(..., redecodable=True)"
            )
        if option == self._decoding and self._decoder is not None:
            decoder = self._decoder
        else:
            decoder = build_decoder(option.config, self.vocab)
        # all utterances in one call: the decoder groups them and spreads them over its workers
        hyps = iter(decoder.decode([lp for out in outputs for lp in out["log_probs"]]))
        # the kept log-probs stay in ``outputs`` (for the next option), not in what is returned
        return [
            {
                **{k: v for k, v in out.items() if k != "log_probs"},
                "hyps": [next(hyps) for _ in out["log_probs"]],
            }
            for out in outputs
        ]

    def for_inference(self, device: str | torch.device = "cpu", runtime: str = "torch"):
        """The Python API object returned by ``seqlab.load``: an
        :class:`~seqlab.tasks.asr.recognizer.ASRModel` whose acoustic model is the torch module,
        or (``runtime="onnx"``) the graph ``seqlab export --onnx`` wrote in the loaded directory."""
        from seqlab.tasks.asr.recognizer import ASRModel

        self.check_runtime(runtime)
        if runtime == "onnx":
            from seqlab.runtime.onnx import graph_of
            from seqlab.tasks.asr.onnx import OnnxAcousticModel

            graph = graph_of(self.checkpoint_dir)
            model = OnnxAcousticModel(graph, self.model.output_lengths, device=device)
            return ASRModel(self, device=device, model=model, runtime=runtime)
        return ASRModel(self, device=device)

    def export_formats(self) -> tuple[str, ...]:
        """``seqlab export --onnx``: the recognizer (front end included) as an ONNX graph."""
        return ("onnx",)

    def export(self, fmt: str, path: str | Path) -> Path:
        """``fmt`` ``"onnx"``: :func:`seqlab.tasks.asr.onnx.export_ctc_onnx` into directory ``path``."""
        if fmt != "onnx":
            return super().export(fmt, path)
        from seqlab.tasks.asr.onnx import export_ctc_onnx

        return export_ctc_onnx(self, path)

    # ---- internals -----------------------------------------------------------------------------
    def _train_loss(self, log_probs, out_lengths, batch) -> tuple[torch.Tensor, int]:
        """CTC loss per target token of the micro-batch, and its number of target tokens."""
        n_tokens = batch["token_lengths"].sum()
        return self._ctc(log_probs, out_lengths, batch) / n_tokens.clamp(min=1), int(n_tokens)

    def _ctc(self, log_probs, out_lengths, batch) -> torch.Tensor:
        return self.ctc_loss(
            log_probs.float().transpose(0, 1),  # (T', B, V) as CTCLoss wants
            batch["tokens"],
            out_lengths,
            batch["token_lengths"],
        )

    def _vocab(self, checkpoint_dir):
        if checkpoint_dir is not None and (Path(checkpoint_dir) / "vocab.json").is_file():
            from seqlab.registry import trusted_hook

            # a text hook saved in the vocabulary runs only if the user's config names it too
            return load_vocab(checkpoint_dir, hook=trusted_hook(self.cfg))
        kind = self.cfg.data.get("vocab", "char")
        if kind == "char":
            return build_vocab("char")
        # sentencepiece is trained on the training transcripts (deterministic for the same data)
        items = self._scan("train")
        # unigram by default; "word" makes each training word one output (closed vocabularies: digits)
        model_type = self.cfg.data.get("vocab_model_type") or "unigram"
        extra = () if model_type == "unigram" else (model_type,)  # unigram keeps its cache keys
        out_dir = (
            cache_dir()
            / "vocab"
            / self._fingerprint("train", kind, self.cfg.data.vocab_size, *extra)
        )
        return build_vocab(
            kind,
            texts=[text for _, _, text, _ in items],
            vocab_size=int(self.cfg.data.vocab_size),
            out_dir=out_dir,
            model_type=model_type,
        )

    def _scan(self, split: str):
        data = self.cfg.data
        subsets = list(data[split])
        if data.format == "shards":  # transcripts and durations from the shard index
            return self._shard_split(split).raw_items()
        from seqlab.data.corpus_get import ensure_corpus

        ensure_corpus(data, subsets)  # a catalogue corpus: fetch it (data.download) or say how
        if data.format == "librispeech":
            return scan_librispeech(data.root, subsets)
        if data.format == "manifest":
            items = []
            for name in subsets:
                path = Path(name)
                items.extend(scan_manifest(path if path.is_absolute() else Path(data.root) / path))
            return items
        if data.format in ("openslr", "commonvoice"):
            from seqlab.data.tsv_corpora import scan_commonvoice, scan_openslr

            scan = scan_openslr if data.format == "openslr" else scan_commonvoice
            return [item for name in subsets for item in scan(data.root, name)]
        if data.format == "hf_disk":
            from seqlab.data.hf_disk import scan_hf_disk

            return [
                item
                for name in subsets
                for item in scan_hf_disk(
                    data.root,
                    name,
                    audio_column=data.get("audio_column", "audio"),
                    text_column=data.get("text_column"),
                    cache_dir=cache_dir() / "hf_disk",
                )
            ]
        raise ValueError(
            "data.format must be 'librispeech', 'manifest', 'openslr', 'commonvoice', 'hf_disk' "
            f"or 'shards', got '{data.format}'"
        )

    def _shard_split(self, split: str):
        """The shards of ``split`` and their index (:mod:`seqlab.data.shard_split`), read once."""
        from seqlab.data.shard_split import read_shard_split

        if split not in self._shard_splits:
            self._shard_splits[split] = read_shard_split(self.cfg.data.root, self.cfg.data[split])
        return self._shard_splits[split]

    def _split_vocab(self, split: str):
        """The vocabulary that indexes and encodes ``split`` (the same one for every split here)."""
        return self.vocab

    def _fingerprint(self, split: str, *extra) -> str:
        data = self.cfg.data
        root = str(data.root) if "://" in str(data.root) else str(Path(data.root).resolve())
        key = repr((root, data.format, list(data[split]), extra))
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _recognizer(self) -> CTCRecognizer:
        """The plain recognizer, also while the engine has it wrapped for DDP."""
        return getattr(self.model, "module", self.model)

    def _min_frames(self, duration: float) -> int:
        """Output frames of the model for ``duration`` seconds of audio (to find items too short for CTC)."""
        samples = torch.tensor([int(duration * self.sample_rate)])
        return int(self._recognizer().output_lengths(samples)[0])

    @torch.no_grad()
    def _set_global_stats(self, dataset: ASRDataset, max_items: int = 500, batch: int = 16) -> None:
        """Mean/std per mel bin over (an even spread of) the training set, for ``normalize: global``.

        The statistics are buffers of the features module, so checkpoints carry them.
        """
        features = self._recognizer().features
        raw = LogMelSpectrogram.from_config(
            OmegaConf.to_container(self.cfg.features, resolve=True),
            self.sample_rate,
            normalize=None,
        )
        picks = list(range(0, len(dataset), max(1, len(dataset) // max_items)))[:max_items]

        def batches():
            for start in range(0, len(picks), batch):
                items = collate_asr([dataset[i] for i in picks[start : start + batch]])
                yield raw(items["audio"], items["audio_lengths"])

        mean, std = compute_global_stats(batches())
        features.set_global_stats(
            mean.to(features.global_mean.device), std.to(features.global_std.device)
        )

    def utterances(self, split: str, run_dir: Path | None):
        """The indexed, checked utterances of ``split`` (train/val/test or a subset list key);
        the items left out are kept for :meth:`left_out`."""
        raw_items = self._scan(split)
        normalize = getattr(self.vocab, "normalize", normalize_text)  # the vocabulary's rules
        bad_items_path = (Path(run_dir) / "bad_items.jsonl") if run_dir is not None else None
        if self.cfg.data.format == "shards":
            from seqlab.data.shard_split import shard_utterances

            utterances, bad = shard_utterances(
                self._shard_split(split), self._split_vocab(split), normalize, self._min_frames,
                self.cfg.data.get("max_duration"), bad_items_path, split,
            )  # fmt: skip
        else:
            index = build_index(
                raw_items,
                cache_path=cache_dir() / "index" / f"{self._fingerprint(split)}.jsonl",
                vocab=self._split_vocab(split),
                min_frames_fn=self._min_frames,
                normalize=normalize,
                bad_items_path=bad_items_path,
                split=split,
                max_duration=self.cfg.data.get("max_duration"),
                verify_audio=bool(self.cfg.data.get("verify_audio", False)),
            )
            utterances, bad = index.utterances, index.bad
        texts = {str(item[0]): item[2] for item in raw_items}
        self._left_out[split] = [
            {
                "id": b.id,
                "path": b.audio_path,
                "reason": b.reason,
                "detail": b.detail,
                # what a recognizer should have said; none for a duplicate (scored once already)
                "reference": None
                if b.reason == "duplicate_id"
                else normalize(texts.get(b.id) or "") or None,
            }
            for b in bad
        ]
        self._note_resampling(split, utterances)
        return utterances

    def _note_resampling(self, split: str, utterances) -> None:
        """Say once per split (not per item) which audio is resampled on load, and from what."""
        rates = Counter(u.sample_rate for u in utterances if u.sample_rate != self.sample_rate)
        if rates:
            found = ", ".join(f"{n} at {rate} Hz" for rate, n in sorted(rates.items()))
            print(
                f"[asr] {split}: {sum(rates.values())} of {len(utterances)} items are resampled "
                f"to the model's {self.sample_rate} Hz on load ({found})",
                file=sys.stderr,
                flush=True,
            )

    def left_out(self, split: str) -> list[dict]:
        """Items of ``split`` the index left out (after its data was loaded): id, path, reason,
        detail and the normalised ``reference`` (None when there is nothing to score)."""
        return list(self._left_out.get(split, []))

    def left_out_output(self, rows: list[dict]) -> dict:
        """A :meth:`validation_step`-like output scoring left-out items as empty transcripts
        (every reference word an error), for ``seqlab eval``; no loss."""
        return {
            "loss_sum": 0.0,
            "n_units": 0,
            "ids": [r["id"] for r in rows],
            "refs": [r["reference"] for r in rows],
            "hyps": [""] * len(rows),
            "paths": [r["path"] for r in rows],
        }

    def _data_spec(self, split, rank, world_size, run_dir, shuffle: bool) -> DataSpec:
        utts = self.utterances(split, run_dir)
        if not utts:
            raise ValueError(
                f"no usable utterances in data.{split} = {list(self.cfg.data[split])} under "
                f"{self.cfg.data.root}; see bad_items.jsonl in the run directory"
            )
        max_items = self.cfg.data.get("val_max_items")
        if split != "train" and max_items:
            step = max(1, len(utts) // int(max_items))  # an even spread, deterministic
            utts = utts[::step][: int(max_items)]
        fraction = self.cfg.data.get("train_fraction")
        if split == "train" and fraction is not None and float(fraction) < 1.0:
            if not 0.0 < float(fraction) <= 1.0:
                raise ValueError(f"data.train_fraction must be in (0, 1], got {fraction}")
            keep = max(1, round(len(utts) * float(fraction)))  # an even spread, deterministic
            utts = [utts[i * len(utts) // keep] for i in range(keep)]
        if self.cfg.data.format == "shards":
            return self._shard_spec(split, utts, rank, world_size, shuffle)
        dataset = ASRDataset(utts, self._split_vocab(split), self.sample_rate)
        sampler = DynamicBucketBatchSampler(
            dataset.durations,
            max_batch_seconds=float(self.cfg.data.max_batch_seconds),
            num_buckets=int(self.cfg.data.num_buckets),
            shuffle=shuffle,
            seed=int(self.cfg.seed),
            num_replicas=world_size,
            rank=rank,
            max_batch_size=self.cfg.data.get("max_batch_size"),
        )
        return DataSpec(dataset=dataset, batch_sampler=sampler, collate_fn=collate_asr)

    def _shard_spec(self, split, utts, rank, world_size, shuffle: bool) -> DataSpec:
        """``utts`` streamed from their shards (:mod:`seqlab.data.shard_stream`) by this rank's
        ``trainer.num_workers`` loader workers, through a ``data.shuffle_buffer``-item buffer."""
        from seqlab.data.shard_split import shard_items
        from seqlab.data.shard_stream import ShardStream

        shard_split = self._shard_split(split)
        items = shard_items(shard_split, utts, self._split_vocab(split))
        data = self.cfg.data
        workers = int(self.cfg.trainer.get("num_workers", 0) or 0)
        stream = ShardStream(
            shard_split.shards,
            items,
            self.sample_rate,
            max_batch_seconds=float(data.max_batch_seconds),
            num_buckets=int(data.num_buckets),
            buffer_size=int(data.get("shuffle_buffer") or 2000),
            shuffle=shuffle,
            seed=int(self.cfg.seed),
            num_replicas=world_size,
            rank=rank,
            num_workers=workers,
            max_batch_size=data.get("max_batch_size"),
        )
        return DataSpec(stream, stream, collate_asr, num_workers=workers)
