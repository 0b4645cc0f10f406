"""The SQLite store behind the tracker: one job database, its transactions, writes and reads.

One :class:`Store` owns one *writer* connection, which is not thread-safe by itself: the
tracker uses it under its own lock, and every transaction on it goes through the store
(:meth:`Store.begin`, :meth:`Store.commit`, :meth:`Store.savepoint`, ...). Transitions go
through :meth:`Store.insert` and :meth:`Store.save_fields`: raw, prepared SQL derived from
the model (see :mod:`.job_rows`), as these are the hot writes. Reads that may take a while —
listing, counting, searching, logs — run on *reader* connections of their own
(:meth:`Store.reader`), so a slow query never holds up a commit (WAL lets readers and the
writer work at once). Opening, checking and migrating the file is :mod:`.store_opening`'s
job. No Qt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import peewee as pw

from . import text_search
from .events import LogEntry
from .filters import JobFilter
from .history_build import HistoryBuild
from .history_order import HistorySort, SortKey, sort_key
from .history_schema import COMMAND_SQL, text_index_ready
from .job import Job, JobStatus
from .job_rows import JOB_ROWS
from .read_stop import ReadStop
from .search_page import natural_search_page
from .store_errors import (
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreReadOnly,
    StoreTooNew,
    StoreWriteError,
)
from .store_opening import QUICK_CHECK_MAX_BYTES, StoreOpening
from .validation import MAX_TEXT, storable_text
from .wal_checkpoint import NUDGE_COMMITS, WalCheckpointer

log = logging.getLogger(__name__)

__all__ = [
    "QUICK_CHECK_MAX_BYTES",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreReadOnly",
    "StoreTooNew",
    "StoreWriteError",
    "default_db_path",
]

_IDLE_READERS = 4


def default_db_path() -> Path:
    """``$JOBDECK_DB`` if set, else ``jobs.db`` in the platform's user-data directory."""
    env = os.environ.get("JOBDECK_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("jobdeck", appauthor=False) / "jobs.db"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _loads(text: str | None) -> Any:
    """A stored JSON value; a damaged one reads as None (never a crash)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        log.warning("a stored JSON value could not be read: %.80r", text)
        return None


_ID = JOB_ROWS.index["id"]
_SELECT_JOB = JOB_ROWS.select_sql
#: The jobs whose rowids are in a JSON array (a text search's page: see search_page).
_ROWS_AMONG = f"{_SELECT_JOB} WHERE rowid IN (SELECT value FROM json_each(?))"
_STATUS = JOB_ROWS.column_of("status")
_LAST_SEEN = JOB_ROWS.column_of("last_seen_ts")
_PROGRESS = JOB_ROWS.columns_of("progress")
#: The pump's progress write: only running jobs, and their last sign of life with it.
_UPDATE_PROGRESS = (
    f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in _PROGRESS)}, {_LAST_SEEN} = ? "
    f"WHERE id = ? AND {_STATUS} = 'running'"
)
#: SQLite's default limit on bound parameters is 32766 (999 before 3.32): stay well under.
_MAX_SQL_PARAMS = 900
_INSERT_LOG = "INSERT INTO job_logs (job_id, ts, level, message) VALUES (?, ?, ?, ?)"
#: Finished jobs past retention that no unfinished job depends on.
#: ``+status``: walk the ``completed_ts`` index oldest first (the status index would make
#: SQLite read and sort every finished job for each batch).
_EXPIRED = (
    "FROM jobs WHERE completed_ts < ? AND +status IN ('completed', 'failed', 'cancelled') "
    "AND id NOT IN (SELECT d.value FROM jobs AS p, json_each(p.depends_on) AS d "
    "WHERE p.status IN ('pending', 'running') AND p.depends_on != '[]')"
)


_EVERY_JOB = JobFilter()
#: How a listing with a text search is planned (see Store._search_condition): under
#: _SOME_MATCHES matches it reads them and sorts them, from _MANY_MATCHES on it tests each
#: row's texts on its way along the order's index, in between it checks each row against
#: the index's matches.
_SOME_MATCHES = 3000
_MANY_MATCHES = 10_000
#: Jobs whose texts match a text-index query (see :mod:`.history_schema`).
_MATCHING = "rowid IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH ?)"
#: Jobs whose texts contain a text, ASCII letters folded (the scan, when the index cannot
#: answer): ``instr`` over ``lower``, which, unlike LIKE, also sees past a NUL character.
_SCANNED = (
    "("
    + " OR ".join(
        f"instr(lower({text}), ?) > 0"
        for text in ("title", "type", "progress_message", "error", COMMAND_SQL.format(row=""))
    )
    + ")"
)


def _text(value: str) -> str:
    return storable_text(value, MAX_TEXT)


class _ReaderPool:
    """Read-only connections for queries that must not wait for (or hold up) the writer."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < _IDLE_READERS
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Store(StoreOpening):
    """One SQLite job database: its transactions, and the writes and queries the tracker
    needs (opening and checking the file: :class:`~jobdeck.core.store_opening.StoreOpening`)."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if not self.memory else Path(":memory:")
        self.read_only = read_only
        self._file = None
        self._locked = False
        self._readers: _ReaderPool | None = None
        self._text_counts: dict[str, int] = {}
        #: The SQL of listings that do not depend on the store's state (see _cached_sql):
        #: building it with peewee costs a read ~0.5 ms of Python, on a reading thread that
        #: shares the interpreter with a busy GUI thread.
        self._sql_cache: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}
        self._text_ready = False
        self._history_build: HistoryBuild | None = None
        self._history_build_due = False
        self.db = pw.SqliteDatabase(None, thread_safe=False, autoconnect=False)
        if self.memory:
            if read_only:
                raise StoreError("an in-memory store cannot be opened read-only")
            self._connect(":memory:", uri=False)
            self._migrate(0)
            HistoryBuild.build_if_small(self.conn, in_memory=True)
            return
        try:
            if read_only:
                self._open_read_only()
            else:
                self._open_for_writing()
                with self._sqlite_errors("open"):
                    built = HistoryBuild.build_if_small(self.conn, in_memory=False)
                self._history_build_due = not built
        except BaseException:
            self.close()
            raise
        self._readers = _ReaderPool(self._reader_connection)
        if not read_only:
            self._checkpoints = WalCheckpointer(self.path)

    @property
    def location(self) -> str:
        """Where the store is, as messages name it (the file's path)."""
        return str(self.path)

    #: Whether several app instances share the store (a PostgreSQL board).
    shared = False
    #: This app instance's name on a shared store (None: a file only this app writes).
    instance: str | None = None

    #: Checkpoints the WAL of a file opened for writing (see :mod:`.wal_checkpoint`).
    _checkpoints: WalCheckpointer | None = None
    _commits_since_nudge = 0

    #: Whether the store keeps ``job_counts`` and a text index (schema 6, SQLite only).
    keeps_counts = True

    #: Whether one failed statement leaves the open transaction usable (SQLite undoes the
    #: statement alone; PostgreSQL fails the whole transaction, so the commit group guards
    #: every change with a savepoint there).
    statement_undo_alone = True

    def lock_for_transition(self, conn: sqlite3.Connection, job: Job, new: JobStatus) -> None:
        """Make sure ``job`` is still as the caller knows it before moving it to ``new``,
        inside the open transaction. A SQLite file has one writer, so it is; a shared board
        locks the row (see :mod:`.pg_store`) and raises
        :class:`~jobdeck.core.job.JobTaken` when another instance changed or has it."""

    def run_by(self, job_id: str, conn: sqlite3.Connection | None = None) -> str | None:
        """The app instance that runs (or last ran) a job: None on a SQLite file, which has
        one (see :mod:`.pg_store`)."""
        return None

    def start_history_build(self) -> None:
        """Start building what schema migration 6 left for after open, on a thread of its
        own (a big store: see :mod:`.history_build`); the tracker calls it once it has
        opened. Nothing to do for a store already built."""
        if self._history_build_due and self._history_build is None:
            self._history_build = HistoryBuild.start(self.path)

    def close(self) -> None:
        self._history_build_due = False
        if self._checkpoints is not None:
            self._checkpoints.stop()
            self._checkpoints = None
        if self._history_build is not None:
            self._history_build.stop()
            self._history_build = None
        if self._readers is not None:
            self._readers.close()
        if not self.db.is_closed():
            if not self.read_only and not self.memory:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA optimize")
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
        if self._file is not None:
            if self._locked:
                self._file.unlock(self)
                self._locked = False
            self._file.detach()
            self._file = None

    # -- transactions (the writer connection; the caller holds the writer's lock) ---------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). A single statement needs none:
        the connection is in autocommit mode, so it is its own transaction."""
        if self.read_only:
            raise StoreReadOnly(f"{self.location} is open read-only")
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        self._see_schema(conn)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def begin(self) -> sqlite3.Connection:
        """Open a write transaction (BEGIN IMMEDIATE) that :meth:`commit` or
        :meth:`rollback` ends; the writer connection. Raises sqlite3.Error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        self._see_schema(conn)
        return conn

    def _see_schema(self, conn: sqlite3.Connection) -> None:
        """While the history build adds indexes from its own connection (see
        :mod:`.history_build`), read the schema in a plain statement before anything else:
        SQLite 3.40 fails a statement whose triggers write the FTS5 table ("vtable
        constructor failed", "no such table") when it is the one that finds the schema
        changed. Inside BEGIN IMMEDIATE no index can be added until the commit."""
        if self._history_build is not None:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open (SQLite may have dropped it: a full disk)."""
        return bool(self.conn.in_transaction)

    def commit(self) -> None:
        """Commit the open transaction. Raises sqlite3.Error (it stays open then). Every
        :data:`~.wal_checkpoint.NUDGE_COMMITS` commits the WAL's checkpointing thread is
        nudged (see :mod:`.wal_checkpoint`)."""
        self.conn.execute("COMMIT")
        if self._checkpoints is not None:
            self._commits_since_nudge += 1
            if self._commits_since_nudge >= NUDGE_COMMITS:
                self._commits_since_nudge = 0
                self._checkpoints.nudge()

    def rollback(self) -> None:
        """Roll the open transaction back, if SQLite has not already; never raises."""
        conn = self.conn
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def mark(self, name: str) -> None:
        """Set savepoint ``name`` inside the open transaction."""
        self.conn.execute(f"SAVEPOINT {name}")

    def keep(self, name: str) -> None:
        """Keep what was done since savepoint ``name`` (RELEASE)."""
        self.conn.execute(f"RELEASE {name}")

    def undo(self, name: str) -> None:
        """Undo what was done since savepoint ``name`` and drop it, if the transaction is
        still open; never raises."""
        conn = self.conn
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")

    @contextlib.contextmanager
    def savepoint(self, name: str) -> Iterator[sqlite3.Connection]:
        """A block inside the open transaction that is undone alone if it raises."""
        self.mark(name)
        try:
            yield self.conn
        except BaseException:
            self.undo(name)
            raise
        self.keep(name)

    # -- writing --------------------------------------------------------------------------------

    def insert(self, conn: sqlite3.Connection, job: Job) -> None:
        conn.execute(JOB_ROWS.insert_sql, JOB_ROWS.to_row(job))

    def save_fields(self, conn: sqlite3.Connection, job: Job, fields: frozenset[str]) -> None:
        """Write only ``fields`` (Job field names) of ``job``: one prepared UPDATE.

        Raises :class:`StoreWriteError` when the job has no row (nothing was written)."""
        sql, values = JOB_ROWS.update(fields)
        cur = conn.execute(sql, values(job))
        if cur.rowcount != 1:
            raise StoreWriteError(
                f"could not save job {job.id} to {self.location}: it is not in the store"
            )

    def save_progress(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[float, float, str, str]], now: float
    ) -> None:
        """Rows of (current, total, message, job_id); only running jobs are touched, and
        their last sign of life becomes ``now``."""
        conn.executemany(
            _UPDATE_PROGRESS, ((cur, tot, _text(msg), now, jid) for cur, tot, msg, jid in rows)
        )

    def mark_alive(self, conn: sqlite3.Connection, now: float) -> None:
        """Every running job was alive at ``now`` (the tracker's heartbeat)."""
        conn.execute(f"UPDATE jobs SET {_LAST_SEEN} = ? WHERE {_STATUS} = 'running'", (now,))

    def add_logs(self, conn: sqlite3.Connection, entries: Iterable[LogEntry]) -> None:
        conn.executemany(
            _INSERT_LOG, ((e.job_id, e.ts, e.level, _text(e.message)) for e in entries)
        )

    def count_logs(self, conn: sqlite3.Connection, job_id: str) -> int:
        row = conn.execute("SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def expired_batch(
        self, conn: sqlite3.Connection, ts: float, limit: int
    ) -> list[tuple[str, str | None]]:
        """(id, log path) of at most ``limit`` jobs that retention deletes: finished before
        ``ts`` and needed by no pending or running job; the oldest first (one walk of the
        ``completed_ts`` index)."""
        sql = f"SELECT id, log_path {_EXPIRED} ORDER BY completed_ts LIMIT ?"
        return list(conn.execute(sql, (ts, limit)))

    def delete_jobs(self, conn: sqlite3.Connection, job_ids: list[str]) -> int:
        """Delete these jobs (their log lines go by cascade); how many were deleted."""
        deleted = 0
        for start in range(0, len(job_ids), _MAX_SQL_PARAMS):
            chunk = job_ids[start : start + _MAX_SQL_PARAMS]
            marks = ", ".join("?" * len(chunk))
            deleted += conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk).rowcount
        return deleted

    # -- space ----------------------------------------------------------------------------------

    def pragma_int(self, name: str, conn: sqlite3.Connection | None = None) -> int:
        """The integer value of ``PRAGMA name`` (e.g. ``freelist_count``, ``auto_vacuum``)."""
        row = (self.conn if conn is None else conn).execute(f"PRAGMA {name}").fetchone()
        return int(row[0])

    def get_meta(self, conn: sqlite3.Connection, key: str) -> Any:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else _loads(row[0])

    def set_meta(self, conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )

    # -- reading --------------------------------------------------------------------------------

    def reader_errors(self) -> contextlib.AbstractContextManager[None]:
        """Turn SQLite errors met while reading into a readable :class:`StoreError`."""
        return self._sqlite_errors("read")

    @property
    def shares_reader_connection(self) -> bool:
        """True when reads use the writer's connection (an in-memory store): the caller
        must then hold the writer's lock while reading."""
        return self.memory

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading; SQLite errors become readable :class:`StoreError`."""
        if self._readers is None:
            with self._sqlite_errors("read"):
                yield self.conn
            return
        with self._readers.connection() as conn, self._sqlite_errors("read"):
            self._see_schema(conn)
            yield conn

    def get(self, job_id: str, conn: sqlite3.Connection | None = None) -> Job | None:
        c = self.conn if conn is None else conn
        row = c.execute(f"{_SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JOB_ROWS.from_row(row)

    def exists(self, job_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is not None
        )

    def raw_rows_with_status(self, *statuses: JobStatus) -> list[tuple[Any, ...]]:
        """Raw rows (in :attr:`JOB_ROWS.columns <.job_rows.JobRows.columns>` order) of
        jobs with these statuses, oldest first."""
        rows: list[tuple[Any, ...]] = []
        for status in statuses:  # one status at a time: each walks its (status, id) index
            rows += self.conn.execute(
                f"{_SELECT_JOB} WHERE {_STATUS} = ? ORDER BY id", (status.value,)
            ).fetchall()
        if len(statuses) > 1:
            rows.sort(key=lambda row: row[_ID])
        return rows

    def with_status(self, *statuses: JobStatus) -> list[Job]:
        return [JOB_ROWS.from_row(r) for r in self.raw_rows_with_status(*statuses)]

    def _filtered(
        self,
        query: Any,
        where: JobFilter,
        conn: sqlite3.Connection | None = None,
        *,
        counting: bool = False,
    ) -> Any:
        search = (
            self._search_condition(where.search, conn, counting=counting) if where.search else None
        )
        condition = where.where(self.jobs_model, JOB_ROWS.column_of, search)
        return query if condition is None else query.where(condition)

    def _search_condition(
        self, search: str, conn: sqlite3.Connection | None, *, counting: bool = False
    ) -> Any:
        """The condition for a text search (see :mod:`.text_search`), planned by how many
        jobs match: few (under :data:`_SOME_MATCHES`): read them from the text index and
        sort them; some: walk the listing's order, each row checked against the index's
        matches (``+rowid``: not read through the index); many (from
        :data:`_MANY_MATCHES` on): walk the listing's order and test each row's texts,
        so the first page is near and nothing waits for every match to be read. A count
        always reads the index. Without the index (a text under three characters, or
        while it is built): the scan."""
        fts = text_search.fts_query(search)
        if fts is not None and self._text_index_ready(conn):
            matches = _SOME_MATCHES if counting else self._text_matches(fts, conn)
            if matches < _SOME_MATCHES:
                return pw.SQL(_MATCHING, [fts])
            if matches < _MANY_MATCHES:
                return pw.SQL("+" + _MATCHING, [fts])
        folded = text_search.fold(search)
        return pw.SQL(_SCANNED, [folded] * _SCANNED.count("?"))

    def _sql_of(self, query: Any) -> tuple[str, list[Any]]:
        """A peewee query's SQL and parameters, in this store's dialect."""
        sql, params = query.sql()
        return sql, params

    def _sort_sql(self, sort: HistorySort) -> str | None:
        """The SQL key of a history order, in this store's dialect (None: the id)."""
        return sort.sql

    def _text_index_ready(self, conn: sqlite3.Connection | None = None) -> bool:
        """Whether the text index and the counts hold every job (they are built after
        open: see :mod:`.history_schema`); once they do, they stay so."""
        if not self._text_ready:
            self._text_ready = text_index_ready(self.conn if conn is None else conn)
        return self._text_ready

    def _text_matches(self, fts: str, conn: sqlite3.Connection | None) -> int:
        """How many jobs the text index matches for ``fts``, up to :data:`_MANY_MATCHES`
        (kept a while per query: a hint for planning, see :meth:`_search_condition`)."""
        known = self._text_counts.get(fts)
        if known is not None:
            return known
        c = self.conn if conn is None else conn
        found = c.execute(
            "SELECT count(*) FROM (SELECT rowid FROM jobs_text WHERE jobs_text MATCH ? LIMIT ?)",
            (fts, _MANY_MATCHES),
        ).fetchone()
        if len(self._text_counts) >= 64:
            self._text_counts.clear()
        self._text_counts[fts] = int(found[0])
        return int(found[0])

    def select_jobs(
        self,
        where: JobFilter = _EVERY_JOB,
        limit: int = 100,
        before: str | None = None,
        oldest_first: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> list[Job]:
        """Jobs passing ``where``, newest first (or oldest), ``before`` an id, at most
        ``limit``."""
        m = self.jobs_model
        fields = [getattr(m, name) for name in JOB_ROWS.columns]
        query = self._filtered(m.select(*fields), where, conn)
        if before is not None:
            query = query.where(m.id > before if oldest_first else m.id < before)
        query = query.order_by(m.id.asc() if oldest_first else m.id.desc()).limit(limit)
        sql, params = self._sql_of(query)
        rows = (self.conn if conn is None else conn).execute(sql, params).fetchall()
        return [JOB_ROWS.from_row(r) for r in rows]

    def history_page(
        self,
        where: JobFilter,
        sort: HistorySort,
        descending: bool,
        after: SortKey | None = None,
        limit: int = 200,
        offset: int = 0,
        conn: sqlite3.Connection | None = None,
        stop: ReadStop | None = None,
    ) -> list[tuple[Job, SortKey]]:
        """Jobs passing ``where`` in ``sort`` order (``descending`` or not), with their sort
        keys: at most ``limit``, those after the row whose key is ``after`` (None: from the
        first), skipping ``offset`` more. Keyset paging over the order's index: a page costs
        the same anywhere in the history (``offset`` costs a walk of that many index
        entries, without reading their rows). A text search in creation order reads the
        text index in its rowid order when it can (:mod:`.search_page`): a common word's
        page costs a page, not a walk past every job that does not match. ``stop`` stops
        it (:class:`~.read_stop.ReadStopped`): the scan for a text of one or two letters
        that few jobs contain takes seconds at a million jobs."""
        c = self.conn if conn is None else conn
        if stop is None:
            return self._history_page(where, sort, descending, after, limit, offset, c)
        with stop.reading(c):
            return self._history_page(where, sort, descending, after, limit, offset, c)

    def _history_page(
        self,
        where: JobFilter,
        sort: HistorySort,
        descending: bool,
        after: SortKey | None,
        limit: int,
        offset: int,
        c: sqlite3.Connection,
    ) -> list[tuple[Job, SortKey]]:
        if offset == 0 and where.search and self.keeps_counts and self._sort_sql(sort) is None:
            found = self._natural_search_page(where, descending, after, limit, c)
            if found is not None:
                return found
        if offset > 0:
            keys = self._history_query(
                where, sort, descending, after, 1, offset - 1, keys=True, conn=c
            )
            row = c.execute(*keys).fetchone()
            if row is None:
                return []
            after = tuple(row)  # (NOCASE keys as stored: they compare as folded ones)
        sql, params = self._history_query(
            where, sort, descending, after, limit, 0, keys=False, conn=c
        )
        jobs = [JOB_ROWS.from_row(row) for row in c.execute(sql, params)]
        return [(job, sort_key(sort, job)) for job in jobs]

    def _natural_search_page(
        self,
        where: JobFilter,
        descending: bool,
        after: SortKey | None,
        limit: int,
        conn: sqlite3.Connection,
    ) -> list[tuple[Job, SortKey]] | None:
        """A text search's page in creation order read from the text index in its own
        order (see :mod:`.search_page`), or None when that cannot answer it."""
        fts = text_search.fts_query(where.search or "")
        if fts is None or not self._text_index_ready(conn):
            return None
        others = JobFilter(where.statuses, where.types)  # (the same without its text)

        def build() -> tuple[str, list[Any]]:
            m = self.jobs_model
            among = pw.SQL("rowid IN (SELECT value FROM json_each(?))", ["[]"])
            keys = self._filtered(m.select(m.id.alias("k"), pw.SQL("rowid AS r")), others, conn)
            sql, params = self._sql_of(keys.where(among))  # the rowids: the last parameter
            # one row (one step, one wait for the interpreter lock when the GUI thread is busy)
            return f"SELECT json_group_array(json_array(k, r)) FROM ({sql})", params[:-1]

        keys_sql, keys_params = self._cached_sql(("keys of", others), build)

        def keys_of(c: sqlite3.Connection, rowids: str) -> list[Any]:
            (found,) = c.execute(keys_sql, [*keys_params, rowids]).fetchone()
            return list(json.loads(found))

        def rows_of(c: sqlite3.Connection, rowids: str) -> list[Any]:
            return c.execute(_ROWS_AMONG, [rowids]).fetchall()

        rows = natural_search_page(
            conn,
            fts,
            keys_of,
            rows_of,
            _ID,
            descending,
            None if after is None else str(after[0]),
            limit,
            more_filters=not others.empty,
        )
        if rows is None:
            return None
        return [(job, sort_key(HistorySort.CREATED, job)) for job in map(JOB_ROWS.from_row, rows)]

    def _history_query(
        self,
        where: JobFilter,
        sort: HistorySort,
        descending: bool,
        after: SortKey | None,
        limit: int,
        offset: int,
        *,
        keys: bool,
        conn: sqlite3.Connection | None = None,
    ) -> tuple[str, list[Any]]:
        if where.search or after is not None:  # (a search's plan depends on the store)
            return self._build_history_query(
                where, sort, descending, after, limit, offset, keys=keys, conn=conn
            )
        return self._cached_sql(
            ("history", where, sort, descending, limit, offset, keys),
            lambda: self._build_history_query(
                where, sort, descending, None, limit, offset, keys=keys, conn=conn
            ),
        )

    def _cached_sql(
        self, key: tuple[Any, ...], build: Callable[[], tuple[str, list[Any]]]
    ) -> tuple[str, list[Any]]:
        """The SQL and parameters ``build()`` makes for ``key``, built once (a few dozen
        kept); only for SQL that depends on nothing but ``key``. Thread-safe."""
        found = self._sql_cache.get(key)
        if found is None:
            sql, params = build()
            if len(self._sql_cache) >= 64:
                self._sql_cache.clear()
            found = self._sql_cache[key] = (sql, tuple(params))
        return found[0], list(found[1])

    def _build_history_query(
        self,
        where: JobFilter,
        sort: HistorySort,
        descending: bool,
        after: SortKey | None,
        limit: int,
        offset: int,
        *,
        keys: bool,
        conn: sqlite3.Connection | None = None,
    ) -> tuple[str, list[Any]]:
        m = self.jobs_model
        key = self._sort_sql(sort)
        if keys:
            fields: list[Any] = [m.id] if key is None else [pw.SQL(key), m.id]
        else:
            fields = [getattr(m, name) for name in JOB_ROWS.columns]
        query = self._filtered(m.select(*fields), where, conn)
        less = "<" if descending else ">"
        p = self.db.param  # the driver's placeholder: ? for SQLite, %s for PostgreSQL
        if after is not None:
            if key is None:
                query = query.where(pw.SQL(f"id {less} {p}", [after[0]]))
            else:
                value, job_id = after
                query = query.where(
                    pw.SQL(
                        f"{key} {less}= {p} AND ({key} {less} {p} OR id {less} {p})",
                        [value, value, job_id],
                    )
                )
        direction = "DESC" if descending else "ASC"
        order = [pw.SQL(f"id {direction}")]
        if key is not None:
            order.insert(0, pw.SQL(f"{key} {direction}"))
        query = query.order_by(*order).limit(limit)
        if offset:
            query = query.offset(offset)
        sql, params = self._sql_of(query)
        return sql, list(params)

    def count_before(
        self,
        where: JobFilter,
        sort: HistorySort,
        descending: bool,
        key: SortKey,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        """How many jobs passing ``where`` come before the row with ``key`` in the order:
        that row's position (a count over the order's index)."""
        m = self.jobs_model
        less = ">" if descending else "<"
        p = self.db.param
        expr = self._sort_sql(sort)
        condition = (
            pw.SQL(f"id {less} {p}", [key[0]])
            if expr is None
            else pw.SQL(
                f"{expr} {less}= {p} AND ({expr} {less} {p} OR id {less} {p})",
                [key[0], key[0], key[1]],
            )
        )
        q = self._filtered(m.select(pw.fn.COUNT(pw.SQL("*"))), where, conn, counting=True)
        q = q.where(condition)
        sql, params = self._sql_of(q)
        return int((self.conn if conn is None else conn).execute(sql, params).fetchone()[0])

    def count_jobs(
        self,
        where: JobFilter = _EVERY_JOB,
        conn: sqlite3.Connection | None = None,
        stop: ReadStop | None = None,
    ) -> int:
        """How many jobs pass ``where`` (without a text search: from the counts the
        store's triggers keep per status and type, a few rows, once they are built; see
        :mod:`.history_schema`). ``stop`` stops it (:class:`~.read_stop.ReadStopped`)."""
        c = self.conn if conn is None else conn
        if stop is None:
            return self._count_jobs(where, c)
        with stop.reading(c):
            return self._count_jobs(where, c)

    def counts_by_type(self, conn: sqlite3.Connection | None = None) -> list[tuple[str, str, int]]:
        """``(type, status, how many)`` of every type and status the store holds jobs of
        (from the counts the store's triggers keep, once built, as :meth:`count_jobs`)."""
        c = self.conn if conn is None else conn
        if self.keeps_counts and self._text_index_ready(c):
            sql = "SELECT type, status, n FROM job_counts WHERE n > 0"
        else:
            sql = "SELECT type, status, COUNT(*) FROM jobs GROUP BY type, status"
        return [(str(t), str(s), int(n)) for t, s, n in c.execute(sql).fetchall()]

    def _count_jobs(self, where: JobFilter, c: sqlite3.Connection) -> int:
        if not where.search and self.keeps_counts and self._text_index_ready(c):
            sql = "SELECT IFNULL(SUM(n), 0) FROM job_counts"
            terms, params = [], []
            if where.statuses:
                statuses = sorted({s.value for s in where.statuses})
                terms.append(f"status IN ({', '.join('?' * len(statuses))})")
                params += statuses
            if where.types:
                types = sorted(set(where.types))
                terms.append(f"type IN ({', '.join('?' * len(types))})")
                params += types
            if terms:
                sql += " WHERE " + " AND ".join(terms)
            return int(c.execute(sql, params).fetchone()[0])
        if where.search and not where.statuses and not where.types and self.keeps_counts:
            fts = text_search.fts_query(where.search)
            if fts is not None and self._text_index_ready(c):  # the index alone
                found = c.execute("SELECT count(*) FROM jobs_text WHERE jobs_text MATCH ?", (fts,))
                return int(found.fetchone()[0])
        m = self.jobs_model
        query = self._filtered(m.select(pw.fn.COUNT(pw.SQL("*"))), where, c, counting=True)
        sql, params = self._sql_of(query)
        return int(c.execute(sql, params).fetchone()[0])

    def recent_successes(
        self, type_name: str, limit: int, conn: sqlite3.Connection | None = None
    ) -> list[tuple[str, float]]:
        """``(params JSON, duration in seconds)`` of the last ``limit`` completed jobs of a
        type, newest first (the (type, id) index, walked backwards)."""
        rows = (
            (self.conn if conn is None else conn)
            .execute(
                "SELECT params, completed_ts - started_ts FROM jobs "
                "WHERE type = ? AND status = 'completed' AND started_ts IS NOT NULL "
                "AND completed_ts IS NOT NULL ORDER BY id DESC LIMIT ?",
                (type_name, limit),
            )
            .fetchall()
        )
        return [(str(params), float(duration)) for params, duration in rows]

    def logs(
        self, job_id: str, limit: int, conn: sqlite3.Connection | None = None
    ) -> list[LogEntry]:
        """The last ``limit`` log lines of a job, oldest first."""
        rows = (
            (self.conn if conn is None else conn)
            .execute(
                "SELECT job_id, ts, level, message FROM job_logs WHERE job_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (job_id, limit),
            )
            .fetchall()
        )
        return [LogEntry(*r) for r in reversed(rows)]
