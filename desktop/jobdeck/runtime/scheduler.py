"""The scheduler: which queued job runs next, and when; the executors run them.

:class:`Scheduler` applies the queue policy on the GUI thread — at most ``max_workers``
jobs at once, of which at most ``max_threads`` run Python code on threads; higher priority
first, then oldest; ``depends_on``; ``run_at``; retries with backoff; timeouts — and hands
each job to the first of its executors that accepts the job's type (see
:mod:`jobdeck.runtime.executors`). It knows nothing of how a job runs: an executor reports
one :class:`~jobdeck.runtime.executors.Outcome` per run; outcomes
are written by :class:`~jobdeck.runtime.recording.OutcomeRecorder`, which keeps an outcome
the store refuses (a full disk) and writes it again later, never dropping it.

Scheduling is event driven: the scheduler subscribes to the tracker, and any event that can
free a slot or add a runnable job (created, finished, retrying) queues one scheduling pass
to the GUI thread. :func:`~jobdeck.core.queue.plan_queue` decides what starts; one
single-shot timer wakes the scheduler when the next delayed job or timeout is due (never
later than :data:`MAX_TIMER_MS`, so a far ``run_at`` or a wall-clock jump is fine). Nothing
polls. One pass spends at most :data:`PASS_BUDGET` seconds starting jobs, then lets the GUI
breathe and continues in the next pass. The pending jobs themselves are kept in a
:class:`~jobdeck.runtime.ready_queue.ReadyQueue`. (A little over 500 lines: the policy's
parts — slots, threads, time, timeouts, the chained start — share its state; starting and
stopping are :mod:`.scheduler_lifecycle`'s.)
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from jobdeck.core.clock import Clock
from jobdeck.core.context import JobContext
from jobdeck.core.events import EventKind, JobEvent
from jobdeck.core.job import InvalidTransition, Job, JobStatus
from jobdeck.core.queue import plan_queue
from jobdeck.core.registry import JobType
from jobdeck.core.store_errors import StoreWriteError
from jobdeck.core.tracker import JobTracker, UnknownJob

from .executors.base import Executor, Outcome, Run
from .ready_queue import ReadyQueue, start_order
from .recording import OutcomeRecorder
from .relative_timeout import RelativeTimeouts, timeout_factor
from .scheduler_lifecycle import Lifecycle

__all__ = ["CLAIM_WINDOW", "DEFAULT_MAX_THREADS", "MAX_TIMER_MS", "PASS_BUDGET", "Scheduler"]

log = logging.getLogger(__name__)

#: The scheduling timer never sleeps longer than this (ms), so a wall-clock jump is noticed.
MAX_TIMER_MS = 60_000
#: Jobs that run Python code on threads at once, by default (see :class:`Scheduler`).
DEFAULT_MAX_THREADS = 8
#: Seconds one scheduling pass may spend starting jobs before it yields to the GUI.
PASS_BUDGET = 0.02
#: On a shared board, how many ready jobs a worker thread looks at to start the first one
#: no other instance has taken (one claim, ``SKIP LOCKED``), instead of colliding on the
#: first job of the queue that every instance sees.
CLAIM_WINDOW = 32
#: Finished dependencies remembered (they never change), so planning needs no SQL.
_DEP_CACHE_SIZE = 4096

_FINAL = frozenset({EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED})
_SCHEDULE_ON = _FINAL | {EventKind.CREATED, EventKind.RETRYING}


class Scheduler(QObject, Lifecycle):
    """Runs queued jobs on ``executors``: at most ``max_workers`` at once, by priority,
    dependencies and time (see the module).

    Create it, :meth:`start` it and :meth:`shutdown` it on the GUI thread. The job types are
    the tracker's registry. ``clock`` (default: the tracker's) decides when ``run_at``,
    backoff and timeouts are due; with a fake clock, advance it and call :meth:`poke`.

    ``max_threads`` (default 8): how many jobs may run Python code on threads at once
    (callables; coroutines when there is no GUI event loop), within ``max_workers``. Such
    threads take turns with the GUI thread for the interpreter lock: 200 CPU-bound callables
    froze the GUI for seconds (12.7 s measured), and more threads than a handful buy Python
    code no speed. Jobs beyond the budget wait, pending, in priority order, while jobs that
    need no thread (processes, coroutines) still start. Raise it for blocking I/O callables
    (or write them as coroutines).

    Emits no public signals: widgets use :class:`~jobdeck.runtime.signals.JobSignals`.
    """

    #: Internal: queued to the GUI thread to run one scheduling pass.
    _scheduleRequested = Signal()

    def __init__(
        self,
        tracker: JobTracker,
        executors: Iterable[Executor] = (),
        max_workers: int = 4,
        parent: QObject | None = None,
        clock: Clock | None = None,
        *,
        rng: random.Random | None = None,
        max_threads: int = DEFAULT_MAX_THREADS,
    ) -> None:
        super().__init__(parent)
        _check_count(max_workers)
        _check_count(max_threads, "max_threads")
        self._tracker = tracker
        self._executors = tuple(executors)
        self._max_workers = max_workers
        self._max_threads = max_threads
        self._clock: Clock = clock if clock is not None else tracker.now
        #: A board several instances share: jobs are claimed before they start.
        self._shared = bool(tracker.store.shared)

        self._lock = threading.Lock()
        self._running: dict[str, Run] = {}  # guarded by _lock
        self._schedule_requested = False
        self._started = False
        self._stopping = False
        self._cancel_at_stop = True
        self._in_pass = False  # a scheduling pass runs (GUI thread)
        self._unsubscribe: list[Callable[[], None]] = []
        self._finished_deps: dict[str, Job] = {}
        self._queue = ReadyQueue()  # its deques: guarded by _lock
        #: Pending jobs handed over to an executor that starts them itself (see
        #: :meth:`hand_over`): out of the queue until adopted or given back (_lock).
        self._handed: dict[str, tuple[Job, Executor]] = {}
        #: Those of them that started (their executor said so) and are not adopted yet:
        #: each holds a slot (in ``_reserved``) until then.
        self._handed_started: set[str] = set()
        #: Slots held for jobs handed over that are asked to start now (see hold_slot).
        self._holds = 0
        #: Jobs taken from the queue to be started (or handed over) and not running yet:
        #: a rebuild from an older list of pending jobs must not queue them again (_lock).
        self._taking: set[str] = set()
        #: Slots and threads a scheduling pass has taken for the jobs it is starting, so a
        #: worker starting its next job meanwhile (see :meth:`next_run`) stays in bounds.
        self._reserved = 0
        self._reserved_threads = 0
        #: ``active`` is True on a worker thread inside :meth:`next_run`.
        self._chaining = threading.local()
        self._recorder = OutcomeRecorder(tracker, self._clock, self._recorded, rng=rng, parent=self)
        self._relative = RelativeTimeouts(tracker)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._schedule)
        self._scheduleRequested.connect(self._schedule, Qt.ConnectionType.QueuedConnection)

    # -- job types and settings -----------------------------------------------------------------

    @property
    def tracker(self) -> JobTracker:
        return self._tracker

    @property
    def executors(self) -> tuple[Executor, ...]:
        return self._executors

    def add_executor(self, executor: Executor) -> None:
        """Run the job types ``executor`` accepts with it (after those added before it).
        Before :meth:`start` only."""
        if self._started:
            raise RuntimeError("add executors before starting the scheduler")
        self._executors = (*self._executors, executor)

    def job_type(self, name: str) -> JobType | None:
        """The job type called ``name`` in the tracker's registry."""
        registry = self._tracker.registry
        return None if registry is None else registry.get(name)

    def job_types(self) -> list[JobType]:
        """Every job type this scheduler can run: the tracker's registry."""
        registry = self._tracker.registry
        return [] if registry is None else list(registry)

    def executor_for(self, job_type: JobType | None) -> Executor | None:
        """The executor that runs jobs of ``job_type`` (the first that accepts it)."""
        if job_type is None:
            return None
        return next((e for e in self._executors if e.accepts(job_type)), None)

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @max_workers.setter
    def max_workers(self, value: int) -> None:
        """Change the limit while running; more jobs start at once if it grew (the jobs
        handed over to an executor first, see :meth:`_start_handed`)."""
        _check_count(value)
        added = value - self._max_workers
        self._max_workers = value
        if added < 0:  # those handed over would replace the programs that end: take them back
            self._withdraw_all()
        elif added > 0 and QThread.currentThread() is self.thread():
            self._start_handed(added)
        self._request_schedule()

    @property
    def max_threads(self) -> int:
        """How many jobs may run Python code on threads at once (see :class:`Scheduler`)."""
        return self._max_threads

    @max_threads.setter
    def max_threads(self, value: int) -> None:
        _check_count(value, "max_threads")
        self._max_threads = value
        self._request_schedule()

    def _thread_limit(self) -> int:
        return min(self._max_workers, self._max_threads)

    def _needs_thread(self, job_type: JobType | None) -> bool:
        executor = self.executor_for(job_type)
        return executor is not None and job_type is not None and executor.uses_thread(job_type)

    def running_job_ids(self) -> list[str]:
        """Ids of the jobs this scheduler is running now."""
        with self._lock:
            return list(self._running)

    # -- runs ---------------------------------------------------------------------------------

    def _new_run(
        self,
        job: Job,
        ctx: JobContext,
        executor: Executor | None,
        deadline: float | None,
        *,
        reattached: bool,
    ) -> Run:
        """A run of ``job`` on ``executor`` (None: none), counted as running."""
        job_type = self.job_type(job.type)
        run = Run(
            job,
            job_type,
            ctx,
            executor if executor is not None else self._executors[0],
            deadline=deadline,
            reattached=reattached,
            report=self._recorder.record,
        )
        if executor is not None and job_type is not None:
            run.uses_thread = executor.uses_thread(job_type)
        with self._lock:
            self._running[job.id] = run
        return run

    # -- tracker events (any thread) ----------------------------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        kind = event.kind
        if kind is EventKind.PROGRESS or kind is EventKind.LOG:
            return
        job_id = event.job.id
        if kind is EventKind.CANCEL_REQUESTED:
            with self._lock:
                run = self._running.get(job_id)
            if run is not None:
                self._cancel(run)
            return
        if kind not in _SCHEDULE_ON:
            return
        if kind is not EventKind.CREATED:
            with self._lock:
                handed = self._handed.get(job_id) if kind in _FINAL else None
                mine = self._running.pop(job_id, None)
                foreign = mine is None and kind in _FINAL and self._shared
                if foreign and not self._queue.held:
                    return  # another instance's job ended: no slot here, nothing it held
            if handed is not None:  # cancelled while handed over: it must not start
                self._withdraw([(job_id, handed[1])])
        elif event.job.status is not JobStatus.PENDING:
            return  # create_job: running in its caller's code, not ours
        else:
            self._expect(event.job)
            self._queue_new(event.job)
            if self._start_now():  # (the GUI thread queueing jobs one after the other)
                with self._lock:
                    self._queue.stale = True  # all that is committed (a batch) competes
                self._schedule()
            else:
                self._request_schedule()
            return
        if kind is EventKind.RETRYING:
            self._queue.stale = True
        self._request_schedule()

    def _queue_new(self, job: Job) -> None:
        """A job was queued: into the ready queue when it is ready to start (else the
        queue is rebuilt); jobs handed over that it goes before are taken back."""
        ready = not job.depends_on and (job.run_at_ts is None or job.run_at_ts <= self._clock())
        needs_thread = self._needs_thread(self.job_type(job.type))
        with self._lock:
            busy = job.id in self._handed or job.id in self._running or job.id in self._taking
            if not ready or self._queue.stale:
                self._queue.stale = True
            elif not busy:
                self._queue.add(job, needs_thread)
            key = start_order(job)
            overtaken = [(i, e) for i, (j, e) in self._handed.items() if key < start_order(j)]
        self._withdraw(overtaken)

    def _start_now(self) -> bool:
        """Whether a job just queued on the GUI thread starts in a pass run at once (a
        slot is free and no pass is under way): queueing many jobs in a row on the GUI
        thread would otherwise leave every slot empty until it is done."""
        if self._in_pass or QThread.currentThread() is not self.thread():
            return False
        with self._lock:
            if not self._started or self._stopping:
                return False
            return len(self._running) + self._reserved < self._max_workers

    def _expect(self, job: Job) -> None:
        """A job was queued: its executor may get ready to run it (in the background)."""
        if not self._started or self._stopping:
            return
        job_type = self.job_type(job.type)
        executor = self.executor_for(job_type)
        if executor is not None and job_type is not None:
            try:
                executor.expect(job_type)
            except Exception:
                log.exception("executor could not get ready for job %s", job.id)

    def _request_schedule(self) -> None:
        if getattr(self._chaining, "active", False):
            return  # a worker recording an end and starting the next: it asks if it stops
        with self._lock:
            if self._schedule_requested or not self._started or self._stopping:
                return
            self._schedule_requested = True
        self._scheduleRequested.emit()

    def _cancel(self, run: Run) -> None:
        """Pass a cancel request on; Python code already sees it through its context."""
        if run.reported:
            return
        try:
            run.executor.cancel(run)
        except Exception:
            log.exception("could not pass the cancel request on to job %s", run.job_id)

    def _recorded(self, run: Run) -> None:
        """``run``'s outcome is recorded (any thread): its slot is free."""
        self._release(run)
        self._request_schedule()

    def _release(self, run: Run) -> None:
        with self._lock:
            if self._running.get(run.job_id) is run:
                del self._running[run.job_id]

    # -- scheduling (GUI thread) --------------------------------------------------------------

    @Slot()
    def _schedule(self) -> None:
        with self._lock:
            self._schedule_requested = False
        if self._in_pass:  # (called from inside a pass: another runs once it is done)
            self._request_schedule()
            return
        if not self._started or self._stopping or self._tracker.closed:
            return
        self._in_pass = True
        try:
            self._pass()
        finally:
            self._in_pass = False
        for executor in self._executors:  # (jobs they may take over ahead of time)
            try:
                executor.queue_changed()
            except Exception:
                log.exception("executor could not look at the queue")

    def _pass(self) -> None:
        now = self._clock()
        next_deadline = self._check_timeouts(now)
        if self._queue.stale:
            pending = self._tracker.pending_jobs()
            with self._lock:
                busy = self._handed.keys() | self._running.keys() | self._taking
                self._queue.rebuild(
                    [job for job in pending if job.id not in busy],
                    now,
                    lambda j: self._needs_thread(self.job_type(j.type)),
                )
                withdraw = self._overtaken({job.id for job in pending if job.id in self._handed})
            self._withdraw(withdraw)
        with self._lock:
            running = len(self._running) + self._reserved
            threads_busy = sum(1 for run in self._running.values() if run.uses_thread)
            # Ready jobs beyond the first free slots cannot win over those before them.
            slots = max(0, self._max_workers - running)
            threads = max(0, self._thread_limit() - threads_busy - self._reserved_threads)
            front = self._queue.take_front(slots, threads)
            taking = {job.id for job, _ in front}
            self._taking |= taking
            self._reserved += slots
            self._reserved_threads += threads
        try:
            self._plan_and_start(front, running, threads, now, next_deadline)
        finally:
            with self._lock:
                self._taking -= taking
                self._reserved -= slots
                self._reserved_threads -= threads

    def _start_handed(self, added: int) -> None:
        """The limit was raised by ``added`` (Settings ▸ Jobs at once; GUI thread): the new
        slots go first to the jobs handed over that wait for a program to end (each goes
        before every ready job, or it would have been taken back), which their executor
        starts now; the pass that follows fills the rest. The new slots stayed empty while
        they waited, or went to later jobs that overtook them. (Only then: at an end, a
        pass may see a slot free before the job that took its place in the service says
        it started.)"""
        with self._lock:
            free = min(added, self._max_workers - len(self._running) - self._reserved)
            if free <= 0:
                return
            waiting: dict[Executor, int] = {}
            for job_id, (_, executor) in self._handed.items():
                if job_id not in self._handed_started:
                    waiting[executor] = waiting.get(executor, 0) + 1
        for executor, count in waiting.items():
            if free <= 0:
                break
            try:
                free -= executor.start_handed(min(free, count))
            except Exception:
                log.exception("executor could not start the jobs handed over to it")

    def _overtaken(self, still_pending: set[str]) -> list[tuple[str, Executor]]:
        """The jobs handed over that should not start next any more (caller holds the
        lock, after a rebuild): no longer pending, or a ready job now goes first."""
        queue = self._queue
        fronts = [q[0] for q in (queue.ready, queue.threaded) if q]
        first = min(map(start_order, fronts)) if fronts else None
        return [
            (job_id, executor)
            for job_id, (job, executor) in self._handed.items()
            if job_id not in still_pending or (first is not None and first < start_order(job))
        ]

    def _withdraw_all(self) -> None:
        """Stopping: take back every job handed over (those that start meanwhile are
        adopted, and cancelled when the shutdown cancels)."""
        with self._lock:
            handed = [(job_id, executor) for job_id, (_, executor) in self._handed.items()]
        self._withdraw(handed)

    def _withdraw(self, jobs: list[tuple[str, Executor]]) -> None:
        for job_id, executor in jobs:
            try:
                executor.withdraw(job_id)
            except Exception:
                log.exception("could not take back job %s from its executor", job_id)

    def hand_over(self, executor: Executor, count: int) -> list[tuple[Job, Any]]:
        """Up to ``count`` of the next ready jobs, in queue order, for ``executor`` to start
        later by itself (any thread; see
        :meth:`ExecutorHost.hand_over <jobdeck.runtime.executors.base.ExecutorHost.hand_over>`):
        those a worker thread could start next (:meth:`_chain_window`: ``executor``'s, no
        timeout), never on a shared board or while the queue is stale."""
        handed: list[tuple[Job, Any]] = []
        wake = False
        while len(handed) < count:
            with self._lock:
                queue = self._queue
                if self._stopping or not self._started or self._shared or queue.stale:
                    break
                busy = len(self._running) + self._reserved
                if busy > self._max_workers:
                    break  # over the limit (it was lowered): an end must not be replaced
                free = busy < self._max_workers
                if free and queue.ready:
                    # A free slot starts the next ready job now (a pass), never later in
                    # the service: handed over, it would wait for a program to end.
                    wake = True
                    break
                if not queue.ready or (
                    queue.threaded and start_order(queue.threaded[0]) < start_order(queue.ready[0])
                ):
                    break  # (a job that needs a thread goes first)
                window = self._chain_window(executor, queue.ready)
                if not window:
                    break
                job = window[0]
            # Only a job still pending: one a rebuild from an older list of pending jobs
            # queued again after it started must never be handed over (it would run twice).
            now = self._tracker.get_job(job.id)
            with self._lock:
                self._taking.discard(job.id)
                if now is None or now.status is not JobStatus.PENDING or now.id in self._running:
                    continue
                self._handed[job.id] = (job, executor)
            job_type = self.job_type(job.type)
            assert job_type is not None
            try:
                handed.append((job, executor.prepare(job, job_type)))
            except ValueError as exc:
                with self._lock:
                    self._handed.pop(job.id, None)
                self._fail_unstartable(job, f"invalid params: {exc}")
        if wake:
            self._request_schedule()
        return handed

    def started_elsewhere(self, job_id: str, *, held: bool = False) -> None:
        """A job handed over has started (its executor heard it; any thread): it holds a
        slot from now on, also before :meth:`adopt` records its start (``held``: the one
        :meth:`hold_slot` held for it)."""
        with self._lock:
            if held:
                self._holds -= 1
                self._reserved -= 1
            if job_id in self._handed and job_id not in self._handed_started:
                self._handed_started.add(job_id)
                self._reserved += 1

    def hold_slot(self, count: int = 1) -> None:
        """Keep ``count`` free slots for jobs handed over that their executor asked to
        start now (any thread): each goes to one of them (:meth:`started_elsewhere` with
        ``held``) or back (:meth:`release_slot`)."""
        with self._lock:
            self._holds += count
            self._reserved += count

    def release_slot(self) -> None:
        """A slot held by :meth:`hold_slot` went to none of them: free (any thread)."""
        with self._lock:
            if self._holds <= 0:
                return
            self._holds -= 1
            self._reserved -= 1
        self._request_schedule()

    def _unreserve(self, job_id: str) -> None:
        """(caller holds the lock)"""
        if job_id in self._handed_started:
            self._handed_started.discard(job_id)
            self._reserved -= 1

    def give_back(self, job_ids: list[str]) -> None:
        """Jobs handed over that will not start there: queued here again (any thread)."""
        with self._lock:
            for job_id in job_ids:
                self._handed.pop(job_id, None)
                self._unreserve(job_id)
            self._queue.stale = True
        self._request_schedule()

    def adopt(
        self,
        executor: Executor,
        job_ids: list[str],
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int = 0,
    ) -> tuple[dict[str, Run | None], list[tuple[Run, Any]]]:
        """Record the start of handed-over jobs ``executor`` started, the ends of
        ``finished`` and the start of up to ``wanted`` next jobs, in one commit (see
        :meth:`ExecutorHost.adopt <jobdeck.runtime.executors.base.ExecutorHost.adopt>`)."""
        adopted: dict[str, Run | None] = {}
        steps = self._record_and_start(executor, finished, wanted, job_ids, adopted)
        return adopted, steps

    def _adopt_one(self, executor: Executor, job_id: str) -> Run | None:
        """Inside the caller's batch: the start of handed-over ``job_id``; None when it is
        no longer pending."""
        with self._lock:
            handed = self._handed.get(job_id)
        if handed is None:
            return None
        try:
            ctx = self._tracker.start_job(job_id)
        except (InvalidTransition, UnknownJob):
            with self._lock:
                self._handed.pop(job_id, None)
                self._unreserve(job_id)
            return None
        run = self._new_run(handed[0], ctx, executor, None, reattached=False)
        with self._lock:  # (in the queue's eyes always handed over or running)
            self._handed.pop(job_id, None)
            self._unreserve(job_id)
        if self._stopping and self._cancel_at_stop:
            self._tracker.cancel_job(job_id)  # (it started as the others were cancelled)
        return run

    def next_run(
        self, executor: Executor, finished: tuple[Run, Outcome] | None = None
    ) -> tuple[Run, Any] | None:
        """For an executor whose worker thread just ended a run: record ``finished`` (the
        run and its outcome) and, if the next ready job is ``executor``'s to run and the
        limits allow, start it — in one commit — for the caller to run on the same thread:
        ``(run, prepared)``. Short jobs then run back to back without a round trip through
        the GUI thread each. None: the next job is left to the next scheduling pass (it has
        a timeout, another executor's job comes first, the queue is stale, no slot is free).
        When the store refuses the commit, the outcome waits to be written again (see
        :class:`~jobdeck.runtime.recording.OutcomeRecorder`) and nothing is started."""
        steps = self.next_runs(executor, [] if finished is None else [finished], wanted=1)
        return steps[0] if steps else None

    def next_runs(
        self,
        executor: Executor,
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int | None = None,
    ) -> list[tuple[Run, Any]]:
        """:meth:`next_run` for several runs that ended together (a thread that heard of
        their ends at once): record them all and start up to ``wanted`` (default: one per
        run ended) of the next ready jobs in ONE commit, in queue order. When the store
        refuses it, every one of these outcomes waits to be written again and nothing is
        started."""
        count = len(finished) if wanted is None else wanted
        return self._record_and_start(executor, finished, count, [], {})

    def _record_and_start(
        self,
        executor: Executor,
        finished: list[tuple[Run, Outcome]],
        count: int,
        adopt: list[str],
        adopted: dict[str, Run | None],
    ) -> list[tuple[Run, Any]]:
        """:meth:`next_runs`, also adopting ``adopt`` (their runs into ``adopted``)."""
        recorder = self._recorder
        now = self._clock()
        # those reported already (they timed out): nothing to record
        ended = [(run, outcome.at(now)) for run, outcome in finished if run.claim()]
        steps: list[tuple[Run, Any]] = []
        self._chaining.active = True  # this thread asks for a pass itself if it stops here
        try:
            with self._tracker.batch():
                for run, outcome in ended:
                    recorder.write(run, outcome)
                    self._release(run)  # its slot is the next job's
                for job_id in adopt:  # (their slots were held for them: see started_elsewhere)
                    adopted[job_id] = self._adopt_one(executor, job_id)
                while len(steps) < count:
                    step = self._take_next(executor)
                    if step is None:
                        break
                    steps.append(step)
        except StoreWriteError:
            for run, _ in steps:
                self._forget(run)
            for job_id, maybe in list(adopted.items()):  # still handed over: adopted later
                del adopted[job_id]
                if maybe is not None:
                    with self._lock:
                        if self._running.get(job_id) is maybe:
                            del self._running[job_id]
                        self._handed[job_id] = (maybe.job, executor)
                        self._handed_started.add(job_id)
                        self._reserved += 1  # (it runs: it keeps its slot)
            with self._lock:  # not recorded: they still hold their slots
                for run, _ in ended:
                    self._running.setdefault(run.job_id, run)
            for run, outcome in ended:
                recorder.keep(run, outcome)
            steps = []
        else:
            for run, _ in ended:
                recorder.recorded(run)
        finally:
            self._chaining.active = False
        if len(steps) < count:
            self._request_schedule()
        return steps

    def _take_next(self, executor: Executor) -> tuple[Run, Any] | None:
        with self._lock:
            queue = self._queue
            if (
                self._stopping
                or not self._started
                or queue.stale
                or len(self._running) + self._reserved >= self._max_workers
            ):
                return None
            # The front of the ready jobs, as a pass would take it (take_front): one that
            # needs a thread only while the thread budget allows.
            threads_free = (
                sum(1 for r in self._running.values() if r.uses_thread) + self._reserved_threads
                < self._thread_limit()
            )
            use_thread = bool(queue.threaded) and threads_free
            if use_thread and queue.ready:
                use_thread = start_order(queue.threaded[0]) < start_order(queue.ready[0])
            source = queue.threaded if use_thread else queue.ready
            window = self._chain_window(executor, source)
            if not window:
                return None  # none, or another executor's job comes first: a pass starts it
            self._reserved += 1
            self._reserved_threads += int(use_thread)
        try:
            claimed = self._claim_first(window, source) if self._shared else window[0]
            if claimed is None:
                return None
            job = claimed
            job_type = self.job_type(job.type)
            assert job_type is not None
            try:
                prepared = executor.prepare(job, job_type)
            except ValueError as exc:
                self._fail_unstartable(job, f"invalid params: {exc}")
                return None
            try:
                ctx = self._tracker.start_job(job.id)
            except (InvalidTransition, UnknownJob):
                return None  # cancelled meanwhile
            run = self._new_run(job, ctx, executor, None, reattached=False)
            return run, prepared
        finally:
            with self._lock:
                self._taking.difference_update(job.id for job in window)
                self._reserved -= 1
                self._reserved_threads -= int(use_thread)

    def _claim_first(self, window: list[Job], source: deque[Job]) -> Job | None:
        """On a board (inside the caller's batch): the first job of ``window`` no other
        instance has taken, locked for this one to start; those after it go back to the
        front of the queue, those before it (taken elsewhere) leave it."""
        try:
            free = self._tracker.claim_free([job.id for job in window], 1)
        except StoreWriteError:
            with self._lock:
                self._queue.stale = True
            raise
        index = next((i for i, job in enumerate(window) if job.id in free), None)
        if index is None:
            return None
        with self._lock:
            source.extendleft(reversed(window[index + 1 :]))
        return window[index]

    def _chain_window(self, executor: Executor, source: deque[Job]) -> list[Job]:
        """Pop the ready jobs of ``source`` (those that need a thread or those that do
        not) a worker thread may start next on ``executor`` (caller holds the lock): the
        first one alone, or on a shared board the first :data:`CLAIM_WINDOW` in a row that
        ``executor`` runs without a timeout, to start the first of them no other instance
        has taken. Empty: leave it to a pass."""
        window: list[Job] = []
        for job in source:
            job_type = self.job_type(job.type)
            if (
                job.timeout is not None
                or timeout_factor(job, job_type) is not None  # its deadline is read at start
                or self.executor_for(job_type) is not executor
            ):
                break
            window.append(job)
            if not self._shared or len(window) >= CLAIM_WINDOW:
                break
        for _ in window:
            source.popleft()
        self._taking.update(job.id for job in window)
        return window

    def _forget(self, run: Run) -> None:
        """A run whose start was not committed: it is pending again, for a later pass."""
        with self._lock:
            if self._running.get(run.job_id) is run:
                del self._running[run.job_id]
            self._queue.stale = True
        self._request_schedule()

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
            self._queue.held + [job for job, _ in front],
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
        with self._lock:
            self._queue.settle(front, {job.id for job in start} | {job.id for job, _ in plan.fail})
        for job, reason in plan.fail:
            self._fail_unstartable(job, reason)
        again = False
        if self._shared and start:
            again = self._start_claimed(start, now)
        else:
            again = self._start_each(start, front_jobs, now, budget_ends)
        if again:
            self._request_schedule()
        due = [t for t in (plan.next_due, next_deadline) if t is not None]
        with self._lock:
            due += [run.deadline for run in self._running.values() if run.deadline is not None]
        self._arm_timer(min(due) if due else None, now)

    def _start_claimed(self, start: list[Job], now: float) -> bool:
        """On a shared board: start those of ``start`` no other instance has taken, claimed
        and started in one commit, then hand them to their executors; the others leave the
        queue (another instance runs them). True when slots are left for the next pass."""
        # A type this instance cannot run is left pending for one that can (on a file it
        # would fail as unknown: nobody else could run it).
        start = [job for job in start if self.executor_for(self.job_type(job.type)) is not None]
        if not start:
            return False
        begun: list[tuple[Run, Any]] = []
        again = False
        try:
            with self._tracker.batch():  # the claimed rows stay locked until they start
                free = set(self._tracker.claim_free([job.id for job in start], len(start)))
                again = len(free) < len(start)
                for job in start:
                    if job.id in free:
                        step = self._begin_job(job, now)
                        if isinstance(step, bool):
                            again = again or not step
                        else:
                            begun.append(step)
        except StoreWriteError:
            for run, _ in begun:
                self._forget(run)
            with self._lock:
                self._queue.stale = True  # still pending; the store's trouble is shown
            return True
        for run, prepared in begun:
            self._launch(run, prepared)
        return again

    def _start_each(
        self, start: list[Job], front_jobs: dict[str, bool], now: float, budget_ends: float
    ) -> bool:
        """Start ``start`` in order within the pass's time budget; True when a pass should
        follow (some were put back, or were no longer pending)."""
        again = False
        for index, job in enumerate(start):
            if time.perf_counter() > budget_ends:
                with self._lock:
                    self._queue.put_back(start[index:], front_jobs)
                again = True
                break
            if not self._start_job(job, now):
                again = True  # it was cancelled meanwhile: its slot is free
        return again

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
        """Time out runs past their deadline; return the next deadline still ahead."""
        with self._lock:
            runs = list(self._running.values())
        upcoming: float | None = None
        for run in runs:
            if run.deadline is None or run.timed_out or run.reported:
                continue
            if run.deadline <= now:
                run.timed_out = True
                run.ctx.cancel_event.set()
                try:
                    run.executor.time_out(run)
                except Exception:
                    log.exception("could not time out job %s", run.job_id)
            elif upcoming is None or run.deadline < upcoming:
                upcoming = run.deadline
        return upcoming

    def _fail_unstartable(self, job: Job, reason: str) -> None:
        """Fail a pending job that can never run (``pending -> failed``, no attempt)."""
        try:
            self._tracker.fail_pending(job.id, reason)
        except (InvalidTransition, UnknownJob):
            pass  # cancelled meanwhile
        except StoreWriteError:
            self._queue.stale = True  # still pending: it is planned again later
        except Exception:
            log.exception("could not fail job %s (%s)", job.id, reason)

    def _start_job(self, job: Job, now: float) -> bool:
        """Start ``job``; False if it was no longer pending."""
        step = self._begin_job(job, now)
        if isinstance(step, bool):
            return step
        self._launch(*step)
        return True

    def _begin_job(self, job: Job, now: float) -> tuple[Run, Any] | bool:
        """Move ``job`` to running: ``(run, prepared)`` for :meth:`_launch`; True when it
        was failed as unstartable (or the store refused it: it stays pending), False when
        it was no longer pending."""
        job_type = self.job_type(job.type)
        executor = self.executor_for(job_type)
        if job_type is None or executor is None:
            registry = self._tracker.registry
            known = "no job types are registered" if registry is None else registry.known()
            why = f"unknown job type {job.type!r}; {known}"
            if job_type is not None:
                why = f"nothing here runs {job_type.kind} job types like {job.type!r}"
            self._fail_unstartable(job, why)
            return True
        try:
            prepared = executor.prepare(job, job_type)
        except ValueError as exc:
            self._fail_unstartable(job, f"invalid params: {exc}")
            return True
        try:
            ctx = self._tracker.start_job(job.id)
        except (InvalidTransition, UnknownJob):
            return False  # cancelled between planning and starting
        except StoreWriteError:
            self._queue.stale = True  # still pending; the store's trouble is shown
            return True
        absolute = now + job.timeout if job.timeout is not None else None
        deadline, relative_message = self._relative.deadline(job, job_type, now, absolute)
        run = self._new_run(job, ctx, executor, deadline, reattached=False)
        run.relative_timeout = relative_message
        return run, prepared

    def _launch(self, run: Run, prepared: Any) -> None:
        """Hand a started run to its executor."""
        try:
            run.executor.start(run, prepared)
        except Exception as exc:
            log.exception("job %s could not start", run.job_id)
            run.report(Outcome.failed(f"could not start: {exc}"))
        if run.ctx.cancelled:
            self._cancel(run)


def _check_count(value: object, name: str = "max_workers") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
