"""Computing statistics off the GUI thread, the newest request superseding older ones.

:class:`StatsLoader` runs :meth:`JobStats.report <jobdeck.core.stats.JobStats.report>` (and
the selected key's trend) on a one-thread :class:`QThreadPool` of its own. Each
:meth:`~StatsLoader.request` gets a number; a request not yet started is dropped when a newer
one comes, and the result of an older one that finishes anyway is ignored, so the view only
ever shows the newest. The worker never touches a widget: it hands its result to a
:class:`_Relay` (a QObject owned by the loader, living on the GUI thread) whose signal is
delivered there, queued. After the numbers went out, the worker keeps the columns it read
for the next start when due (:meth:`JobStats.save_if_due
<jobdeck.core.stats.JobStats.save_if_due>`).

Signals (GUI thread): ``loaded(StatsResult)`` with the newest request's numbers;
``failed(str)`` when reading them failed (the reason). :meth:`~StatsLoader.shutdown` waits
for a running computation (call it before the window goes away).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core.stats import JobStats, KeyTrend, Period, StatsReport

__all__ = ["StatsLoader", "StatsResult"]

log = logging.getLogger(__name__)

TREND_RUNS = 60


@dataclass(frozen=True)
class StatsResult:
    """What one request computed: every view of a period, and a key's last runs."""

    number: int
    report: StatsReport
    trend: KeyTrend | None
    seconds: float  # how long the computation took


class _Relay(QObject):
    done = Signal(object)
    error = Signal(int, str)


class _Job(QRunnable):
    def __init__(
        self, stats: JobStats, relay: _Relay, number: int, period: Period, key: str | None
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._stats = stats
        self._relay = relay
        self._number = number
        self._period = period
        self._key = key

    def run(self) -> None:  # on the pool's thread
        started = time.perf_counter()
        try:
            report = self._stats.report(self._period)
            trend = self._stats.trend(self._key, TREND_RUNS, refresh=False) if self._key else None
        except Exception as exc:  # the store may be closing or broken: say so in the view
            log.info("statistics could not be read", exc_info=True)
            self._relay.error.emit(self._number, str(exc) or type(exc).__name__)
            return
        result = StatsResult(self._number, report, trend, time.perf_counter() - started)
        self._relay.done.emit(result)
        try:  # after the numbers went out: the next start begins from these columns
            self._stats.save_if_due()
        except Exception:
            log.warning("the statistics' columns could not be kept", exc_info=True)


class StatsLoader(QObject):
    """Runs statistics requests off the GUI thread (see the module)."""

    loaded = Signal(object)
    failed = Signal(str)

    def __init__(self, stats: JobStats, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stats = stats
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.error.connect(self._on_error)
        self._latest = 0
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._pool.activeThreadCount() > 0

    def request(self, period: Period, key: str | None = None) -> int:
        """Compute ``period``'s views (and ``key``'s last runs); the request's number."""
        if self._closed:
            return self._latest
        self._latest += 1
        self._pool.clear()  # requests not started yet are superseded by this one
        self._pool.start(_Job(self.stats, self._relay, self._latest, period, key))
        return self._latest

    def shutdown(self) -> None:
        """Drop waiting requests and wait for a running one (GUI thread)."""
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone()

    def _on_done(self, result: StatsResult) -> None:
        if result.number == self._latest and not self._closed:
            self.loaded.emit(result)

    def _on_error(self, number: int, message: str) -> None:
        if number == self._latest and not self._closed:
            self.failed.emit(message)
