"""Build a built-in corpus once, however many processes ask for it at the same time.

Every DDP rank (or two runs started together) that finds the corpus missing calls
:func:`build_once`; an exclusive ``flock`` on a lock file next to the corpus lets one of them build
it while the others wait on the lock, then find ``corpus.json`` (which every builder writes last)
and go on. No process relies on ``RANK`` or on polling, so a rank that starts late, a crashed
builder (the kernel drops its lock) or a launcher without ``RANK`` cannot make one wait forever.

``fcntl.flock`` itself rather than the ``filelock`` package: it is what that package does on
Unix, in three lines of the standard library (``seqlab data get`` locks its folder the same way).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

DONE_FILE = "corpus.json"  # each builder writes its summary last: its presence means "built"


def build_once(
    root: str | Path,
    build: Callable[[], object],
    foreign: Callable[[Path], bool] | None = None,
) -> bool:
    """Run ``build()`` unless the corpus at ``root`` is built, once across processes.

    Args:
        root: the corpus directory; the lock is ``.<name>.build.lock`` in its parent (created).
        build: writes the corpus at ``root``, ``corpus.json`` last.
        foreign: ``foreign(root)`` is True when ``root`` holds data that is not a finished
            built-in corpus (the user's own files, or what a crashed build left): it is never
            built over. While another process builds, ``root`` may look foreign too, so it is
            asked again under the lock, once that build is done.

    Returns:
        True if this process built the corpus; False if it was there (or being built by
        another process, which this one waited for) or ``root`` is foreign.
    """
    root = Path(root)
    if (root / DONE_FILE).is_file():
        return False
    lock_path = root.parent / f".{root.name}.build.lock"
    # A builder takes the lock before it writes anything at root, so data at root with no lock
    # file was never a build of ours: the user's own, left alone without touching the folder.
    if foreign is not None and not lock_path.exists() and foreign(root):
        return False
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes (or the process dies)
        if (root / DONE_FILE).is_file():
            return False  # another process built it while this one waited
        if foreign is not None and foreign(root):
            return False
        build()
        return True
