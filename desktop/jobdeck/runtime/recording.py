"""Recording how runs ended: :class:`OutcomeRecorder`, the one writer of outcomes.

An executor reports one :class:`~jobdeck.runtime.executors.base.Outcome` per run, from any
thread; :meth:`OutcomeRecorder.record` turns it into the job's transition — completed,
failed, cancelled (its message then says so), or back to the queue with a backoff when its
type may retry it. When the store cannot take the write (a full disk, an I/O error), the
outcome is kept with its real end time and written again later, from the GUI thread: at
once when the tracker says the store's trouble is over, else on a timer that backs off from
:data:`RETRY_FIRST` to :data:`RETRY_MAX` seconds. It is never dropped while the app runs.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from jobdeck.core.clock import Clock
from jobdeck.core.job import InvalidTransition, JobStatus
from jobdeck.core.queue import backoff
from jobdeck.core.registry import retry_allowed
from jobdeck.core.store_errors import StoreWriteError
from jobdeck.core.tracker import JobTracker, UnknownJob

from .executors.base import Outcome, Run

__all__ = ["CANCELLED_MESSAGE", "RETRY_FIRST", "RETRY_MAX", "OutcomeRecorder"]

log = logging.getLogger(__name__)

#: The message of a job that stopped because it was cancelled.
CANCELLED_MESSAGE = "Cancelled"
#: Seconds between tries to record an outcome the store refused, doubling up to the last.
RETRY_FIRST = 0.5
RETRY_MAX = 30.0


class OutcomeRecorder(QObject):
    """Writes outcomes to ``tracker`` (see the module). Create it on the GUI thread;
    :meth:`record` may be called from any thread. ``recorded(run)`` is called once a run's
    outcome is written (or found written elsewhere), on the thread that wrote it."""

    #: Internal: queued to the GUI thread when an outcome waits to be written again.
    _later = Signal()

    def __init__(
        self,
        tracker: JobTracker,
        clock: Clock,
        recorded: Callable[[Run], None],
        *,
        rng: random.Random | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._tracker = tracker
        self._clock = clock
        self._recorded = recorded
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        #: Outcomes the store refused, by job id: written again later.
        self._waiting: dict[str, tuple[Run, Outcome]] = {}
        self._delay = RETRY_FIRST
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.record_waiting)
        self._later.connect(self._arm, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = tracker.subscribe_store_status(self._on_store_status)

    def waiting(self) -> int:
        """How many outcomes wait for the store."""
        with self._lock:
            return len(self._waiting)

    def record(self, run: Run, outcome: Outcome) -> None:
        """Write how ``run`` ended (any thread; see the module)."""
        outcome = outcome.at(self._clock())
        try:
            self.write(run, outcome)
        except StoreWriteError:
            self.keep(run, outcome)
            return
        self.recorded(run)

    def keep(self, run: Run, outcome: Outcome) -> None:
        """The store refused ``outcome``: it waits, to be written again later."""
        with self._lock:
            self._waiting[run.job_id] = (run, outcome)
        self._later.emit()

    def recorded(self, run: Run) -> None:
        """``run``'s outcome is written (or was found written elsewhere): its executor hears
        it (:attr:`Run.on_stored <jobdeck.runtime.executors.base.Run.on_stored>`), then
        the scheduler."""
        stored = run.on_stored
        if stored is not None:
            try:
                stored()
            except Exception:
                log.exception("job %s: letting go of its stored end failed", run.job_id)
        self._recorded(run)

    def write(self, run: Run, outcome: Outcome) -> None:
        """The transition for ``outcome`` (give it an end time first). Raises
        StoreWriteError when the store refuses it; anything else is logged."""
        try:
            self._write(run, outcome)
        except (InvalidTransition, UnknownJob):
            log.debug("job %s was finished elsewhere", run.job_id)
        except StoreWriteError:
            raise
        except Exception:
            log.exception("could not record how job %s ended", run.job_id)

    def _write(self, run: Run, outcome: Outcome) -> None:
        if outcome.worker is None:
            self._write_end(run, outcome)
            return
        record = outcome.worker
        with self._tracker.batch():  # where it ran and how it ended: one commit
            try:
                self._tracker.set_worker(
                    run.job_id,
                    record.worker,
                    peak_rss=record.peak_rss,
                    cpu_seconds=record.cpu_seconds,
                )
            except ValueError:  # it ended meanwhile (a cancel, a lost worker)
                log.debug("job %s ended before its worker was recorded", run.job_id)
            self._write_end(run, outcome)

    def _write_end(self, run: Run, outcome: Outcome) -> None:
        tracker = self._tracker
        if outcome.status is JobStatus.CANCELLED:
            # Its message says so, not whatever the job said last while it stopped
            # (rsync's "received SIGUSR1", say).
            ctx = run.ctx
            ctx.update_progress(ctx.current, None, CANCELLED_MESSAGE)
            tracker.mark_cancelled(
                run.job_id, completed_ts=outcome.ended_at, process=outcome.process
            )
        elif outcome.status is JobStatus.COMPLETED:
            tracker.complete_job(
                run.job_id,
                result=outcome.result,
                exit_code=outcome.exit_code,
                completed_ts=outcome.ended_at,
                process=outcome.process,
            )
        else:
            job = tracker.get_job(run.job_id) if outcome.retry else None
            if job is not None and outcome.error is not None and retry_allowed(job, run.job_type):
                delay = backoff(max(1, job.attempts), rng=self._rng)
                tracker.retry_later(
                    run.job_id, self._clock() + delay, outcome.error, process=outcome.process
                )
            else:
                tracker.complete_job(
                    run.job_id,
                    success=False,
                    error=outcome.error,
                    exit_code=outcome.exit_code,
                    completed_ts=outcome.ended_at,
                    process=outcome.process,
                )

    def _on_store_status(self, error: StoreWriteError | None) -> None:
        """The store's trouble changed (any thread): once it is over, write what waits."""
        if error is None and self.waiting():
            self._later.emit()

    @Slot()
    def _arm(self) -> None:
        """GUI thread: try the waiting outcomes again now (the store is fine again) or
        after the current backoff."""
        if self._closed or not self.waiting():
            return
        if self._tracker.store_error is None:
            self._timer.start(0)  # now, not after a backoff armed while it was away
        elif not self._timer.isActive():
            self._timer.start(int(self._delay * 1000))

    @Slot()
    def record_waiting(self) -> None:
        """GUI thread: write the outcomes the store refused, oldest first; what is refused
        again waits longer."""
        if self._closed or self._tracker.closed:
            return
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for run, outcome in waiting.values():
            self.record(run, outcome)
        if not self.waiting():
            self._delay = RETRY_FIRST
            return
        self._delay = min(RETRY_MAX, self._delay * 2)
        self._timer.start(int(self._delay * 1000))

    def close(self) -> None:
        """A last try (at shutdown); what the store still refuses is logged. GUI thread."""
        self._timer.stop()
        self.record_waiting()
        self._closed = True
        self._timer.stop()
        self._unsubscribe()
        left = self.waiting()
        if left:
            log.error(
                "%d finished job(s) could not be recorded before shutdown: %s",
                left,
                self._tracker.store_error,
            )
