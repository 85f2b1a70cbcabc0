"""Tar shards in the WebDataset layout: opening a shard or its index from a path or a URL, and
reading its samples as a stream.

Why our own reader of the WebDataset format rather than the ``webdataset`` package: its
shuffling and rank/worker splitting are random streams that cannot be resumed exactly, while the
format itself is plain POSIX tar that the standard library's ``tarfile`` reads in stream mode.
The shards we write are still WebDataset shards: the ``webdataset`` package reads them
(tests/test_shards.py checks it), and so do ``tar`` and every tool that reads tar.

A sample is the tar members that share a key (the name up to its first dot): ``<key>.flac`` (the
audio file's own bytes, not re-encoded) and ``<key>.json`` (``id``, raw ``text``, ``duration``,
``sample_rate``). Each subset has an ``index.json`` next to its shards (see
:mod:`seqlab.data.shard_writer`) listing the shards with their item counts, sha256 and, per item,
key, id, duration and transcript, so that bucketing, bad-item checks and the vocabulary need no
audio.

Where shards can live: a local directory, ``http(s)://`` (read with urllib: a plain web server,
or an object store's public or presigned URLs), or any other scheme fsspec knows when it is
installed with that scheme's package (``s3://`` needs ``s3fs``, ``gs://`` needs ``gcsfs``; their
usual credentials apply).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

INDEX_NAME = "index.json"
INDEX_FORMAT = "seqlab-webdataset-shards"  # the "format" field of every index.json we write
INDEX_VERSION = 1


class ShardError(RuntimeError):
    """A shard or index that cannot be read, or whose bytes are not what its index says."""


def is_url(location: str) -> bool:
    """True for ``scheme://...`` locations (http, https, s3, gs, ...), False for local paths."""
    return "://" in str(location) and not str(location).startswith("file://")


def _local(location: str) -> str:
    """``file:///a/b`` -> ``/a/b``; anything else as it is."""
    location = str(location)
    return urllib.parse.urlparse(location).path if location.startswith("file://") else location


def join_location(base: str, name: str) -> str:
    """``name`` relative to the directory ``base`` (a path or URL); an absolute ``name`` as it is."""
    base, name = _local(base), _local(name)
    if is_url(name) or Path(name).is_absolute():
        return name
    if is_url(base):
        return base.rstrip("/") + "/" + urllib.parse.quote(name)
    return str(Path(base) / name)


def parent_location(location: str) -> str:
    """The directory (path or URL) that holds ``location``."""
    location = _local(location)
    if is_url(location):
        return location.rsplit("/", 1)[0]
    return str(Path(location).parent)


def _open_http(url: str, timeout: float, attempts: int) -> IO[bytes]:
    """``urlopen`` with a few retries for what may pass (5xx, 429, refused or dropped
    connections); a 4xx such as 404 fails at once."""
    for attempt in range(attempts):
        try:
            return urllib.request.urlopen(url, timeout=timeout)
        except urllib.error.HTTPError as err:
            if attempt + 1 == attempts or not (err.code >= 500 or err.code == 429):
                raise
        except (urllib.error.URLError, OSError):
            if attempt + 1 == attempts:
                raise
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def open_location(location: str, timeout: float = 60.0, attempts: int = 3) -> IO[bytes]:
    """A binary stream of a local file, an ``http(s)://`` URL (``attempts`` tries for errors
    that may pass), or an fsspec URL.

    Raises:
        ShardError: naming the location and why it could not be opened.
    """
    location = _local(location)
    try:
        if location.startswith(("http://", "https://")):
            return _open_http(location, timeout, attempts)
        if is_url(location):
            try:
                import fsspec
            except ImportError:
                raise ShardError(
                    f"{location}: reading {location.split('://')[0]}:// needs fsspec and its "
                    "package for that scheme (e.g. pip install fsspec s3fs), or use presigned "
                    "https:// URLs"
                ) from None
            return fsspec.open(location, "rb").open()
        return open(location, "rb")
    except urllib.error.HTTPError as err:
        raise ShardError(f"{location}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise ShardError(f"{location}: cannot open it ({err})") from None


def read_index(location: str) -> dict:
    """The parsed ``index.json`` at ``location`` (path or URL), checked for its format.

    Shard ``url`` fields must be plain file names (as ``seqlab data shard`` writes them); they
    come back resolved against the index's directory.
    """
    with open_location(location) as f:
        raw = f.read()
    try:
        index = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ShardError(f"{location}: not a JSON shard index ({err})") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ShardError(
            f"{location}: not a seqlab shard index (format {INDEX_FORMAT!r} expected); write one "
            "with `seqlab data shard SRC OUT`"
        )
    if int(index.get("version", 0)) > INDEX_VERSION:
        raise ShardError(
            f"{location}: index version {index['version']} is newer than this seqlab reads "
            f"({INDEX_VERSION}); upgrade seqlab"
        )
    base = parent_location(location)
    for shard in index["shards"]:
        name = str(shard.get("url", ""))
        # A file we load never picks a location: each shard is a plain name in the index's directory.
        if not name or name in (".", "..") or any(c in name for c in "/\\:"):
            raise ShardError(
                f"{location}: shard entry {name!r} is not a file name in the index's directory "
                "(paths, '..' and URLs are refused: the index only names its own shards); "
                "re-write the shards with `seqlab data shard SRC OUT`"
            )
        shard["url"] = join_location(base, name)
    return index


def sample_key(member_name: str) -> tuple[str, str]:
    """``"dir/19-198-0001.flac"`` -> ``("dir/19-198-0001", "flac")``: WebDataset's key is the
    name up to the first dot of its last path component."""
    folder, _, base = member_name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext


class _HashingReader(io.RawIOBase):
    """A read-only stream that hashes every byte read through it (a shard's sha256 as it streams)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.sha256, self.n_bytes = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.n_bytes += n
        return n

    def drain(self) -> None:
        """Read to the end (the tar's end-of-archive padding), so the hash covers every byte."""
        while self.read(1 << 20):
            pass


def iter_samples(url: str, expected_sha256: str | None = None) -> Iterator[tuple[str, dict]]:
    """Stream the samples of one shard: ``(key, {extension: bytes})`` in tar order.

    The shard is read once, front to back (no seeking: it works over HTTP); when the caller reads
    it to the end and ``expected_sha256`` is given, the bytes are checked against it.

    Raises:
        ShardError: the shard cannot be opened, is not a readable tar, or its sha256 differs
            from the index's; the message names the shard's URL.
    """
    raw = open_location(url)
    reader = _HashingReader(raw)
    buffered = io.BufferedReader(reader, buffer_size=1 << 20)
    key, fields = None, {}
    try:
        with tarfile.open(fileobj=buffered, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, ext = sample_key(member.name)
                if key is not None and member_key != key:
                    yield key, fields
                    fields = {}
                key = member_key
                fields[ext] = tar.extractfile(member).read()
        if key is not None:
            yield key, fields
        buffered.read()  # what tarfile left in the buffer, then the rest of the stream
        reader.drain()
    except (tarfile.TarError, EOFError, OSError, urllib.error.URLError) as err:
        raise ShardError(
            f"shard {url} is corrupt or was cut short after {reader.n_bytes:,} bytes ({err}); "
            "write it again with `seqlab data shard` or check the server"
        ) from None
    finally:
        raw.close()
    got = reader.sha256.hexdigest()
    if expected_sha256 is not None and got != expected_sha256:
        raise ShardError(
            f"shard {url}: sha256 {got} but its index says {expected_sha256}: the shard is "
            "corrupt or was rewritten without its index; write both again with `seqlab data shard`"
        )
