"""Job functions the Dask tests run on a LocalCluster's worker processes (Dask pickles
functions by reference: they must live in a module the workers can import)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jobdeck.core import JobContext


def count(ctx: JobContext, steps: int = 5, delay: float = 0.05) -> dict[str, int]:
    """Report each step and log a line for it; return how many steps ran."""
    for i in range(steps):
        ctx.checkpoint()
        ctx.update_progress(i + 1, steps, f"step {i + 1} of {steps}")
        ctx.log(f"step {i + 1} done on pid {os.getpid()}")
        time.sleep(delay)
    return {"steps": steps}


def until_cancelled(ctx: JobContext, stamp: str = "") -> None:
    """Report progress until cancelled; write when it saw the cancel to ``stamp``."""
    i = 0
    while not ctx.cancelled:
        i += 1
        ctx.update_progress(i, 0, f"tick {i}")
        time.sleep(0.02)
    if stamp:
        Path(stamp).write_text(repr(time.time()))
    ctx.checkpoint()


def explode(ctx: JobContext, what: str = "kaputt") -> None:
    """Fail from a nested call, so the traceback has frames of this module."""
    ctx.update_progress(1, 2, "about to fail")
    _inner(what)


def _inner(what: str) -> None:
    raise ValueError(f"the worker says {what}")


def trivial(ctx: JobContext, n: int = 0) -> int:
    return n + 1
