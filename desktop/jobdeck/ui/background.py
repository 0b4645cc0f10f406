"""Threads kept for work the GUI thread hands off (a search's reads and counts).

Starting a thread costs the starting thread 0.1 to 10 ms (it waits for the new one to run,
longer on a busy machine), which a search typed letter by letter would pay on the GUI
thread each time. A :class:`Workers` keeps its daemon threads for the next task, starting
one only when all of them are busy (up to ``most``). ``below_gui`` threads run at a lower
CPU priority than the GUI thread (Linux: the thread's own nice value), for work that may
take a while and must not take a core from the paint. No Qt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["BACKGROUND_NICE", "Workers", "yield_to_the_gui"]

log = logging.getLogger(__name__)

#: The nice value of a ``below_gui`` thread (the GUI thread's is the process's, 0).
BACKGROUND_NICE = 10


def yield_to_the_gui() -> None:
    """Lower the calling thread's CPU priority (Linux: a thread's own nice value), so work
    that takes a while never takes a core from the GUI thread; elsewhere nothing."""
    if sys.platform != "linux":
        return  # (setpriority names a process there, never a thread)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class Workers:
    """Runs the callables given to :meth:`submit` on up to ``most`` daemon threads named
    ``name``, kept for reuse; tasks start in the order given. A task's exception is logged
    (the task reports its own results, e.g. by a Qt signal)."""

    def __init__(self, name: str, most: int, below_gui: bool = False) -> None:
        if most < 1:
            raise ValueError(f"most must be positive, got {most}")
        self.name = name
        self.most = most
        self.below_gui = below_gui
        self._tasks: deque[Callable[[], object]] = deque()
        self._ready = threading.Condition()
        self._threads = 0
        self._idle = 0

    @property
    def threads(self) -> int:
        """How many threads have been started (they stay)."""
        return self._threads

    def submit(self, task: Callable[[], object]) -> None:
        """Run ``task`` on an idle thread, or a new one while fewer than ``most`` run,
        else once one is free."""
        with self._ready:
            self._tasks.append(task)
            if self._idle >= len(self._tasks) or self._threads >= self.most:
                self._ready.notify()
                return
            self._threads += 1
        threading.Thread(target=self._work, name=self.name, daemon=True).start()

    def _work(self) -> None:
        if self.below_gui:
            yield_to_the_gui()
        while True:
            with self._ready:
                while not self._tasks:
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                task = self._tasks.popleft()
            try:
                task()
            except Exception:
                log.exception("a background task of %s failed", self.name)
            del task  # what it holds goes now, not when the next task comes
