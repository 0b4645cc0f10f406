"""Injectable clocks: the tracker asks one for the time instead of calling ``time.time``.

A clock may also say how much time *really* passed, independently of its wall time: its
``boot_reference()`` returns (an id of this boot, seconds since boot, counting suspend).
Retention uses it to notice a wall clock that jumped forward (see
:func:`jobdeck.core.recovery.retention_cutoff`). :func:`boot_reference` gives the system's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["BootReference", "Clock", "FakeClock", "boot_reference", "system_clock"]

#: A clock returns the current time as epoch seconds.
Clock = Callable[[], float]
#: (an id of the current boot, seconds since that boot including time suspended)
BootReference = tuple[str, float]


def system_clock() -> float:
    return time.time()


def _system_boot_reference() -> BootReference | None:
    """Linux: the kernel's boot id and CLOCK_BOOTTIME; None elsewhere."""
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is None:
        return None
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return boot_id, time.clock_gettime(clock_id)


def boot_reference(clock: Clock) -> BootReference | None:
    """The real-time reference that goes with ``clock``, if it has one."""
    own = getattr(clock, "boot_reference", None)
    if callable(own):
        result: BootReference | None = own()
        return result
    if clock is system_clock:
        return _system_boot_reference()
    return None


class FakeClock:
    """A clock that only moves when told to; for tests of durations, backoff and retention.

    :meth:`advance` and :meth:`set` (forward) are time passing; :meth:`jump` moves only the
    wall clock, as when a system clock is set wrong (its boot reference does not move);
    :meth:`reboot` starts a new boot.
    """

    def __init__(self, start: float | datetime = 1_700_000_000.0) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._boot = 1
        self._since_boot = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, delta: float | timedelta) -> float:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._now += seconds
            self._since_boot += max(0.0, seconds)
            return self._now

    def set(self, when: float | datetime) -> None:
        new = when.timestamp() if isinstance(when, datetime) else float(when)
        with self._lock:
            self._since_boot += max(0.0, new - self._now)
            self._now = new

    def jump(self, delta: float | timedelta) -> float:
        """Move the wall clock only (a clock set wrong): no real time passes."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._now += seconds
            return self._now

    def reboot(self) -> None:
        """A new boot: the boot reference starts again (real time across it is unknown)."""
        with self._lock:
            self._boot += 1
            self._since_boot = 10.0

    def boot_reference(self) -> BootReference:
        return f"fake-boot-{self._boot}", self._since_boot
