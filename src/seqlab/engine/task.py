"""What the engine needs from a task: the ``Task`` base (training), the ``DataSpec`` of a split,
and :class:`EvaluableTask`, the base every shipped task inherits (evaluation and inference).

A task (``seqlab/tasks/*.py``) builds its model(s) and data from the config and says how a
batch becomes losses, predictions and metrics; the engine owns everything else (devices,
precision, accumulation, optimizers, validation schedule, checkpoints, logging). The caller
builds it with ``hydra.utils.instantiate(cfg.task, cfg=cfg, _recursive_=False)``.

Convention for several processes (DDP): each name in ``models()`` is also the attribute that
holds the module (``{"model": self.model}``). The engine replaces that attribute with the
prepared (DDP-wrapped) module, so ``self.model(x)`` in ``training_step`` syncs gradients. To
reach the raw module's own methods or attributes under DDP, use
``accelerate.utils.extract_model_from_parallel(self.model)``. Hooks with do-nothing defaults:
``on_epoch_start(epoch)``, ``examples(outputs) -> {"text": {name: rows}, "audio": {name: (wave,
sr)}}`` for the writers and ``save_artifacts(directory)`` for extra files a checkpoint needs (e.g.
a vocabulary).

After training, ``seqlab eval`` / ``transcribe`` / ``translate`` / ``vocode`` / ``tune-decoder`` /
``export`` and ``seqlab.load`` use a task only through :class:`EvaluableTask`'s declared methods:
how it is rebuilt from a checkpoint (``__init__(cfg, checkpoint_dir)``), what it is (``kind``),
its inference object (``for_inference``), its evaluation data, the decoder configurations it
compares and how it switches between them, and what it adds to eval.json. Nothing probes a task
for optional methods or writes its attributes from outside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import nn

from seqlab.runtime import RUNTIMES


@dataclass
class DataSpec:
    """One split's data as the engine loads it.

    Attributes:
        dataset: map-style dataset; ``dataset[i]`` is one item.
        batch_sampler: yields lists of indices for THIS rank; has ``set_epoch(int)``,
            ``set_start_batch(int)`` (skip that many batches of the epoch: exact mid-epoch
            resume) and ``__len__`` (batches per epoch on this rank, equal on every rank).
        collate_fn: list of items -> batch dict (tensors + plain lists).
        num_workers: None: the caller's number of loader processes. Set for an iterable
            dataset that yields whole batches (lists of items, streamed from shards): it is then
            also the ``batch_sampler`` and was planned for exactly this many workers.
    """

    dataset: torch.utils.data.Dataset
    batch_sampler: Any
    collate_fn: Callable
    num_workers: int | None = None

    def loader(self, num_workers: int, **kwargs) -> torch.utils.data.DataLoader:
        """The DataLoader of this split: ``num_workers`` processes unless the data fixes its
        own; ``kwargs`` (generator, worker_init_fn, ...) go to the DataLoader."""
        workers = num_workers if self.num_workers is None else self.num_workers
        if isinstance(self.dataset, torch.utils.data.IterableDataset):
            # the stream yields whole batches: collate_fn turns each list of items into a batch
            return torch.utils.data.DataLoader(
                self.dataset, batch_size=None, collate_fn=self.collate_fn, num_workers=workers,
                **kwargs,
            )  # fmt: skip
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.batch_sampler, collate_fn=self.collate_fn,
            num_workers=workers, **kwargs,
        )  # fmt: skip


class Task(ABC):
    """The training contract: the glue between a batch and the engine (see module docstring).

    Every task inherits it (the shipped ones through :class:`EvaluableTask`): the seven abstract
    methods are what the engine calls; the three hooks have do-nothing defaults, so the engine
    calls them on every task instead of probing for them. A task missing an abstract method
    fails when it is built, naming the method.
    """

    cfg: DictConfig

    @abstractmethod
    def models(self) -> dict[str, nn.Module]:
        """Named modules built in ``__init__``, e.g. ``{"model": m}``; saved as <name>.safetensors."""

    @abstractmethod
    def optimizer_params(self, name: str) -> Iterable:
        """Parameters (or param groups) for the optimizer called ``name`` ("main" by default)."""

    @abstractmethod
    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Training data sharded for ``rank`` of ``world_size``; bad items go to run_dir."""

    @abstractmethod
    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        """Validation data sharded for ``rank`` of ``world_size``."""

    @abstractmethod
    def training_step(self, batch: dict) -> dict | Iterator[tuple[str, dict]]:
        """One micro-batch. Returns ``{"loss": 0-dim tensor (mean over this micro-batch's
        units), "n_units": weight of this micro-batch (e.g. target tokens; default 1),
        other scalars to log}``; GAN-style tasks yield ``(optimizer_name, {"loss": ...})`` and
        the engine steps that optimizer before asking for the next item."""

    @abstractmethod
    def validation_step(self, batch: dict) -> dict:
        """Scalars and picklable predictions of one validation batch (gathered from all ranks);
        also what ``seqlab eval`` runs on every batch of its split."""

    @abstractmethod
    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        """Corpus metrics from all validation outputs, e.g. ``{"wer": 0.31, "loss": 1.2}``; also
        ``seqlab eval``'s corpus metrics."""

    # ---- hooks with defaults --------------------------------------------------------------------
    def on_epoch_start(self, epoch: int) -> None:
        """Called before each training epoch (e.g. to reshuffle what the sampler cannot)."""
        return None

    def examples(self, outputs: list[dict]) -> dict:
        """What the writers show after a validation: ``{"text": {name: rows}, "audio": {name:
        (wave, sample_rate)}}`` from that validation's outputs. Default: nothing."""
        return {}

    def save_artifacts(self, directory: Path) -> None:
        """Write the extra files a checkpoint needs to be rebuilt (vocabularies, tokenizers,
        model configs) into ``directory``. Default: none."""
        return None


@dataclass(frozen=True)
class DecodingOption:
    """One decoder configuration that ``seqlab eval`` scores side by side with the others.

    Attributes:
        name: short name for the table, e.g. ``beam10+lm.arpa(a=0.5,b=1.0)``.
        config: the configuration as plain data (saved in eval.json; the task rebuilds its
            decoder from it).
        scores: the ``validation_end`` metrics its row of eval.json's ``decoders`` reports.
    """

    name: str
    config: dict
    scores: tuple[str, ...] = ()


class EvaluableTask(Task):
    """The evaluation and inference protocol; every shipped task inherits it (and through it the
    training methods and hooks of :class:`Task`).

    Subclasses set ``kind`` and implement the abstract methods; the others have defaults that fit a
    task with one way to decode and nothing left out of its data.

    Args:
        cfg: the resolved experiment config.
        checkpoint_dir: the checkpoint the task is rebuilt from (for inference and evaluation):
            its vocabularies, tokenizers and model configs are read from there instead of built
            (the weights are loaded afterwards by the caller). None when training from scratch.
    """

    #: what the task is: "asr", "mt", "lm" or "vocoder". Commands check it (``seqlab transcribe``
    #: takes an "asr" checkpoint) and name it when refusing a checkpoint of another kind.
    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.kind, str) or not cls.kind:
            raise TypeError(f"{cls.__qualname__} must set the class attribute kind (e.g. 'asr')")

    #: the inference runtimes :meth:`for_inference` takes (a subset of :data:`RUNTIMES`).
    runtimes: ClassVar[tuple[str, ...]] = ("torch",)

    def __init__(self, cfg: DictConfig, checkpoint_dir: str | Path | None = None):
        self.cfg = cfg
        #: where the task was rebuilt from (a checkpoint, or an export written by ``seqlab
        #: export``); None when training from scratch. The non-torch runtimes find their graph here.
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None

    # ---- inference and evaluation ------------------------------------------------------------
    @abstractmethod
    def for_inference(self, device: str | torch.device = "cpu", runtime: str = "torch") -> Any:
        """The object ``seqlab.load`` returns: a recognizer (``transcribe``), a translator
        (``translate``), a vocoder (``vocode``), a language model (``score``...).

        Args:
            device: where to run the model.
            runtime: what runs it: ``"torch"`` (eager PyTorch on the checkpoint's weights),
                ``"onnx"`` (ONNX Runtime on the graph ``seqlab export --onnx`` wrote) or ``"ct2"``
                (CTranslate2 on the model ``seqlab export --ctranslate2`` wrote). A task takes
                the ones in :attr:`runtimes` and raises a one-line ``ValueError`` naming them
                for another (:meth:`check_runtime`).
        """

    def check_runtime(self, runtime: str) -> None:
        """Raise a one-line ``ValueError`` unless ``runtime`` is one of :attr:`runtimes`."""
        if runtime not in self.runtimes:
            known = "" if runtime in RUNTIMES else f" (the runtimes are {', '.join(RUNTIMES)})"
            raise ValueError(
                f"{type(self).__qualname__} ({self.kind}) runs with runtime "
                f"{' or '.join(repr(r) for r in self.runtimes)}, not {runtime!r}{known}"
            )

    @abstractmethod
    def test_data(self, rank: int, world_size: int, run_dir: Path, split: str = "test") -> DataSpec:
        """Batches of ``data.<split>`` in a fixed order for ``seqlab eval`` (items left out are
        listed in ``run_dir/bad_items.jsonl`` and returned by :meth:`left_out` afterwards)."""

    def decoding_options(self) -> list[DecodingOption]:
        """The decoder configurations ``seqlab eval`` compares side by side, cheapest first (the
        forward pass decodes with the first; :meth:`redecode` does the others). ``[]``: the task
        decodes one way, set by ``use_decoding(None)``."""
        return []

    def use_decoding(self, option: DecodingOption | None = None, redecodable: bool = False) -> None:
        """Decode with ``option`` from now on (in ``validation_step`` and inference).

        Args:
            option: one of :meth:`decoding_options`, or None for the task's evaluation decoding
                (e.g. translation: the ``generation`` settings, beam search, instead of greedy).
            redecodable: ``validation_step`` outputs also keep what :meth:`redecode` needs
                (e.g. CTC log-probs), so that one forward pass is decoded every way.
        """
        return None  # the default task decodes one way: nothing to switch

    def redecode(self, outputs: list[dict], option: DecodingOption) -> list[dict]:
        """``outputs`` of ``validation_step`` (made after ``use_decoding(..., redecodable=True)``)
        with their predictions decoded again with ``option``. Needed when
        :meth:`decoding_options` is not empty."""
        raise NotImplementedError(
            f"{type(self).__qualname__} lists decoding options but does not implement redecode"
        )

    def left_out(self, split: str) -> list[dict]:
        """Items of ``split`` the data layer left out when it was read: ``{"id", "reason",
        "reference" (None: nothing to score), ...}``. Default: none."""
        return []

    def left_out_output(self, items: list[dict]) -> dict:
        """A ``validation_step``-like output scoring left-out ``items`` (with a reference) as empty
        predictions, so they count as errors. Needed when :meth:`left_out` returns any."""
        raise NotImplementedError(
            f"{type(self).__qualname__} leaves items out but does not implement left_out_output"
        )

    def eval_info(self) -> dict:
        """What eval.json records besides the metrics (decoding settings, metric signatures)."""
        return {}

    def eval_rows(self, outputs: list[dict]) -> list[dict]:
        """Per-item rows of eval.json (id, reference, hypothesis, item scores). Default: none."""
        return []

    def export_formats(self) -> tuple[str, ...]:
        """The formats ``seqlab export`` writes this task's checkpoint in (``"hf"``, ``"hifigan"``)."""
        return ()

    def export(self, fmt: str, path: str | Path) -> Path:
        """Write the checkpoint in format ``fmt`` (one of :meth:`export_formats`) at ``path``."""
        raise ValueError(
            f"a {self.kind} checkpoint of {type(self).__qualname__} cannot be exported as {fmt!r}"
        )


def give_prepared_models(task, models: dict[str, nn.Module], prepared: list[nn.Module]) -> dict:
    """Swap Accelerate's prepared modules into the task (see module docstring).

    On one process ``prepare`` returns the same objects and nothing changes; under DDP the
    wrapper must be what the task calls, or gradients would not be synced.

    Returns:
        name -> prepared module.
    """
    prepared_models = dict(zip(models, prepared, strict=True))
    for name, wrapped in prepared_models.items():
        if wrapped is models[name]:
            continue
        if getattr(task, name, None) is not models[name]:
            raise AttributeError(
                f"task.models() has a model '{name}' but task.{name} is not that module; the "
                f"engine swaps the DDP-wrapped module into task.{name}, so store it there"
            )
        setattr(task, name, wrapped)
    return prepared_models
