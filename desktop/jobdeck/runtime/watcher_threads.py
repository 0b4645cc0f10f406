"""Reused daemon threads for the programs' watchers: :class:`WatcherThreads`.

Each :class:`~jobdeck.runtime.program_watcher.ProgramWatcher` follows its program on a
thread of its own. Starting a thread per job cost the thread that started it (the GUI
thread, or the watcher of the job that just ended) about a millisecond of waiting for the
new thread to run; with short jobs back to back that was a large part of a job's cost. A
thread whose watcher is done now waits a little (:data:`IDLE_TIMEOUT`) for the next
watcher instead of ending. No Qt; daemon threads, so a watcher never keeps the
interpreter from exiting.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["IDLE_TIMEOUT", "WatcherThreads"]

log = logging.getLogger(__name__)

#: Seconds a thread whose watcher is done waits for another before it ends.
IDLE_TIMEOUT = 2.0


class WatcherThreads:
    """Runs callables on daemon threads named ``name``, reusing idle ones. Thread-safe.

    :meth:`close` lets the idle threads go at once (and those still busy when they are
    done); work submitted afterwards still runs, each on a thread of its own.
    """

    def __init__(self, name: str = "jobdeck-process", idle_timeout: float = IDLE_TIMEOUT) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._work: collections.deque[Callable[[], None]] = collections.deque()
        self._idle = 0
        self._closed = False

    def submit(self, work: Callable[[], None], label: str = "") -> None:
        """Run ``work`` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            if self._idle > len(self._work) and not self._closed:
                self._work.append(work)
                self._wakeup.notify()
                return
        name = f"{self._name}-{label}" if label else self._name
        threading.Thread(target=self._serve, args=(work,), name=name, daemon=True).start()

    def close(self) -> None:
        """Let the idle threads end now, and the busy ones once their work is done."""
        with self._lock:
            self._closed = True
            self._wakeup.notify_all()

    def _serve(self, work: Callable[[], None] | None) -> None:
        while work is not None:
            try:
                work()
            except Exception:
                log.exception("a watcher thread's work failed")
            work = self._next()

    def _next(self) -> Callable[[], None] | None:
        """The next work, once some is submitted; None after the idle timeout or close."""
        with self._lock:
            self._idle += 1
            try:
                deadline = time.monotonic() + self._idle_timeout
                while not self._work and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wakeup.wait(left)
                return self._work.popleft() if self._work else None
            finally:
                self._idle -= 1
