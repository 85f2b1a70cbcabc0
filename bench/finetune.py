"""Fine-tuning speed: seqlab's engine vs ``transformers.Trainer`` on the same tiny Wav2Vec2-BERT and data.

    python bench/finetune.py [--data data/synth_speech_ru] [--steps 30] [--repeats 2] [--workers 1]
                             [--threads N] [--no-grouped] [--json out.json]

README's figures: ``--workers 0 --steps 16 --repeats 3`` with torch's default threads on a quiet
machine, and with ``--threads 1`` on a shared one (there two torch threads each made both sides
~10x slower and the timings noise).

Both sides fine-tune the same "pretrained" model (a tiny random Wav2Vec2-BERT saved with
save_pretrained, initialised from the same seed) on the same utterances (the built-in Russian
corpus; seqlab's index, so the same items), with the same effective batch (4 x accumulation 2),
the same optimizer steps, AdamW + linear warm-up (ratio 0.1), clipping 1.0, CTC reduction
``mean``, and the same DataLoader worker count. Precision: fp32 on a CPU for both (fp16 is
CUDA-only), fp16 for both on CUDA.

- seqlab: ``seqlab train asr_w2v2bert`` (duration buckets of at most 4 items, fbank computed on
  the device in batch); throughput from its per-step log (validation and saving left out).
- Trainer, the report's arguments (``random`` sampling): the collator runs the
  SeamlessM4TFeatureExtractor per item on the padded batch, as the report's dynamic-padding
  collator does. Throughput: ``train_samples_per_second`` counted from the real batch sizes.
- Trainer, ``group_by_length`` and features precomputed once (``dataset.map``-style; that pass is
  timed and printed separately): the strongest Trainer setup we know, for reference.

Runs are interleaved and repeated; the medians are printed (samples per second of wall time, per
CPU-second of this process, audio seconds per second) with the ratios, and the loss after the
same number of steps for each (the Trainer's also per micro-batch: transformers 5 sums the
accumulated micro-batch losses for this model). Also printed: the data pipeline alone (read +
features for batches of 4, one process), the part a GPU would expose. Numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TINY = dict(  # the offline demo's tiny model (configs/experiment/asr_w2v2bert_demo.yaml)
    hidden_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=192,
    conv_depthwise_kernel_size=15,
    output_hidden_size=96,
    vocab_size=10,
)
SEED, LR, BATCH, ACCUM = 42, 1e-3, 4, 2


def make_pretrained(folder: Path) -> Path:
    import transformers

    torch.manual_seed(0)
    config = transformers.Wav2Vec2BertConfig(**TINY)
    transformers.Wav2Vec2BertForCTC(config).save_pretrained(folder)
    transformers.SeamlessM4TFeatureExtractor().save_pretrained(folder)
    return folder


def seqlab_overrides(data: Path, pretrained: Path, runs: Path, name: str, steps: int, workers: int):
    return [
        "data=synth_speech_ru",
        f"data.root={data}",
        "data.builtin=null",
        "data.max_batch_seconds=10000",  # the item count (4) binds, as per_device_train_batch_size
        f"data.max_batch_size={BATCH}",
        "data.val_max_items=4",  # the run ends with a (tiny) validation; not timed
        f"model.pretrained={pretrained}",
        f"trainer.grad_accum_steps={ACCUM}",
        f"trainer.max_steps={steps}",
        "trainer.n_epochs=1000",
        f"trainer.precision={'fp16' if torch.cuda.is_available() else 'fp32'}",
        f"trainer.num_workers={workers}",
        "trainer.val_every_n_steps=null",
        "trainer.val_every_n_epochs=null",
        "trainer.save_every_n_steps=null",
        "trainer.save_every_n_epochs=null",
        "trainer.log_every_n_steps=1",
        f"optimizer.lr={LR}",
        "lr_scheduler.warmup_steps=0",
        "+lr_scheduler.warmup_ratio=0.1",
        f"seed={SEED}",
        f"trainer.runs_root={runs}",
        f"trainer.run_name={name}",
        "trainer.progress=none",
        "writer=jsonl",
    ]


def run_seqlab(args, pretrained: Path, runs: Path, name: str) -> dict:
    """seqlab's engine on the task of ``seqlab train asr_w2v2bert``; items counted per micro-batch."""
    from hydra.utils import instantiate

    from seqlab.config import compose_experiment
    from seqlab.engine.rng import seed_everything
    from seqlab.engine.trainer import fit
    from seqlab.engine.writers import read_metrics

    overrides = seqlab_overrides(args.data, pretrained, runs, name, args.steps, args.workers)
    cfg = compose_experiment("asr_w2v2bert", overrides)
    seed_everything(int(cfg.seed), False)
    task = instantiate(cfg.task, cfg=cfg, _recursive_=False)
    clock = Clock()
    train_step, val_step = task.training_step, task.validation_step

    def counting_step(batch):
        clock.start()
        clock.items += len(batch["ids"])
        clock.audio_seconds += float(batch["audio_lengths"].sum()) / 16000
        return train_step(batch)

    def first_validation(batch):  # the engine validates right after the last step
        clock.stop()
        return val_step(batch)

    task.training_step, task.validation_step = counting_step, first_validation
    summary = fit(cfg, task, None, overrides=overrides)
    rows = [r for r in read_metrics(Path(summary["run_dir"])) if r.get("split") == "train"]
    return {
        **clock.rates(),
        "losses": [r["loss"] for r in rows],
        "padding": float(np.mean([r["padding_fraction"] for r in rows])),
    }


class Clock:
    """Wall and CPU time (all threads of this process) from the first training micro-batch to
    the end of the last optimizer step; items = utterances trained on in between."""

    def __init__(self):
        self.items, self.audio_seconds, self.wall, self.cpu = 0, 0.0, None, None

    def start(self):
        if self.wall is None:
            self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self):
        if not isinstance(self.wall, tuple):
            self.wall = (self.wall, time.perf_counter())
            self.cpu = (self.cpu, time.process_time())

    def rates(self) -> dict:
        wall, cpu = self.wall[1] - self.wall[0], self.cpu[1] - self.cpu[0]
        return {
            "samples_per_s": self.items / wall,
            "samples_per_cpu_s": self.items / cpu,
            "audio_s_per_s": self.audio_seconds / wall,
            "seconds": wall,
            "cpu_seconds": cpu,
            "items": self.items,
        }


def run_trainer(args, pretrained: Path, out: Path, utterances, vocab, grouped: bool) -> dict:
    """transformers.Trainer with the report's TrainingArguments (grouped: + group_by_length and
    features precomputed once)."""
    import transformers

    extractor = transformers.SeamlessM4TFeatureExtractor.from_pretrained(pretrained)
    tokenizer = vocab.hf_tokenizer(out / "tokenizer")
    transformers.set_seed(SEED)
    model = transformers.Wav2Vec2BertForCTC.from_pretrained(
        pretrained,
        ignore_mismatched_sizes=True,
        vocab_size=len(vocab),
        pad_token_id=vocab.blank_id,
        attention_dropout=0.1,
        hidden_dropout=0.1,
        feat_proj_dropout=0.1,
        mask_time_prob=0.05,
        layerdrop=0.1,
        ctc_loss_reduction="mean",
        add_adapter=True,
    )
    counted = {"losses": [], "padding": []}
    clock = Clock()

    def count(_module, inputs, kwargs):
        if _module.training:
            clock.start()
            clock.items += len(kwargs["input_features"])
            # stacked fbank vectors: 2 frames of 10 ms each
            clock.audio_seconds += float(kwargs["attention_mask"].sum()) * 0.02
            counted["padding"].append(1.0 - float(kwargs["attention_mask"].float().mean()))

    model.register_forward_pre_hook(count, with_kwargs=True)

    class Stop(transformers.TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if state.global_step == args.steps:
                clock.stop()

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                counted["losses"].append(float(logs["loss"]))

    prep_seconds = 0.0
    if grouped:  # features once, before training (what dataset.map(prepare_dataset) does)
        from seqlab.audio.io import load_audio

        t = time.perf_counter()
        features = [
            extractor(load_audio(u.audio_path, 16000), sampling_rate=16000).input_features[0]
            for u in utterances
        ]
        prep_seconds = time.perf_counter() - t
        dataset = _Waves(utterances, tokenizer, vocab, features)
        collator = PaddingCollator(extractor)
    else:
        dataset, collator = _Waves(utterances, tokenizer, vocab), ExtractingCollator(extractor)
    targs = transformers.TrainingArguments(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=ACCUM,
        learning_rate=LR,
        warmup_steps=0.1,  # transformers 5: a float < 1 is the ratio (4.x: warmup_ratio=0.1)
        max_steps=args.steps,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        fp16=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=args.workers,
        seed=SEED,
        remove_unused_columns=False,
        disable_tqdm=True,
        train_sampling_strategy="group_by_length" if grouped else "random",
    )
    trainer = transformers.Trainer(
        model=model,
        args=targs,
        train_dataset=dataset,
        data_collator=collator,
        callbacks=[Stop()],
        # group_by_length reads each item's length from its "input_features"
        processing_class=extractor if grouped else None,
    )
    trainer.train()
    return {
        **clock.rates(),
        "losses": counted["losses"],
        "padding": float(np.mean(counted["padding"])),
        "prep_seconds": prep_seconds,
    }


def pipeline_rates(utterances, vocab, pretrained: Path, n_batches: int = 20) -> dict:
    """Utterances per second of the data pipeline alone, one process, batches of 4: the Trainer's
    (read + per-item SeamlessM4T extractor + pad, in the collator) vs seqlab's (read + pad, then
    the batched fbank on the device: here the CPU). On a GPU the first runs in the loader workers
    and must keep up with the model; the second costs the GPU a few milliseconds."""
    import transformers

    from seqlab.audio.seamless_fbank import SeamlessFbank
    from seqlab.data.asr_dataset import ASRDataset
    from seqlab.data.collate import collate_asr

    extractor = transformers.SeamlessM4TFeatureExtractor.from_pretrained(pretrained)
    tokenizer = vocab.hf_tokenizer(pretrained / "tokenizer")
    theirs, ours = ExtractingCollator(extractor), SeamlessFbank()
    waves, dataset = _Waves(utterances, tokenizer, vocab), ASRDataset(utterances, vocab, 16000)
    batches = [list(range(i, i + BATCH)) for i in range(0, BATCH * n_batches, BATCH)]
    rates = {}
    for name in ("trainer_collator", "seqlab_fbank", "trainer_collator", "seqlab_fbank"):
        t = time.perf_counter()
        for batch in batches:
            if name == "trainer_collator":
                theirs([waves[i] for i in batch])
            else:
                items = collate_asr([dataset[i] for i in batch])
                ours(items["audio"], items["audio_lengths"])
        rates.setdefault(name, []).append(BATCH * len(batches) / (time.perf_counter() - t))
    return {name: max(r) for name, r in rates.items()}  # best of 2: the least disturbed pass


class _Waves(torch.utils.data.Dataset):
    """(waveform, label ids) per utterance, read and resampled as seqlab's dataset does."""

    def __init__(self, utterances, tokenizer, vocab, features=None):
        self.utts, self.tokenizer, self.vocab, self.features = (
            utterances,
            tokenizer,
            vocab,
            features,
        )

    def __len__(self):
        return len(self.utts)

    def __getitem__(self, i):
        from seqlab.audio.io import load_audio

        labels = self.tokenizer(self.vocab.normalize(self.utts[i].text)).input_ids
        if self.features is not None:
            return {"input_features": self.features[i], "labels": labels}
        return {"audio": load_audio(self.utts[i].audio_path, 16000), "labels": labels}


def _pad_labels(items) -> torch.Tensor:
    longest = max(len(it["labels"]) for it in items)
    labels = torch.full((len(items), longest), -100, dtype=torch.long)
    for row, it in enumerate(items):
        labels[row, : len(it["labels"])] = torch.tensor(it["labels"])
    return labels


class ExtractingCollator:
    """The report's dynamic-padding collator: features per item, padded to the longest."""

    def __init__(self, extractor):
        self.extractor = extractor

    def __call__(self, items):
        batch = self.extractor(
            [it["audio"] for it in items], sampling_rate=16000, return_tensors="pt"
        )
        return {**batch, "labels": _pad_labels(items)}


class PaddingCollator:
    """Precomputed features (dataset.map): only padding per batch (extractor.pad)."""

    def __init__(self, extractor):
        self.extractor = extractor

    def __call__(self, items):
        batch = self.extractor.pad(
            [{"input_features": it["input_features"]} for it in items],
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        return {**batch, "labels": _pad_labels(items)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=Path("data/synth_speech_ru"), help="corpus dir")
    p.add_argument("--hours", type=float, default=0.2, help="hours of training speech if built")
    p.add_argument("--steps", type=int, default=30, help="optimizer steps per run (x 8 items)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved runs of each side")
    p.add_argument("--workers", type=int, default=1, help="DataLoader workers, both sides")
    p.add_argument("--no-grouped", action="store_true", help="skip the group_by_length run")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from seqlab.config import compose_experiment
    from seqlab.corpora.synth_speech_lang import build_lang_corpus
    from seqlab.tasks.asr.hf import HFCTCTask

    if not (args.data / "corpus.json").is_file():
        print(f"building the built-in Russian corpus ({args.hours} h) in {args.data} ...")
        build_lang_corpus(args.data, language="ru", hours=args.hours, seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="seqlab-bench-finetune-"))
    pretrained = make_pretrained(tmp / "tiny-w2v-bert")
    overrides = seqlab_overrides(args.data, pretrained, tmp, "probe", args.steps, args.workers)
    probe = HFCTCTask(compose_experiment("asr_w2v2bert", overrides))
    utterances = probe.utterances("train", None)  # seqlab's index: the same good items for both
    device = (
        "CUDA fp16" if torch.cuda.is_available() else f"CPU fp32, {torch.get_num_threads()} threads"
    )
    print(
        f"{len(utterances)} training utterances ({sum(u.duration for u in utterances) / 60:.1f} min); "
        f"{args.steps} steps x {BATCH} x {ACCUM}; {args.workers} loader workers; {device}",
        flush=True,
    )
    pipe = pipeline_rates(utterances, probe.vocab, pretrained)
    print(
        f"data pipeline alone, batches of {BATCH}: Trainer collator (per-item extractor) "
        f"{pipe['trainer_collator']:.0f} utt/s, seqlab (read + batched fbank) "
        f"{pipe['seqlab_fbank']:.0f} utt/s: {pipe['seqlab_fbank'] / pipe['trainer_collator']:.2f}x",
        flush=True,
    )
    sides = ["seqlab", "trainer"] + ([] if args.no_grouped else ["trainer_grouped"])
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for rep in range(args.repeats):
        for side in sides if rep % 2 == 0 else sides[::-1]:  # interleaved, order alternating
            if side == "seqlab":
                r = run_seqlab(args, pretrained, tmp / "runs", f"rep{rep}")
            else:
                grouped = side == "trainer_grouped"
                r = run_trainer(
                    args, pretrained, tmp / f"{side}-{rep}", utterances, probe.vocab, grouped
                )
            results[side].append(r)
            print(
                f"  {side:<16} run {rep}: {r['samples_per_s']:7.2f} samples/s, "
                f"{r['samples_per_cpu_s']:6.2f} samples/CPU-s, "
                f"loss at step {args.steps}: {r['losses'][-1]:.4f}",
                flush=True,
            )
    median = {s: statistics.median(r["samples_per_s"] for r in runs) for s, runs in results.items()}
    cpu = {
        s: statistics.median(r["samples_per_cpu_s"] for r in runs) for s, runs in results.items()
    }
    audio = {s: statistics.median(r["audio_s_per_s"] for r in runs) for s, runs in results.items()}
    print(
        f"\n{'':<17}{'samples/s':>10}{'seqlab is':>10}{'samples/CPU-s':>14}{'seqlab is':>10}"
        f"{'audio s/s':>10}{'padding':>8}{f'loss@{args.steps}':>9}{'(per micro-batch)':>18}"
    )
    for side, runs in results.items():
        loss = statistics.median(r["losses"][-1] for r in runs)
        # transformers 5's Trainer sums the micro-batch losses of an accumulation window for this
        # model (docs/finetuning.md); seqlab logs their mean
        per_micro = loss / (ACCUM if side.startswith("trainer") else 1)
        pad = statistics.median(r["padding"] for r in runs)
        print(
            f"{side:<17}{median[side]:>10.2f}{median['seqlab'] / median[side]:>9.2f}x"
            f"{cpu[side]:>14.2f}{cpu['seqlab'] / cpu[side]:>9.2f}x"
            f"{audio[side]:>10.1f}{100 * pad:>7.1f}%{loss:>9.4f}{per_micro:>18.4f}"
        )
    if not args.no_grouped:
        prep = statistics.median(r["prep_seconds"] for r in results["trainer_grouped"])
        print(f"(trainer_grouped also spent {prep:.1f} s extracting features before training)")
    ratio = median["seqlab"] / median["trainer"]
    cpu_ratio = cpu["seqlab"] / cpu["trainer"]
    print(
        f"seqlab / Trainer with the report's arguments: {ratio:.2f}x samples per second "
        f"({cpu_ratio:.2f}x per CPU second)"
    )
    summary = {
        "median_samples_per_s": median,
        "median_samples_per_cpu_s": cpu,
        "median_audio_s_per_s": audio,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "pipeline_utterances_per_s": pipe,
        "runs": results,
        "args": vars(args),
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
