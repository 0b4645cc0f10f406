"""The :class:`JobTracker`: the one place that changes jobs.

Every transition is checked against the transition table, committed to the store, and only
then announced to subscribers. Progress and log lines are coalesced: running code writes
them into its :class:`JobContext` (no lock, no SQL); a pump thread forwards the latest
values to subscribers at most every ``event_interval`` seconds and writes them to the store
about every ``flush_interval`` seconds, many jobs per transaction.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import threading
import traceback as traceback_module
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from .clock import Clock, system_clock
from .context import Cancelled, JobContext
from .events import EventKind, JobEvent, LogEntry
from .job import Job, JobError, JobStatus, Progress, check_transition, new_job_id
from .store import Store, StoreReadOnly, default_db_path
from .validation import check_json, check_progress_number

log = logging.getLogger(__name__)

__all__ = ["EnqueueHook", "JobTracker", "Subscriber", "UnknownJob"]

Subscriber = Callable[[JobEvent], None]
#: ``hook(type, params) -> (normalized params, default title)``; raises ValueError.
EnqueueHook = Callable[[str, dict[str, Any]], tuple[dict[str, Any], str]]

DEFAULT_RETENTION = timedelta(days=7)
_INTERRUPTED = "interrupted: Jobdeck stopped while this job was running"


class UnknownJob(KeyError):
    """No job has this id."""

    def __str__(self) -> str:
        return f"no job with id {self.args[0]!r}"


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(seconds)


def _timestamp(value: datetime | float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a datetime or epoch seconds, got {value!r}")
    return float(value)


class JobTracker:
    """Creates, runs through their states, stores and announces jobs. Thread-safe.

    Subscribers are called synchronously, in order, after the change behind each event is
    committed: by the thread that made the change, or — when several threads change jobs at
    once and their changes share one commit — by the thread that commits the group; progress
    and log events come from the tracker's pump thread. Subscribers must be quick; one that
    raises is logged and otherwise ignored.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        retention: timedelta | None = DEFAULT_RETENTION,
        is_retryable: Callable[[str], bool] | None = None,
        flush_interval: float = 1.0,
        event_interval: float = 1 / 30,
        reattach: Callable[[Job], bool] | None = None,
    ) -> None:
        self.store = store
        self.now: Clock = clock
        self.retention = retention
        self.flush_interval = flush_interval
        self.event_interval = event_interval
        self._lock = _GroupCommitLock(self)
        self._txn_open = False
        self._unannounced: collections.deque[JobEvent] = collections.deque()
        self._announcing = False
        self._subscribers: tuple[Subscriber, ...] = ()
        self._enqueue_hook: EnqueueHook | None = None
        #: Every pending or running job, latest snapshot (progress as last forwarded).
        self._active: dict[str, Job] = {}
        self._contexts: dict[str, JobContext] = {}
        self._event_seq: dict[str, int] = {}
        self._flushed_seq: dict[str, int] = {}
        self._logs: collections.deque[LogEntry] = collections.deque()
        self._log_events: collections.deque[LogEntry] = collections.deque()
        self._closed = False
        self._wake = threading.Event()
        #: True while the pump sleeps with no timeout (nothing runs); see :meth:`_wake_pump`.
        self._pump_asleep = False
        self._pump: threading.Thread | None = None
        if not store.read_only:
            self._recover(is_retryable or (lambda _type: False), reattach)
            for job in store.with_status(JobStatus.PENDING):
                self._active[job.id] = job

    # -- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        clock: Clock = system_clock,
        retention: timedelta | None = DEFAULT_RETENTION,
        is_retryable: Callable[[str], bool] | None = None,
        flush_interval: float = 1.0,
        event_interval: float = 1 / 30,
        reattach: Callable[[Job], bool] | None = None,
    ) -> JobTracker:
        """Open (creating, migrating and recovering as needed) the store at ``path``.

        ``None`` means ``$JOBDECK_DB`` or the platform user-data directory; ``":memory:"``
        an in-memory store. ``reattach(job)`` is asked about each job left ``running``
        before it is failed or re-queued: True keeps it running, with a context, for the
        runtime to take over (a process that outlived the app). Raises
        :class:`~jobdeck.core.store.StoreError` subclasses for a corrupt, too-new or locked
        file.
        """
        store = Store(default_db_path() if path is None else path, read_only=read_only)
        try:
            return cls(
                store,
                clock=clock,
                retention=retention,
                is_retryable=is_retryable,
                flush_interval=flush_interval,
                event_interval=event_interval,
                reattach=reattach,
            )
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Flush progress and logs, stop the pump and close the store. Idempotent.

        Jobs still running stay ``running`` in the store; the next open recovers them.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(timeout=10)
        with self._lock:
            if not self.store.read_only:
                self._flush_locked()
                self._commit_and_announce()
            self.store.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    def __enter__(self) -> JobTracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _recover(
        self, is_retryable: Callable[[str], bool], reattach: Callable[[Job], bool] | None
    ) -> None:
        """Fail or re-queue jobs left running by a previous process (unless ``reattach``
        keeps them running); apply retention."""
        now = self.now()
        kept: list[Job] = []
        with self.store.transaction() as conn:
            for job in self.store.with_status(JobStatus.RUNNING):
                if reattach is not None and _asks_to_keep(reattach, job):
                    kept.append(job)
                    log.info("job %s left running for the runtime to re-attach", job.id)
                    continue
                changes: dict[str, Any]
                if job.attempts < job.max_attempts and is_retryable(job.type):
                    changes = {
                        "status": JobStatus.PENDING,
                        "started_ts": None,
                        "cancel_requested": False,
                        "pid": None,
                        "error": JobError(_INTERRUPTED),
                    }
                else:
                    p = job.progress
                    where = f" at {p.current:g}/{p.total:g}" if p.total else ""
                    changes = {
                        "status": JobStatus.FAILED,
                        "completed_ts": max(now, job.started_ts or now),
                        "error": JobError(f"{_INTERRUPTED}{where}"),
                    }
                recovered = _evolve(job, changes)
                self.store.save_fields(conn, recovered, frozenset(changes))
                log.info("recovered job %s as %s", job.id, recovered.status.value)
            if self.retention is not None:
                removed = self.store.delete_finished_before(
                    conn, now - self.retention.total_seconds()
                )
                if removed:
                    log.info("deleted %d finished jobs older than %s", removed, self.retention)
        for job in kept:
            self._track_running(job)

    # -- subscribing --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the changes inside the block share one commit (and send their events after
        it), e.g. to queue many jobs at once. The tracker is locked for the whole block, so
        keep it short: tracker calls only, no waiting on other threads that use it."""
        with self._lock:
            yield

    def set_enqueue_hook(self, hook: EnqueueHook | None) -> None:
        """Validate and normalise params in :meth:`enqueue` (the runtime installs one)."""
        self._enqueue_hook = hook

    def _emit(self, kind: EventKind, job: Job, entry: LogEntry | None = None) -> None:
        """Queue an event; it is sent once the change behind it is committed (caller holds
        the lock; see :class:`_GroupCommitLock`)."""
        self._unannounced.append(JobEvent(kind, job, entry))

    def _conn(self) -> Any:
        """The connection, inside the open group transaction (begun here if needed)."""
        conn = self.store.conn
        if not self._txn_open:
            conn.execute("BEGIN IMMEDIATE")
            self._txn_open = True
        return conn

    def _commit_and_announce(self) -> None:
        """Commit the open group transaction, then send the queued events, in order."""
        if self._announcing:
            return  # a subscriber called back into the tracker: the outer loop carries on
        self._announcing = True
        try:
            while True:
                if self._txn_open:
                    self._txn_open = False
                    try:
                        self.store.conn.execute("COMMIT")
                    except Exception:
                        log.exception("committing job changes failed; rolling back")
                        with contextlib.suppress(Exception):
                            self.store.conn.execute("ROLLBACK")
                        self._unannounced.clear()
                        raise
                if not self._unannounced:
                    return
                event = self._unannounced.popleft()
                for callback in self._subscribers:
                    try:
                        callback(event)
                    except Exception:
                        log.exception(
                            "job event subscriber %r failed on %s %s",
                            callback,
                            event.kind,
                            event.job.id,
                        )
        finally:
            self._announcing = False

    # -- creating -----------------------------------------------------------------------------

    def _readable(self) -> None:
        if self._closed:
            raise RuntimeError("the job tracker is closed")

    def _writable(self) -> None:
        if self.store.read_only:
            raise StoreReadOnly(f"{self.store.path} is open read-only; it cannot change jobs")
        if self._closed:
            raise RuntimeError("the job tracker is closed")

    def create_job(
        self,
        type: str,
        *,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        priority: int = 0,
        total: float = 0,
        message: str = "",
    ) -> JobContext:
        """Create a job that is running now, in the caller's code; returns its context.

        Finish it with :meth:`complete_job` (or use the context as a ``with`` block).
        """
        self._writable()
        type = _check_type(type)
        fields = _common_fields(title, metadata, params, priority)
        total = check_progress_number("total", total)
        now = self.now()
        job = Job(
            id=new_job_id(now),
            type=type,
            title=fields["title"] or type,
            status=JobStatus.RUNNING,
            created_ts=now,
            started_ts=now,
            attempts=1,
            priority=fields["priority"],
            params=fields["params"],
            metadata=fields["metadata"],
            progress=Progress(0, total, message),
        )
        with self._lock:
            self._writable()
            self.store.insert(self._conn(), job)
            ctx = self._track_running(job)
            self._emit(EventKind.CREATED, job)
            self._emit(EventKind.STARTED, job)
        return ctx

    def enqueue(
        self,
        type: str,
        params: Mapping[str, Any] | None = None,
        *,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: int = 0,
        depends_on: Sequence[str] = (),
        run_at: datetime | float | None = None,
        max_attempts: int = 1,
        timeout: float | timedelta | None = None,
        retry_of: str | None = None,
    ) -> Job:
        """Queue a job for the runtime to run; returns the pending :class:`Job`.

        Raises ValueError (naming the field) for bad input; nothing is written then.
        """
        self._writable()
        type = _check_type(type)
        fields = _common_fields(title, metadata, params, priority)
        default_title = type
        if self._enqueue_hook is not None:
            fields["params"], default_title = self._enqueue_hook(type, fields["params"])
            check_json(fields["params"], "params")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        timeout_s = _seconds(timeout, "timeout")
        run_at_ts = _timestamp(run_at, "run_at")
        if isinstance(depends_on, str):
            raise ValueError("depends_on must be a list of job ids, not a single string")
        deps = tuple(depends_on)
        now = self.now()
        job = Job(
            id=new_job_id(now),
            type=type,
            title=fields["title"] or default_title,
            status=JobStatus.PENDING,
            created_ts=now,
            priority=fields["priority"],
            params=fields["params"],
            metadata=fields["metadata"],
            max_attempts=max_attempts,
            run_at_ts=run_at_ts,
            timeout=timeout_s,
            depends_on=deps,
            retry_of=retry_of,
        )
        with self._lock:
            self._writable()
            for dep in deps:
                if not isinstance(dep, str) or (
                    dep not in self._active and not self.store.exists(dep)
                ):
                    raise ValueError(f"depends_on: no job with id {dep!r}")
            self.store.insert(self._conn(), job)
            self._active[job.id] = job
            self._emit(EventKind.CREATED, job)
        return job

    def rerun(self, job_id: str) -> Job:
        """Queue a new job with the same type, params and settings as ``job_id``."""
        old = self.get_job(job_id)
        if old is None:
            raise UnknownJob(job_id)
        return self.enqueue(
            old.type,
            old.params,
            title=old.title,
            metadata=old.metadata,
            priority=old.priority,
            max_attempts=old.max_attempts,
            timeout=old.timeout,
            retry_of=old.id,
        )

    # -- transitions --------------------------------------------------------------------------

    def _require(self, job_id: str) -> Job:
        job = self._active.get(job_id)
        if job is not None:
            return self._with_live_progress(job)
        stored = self.store.get(job_id)
        if stored is None:
            raise UnknownJob(job_id)
        return stored

    def _track_running(self, job: Job) -> JobContext:
        p = job.progress
        ctx = JobContext(self, job.id, p.current, p.total, p.message)
        self._active[job.id] = job
        self._contexts[job.id] = ctx
        self._event_seq[job.id] = 0
        self._flushed_seq[job.id] = 0
        self._ensure_pump()
        self._wake_pump()
        return ctx

    def _untrack(self, job_id: str) -> None:
        self._active.pop(job_id, None)
        self._contexts.pop(job_id, None)
        self._event_seq.pop(job_id, None)
        self._flushed_seq.pop(job_id, None)

    def _transition(self, job: Job, kind: EventKind, **changes: Any) -> Job:
        """Check, commit, then announce one transition (caller holds the lock)."""
        new = _evolve(job, changes)
        check_transition(job.id, job.status, new.status)
        fields = frozenset(changes) | _ALWAYS_SAVED
        conn = self._conn()
        self.store.save_fields(conn, new, fields)
        if new.status.finished:
            logs = self._take_logs(job.id)
            if logs:
                self.store.add_logs(conn, logs)
        if new.status is JobStatus.PENDING:
            self._untrack(job.id)
            self._active[job.id] = new
        elif new.status.finished:
            self._untrack(job.id)
        self._emit(kind, new)
        return new

    def start_job(self, job_id: str) -> JobContext:
        """Move a pending job to running (counting an attempt); returns its context."""
        self._writable()
        with self._lock:
            job = self._require(job_id)
            now = self.now()
            new = self._transition(
                job,
                EventKind.STARTED,
                status=JobStatus.RUNNING,
                started_ts=now,
                completed_ts=None,
                attempts=job.attempts + 1,
                progress=Progress(0, 0, ""),
                cancel_requested=False,
            )
            return self._track_running(new)

    def complete_job(
        self,
        job_id: str,
        success: bool = True,
        result: Any = None,
        error: str | BaseException | JobError | None = None,
        *,
        traceback: str | None = None,
        exit_code: int | None = None,
        completed_ts: float | None = None,
    ) -> Job:
        """Finish a running job as completed (``success``) or failed (with ``error``).

        ``completed_ts`` (epoch seconds) says when it ended if that was before now (a
        process that ended while the app was not running); default: now."""
        self._writable()
        if success:
            check_json(result, "result")
        job_error = None if success else _as_error(error, traceback)
        with self._lock:
            job = self._require(job_id)
            end = self.now() if completed_ts is None else float(completed_ts)
            changes: dict[str, Any] = {"completed_ts": end}
            if exit_code is not None:
                changes["exit_code"] = exit_code
            if success:
                return self._transition(
                    job, EventKind.COMPLETED, status=JobStatus.COMPLETED, result=result, **changes
                )
            return self._transition(
                job, EventKind.FAILED, status=JobStatus.FAILED, error=job_error, **changes
            )

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a job. False if it is unknown or already finished.

        A pending job is cancelled at once. A running job is asked to stop: its context's
        ``cancelled`` turns True and its ``cancel_requested`` is stored; it becomes
        ``cancelled`` when its code stops (see :meth:`mark_cancelled`).
        """
        self._writable()
        with self._lock:
            try:
                job = self._require(job_id)
            except UnknownJob:
                return False
            if job.status is JobStatus.PENDING:
                self._transition(
                    job, EventKind.CANCELLED, status=JobStatus.CANCELLED, completed_ts=self.now()
                )
                return True
            if job.status is not JobStatus.RUNNING:
                return False
            ctx = self._contexts.get(job_id)
            if ctx is not None:
                ctx.cancel_event.set()
            if not job.cancel_requested:
                new = _evolve(job, {"cancel_requested": True})
                self.store.save_fields(self._conn(), new, frozenset({"cancel_requested"}))
                self._active[job_id] = new
                self._emit(EventKind.CANCEL_REQUESTED, new)
            return True

    def mark_cancelled(self, job_id: str, reason: str | None = None) -> Job:
        """Finish a running job as cancelled (its code stopped because it was asked to)."""
        self._writable()
        with self._lock:
            job = self._require(job_id)
            return self._transition(
                job,
                EventKind.CANCELLED,
                status=JobStatus.CANCELLED,
                completed_ts=self.now(),
                error=JobError(reason) if reason else job.error,
            )

    def retry_later(
        self, job_id: str, run_at: datetime | float | None, error: str | BaseException | JobError
    ) -> Job:
        """Put a failed attempt of a running job back in the queue (``running -> pending``)."""
        self._writable()
        run_at_ts = _timestamp(run_at, "run_at")
        with self._lock:
            job = self._require(job_id)
            if job.status is JobStatus.RUNNING and job.attempts >= job.max_attempts:
                raise ValueError(f"job {job_id} has used all {job.max_attempts} attempts")
            return self._transition(
                job,
                EventKind.RETRYING,
                status=JobStatus.PENDING,
                run_at_ts=run_at_ts,
                error=_as_error(error, None),
                started_ts=None,
                pid=None,
                cancel_requested=False,
            )

    def set_process_info(
        self,
        job_id: str,
        *,
        pid: int | None = None,
        log_path: str | None = None,
        exit_code: int | None = None,
    ) -> Job:
        """Record a process job's pid, log file or exit code (no status change)."""
        self._writable()
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            changes: dict[str, Any] = {
                k: v
                for k, v in (("pid", pid), ("log_path", log_path), ("exit_code", exit_code))
                if v is not None
            }
            new = _evolve(job, changes)
            self.store.save_fields(self._conn(), new, frozenset(changes))
            self._active[job_id] = new
            self._emit(EventKind.UPDATED, new)
            return new

    def set_resource_usage(
        self, job_id: str, *, peak_rss: int | None, cpu_seconds: float | None
    ) -> Job:
        """Record a process job's peak RSS (bytes) and CPU seconds (no status change)."""
        self._writable()
        for name, value in (("peak_rss", peak_rss), ("cpu_seconds", cpu_seconds)):
            if value is not None:
                check_progress_number(name, value)
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            changes: dict[str, Any] = {
                "peak_rss": None if peak_rss is None else int(peak_rss),
                "cpu_seconds": None if cpu_seconds is None else float(cpu_seconds),
            }
            new = _evolve(job, changes)
            self.store.save_fields(self._conn(), new, frozenset(changes))
            self._active[job_id] = new
            self._emit(EventKind.UPDATED, new)
            return new

    def _finish_from_context(self, ctx: JobContext, exc: BaseException | None) -> None:
        """``with ctx:`` exit: finish the job unless its code already did."""
        with self._lock:
            job = self._active.get(ctx.job_id)
            if job is None or job.status is not JobStatus.RUNNING or self._closed:
                return
            if exc is None:
                self.complete_job(ctx.job_id, success=True)
            elif isinstance(exc, Cancelled):
                self.mark_cancelled(ctx.job_id)
            else:
                self.complete_job(ctx.job_id, success=False, error=exc)

    # -- progress and logs --------------------------------------------------------------------

    def context(self, job_id: str) -> JobContext | None:
        """The context of a running job, or None."""
        return self._contexts.get(job_id)

    def _append_log(self, job_id: str, message: str, level: str) -> None:
        entry = LogEntry(job_id, self.now(), level, message)
        self._logs.append(entry)
        self._log_events.append(entry)
        self._ensure_pump()
        self._wake_pump()

    def _with_live_progress(self, job: Job) -> Job:
        ctx = self._contexts.get(job.id)
        if ctx is None:
            return job
        current, total, message, _seq = ctx.snapshot()
        p = job.progress
        if p.current == current and p.total == total and p.message == message:
            return job
        return _evolve(job, {"progress": Progress(current, total, message)})

    def _wake_pump(self) -> None:
        """Wake the pump if it sleeps because nothing ran: new work has arrived (a job
        started, a log line). Call it after adding the work, so the pump either sees the
        work when it looks before sleeping, or is woken here."""
        if self._pump_asleep:
            self._wake.set()

    def _ensure_pump(self) -> None:
        if self._pump is None and not self._closed and not self.store.read_only:
            with self._lock:
                if self._pump is None:
                    self._pump = threading.Thread(
                        target=self._pump_loop, name="jobdeck-progress", daemon=True
                    )
                    self._pump.start()

    def _pump_loop(self) -> None:
        last_flush = self.now()
        while not self._closed:
            # Announce the sleep before looking for work: a job that starts meanwhile
            # either is seen here or sees the flag and wakes us (see _wake_pump).
            self._pump_asleep = True
            idle = not self._contexts and not self._log_events
            if not idle:
                self._pump_asleep = False
            self._wake.wait(None if idle else self.event_interval)
            self._pump_asleep = False
            self._wake.clear()
            if self._closed:
                return
            try:
                self._forward_progress()
                if self.now() - last_flush >= self.flush_interval or self.now() < last_flush:
                    last_flush = self.now()
                    with self._lock.quietly():
                        if not self._closed:
                            self._flush_locked()
            except Exception:
                log.exception("progress pump failed; it keeps running")

    def _forward_progress(self) -> None:
        """Send PROGRESS events for contexts that changed, and LOG events for new lines."""
        with self._lock.quietly():
            if self._closed:
                return
            for job_id, ctx in list(self._contexts.items()):
                seq = ctx.seq
                if seq == self._event_seq.get(job_id):
                    continue
                self._event_seq[job_id] = seq
                job = self._active[job_id]
                new = self._with_live_progress(job)
                if new is not job:
                    self._active[job_id] = new
                    self._emit(EventKind.PROGRESS, new)
            while self._log_events:
                entry = self._log_events.popleft()
                owner = self._active.get(entry.job_id) or self.store.get(entry.job_id)
                if owner is not None:
                    self._emit(EventKind.LOG, owner, entry)

    def flush(self) -> None:
        """Write every running job's latest progress and all pending log lines now."""
        self._writable()
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        rows = []
        for job_id, ctx in self._contexts.items():
            seq = ctx.seq
            if seq != self._flushed_seq.get(job_id):
                self._flushed_seq[job_id] = seq
                rows.append((ctx.current, ctx.total, ctx.message, job_id))
        if not rows and not self._logs:
            return
        conn = self._conn()
        if rows:
            self.store.save_progress(conn, rows)
        self._write_logs(conn)

    def _take_logs(self, job_id: str | None = None) -> list[LogEntry]:
        """Remove and return the pending log lines (of one job, or all) for writing."""
        if not self._logs:
            return []
        if job_id is None:
            entries = list(self._logs)
            self._logs.clear()
        else:
            entries = [e for e in self._logs if e.job_id == job_id]
            if entries:
                keep = [e for e in self._logs if e.job_id != job_id]
                self._logs.clear()
                self._logs.extend(keep)
        return [e for e in entries if e.job_id in self._active or self.store.exists(e.job_id)]

    def _write_logs(self, conn: Any) -> None:
        entries = self._take_logs()
        if entries:
            self.store.add_logs(conn, entries)

    # -- reading ------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        """The latest snapshot of a job, or None if there is no such job."""
        self._readable()
        with self._lock:
            job = self._active.get(job_id)
            if job is not None:
                return self._with_live_progress(job)
            return self.store.get(job_id)

    def active_jobs(self) -> list[Job]:
        """Pending and running jobs, oldest first (from memory; no SQL)."""
        with self._lock:
            jobs = [self._with_live_progress(j) for j in self._active.values()]
        jobs.sort(key=lambda j: j.id)
        return jobs

    def pending_jobs(self) -> list[Job]:
        """Pending jobs in the order they should run: higher priority first, then oldest."""
        with self._lock:
            jobs = [j for j in self._active.values() if j.status is JobStatus.PENDING]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs

    def list_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]:
        """Jobs newest first, filtered; ``before`` (a job id) pages back through history."""
        self._readable()
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be an integer >= 0, got {limit!r}")
        with self._lock:
            jobs = self.store.select_jobs(status, type, search, limit, before)
            return [
                self._with_live_progress(self._active.get(j.id, j)) if j.id in self._active else j
                for j in jobs
            ]

    def count_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
    ) -> int:
        """How many jobs match (``COUNT(*)`` on indexes)."""
        self._readable()
        with self._lock:
            return self.store.count_jobs(status, type, search)

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]:
        """The last ``limit`` log lines of a job, oldest first (pending lines included)."""
        self._readable()
        with self._lock:
            if not self.store.read_only and self._logs and not self._closed:
                self._write_logs(self._conn())  # same connection: visible before the commit
            return self.store.logs(job_id, limit)


# -- helpers ----------------------------------------------------------------------------------


class _GroupCommitLock:
    """The tracker's re-entrant lock, which also commits changes in groups.

    Every change runs inside the lock and writes into one open transaction; its event is
    queued. When the outermost holder releases the lock and no other thread is waiting for
    it, it commits and then sends the queued events in order (so a change is always
    committed before its event). When threads are queued up behind it, it leaves the commit
    to the last of them: under load, many transitions share one commit (group commit), at
    most ``MAX_GROUP`` of them. A call may return before its change is committed only while
    another thread is about to take the lock and commit it.
    """

    MAX_GROUP = 256

    def __init__(self, tracker: JobTracker) -> None:
        self._tracker = tracker
        self._rlock = threading.RLock()
        self._count_lock = threading.Lock()
        self._waiting = 0
        self._depth = 0

    def __enter__(self) -> _GroupCommitLock:
        with self._count_lock:
            self._waiting += 1
        self._rlock.acquire()
        with self._count_lock:
            self._waiting -= 1
        self._depth += 1
        return self

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """Take the lock without counting as a waiter: the tracker's own pump thread uses
        this, so a caller is never left waiting on the pump for its commit and events."""
        self._rlock.acquire()
        self._depth += 1
        try:
            yield
        finally:
            self.__exit__()

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            tracker = self._tracker
            if self._depth == 0 and (tracker._txn_open or tracker._unannounced):
                crowded = self._waiting > 0 and len(tracker._unannounced) < self.MAX_GROUP
                if not crowded or tracker._closed:
                    tracker._commit_and_announce()
        finally:
            self._rlock.release()


_ALWAYS_SAVED = frozenset({"progress"})  # a running job's live progress goes with each change
_JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))
_JOB_FIELD_SET = frozenset(_JOB_FIELDS)


def _evolve(job: Job, changes: Mapping[str, Any]) -> Job:
    """``dataclasses.replace`` without its per-call overhead (this is on every transition)."""
    if not changes:
        return job
    unknown = changes.keys() - _JOB_FIELD_SET
    if unknown:
        raise TypeError(f"Job has no field(s) {sorted(unknown)}")
    return Job(*[changes.get(name, getattr(job, name)) for name in _JOB_FIELDS])


def _asks_to_keep(reattach: Callable[[Job], bool], job: Job) -> bool:
    try:
        return bool(reattach(job))
    except Exception:
        log.exception("reattach hook failed for job %s; recovering it as usual", job.id)
        return False


def _check_type(type: object) -> str:
    if not isinstance(type, str) or not type.strip():
        raise ValueError(f"job type must be a non-empty string, got {type!r}")
    return type


def _common_fields(
    title: str | None,
    metadata: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    priority: int,
) -> dict[str, Any]:
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a string, got {type(title).__name__}")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValueError(f"priority must be an integer, got {priority!r}")
    out: dict[str, Any] = {"title": title, "priority": priority}
    for name, value in (("metadata", metadata), ("params", params)):
        if value is None:
            out[name] = {}
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
        value = dict(value)
        check_json(value, name)
        out[name] = value
    return out


def _as_error(error: str | BaseException | JobError | None, tb: str | None) -> JobError:
    if isinstance(error, JobError):
        return error
    if isinstance(error, BaseException):
        message = str(error) or type(error).__name__
        if not isinstance(error, Cancelled) and type(error).__name__ not in message:
            message = f"{type(error).__name__}: {message}"
        if tb is None and error.__traceback__ is not None:
            tb = "".join(traceback_module.format_exception(error))
        return JobError(message, tb)
    return JobError(error if error else "failed", tb)
