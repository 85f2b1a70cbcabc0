"""Where metrics go: metrics.jsonl (always), TensorBoard (default), Weights & Biases, MLflow.

Every writer has the same four methods, ``log_scalars(step, scalars, split)``, ``log_text(step,
name, rows)``, ``log_audio(step, name, wave, sample_rate)`` and ``close()``. Only rank 0 writes
(the trainer gives other ranks an empty :class:`Writers`). ``metrics.jsonl`` is the source of
truth for reports: one JSON object per line, flushed at once, so a killed run loses nothing.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np


def _plain(value):
    """A JSON-friendly float/int/str from a python number, numpy scalar or 0-dim tensor."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; "nan"/"inf" stay readable
    return value


# Audio examples kept on disk: the first validation step's and the latest ones', so that a run
# shows where it started and where it is without growing by a few files per validation.
KEEP_FIRST_AUDIO_STEPS = 1
KEEP_LAST_AUDIO_STEPS = 2


def _file_name(name: str) -> str:
    """``val/84-121123-0000`` -> ``val_84-121123-0000``: a name safe as one path component."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return safe or "audio"


class JsonlWriter:
    """Appends one JSON object per line to ``run_dir/metrics.jsonl``; keeps examples on disk.

    Scalar lines: ``{"step", "epoch", "split", "time", <scalars>}``; events (resume, end):
    ``{"event": name, "time", ...}``. A resumed run appends; readers use :func:`read_metrics`.
    Text examples (prediction tables) go to ``examples.jsonl`` as ``{"step", "name", "rows"}``;
    audio examples to ``examples/step-<N>/<name>.wav`` (16-bit PCM), for the first validation
    step and the latest two only. Reports read them with :func:`read_examples`.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "metrics.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the run)
        self._examples = None  # examples.jsonl, opened on the first table

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()  # a killed run keeps every line written before the kill

    def log_scalars(self, step: int, scalars: dict, split: str) -> None:
        record = {"step": step, "epoch": _plain(scalars.get("epoch")), "split": split}
        record["time"] = time.time()
        record.update({k: _plain(v) for k, v in scalars.items() if k != "epoch"})
        self._write(record)

    def log_event(self, event: str, **fields) -> None:
        self._write({"event": event, "time": time.time(), **fields})
        if event == "resume":  # examples of the abandoned branch (steps after the resume) go
            self._write_example({"event": "resume", "step": fields.get("step")})
            for folder in self._audio_steps():
                if _step_of(folder) > int(fields.get("step") or 0):
                    shutil.rmtree(folder, ignore_errors=True)

    def _write_example(self, record: dict) -> None:
        if self._examples is None:
            path = self.run_dir / "examples.jsonl"
            self._examples = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        self._examples.write(json.dumps(record, default=_plain) + "\n")
        self._examples.flush()

    def log_text(self, step: int, name: str, rows: list[dict]) -> None:
        rows = [{k: _plain(v) for k, v in row.items()} for row in rows]
        self._write_example({"step": step, "name": name, "time": time.time(), "rows": rows})

    def _audio_steps(self) -> list[Path]:
        folder = self.run_dir / "examples"
        steps = [p for p in folder.glob("step-*") if p.is_dir()] if folder.is_dir() else []
        return sorted(steps, key=_step_of)

    def log_audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
        import soundfile as sf

        folder = self.run_dir / "examples" / f"step-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        wave = np.clip(np.asarray(wave, dtype=np.float32).reshape(-1), -1.0, 1.0)
        tmp = folder / f".{_file_name(name)}.tmp.wav"
        sf.write(tmp, wave, int(sample_rate), subtype="PCM_16")
        tmp.replace(folder / f"{_file_name(name)}.wav")  # a killed run leaves no half file
        steps = self._audio_steps()
        for old in steps[
            KEEP_FIRST_AUDIO_STEPS : max(KEEP_FIRST_AUDIO_STEPS, len(steps) - KEEP_LAST_AUDIO_STEPS)
        ]:
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        self._file.close()
        if self._examples is not None:
            self._examples.close()


def _step_of(folder: Path) -> int:
    """``.../step-120`` -> 120."""
    try:
        return int(folder.name.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1


class TensorBoardWriter:
    """Scalars, markdown text tables and audio into ``run_dir/tb`` (``tensorboard --logdir``)."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))

    def log_scalars(self, step: int, scalars: dict, split: str) -> None:
        for key, value in scalars.items():
            self._writer.add_scalar(f"{split}/{key}", float(_plain(value)), step)
        self._writer.flush()

    def log_text(self, step: int, name: str, rows: list[dict]) -> None:
        self._writer.add_text(name, markdown_table(rows), step)

    def log_audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
        import torch

        wave = torch.as_tensor(np.asarray(wave, dtype=np.float32)).clamp(-1, 1).reshape(1, -1)
        self._writer.add_audio(name, wave, step, sample_rate=sample_rate)

    def close(self) -> None:
        self._writer.close()


class WandbWriter:
    """Weights & Biases; offline (files in ``run_dir/wandb``) unless ``WANDB_API_KEY`` is set."""

    def __init__(self, run_dir: Path, project: str, name: str, config: dict | None = None):
        try:
            import wandb
        except ImportError as error:
            raise ImportError(
                "writer.wandb=true needs the wandb package: pip install 'seqlab[wandb]' "
                "(or set writer.wandb=false)"
            ) from error
        self._wandb = wandb
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        self._run = wandb.init(
            project=project, name=name, dir=str(run_dir), config=config, mode=mode, resume="allow"
        )

    def log_scalars(self, step: int, scalars: dict, split: str) -> None:
        self._run.log({f"{split}/{k}": _plain(v) for k, v in scalars.items()}, step=step)

    def log_text(self, step: int, name: str, rows: list[dict]) -> None:
        if rows:
            columns = list(rows[0])
            table = self._wandb.Table(
                columns=columns, data=[[r.get(c) for c in columns] for r in rows]
            )
            self._run.log({name: table}, step=step)

    def log_audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
        self._run.log(
            {name: self._wandb.Audio(np.asarray(wave), sample_rate=sample_rate)}, step=step
        )

    def close(self) -> None:
        self._run.finish()


# Database stores need SQLAlchemy, which the full ``mlflow`` package brings and mlflow-skinny
# (the [mlflow] extra) does not.
MLFLOW_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def mlflow_tracking_uri(run_dir: Path, configured: str | None = None) -> str:
    """The MLflow store of a run: ``writer.mlflow_tracking_uri``, else ``$MLFLOW_TRACKING_URI``,
    else a file store in ``run_dir/mlruns``."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    return str(uri) if uri else (Path(run_dir) / "mlruns").resolve().as_uri()


class MlflowWriter:
    """MLflow tracking into :func:`mlflow_tracking_uri`'s store.

    The default file store needs no server and no database; MLflow 3 reads it (``MlflowClient``,
    ``mlflow ui --backend-store-uri RUN/mlruns``) with ``MLFLOW_ALLOW_FILE_STORE=true``. A resumed
    run continues the same MLflow run: its id is kept in ``run_dir/mlflow_run_id``.
    """

    def __init__(self, run_dir: Path, experiment: str, name: str, tracking_uri: str | None = None):
        import mlflow  # present: check_writers ran before the run directory was made

        self._mlflow = mlflow
        uri = mlflow_tracking_uri(run_dir, tracking_uri)
        if uri.startswith("file:") or "://" not in uri and not uri.startswith("databricks"):
            # MLflow 3 keeps its file store in maintenance mode and refuses it unless this is set;
            # it is the one local store that mlflow-skinny can write.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
        id_file = Path(run_dir) / "mlflow_run_id"
        run_id = id_file.read_text().strip() if id_file.is_file() else None
        if run_id:
            try:
                mlflow.tracking.MlflowClient().get_run(run_id)
            except mlflow.exceptions.MlflowException:
                run_id = None  # not in this store (the URI changed): a new MLflow run
        self._run = mlflow.start_run(run_id=run_id, run_name=None if run_id else name)
        id_file.write_text(self._run.info.run_id + "\n")

    def log_scalars(self, step: int, scalars: dict, split: str) -> None:
        metrics = {f"{split}/{k}".replace("/", "_"): float(_plain(v)) for k, v in scalars.items()}
        self._mlflow.log_metrics(metrics, step=step)

    def log_text(self, step: int, name: str, rows: list[dict]) -> None:
        self._mlflow.log_text(markdown_table(rows), f"{name}/step-{step}.md")

    def log_audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
        pass  # MLflow has no audio panel; the TensorBoard writer keeps audio examples

    def close(self) -> None:
        self._mlflow.end_run()


class Writers:
    """Fans every call out to a list of writers (empty on ranks other than 0)."""

    def __init__(self, writers: list):
        self.writers = writers

    def log_scalars(self, step: int, scalars: dict, split: str) -> None:
        for writer in self.writers:
            writer.log_scalars(step, scalars, split)

    def log_event(self, event: str, **fields) -> None:
        for writer in self.writers:
            if hasattr(writer, "log_event"):
                writer.log_event(event, **fields)

    def log_text(self, step: int, name: str, rows: list[dict]) -> None:
        for writer in self.writers:
            writer.log_text(step, name, rows)

    def log_audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
        for writer in self.writers:
            writer.log_audio(step, name, wave, sample_rate)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def check_writers(writer_cfg) -> None:
    """Raise ConfigError, naming the fix, when a writer of ``cfg.writer`` cannot start here (its
    package is missing, or its store needs what is not installed). Called before the run
    directory is made, so a run that cannot log leaves nothing behind."""
    from seqlab.config import ConfigError

    writer_cfg = dict(writer_cfg or {})
    for key, package, extra in (("wandb", "wandb", "wandb"), ("mlflow", "mlflow", "mlflow")):
        if not writer_cfg.get(key, False):
            continue
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise ConfigError(
                f"writer.{key}=true needs the {package} package, which cannot be imported here "
                f"({error}): pip install 'seqlab[{extra}]', or set writer.{key}=false"
            ) from None
    uri = writer_cfg.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    scheme = str(uri).split(":", 1)[0].split("+", 1)[0] if uri else ""
    if writer_cfg.get("mlflow", False) and scheme in MLFLOW_DATABASE_SCHEMES:
        if importlib.util.find_spec("sqlalchemy") is None:
            raise ConfigError(
                f"writer.mlflow_tracking_uri={uri} is a database store, which needs the full "
                "mlflow package (pip install mlflow); mlflow-skinny (seqlab[mlflow]) writes to "
                "a tracking server (http://...) or, with writer.mlflow_tracking_uri=null, to a "
                "file store in the run directory"
            )


def build_writers(
    writer_cfg, run_dir: Path, experiment: str, run_name: str, config=None
) -> Writers:
    """Writers for rank 0 from ``cfg.writer``.

    Args:
        writer_cfg: mapping with ``tensorboard`` (default true), ``wandb`` / ``mlflow`` (default
            false), ``wandb_project`` (default "seqlab"), ``mlflow_tracking_uri`` (default
            ``$MLFLOW_TRACKING_URI``, else file:run_dir/mlruns). ``None`` means the defaults.
        run_dir: the run directory.
        experiment, run_name: names shown by wandb/MLflow.
        config: plain dict of the resolved config, given to wandb.
    """
    writer_cfg = dict(writer_cfg or {})
    writers: list = [JsonlWriter(run_dir)]
    if writer_cfg.get("tensorboard", True):
        writers.append(TensorBoardWriter(run_dir))
    if writer_cfg.get("wandb", False):
        project = writer_cfg.get("wandb_project") or "seqlab"
        writers.append(WandbWriter(run_dir, project, f"{experiment}/{run_name}", config))
    if writer_cfg.get("mlflow", False):
        uri = writer_cfg.get("mlflow_tracking_uri")
        writers.append(MlflowWriter(run_dir, experiment, run_name, uri))
    return Writers(writers)


def markdown_table(rows: list[dict]) -> str:
    """Rows of equal keys as a markdown table (TensorBoard renders markdown in its text tab).

    Cells are what a model wrote, so they are shown as text: HTML special characters become
    entities, and pipes and newlines cannot break the table."""
    if not rows:
        return "(no rows)"

    def cell(value) -> str:
        return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ")

    columns = list(rows[0])
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _read_lines(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; is {run_dir} a seqlab run directory?")
    records = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut by a kill mid-write; everything before it is intact
    return records


def read_metrics(run_dir: Path) -> list[dict]:
    """The scalar records of a run, with resumes applied.

    A resume from step k drops the records with step > k written before it (that branch of the
    run was abandoned); then the last write per (split, step) wins.

    Returns:
        list of dicts sorted by step, then by split (records keep their "split" and "step").
    """
    kept: dict[tuple[str, int], dict] = {}
    for record in _read_lines(run_dir):
        if record.get("event") == "resume":
            kept = {key: r for key, r in kept.items() if key[1] <= record["step"]}
        elif "event" not in record:
            kept[(record["split"], record["step"])] = record
    return [kept[key] for key in sorted(kept, key=lambda key: (key[1], key[0]))]


def read_examples(run_dir: Path) -> list[dict]:
    """The text examples of a run (``examples.jsonl``), resumes applied as in :func:`read_metrics`.

    Returns:
        ``[{"step", "name", "rows": [dict, ...]}, ...]`` sorted by step; [] when there are none.
    """
    path = Path(run_dir) / "examples.jsonl"
    if not path.is_file():
        return []
    kept: dict[tuple[str, int], dict] = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if record.get("event") == "resume":
                kept = {key: r for key, r in kept.items() if key[1] <= int(record["step"] or 0)}
            elif "rows" in record:
                kept[(record["name"], record["step"])] = record
    return [kept[key] for key in sorted(kept, key=lambda key: (key[1], key[0]))]


def read_audio_examples(run_dir: Path) -> dict[int, list[Path]]:
    """The audio examples kept on disk: ``{step: [wav paths sorted by name]}``, steps ascending."""
    folder = Path(run_dir) / "examples"
    if not folder.is_dir():
        return {}
    out = {}
    for step_dir in sorted(folder.glob("step-*"), key=_step_of):
        waves = sorted(p for p in step_dir.glob("*.wav") if not p.name.startswith("."))
        if waves:
            out[_step_of(step_dir)] = waves
    return out


def read_events(run_dir: Path) -> list[dict]:
    """The event records of a run (``{"event": "start"|"resume"|"end", ...}``) in the order written."""
    return [record for record in _read_lines(run_dir) if "event" in record]


def training_seconds(run_dir: Path) -> float:
    """Wall-clock seconds spent training: the sum of each segment from "start" to its "end"
    (or, for a segment that was killed, to its last record)."""
    total, start, last = 0.0, None, None
    for record in _read_lines(run_dir):
        if record.get("event") == "start":
            if start is not None and last is not None:
                total += last - start  # the previous segment was killed
            start = last = record["time"]
        elif start is not None and "time" in record:
            last = record["time"]
            if record.get("event") == "end":
                total += last - start
                start = None
    if start is not None and last is not None:
        total += last - start
    return total
