"""seqlab's version, in a module of its own: the engine writes it into every checkpoint and run
directory without importing the package root (which would tie the engine to the whole API)."""

__version__ = "0.1.0"
