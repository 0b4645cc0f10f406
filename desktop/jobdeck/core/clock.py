"""Injectable clocks: the tracker asks one for the time instead of calling ``time.time``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

__all__ = ["Clock", "FakeClock", "system_clock"]

#: A clock returns the current time as epoch seconds.
Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()


class FakeClock:
    """A clock that only moves when told to; for tests of durations, backoff and retention."""

    def __init__(self, start: float | datetime = 1_700_000_000.0) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, delta: float | timedelta) -> float:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float | datetime) -> None:
        self._now = when.timestamp() if isinstance(when, datetime) else float(when)
