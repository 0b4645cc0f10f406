"""The reading half of :class:`~jobdeck.core.tracker.JobTracker`: jobs, listings, logs.

Unfinished jobs come from the tracker's memory (no SQL), with the latest progress their code
reported. Everything else is read on reader connections of the store's own: a read sees
committed data and never delays a commit. Called while holding the tracker (inside
``batch()``), a read sees that thread's own uncommitted changes too. No Qt.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .events import LogEntry
from .filters import JobFilter, StatusArg, TypeArg
from .group_commit import Committer, GroupCommitLock
from .history_order import HistorySort, SortKey
from .job import Job, JobStatus
from .job_input import check_text, lookup_id
from .job_memory import JobMemory
from .progress_pump import ProgressPump
from .read_stop import ReadStop
from .store import Store
from .timeline import JobTimeline, load_timeline
from .validation import check_int

if TYPE_CHECKING:
    from .stats import JobStats
    from .tracker import JobTracker

__all__ = ["TrackerReads"]

_STATUS_VALUES = tuple(status.value for status in JobStatus)

T = TypeVar("T")


class TrackerReads:
    """Reading jobs and logs (a base class of :class:`~jobdeck.core.tracker.JobTracker`)."""

    store: Store
    _lock: GroupCommitLock
    _commits: Committer
    _memory: JobMemory
    _pump: ProgressPump
    _stats: JobStats | None
    _stats_lock: threading.Lock

    def _readable(self) -> None:
        raise NotImplementedError

    def stats(self) -> JobStats:
        """The statistics of this tracker's store (:class:`~jobdeck.core.stats.JobStats`,
        thread-safe): one instance, made at the first call from any thread (numpy is
        imported then), so the Statistics tab and ``GET /api/stats`` share its columns of
        the whole history (~84 MB at a million jobs) instead of each keeping a copy."""
        if self._stats is not None:
            return self._stats
        from .stats import JobStats  # (numpy: imported without holding the lock)

        with self._stats_lock:  # making it is quick: it reads nothing yet
            if self._stats is None:
                self._stats = JobStats(cast("JobTracker", self))
            return self._stats

    def _read(self, query: Callable[[sqlite3.Connection | None], Any]) -> Any:
        """Run ``query(conn)`` on a reader connection, or — for an in-memory store, or when
        this thread holds the tracker — on the writer's (``conn`` None), under the lock."""
        if self.store.shares_reader_connection or self._lock.held_by_me():
            with self._lock, self.store.reader_errors():
                return query(None)
        with self.store.reader() as conn:
            return query(conn)

    def read_store(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query(conn)`` on a reader connection of the store (read-only SQL in the
        portable dialect, ``?`` placeholders): for readers that aggregate, such as
        :mod:`~jobdeck.core.stats`. Errors become :class:`~.store_errors.StoreError`."""
        self._readable()
        result: T = self._read(lambda conn: query(self.store.conn if conn is None else conn))
        return result

    def get_job(self, job_id: str) -> Job | None:
        """The latest snapshot of a job, or None if there is no such job."""
        self._readable()
        with self._lock:
            job = self._memory.active.get(job_id)
            if job is not None:
                return self._pump.live(job)
        if lookup_id(job_id) is None:
            return None
        stored: Job | None = self._read(lambda conn: self.store.get(job_id, conn))
        return stored

    def active_jobs(self) -> list[Job]:
        """Pending and running jobs, oldest first (from memory; no SQL)."""
        with self._lock:
            jobs = [self._pump.live(j) for j in self._memory.active.values()]
        jobs.sort(key=lambda j: j.id)
        return jobs

    def pending_jobs(self) -> list[Job]:
        """Pending jobs in the order they should run: higher priority first, then oldest."""
        with self._lock:
            jobs = [j for j in self._memory.active.values() if j.status is JobStatus.PENDING]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs

    def list_jobs(
        self,
        status: StatusArg = None,
        type: TypeArg = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]:
        """Jobs newest first, filtered; ``before`` (a job id) pages back through history.

        ``search`` matches title, type, progress message or error message as plain text
        (``%`` and ``_`` are no wildcards, ASCII letters in any case); ``status`` accepts
        any case (see :class:`~jobdeck.core.filters.JobFilter`)."""
        self._readable()
        limit = check_int("limit", limit, 0)
        where = JobFilter.of(status, type, search)
        if before is not None:
            before = check_text("before", before)
        jobs: list[Job] = self._read(
            lambda conn: self.store.select_jobs(where, limit, before, conn=conn)
        )
        active = self._memory.active
        with self._lock:
            return [self._pump.live(active[j.id]) if j.id in active else j for j in jobs]

    def history_page(
        self,
        where: JobFilter,
        sort: HistorySort = HistorySort.CREATED,
        descending: bool = True,
        after: SortKey | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        stop: ReadStop | None = None,
    ) -> list[tuple[Job, SortKey]]:
        """One page of the history: jobs passing ``where`` in ``sort`` order, each with its
        sort key, after the row whose key is ``after`` (None: from the first), skipping
        ``offset`` rows; see :meth:`~jobdeck.core.store.Store.history_page`. Unfinished jobs
        come with their latest progress (their keys are the stored ones). Another thread
        may stop it with ``stop`` (it raises :class:`~.read_stop.ReadStopped`), e.g. the
        first rows of a search typed on."""
        self._readable()
        limit = check_int("limit", limit, 0)
        offset = check_int("offset", offset, 0)
        rows: list[tuple[Job, SortKey]] = self._read(
            lambda conn: self.store.history_page(
                where, sort, descending, after, limit, offset, conn=conn, stop=stop
            )
        )
        active = self._memory.active
        if not any(j.id in active for j, _ in rows):  # most pages: no need to wait for a
            return rows  # change being committed (the tracker's lock) to merge nothing
        with self._lock:
            return [
                (self._pump.live(active[j.id]) if j.id in active else j, key) for j, key in rows
            ]

    def count_jobs_before(
        self, where: JobFilter, sort: HistorySort, descending: bool, key: SortKey
    ) -> int:
        """The position of the row with ``key`` among the jobs passing ``where`` in
        ``sort`` order (how many come before it)."""
        self._readable()
        return int(
            self._read(lambda conn: self.store.count_before(where, sort, descending, key, conn))
        )

    def count_jobs(
        self,
        status: StatusArg = None,
        type: TypeArg = None,
        search: str | None = None,
        *,
        stop: ReadStop | None = None,
    ) -> int:
        """How many jobs match (``COUNT(*)`` on indexes); filters as in :meth:`list_jobs`.
        Another thread may stop it with ``stop`` (it raises
        :class:`~.read_stop.ReadStopped`), e.g. the count of a search typed on."""
        self._readable()
        where = JobFilter.of(status, type, search)
        return int(self._read(lambda conn: self.store.count_jobs(where, conn=conn, stop=stop)))

    def counts_by_type(self) -> dict[str, dict[str, int]]:
        """How many jobs of each type the store holds, per status (every status named, 0
        when none; only the types it holds jobs of), in one read."""
        self._readable()
        rows: list[tuple[str, str, int]] = self._read(self.store.counts_by_type)
        by_type: dict[str, dict[str, int]] = {}
        for type_name, status, count in sorted(rows):
            if status in _STATUS_VALUES:
                counts = by_type.setdefault(type_name, dict.fromkeys(_STATUS_VALUES, 0))
                counts[status] += count
        return by_type

    def recent_successes(self, type_name: str, limit: int = 500) -> list[tuple[str, float]]:
        """``(params JSON, seconds)`` of the last ``limit`` completed jobs of ``type_name``,
        newest first: what :class:`~jobdeck.core.run_history.RunHistories` learns from."""
        self._readable()
        limit = check_int("limit", limit, 0)
        type_name = check_text("type_name", type_name)
        rows: list[tuple[str, float]] = self._read(
            lambda conn: self.store.recent_successes(type_name, limit, conn)
        )
        return rows

    def timeline(self, job_id: str) -> JobTimeline:
        """A job's progress timeline (a running job's as it is now, written or not) and, for
        a program that ended, its RSS and CPU over time; empty for an unknown job."""
        self._readable()
        if lookup_id(job_id) is None:
            return JobTimeline()
        with self._lock:
            live = self._pump.timelines.get(job_id)
            live_points = tuple(live.points) if live is not None else None
        store = self.store
        stored: JobTimeline = self._read(
            lambda conn: load_timeline(store.conn if conn is None else conn, job_id)
        )
        if live_points is not None:
            return JobTimeline(live_points, stored.resources)
        return stored

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]:
        """The last ``limit`` log lines of a job, oldest first (lines not yet stored
        included)."""
        self._readable()
        limit = check_int("limit", limit, 0)
        if lookup_id(job_id) is None:
            return []
        queued = self._pump.logs.lines
        if self.store.shares_reader_connection or self._lock.held_by_me():
            with self._lock:
                stored = self._read(lambda conn: self.store.logs(job_id, limit, conn))
                pending = [e for e in list(queued) if e.job_id == job_id]
            return _last(stored + pending, limit)
        committer = self._commits
        for _attempt in range(5):
            with self._lock:
                commits = committer.commits
                group = committer.group
                unstored = [e for e in (group.logs if group else []) if e.job_id == job_id]
                unstored += [e for e in list(queued) if e.job_id == job_id]
            stored = self._read(lambda conn: self.store.logs(job_id, limit, conn))
            with self._lock:
                if committer.commits == commits:  # no commit moved lines meanwhile
                    return _last(stored + unstored, limit)
        with self._lock:  # commits keep coming: read beside the writer this once
            stored = self.store.logs(job_id, limit)
            pending = [e for e in list(queued) if e.job_id == job_id]
        return _last(stored + pending, limit)


def _last(entries: list[LogEntry], limit: int) -> list[LogEntry]:
    return entries[-limit:] if limit else []
