"""The :class:`JobTracker`: the one place that changes jobs.

Every transition is checked against the transition table, committed to the store, and only
then announced to subscribers; the call returns once its change is committed (several
threads' changes share one commit: see :mod:`.group_commit`). Progress and log lines are
coalesced: running code writes them into its :class:`JobContext` (no lock, no SQL); a pump
thread forwards the latest values to subscribers at most every ``event_interval`` seconds
and writes them to the store about every ``flush_interval`` seconds, many jobs per
transaction, together with a heartbeat that records when each running job was last alive.

**When the store cannot be written** (full disk, I/O error, a file made read-only), the
call whose change was lost raises :class:`~jobdeck.core.store_errors.StoreWriteError` —
every call whose change was in the failed commit does — and nothing of it is kept, in the
file or in memory. :attr:`JobTracker.store_error` says what is wrong until a later commit
succeeds, and :meth:`JobTracker.subscribe_store_status` reports each change of it (for the
app to show). A finished job whose outcome could not be recorded stays running; record it
again later with the same call (see :meth:`JobTracker.complete_job`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sqlite3
import threading
import traceback as traceback_module
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from .clock import Clock, boot_reference, system_clock
from .context import Cancelled, JobContext
from .events import EventKind, JobEvent, LogEntry
from .group_commit import MISSING, CommitGroup, GroupCommitLock
from .job import Job, JobError, JobStatus, Progress, check_transition, evolve, new_job_id
from .recovery import (
    LAST_RUN_KEY,
    delete_log_files,
    last_run_record,
    recover,
    retention_cutoff,
)
from .store import Store, StoreError, StoreReadOnly, StoreWriteError, default_db_path
from .store_errors import describe_sqlite_error, is_storage_trouble
from .validation import (
    INT64_MAX,
    LOG_CAP_MARKER,
    MAX_LOG_LINES,
    MAX_TEXT,
    check_duration,
    check_int,
    check_json,
    check_progress_number,
    check_timestamp,
    storable_text,
    storable_traceback,
)

log = logging.getLogger(__name__)

__all__ = ["EnqueueHook", "JobTracker", "StoreStatusCallback", "Subscriber", "UnknownJob"]

Subscriber = Callable[[JobEvent], None]
#: ``callback(error)``: the store's trouble (a StoreWriteError), or None once it is over.
StoreStatusCallback = Callable[[StoreWriteError | None], None]
#: ``hook(type, params) -> (normalized params, default title)``; raises ValueError.
EnqueueHook = Callable[[str, dict[str, Any]], tuple[dict[str, Any], str]]

DEFAULT_RETENTION = timedelta(days=7)
#: Bounds of what a caller may ask for.
MAX_ATTEMPTS = 1_000_000
MAX_TYPE_LENGTH = 200


class UnknownJob(KeyError):
    """No job has this id."""

    def __str__(self) -> str:
        return f"no job with id {self.args[0]!r}"


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return check_duration(name, seconds)


def _timestamp(value: datetime | float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return check_timestamp(name, value.timestamp())
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{name} must be a time between 1970 and the year 9999") from None
    return check_timestamp(name, value)


class JobTracker:
    """Creates, runs through their states, stores and announces jobs. Thread-safe.

    Subscribers are called synchronously, in order, after the change behind each event is
    committed: by the thread that made the change, or — when several threads change jobs at
    once and their changes share one commit — by the thread that commits the group; progress
    and log events come from the tracker's pump thread. Subscribers must be quick; one that
    raises is logged and otherwise ignored.

    Reads (:meth:`list_jobs`, :meth:`count_jobs`, :meth:`logs`, :meth:`get_job` of a finished
    job) use reader connections of their own: they see committed data and never delay a
    commit. Called while holding the tracker (inside :meth:`batch` or a subscriber), they
    see that thread's own uncommitted changes too.
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
        self._lock = GroupCommitLock(self)
        #: The open commit group (changes not yet committed), if any.
        self._group: CommitGroup | None = None
        #: Bumped after every successful commit (readers use it to merge unstored lines).
        self._commits = 0
        self._unannounced: collections.deque[JobEvent] = collections.deque()
        self._announcing = False
        self._subscribers: tuple[Subscriber, ...] = ()
        self._status_subscribers: tuple[StoreStatusCallback, ...] = ()
        self._store_error: StoreWriteError | None = None
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
        self._last_alive = 0.0
        if not store.read_only:
            self._recover(is_retryable or (lambda _type: False), reattach)
            self._group = None  # recovery is committed; nothing to undo

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
        :class:`~jobdeck.core.store_errors.StoreError` subclasses — each with one readable
        message naming the file and what to do — for a damaged, too-new, locked, read-only
        or unwritable file.
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

        Jobs still running stay ``running`` in the store; the next open recovers them. A
        store that cannot be written any more is closed all the same (what could not be
        saved is logged), so closing never fails for ever.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(timeout=10)
        try:
            with self._lock:
                if not self.store.read_only:
                    self._flush_locked(final=True)
        except StoreError as exc:
            log.error(
                "closing %s: the last progress and log lines were not saved: %s",
                self.store.path,
                exc,
            )
        finally:
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
        """Fail unusable rows, fail or re-queue jobs left running by a previous process
        (unless ``reattach`` keeps them running), apply retention (see :mod:`.recovery`)."""
        now = self.now()
        reference = boot_reference(self.now)
        try:
            with self.store.transaction() as conn:
                cutoff: float | None = None
                trusted = now
                if self.retention is not None:
                    last_run = self.store.get_meta(conn, LAST_RUN_KEY)
                    cutoff, trusted = retention_cutoff(last_run, now, reference, self.retention)
                found = recover(
                    self.store,
                    conn,
                    now,
                    is_retryable=is_retryable,
                    reattach=reattach,
                    cutoff=cutoff,
                )
                self.store.set_meta(conn, LAST_RUN_KEY, last_run_record(trusted, reference))
        except sqlite3.Error as exc:
            raise StoreWriteError(
                describe_sqlite_error(self.store.path, exc, "recover the jobs in")
            ) from exc
        delete_log_files(found.log_files)
        for job in found.pending:
            self._active[job.id] = job
        for job in found.kept_running:
            self._track_running(job, log_lines=None)

    # -- subscribing --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def subscribe_store_status(self, callback: StoreStatusCallback) -> Callable[[], None]:
        """Call ``callback(error)`` whenever the store's trouble starts, changes or ends
        (``error`` is then None). Called by the thread that met it, holding the tracker, like
        a subscriber; returns a function that unsubscribes."""
        with self._lock:
            self._status_subscribers = (*self._status_subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._status_subscribers = tuple(
                    s for s in self._status_subscribers if s is not callback
                )

        return unsubscribe

    @property
    def store_error(self) -> StoreWriteError | None:
        """Why the last commit failed, until a commit succeeds again (else None)."""
        return self._store_error

    def verify_store(self) -> str | None:
        """Check the whole file for damage (SQLite's ``quick_check``, seconds on a large
        store; it runs on a reader connection, so it may run on any thread beside the app).
        Returns None when sound, else a message naming the file."""
        self._readable()
        if self.store.shares_reader_connection:
            return None
        return self.store.verify()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the changes inside the block share one commit (and send their events after
        it), e.g. to queue many jobs at once. The tracker is locked for the whole block, so
        keep it short: tracker calls only, no waiting on other threads that use it. Calls
        inside return before the commit; if it fails, the block raises
        :class:`StoreWriteError` at its end and none of its changes are kept."""
        with self._lock:
            yield

    def set_enqueue_hook(self, hook: EnqueueHook | None) -> None:
        """Validate and normalise params in :meth:`enqueue` (the runtime installs one)."""
        self._enqueue_hook = hook

    # -- the commit group ---------------------------------------------------------------------

    def _open_group(self) -> CommitGroup:
        group = self._group
        if group is None:
            group = self._group = CommitGroup()
        return group

    def _emit(self, kind: EventKind, job: Job, entry: LogEntry | None = None) -> None:
        """Queue an event; it is sent once the change behind it is committed (caller holds
        the lock)."""
        self._open_group().events.append(JobEvent(kind, job, entry))

    def _remember(self, job_id: str) -> None:
        """Save a job's in-memory state before the group first changes it (for undo)."""
        group = self._open_group()
        if job_id not in group.saved:
            group.saved[job_id] = (
                self._active.get(job_id, MISSING),
                self._contexts.get(job_id, MISSING),
                self._event_seq.get(job_id, MISSING),
                self._flushed_seq.get(job_id, MISSING),
            )

    @contextlib.contextmanager
    def _change(self, *, statements: int = 1) -> Iterator[sqlite3.Connection]:
        """One caller's change inside the open group. A failing change is undone alone: a
        single statement by SQLite itself, several (``statements`` > 1, or an executemany)
        through a savepoint. If SQLite dropped the whole transaction (a full disk), the
        whole group fails and every member gets the error. The body writes SQL first and
        changes memory (via :meth:`_remember`-guarded updates) after."""
        group = self._open_group()
        conn = self.store.conn
        savepoint = statements > 1
        try:
            if not group.wrote:
                conn.execute("BEGIN IMMEDIATE")
                group.wrote = True
            if savepoint:
                conn.execute("SAVEPOINT change")
        except sqlite3.Error as exc:
            self._fail_group(group, exc)
            raise self._error_for_caller(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:
                if savepoint:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK TO change")
                        conn.execute("RELEASE change")
                if isinstance(exc, sqlite3.Error):
                    error = self._error_for_caller(exc)
                    if is_storage_trouble(exc):
                        self._set_store_error(error)
                    raise error from exc
                raise
            self._fail_group(group, exc)
            raise self._error_for_caller(exc) from exc
        if savepoint:
            conn.execute("RELEASE change")
        group.changes += 1
        group.members.add(threading.get_ident())

    def _error_for_caller(self, error: BaseException) -> StoreWriteError:
        """A fresh exception for one caller (several threads may raise the same failure)."""
        if isinstance(error, StoreWriteError):
            fresh = StoreWriteError(str(error))
        else:
            fresh = StoreWriteError(
                describe_sqlite_error(self.store.path, error, "save job changes to")
            )
        fresh.__cause__ = error
        return fresh

    def _commit_group(self, group: CommitGroup) -> BaseException | None:
        """Commit ``group`` (called by the lock); on failure undo it and return the error."""
        self._group = None
        if group.wrote:
            try:
                self.store.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._fail_group(group, exc, detached=True)
                return exc
            self._commits += 1
            if self._store_error is not None:
                self._set_store_error(None)
        self._unannounced.extend(group.events)
        for hook in group.after_commit:
            try:
                hook()
            except Exception:
                log.exception("an after-commit action failed")
        group.finish()
        return None

    def _fail_group(
        self, group: CommitGroup, error: BaseException, *, detached: bool = False
    ) -> None:
        """Roll back ``group`` in the store and in memory; wake its waiting members."""
        if not detached and self._group is group:
            self._group = None
        conn = self.store.conn
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        for job_id, (job, ctx, event_seq, flushed_seq) in group.saved.items():
            _restore(self._active, job_id, job)
            _restore(self._contexts, job_id, ctx)
            _restore(self._event_seq, job_id, event_seq)
            _restore(self._flushed_seq, job_id, flushed_seq)
        if group.logs:
            self._logs.extendleft(reversed(group.logs))
        group.error = error
        described = self._error_for_caller(error)
        news = self._set_store_error(described)
        (log.error if news else log.debug)("%s (%d changes rolled back)", described, group.changes)
        group.finish()

    def _set_store_error(self, error: StoreWriteError | None) -> bool:
        """Record the store's trouble (None: over); tell the status subscribers when that
        is news. Returns whether it was."""
        before = self._store_error
        self._store_error = error
        if str(before) == str(error):  # "None" == "None", or the same trouble again
            return False
        if error is None:
            log.warning("%s accepts changes again", self.store.path)
        for callback in self._status_subscribers:
            try:
                callback(error)
            except Exception:
                log.exception("store status subscriber %r failed", callback)
        return True

    def _announce(self) -> None:
        """Send the queued events in order (called by the lock after a commit)."""
        if self._announcing:
            return  # a subscriber called back into the tracker: the outer loop carries on
        self._announcing = True
        try:
            while self._unannounced:
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
        message = _check_text("message", message)
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
            last_seen_ts=now,
        )
        with self._lock:
            self._writable()
            with self._change() as conn:
                self.store.insert(conn, job)
            ctx = self._track_running(job, log_lines=0)
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
        max_attempts = check_int("max_attempts", max_attempts, 1, MAX_ATTEMPTS)
        timeout_s = _seconds(timeout, "timeout")
        run_at_ts = _timestamp(run_at, "run_at")
        if isinstance(depends_on, str):
            raise ValueError("depends_on must be a list of job ids, not a single string")
        deps = tuple(depends_on)
        if retry_of is not None and not isinstance(retry_of, str):
            raise ValueError(f"retry_of must be a job id, got {retry_of.__class__.__name__}")
        now = self.now()
        job = Job(
            id=new_job_id(now),
            type=type,
            title=fields["title"] or storable_text(default_title),
            status=JobStatus.PENDING,
            created_ts=now,
            priority=fields["priority"],
            params=fields["params"],
            metadata=fields["metadata"],
            max_attempts=max_attempts,
            run_at_ts=run_at_ts,
            timeout=timeout_s,
            depends_on=deps,
            retry_of=None if retry_of is None else storable_text(retry_of),
        )
        with self._lock:
            self._writable()
            for dep in deps:
                if _lookup_id(dep) is None or (
                    dep not in self._active and not self.store.exists(dep)
                ):
                    raise ValueError(f"depends_on: no job with id {dep!r}")
            with self._change() as conn:
                self.store.insert(conn, job)
            self._remember(job.id)
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
        if _lookup_id(job_id) is None:
            raise UnknownJob(job_id)
        with self.store.reader_errors():
            stored = self.store.get(job_id)
        if stored is None:
            raise UnknownJob(job_id)
        return stored

    def _track_running(self, job: Job, *, log_lines: int | None) -> JobContext:
        """Give a running job a context (``log_lines``: how many it has stored; None to
        count them)."""
        if log_lines is None:
            log_lines = self.store.count_logs(self.store.conn, job.id)
        self._remember(job.id)
        p = job.progress
        ctx = JobContext(self, job.id, p.current, p.total, p.message)
        ctx.log_lines = log_lines
        self._active[job.id] = job
        self._contexts[job.id] = ctx
        self._event_seq[job.id] = 0
        self._flushed_seq[job.id] = 0
        self._ensure_pump()
        self._wake_pump()
        return ctx

    def _untrack(self, job_id: str) -> None:
        self._remember(job_id)
        self._active.pop(job_id, None)
        self._contexts.pop(job_id, None)
        self._event_seq.pop(job_id, None)
        self._flushed_seq.pop(job_id, None)

    def _transition(self, job: Job, kind: EventKind, **changes: Any) -> Job:
        """Check, write, then (once committed) announce one transition (caller holds the
        lock)."""
        new = evolve(job, changes)
        check_transition(job.id, job.status, new.status)
        fields = frozenset(changes) | _ALWAYS_SAVED
        logs = self._take_logs(job.id) if new.status.finished else []
        with self._logs_in_change(logs) as conn:
            self.store.save_fields(conn, new, fields)
            if logs:
                self._write_logs_isolated(conn, logs)
        if new.status is JobStatus.PENDING:
            self._untrack(job.id)
            self._active[job.id] = new
        elif new.status.finished:
            self._untrack(job.id)
            self._announce_logs_of(job)  # its last lines are announced before its end
        else:
            self._remember(job.id)
            self._active[job.id] = new
        self._emit(kind, new)
        return new

    def _update_fields(self, job: Job, kind: EventKind, changes: dict[str, Any]) -> Job:
        """Write some fields of an active job (no status change), then announce ``kind``."""
        new = evolve(job, changes)
        with self._change() as conn:
            self.store.save_fields(conn, new, frozenset(changes))
        self._remember(job.id)
        self._active[job.id] = new
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
                last_seen_ts=now,
            )
            # a first attempt has no log lines yet; a retried one may have
            return self._track_running(new, log_lines=0 if job.attempts == 0 else None)

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
        process that ended while the app was not running); default: now.

        When the store cannot take the change, this raises :class:`StoreWriteError` and
        nothing changed: the job is still running (in the store and in memory). To record
        the outcome once the store accepts writes again, make the same call again — with
        ``completed_ts`` set to when the job really ended — e.g. on a timer until it
        succeeds, or when :meth:`subscribe_store_status` reports the trouble over.
        """
        self._writable()
        if success:
            check_json(result, "result")
        job_error = None if success else _as_error(error, traceback)
        end_ts = None if completed_ts is None else check_timestamp("completed_ts", completed_ts)
        if exit_code is not None:
            exit_code = check_int("exit_code", exit_code)
        with self._lock:
            job = self._require(job_id)
            end = self.now() if end_ts is None else end_ts
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
            if not job.cancel_requested:
                self._update_fields(job, EventKind.CANCEL_REQUESTED, {"cancel_requested": True})
            if ctx is not None:
                # the code is told once the request is stored (at once if it already was)
                self._open_group().after_commit.append(ctx.cancel_event.set)
            return True

    def mark_cancelled(self, job_id: str, reason: str | None = None) -> Job:
        """Finish a running job as cancelled (its code stopped because it was asked to)."""
        self._writable()
        error = None if reason is None else JobError(_check_text("reason", reason))
        with self._lock:
            job = self._require(job_id)
            return self._transition(
                job,
                EventKind.CANCELLED,
                status=JobStatus.CANCELLED,
                completed_ts=self.now(),
                error=error if error is not None else job.error,
            )

    def retry_later(
        self, job_id: str, run_at: datetime | float | None, error: str | BaseException | JobError
    ) -> Job:
        """Put a failed attempt of a running job back in the queue (``running -> pending``)."""
        self._writable()
        run_at_ts = _timestamp(run_at, "run_at")
        job_error = _as_error(error, None)
        with self._lock:
            job = self._require(job_id)
            if job.status is JobStatus.RUNNING and job.attempts >= job.max_attempts:
                raise ValueError(f"job {job_id} has used all {job.max_attempts} attempts")
            return self._transition(
                job,
                EventKind.RETRYING,
                status=JobStatus.PENDING,
                run_at_ts=run_at_ts,
                error=job_error,
                started_ts=None,
                pid=None,
                cancel_requested=False,
            )

    def set_process_info(
        self,
        job_id: str,
        *,
        pid: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        exit_code: int | None = None,
    ) -> Job:
        """Record a process job's pid, log file or exit code (no status change)."""
        self._writable()
        changes: dict[str, Any] = {}
        if pid is not None:
            changes["pid"] = check_int("pid", pid, 1, INT64_MAX)
        if log_path is not None:
            changes["log_path"] = _check_text("log_path", os.fspath(log_path))
        if exit_code is not None:
            changes["exit_code"] = check_int("exit_code", exit_code)
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            return self._update_fields(job, EventKind.UPDATED, changes)

    def set_resource_usage(
        self, job_id: str, *, peak_rss: int | None, cpu_seconds: float | None
    ) -> Job:
        """Record a process job's peak RSS (bytes) and CPU seconds (no status change)."""
        self._writable()
        changes: dict[str, Any] = {
            "peak_rss": None if peak_rss is None else check_int("peak_rss", peak_rss, 0),
            "cpu_seconds": None
            if cpu_seconds is None
            else float(check_progress_number("cpu_seconds", cpu_seconds)),
        }
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            return self._update_fields(job, EventKind.UPDATED, changes)

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

    def _append_log(self, ctx: JobContext, message: str, level: str) -> None:
        """A line from a job's code: capped per job (see :mod:`.validation`), made storable."""
        count = ctx.log_lines
        ctx.log_lines = count + 1
        if count >= MAX_LOG_LINES:
            if count > MAX_LOG_LINES:
                return
            message, level = LOG_CAP_MARKER, "warning"
        entry = LogEntry(ctx.job_id, self.now(), level, storable_text(message, MAX_TEXT))
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
        message = storable_text(message, MAX_TEXT)
        return evolve(job, {"progress": Progress(current, total, message)})

    def _wake_pump(self) -> None:
        """Wake the pump if it sleeps because nothing ran: new work has arrived (a job
        started, a log line). Call it after adding the work, so the pump either sees the
        work when it looks before sleeping, or is woken here."""
        if self._pump_asleep:
            self._wake.set()

    def _ensure_pump(self) -> None:
        if self._pump is None and not self._closed and not self.store.read_only:
            with self._lock.quietly():
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
                now = self.now()
                if now - last_flush >= self.flush_interval or now < last_flush:
                    last_flush = now
                    with self._lock.quietly():
                        if not self._closed:
                            self._flush_locked()
            except StoreWriteError as exc:
                log.debug("progress pump: %s", exc)  # logged once by the failed commit
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

    def _announce_logs_of(self, job: Job) -> None:
        """Queue LOG events for ``job``'s lines the pump has not announced yet."""
        if not self._log_events:
            return
        taken = [self._log_events.popleft() for _ in range(len(self._log_events))]
        self._log_events.extendleft(reversed([e for e in taken if e.job_id != job.id]))
        for entry in taken:
            if entry.job_id == job.id:
                self._emit(EventKind.LOG, job, entry)

    def flush(self) -> None:
        """Write every running job's latest progress and all pending log lines now."""
        self._writable()
        with self._lock:
            self._flush_locked(final=True)

    def _flush_locked(self, *, final: bool = False) -> None:
        """Write changed progress, pending log lines and (about every ``flush_interval``)
        the running jobs' heartbeat, in one change of the open group."""
        now = self.now()
        rows = []
        for job_id, ctx in self._contexts.items():
            seq = ctx.seq
            if seq != self._flushed_seq.get(job_id):
                rows.append((job_id, seq, (ctx.current, ctx.total, ctx.message, job_id)))
        alive = bool(self._contexts) and (
            final or now - self._last_alive >= self.flush_interval or now < self._last_alive
        )
        if not rows and not self._logs and not alive:
            return
        logs = self._take_logs()
        with self._logs_in_change(logs, statements=2) as conn:
            if rows:
                self.store.save_progress(conn, [r for _, _, r in rows], now)
            if alive:
                self.store.mark_alive(conn, now)
            if logs:
                self._write_logs_isolated(conn, logs)
        for job_id, seq, _row in rows:
            self._remember(job_id)
            self._flushed_seq[job_id] = seq
        if alive:
            self._last_alive = now

    @contextlib.contextmanager
    def _logs_in_change(
        self, logs: list[LogEntry], *, statements: int = 1
    ) -> Iterator[sqlite3.Connection]:
        """A :meth:`_change` that writes the taken log lines ``logs``: they belong to the
        group (queued again, in order, if the group fails), or go back to the queue if
        this change alone fails."""
        group = self._open_group()
        mark = len(group.logs)
        group.logs.extend(logs)
        try:
            with self._change(statements=statements + (1 if logs else 0)) as conn:
                yield conn
        except BaseException:
            if self._group is group:  # only this change failed; the group lives on
                del group.logs[mark:]
                self._logs.extendleft(reversed(logs))
            raise

    def _write_logs_isolated(self, conn: sqlite3.Connection, logs: list[LogEntry]) -> None:
        """Write log lines; should one be refused, the others are still written (one bad
        line never drops other jobs' lines)."""
        try:
            with _savepoint(conn, "logs"):
                self.store.add_logs(conn, logs)
            return
        except (sqlite3.Error, ValueError, OverflowError):
            if not conn.in_transaction:
                raise
        for entry in logs:
            try:
                with _savepoint(conn, "line"):
                    self.store.add_logs(conn, [entry])
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                if not conn.in_transaction:
                    raise
                log.error("a log line of job %s could not be stored: %s", entry.job_id, exc)

    def _take_logs(self, job_id: str | None = None) -> list[LogEntry]:
        """Remove and return the pending log lines (of one job, or all) for writing."""
        if not self._logs:
            return []
        # popleft is atomic: lines other threads append meanwhile stay queued
        taken = [self._logs.popleft() for _ in range(len(self._logs))]
        if job_id is not None:
            keep = [e for e in taken if e.job_id != job_id]
            taken = [e for e in taken if e.job_id == job_id]
            self._logs.extendleft(reversed(keep))
        return [e for e in taken if e.job_id in self._active or self.store.exists(e.job_id)]

    # -- reading ------------------------------------------------------------------------------

    def _read(self, query: Callable[[sqlite3.Connection | None], Any]) -> Any:
        """Run ``query(conn)`` on a reader connection, or — for an in-memory store, or when
        this thread holds the tracker — on the writer's (``conn`` None), under the lock."""
        if self.store.shares_reader_connection or self._lock.held_by_me():
            with self._lock, self.store.reader_errors():
                return query(None)
        with self.store.reader() as conn:
            return query(conn)

    def get_job(self, job_id: str) -> Job | None:
        """The latest snapshot of a job, or None if there is no such job."""
        self._readable()
        with self._lock:
            job = self._active.get(job_id)
            if job is not None:
                return self._with_live_progress(job)
        if _lookup_id(job_id) is None:
            return None
        stored: Job | None = self._read(lambda conn: self.store.get(job_id, conn))
        return stored

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
        """Jobs newest first, filtered; ``before`` (a job id) pages back through history.

        ``search`` matches title, type, message or error as plain text (``%`` and ``_``
        are no wildcards); ``status`` accepts any case."""
        self._readable()
        limit = check_int("limit", limit, 0)
        status = _statuses(status)
        type = _text_filter("type", type)
        search = _search(search)
        if before is not None:
            before = _check_text("before", before)
        jobs: list[Job] = self._read(
            lambda conn: self.store.select_jobs(status, type, search, limit, before, conn=conn)
        )
        with self._lock:
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
        status = _statuses(status)
        type = _text_filter("type", type)
        search = _search(search)
        return int(self._read(lambda conn: self.store.count_jobs(status, type, search, conn=conn)))

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]:
        """The last ``limit`` log lines of a job, oldest first (lines not yet stored
        included)."""
        self._readable()
        limit = check_int("limit", limit, 0)
        if _lookup_id(job_id) is None:
            return []
        if self.store.shares_reader_connection or self._lock.held_by_me():
            with self._lock:
                stored = self._read(lambda conn: self.store.logs(job_id, limit, conn))
                pending = [e for e in list(self._logs) if e.job_id == job_id]
            return _last(stored + pending, limit)
        for _attempt in range(5):
            with self._lock:
                commits = self._commits
                group = self._group
                unstored = [e for e in (group.logs if group else []) if e.job_id == job_id]
                unstored += [e for e in list(self._logs) if e.job_id == job_id]
            stored = self._read(lambda conn: self.store.logs(job_id, limit, conn))
            with self._lock:
                if self._commits == commits:  # no commit moved lines meanwhile
                    return _last(stored + unstored, limit)
        with self._lock:  # commits keep coming: read beside the writer this once
            stored = self.store.logs(job_id, limit)
            pending = [e for e in list(self._logs) if e.job_id == job_id]
        return _last(stored + pending, limit)


# -- helpers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection, name: str) -> Iterator[None]:
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def _restore(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Put back a saved entry (:data:`MISSING`: there was none)."""
    if value is MISSING:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _last(entries: list[LogEntry], limit: int) -> list[LogEntry]:
    return entries[-limit:] if limit else []


_ALWAYS_SAVED = frozenset({"progress"})  # a running job's live progress goes with each change
_STATUS_NAMES = ", ".join(s.value for s in JobStatus)


def _status(value: JobStatus | str) -> JobStatus:
    if isinstance(value, JobStatus):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return JobStatus(value.strip().lower())
    raise ValueError(f"status must be one of {_STATUS_NAMES}; got {value!r}")


def _statuses(
    value: JobStatus | str | Iterable[JobStatus | str] | None,
) -> JobStatus | list[JobStatus] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _status(value)
    return [_status(v) for v in value]


def _lookup_id(job_id: object) -> str | None:
    """``job_id`` if it could be an id in the store (text SQLite can take), else None."""
    if isinstance(job_id, str) and storable_text(job_id) == job_id:
        return job_id
    return None


def _search(search: object) -> str | None:
    if search is None:
        return None
    return _check_text("search", search)  # found as stored: surrogates shown as escapes


def _text_filter(name: str, value: str | Iterable[str] | None) -> str | list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _check_text(name, value)
    return [_check_text(name, v) for v in value]


def _check_type(type: object) -> str:
    if not isinstance(type, str) or not type.strip():
        raise ValueError(f"job type must be a non-empty string, got {type!r}")
    if len(type) > MAX_TYPE_LENGTH:
        raise ValueError(f"job type must be at most {MAX_TYPE_LENGTH} characters")
    if storable_text(type) != type:
        raise ValueError(f"job type must be valid UTF-8 text, got {type!r}")
    return type


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return storable_text(value, MAX_TEXT)


def _common_fields(
    title: str | None,
    metadata: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    priority: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": None if title is None else _check_text("title", title),
        "priority": check_int("priority", priority),
    }
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
        return JobError(
            storable_text(str(error.message), MAX_TEXT), storable_traceback(error.traceback)
        )
    if isinstance(error, BaseException):
        try:
            message = str(error) or type(error).__name__
        except Exception:
            message = type(error).__name__
        if not isinstance(error, Cancelled) and type(error).__name__ not in message:
            message = f"{type(error).__name__}: {message}"
        if tb is None and error.__traceback__ is not None:
            tb = "".join(traceback_module.format_exception(error))
        return JobError(storable_text(message, MAX_TEXT), storable_traceback(tb))
    message = error if error else "failed"
    if not isinstance(message, str):
        message = str(message)
    return JobError(storable_text(message, MAX_TEXT), storable_traceback(tb))
