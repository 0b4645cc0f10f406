"""Callable jobs on a QThreadPool: :class:`ThreadExecutor`.

A callable job type's function runs as ``func(ctx, **params)`` on a pool thread; what it
returns (or raises) is its outcome. It holds one of the scheduler's ``max_threads`` while it
runs. A job that times out is failed at once and its thread let go (Python cannot stop a
thread): the thread finishes on its own time, outside the budget, and whatever it returns
then is ignored. A worker that finished a job starts the next ready callable itself when
the scheduler allows (:meth:`~jobdeck.runtime.scheduler.Scheduler.next_run`): short jobs
then run back to back without a round trip through the GUI thread each.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from PySide6.QtCore import QObject, QThreadPool

from jobdeck.core.registry import JobKind, JobType

from .base import Executor, Outcome, Run

__all__ = ["ThreadExecutor"]

log = logging.getLogger(__name__)

#: The pool's own cap; the scheduler's ``max_threads`` is the real budget.
_POOL_THREADS = 1024


class ThreadExecutor(Executor):
    """Runs callable job types (``JobKind.CALLABLE``) on a QThreadPool (see the module).

    The caller owns the pool's QObject parent (``parent``), as Qt wants for runnables.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        self._pool = QThreadPool(parent)
        self._pool.setMaxThreadCount(_POOL_THREADS)

    def accepts(self, job_type: JobType) -> bool:
        return job_type.kind is JobKind.CALLABLE

    def uses_thread(self, job_type: JobType) -> bool:
        return True

    def start(self, run: Run, prepared: Any) -> None:
        self._pool.start(functools.partial(self._work, run, prepared))

    def cancel(self, run: Run) -> None:
        """Nothing to do: the job's code sees ``ctx.cancelled`` (and ``ctx.checkpoint()``)."""

    def time_out(self, run: Run) -> None:
        """Fail the job now; its thread, which may never look at its context, is let go."""
        run.report(Outcome.failed(run.timeout_message, retry=True))

    def _work(self, run: Run, kwargs: dict[str, Any]) -> None:
        """Pool thread: run the job's function and report how it ended; then the next one
        the scheduler hands this worker, if any."""
        step: tuple[Run, Any] | None = (run, kwargs)
        while step is not None:
            run, kwargs = step
            assert run.job_type is not None
            try:
                outcome = run.returned(run.job_type.func(run.ctx, **kwargs))
            except BaseException as exc:
                outcome = run.raised(exc)
            if self.host is None:
                run.report(outcome)
                return
            step = self.host.next_run(self, (run, outcome))

    def wait(self, deadline: float) -> None:
        self._pool.waitForDone(_ms_until(deadline))

    def close(self, deadline: float) -> bool:
        return bool(self._pool.waitForDone(_ms_until(deadline)))


def _ms_until(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
