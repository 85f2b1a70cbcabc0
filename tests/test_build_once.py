"""The DDP "build the built-in corpus once" guard: two processes, one builds, the other waits."""

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from seqlab.corpora.build_once import build_once

WAIT_S = 60  # upper bound on any wait below; the test fails (never hangs) past it


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _slow_builder(root: str, events: str, result) -> None:
    """Build, but only once the test says go: the other process meets the corpus half-built."""
    events_dir = Path(events)

    def build() -> None:
        Path(root).mkdir()
        (Path(root) / "train.txt").write_text("half")
        (events_dir / "started").touch()
        _wait_for((events_dir / "go").exists, "go")
        (Path(root) / "train.txt").write_text("whole")
        (Path(root) / "corpus.json").write_text("{}")

    result.put(("first", build_once(root, build, foreign=Path.exists)))


def _second(root: str, events: str, result) -> None:
    """A second rank: it must not build, and must see the whole corpus when build_once returns."""

    def build() -> None:
        (Path(events) / "second_built").touch()

    built = build_once(root, build, foreign=Path.exists)
    result.put(("second", built, (Path(root) / "train.txt").read_text()))


def _waiting_on_a_lock(pid: int) -> bool:
    """True when ``pid`` is blocked in flock (a "->" line of /proc/locks, Linux)."""
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in lines)


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_second_process_waits_for_the_build_and_finds_the_corpus(tmp_path):
    root, events = tmp_path / "corpus", tmp_path / "events"
    events.mkdir()
    ctx = mp.get_context("fork")
    result = ctx.Queue()
    first = ctx.Process(target=_slow_builder, args=(str(root), str(events), result))
    first.start()
    _wait_for((events / "started").exists, "the first build to start")
    # root now exists without corpus.json: it looks foreign, but a build is under way.
    second = ctx.Process(target=_second, args=(str(root), str(events), result))
    second.start()
    try:
        _wait_for(lambda: _waiting_on_a_lock(second.pid), "the second process to wait on the lock")
        (events / "go").touch()
        outcomes = {r[0]: r[1:] for r in (result.get(timeout=WAIT_S) for _ in range(2))}
    finally:
        (events / "go").touch()
        for proc in (first, second):
            proc.join(WAIT_S)
            if proc.is_alive():
                proc.kill()
    assert outcomes == {"first": (True,), "second": (False, "whole")}
    assert not (events / "second_built").exists()
    assert first.exitcode == second.exitcode == 0


def test_built_foreign_and_fresh_roots(tmp_path):
    calls = []

    def build(root: Path) -> None:
        calls.append(root.name)
        root.mkdir()
        (root / "corpus.json").write_text("{}")

    fresh = tmp_path / "fresh"
    assert build_once(fresh, lambda: build(fresh), foreign=Path.exists)
    assert not build_once(fresh, lambda: build(fresh), foreign=Path.exists)  # built: no rebuild
    own = tmp_path / "own"
    own.mkdir()  # the user's own files, no corpus.json
    assert not build_once(own, lambda: build(own), foreign=Path.exists)
    assert not (tmp_path / ".own.build.lock").exists()  # left alone, nothing written next to it
    assert calls == ["fresh"]
    assert os.listdir(own) == []
