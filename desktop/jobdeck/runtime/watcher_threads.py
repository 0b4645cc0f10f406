"""Reused daemon threads for the programs' watchers: :class:`WatcherThreads`.

Each :class:`~jobdeck.runtime.program_watcher.ProgramWatcher` follows its program on a
thread of its own. Starting a thread per job cost the thread that started it (the GUI
thread, or the watcher of the job that just ended) about a millisecond of waiting for the
new thread to run; with short jobs back to back that was a large part of a job's cost. A
thread whose watcher is done now waits a little (:data:`IDLE_TIMEOUT`) for the next
watcher instead of ending (:class:`~jobdeck.core.kept_threads.KeptThreads`, as the GUI's
background threads). No Qt; daemon threads, so a watcher never keeps the
interpreter from exiting.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from jobdeck.core.kept_threads import KeptThreads

__all__ = ["IDLE_TIMEOUT", "WatcherThreads"]

log = logging.getLogger(__name__)

#: Seconds a thread whose watcher is done waits for another before it ends.
IDLE_TIMEOUT = 2.0
#: Seconds between two looks of the thread that runs what :meth:`WatcherThreads.call_later`
#: was given (it runs only while something is due).
TICK = 0.05


class WatcherThreads(KeptThreads):
    """Kept threads (no limit) named ``name`` for the programs' watchers, whose idle
    threads end after ``idle_timeout`` s, and a thread for :meth:`call_later`. Thread-safe.

    :meth:`close` lets the idle threads go at once (and those still busy when they are
    done); work submitted afterwards still runs, each on a thread of its own.
    """

    def __init__(self, name: str = "jobdeck-process", idle_timeout: float = IDLE_TIMEOUT) -> None:
        super().__init__(name, idle_timeout=idle_timeout)
        self._later: collections.deque[tuple[float, Callable[[], None]]] = collections.deque()
        self._ticking = False

    def call_later(self, delay: float, call: Callable[[], None]) -> None:
        """Call ``call`` (quick, non-blocking) about ``delay`` s from now (at most
        :data:`TICK` later), from a thread that runs while calls are due; at once after
        :meth:`close`. Calls run in the order given: give them all the same delay."""
        with self._lock:
            if not self._closed:
                self._later.append((time.monotonic() + delay, call))
                if self._ticking:
                    return
                self._ticking = True
                name = f"{self.name}-later"
                threading.Thread(target=self._tick, name=name, daemon=True).start()
                return
        call()

    def close(self) -> None:
        """Let the idle threads end now, and the busy ones once their work is done; what
        :meth:`call_later` was given is called now."""
        super().close()
        with self._lock:  # (closed: nothing more is added to it)
            later, self._later = list(self._later), collections.deque()
        for _due, call in later:
            _call(call)

    def _tick(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            due = []
            with self._lock:
                while self._later and self._later[0][0] <= now:
                    due.append(self._later.popleft()[1])
                if not due and not self._later:
                    self._ticking = False
                    return
            for call in due:
                _call(call)


def _call(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:
        log.exception("a delayed call of the watcher threads failed")
