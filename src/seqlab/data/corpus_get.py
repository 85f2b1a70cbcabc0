"""``seqlab data get``: fetch a catalogue corpus into DIR, and ``data.download`` for the data configs.

:func:`get` runs the units of a corpus (see :mod:`seqlab.data.catalogue`) in a thread pool: each
downloads its archives (or takes them from ``--from DIR``), installs them through a ``.tmp-``
folder and leaves a marker; a re-run skips marked units. :func:`ensure_corpus` is what the data
loaders call: missing data is fetched when ``data.download`` is true, else the error prints the
exact ``seqlab data get`` command.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

from seqlab.data.catalogue import (
    LIBRISPEECH_SUBSETS,
    MULTI30K_SPLITS,
    Corpus,
    Unit,
    resolve,
)
from seqlab.data.download import DownloadError, check_disk_space, download, verify

STATE_DIR = ".seqlab-get"  # markers, downloads in progress and the lock, inside DIR
MIRROR_ENV = "SEQLAB_DATA_MIRROR"  # a mirror for every fetch (e.g. for data.download: true)


@contextmanager
def _locked(path: Path):
    """One ``seqlab data get`` per DIR at a time (DDP ranks with data.download: true)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _marker(directory: Path, corpus: Corpus, unit: Unit) -> Path:
    return directory / STATE_DIR / f"{corpus.name}.{unit.name}.done"


def _select_units(
    corpus: Corpus, subsets: list[str] | None, from_dir: Path | None
) -> tuple[list[Unit], list[str]]:
    by_name = {u.name: u for u in corpus.units}
    if subsets:
        unknown = [s for s in subsets if s not in by_name]
        if unknown:
            raise DownloadError(
                f"{corpus.name} has no subset {', '.join(map(repr, unknown))}; "
                f"--subsets takes: {', '.join(by_name)}"
            )
        units = [by_name[s] for s in dict.fromkeys(subsets)]
    elif corpus.default_units:
        units = [by_name[n] for n in corpus.default_units]
    else:
        units = list(corpus.units)
    notes: list[str] = []
    if from_dir is not None:
        absent = {
            u.name: [a.name for a in u.archives if not (from_dir / a.name).is_file()] for u in units
        }
        absent = {k: v for k, v in absent.items() if v}
        if absent and subsets:
            files = ", ".join(f for names in absent.values() for f in names)
            raise DownloadError(
                f"--from {from_dir} lacks {files}; put the files there under their upstream "
                "names, or drop --from to download them"
            )
        for name, files in absent.items():  # no explicit --subsets: take what is there
            notes.append(f"{name} skipped: {', '.join(files)} not in {from_dir}")
        units = [u for u in units if u.name not in absent]
        if not units:
            raise DownloadError(
                f"--from {from_dir} holds none of {corpus.name}'s files "
                f"(looked for {', '.join(a.name for u in corpus.units for a in u.archives)})"
            )
    return units, notes


def _fetch_unit(
    corpus: Corpus,
    unit: Unit,
    directory: Path,
    from_dir: Path | None,
    mirror: str | None,
    retries: int,
    backoff: float,
    progress: bool,
) -> None:
    paths, downloaded, checked = [], [], []
    for archive in unit.archives:
        if from_dir is not None:
            path = from_dir / archive.name
            checked.append(verify(path, archive))
        else:
            print(f"[get] fetching {archive.name}", flush=True)
            path = download(
                archive,
                directory / STATE_DIR / "downloads" / archive.name,
                mirror=mirror,
                retries=retries,
                backoff=backoff,
                progress=progress,
            )
            downloaded.append(path)  # download() verified it
            checked.append("sha256" if archive.sha256 else "md5" if archive.md5 else "size")
        paths.append(path)
    tmp = directory / f".tmp-{corpus.name}-{unit.name}"
    shutil.rmtree(tmp, ignore_errors=True)  # what a killed run left
    try:
        unit.install(paths, directory, tmp)
    except DownloadError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        for path in downloaded:
            path.unlink(missing_ok=True)
        fix = (
            "deleted the download: run the command again to fetch it afresh"
            if downloaded
            else f"replace the copy in {from_dir}"
        )
        raise DownloadError(f"{err}; nothing of {unit.name} was installed, {fix}") from None
    record = {
        "corpus": corpus.name,
        "unit": unit.name,
        "archives": [a.url for a in unit.archives],
        "checked": checked,
        "source": str(from_dir) if from_dir is not None else "download",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    marker = _marker(directory, corpus, unit)
    marker.with_suffix(".tmp").write_text(json.dumps(record, indent=1))
    marker.with_suffix(".tmp").replace(marker)
    for path in downloaded:  # the archive is unpacked and marked: its space goes back
        path.unlink(missing_ok=True)
    kinds = ", ".join(dict.fromkeys(c for c in checked if c != "unchecked"))
    how = f"{kinds} checked" if kinds else "no checksum or size published to check"
    print(f"[get] {unit.name}: installed ({how})", flush=True)


def get(
    name: str,
    directory: str | Path,
    subsets: list[str] | None = None,
    pair: str | None = None,
    openslr_id: int | None = None,
    mirror: str | None = None,
    from_dir: str | Path | None = None,
    jobs: int = 1,
    retries: int = 5,
    backoff: float = 1.0,
    progress: bool = True,
    refinish: bool = False,
) -> dict:
    """Fetch a catalogue corpus into ``directory`` in the layout its ``data=`` option reads.

    Args:
        name: a catalogue name (``seqlab data get --list``).
        directory: DIR; created if missing.
        subsets: units to fetch (LibriSpeech subsets, Multi30k splits, OpenSLR shards); None:
            the corpus's default (everything, or data=librispeech's three subsets).
        pair: Multi30k language pair, e.g. ``de-en``.
        openslr_id: OpenSLR set id (52, 53, 54).
        mirror: replaces every URL's scheme and host (default: ``$SEQLAB_DATA_MIRROR``).
        from_dir: take the archives from this folder (upstream file names) instead of the network.
        jobs: units fetched at the same time.
        retries, backoff: per file, attempts after the first and the first delay in seconds.
        progress: progress bars (only on a terminal).
        refinish: run the corpus's finish step (TSV splits, manifests) even if nothing is new.

    Returns:
        a summary: ``corpus``, ``dir``, ``root`` (where data.root points), ``fetched`` and
        ``already`` (unit names), ``notes``, ``finish`` (what the finish step returned), ``data``.

    Raises:
        DownloadError: naming each failed unit and what to do; finished units stay installed.
    """
    corpus = resolve(name, pair=pair, openslr_id=openslr_id)
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    directory = Path(directory)
    if from_dir is not None:
        from_dir = Path(from_dir)
        if not from_dir.is_dir():
            raise DownloadError(f"--from {from_dir} is not a folder")
    units, notes = _select_units(corpus, subsets, from_dir)
    for note in notes:
        print(f"[get] {note}")
    (directory / STATE_DIR).mkdir(parents=True, exist_ok=True)
    with _locked(directory / STATE_DIR / "lock"):
        todo = [u for u in units if not _marker(directory, corpus, u).exists()]
        already = [u.name for u in units if u not in todo]
        if already:
            print(f"[get] already installed: {', '.join(already)}")
        needed = sum(
            (0 if from_dir is not None else a.download_bytes)
            + (a.unpacked_bytes or a.download_bytes)
            for u in todo
            for a in u.archives
        )
        check_disk_space(directory, needed)
        errors = []
        with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
            futures = {
                pool.submit(
                    _fetch_unit,
                    corpus,
                    unit,
                    directory,
                    from_dir,
                    mirror,
                    retries,
                    backoff,
                    progress,
                ): unit
                for unit in todo
            }
            for future in as_completed(futures):
                try:
                    future.result()
                except DownloadError as err:
                    errors.append(f"{futures[future].name}: {err}")
        if errors:
            raise DownloadError(
                "\n".join(errors)
                + f"\n{len(todo) - len(errors)} of {len(todo)} part(s) finished and stay installed; "
                "run the same command again to fetch the rest"
            )
        finish = None
        finish_marker = directory / STATE_DIR / f"{corpus.name}.finish.done"
        if corpus.finish is not None and (todo or refinish or not finish_marker.exists()):
            finish = corpus.finish(directory)
            finish_marker.write_text(json.dumps({"result": finish}, default=str))
    root = directory / corpus.root if corpus.root else directory
    return {
        "corpus": corpus.name,
        "dir": str(directory),
        "root": str(root),
        "fetched": [u.name for u in todo],
        "already": already,
        "notes": notes,
        "finish": finish,
        "data": corpus.data_option.replace("DIR", str(directory)),
    }


def get_command(
    name: str,
    directory: str | Path,
    subsets: Iterable[str] | None = None,
    pair: str | None = None,
    openslr_id: int | None = None,
) -> str:
    """The ``seqlab data get`` command line that fetches these parts."""
    words = ["seqlab", "data", "get", name, shlex.quote(str(directory))]
    if openslr_id is not None:
        words += ["--id", str(openslr_id)]
    if pair:
        words += ["--pair", pair]
    if subsets:
        words += ["--subsets", ",".join(subsets)]
    return " ".join(words)


def _check_root_name(root: Path, name: str, what: str, kwargs: dict) -> None:
    """``seqlab data get`` unpacks into ``DIR/<name>``: a data.root named otherwise cannot be it."""
    if root.name != name:
        there = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise FileNotFoundError(
            f"{what} not found under data.root={root} (folders there: {there or 'none'}); "
            f"`seqlab data get` puts it in DIR/{name}: run "
            f"`{get_command(name.split('-')[0].lower(), root.parent, **kwargs)}` and set "
            f"data.root={root.parent / name}, or point data.root at the folder that holds it"
        )


def _missing(data_cfg, names: list[str]) -> tuple[str, Path, dict, str] | None:
    """What of a corpus config's data is missing: ``(what, DIR, get kwargs, corpus)`` or None."""
    corpus = str(data_cfg.get("corpus"))
    root = Path(str(data_cfg.root))
    if corpus == "librispeech":
        missing = [n for n in names if n in LIBRISPEECH_SUBSETS and not (root / n).is_dir()]
        if missing:
            what, kwargs = f"LibriSpeech subset(s) {', '.join(missing)}", {"subsets": missing}
            _check_root_name(root, "LibriSpeech", what, kwargs)
            return what, root.parent, kwargs, corpus
    elif corpus == "ljspeech":
        if not (root / "metadata.csv").is_file():
            _check_root_name(root, "LJSpeech-1.1", "LJSpeech 1.1 (metadata.csv)", {})
            return "LJSpeech 1.1", root.parent, {}, corpus
    elif corpus.startswith("openslr"):
        slr_id = int(corpus.partition("-")[2] or 54)
        tsvs = [n if n.endswith(".tsv") else f"{n}.tsv" for n in names]
        if any(not (root / n).is_file() for n in tsvs):
            return f"OpenSLR {slr_id} ({', '.join(tsvs)})", root, {"openslr_id": slr_id}, "openslr"
    elif corpus == "multi30k":
        src, tgt = str(data_cfg.src_lang), str(data_cfg.tgt_lang)
        missing = [
            n
            for n in names
            if n in MULTI30K_SPLITS
            and not all((root / f"{n}.{src}-{tgt}.{lang}").is_file() for lang in (src, tgt))
        ]
        if missing:
            kwargs = {"subsets": missing, "pair": f"{src}-{tgt}"}
            return f"Multi30k {src}-{tgt} split(s) {', '.join(missing)}", root, kwargs, corpus
    elif corpus == "fsdd":
        absent = [n for n in names if not (root / n).is_file()]
        if absent:
            return f"FSDD ({', '.join(absent)})", root, {}, corpus
    return None


def ensure_corpus(data_cfg, names: Iterable[str]) -> None:
    """Fetch what a catalogue corpus's data config lacks (``data.download: true``) or say how.

    Does nothing when the config names no catalogue corpus (``data.corpus`` null or absent),
    or when the files are there.

    Args:
        data_cfg: the ``data`` config block (keys ``corpus``, ``download``, ``root``, ...).
        names: the split entries about to be read (subset names, TSVs, manifests, prefixes).

    Raises:
        FileNotFoundError: data missing and ``data.download`` false; the message holds the
            ``seqlab data get`` command.
        DownloadError: the fetch failed.
    """
    if not data_cfg.get("corpus"):
        return
    found = _missing(data_cfg, [str(n) for n in names])
    if found is None:
        return
    what, directory, kwargs, corpus = found
    command = get_command(corpus, directory, **kwargs)
    if not data_cfg.get("download", False):
        raise FileNotFoundError(
            f"{what} not found under data.root={data_cfg.root}; fetch it with `{command}` "
            "(or set data.download=true to fetch missing data on first use)"
        )
    print(f"[data] {what} missing under {data_cfg.root}: fetching it ({command})", flush=True)
    get(corpus, directory, refinish=True, **kwargs)  # also rewrites deleted TSVs / manifests
