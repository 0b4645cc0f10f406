"""The executor interface: how the scheduler hands a job to one way of running it.

The scheduler (:class:`~jobdeck.runtime.scheduler.Scheduler`) decides *what* runs next; an
:class:`Executor` decides *how* a job runs — on a thread, on the event loop, as a program,
on a cluster. Adding a way of running jobs means writing one subclass; the scheduler does
not change. It calls, on the GUI thread:

``accepts(job_type)``
    Whether this executor runs jobs of ``job_type`` (the first executor that accepts a job
    runs it).
``prepare(job, job_type)``
    What will run, checked (a function's arguments, a program's spec). A ValueError fails
    the job before it starts (``pending -> failed``), naming what is wrong.
``start(run, prepared)``
    Begin running (``run.job`` is running now). Must not block: the work reports its end,
    later and from any thread, with exactly one ``run.report(Outcome(...))``.
``cancel(run)``
    The job was asked to stop; ``run.ctx.cancelled`` already says so. Pass it on (cancel a
    task, signal a program); the run still reports how it ended.

and, where it has something to do, ``uses_thread(job_type)`` (a job that holds one of the
scheduler's ``max_threads`` while it runs: Python code on a thread shares the interpreter
lock with the GUI), ``time_out(run)`` (the run passed its deadline; by default a cancel,
after which ``run.returned``/``run.raised`` turn its end into a timeout failure),
``open(tracker, clock, host)`` and ``close(deadline)``, ``wait(deadline)`` (for running
work at shutdown), and for work that can outlive the app ``reattach(run)`` and
``detach_all()``. An executor whose worker just finished a run may report it to the
scheduler and ask for the next job to start on that same worker in one go
(``host.next_run(self, (run, outcome))``; several runs that ended together,
``host.next_runs``).

An :class:`Outcome` is the one typed result of a run: its final status, result or error,
exit code, end time and whether the failure may be retried. The scheduler records it with
one method, retrying the write when the store is in trouble.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from jobdeck.core.clock import Clock
from jobdeck.core.context import Cancelled, JobContext
from jobdeck.core.job import Job, JobError, JobStatus
from jobdeck.core.process_spec import ProcessFacts
from jobdeck.core.registry import JobType
from jobdeck.core.validation import check_json

if TYPE_CHECKING:
    from jobdeck.core.tracker import JobTracker

__all__ = ["Executor", "ExecutorHost", "Outcome", "Run", "WorkerRecord"]


class ExecutorHost(Protocol):
    """What an executor may ask of the scheduler that runs it."""

    def next_run(
        self, executor: Executor, finished: tuple[Run, Outcome] | None = None
    ) -> tuple[Run, Any] | None:
        """Report ``finished`` (a run and its outcome, as :meth:`Run.report` would) and
        start the next ready job for ``executor`` on the calling thread, in one commit: its
        run and what to run, or None to leave it to the scheduler."""
        ...

    def next_runs(
        self,
        executor: Executor,
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int | None = None,
    ) -> list[tuple[Run, Any]]:
        """:meth:`next_run` for several runs that ended together: all reported, and up to
        ``wanted`` (default: one per run) next jobs started, in one commit."""
        ...

    def hand_over(self, executor: Executor, count: int) -> list[tuple[Job, Any]]:
        """Up to ``count`` of the next ready jobs for ``executor`` to start later by itself
        (each with what to run), in queue order. They stay pending in the store; the
        scheduler leaves them to ``executor`` until :meth:`adopt` records their start or
        :meth:`give_back` returns them."""
        ...

    def adopt(
        self,
        executor: Executor,
        job_ids: list[str],
        finished: list[tuple[Run, Outcome]],
        *,
        wanted: int = 0,
    ) -> tuple[dict[str, Run | None], list[tuple[Run, Any]]]:
        """Record the start of jobs handed over (:meth:`hand_over`) that ``executor``
        started, and ``finished`` as :meth:`next_runs` does (up to ``wanted`` next jobs
        started), in one commit: each adopted job's run (None: it is no longer pending,
        e.g. cancelled; stop its work), and the next jobs. A job whose start the store
        refused is left out of the first: still handed over, adopt it again later."""
        ...

    def give_back(self, job_ids: list[str]) -> None:
        """Jobs handed over that will not start there: the scheduler runs them again."""
        ...

    def started_elsewhere(self, job_id: str, *, held: bool = False) -> None:
        """A job handed over has started (before :meth:`adopt` records it): it holds a
        slot from now on (``held``: the one :meth:`hold_slot` held for it)."""
        ...

    def hold_slot(self, count: int = 1) -> None:
        """Keep ``count`` free slots for jobs handed over that are asked to start now."""
        ...

    def release_slot(self) -> None:
        """One slot :meth:`hold_slot` held went to none of them."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """Where a job ran (a cluster worker: ``{"host": ..., "address": ...}``, stored as its
    ``metadata["worker"]``) and, when known, its resource use there."""

    worker: dict[str, Any]
    peak_rss: int | None = None
    cpu_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt of a job ended, as the scheduler records it.

    ``status`` is COMPLETED, FAILED or CANCELLED. ``ended_at`` (epoch seconds) is when it
    really ended (None: when reported; a program that ended while the app was closed has an
    earlier one). ``retry``: a failure the job may retry (if its type is retryable and it has
    attempts left); a job that could not run at all (bad params, a program that is not
    there) is not retried. ``process``: what is known of a program (pid, log file, resource
    use) not yet written, written with the end.
    """

    status: JobStatus
    result: Any = None
    error: str | BaseException | JobError | None = None
    exit_code: int | None = None
    ended_at: float | None = None
    retry: bool = False
    process: ProcessFacts | None = None
    #: Where it ran and what it used there (a cluster worker), written with its end.
    worker: WorkerRecord | None = None

    def __post_init__(self) -> None:
        if not JobStatus(self.status).finished:
            raise ValueError(f"an outcome is completed, failed or cancelled, not {self.status}")
        if self.error is not None and self.status is not JobStatus.FAILED:
            raise ValueError("only a failed outcome has an error")

    @classmethod
    def completed(cls, result: Any = None, **kw: Any) -> Outcome:
        return cls(JobStatus.COMPLETED, result=result, **kw)

    @classmethod
    def failed(cls, error: str | BaseException | JobError, **kw: Any) -> Outcome:
        return cls(JobStatus.FAILED, error=error, **kw)

    @classmethod
    def cancelled(cls, **kw: Any) -> Outcome:
        return cls(JobStatus.CANCELLED, **kw)

    def at(self, ended_at: float) -> Outcome:
        """This outcome with its end time (when it has none yet)."""
        return self if self.ended_at is not None else replace(self, ended_at=ended_at)


class Run:
    """One attempt of one job, shared by the scheduler and the executor running it.

    ``job`` is the job as it started, ``job_type`` its type (None for a job re-attached
    after a restart whose type this app does not know), ``ctx`` its context. ``handle`` is
    the executor's own (a task, a program watcher). :meth:`report` is called once, from any
    thread; later calls (a job that returns after it timed out) are ignored.
    """

    def __init__(
        self,
        job: Job,
        job_type: JobType | None,
        ctx: JobContext,
        executor: Executor,
        *,
        deadline: float | None,
        reattached: bool,
        report: Callable[[Run, Outcome], None],
    ) -> None:
        self.job = job
        self.job_id = job.id
        self.job_type = job_type
        self.ctx = ctx
        self.executor = executor
        #: Clock time after which the job has run too long (None: no timeout).
        self.deadline = deadline
        #: Set when the deadline is a relative timeout's: the message it fails the job with.
        self.relative_timeout: str | None = None
        self.timed_out = False
        #: True for a job an earlier app left running, taken over by this one.
        self.reattached = reattached
        #: True while it holds one of the scheduler's threads.
        self.uses_thread = False
        self.handle: Any = None
        #: Called once its outcome is stored (or found stored elsewhere), on the thread
        #: that stored it: what the executor keeps until then (a program's end, which the
        #: supervisor service holds until the app has stored it). None: nothing.
        self.on_stored: Callable[[], None] | None = None
        self._report = report
        self._claim = threading.Lock()
        self._reported = False

    @property
    def timeout_message(self) -> str:
        if self.relative_timeout is not None:
            return self.relative_timeout  # "took 3.0x its usual 4 min; stopped"
        return f"timed out after {self.job.timeout:g} s"

    @property
    def reported(self) -> bool:
        return self._reported

    def claim(self) -> bool:
        """Take the right to report the run's end; False if it was reported already."""
        with self._claim:
            if self._reported:
                return False
            self._reported = True
            return True

    def report(self, outcome: Outcome) -> None:
        """How the run ended (first call only)."""
        if self.claim():
            self._report(self, outcome)

    # -- outcomes of Python code (callables and coroutines) ------------------------------------

    def returned(self, result: object) -> Outcome:
        """The outcome of code that returned ``result``: a timeout or a cancel request wins;
        a result that is not JSON fails the job (no retry: it would return the same)."""
        if self.timed_out:
            return Outcome.failed(self.timeout_message, retry=True)
        if self.ctx.cancelled:
            return Outcome.cancelled()
        try:
            check_json(result, "result")
        except ValueError as exc:
            return Outcome.failed(f"returned a non-JSON result: {exc}")
        return Outcome.completed(result)

    def raised(self, exc: BaseException) -> Outcome:
        """The outcome of code that raised ``exc``: a timeout, a cancel (``Cancelled``,
        ``CancelledError``, or any exception once cancelled), else a failure to retry."""
        if self.timed_out:
            return Outcome.failed(self.timeout_message, retry=True)
        if isinstance(exc, Cancelled | asyncio.CancelledError) or self.ctx.cancelled:
            return Outcome.cancelled()
        return Outcome.failed(exc, retry=True)

    def __repr__(self) -> str:
        return f"<Run {self.job_id} {self.executor.__class__.__name__}>"


class Executor:
    """A way of running jobs (see the module). Subclasses override :meth:`accepts`,
    :meth:`start` and :meth:`cancel`, and whatever else they need."""

    #: The tracker, clock and scheduler, once :meth:`open` was called.
    tracker: JobTracker
    clock: Clock
    host: ExecutorHost | None = None

    def accepts(self, job_type: JobType) -> bool:
        raise NotImplementedError

    def uses_thread(self, job_type: JobType) -> bool:
        """Whether a job of ``job_type`` holds one of the scheduler's threads while it runs."""
        return False

    def open(self, tracker: JobTracker, clock: Clock, host: ExecutorHost | None = None) -> None:
        """The scheduler ``host`` starts (GUI thread)."""
        self.tracker = tracker
        self.clock = clock
        self.host = host

    def expect(self, job_type: JobType) -> None:
        """A job of ``job_type`` was queued (any thread; returns at once): get ready to run
        it, e.g. load what the first such job needs in the background. Default: nothing."""

    def prepare(self, job: Job, job_type: JobType) -> Any:
        """What runs for ``job``; ValueError (naming the field) when it cannot run."""
        return job_type.to_kwargs(job.params)

    def start(self, run: Run, prepared: Any) -> None:
        raise NotImplementedError

    def cancel(self, run: Run) -> None:
        raise NotImplementedError

    def time_out(self, run: Run) -> None:
        """``run`` passed its deadline (``run.timed_out`` is set, its context cancelled)."""
        self.cancel(run)

    def reattach(self, run: Run) -> bool:
        """Watch again a job an earlier app left running; False when this executor cannot
        (the scheduler then looks further)."""
        return False

    def started_unstored(self) -> list[tuple[str, int]]:
        """Jobs handed over (see :meth:`ExecutorHost.hand_over`) that started while an
        earlier app was going, before it stored their start: ``(job id, attempt)`` each,
        for the scheduler to adopt (start in the store and :meth:`reattach`) if the store
        still has that job pending for that attempt. GUI thread, at start. Default: none."""
        return []

    def queue_changed(self) -> None:
        """A scheduling pass is done (GUI thread): jobs may have been queued that this
        executor could take over ahead of time (see :meth:`ExecutorHost.hand_over`).
        Default: nothing."""

    def start_handed(self, count: int) -> int:
        """Slots are free while jobs handed over (see :meth:`ExecutorHost.hand_over`) wait
        for a program to end (the limit was raised): start up to ``count`` of them now, in
        the order they were handed over, each in a slot held with
        :meth:`ExecutorHost.hold_slot`. How many were asked to start. GUI thread.
        Default: none."""
        return 0

    def withdraw(self, job_id: str) -> None:
        """A job handed over (see :meth:`ExecutorHost.hand_over`) is no longer pending
        (cancelled) or should wait (a job that goes first was queued): take it back, or
        let it be adopted if it started already. Any thread. Default: nothing."""

    def detach_all(self) -> list[str]:
        """Stop watching the work that can outlive the app and leave it running; the ids
        of its jobs (they stay ``running`` for the next app to re-attach)."""
        return []

    def wait(self, deadline: float) -> None:
        """Wait (``time.monotonic()`` ``deadline``) until this executor's work has ended."""

    def close(self, deadline: float) -> bool:
        """Stop: nothing of this executor runs any more (GUI thread). False when work
        that ignores cancellation is still running at ``deadline``."""
        return True
