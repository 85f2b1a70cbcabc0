"""Process pools that end by ``close()`` + ``join()``: the workers finish their queue and exit on
their own. ``with multiprocessing.Pool()`` ends with ``terminate()`` instead, which SIGTERMs the
workers and joins the result-handler thread; that join hung a CI run for good (the handler sat in
``recv`` on a pipe no worker would write to again). ``terminate()`` is kept for errors and Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool


@contextmanager
def process_pool(ctx: BaseContext, processes: int, **kwargs) -> Iterator[Pool]:
    """``ctx.Pool(processes, **kwargs)``, closed and joined when the block ends normally,
    terminated (then joined) when it raises."""
    pool = ctx.Pool(processes, **kwargs)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()
