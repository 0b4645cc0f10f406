"""Starting, re-attaching and stopping a :class:`~jobdeck.runtime.scheduler.Scheduler`.

The life-cycle half of the scheduler (a base class it builds on): :meth:`Lifecycle.start`
opens the executors, follows the tracker and takes over the jobs an earlier app left
running; :meth:`Lifecycle.shutdown` cancels or detaches what runs, waits for it and closes
the executors. GUI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, SignalInstance

from jobdeck.core.clock import Clock
from jobdeck.core.context import JobContext
from jobdeck.core.events import JobEvent
from jobdeck.core.job import Job, JobStatus
from jobdeck.core.registry import JobType
from jobdeck.core.tracker import JobTracker

from .executors.base import Executor, Outcome, Run
from .recording import OutcomeRecorder
from .relative_timeout import RelativeTimeouts

__all__ = ["Lifecycle"]

log = logging.getLogger("jobdeck.runtime.scheduler")


class Lifecycle:
    """Starting and stopping (see the module)."""

    _tracker: JobTracker
    _executors: tuple[Executor, ...]
    _clock: Clock
    _lock: threading.Lock
    _running: dict[str, Run]
    _started: bool
    _stopping: bool
    _cancel_at_stop: bool
    _unsubscribe: list[Callable[[], None]]
    _timer: QTimer
    _recorder: OutcomeRecorder
    _relative: RelativeTimeouts
    destroyed: SignalInstance

    def _on_event(self, event: JobEvent) -> None:
        raise NotImplementedError

    def job_type(self, name: str) -> JobType | None:
        raise NotImplementedError

    def _schedule(self) -> None:
        raise NotImplementedError

    def _withdraw_all(self) -> None:
        raise NotImplementedError

    def _cancel(self, run: Run) -> None:
        raise NotImplementedError

    def _new_run(
        self,
        job: Job,
        ctx: JobContext,
        executor: Executor | None,
        deadline: float | None,
        *,
        reattached: bool,
    ) -> Run:
        raise NotImplementedError

    def running_job_ids(self) -> list[str]:
        raise NotImplementedError

    def next_run(
        self, executor: Executor, finished: tuple[Run, Outcome] | None = None
    ) -> tuple[Run, Any] | None:
        raise NotImplementedError

    def next_runs(
        self,
        executor: Executor,
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int | None = None,
    ) -> list[tuple[Run, Any]]:
        raise NotImplementedError

    def hand_over(self, executor: Executor, count: int) -> list[tuple[Job, Any]]:
        raise NotImplementedError

    def adopt(
        self,
        executor: Executor,
        job_ids: list[str],
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int = 0,
    ) -> tuple[dict[str, Run | None], list[tuple[Run, Any]]]:
        raise NotImplementedError

    def give_back(self, job_ids: list[str]) -> None:
        raise NotImplementedError

    def started_elsewhere(self, job_id: str, *, held: bool = False) -> None:
        raise NotImplementedError

    def hold_slot(self, count: int = 1) -> None:
        raise NotImplementedError

    def release_slot(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start running queued jobs (those already pending too), after re-attaching the
        jobs an earlier app left running. GUI thread."""
        if self._started:
            return
        if self._stopping:
            raise RuntimeError("this scheduler was shut down; create a new one")
        if not self._executors:
            raise ValueError("a scheduler needs at least one executor to run jobs")
        self._started = True
        for executor in self._executors:
            executor.open(self._tracker, self._clock, self)
        unsubscribe = self._tracker.subscribe(self._on_event)
        self._unsubscribe = [unsubscribe]
        # Destroyed without shutdown(): the tracker must stop calling into this object.
        self.destroyed.connect(lambda *_: unsubscribe())
        self._reattach()
        self._schedule()

    def poke(self) -> None:
        """Re-evaluate the queue now (after advancing a fake clock, for example). GUI thread."""
        self._schedule()

    def shutdown(
        self, cancel_running: bool = True, timeout: float = 10, *, keep_processes: bool = False
    ) -> bool:
        """Stop starting jobs and wait up to ``timeout`` s for running ones; GUI thread.

        With ``cancel_running`` running jobs are cancelled first; otherwise they may finish,
        and whatever still runs when ``timeout`` passes is cancelled then. With
        ``keep_processes`` work that can outlive the app (process jobs) is left running
        instead (still ``running`` in the store, for the next app to re-attach). Pending
        jobs stay pending. Returns True when nothing this scheduler watches is left running
        (code that ignores cancellation can keep its thread busy; it is logged). Idempotent.
        """
        if self._stopping:
            with self._lock:
                return not self._running
        self._stopping = True
        #: Whether a job handed over that starts from now on is cancelled (see Scheduler).
        self._cancel_at_stop = cancel_running
        self._timer.stop()
        self._withdraw_all()
        deadline = time.monotonic() + max(0.0, timeout)
        if keep_processes:
            detached: list[str] = []
            for executor in self._executors:
                detached += executor.detach_all()
            with self._lock:
                for job_id in detached:
                    self._running.pop(job_id, None)
            if detached:
                log.info("left %d process job(s) running in the background", len(detached))
        if cancel_running:
            self._cancel_all()
        self._wait(deadline)
        with self._lock:
            leftover = bool(self._running)
        if leftover and not cancel_running:
            self._cancel_all()
            self._wait(time.monotonic() + _grace_of(self._executors) + 0.5)
        done = True
        for executor in self._executors:
            done = executor.close(deadline) and done
        if not done:
            log.warning("shutdown: a job ignored cancellation; its worker thread still runs")
        self._recorder.close()
        self._relative.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        with self._lock:
            return done and not self._running

    def _cancel_all(self) -> None:
        """Cancel the jobs still running; not those whose end is known and waits for the
        store (a cancel request stored meanwhile would turn their real end into a cancel
        when recorded, here or by the next app)."""
        with self._lock:
            running = [run for run in self._running.values() if not run.reported]
        for job_id in [run.job_id for run in running]:
            try:
                self._tracker.cancel_job(job_id)
            except Exception:
                log.exception("could not cancel job %s at shutdown", job_id)

    def _wait(self, deadline: float) -> None:
        for executor in self._executors:
            executor.wait(deadline)

    def _reattach(self) -> None:
        """Take over the jobs an earlier app left running (the tracker's
        :meth:`~jobdeck.core.tracker.JobTracker.jobs_to_reattach`): the first executor
        that can watch one again does; a job none can is failed as lost."""
        now = self._clock()
        for job in self._tracker.jobs_to_reattach():
            ctx = self._tracker.context(job.id)
            if ctx is None:
                continue
            started = job.started_ts if job.started_ts is not None else now
            absolute = started + job.timeout if job.timeout is not None else None
            deadline, relative_message = self._relative.deadline(
                job, self.job_type(job.type), started, absolute
            )
            for executor in (*self._executors, None):
                run = self._new_run(job, ctx, executor, deadline, reattached=True)
                run.relative_timeout = relative_message
                if executor is None:
                    run.report(Outcome.failed("lost: nothing here can watch it again", retry=True))
                elif executor.reattach(run):
                    break
                else:
                    with self._lock:
                        self._running.pop(job.id, None)
            if job.cancel_requested:
                ctx.cancel_event.set()
                self._cancel(run)
        self._adopt_started()

    def _adopt_started(self) -> None:
        """Jobs an earlier app handed over whose programs started before it stored that
        (it went first): still pending in the store, they are started there and watched
        again, never run a second time."""
        for executor in self._executors:
            try:
                found = executor.started_unstored()
            except Exception:
                log.exception("could not look for the programs an earlier app left unstored")
                continue
            for job_id, attempt in found:
                job = self._tracker.get_job(job_id)
                if job is None or job.status is not JobStatus.PENDING:
                    continue
                if job.attempts + 1 != attempt:
                    continue  # a record of an earlier attempt, its end stored already
                try:
                    ctx = self._tracker.start_job(job_id)
                except Exception:
                    log.exception("could not adopt job %s", job_id)
                    continue
                run = self._new_run(job, ctx, executor, None, reattached=True)
                log.info(
                    "adopted job %s: its program started before the last app stored it", job_id
                )
                if not executor.reattach(run):
                    run.report(Outcome.failed("lost: nothing here can watch it again", retry=True))


def _grace_of(executors: tuple[Any, ...]) -> float:
    """The longest grace period an executor gives a job it stops (SIGTERM -> SIGKILL)."""
    return max((float(getattr(e, "grace", 0.0)) for e in executors), default=0.0)
