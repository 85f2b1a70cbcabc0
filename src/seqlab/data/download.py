"""Fetch and unpack corpus archives: resumable HTTP, checksums, retries, safe and atomic extraction.

Our own small downloader on the standard library (urllib, tarfile, zipfile) rather than lhotse's
recipes: see docs/decisions.md ("seqlab data get"). What this module guarantees:

- a download goes to ``<name>.part`` and resumes with an HTTP ``Range`` request after a dropped
  connection (a server that ignores ``Range`` restarts it from byte 0); failures are retried with
  exponential backoff; the finished file is checked against the catalogue's md5/sha256, or its size
  where the host publishes no checksum, before it is renamed to ``<name>``;
- extraction refuses members that would leave the target (absolute paths, ``..``, links pointing
  out, devices) with our own check and tarfile's ``filter="data"``, and unpacks into
  ``<dir>/.tmp-<unit>`` first, then renames into place: a killed extraction leaves a ``.tmp-``
  folder, never a half corpus under the final names.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import lzma
import os
import shutil
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20  # bytes per read and write
_USER_AGENT = "seqlab-data-get/1"
_merge_lock = threading.RLock()  # parallel units move folders into the same parent (recursive)


class DownloadError(RuntimeError):
    """A corpus file that could not be fetched, verified or unpacked; the message says what to do."""


class UnsafeArchiveError(DownloadError):
    """An archive member that would be written outside the target directory."""


@dataclass(frozen=True)
class Archive:
    """One file as its host serves it.

    Attributes:
        url: the upstream URL (``--mirror`` replaces its scheme and host).
        name: the file name on disk; ``--from DIR`` looks for ``DIR/<name>``.
        md5, sha256: the host's published checksum (hex), when there is one.
        size: the exact size in bytes, checked when there is no checksum (None: unknown; the
            server's Content-Length is checked instead).
        approx_bytes: the download size for the disk-space check and ``--list`` (default: size).
        unpacked_bytes: about how much the unpacked content takes (disk-space check).
    """

    url: str
    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    approx_bytes: int | None = None
    unpacked_bytes: int | None = None

    @property
    def download_bytes(self) -> int:
        """The download's size as far as it is known (0 when unknown)."""
        return self.size or self.approx_bytes or 0


def mirrored(url: str, mirror: str | None) -> str:
    """``url`` with its scheme and host replaced by ``mirror`` (which may carry a path prefix).

    ``mirrored("https://www.openslr.org/resources/12/dev-clean.tar.gz", "http://127.0.0.1:8000/m")``
    is ``"http://127.0.0.1:8000/m/resources/12/dev-clean.tar.gz"``.
    """
    if not mirror:
        return url
    parsed = urllib.parse.urlsplit(url)
    return mirror.rstrip("/") + parsed.path


def format_bytes(n: float) -> str:
    """``1.5 GB``-style size (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # not reached


def check_disk_space(directory: Path, needed: int) -> None:
    """Raise :class:`DownloadError` when ``directory``'s file system has less than ``needed`` bytes free."""
    probe = Path(directory).resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise DownloadError(
            f"{directory} needs about {format_bytes(needed)} free (download and unpacked data) but "
            f"its disk has {format_bytes(free)}; free some space or pick a DIR on a larger disk"
        )


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a file (read in 1 MiB chunks)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, archive: Archive, expected_size: int | None = None) -> str:
    """Check a file against the archive's checksum, else its size.

    Returns:
        what was checked: "sha256", "md5", "size", or "unchecked" (nothing known to check).

    Raises:
        DownloadError: naming the file, what was expected and what was found.
    """
    for algorithm in ("sha256", "md5"):
        want = getattr(archive, algorithm)
        if want:
            got = file_digest(path, algorithm)
            if got != want.lower():
                raise DownloadError(
                    f"{path}: {algorithm} is {got}, the host publishes {want} for {archive.name}"
                )
            return algorithm
    want_size = archive.size or expected_size
    if want_size is not None and path.stat().st_size != want_size:
        raise DownloadError(
            f"{path} has {path.stat().st_size:,} bytes, expected {want_size:,} for {archive.name}"
        )
    return "size" if want_size is not None else "unchecked"


def _progress_bar(total: int | None, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm

    # bars only on a terminal: logs of batch jobs get the start/end lines printed by the caller
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not (enabled and sys.stderr.isatty()),
        leave=False,
    )


_RETRYABLE = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    socket.timeout,
    TimeoutError,
)


def download(
    archive: Archive,
    dest: Path,
    mirror: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``archive`` to ``dest`` (a file path), resuming ``dest.part`` where it stopped.

    Args:
        archive: what to fetch and how to check it.
        dest: the final path; the bytes go to ``<dest>.part`` until they are verified.
        mirror: replaces the URL's scheme and host (see :func:`mirrored`).
        retries: attempts after the first on network errors and 5xx answers (not on 4xx).
        backoff: seconds before the first retry; doubled for each following one.
        timeout: seconds a connection may stay silent.
        progress: show a progress bar (only when stderr is a terminal).

    Returns:
        ``dest``, verified.

    Raises:
        DownloadError: a 4xx answer (naming the URL), retries spent, or a checksum/size mismatch
            (the bad file is deleted so that the next run downloads it afresh).
    """
    url = mirrored(archive.url, mirror)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():  # verified by an earlier run that stopped before unpacking it
        try:
            verify(dest, archive)
            return dest
        except DownloadError:
            dest.unlink()
    part = dest.with_name(dest.name + ".part")
    validator = dest.with_name(dest.name + ".part.etag")  # what the .part's bytes came from
    total: int | None = None
    attempt = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
            if validator.exists():  # the file changed upstream (a moving branch): 200, start over
                request.add_header("If-Range", validator.read_text())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                if offset and response.status == 206:
                    mode = "ab"
                    total = offset + int(length) if length is not None else None
                else:  # 200: a fresh download, or a server that ignored the Range header
                    offset, mode = 0, "wb"
                    total = int(length) if length is not None else None
                    tag = response.headers.get("ETag") or response.headers.get("Last-Modified")
                    validator.unlink(missing_ok=True)
                    if tag and not tag.startswith("W/"):  # If-Range takes strong validators only
                        validator.write_text(tag)
                with (
                    open(part, mode) as out,
                    _progress_bar(total, offset, archive.name, progress) as bar,
                ):
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
            got = part.stat().st_size
            if total is not None and got < total:
                # http.client returns b"" when the peer closes early instead of raising
                raise ConnectionError(f"connection closed after {got:,} of {total:,} bytes")
            break
        except urllib.error.HTTPError as err:
            if err.code == 416 and offset:
                full = (err.headers.get("Content-Range") or "").rpartition("/")[2]
                if full.isdigit() and offset == int(full):
                    total = offset
                    break  # the .part already holds every byte (a run stopped before verifying)
            if err.code == 416:  # a stale .part longer than the file: start over
                part.unlink(missing_ok=True)
                continue
            if 400 <= err.code < 500 and err.code not in (408, 429):
                raise DownloadError(
                    f"{url} answered HTTP {err.code} ({err.reason}); check the name and the "
                    "--mirror URL, or fetch the file by hand and pass its folder with --from"
                ) from None
            failure: BaseException = err
        except _RETRYABLE as err:
            failure = err
        attempt += 1
        if attempt > retries:
            raise DownloadError(
                f"{url}: giving up after {retries + 1} attempts ({failure}); run the same command "
                f"again to resume from byte {part.stat().st_size if part.exists() else 0:,}"
            ) from None
        delay = backoff * 2 ** (attempt - 1)
        print(f"[get] {archive.name}: {failure}; retry {attempt}/{retries} in {delay:g} s")
        time.sleep(delay)
    try:
        verify(part, archive, expected_size=total)
    except DownloadError as err:
        part.unlink(missing_ok=True)
        validator.unlink(missing_ok=True)
        raise DownloadError(
            f"{err}; deleted it: run the command again to download it afresh"
        ) from None
    os.replace(part, dest)
    validator.unlink(missing_ok=True)
    return dest


# ---------------------------------------------------------------------------- extraction


def _member_target(root: Path, name: str) -> Path:
    """Where a member named ``name`` would land under ``root``; refuses names that leave it."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"member {name!r} climbs out with '..'")
    target = (root / posix).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafeArchiveError(f"member {name!r} lands outside the target")
    return target


def _check_tar_member(member: tarfile.TarInfo, root: Path) -> None:
    target = _member_target(root, member.name)
    if member.issym() or member.islnk():
        link = PurePosixPath(member.linkname)
        if link.is_absolute() or member.linkname.startswith("/"):
            raise UnsafeArchiveError(f"link {member.name!r} points to an absolute path")
        # a symlink is relative to its own folder, a hard link to the archive's root
        base = target.parent if member.issym() else root.resolve()
        if not (base / link).resolve().is_relative_to(root.resolve()):
            raise UnsafeArchiveError(
                f"link {member.name!r} -> {member.linkname!r} points outside the target"
            )
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"member {member.name!r} is a device or fifo")


def _strip(name: str, strip_top: bool) -> str | None:
    if not strip_top:
        return name
    parts = PurePosixPath(name).parts
    return str(PurePosixPath(*parts[1:])) if len(parts) > 1 else None


# tarfile's own member filter (Python 3.10.12+/3.11.4+); our check above runs on every version
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
_FILTER_ERRORS = (getattr(tarfile, "FilterError", UnsafeArchiveError),)
_DAMAGED = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)


def extract(archive_path: Path, tmp: Path, strip_top: bool = False) -> None:
    """Unpack a tar (any compression) or zip archive into the empty folder ``tmp``.

    Every member is checked before it is written (see :func:`_member_target`); tar members also
    go through tarfile's ``data`` filter. Tar archives are read as a stream in one pass (a
    seekable bz2 reader re-decompresses from the start on every backward seek).

    Args:
        archive_path: the archive.
        tmp: the folder to unpack into (created).
        strip_top: drop each member's first path component (GitHub's ``<repo>-<branch>/``).

    Raises:
        UnsafeArchiveError: a member that would leave ``tmp`` (nothing more is written).
        DownloadError: the archive is damaged (truncated, bad CRC, not an archive).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as zf:
                infos = zf.infolist()
                for info in infos:  # check every name first: a bad one refuses the whole zip
                    _member_target(tmp, info.filename)
                for info in infos:
                    name = _strip(info.filename, strip_top)
                    if not name:
                        continue
                    target = _member_target(tmp, name)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
            return
        with tarfile.open(archive_path, "r|*") as tf:
            for member in tf:
                name = _strip(member.name, strip_top)
                if not name:
                    continue
                member.name = name
                if member.islnk() and strip_top:
                    member.linkname = _strip(member.linkname, strip_top) or ""
                _check_tar_member(member, tmp)
                tf.extract(member, tmp, set_attrs=False, **_DATA_FILTER)
    except UnsafeArchiveError as err:
        raise UnsafeArchiveError(f"{archive_path}: {err}; refused to unpack it") from None
    except _FILTER_ERRORS as err:
        raise UnsafeArchiveError(f"{archive_path}: {err}; refused to unpack it") from None
    except _DAMAGED as err:
        raise DownloadError(f"{archive_path} is damaged or not an archive ({err})") from None


def decompress(path: Path, out: Path) -> None:
    """Write the decompressed content of a .gz/.bz2/.xz file (or a copy of a plain file) to ``out``."""
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    try:
        with opener(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except _DAMAGED as err:
        out.unlink(missing_ok=True)
        raise DownloadError(f"{path} is damaged or not {path.suffix} data ({err})") from None


def merge_into(src: Path, dst: Path) -> None:
    """Move the content of ``src`` into ``dst``, renaming whole folders where ``dst`` lacks them.

    A folder that ``dst`` does not have yet (a LibriSpeech subset, an OpenSLR ``data/<xx>``)
    appears in one rename, so it is either absent or complete; where ``dst`` has the folder
    already, its content is merged the same way, file by file. ``src`` is removed.
    """
    with _merge_lock:
        dst.mkdir(parents=True, exist_ok=True)
        for child in sorted(src.iterdir()):
            target = dst / child.name
            if child.is_dir() and not child.is_symlink() and target.is_dir():
                merge_into(child, target)
                continue
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(child, target)
        shutil.rmtree(src, ignore_errors=True)
