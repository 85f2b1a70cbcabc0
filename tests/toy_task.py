"""A tiny regression task for testing the engine: y = tanh(x W) + noise, fitted by an MLP with
dropout. Seconds to train on a CPU; exercises every part of the task contract, including
several optimizers (``gan: true``) and non-finite losses (``nan_at_steps``).

It is the tests' own code, not seqlab's: configs name it ``toy_task.ToyRegressionTask`` (tests/
is on pytest's path; :func:`child_env` puts it on a child process's), and loading a checkpoint
of it accepts that name only where a test trusts it (``trust_targets``, ``--trust-target``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import nn

from seqlab.engine.task import DataSpec, Task


class ToyBatchSampler:
    """Batches of indices with the engine's sampler API (set_epoch, set_start_batch, rank shards).

    Args:
        n_items: dataset size.
        batch_size: items per batch, or a list of sizes used in turn (e.g. [3, 5]).
        shuffle: shuffle items each epoch with a generator seeded by (seed, epoch).
        seed: shuffling seed.
        rank, world_size: this process takes batches rank, rank + world_size, ...; every rank
            gets the same number (the remainder batches are dropped).
    """

    def __init__(
        self, n_items: int, batch_size, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1
    ):
        self.n_items, self.shuffle, self.seed = n_items, shuffle, seed
        self.sizes = (
            list(batch_size) if isinstance(batch_size, (list, tuple)) else [int(batch_size)]
        )
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_start_batch(self, start_batch: int) -> None:
        """Skip the first ``start_batch`` batches of this rank in the following iterations."""
        self.start_batch = start_batch

    def _all_batches(self) -> list[list[int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
            order = torch.randperm(self.n_items, generator=generator).tolist()
        else:
            order = list(range(self.n_items))
        batches, start, i = [], 0, 0
        while start < self.n_items:
            size = self.sizes[i % len(self.sizes)]
            batches.append(order[start : start + size])
            start, i = start + size, i + 1
        per_rank = len(batches) // self.world_size
        return batches[self.rank :: self.world_size][:per_rank]

    def __len__(self) -> int:
        return len(self._all_batches())

    def __iter__(self):
        yield from self._all_batches()[self.start_batch :]


class ToyDataset(torch.utils.data.Dataset):
    """``n_items`` pairs (x: (dim,), y: (1,)) made from ``seed``; ``offset`` picks another slice."""

    def __init__(self, n_items: int, dim: int, seed: int, noise: float, offset: int = 0):
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(dim, 1, generator=generator)
        x = torch.randn(offset + n_items, dim, generator=generator)[offset:]  # (N, dim)
        self.x = x
        self.y = torch.tanh(x @ weight) + noise * torch.randn(
            n_items, 1, generator=generator
        )  # (N, 1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return {"id": index, "x": self.x[index], "y": self.y[index]}


def collate(items: list[dict]) -> dict:
    return {
        "ids": [item["id"] for item in items],
        "x": torch.stack([item["x"] for item in items]),  # (B, dim)
        "y": torch.stack([item["y"] for item in items]),  # (B, 1)
    }


class ToyRegressionTask(Task):
    """Regression with an MLP. Options (``cfg.task``): ``nan_at_steps`` (training_step calls,
    counted from 1 in this process, whose loss is NaN), ``nan_always``, ``gan`` (adds a
    discriminator with its own optimizer; ``training_step`` then yields two steps).
    Reads ``cfg.data`` (n_items, n_val_items, dim, seed, noise, batch_size, shuffle) and
    ``cfg.model`` (hidden, dropout). ``sleep_s`` slows every training step down (kill tests)."""

    def __init__(
        self,
        cfg: DictConfig,
        nan_at_steps=(),
        nan_always: bool = False,
        gan: bool = False,
        sleep_s: float = 0.0,
    ):
        self.cfg, self.gan, self.sleep_s = cfg, gan, sleep_s
        self.nan_at_steps, self.nan_always = set(nan_at_steps or ()), nan_always
        self.calls = 0
        dim, hidden = int(cfg.data.dim), int(cfg.model.hidden)
        regressor = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.Tanh(),
            nn.Dropout(float(cfg.model.dropout)),
            nn.Linear(hidden, 1),
        )
        if gan:
            self.generator = regressor
            self.discriminator = nn.Sequential(
                nn.Linear(dim + 1, hidden), nn.Tanh(), nn.Linear(hidden, 1)
            )
        else:
            self.model = regressor

    def models(self) -> dict[str, nn.Module]:
        if self.gan:
            return {"generator": self.generator, "discriminator": self.discriminator}
        return {"model": self.model}

    def optimizer_params(self, name: str):
        modules = {"main": "model", "generator": "generator", "discriminator": "discriminator"}
        return getattr(self, modules[name]).parameters()

    def _data(
        self, n_items: int, offset: int, rank: int, world_size: int, shuffle: bool
    ) -> DataSpec:
        data = self.cfg.data
        dataset = ToyDataset(n_items, int(data.dim), int(data.seed), float(data.noise), offset)
        batch_size = (
            list(data.batch_size) if isinstance(data.batch_size, ListConfig) else data.batch_size
        )
        sampler = ToyBatchSampler(n_items, batch_size, shuffle, int(data.seed), rank, world_size)
        return DataSpec(dataset, sampler, collate)

    def train_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        return self._data(
            int(self.cfg.data.n_items), 0, rank, world_size, bool(self.cfg.data.shuffle)
        )

    def val_data(self, rank: int, world_size: int, run_dir: Path) -> DataSpec:
        n_items = int(self.cfg.data.n_val_items)
        return self._data(n_items, int(self.cfg.data.n_items), rank, world_size, False)

    def _poison(self, loss: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.nan_always or self.calls in self.nan_at_steps:
            return loss * float("nan")
        return loss

    def training_step(self, batch: dict):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.gan:
            return self._gan_step(batch)
        prediction = self.model(batch["x"])  # (B, 1)
        loss = self._poison(nn.functional.mse_loss(prediction, batch["y"]))
        return {
            "loss": loss,
            "n_units": len(batch["ids"]),
            "abs_error": (prediction - batch["y"]).abs().mean(),
        }

    def _gan_step(self, batch: dict):
        x, y = batch["x"], batch["y"]
        fake = self.generator(x)  # (B, 1)
        real_score = self.discriminator(torch.cat([x, y], dim=1))
        fake_score = self.discriminator(torch.cat([x, fake.detach()], dim=1))
        bce = nn.functional.binary_cross_entropy_with_logits
        d_loss = bce(real_score, torch.ones_like(real_score)) + bce(
            fake_score, torch.zeros_like(fake_score)
        )
        yield "discriminator", {"loss": self._poison(d_loss)}
        # Scored by the discriminator just updated.
        adversarial = bce(
            self.discriminator(torch.cat([x, fake], dim=1)), torch.ones_like(fake_score)
        )
        g_loss = nn.functional.mse_loss(fake, y) + 0.1 * adversarial
        yield "generator", {"loss": g_loss, "mse": nn.functional.mse_loss(fake, y)}

    def validation_step(self, batch: dict) -> dict:
        model = self.generator if self.gan else self.model
        prediction = model(batch["x"])  # (B, 1)
        squared = ((prediction - batch["y"]) ** 2).sum()
        return {
            "squared_error": squared,
            "n": len(batch["ids"]),
            "predictions": prediction[:, 0].tolist(),
        }

    def validation_end(self, outputs: list[dict]) -> dict[str, float]:
        total = sum(float(o["squared_error"]) for o in outputs)
        count = sum(o["n"] for o in outputs)
        return {"mse": total / count, "loss": total / count}

    def examples(self, outputs: list[dict]) -> dict:
        rows = [
            {"item": i, "prediction": round(p, 4)}
            for i, p in enumerate(outputs[0]["predictions"][:4])
        ]
        return {"text": {"predictions": rows}}

    def save_artifacts(self, directory: Path) -> None:
        (Path(directory) / "toy.txt").write_text("toy task artifact\n")


def default_config(**trainer) -> DictConfig:
    """A complete engine config for the toy task; ``trainer`` keys override the defaults."""
    cfg = {
        "seed": 0,
        "experiment_name": "toy",
        "task": {
            "_target_": "toy_task.ToyRegressionTask",
            "nan_at_steps": [],
            "nan_always": False,
            "gan": False,
            "sleep_s": 0.0,
        },
        "data": {
            "n_items": 48,
            "n_val_items": 16,
            "dim": 4,
            "seed": 1,
            "noise": 0.1,
            "batch_size": 8,
            "shuffle": True,
        },
        "model": {"hidden": 16, "dropout": 0.1},
        "optimizer": {"_target_": "torch.optim.AdamW", "lr": 0.01, "clip_grad_norm": None},
        "lr_scheduler": None,
        "writer": {"tensorboard": False, "wandb": False, "mlflow": False},
        "trainer": {
            "n_epochs": 2,
            "max_steps": None,
            "grad_accum_steps": 1,
            "precision": "fp32",
            "device": "cpu",
            "val_every_n_steps": None,
            "val_every_n_epochs": 1,
            "val_at_start": False,
            "monitor": "min val_mse",
            "early_stop_patience": None,
            "save_every_n_steps": None,
            "save_every_n_epochs": 1,
            "keep_last": 2,
            "resume_from": None,
            "deterministic": False,
            "max_nonfinite_in_a_row": 5,
            "log_every_n_steps": 1,
            "num_workers": 0,
            "progress": "none",
            "runs_root": "runs",
            "run_name": None,
        },
    }
    config = OmegaConf.create(cfg)
    return OmegaConf.merge(config, {"trainer": trainer})


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` for a child process (torchrun, ``python -m seqlab.cli``) that builds this
    task from a config: tests/ prepended to its PYTHONPATH, so ``toy_task`` imports there too."""
    paths = [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **extra}
