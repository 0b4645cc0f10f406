"""Coroutine jobs on the event loop: :class:`CoroutineExecutor`.

A coroutine job type's function runs as ``await func(ctx, **params)`` in a task on the GUI's
asyncio loop (qasync), where it needs no thread of its own. With no running loop (a
headless embedder), each job gets its own ``asyncio.run`` on a pool thread instead, and then
holds one of the scheduler's ``max_threads``. Cancel cancels the task (the code sees
``CancelledError``) besides setting ``ctx.cancelled``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QThreadPool, QTimer

from jobdeck.core.registry import JobKind, JobType

from .base import Executor, Outcome, Run

__all__ = ["CoroutineExecutor"]

log = logging.getLogger(__name__)

_POOL_THREADS = 1024
Work = Callable[..., Coroutine[Any, Any, Any]]


class _Task:
    """A coroutine run's task and the loop it runs on (once known)."""

    __slots__ = ("loop", "task")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Future[Any] | None = None

    def cancel(self) -> None:
        loop, task = self.loop, self.task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)


class CoroutineExecutor(Executor):
    """Runs coroutine job types (``JobKind.COROUTINE``); see the module. ``loop``: the event
    loop to run them on (default: the GUI thread's running loop)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, parent: QObject | None = None
    ) -> None:
        self._loop = loop
        self._pool = QThreadPool(parent)
        self._pool.setMaxThreadCount(_POOL_THREADS)
        self._runs: dict[str, Run] = {}

    def accepts(self, job_type: JobType) -> bool:
        return job_type.kind is JobKind.COROUTINE

    def uses_thread(self, job_type: JobType) -> bool:
        return self.gui_loop() is None

    def gui_loop(self) -> asyncio.AbstractEventLoop | None:
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_running_loop()  # qasync sets it for the GUI thread
        except RuntimeError:
            return None

    def start(self, run: Run, prepared: Any) -> None:
        assert run.job_type is not None
        func: Work = run.job_type.func
        handle = run.handle = _Task()
        loop = self.gui_loop()
        if loop is None:
            self._pool.start(functools.partial(self._run_in_thread, run, handle, func, prepared))
            return
        task = loop.create_task(self._run(run, func, prepared))
        handle.task, handle.loop = task, loop
        self._runs[run.job_id] = run
        task.add_done_callback(functools.partial(self._done, run))

    async def _run(self, run: Run, func: Work, kwargs: dict[str, Any]) -> None:
        try:
            result = await func(run.ctx, **kwargs)
        except BaseException as exc:
            run.report(run.raised(exc))
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
        else:
            run.report(run.returned(result))

    def _done(self, run: Run, task: asyncio.Future[Any]) -> None:
        self._runs.pop(run.job_id, None)
        if task.cancelled():  # cancelled before its first step: the wrapper never ran
            run.report(run.raised(asyncio.CancelledError()))

    def _run_in_thread(self, run: Run, handle: _Task, func: Work, kwargs: dict[str, Any]) -> None:
        async def main() -> None:
            handle.task = asyncio.current_task()
            handle.loop = asyncio.get_running_loop()
            if run.ctx.cancelled:
                handle.cancel()
            await self._run(run, func, kwargs)

        try:
            asyncio.run(main())
        except BaseException as exc:
            run.report(run.raised(exc))

    def cancel(self, run: Run) -> None:
        handle = run.handle
        if isinstance(handle, _Task):
            handle.cancel()

    def time_out(self, run: Run) -> None:
        """Cancel the task; one on a thread (whose code may never await) is failed now."""
        self.cancel(run)
        handle = run.handle
        if isinstance(handle, _Task) and handle.loop is not self.gui_loop():
            run.report(Outcome.failed(run.timeout_message, retry=True))

    def wait(self, deadline: float) -> None:
        """Let the loop run until the GUI's tasks have ended, then the threads'."""
        loop = self.gui_loop()
        tasks = [
            run.handle.task
            for run in list(self._runs.values())
            if isinstance(run.handle, _Task) and run.handle.loop is loop
        ]
        pending = [t for t in tasks if t is not None and not t.done()]
        if pending:
            waiter = QEventLoop()

            def one_done(_task: object) -> None:
                if all(t.done() for t in pending):
                    waiter.quit()

            for task in pending:
                task.add_done_callback(one_done)
            QTimer.singleShot(_ms_until(deadline), waiter.quit)
            if not all(t.done() for t in pending):
                waiter.exec()
        self._pool.waitForDone(_ms_until(deadline))

    def close(self, deadline: float) -> bool:
        return bool(self._pool.waitForDone(_ms_until(deadline)))


def _ms_until(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
