"""Where seqlab keeps what it can rebuild: audio indexes (``index/``), vocabularies trained on a
corpus (``vocab/``) and audio written out of saved datasets (``hf_disk/``)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = "~/.cache/seqlab"


def cache_dir() -> Path:
    """``$SEQLAB_CACHE_DIR`` if set, else ``~/.cache/seqlab`` (user home expanded; not created).

    Read at every call, so that a test or a launcher can point it elsewhere at any time.
    """
    return Path(os.environ.get("SEQLAB_CACHE_DIR", DEFAULT_CACHE_DIR)).expanduser()
