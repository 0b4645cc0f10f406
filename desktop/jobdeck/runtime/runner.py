"""The Runner: makes queued jobs run.

A callable job runs on a QThreadPool worker, a coroutine job on the qasync event loop (or,
with no running loop, in its own ``asyncio.run`` on a worker), and a ``command`` job as a
program under a supervisor (:mod:`jobdeck.runtime.process_jobs`): its output goes to a
per-job log file that is read for progress, it reports through the progress channel, and
it can outlive the app, which re-attaches it on the next start.

Scheduling is event driven: the Runner subscribes to the tracker, and any event that can
free a slot or add a runnable job (created, finished, retrying) queues one scheduling pass
to the GUI thread. :func:`~jobdeck.core.queue.plan_queue` decides what starts; one
single-shot QTimer wakes the Runner when the next delayed job (``run_at``, retry backoff)
or the next timeout is due. Nothing polls. One pass spends at most :data:`PASS_BUDGET`
seconds starting jobs, then lets the GUI breathe and continues in the next pass.

Python code running in threads shares one interpreter lock with the GUI thread, so jobs
that run on threads (callables) have a budget of their own, ``max_threads``, below
``max_workers`` (see :class:`Runner`).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import functools
import logging
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, Qt, QThreadPool, QTimer, Signal, Slot

from jobdeck.core.clock import Clock
from jobdeck.core.context import Cancelled, JobContext
from jobdeck.core.events import EventKind, JobEvent
from jobdeck.core.job import InvalidTransition, Job, JobError, JobStatus
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.core.queue import backoff, plan_queue
from jobdeck.core.registry import JobKind, JobType, retry_allowed
from jobdeck.core.tracker import JobTracker, UnknownJob
from jobdeck.core.validation import check_json

from .channel import ChannelError
from .process import ProcessStartError
from .process_jobs import (
    CANCELLED_MESSAGE,
    ProcessJobs,
    ProcessRun,
    Verdict,
    default_channel_dir_for,
)
from .store_files import StoreFiles
from .supervised import ProcessOutcome, SupervisorRecords
from .supervisor import DEFAULT_MAX_LOG_BYTES, MIN_MAX_LOG_BYTES

__all__ = ["Runner"]

log = logging.getLogger(__name__)

#: The scheduling timer never sleeps longer than this (ms), so a wall-clock jump is noticed.
MAX_TIMER_MS = 60_000
#: CPython's GIL switch interval while a Runner runs (see :class:`Runner`, ``switch_interval``).
DEFAULT_SWITCH_INTERVAL = 0.0005
#: Jobs that run Python code on threads at once, by default (see :class:`Runner`).
DEFAULT_MAX_THREADS = 8
#: Seconds one scheduling pass may spend starting jobs before it yields to the GUI.
PASS_BUDGET = 0.02
#: Finished dependencies remembered (they never change), so planning needs no SQL.
_DEP_CACHE_SIZE = 4096

_FINAL = frozenset({EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED})
_SCHEDULE_ON = _FINAL | {EventKind.CREATED, EventKind.RETRYING}


class _Kind(enum.Enum):
    CALLABLE = "callable"
    COROUTINE = "coroutine"
    PROCESS = "process"


class _Execution:
    """One attempt of one job, shared by the GUI thread and the thread the job runs on.

    The first call to :meth:`claim` wins the right to finish the job; later ones (a job
    that returns after it already timed out) are ignored.
    """

    def __init__(
        self,
        job: Job,
        ctx: JobContext,
        job_type: JobType | None,
        kind: _Kind,
        deadline: float | None,
        *,
        attempt: int | None = None,
    ) -> None:
        self.job_id = job.id
        self.ctx = ctx
        self.kind = kind
        self.job_type = job_type
        # start_job counted this attempt (an adopted job's attempt was counted before)
        self.attempt = job.attempts + 1 if attempt is None else attempt
        self.max_attempts = job.max_attempts
        self.timeout = job.timeout
        self.deadline = deadline
        self.timed_out = False
        self.thread_done = False  # its pool worker has returned (callables, threaded coroutines)
        self.abandoned = False  # timed out while its worker still runs
        self.threaded = False  # runs on a pool thread, within max_threads
        self.log_path = job.log_path  # an earlier attempt's log, for a retry to append to
        self.run: ProcessRun | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Future[Any] | None = None
        self._claim_lock = threading.Lock()
        self._claimed = False

    def claim(self) -> bool:
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def timeout_message(self) -> str:
        return f"timed out after {self.timeout:g} s"


class Runner(QObject):
    """Runs queued jobs: at most ``max_workers`` at once, by priority, dependencies and time.

    Create it, ``start()`` it and ``shutdown()`` it on the GUI thread. On construction it
    installs the tracker's enqueue hook, so from then on ``tracker.enqueue`` validates params
    against the job type (``registry``'s, plus the built-in ``command``) and raises a
    ValueError naming the field, with no job created.

    ``clock`` (default: the tracker's) decides when ``run_at``, backoff, timeouts and
    heartbeats are due; with a fake clock, advance it and call :meth:`poke`. ``grace`` is how
    long a cancelled process gets between SIGTERM and SIGKILL. ``log_dir`` holds the command
    logs (default: ``<database>.d/logs/``, see :mod:`~jobdeck.runtime.store_files`, or a
    temporary directory for ``:memory:``); the directory is private (0700), each log 0600.
    ``max_log_bytes`` caps each log file: past it, the log keeps its first quarter and its
    latest output with a line saying how much was left out between (default 64 MiB, or
    the ``JOBDECK_MAX_LOG_BYTES`` environment variable; at least 64 KiB; None: no cap).

    Process jobs: ``records_dir`` holds their supervisor records (default:
    ``<database>.d/supervised/``; private, 0700), ``channel_dir`` the progress channel's
    socket (default: one directory per database in the user's runtime directory; when no
    safe one exists, jobs run without the channel and their logs say so). A job that used
    the channel and then says nothing for ``heartbeat_timeout`` s is stale (see
    :meth:`stale_jobs`), for twice that it is killed and failed. Cancelling a job that is
    connected to the channel sends it ``cancel`` first and SIGTERM ``cancel_delay`` s later.
    :meth:`start` adopts ``command`` jobs left running by an earlier app (open the tracker
    with ``reattach=Runner.can_reattach``); ``shutdown(keep_processes=True)`` leaves them
    running for the next one.

    ``switch_interval``: CPython lets a thread that waits for the GIL take it only after the
    holder ran for ``sys.getswitchinterval()`` (5 ms), and then any waiter may win; with
    eight CPU-bound job threads the GUI thread can wait 100+ ms for its turn. While started,
    the Runner sets the interval to this value (0.5 ms; restored by :meth:`shutdown`), which
    keeps the GUI's p99 gap in the tens of ms. ``None`` leaves the interpreter alone.

    ``max_threads`` (default 8): how many jobs may run Python code on threads at once
    (callables, and coroutines when there is no GUI event loop), within ``max_workers``.
    Every such thread waits for the same interpreter lock as the GUI thread, and the lock
    goes to any waiter, so with N busy job threads the GUI waits about N switch intervals
    for each turn: 200 CPU-bound callables froze the GUI for seconds at a time (12.7 s was
    measured), whatever the switch interval. More threads than a handful buy no speed for
    Python code either. Callables beyond the budget wait, pending, in priority order, while
    process and coroutine jobs (which need no thread of their own) still start up to
    ``max_workers``. I/O-bound work that wants hundreds of concurrent waits is best written
    as a coroutine job; raise ``max_threads`` for blocking I/O callables.

    Emits no public signals: widgets use :class:`~jobdeck.runtime.signals.JobSignals`.
    """

    #: Internal: queued to the GUI thread to run one scheduling pass.
    _scheduleRequested = Signal()

    def __init__(
        self,
        tracker: JobTracker,
        max_workers: int = 4,
        parent: QObject | None = None,
        grace: float = 5.0,
        log_dir: str | Path | None = None,
        clock: Clock | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        rng: random.Random | None = None,
        switch_interval: float | None = DEFAULT_SWITCH_INTERVAL,
        heartbeat_timeout: float = 30.0,
        cancel_delay: float = 1.0,
        channel_dir: str | Path | None = None,
        records_dir: str | Path | None = None,
        max_log_bytes: int | str | None = "default",
        max_threads: int = DEFAULT_MAX_THREADS,
    ) -> None:
        super().__init__(parent)
        _check_workers(max_workers)
        _check_workers(max_threads, "max_threads")
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
            raise ValueError(f"grace must be a number of seconds >= 0, got {grace!r}")
        self._tracker = tracker
        self._max_workers = max_workers
        self._max_threads = max_threads
        self._grace = float(grace)
        self._clock: Clock = clock if clock is not None else tracker.now
        self._loop = loop
        self._rng = rng or random.Random()
        if switch_interval is not None and not switch_interval > 0:
            raise ValueError(f"switch_interval must be positive seconds, got {switch_interval!r}")
        self._switch_interval = switch_interval
        self._saved_switch_interval: float | None = None
        self._log_dir_arg = Path(log_dir) if log_dir is not None else None
        self._log_dir: Path | None = None
        self._temp_logs: tempfile.TemporaryDirectory[str] | None = None
        for name, value in (
            ("heartbeat_timeout", heartbeat_timeout),
            ("cancel_delay", cancel_delay),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not heartbeat_timeout > 0:
            raise ValueError(f"heartbeat_timeout must be positive, got {heartbeat_timeout!r}")
        self._heartbeat_timeout = float(heartbeat_timeout)
        self._cancel_delay = float(cancel_delay)
        self._channel_dir_arg = Path(channel_dir) if channel_dir is not None else None
        self._records_dir_arg = Path(records_dir) if records_dir is not None else None
        self._max_log_bytes = _max_log_bytes(max_log_bytes)
        self._processes: ProcessJobs | None = None

        self._lock = threading.Lock()
        self._running: dict[str, _Execution] = {}
        self._abandoned = 0  # threads of timed-out jobs that still run (outside the budget)
        self._threads_busy = 0  # threads running a job (not abandoned), guarded by _lock
        self._schedule_requested = False
        self._started = False
        self._stopping = False
        self._unsubscribe: Callable[[], None] | None = None
        self._finished_deps: dict[str, Job] = {}
        # The pending jobs, split so a pass looks at few of them: the ready ones (no
        # dependency, not delayed) in start order, ``_ready_threaded`` for jobs that need a
        # thread and ``_ready`` for the others; ``_held`` (waiting for dependencies or time).
        self._ready: collections.deque[Job] = collections.deque()  # guarded by _lock
        self._ready_threaded: collections.deque[Job] = collections.deque()  # guarded by _lock
        #: Slots a pool thread has claimed for a chained job it is about to start.
        self._reserved = 0
        #: Thread slots a scheduling pass has claimed for the jobs it is starting.
        self._reserved_threads = 0
        #: ``active`` is True on a pool thread while it records a callable's end.
        self._chain_state = threading.local()
        self._held: list[Job] = []
        self._queue_stale = True  # rebuilt from the tracker when jobs were queued

        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(self._thread_limit())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._schedule)
        # One timer checks every process job's heartbeats while any runs.
        self._liveness_timer = QTimer(self)
        self._liveness_timer.setInterval(
            max(20, min(1000, int(self._heartbeat_timeout * 1000 / 4)))
        )
        self._liveness_timer.timeout.connect(self._check_liveness)
        self._scheduleRequested.connect(self._schedule, Qt.ConnectionType.QueuedConnection)

    # -- job types ----------------------------------------------------------------------------

    def job_type(self, name: str) -> JobType | None:
        """The job type called ``name`` in the tracker's registry."""
        registry = self._tracker.registry
        return None if registry is None else registry.get(name)

    def job_types(self) -> list[JobType]:
        """Every job type this Runner can run: the tracker's registry."""
        registry = self._tracker.registry
        return [] if registry is None else list(registry)

    # -- settings -----------------------------------------------------------------------------

    @property
    def tracker(self) -> JobTracker:
        return self._tracker

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @max_workers.setter
    def max_workers(self, value: int) -> None:
        """Change the limit while running; more jobs start at once if it grew."""
        _check_workers(value)
        with self._lock:
            self._max_workers = value
            self._pool.setMaxThreadCount(self._thread_limit() + self._abandoned)
        self._request_schedule()

    @property
    def max_threads(self) -> int:
        """How many jobs may run Python code on threads at once (see :class:`Runner`)."""
        return self._max_threads

    @max_threads.setter
    def max_threads(self, value: int) -> None:
        _check_workers(value, "max_threads")
        with self._lock:
            self._max_threads = value
            self._pool.setMaxThreadCount(self._thread_limit() + self._abandoned)
        self._request_schedule()

    def _thread_limit(self) -> int:
        return min(self._max_workers, self._max_threads)

    def _needs_thread(self, job_type: JobType | None) -> bool:
        """Does a job of this type run Python code on a pool thread? (GUI thread)"""
        if job_type is None or job_type.kind is JobKind.PROCESS:
            return False
        return job_type.kind is JobKind.CALLABLE or self._gui_loop() is None

    @property
    def log_dir(self) -> Path:
        """Where command jobs write their output (created when the first one starts)."""
        if self._log_dir is None:
            if self._log_dir_arg is not None:
                self._log_dir = self._log_dir_arg
            elif self._tracker.store.memory:
                self._temp_logs = tempfile.TemporaryDirectory(prefix="jobdeck-logs-")
                self._log_dir = Path(self._temp_logs.name)
            else:
                self._log_dir = StoreFiles(self._tracker.store.path).logs
        return self._log_dir

    def running_job_ids(self) -> list[str]:
        """Ids of the jobs this Runner is running now."""
        with self._lock:
            return list(self._running)

    def stale_jobs(self) -> dict[str, float]:
        """Process jobs silent on the channel for ``heartbeat_timeout`` or more: the
        seconds since each one's last message."""
        if self._processes is None:
            return {}
        return self._processes.stale_jobs(self._clock())

    @property
    def channel_path(self) -> Path | None:
        """The progress channel's socket while it is served, else None."""
        return None if self._processes is None else self._processes.channel_path

    def _make_process_jobs(self) -> ProcessJobs:
        store = self._tracker.store
        records = None
        if self._records_dir_arg is not None:
            records = SupervisorRecords(self._records_dir_arg)
        elif store.memory:
            records = SupervisorRecords(self.log_dir / ".supervised")
        else:
            files = StoreFiles(store.path)
            records = SupervisorRecords(files.records, legacy=files.legacy_records)
        channel_dir: Path | None = self._channel_dir_arg
        problem = None
        if channel_dir is None:
            try:
                channel_dir = default_channel_dir_for(None if store.memory else store.path)
            except ChannelError as exc:
                problem = str(exc)
        return ProcessJobs(
            self._tracker,
            clock=self._clock,
            channel_dir=channel_dir,
            channel_problem=problem,
            records=records,
            grace=self._grace,
            cancel_delay=self._cancel_delay,
            heartbeat_timeout=self._heartbeat_timeout,
            max_log_bytes=self._max_log_bytes,
        )

    # -- starting and stopping ----------------------------------------------------------------

    def start(self) -> None:
        """Start running queued jobs (those already pending too). GUI thread."""
        if self._started:
            return
        if self._stopping:
            raise RuntimeError("this Runner was shut down; create a new one")
        self._started = True
        if self._switch_interval is not None:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self._switch_interval)
        self._processes = self._make_process_jobs()
        self._processes.open()
        unsubscribe = self._unsubscribe = self._tracker.subscribe(self._on_event)
        # Destroyed without shutdown(): the tracker must stop calling into this object.
        self.destroyed.connect(lambda *_: unsubscribe())
        self._adopt_orphans()
        self._schedule()

    def poke(self) -> None:
        """Re-evaluate the queue and heartbeats now (after advancing a fake clock, for
        example). GUI thread."""
        self._check_liveness()
        self._schedule()

    def shutdown(
        self, cancel_running: bool = True, timeout: float = 10, *, keep_processes: bool = False
    ) -> bool:
        """Stop starting jobs and wait up to ``timeout`` s for running ones; GUI thread.

        With ``cancel_running`` running jobs are cancelled first (processes get a channel
        ``cancel``, SIGTERM, then SIGKILL after ``grace``); otherwise they may finish, and
        whatever still runs when ``timeout`` passes is cancelled then. With
        ``keep_processes`` process jobs are left running under their supervisors instead
        (still ``running`` in the store, for the next app to adopt). Pending jobs stay
        pending. Returns True when nothing this Runner watches is left running (a callable
        that ignores cancellation can keep its worker busy; it is logged). Idempotent.
        """
        if self._stopping:
            return self._pool.activeThreadCount() == 0
        self._stopping = True
        self._timer.stop()
        self._liveness_timer.stop()
        deadline = time.monotonic() + max(0.0, timeout)
        if keep_processes:
            self._detach_processes()
        if cancel_running:
            self._cancel_all()
        self._wait_for_jobs(deadline)
        with self._lock:
            leftover = list(self._running.values())
        if leftover and not cancel_running:
            self._cancel_all()
            self._wait_for_jobs(time.monotonic() + self._grace + 0.5)
        for ex in self._executions(_Kind.PROCESS):
            process = ex.run.process if ex.run is not None else None
            if process is not None and process.wait(0) is None:
                process.kill()
                process.wait(1.0)
        if self._processes is not None:
            self._processes.close()
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        done = self._pool.waitForDone(remaining_ms)
        if not done:
            log.warning("shutdown: a job ignored cancellation; its worker thread still runs")
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None
        if self._temp_logs is not None:
            self._temp_logs.cleanup()
            self._temp_logs = None
        with self._lock:
            return done and not self._running

    def _detach_processes(self) -> None:
        if self._processes is None:
            return
        detached = set(self._processes.detach_all())
        with self._lock:
            for job_id in detached:
                self._running.pop(job_id, None)
        if detached:
            log.info("left %d process job(s) running in the background", len(detached))

    def _cancel_all(self) -> None:
        for job_id in self.running_job_ids():
            try:
                self._tracker.cancel_job(job_id)
            except Exception:
                log.exception("could not cancel job %s at shutdown", job_id)

    def _executions(self, kind: _Kind) -> list[_Execution]:
        with self._lock:
            return [ex for ex in self._running.values() if ex.kind is kind]

    def _wait_for_jobs(self, deadline: float) -> None:
        """Wait until no job runs or ``deadline``; coroutines need the GUI loop to spin."""
        tasks = [
            ex.task
            for ex in self._executions(_Kind.COROUTINE)
            if ex.task is not None and ex.loop is not None and ex.loop is self._gui_loop()
        ]
        pending = [t for t in tasks if not t.done()]
        if pending:
            waiter = QEventLoop()

            def one_done(_task: object) -> None:
                if all(t.done() for t in pending):
                    waiter.quit()

            for task in pending:
                task.add_done_callback(one_done)
            QTimer.singleShot(max(0, int((deadline - time.monotonic()) * 1000)), waiter.quit)
            if not all(t.done() for t in pending):
                waiter.exec()
        for ex in self._executions(_Kind.PROCESS):
            if ex.run is not None and ex.run.process is not None:
                ex.run.process.wait(max(0.0, deadline - time.monotonic()))
        self._pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000)))

    # -- tracker events (any thread) ----------------------------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        kind = event.kind
        if kind is EventKind.PROGRESS or kind is EventKind.LOG:
            return
        job_id = event.job.id
        if kind is EventKind.CANCEL_REQUESTED:
            ex = self._running.get(job_id)
            if ex is not None:
                self._cancel_execution(ex)
            return
        if kind not in _SCHEDULE_ON:
            return
        if kind is not EventKind.CREATED:
            with self._lock:
                self._running.pop(job_id, None)
        elif event.job.status is not JobStatus.PENDING:
            return  # create_job: running in its caller's code, not ours
        if kind is EventKind.CREATED or kind is EventKind.RETRYING:
            self._queue_stale = True
        elif getattr(self._chain_state, "active", False):
            return  # a pool thread ending a callable: it starts the next one or asks itself
        self._request_schedule()

    def _request_schedule(self) -> None:
        with self._lock:
            if self._schedule_requested or not self._started or self._stopping:
                return
            self._schedule_requested = True
        self._scheduleRequested.emit()

    def _cancel_execution(self, ex: _Execution) -> None:
        """Pass a cancel request on; callables already see it through their context."""
        if ex.kind is _Kind.COROUTINE:
            loop, task = ex.loop, ex.task
            if loop is not None and task is not None:
                loop.call_soon_threadsafe(task.cancel)
        elif ex.kind is _Kind.PROCESS and ex.run is not None and self._processes is not None:
            self._processes.stop(ex.run, "cancelled")

    # -- scheduling (GUI thread) --------------------------------------------------------------

    @Slot()
    def _schedule(self) -> None:
        with self._lock:
            self._schedule_requested = False
        if not self._started or self._stopping or self._tracker.closed:
            return
        now = self._clock()
        next_deadline = self._check_timeouts(now)
        if self._queue_stale:
            self._queue_stale = False
            self._rebuild_queue(now)
        with self._lock:
            running = len(self._running) + self._reserved
            # Ready jobs beyond the first free slots cannot win over those before them.
            slots = max(0, self._max_workers - running)
            threads = max(0, self._thread_limit() - self._threads_busy - self._reserved_threads)
            front = self._take_front(slots, threads)
            # A pool thread chaining jobs must not take the slots this pass hands out.
            self._reserved += slots
            self._reserved_threads += threads
        try:
            self._plan_and_start(front, running, threads, now, next_deadline)
        finally:
            with self._lock:
                self._reserved -= slots
                self._reserved_threads -= threads

    def _take_front(self, slots: int, threads: int) -> list[tuple[Job, bool]]:
        """Pop the first ``slots`` ready jobs in start order, at most ``threads`` of them
        needing a thread: ``(job, needs_thread)``. Caller holds the lock."""
        front: list[tuple[Job, bool]] = []
        ready, threaded = self._ready, self._ready_threaded
        while len(front) < slots:
            use_thread = bool(threaded) and threads > 0
            if use_thread and ready:
                use_thread = _start_order(threaded[0]) < _start_order(ready[0])
            if use_thread:
                front.append((threaded.popleft(), True))
                threads -= 1
            elif ready:
                front.append((ready.popleft(), False))
            else:
                break
        return front

    def _plan_and_start(
        self,
        front: list[tuple[Job, bool]],
        running: int,
        threads: int,
        now: float,
        next_deadline: float | None,
    ) -> None:
        front_jobs = {job.id: needs_thread for job, needs_thread in front}
        plan = plan_queue(
            self._held + [job for job, _ in front],
            running=running,
            max_workers=self._max_workers,
            lookup=self._lookup,
            now=now,
        )
        # Start the plan in order, within the thread budget and the time budget of a pass.
        budget_ends = time.perf_counter() + PASS_BUDGET
        start: list[Job] = []
        for job in plan.start:
            needs_thread = front_jobs.get(job.id)
            if needs_thread is None:  # a held job whose dependencies completed
                needs_thread = self._needs_thread(self.job_type(job.type))
            if needs_thread and threads <= 0:
                continue  # it stays pending: from the queue, or held
            if needs_thread:
                threads -= 1
            start.append(job)
        taken = {job.id for job in start} | {job.id for job, _ in plan.fail}
        with self._lock:
            for queue, needs_thread in ((self._ready, False), (self._ready_threaded, True)):
                back = [j for j, t in front if t is needs_thread and j.id not in taken]
                queue.extendleft(reversed(back))
        if taken:
            self._held = [job for job in self._held if job.id not in taken]
        for job, reason in plan.fail:
            self._fail_unstartable(job, reason)
        again = False
        for index, job in enumerate(start):
            if time.perf_counter() > budget_ends:
                self._put_back(start[index:], front_jobs)
                again = True
                break
            if not self._start_job(job, now):
                again = True  # it was cancelled meanwhile: its slot is free
        if again:
            self._request_schedule()
        due = [t for t in (plan.next_due, next_deadline) if t is not None]
        with self._lock:
            due += [ex.deadline for ex in self._running.values() if ex.deadline is not None]
        self._arm_timer(min(due) if due else None, now)

    def _put_back(self, jobs: list[Job], front: dict[str, bool]) -> None:
        """Jobs a pass ran out of time to start go back where they came from, in order:
        the front of their ready queue, or the held jobs."""
        with self._lock:
            for queue, needs_thread in ((self._ready, False), (self._ready_threaded, True)):
                queue.extendleft(reversed([j for j in jobs if front.get(j.id) is needs_thread]))
        self._held.extend(j for j in jobs if j.id not in front)

    def _rebuild_queue(self, now: float) -> None:
        ready: list[Job] = []
        threaded: list[Job] = []
        self._held = []
        for job in self._tracker.pending_jobs():
            if job.depends_on or (job.run_at_ts is not None and job.run_at_ts > now):
                self._held.append(job)
            elif self._needs_thread(self.job_type(job.type)):
                threaded.append(job)
            else:
                ready.append(job)
        with self._lock:
            self._ready.clear()
            self._ready.extend(ready)
            self._ready_threaded.clear()
            self._ready_threaded.extend(threaded)

    def _arm_timer(self, due: float | None, now: float) -> None:
        if due is None:
            self._timer.stop()
            return
        delay_ms = min(MAX_TIMER_MS, max(0, math.ceil((due - now) * 1000)))
        self._timer.start(delay_ms)

    def _lookup(self, job_id: str) -> Job | None:
        job = self._finished_deps.get(job_id)
        if job is not None:
            return job
        job = self._tracker.get_job(job_id)
        if job is not None and job.finished:
            if len(self._finished_deps) >= _DEP_CACHE_SIZE:
                self._finished_deps.clear()
            self._finished_deps[job_id] = job
        return job

    def _check_timeouts(self, now: float) -> float | None:
        """Time out executions past their deadline; return the next deadline still ahead."""
        with self._lock:
            executions = list(self._running.values())
        upcoming: float | None = None
        for ex in executions:
            if ex.deadline is None or ex.timed_out:
                continue
            if ex.deadline <= now:
                self._time_out(ex)
            elif upcoming is None or ex.deadline < upcoming:
                upcoming = ex.deadline
        return upcoming

    def _time_out(self, ex: _Execution) -> None:
        ex.timed_out = True
        ex.ctx.cancel_event.set()
        if ex.kind is _Kind.PROCESS:
            if ex.run is not None and self._processes is not None:
                self._processes.stop(ex.run, ex.timeout_message())
            return
        if ex.loop is not None and ex.task is not None:
            ex.loop.call_soon_threadsafe(ex.task.cancel)
        if ex.kind is _Kind.CALLABLE or ex.loop is not self._gui_loop():
            # Its worker may never look at ctx: fail the job now and let the thread go.
            with self._lock:
                if not ex.thread_done:
                    ex.abandoned = True
                    self._abandoned += 1
                    if ex.threaded:
                        self._threads_busy -= 1  # its thread no longer counts
                    self._pool.setMaxThreadCount(self._thread_limit() + self._abandoned)
            self._conclude_failed(ex, ex.timeout_message(), retry=True)

    def _fail_unstartable(self, job: Job, reason: str) -> None:
        """Fail a pending job that can never run (``pending -> failed``, no attempt)."""
        try:
            self._tracker.fail_pending(job.id, reason)
        except (InvalidTransition, UnknownJob):
            pass  # cancelled meanwhile
        except Exception:
            log.exception("could not fail job %s (%s)", job.id, reason)

    def _start_job(self, job: Job, now: float) -> bool:
        """Start ``job``; False if it was no longer pending."""
        job_type = self.job_type(job.type)
        if job_type is None:
            registry = self._tracker.registry
            known = "no job types are registered" if registry is None else registry.known()
            self._fail_unstartable(job, f"unknown job type {job.type!r}; {known}")
            return True
        try:
            prepared = self._prepare(job, job_type)
        except ValueError as exc:
            self._fail_unstartable(job, f"invalid params: {exc}")
            return True
        if isinstance(prepared, ProcessSpec):
            kind = _Kind.PROCESS
        else:
            kind = _Kind.COROUTINE if job_type.is_async else _Kind.CALLABLE
        deadline = now + job.timeout if job.timeout is not None else None
        ex = self._begin(job, job_type, kind, deadline, threaded=self._needs_thread(job_type))
        if ex is None:
            return False  # cancelled between planning and starting
        if isinstance(prepared, ProcessSpec):
            self._start_process(ex, prepared)
        elif job_type.is_async:
            self._start_coroutine(ex, job_type.func, prepared)
        else:
            self._pool.start(functools.partial(self._run_callable, ex, job_type.func, prepared))
        return True

    @staticmethod
    def _prepare(job: Job, job_type: JobType) -> ProcessSpec | dict[str, Any]:
        """What runs: a process job's spec, or a function's keyword arguments.
        Raises ValueError for invalid params."""
        if job_type.kind is JobKind.PROCESS:
            return job_type.process_spec(job)
        return job_type.to_kwargs(job.params)

    def _begin(
        self,
        job: Job,
        job_type: JobType,
        kind: _Kind,
        deadline: float | None,
        *,
        threaded: bool,
    ) -> _Execution | None:
        """Move the job to running and register its execution (``threaded``: it takes one
        of the ``max_threads``); None if it was no longer pending (cancelled meanwhile)."""
        try:
            ctx = self._tracker.start_job(job.id)
        except (InvalidTransition, UnknownJob):
            return None
        ex = _Execution(job, ctx, job_type, kind, deadline)
        ex.threaded = threaded
        with self._lock:
            self._running[job.id] = ex
            if threaded:
                self._threads_busy += 1
        return ex

    # -- finishing (any thread) ---------------------------------------------------------------

    def _conclude(self, ex: _Execution, action: Callable[[], object]) -> None:
        if not ex.claim():
            return
        try:
            action()
        except (InvalidTransition, UnknownJob):
            log.debug("job %s was finished elsewhere", ex.job_id)
        except Exception:
            log.exception("could not record how job %s ended", ex.job_id)
        finally:
            with self._lock:
                self._running.pop(ex.job_id, None)

    def _conclude_failed(
        self,
        ex: _Execution,
        error: str | BaseException | JobError,
        *,
        retry: bool,
        exit_code: int | None = None,
        completed_ts: float | None = None,
    ) -> None:
        def fail() -> None:
            job = self._tracker.get_job(ex.job_id) if retry else None
            if job is not None and retry_allowed(job, ex.job_type):
                delay = backoff(ex.attempt, rng=self._rng)
                self._tracker.retry_later(ex.job_id, self._clock() + delay, error)
            else:
                self._tracker.complete_job(
                    ex.job_id,
                    success=False,
                    error=error,
                    exit_code=exit_code,
                    completed_ts=completed_ts,
                )

        self._conclude(ex, fail)

    def _conclude_cancelled(self, ex: _Execution) -> None:
        def cancel() -> None:
            # Its message says so, not whatever the job said last while it stopped
            # (rsync's "received SIGUSR1", say).
            ex.ctx.update_progress(ex.ctx.current, None, CANCELLED_MESSAGE)
            self._tracker.mark_cancelled(ex.job_id)

        self._conclude(ex, cancel)

    def _conclude_verdict(self, ex: _Execution, verdict: Verdict) -> None:
        if verdict.status == "cancelled":
            self._conclude_cancelled(ex)
        elif verdict.status == "completed":
            self._conclude(
                ex,
                lambda: self._tracker.complete_job(
                    ex.job_id,
                    result=verdict.result,
                    exit_code=verdict.exit_code,
                    completed_ts=verdict.completed_ts,
                ),
            )
        else:
            assert verdict.error is not None
            self._conclude_failed(
                ex,
                verdict.error,
                retry=verdict.retry,
                exit_code=verdict.exit_code,
                completed_ts=verdict.completed_ts,
            )

    def _finish_returned(self, ex: _Execution, result: object) -> None:
        if ex.timed_out:
            self._conclude_failed(ex, ex.timeout_message(), retry=True)
        elif ex.ctx.cancelled:
            self._conclude_cancelled(ex)
        else:
            try:
                check_json(result, "result")
            except ValueError as exc:
                self._conclude_failed(ex, f"returned a non-JSON result: {exc}", retry=False)
                return
            self._conclude(ex, lambda: self._tracker.complete_job(ex.job_id, result=result))

    def _finish_raised(self, ex: _Execution, exc: BaseException) -> None:
        if ex.timed_out:
            self._conclude_failed(ex, ex.timeout_message(), retry=True)
        elif isinstance(exc, Cancelled | asyncio.CancelledError) or ex.ctx.cancelled:
            self._conclude_cancelled(ex)
        else:
            self._conclude_failed(ex, exc, retry=True)

    def _worker_done(self, ex: _Execution) -> None:
        with self._lock:
            ex.thread_done = True
            if ex.abandoned:
                self._abandoned -= 1
                self._pool.setMaxThreadCount(self._thread_limit() + self._abandoned)
            elif ex.threaded:
                self._threads_busy -= 1

    # -- callables (pool thread) --------------------------------------------------------------

    def _run_callable(
        self, ex: _Execution, func: Callable[..., Any], kwargs: dict[str, Any]
    ) -> None:
        """Run a callable job, then, while the queue allows, the next ready ones in turn."""
        step: tuple[_Execution, Callable[..., Any], dict[str, Any]] | None = (ex, func, kwargs)
        while step is not None:
            ex, func, kwargs = step
            outcome: tuple[bool, Any] = (True, None)
            try:
                outcome = (True, func(ex.ctx, **kwargs))
            except BaseException as exc:
                outcome = (False, exc)
            finally:
                # Recording this job's end and starting the next share one commit.
                self._chain_state.active = True
                try:
                    with self._tracker.batch():
                        try:
                            ok, value = outcome
                            if ok:
                                self._finish_returned(ex, value)
                            else:
                                self._finish_raised(ex, value)
                        finally:
                            self._worker_done(ex)
                        step = self._take_chained_callable()
                finally:
                    self._chain_state.active = False
                if step is None:
                    self._request_schedule()  # the GUI thread starts whatever comes next

    def _take_chained_callable(
        self,
    ) -> tuple[_Execution, Callable[..., Any], dict[str, Any]] | None:
        """On a pool thread whose job just ended: start the next ready job here if it is a
        plain callable (no timeout), saving a round trip through the GUI thread.

        Anything else — a stale queue, a coroutine, a process, a job with a timeout — is left
        to :meth:`_schedule`, which the finished job's event has already requested.
        """
        with self._lock:
            if (
                self._stopping
                or not self._started
                or self._queue_stale
                or not self._ready_threaded
                or len(self._running) + self._reserved >= self._max_workers
                or self._threads_busy + self._reserved_threads >= self._thread_limit()
            ):
                return None
            job = self._ready_threaded[0]
            if self._ready and _start_order(self._ready[0]) < _start_order(job):
                return None  # a job that needs no thread comes first: the GUI starts it
            job_type = self.job_type(job.type)
            if job_type is None or job_type.kind is not JobKind.CALLABLE or job.timeout is not None:
                return None
            self._ready_threaded.popleft()
            self._reserved += 1
        try:
            try:
                kwargs = self._prepare(job, job_type)
            except ValueError as exc:
                self._fail_unstartable(job, f"invalid params: {exc}")
                return None
            assert isinstance(kwargs, dict)  # a plain callable (checked above)
            ex = self._begin(job, job_type, _Kind.CALLABLE, None, threaded=True)
            return None if ex is None else (ex, job_type.func, kwargs)
        finally:
            with self._lock:
                self._reserved -= 1

    # -- coroutines ---------------------------------------------------------------------------

    def _gui_loop(self) -> asyncio.AbstractEventLoop | None:
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_running_loop()  # qasync sets it for the GUI thread
        except RuntimeError:
            return None

    def _start_coroutine(
        self, ex: _Execution, func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        loop = self._gui_loop()
        if loop is None:
            self._pool.start(functools.partial(self._run_coroutine_in_thread, ex, func, kwargs))
            return
        task = loop.create_task(self._run_coroutine(ex, func, kwargs))
        ex.task = task
        ex.loop = loop
        task.add_done_callback(functools.partial(self._coroutine_done, ex))
        if ex.ctx.cancelled:
            task.cancel()

    async def _run_coroutine(
        self, ex: _Execution, func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        try:
            result = await func(ex.ctx, **kwargs)
        except BaseException as exc:
            self._finish_raised(ex, exc)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
        else:
            self._finish_returned(ex, result)

    def _coroutine_done(self, ex: _Execution, task: asyncio.Future[Any]) -> None:
        if task.cancelled():  # cancelled before its first step: the wrapper never ran
            self._finish_raised(ex, asyncio.CancelledError())

    def _run_coroutine_in_thread(
        self, ex: _Execution, func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        async def main() -> None:
            ex.task = asyncio.current_task()
            ex.loop = asyncio.get_running_loop()
            if ex.ctx.cancelled:
                ex.task.cancel()  # type: ignore[union-attr]
            await self._run_coroutine(ex, func, kwargs)

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            self._finish_raised(ex, asyncio.CancelledError())
        except BaseException as exc:
            self._finish_raised(ex, exc)
        finally:
            self._worker_done(ex)

    # -- processes ----------------------------------------------------------------------------

    def _start_process(self, ex: _Execution, command: ProcessSpec) -> None:
        assert self._processes is not None
        # A retry appends to the log of the earlier attempts, wherever that is (an older
        # version's folder included), so the job keeps one whole log.
        earlier = ex.log_path
        if earlier is not None and Path(earlier).is_file():
            log_path = Path(earlier)
        else:
            log_path = self.log_dir / f"{ex.job_id}.log"
        try:
            self._tracker.set_process_info(ex.job_id, log_path=str(log_path))
            ex.run = self._processes.spawn(
                ex.job_id,
                ex.ctx,
                command,
                log_path,
                on_started=functools.partial(self._on_process_started, ex),
                on_exit=functools.partial(self._on_process_exit, ex),
            )
        except ProcessStartError as exc:
            self._conclude_failed(ex, str(exc), retry=False)
            return
        except OSError as exc:  # the log, its folder or the record (unsafe, full disk, ...)
            log.warning("job %s could not start: %s", ex.job_id, exc)
            self._conclude_failed(ex, f"could not start: {exc}", retry=False)
            return
        except Exception as exc:
            self._conclude_failed(ex, exc, retry=False)
            return
        self._liveness_timer.start()
        if ex.ctx.cancelled:
            self._processes.stop(ex.run, "cancelled")

    def _on_process_started(self, ex: _Execution, pid: int) -> None:
        """Watcher thread: the program runs; record its pid (before it can finish)."""
        try:
            self._tracker.set_process_info(ex.job_id, pid=pid)
        except Exception:
            log.exception("could not record the pid of job %s", ex.job_id)

    def _on_process_exit(self, ex: _Execution, run: ProcessRun, outcome: ProcessOutcome) -> None:
        """Watcher thread: the program ended (or was lost); record how the job ends."""
        assert self._processes is not None
        timeout_message = ex.timeout_message() if ex.timed_out else None
        try:
            self._processes.settle(run)
            verdict = self._processes.verdict(run, outcome, timeout_message=timeout_message)
        except Exception as exc:
            log.exception("could not judge how job %s ended", ex.job_id)
            verdict = Verdict("failed", error=f"internal error: {exc}")
        try:
            self._conclude_verdict(ex, verdict)
        finally:
            self._processes.forget(run)

    def _adopt_orphans(self) -> None:
        """Take over the process jobs an earlier app left running (the tracker's
        :meth:`~jobdeck.core.tracker.JobTracker.jobs_to_reattach`)."""
        assert self._processes is not None
        now = self._clock()
        for job in self._tracker.jobs_to_reattach():
            ctx = self._tracker.context(job.id)
            if ctx is None:
                continue
            with self._lock:
                if job.id in self._running:
                    continue
            job_type = self.job_type(job.type)
            deadline = None
            if job.timeout is not None:
                deadline = (job.started_ts if job.started_ts is not None else now) + job.timeout
            ex = _Execution(job, ctx, job_type, _Kind.PROCESS, deadline, attempt=job.attempts)
            with self._lock:
                self._running[job.id] = ex
            adopted = self._processes.adopt(
                job, ctx, on_exit=functools.partial(self._on_process_exit, ex)
            )
            if isinstance(adopted, str):
                log.warning("job %s is lost: %s", job.id, adopted)
                self._conclude_failed(ex, f"lost: {adopted}", retry=True)
                continue
            ex.run = adopted
            log.info("re-attached job %s", job.id)
            self._liveness_timer.start()
            if job.cancel_requested:
                ctx.cancel_event.set()
                self._processes.stop(adopted, "cancelled")

    @Slot()
    def _check_liveness(self) -> None:
        """GUI thread (timer or :meth:`poke`): heartbeats of the process jobs."""
        if self._processes is None:
            return
        if not self._processes.has_runs():
            self._liveness_timer.stop()
            return
        self._processes.check_liveness(self._clock())


def _max_log_bytes(value: int | str | None) -> int | None:
    """The log cap: an int (bytes), None (no cap), or "default" (``JOBDECK_MAX_LOG_BYTES``
    from the environment if set, else :data:`DEFAULT_MAX_LOG_BYTES`)."""
    where = "max_log_bytes"
    if value == "default":
        raw = os.environ.get("JOBDECK_MAX_LOG_BYTES", "").strip()
        if not raw:
            return DEFAULT_MAX_LOG_BYTES
        where = "JOBDECK_MAX_LOG_BYTES"
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{where} must be a number of bytes, got {raw!r}") from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_MAX_LOG_BYTES:
        raise ValueError(
            f"{where} must be an integer >= {MIN_MAX_LOG_BYTES} (bytes) or None, got {value!r}"
        )
    return value


def _start_order(job: Job) -> tuple[int, str]:
    """The order ready jobs start in: higher priority first, then older (ids sort by time)."""
    return -job.priority, job.id


def _check_workers(value: object, name: str = "max_workers") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
