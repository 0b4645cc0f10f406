"""Watches a job feed for stalled jobs (:class:`~jobdeck.core.stall.StallWatch`) on the GUI
thread, and says when one stalls or comes back."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from PySide6.QtCore import QObject, QTimer, Signal

from jobdeck.core.events import LogEntry
from jobdeck.core.job import Job
from jobdeck.core.stall import DEFAULT_STALL_AFTER_S, StallWatch

from .feed import JobEvents

__all__ = ["StallMonitor"]

#: How often silences are checked (ms): a stall is seen at most this late.
CHECK_MS = 5000


class StallMonitor(QObject):
    """Running jobs with no progress and no output for ``after_s`` seconds (per type:
    ``by_type``) are stalled.

    Signals (GUI thread): ``jobStalled(job_id, seconds)`` once when a job stalls (for a
    notification); ``stallsChanged()`` whenever the set of stalled jobs changes (a job
    stalled or came back). :meth:`silence` is a job's silence while it is stalled.
    """

    jobStalled = Signal(str, float)
    stallsChanged = Signal()

    def __init__(
        self,
        feed: JobEvents,
        *,
        after_s: float = DEFAULT_STALL_AFTER_S,
        by_type: Mapping[str, float] | None = None,
        check_ms: int = CHECK_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._feed = feed
        self._clock = feed.tracker.now
        self.watch = StallWatch(after_s, by_type)
        self._timer = QTimer(self)
        self._timer.setInterval(check_ms)
        self._timer.timeout.connect(self.check)
        feed.jobsAdded.connect(self._on_jobs)
        feed.jobsChanged.connect(self._on_jobs)
        feed.logAppended.connect(self._on_logs)
        self._on_jobs(feed.active_jobs())

    def _on_jobs(self, jobs: list[Job]) -> None:
        now = self._clock()
        for job in jobs:
            self.watch.seen(job, now)
        if self.watch.has_recoveries():
            self.check()
        if self.watch.watching and not self._timer.isActive():
            self._timer.start()

    def _on_logs(self, entries: list[LogEntry]) -> None:
        for entry in entries:
            self.watch.alive(entry.job_id, entry.ts)
        if self.watch.has_recoveries():
            self.check()

    def check(self) -> None:
        """Look at every running job's silence now (normally the timer does)."""
        changes = self.watch.check(self._clock())
        for job_id, seconds in changes.stalled.items():
            self.jobStalled.emit(job_id, seconds)
        if changes.stalled or changes.recovered:
            self.stallsChanged.emit()
        if not self.watch.watching:
            self._timer.stop()

    def set_after(self, seconds: float) -> None:
        """A new default silence (a type's own ``stall_after`` still wins), applied at once:
        jobs already silent that long stall now, stalled ones that are no longer come back."""
        self.watch.set_after(seconds)
        self.check()

    def silence(self, job_id: str) -> float | None:
        """Seconds ``job_id`` has been silent while it is stalled; None when it is not."""
        return self.watch.silence(job_id, self._clock())

    def stalled(self) -> dict[str, float]:
        """Every stalled job: id -> seconds of silence."""
        return self.watch.stalled(self._clock())

    def close(self) -> None:
        self._timer.stop()
        for signal, slot in (
            (self._feed.jobsAdded, self._on_jobs),
            (self._feed.jobsChanged, self._on_jobs),
            (self._feed.logAppended, self._on_logs),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
