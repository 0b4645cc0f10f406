"""The Runner: a :class:`~jobdeck.runtime.scheduler.Scheduler` with the built-in executors.

``Runner(tracker, ...)`` is what an app usually wants: callables on a thread pool,
coroutines on the qasync loop (or, with no running loop, each in its own ``asyncio.run`` on
a worker thread), and process job types as programs under a supervisor — their output in a
per-job log file read for progress, their progress channel, programs that can outlive the
app and are re-attached by the next one. An app that runs jobs some other way builds a
:class:`~jobdeck.runtime.scheduler.Scheduler` with executors of its own (see
:mod:`jobdeck.runtime.executors`).

The Runner changes nothing process-wide: the interpreter's switch interval is the app's to
set (see :mod:`jobdeck.runtime.tuning`).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from PySide6.QtCore import QObject

from jobdeck.core.clock import Clock
from jobdeck.core.tracker import JobTracker

from .executors import CoroutineExecutor, DaskExecutor, ProcessExecutor, ThreadExecutor
from .executors.processes import max_log_bytes as _max_log_bytes
from .scheduler import DEFAULT_MAX_THREADS, Scheduler

__all__ = ["DEFAULT_MAX_THREADS", "Runner"]


class Runner(Scheduler):
    """A scheduler with the three built-in executors (see the module). GUI thread.

    The queue's settings (``max_workers``, ``max_threads``, ``clock``, ``rng``) are the
    :class:`~jobdeck.runtime.scheduler.Scheduler`'s; ``loop`` is the coroutines' event
    loop (default: the running one); the others configure process jobs (see
    :class:`~jobdeck.runtime.executors.processes.ProcessExecutor`): ``grace``,
    ``log_dir``, ``records_dir``, ``channel_dir``, ``heartbeat_timeout``, ``cancel_delay``
    and ``max_log_bytes`` (an int, None for no cap, or "default": 64 MiB, or the
    ``JOBDECK_MAX_LOG_BYTES`` environment variable; at least 64 KiB).
    """

    def __init__(
        self,
        tracker: JobTracker,
        max_workers: int = 4,
        parent: QObject | None = None,
        grace: float = 5.0,
        log_dir: str | Path | None = None,
        clock: Clock | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        rng: random.Random | None = None,
        heartbeat_timeout: float = 30.0,
        cancel_delay: float = 1.0,
        channel_dir: str | Path | None = None,
        records_dir: str | Path | None = None,
        max_log_bytes: int | str | None = "default",
        max_threads: int = DEFAULT_MAX_THREADS,
        dask: str | None = None,
    ) -> None:
        super().__init__(tracker, (), max_workers, parent, clock, rng=rng, max_threads=max_threads)
        #: The Dask executor when a scheduler address was given (``dask``), else None.
        self.dask = None if not dask else DaskExecutor(dask)
        if self.dask is not None:  # before the threads: it takes the types that ask for it
            self.add_executor(self.dask)
        self.processes = ProcessExecutor(
            grace=grace,
            log_dir=log_dir,
            records_dir=records_dir,
            channel_dir=channel_dir,
            heartbeat_timeout=heartbeat_timeout,
            cancel_delay=cancel_delay,
            max_log_bytes=_max_log_bytes(max_log_bytes),
            parent=self,
        )
        self.add_executor(ThreadExecutor(parent=self))
        self.add_executor(CoroutineExecutor(loop, parent=self))
        self.add_executor(self.processes)

    @property
    def log_dir(self) -> Path:
        """Where process jobs write their output."""
        return self.processes.log_dir

    @property
    def channel_path(self) -> Path | None:
        """The progress channel's socket while it is served, else None."""
        return self.processes.channel_path

    def stale_jobs(self) -> dict[str, float]:
        """Process jobs silent on the channel for ``heartbeat_timeout`` or more: the
        seconds since each one's last message."""
        return self.processes.stale_jobs()

    def poke(self) -> None:
        """Re-evaluate heartbeats and the queue now (after advancing a fake clock, for
        example). GUI thread."""
        self.processes.check_liveness()
        super().poke()
