"""JobSignals: the one bridge from the tracker's events to Qt signals on the GUI thread.

Tracker events arrive on any thread (the thread that made a transition, or the tracker's
progress pump). :class:`JobSignals` only appends them to a locked buffer there. A timer on
the GUI thread drains the buffer every ``interval_ms`` and emits a few batched signals, so
however fast jobs report, widgets see at most ~30 batches a second. The timer runs only
while there is something to drain: the first event after a quiet spell wakes it with one
queued call, and the first empty tick stops it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from jobdeck.core.events import EventKind, JobEvent, LogEntry
from jobdeck.core.job import Job
from jobdeck.core.tracker import JobTracker

__all__ = ["JobSignals"]

_FINAL_KINDS = frozenset({EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED})


class JobSignals(QObject):
    """Batched, GUI-thread signals about jobs. Create and use it on the GUI thread.

    All signals are emitted on the thread this object lives on (the GUI thread), from its
    timer, in this order per batch:

    ``jobsAdded(list[Job])``
        jobs created or enqueued since the last batch (their latest snapshot).
    ``jobsChanged(list[Job])``
        the latest snapshot of every job whose status, progress, message or process info
        changed (finished jobs included), at most one entry per job per batch.
    ``jobFinished(Job)``
        once per job that reached completed, failed or cancelled, after the ``jobsChanged``
        batch that contains it.
    ``logAppended(list[LogEntry])``
        log lines added since the last batch, oldest first.

    and, whenever the store's trouble starts, changes or ends (a full disk: changes cannot
    be saved; see :meth:`~jobdeck.core.tracker.JobTracker.subscribe_store_status`):

    ``storeTroubleChanged(str)``
        a message a person can read, or ``""`` once the store accepts changes again
        (:attr:`store_trouble` is the current one).
    """

    jobsAdded = Signal(list)
    jobsChanged = Signal(list)
    jobFinished = Signal(object)
    logAppended = Signal(list)
    storeTroubleChanged = Signal(str)

    #: Internal: queued to the GUI thread when the buffer stops being empty.
    _wake = Signal()
    #: Internal: queued to the GUI thread when the store's trouble changed.
    _trouble = Signal(str)

    def __init__(
        self, tracker: JobTracker, parent: QObject | None = None, interval_ms: int = 33
    ) -> None:
        super().__init__(parent)
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive integer, got {interval_ms!r}")
        self._tracker = tracker
        self._lock = threading.Lock()
        self._buffer: list[JobEvent] = []
        self._armed = False  # a wake was sent or the timer runs; cleared on an empty tick
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._drain)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        self._trouble.connect(self._on_trouble, Qt.ConnectionType.QueuedConnection)
        error = tracker.store_error
        self._store_trouble = "" if error is None else str(error)
        unsubscribe_events = tracker.subscribe(self._on_event)
        unsubscribe_status = tracker.subscribe_store_status(self._on_store_status)

        def unsubscribe() -> None:
            unsubscribe_events()
            unsubscribe_status()

        self._unsubscribe: Callable[[], None] | None = unsubscribe
        # If this object is destroyed without close() (e.g. with a parent), stop the tracker
        # from calling into it from other threads. The closure must not hold ``self``.
        self.destroyed.connect(lambda *_: unsubscribe())

    @property
    def tracker(self) -> JobTracker:
        return self._tracker

    def active_jobs(self) -> list[Job]:
        """Pending and running jobs, oldest first (from the tracker's memory)."""
        return self._tracker.active_jobs()

    @property
    def store_trouble(self) -> str:
        """Why the store cannot take changes now, in words ("" when it can)."""
        return self._store_trouble

    def close(self) -> None:
        """Stop listening to the tracker and stop the timer. Idempotent. GUI thread only."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._timer.stop()
        with self._lock:
            self._buffer.clear()
            self._armed = False

    # -- any thread ----------------------------------------------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        with self._lock:
            self._buffer.append(event)
            if self._armed:
                return
            self._armed = True
        self._wake.emit()

    def _on_store_status(self, error: object) -> None:
        self._trouble.emit("" if error is None else str(error))

    # -- GUI thread ----------------------------------------------------------------------------

    @Slot(str)
    def _on_trouble(self, message: str) -> None:
        if self._unsubscribe is None or message == self._store_trouble:
            return
        self._store_trouble = message
        self.storeTroubleChanged.emit(message)

    @Slot()
    def _on_wake(self) -> None:
        if self._unsubscribe is not None and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            events, self._buffer = self._buffer, []
            if not events:
                self._armed = False
                self._timer.stop()
                return
        self._emit_batch(events)

    def _emit_batch(self, events: list[JobEvent]) -> None:
        added: dict[str, Job] = {}
        changed: dict[str, Job] = {}
        finished: dict[str, Job] = {}
        logs: list[LogEntry] = []
        for event in events:
            kind, job = event.kind, event.job
            if kind is EventKind.LOG:
                if event.log is not None:
                    logs.append(event.log)
                continue
            if kind is EventKind.CREATED:
                added[job.id] = job
            else:
                latest = changed.get(job.id)
                if latest is not None and latest.finished and not job.finished:
                    continue  # never let a stale snapshot overwrite the final one
                changed[job.id] = job
                if kind in _FINAL_KINDS:
                    finished[job.id] = job
            if job.id in added:
                added[job.id] = job
        if added:
            self.jobsAdded.emit(list(added.values()))
        if changed:
            self.jobsChanged.emit(list(changed.values()))
        for job in finished.values():
            self.jobFinished.emit(job)
        if logs:
            self.logAppended.emit(logs)
