"""Daemon threads kept for the next task: :class:`KeptThreads`.

Starting a thread with ``Thread.start`` costs the starting thread 0.1 to 10 ms, and 50 to
200 ms on a busy machine: it waits until the new thread has run. The GUI thread hands a
search's reads and counts to kept threads (a search typed letter by letter would pay that
on each letter), and the runtime follows each program on one (short jobs back to back paid
it per job). A :class:`KeptThreads` starts a thread only when none is idle, keeps it for
the next task (for ever, or for ``idle_timeout`` seconds), runs at most ``most`` at once
when given (the rest wait their turn, in order), and runs them at a lower CPU priority when
given a ``nice`` value (Linux: the thread's own nice value, for work that must not take a
core from the GUI thread). A new thread is started without waiting for it
(:func:`start_thread`: the GUI thread's first searches of a session paused it 50-200 ms
under load, waiting for each new thread to be scheduled). No Qt; daemon threads, so a task
never keeps the interpreter from exiting.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["BACKGROUND_NICE", "KeptThreads", "start_thread"]

log = logging.getLogger(__name__)

#: The nice value of threads whose work must yield to the GUI thread (whose is the
#: process's, 0).
BACKGROUND_NICE = 10


class KeptThreads:
    """Runs the callables given to :meth:`submit` on daemon threads named ``name``, reusing
    idle ones; at most ``most`` at once (None: no limit), the others wait in order. A thread
    with nothing to do ends after ``idle_timeout`` seconds (None: it stays). A task's
    exception is logged (a task reports its own results). Thread-safe.

    :meth:`close` lets the idle threads go at once (and the busy ones once they are done);
    tasks submitted afterwards still run, each on a thread of its own.
    """

    def __init__(
        self,
        name: str,
        most: int | None = None,
        idle_timeout: float | None = None,
        nice: int = 0,
    ) -> None:
        if most is not None and most < 1:
            raise ValueError(f"most must be positive, got {most}")
        self.name = name
        self.most = most
        self.nice = nice
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._tasks: deque[Callable[[], object]] = deque()
        self._threads = 0
        self._idle = 0
        self._closed = False

    @property
    def threads(self) -> int:
        """How many threads run now (busy or idle)."""
        return self._threads

    def submit(self, task: Callable[[], object], label: str = "") -> None:
        """Run ``task`` on an idle thread, or on a new one (named ``name-label`` when
        ``label`` is given) while fewer than ``most`` run, else once one is free."""
        with self._lock:
            self._tasks.append(task)
            full = self.most is not None and self._threads >= self.most and not self._closed
            if self._idle >= len(self._tasks) or full:
                self._wakeup.notify()
                return
            self._threads += 1
        name = f"{self.name}-{label}" if label else self.name
        try:
            start_thread(self._serve, name, self._not_started)
        except BaseException:
            self._not_started()
            raise

    def _not_started(self) -> None:
        """A thread counted in :attr:`threads` could not be started."""
        with self._lock:
            self._threads -= 1

    def close(self) -> None:
        """Let the idle threads end now, and the busy ones once their tasks are done."""
        with self._lock:
            self._closed = True
            self._wakeup.notify_all()

    def _serve(self) -> None:
        if self.nice:
            _lower_priority(self.nice)
        task = self._next()
        while task is not None:
            try:
                task()
            except Exception:
                log.exception("a task of the threads %s failed", self.name)
            del task  # what it holds goes now, not when the next task comes
            task = self._next()

    def _next(self) -> Callable[[], object] | None:
        """The next task, once one is submitted; None (the thread ends) after the idle
        timeout or close."""
        with self._lock:
            timeout = self._idle_timeout
            deadline = None if timeout is None else time.monotonic() + timeout
            self._idle += 1
            try:
                while not self._tasks and not self._closed:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._wakeup.wait(left)
                if self._tasks:
                    return self._tasks.popleft()
                self._threads -= 1
                return None
            finally:
                self._idle -= 1


def start_thread(
    target: Callable[[], object], name: str, failed: Callable[[], object] | None = None
) -> None:
    """Start a daemon :class:`threading.Thread` named ``name`` running ``target``, without
    waiting for it to run (``Thread.start`` waits until the new thread has been scheduled
    and has taken the interpreter lock: 50-200 ms on a busy machine). A helper thread of
    the ``_thread`` module starts it and waits instead; when it cannot (no more threads),
    that is logged and ``failed`` is called there. Raises what ``_thread`` raises when not
    even the helper can start."""

    def start() -> None:
        try:
            threading.Thread(target=target, name=name, daemon=True).start()
        except Exception:
            log.exception("the thread %s could not be started", name)
            if failed is not None:
                failed()

    _thread.start_new_thread(start, ())


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority to ``nice`` (Linux: a thread's own nice
    value; elsewhere setpriority names a process, never a thread: nothing)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
