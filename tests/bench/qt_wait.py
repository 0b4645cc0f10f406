"""Qt helpers for benchmarks that run the runtime in-process: the application object, a
wait that spins the event loop, and a meter of the GUI thread's gaps."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QTimer, Slot

__all__ = ["GapMeter", "app", "spin_for", "spin_until"]


def app() -> QCoreApplication:
    """The running QCoreApplication (or QApplication), created if there is none."""
    instance = QCoreApplication.instance()
    return instance if instance is not None else QCoreApplication([])


def spin_until(done: Callable[[], bool], timeout: float, poll_ms: int = 5) -> bool:
    """Run the Qt event loop until ``done()`` (checked every ``poll_ms``) or ``timeout`` s.

    Returns whether ``done()`` became true; it never raises on the timeout, so a benchmark
    can report what a slow system did reach.
    """
    if done():
        return True
    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if done() else None)
    check.start(poll_ms)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    check.stop()
    return done()


def spin_for(seconds: float) -> None:
    """Run the Qt event loop for ``seconds``."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


class GapMeter(QObject):
    """A 1 ms precise timer on the GUI thread that records the time between its ticks:
    a long gap is a moment the GUI could not have answered the user. ``cpu_gaps`` holds,
    for each gap, the GUI thread's CPU time in it: near the gap, the GUI thread was busy
    (a paint, a slot); far below it, it waited (for a core, or for the interpreter lock
    another thread held)."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self.cpu_gaps: list[float] = []
        self._last: float | None = None
        self._last_cpu = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps = []
        self.cpu_gaps = []
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._tick()
        self._timer.stop()

    @Slot()
    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            self.gaps.append(now - self._last)
            self.cpu_gaps.append(cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu

    def longest(self) -> tuple[float, float]:
        """(the longest gap, the GUI thread's CPU time in it), in milliseconds."""
        if not self.gaps:
            return 0.0, 0.0
        i = max(range(len(self.gaps)), key=self.gaps.__getitem__)
        return self.gaps[i] * 1000, self.cpu_gaps[i] * 1000

    def figures(self) -> tuple[float, float]:
        """(p99, max) gap in milliseconds."""
        ordered = sorted(self.gaps)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return p99 * 1000, ordered[-1] * 1000
