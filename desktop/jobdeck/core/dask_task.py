"""A job's function on a Dask worker: :func:`run_task` and the context it gets there.

The Dask executor (:mod:`jobdeck.runtime.executors.dask`) submits :func:`run_task` to the
cluster; on the worker it calls the job type's function as ``func(ctx, **params)`` with a
:class:`~jobdeck.core.context.JobContext` of the usual API (``update_progress``,
``cancelled``, ``checkpoint``, ``log``). Nothing here talks to a store or to Qt:

* where it runs, progress and log lines are coalesced: one reporter thread per worker
  process sends, at most every :data:`REPORT_EVERY` seconds per task, where it runs (in
  its first event), the latest progress and the new log lines as one Dask event
  (``Worker.log_event`` on the app's topic), which reaches the app through the scheduler
  (``Client.subscribe_topic``); a task shorter than that sends none;
* the app cancels a task with ``Client.run(cancel_task, key)`` on its worker, which sets
  the context's cancel flag (the code sees ``ctx.cancelled`` / ``ctx.checkpoint()``);
* :func:`run_task` returns a small dict (never raises): how the function ended (its result,
  or its error with the worker's traceback), the last progress and log lines not yet sent,
  where it ran (host, worker address, pid) and what it used (the worker process's peak
  RSS while it ran, the task thread's CPU seconds); the app records these with the job's
  end, in one commit.

The job's function must be importable on the workers (Dask pickles it by reference), and
so must Jobdeck itself. Dask is imported only here, on the worker, when a task runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .context import Cancelled, JobContext

__all__ = ["REPORT_EVERY", "cancel_task", "run_task", "running_tasks"]

#: Seconds between two progress events of one task, at most one event each.
REPORT_EVERY = 0.1
#: Log lines one event carries at most; more are counted and said to be dropped.
MAX_LINES_PER_EVENT = 1000
#: Keys cancelled before their task started on this worker, remembered this long (s).
_EARLY_CANCEL_TTL = 600.0


class _Task:
    """One running task on this worker: its context, what it has not sent yet, its usage."""

    __slots__ = (
        "born",
        "ctx",
        "dropped",
        "key",
        "lines",
        "lock",
        "peak_rss",
        "sent_seq",
        "topic",
        "where",
        "worker",
    )

    def __init__(self, key: str, job_id: str, topic: str, worker: Any) -> None:
        self.key = key
        self.topic = topic
        self.worker = worker
        self.lock = threading.Lock()
        self.lines: list[list[str]] = []
        self.dropped = 0
        self.sent_seq = 0
        self.peak_rss = 0
        self.born = time.monotonic()
        #: Where it runs, until the first event has said so (then None).
        self.where: dict[str, Any] | None = None
        self.ctx = JobContext(self, job_id)

    # The context's owner (see jobdeck.core.context.JobOwner).
    def _append_log(self, ctx: JobContext, message: str, level: str) -> None:
        with self.lock:
            if len(self.lines) < MAX_LINES_PER_EVENT:
                self.lines.append([level, message])
            else:
                self.dropped += 1

    def _finish_from_context(self, ctx: JobContext, exc: BaseException | None) -> None:
        """``with ctx:`` on a worker: the app records how the task ended."""

    def take(self) -> dict[str, Any] | None:
        """What changed since the last event (None: nothing)."""
        current, total, message, seq = self.ctx.snapshot()
        with self.lock:
            lines, dropped = self.lines, self.dropped
            self.lines, self.dropped = [], 0
        if dropped:
            lines.append(["warning", f"{dropped} log line(s) dropped: the job logs too fast"])
        where, self.where = self.where, None
        if seq == self.sent_seq and not lines and where is None:
            return None
        out: dict[str, Any] = {"key": self.key, "lines": lines}
        if where is not None:
            out["where"] = where
        if seq != self.sent_seq:
            self.sent_seq = seq
            out["progress"] = [current, total, message]
        return out


_running: dict[str, _Task] = {}
_cancelled_early: dict[str, float] = {}
_lock = threading.Lock()
_wake = threading.Condition(_lock)
_reporter: threading.Thread | None = None


def running_tasks() -> list[str]:
    """Keys of the Jobdeck tasks running in this worker process now."""
    with _lock:
        return list(_running)


def cancel_task(key: str) -> bool:
    """Ask the task ``key`` to stop (run on its worker by ``Client.run``); True when it
    runs here. A task that has not started yet here starts cancelled."""
    with _lock:
        task = _running.get(key)
        if task is None:
            now = time.monotonic()
            for old in [k for k, t in _cancelled_early.items() if now - t > _EARLY_CANCEL_TTL]:
                del _cancelled_early[old]
            _cancelled_early[key] = now
            return False
    task.ctx.cancel_event.set()
    return True


def _process_rss() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        return 0


def _report_loop() -> None:
    """The worker's reporter thread: every REPORT_EVERY s, one event per changed task."""
    while True:
        with _lock:
            while not _running:
                _wake.wait()
            tasks = list(_running.values())
        rss = _process_rss()
        young = time.monotonic() - REPORT_EVERY
        for task in tasks:
            task.peak_rss = max(task.peak_rss, rss)
            if task.born > young:
                continue  # a short task says it all in its result: no event at all
            msg = task.take()
            if msg is not None:
                # A worker that is closing drops it: the task's final dict still says it.
                with contextlib.suppress(Exception):
                    task.worker.log_event(task.topic, msg)
        time.sleep(REPORT_EVERY)


def _register(task: _Task) -> None:
    global _reporter
    with _lock:
        if task.key in _cancelled_early:
            del _cancelled_early[task.key]
            task.ctx.cancel_event.set()
        _running[task.key] = task
        if _reporter is None:
            _reporter = threading.Thread(target=_report_loop, name="jobdeck-report", daemon=True)
            _reporter.start()
        _wake.notify()


def _unregister(task: _Task) -> None:
    with _lock:
        _running.pop(task.key, None)


def where(worker: Any) -> dict[str, Any]:
    """The worker a task runs on, as the app stores it."""
    return {
        "host": socket.gethostname(),
        "address": str(worker.address),
        "name": str(worker.name),
        "pid": os.getpid(),
    }


def run_task(
    key: str, job_id: str, func: Callable[..., Any], kwargs: dict[str, Any], topic: str
) -> dict[str, Any]:
    """Run ``func(ctx, **kwargs)`` for job ``job_id`` on this Dask worker (see the module)."""
    from distributed import get_worker

    worker = get_worker()
    task = _Task(key, job_id, topic, worker)
    # Said by the reporter's first event (a task that ends sooner says it in its result).
    task.where = place = where(worker)
    _register(task)
    cpu = time.thread_time()
    out: dict[str, Any]
    try:
        out = {"status": "completed", "result": func(task.ctx, **kwargs)}
    except Cancelled:
        out = {"status": "cancelled"}
    except Exception as exc:
        out = {
            "status": "failed",
            "error": _describe(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
    finally:
        _unregister(task)
    out["cancel_requested"] = task.ctx.cancelled
    out["where"] = place
    out["cpu_seconds"] = max(0.0, time.thread_time() - cpu)
    out["peak_rss"] = max(task.peak_rss, _process_rss()) or None
    task.where = None  # the result says where
    out["last"] = task.take()
    return out


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    name = type(exc).__name__
    return f"{name}: {text}" if text and name not in text else (text or name)
