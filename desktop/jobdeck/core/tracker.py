"""The :class:`JobTracker`: the one place that changes jobs.

Every transition is checked against the transition table, committed to the store, and only
then announced to subscribers; the call returns once its change is committed (several
threads' changes share one commit: see :mod:`.group_commit`). Progress and log lines are
coalesced: running code writes them into its :class:`JobContext` (no lock, no SQL); the
progress pump (:mod:`.progress_pump`) forwards the latest values to subscribers at most
every ``event_interval`` seconds and writes them to the store about every
``flush_interval`` seconds. Reading is :mod:`.tracker_reads`'s part.

The tracker is opened with the application's :class:`~jobdeck.core.registry.JobRegistry`:
it validates what is queued, and recovery asks the job types which interrupted jobs may be
retried and which jobs left running the runtime can re-attach. Nothing configures it from
above. (Longer than most modules: opening, closing and the public API's entry points; the
transitions, reads, board and clean-up are the modules named above and beside it.)

**When the store cannot be written** (full disk, I/O error, a file made read-only), the
call whose change was lost raises :class:`~jobdeck.core.store_errors.StoreWriteError` —
every call whose change was in the failed commit does — and nothing of it is kept, in the
file or in memory. :attr:`JobTracker.store_error` says what is wrong until a later commit
succeeds, and :meth:`JobTracker.subscribe_store_status` reports each change of it (for the
app to show). A finished job whose outcome could not be recorded stays running; record it
again later with the same call (see :meth:`JobTracker.complete_job`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .board_url import is_board_url
from .clock import Clock, boot_reference, system_clock
from .context import JobContext
from .events import EventKind
from .group_commit import Committer, StoreStatusCallback, Subscriber
from .job import (
    TIMEOUT_FACTOR_KEY,
    Job,
    JobStatus,
    Progress,
    new_job_id,
)
from .job_input import (
    MAX_ATTEMPTS,
    check_text,
    check_type,
    common_fields,
    lookup_id,
    seconds,
    timestamp,
)
from .job_memory import JobMemory
from .progress_pump import JobLogs, ProgressPump
from .recovery import LAST_RUN_KEY, last_run_record, recover, retention_cutoff
from .registry import JobRegistry, reattachable
from .retention import BeforeDelete, CleanupResult, CleanupThread, ExpiredJobsCleanup
from .rollup import key_of, roll_up
from .store import Store, StoreError, StoreReadOnly, StoreWriteError, default_db_path
from .store_errors import describe_sqlite_error
from .tracker_board import TrackerBoard
from .tracker_reads import TrackerReads
from .tracker_transitions import TrackerTransitions, UnknownJob
from .validation import (
    check_int,
    check_json,
    check_progress_number,
    check_timeout_factor,
    storable_text,
)

if TYPE_CHECKING:
    from .board_link import BoardLink

log = logging.getLogger(__name__)

__all__ = ["JobTracker", "StoreStatusCallback", "Subscriber", "UnknownJob"]

DEFAULT_RETENTION = timedelta(days=7)


class JobTracker(TrackerTransitions, TrackerReads, TrackerBoard):
    """Creates, runs through their states, stores and announces jobs. Thread-safe.

    Subscribers are called synchronously and in order after the change behind each event is
    committed, one thread at a time and never holding the tracker's lock: by the thread that
    committed it (or, when another thread is handing out events, by that one); progress and
    log events come from the tracker's pump thread. Subscribers must be quick; one that
    raises is logged and otherwise ignored.
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: JobRegistry | None = None,
        clock: Clock = system_clock,
        retention: timedelta | None = DEFAULT_RETENTION,
        flush_interval: float = 1.0,
        event_interval: float = 1 / 30,
        yield_gil_every: float | None = None,
        clean_up_at_open: bool = True,
    ) -> None:
        if registry is not None and not isinstance(registry, JobRegistry):
            raise TypeError(f"registry must be a JobRegistry, got {type(registry).__name__}")
        self.store = store
        self._registry = registry
        self.now: Clock = clock
        self.retention = retention
        if yield_gil_every is not None and not yield_gil_every > 0:
            raise ValueError(f"yield_gil_every must be positive seconds, got {yield_gil_every!r}")
        #: Running code that reports progress in a tight loop gives up the interpreter lock
        #: this often (see :class:`~jobdeck.core.context.JobContext`); None: never.
        self.yield_gil_every = yield_gil_every
        self._closed = False
        self._memory = JobMemory()
        logs = JobLogs()
        self._commits = Committer(store, self._memory, logs.put_back)
        self._lock = self._commits.lock
        self._pump = ProgressPump(
            self._commits,
            self._memory,
            logs,
            clock=clock,
            event_interval=event_interval,
            flush_interval=flush_interval,
            closed=lambda: self._closed,
        )
        #: Log lines not yet stored (tests look at them).
        self._logs = logs.lines
        #: The store's statistics, shared by their readers (see :meth:`stats`).
        self._stats = None
        self._stats_lock = threading.Lock()
        #: Jobs recovery kept running for the runtime to re-attach, until it takes them.
        self._to_reattach: list[str] = []
        self._elsewhere: dict[str, Job] = {}
        #: On a board: jobs this instance changed, by when (a count), and each as written
        #: here, so the board link knows which rows it read may be older than this
        #: instance's own change, and which are that change (announced when it was made).
        self._changed_here: dict[str, tuple[int, Job]] = {}
        self._changes_here = 0
        #: On a shared board: the link that brings other instances' changes (else None).
        self.board_link: BoardLink | None = None
        #: Finished jobs that ended before this have expired (None: none to delete).
        self._expired_before: float | None = None
        self._cleanup: CleanupThread | None = None
        if not store.read_only:
            self._recover()
            self._commits.group = None  # recovery is committed; nothing to undo
            if clean_up_at_open:
                self.clean_up_expired()
            store.start_history_build()  # a big store's indexes, after recovery

    @property
    def flush_interval(self) -> float:
        return self._pump.flush_interval

    @property
    def event_interval(self) -> float:
        return self._pump.event_interval

    # -- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        registry: JobRegistry | None = None,
        read_only: bool = False,
        clock: Clock = system_clock,
        retention: timedelta | None = DEFAULT_RETENTION,
        flush_interval: float = 1.0,
        event_interval: float = 1 / 30,
        yield_gil_every: float | None = None,
        instance: str | None = None,
        lease: float | None = None,
        clean_up_at_open: bool = True,
    ) -> JobTracker:
        """Open (creating, migrating and recovering as needed) the store at ``path``.

        ``None`` means ``$JOBDECK_DB`` or the platform user-data directory; ``":memory:"``
        an in-memory store. ``registry`` holds the job types: :meth:`enqueue` validates
        params against them, and recovery asks them which jobs left ``running`` by an
        earlier app may be retried and which are kept running for the runtime to
        re-attach (see :func:`~jobdeck.core.registry.reattachable`). Without a registry
        any type may be queued (for code that runs its jobs itself). Raises
        :class:`~jobdeck.core.store_errors.StoreError` subclasses — each with one readable
        message naming the file and what to do — for a damaged, too-new, locked, read-only
        or unwritable file.

        ``yield_gil_every`` (seconds, default None): make code that reports progress in a
        tight loop on a thread give up the interpreter lock at least this often, so a GUI
        thread gets its turn sooner (see :mod:`jobdeck.runtime.tuning`). An app's choice
        for its whole process; the library never makes it for the app.

        ``path`` may also be a ``postgresql://user[:password]@host[:port]/database`` URL
        (also as ``$JOBDECK_DB``): a board that several app instances share (see
        :mod:`.pg_store`). ``instance`` names this one on the board (default
        ``$JOBDECK_INSTANCE`` or ``user@host``) and ``lease`` says how many seconds its
        lease lasts (default 30; see :mod:`.board_link`); a SQLite store ignores both. A URL that
        cannot be used, or a server that cannot be reached, raises
        :class:`~jobdeck.core.store_errors.StoreError` naming the host, never the password.
        ``clean_up_at_open`` (default True): delete the jobs past ``retention`` before this
        returns (in batches: see :mod:`.retention`). An app that wants its window first
        passes False and calls :meth:`start_cleanup` once it shows.
        """
        where: str | os.PathLike[str] | None = path
        if where is None and is_board_url(os.environ.get("JOBDECK_DB")):
            where = os.environ["JOBDECK_DB"]
        store: Store
        if is_board_url(where):
            try:
                from .pg_store import DEFAULT_LEASE, PgStore  # psycopg only for a board
            except ImportError as exc:
                raise StoreError(
                    f"a PostgreSQL board needs the psycopg driver ({exc}); install it with "
                    "pip install 'jobdeck[postgresql]'"
                ) from None

            store = PgStore(
                str(where),
                read_only=read_only,
                instance=instance,
                lease=DEFAULT_LEASE if lease is None else lease,
            )
        else:
            store = Store(default_db_path() if where is None else where, read_only=read_only)
        try:
            tracker = cls(
                store,
                registry=registry,
                clock=clock,
                retention=retention,
                flush_interval=flush_interval,
                event_interval=event_interval,
                yield_gil_every=yield_gil_every,
                clean_up_at_open=clean_up_at_open,
            )
        except BaseException:
            store.close()
            raise
        if is_board_url(where) and not read_only:
            from .board_link import BoardLink

            tracker.board_link = BoardLink(tracker, store, coalesce=event_interval)  # type: ignore[arg-type]
            tracker.board_link.start()
        return tracker

    def close(self) -> None:
        """Flush progress and logs, stop the pump and close the store. Idempotent.

        Jobs still running stay ``running`` in the store; the next open recovers them. A
        store that cannot be written any more is closed all the same (what could not be
        saved is logged), so closing never fails for ever.
        """
        if self._cleanup is not None:
            self._cleanup.stop()  # between two batches: what it deleted stays deleted
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._commits.closed = True
        if self.board_link is not None:
            self.board_link.stop()
        self._pump.stop()
        try:
            with self._lock:
                if not self.store.read_only:
                    self._pump.flush(final=True)
        except StoreError as exc:
            log.error(
                "closing %s: the last progress and log lines were not saved: %s",
                self.store.location,
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

    def _recover(self) -> None:
        """Fail unusable rows, fail or re-queue jobs left running by a previous process
        (unless they can be re-attached), work out what retention deletes (see
        :mod:`.recovery`; :meth:`clean_up_expired` deletes it)."""
        now = self.now()
        reference = boot_reference(self.now)
        try:
            with self.store.transaction() as conn:
                cutoff: float | None = None
                trusted = now
                if self.retention is not None:
                    last_run = self.store.get_meta(conn, LAST_RUN_KEY)
                    cutoff, trusted = retention_cutoff(last_run, now, reference, self.retention)
                found = recover(self.store, conn, now, registry=self._registry)
                self.store.set_meta(conn, LAST_RUN_KEY, last_run_record(trusted, reference))
        except sqlite3.Error as exc:
            raise StoreWriteError(
                describe_sqlite_error(self.store.location, exc, "recover the jobs in")
            ) from exc
        self._expired_before = cutoff
        for job in found.pending:
            self._memory.active[job.id] = job
        for job in found.kept_running:
            self._track_running(job, log_lines=None)
            self._to_reattach.append(job.id)

    # -- retention ------------------------------------------------------------------------------

    def clean_up_expired(
        self, *, before_delete: BeforeDelete | None = None
    ) -> CleanupResult | None:
        """Delete the finished jobs past the retention period found at open, with their log
        lines and files, in batches (see :mod:`.retention`), here and now; what was done, or
        None when nothing was due. ``before_delete(conn, ids)`` runs in each batch's
        transaction before its jobs are deleted. Raises StoreWriteError when the store
        refuses a batch. None too while :meth:`start_cleanup`'s thread does it."""
        cutoff = self._expired_before
        if cutoff is None or self._closed or self.cleanup_running:
            return None
        cleanup = ExpiredJobsCleanup(
            self._commits, cutoff, before_delete=self._rolled_up(before_delete), pause_s=0.0
        )  # no pause: the caller waits for it all
        result = cleanup.run()
        if not result.stopped:
            self._expired_before = None
        return result

    def start_cleanup(
        self,
        on_done: Callable[[CleanupResult], None] | None = None,
        *,
        before_delete: BeforeDelete | None = None,
        batch_jobs: int | None = None,
    ) -> bool:
        """Start :meth:`clean_up_expired` on a thread of its own (batches leave the tracker
        free in between; :meth:`close` stops it between two batches). ``on_done(result)`` is
        called on that thread when it ends. False when nothing is due or it already runs."""
        cutoff = self._expired_before
        if cutoff is None or self._closed or self._cleanup is not None:
            return False

        def done(result: CleanupResult) -> None:
            if not result.stopped and result.cutoff == self._expired_before:
                self._expired_before = None
            if on_done is not None:
                on_done(result)

        cleanup = ExpiredJobsCleanup(
            self._commits,
            cutoff,
            before_delete=self._rolled_up(before_delete),
            batch_jobs=batch_jobs,
        )
        self._cleanup = CleanupThread(cleanup, done)
        self._cleanup.start()
        return True

    def _rolled_up(self, then: BeforeDelete | None) -> BeforeDelete:
        """What runs before a batch of expired jobs is deleted: their numbers go into the
        statistics roll-up (:func:`~jobdeck.core.rollup.roll_up`, keyed by this tracker's
        job types), then ``then(conn, ids)``."""
        key_fn = key_of(self._registry)

        def before_delete(conn: sqlite3.Connection, ids: list[str]) -> None:
            roll_up(conn, ids, key_fn)
            if then is not None:
                then(conn, ids)

        return before_delete

    @property
    def cleanup_running(self) -> bool:
        """True while :meth:`start_cleanup`'s thread deletes expired jobs."""
        return self._cleanup is not None and self._cleanup.is_alive()

    # -- subscribing and the store's state ------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        commits = self._commits
        with self._lock:
            commits.subscribers = (*commits.subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                commits.subscribers = tuple(s for s in commits.subscribers if s is not callback)

        return unsubscribe

    def subscribe_store_status(self, callback: StoreStatusCallback) -> Callable[[], None]:
        """Call ``callback(error)`` whenever the store's trouble starts, changes or ends
        (``error`` is then None). Called by the thread that met it, holding the tracker;
        returns a function that unsubscribes."""
        commits = self._commits
        with self._lock:
            commits.status_subscribers = (*commits.status_subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                commits.status_subscribers = tuple(
                    s for s in commits.status_subscribers if s is not callback
                )

        return unsubscribe

    @property
    def store_error(self) -> StoreWriteError | None:
        """Why the last commit failed, until a commit succeeds again (else None)."""
        return self._commits.store_error

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

    @property
    def registry(self) -> JobRegistry | None:
        """The job types this tracker was opened with (None: any type is accepted)."""
        return self._registry

    def jobs_to_reattach(self) -> list[Job]:
        """The jobs left running by an earlier app that recovery kept running for the
        runtime to re-attach (see :func:`~jobdeck.core.registry.reattachable`), each once:
        the caller takes them over. Those that ended meanwhile are left out."""
        with self._lock:
            ids, self._to_reattach = self._to_reattach, []
            jobs = [self._memory.active.get(job_id) for job_id in ids]
        return [j for j in jobs if j is not None and j.status is JobStatus.RUNNING]

    def reattachable(self, job: Job) -> bool:
        """Whether ``job`` is a running job whose program can outlive the app and be
        re-attached by the next one (a process job that started its program)."""
        registry = self._registry
        return reattachable(job, None if registry is None else registry.get(job.type))

    # -- creating -----------------------------------------------------------------------------

    def _readable(self) -> None:
        if self._closed:
            raise RuntimeError("the job tracker is closed")

    def _writable(self) -> None:
        if self.store.read_only:
            raise StoreReadOnly(f"{self.store.location} is open read-only; it cannot change jobs")
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
        type = check_type(type)
        fields = common_fields(title, metadata, params, priority)
        total = check_progress_number("total", total)
        message = check_text("message", message)
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
            with self._commits.change() as conn:
                self.store.insert(conn, job)
            ctx = self._track_running(job, log_lines=0)
            self._commits.emit(EventKind.CREATED, job)
            self._commits.emit(EventKind.STARTED, job)
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
        timeout_factor: float | None = None,
    ) -> Job:
        """Queue a job for the runtime to run; returns the pending :class:`Job`.

        ``timeout`` fails it after that long; ``timeout_factor`` after that many times the
        usual (median) duration of its key's recent successful runs, when it has some (kept
        in its metadata, so it survives a restart and a re-run; see
        :mod:`jobdeck.runtime.relative_timeout`).

        Its type must be in the registry (when the tracker has one), and ``params`` are
        validated against its schema and stored in JSON form. Raises ValueError (naming the
        field) for bad input; nothing is written then.
        """
        self._writable()
        type = check_type(type)
        fields = common_fields(title, metadata, params, priority)
        if timeout_factor is not None:
            fields["metadata"][TIMEOUT_FACTOR_KEY] = timeout_factor
        if TIMEOUT_FACTOR_KEY in fields["metadata"]:
            fields["metadata"][TIMEOUT_FACTOR_KEY] = check_timeout_factor(
                "timeout_factor", fields["metadata"][TIMEOUT_FACTOR_KEY]
            )
        default_title = type
        if self._registry is not None:
            job_type = self._registry.require(type)
            fields["params"] = job_type.validate(fields["params"])
            default_title = job_type.default_title(fields["params"])
            check_json(fields["params"], "params")
        max_attempts = check_int("max_attempts", max_attempts, 1, MAX_ATTEMPTS)
        timeout_s = seconds(timeout, "timeout")
        run_at_ts = timestamp(run_at, "run_at")
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
                if lookup_id(dep) is None or (
                    dep not in self._memory.active and not self.store.exists(dep)
                ):
                    raise ValueError(f"depends_on: no job with id {dep!r}")
            with self._commits.change() as conn:
                self.store.insert(conn, job)
            self._commits.remember(job.id)
            self._memory.active[job.id] = job
            self._commits.emit(EventKind.CREATED, job)
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

    # -- progress and logs --------------------------------------------------------------------

    def flush(self) -> None:
        """Write every running job's latest progress and all pending log lines now."""
        self._writable()
        with self._lock:
            self._pump.flush(final=True)
