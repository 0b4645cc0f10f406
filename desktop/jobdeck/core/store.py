"""The SQLite store behind the tracker: opening, locking, migrating, reading and writing jobs.

One :class:`Store` owns one connection. It is not thread-safe by itself: the tracker calls
it under its own lock. Transitions go through ``save``/``insert`` in their own transaction
(raw, prepared SQL: these are the hot writes); listing, counting and searching use peewee.

Opening checks, in order, without modifying anything that fails a check: the file is a
SQLite database (else :class:`StoreCorrupt`), its schema is not newer than ours (else
:class:`StoreTooNew`), and no other process has it open for writing (else
:class:`StoreLocked`). Only then is it opened read-write, switched to WAL and migrated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import peewee as pw

from .events import LogEntry
from .job import Job, JobError, JobStatus, Progress
from .schema import JOB_COLUMNS, MIGRATIONS, SCHEMA_VERSION, bind_models

try:  # POSIX advisory locks; on other platforms a second writer is not detected.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

__all__ = [
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreReadOnly",
    "StoreTooNew",
    "default_db_path",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """Something is wrong with the job database file."""


class StoreCorrupt(StoreError):
    """The file is not a SQLite database (or is damaged); it was not modified."""


class StoreTooNew(StoreError):
    """The file was written by a newer Jobdeck; it was not modified."""


class StoreLocked(StoreError):
    """Another process has the store open for writing."""

    def __init__(self, path: Path, owner_pid: int | None) -> None:
        who = f"process {owner_pid}" if owner_pid else "another process"
        super().__init__(
            f"{path} is already open for writing by {who}; "
            "close that Jobdeck or open this one read-only"
        )
        self.path = path
        self.owner_pid = owner_pid


class StoreReadOnly(StoreError):
    """A write was attempted on a store opened with ``read_only=True``."""


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
    return None if text is None else json.loads(text)


_COL = {name: i for i, name in enumerate(JOB_COLUMNS)}
_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"


def row_to_job(row: Sequence[Any]) -> Job:
    """Build a :class:`Job` from a row whose columns are in :data:`JOB_COLUMNS` order."""
    c = _COL
    error = row[c["error"]]
    return Job(
        id=row[c["id"]],
        type=row[c["type"]],
        title=row[c["title"]],
        status=JobStatus(row[c["status"]]),
        priority=row[c["priority"]],
        params=json.loads(row[c["params"]]),
        metadata=json.loads(row[c["metadata"]]),
        progress=Progress(
            row[c["progress_current"]], row[c["progress_total"]], row[c["progress_message"]]
        ),
        created_ts=row[c["created_ts"]],
        started_ts=row[c["started_ts"]],
        completed_ts=row[c["completed_ts"]],
        error=None if error is None else JobError(error, row[c["traceback"]]),
        result=_loads(row[c["result"]]),
        attempts=row[c["attempts"]],
        max_attempts=row[c["max_attempts"]],
        run_at_ts=row[c["run_at_ts"]],
        timeout=row[c["timeout"]],
        depends_on=tuple(json.loads(row[c["depends_on"]])),
        cancel_requested=bool(row[c["cancel_requested"]]),
        retry_of=row[c["retry_of"]],
        pid=row[c["pid"]],
        exit_code=row[c["exit_code"]],
        log_path=row[c["log_path"]],
        peak_rss=row[c["peak_rss"]],
        cpu_seconds=row[c["cpu_seconds"]],
    )


def _job_values(job: Job) -> tuple[Any, ...]:
    """The row for ``job``, in :data:`JOB_COLUMNS` order."""
    values = {
        "id": job.id,
        "type": job.type,
        "title": job.title,
        "status": job.status.value,
        "priority": job.priority,
        "params": _dumps(job.params),
        "metadata": _dumps(job.metadata),
        "progress_current": job.progress.current,
        "progress_total": job.progress.total,
        "progress_message": job.progress.message,
        "created_ts": job.created_ts,
        "started_ts": job.started_ts,
        "completed_ts": job.completed_ts,
        "error": None if job.error is None else job.error.message,
        "traceback": None if job.error is None else job.error.traceback,
        "result": None if job.result is None else _dumps(job.result),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at_ts": job.run_at_ts,
        "timeout": job.timeout,
        "depends_on": _dumps(list(job.depends_on)),
        "cancel_requested": int(job.cancel_requested),
        "retry_of": job.retry_of,
        "pid": job.pid,
        "exit_code": job.exit_code,
        "log_path": job.log_path,
        "peak_rss": job.peak_rss,
        "cpu_seconds": job.cpu_seconds,
    }
    return tuple(values[name] for name in JOB_COLUMNS)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


#: How each mutable Job field is written: (column, value getter) pairs.
_FIELD_COLUMNS: dict[str, tuple[tuple[str, Callable[[Job], Any]], ...]] = {
    "title": (("title", lambda j: j.title),),
    "status": (("status", lambda j: j.status.value),),
    "priority": (("priority", lambda j: j.priority),),
    "progress": (
        ("progress_current", lambda j: j.progress.current),
        ("progress_total", lambda j: j.progress.total),
        ("progress_message", lambda j: j.progress.message),
    ),
    "started_ts": (("started_ts", lambda j: j.started_ts),),
    "completed_ts": (("completed_ts", lambda j: j.completed_ts),),
    "error": (
        ("error", lambda j: None if j.error is None else j.error.message),
        ("traceback", lambda j: None if j.error is None else j.error.traceback),
    ),
    "result": (("result", lambda j: _json_or_none(j.result)),),
    "attempts": (("attempts", lambda j: j.attempts),),
    "max_attempts": (("max_attempts", lambda j: j.max_attempts),),
    "run_at_ts": (("run_at_ts", lambda j: j.run_at_ts),),
    "timeout": (("timeout", lambda j: j.timeout),),
    "depends_on": (("depends_on", lambda j: _dumps(list(j.depends_on))),),
    "cancel_requested": (("cancel_requested", lambda j: int(j.cancel_requested)),),
    "retry_of": (("retry_of", lambda j: j.retry_of),),
    "pid": (("pid", lambda j: j.pid),),
    "exit_code": (("exit_code", lambda j: j.exit_code),),
    "log_path": (("log_path", lambda j: j.log_path),),
    "peak_rss": (("peak_rss", lambda j: j.peak_rss),),
    "cpu_seconds": (("cpu_seconds", lambda j: j.cpu_seconds),),
    "metadata": (("metadata", lambda j: _dumps(j.metadata)),),
}
_partial_updates: dict[frozenset[str], tuple[str, tuple[Callable[[Job], Any], ...]]] = {}


def _partial_update(fields: frozenset[str]) -> tuple[str, tuple[Callable[[Job], Any], ...]]:
    """The UPDATE statement (cached per set of fields) writing just ``fields`` of a job."""
    found = _partial_updates.get(fields)
    if found is None:
        pairs = [pair for name in sorted(fields) for pair in _FIELD_COLUMNS[name]]
        sql = f"UPDATE jobs SET {', '.join(f'{c} = ?' for c, _ in pairs)} WHERE id = ?"
        found = _partial_updates[fields] = (sql, tuple(g for _, g in pairs))
    return found


_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})"
)
_UPDATE_PROGRESS = (
    "UPDATE jobs SET progress_current = ?, progress_total = ?, progress_message = ? "
    "WHERE id = ? AND status = 'running'"
)
_INSERT_LOG = "INSERT INTO job_logs (job_id, ts, level, message) VALUES (?, ?, ?, ?)"


def _read_header(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(100)


class _WriterLock:
    """An exclusive advisory lock on ``<db>.lock`` holding the owner's pid."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self, db_path: Path) -> None:
        if fcntl is None:  # pragma: no cover
            return
        f = open(self.path, "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            text = f.read().strip()
            f.close()
            raise StoreLocked(db_path, int(text) if text.isdigit() else None) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            self._file.close()
            self._file = None


class Store:
    """One SQLite job database: schema, migrations and the queries the tracker needs."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if not self.memory else Path(":memory:")
        self.read_only = read_only
        self._lock: _WriterLock | None = None
        self.db = pw.SqliteDatabase(None, thread_safe=False, autoconnect=False)
        if self.memory:
            if read_only:
                raise StoreError("an in-memory store cannot be opened read-only")
            self._connect(":memory:", uri=False)
            self._migrate(0)
            return
        self._check_file()
        if read_only:
            if not self.path.exists():
                raise StoreError(f"{self.path} does not exist, so it cannot be opened read-only")
            self._connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            version = self.schema_version()
            if version != SCHEMA_VERSION:
                self.db.close()
                raise StoreError(
                    f"{self.path} has schema version {version} but this Jobdeck reads version "
                    f"{SCHEMA_VERSION}; open it once for writing to migrate it"
                )
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _WriterLock(self.path)
        self._lock.acquire(self.path)
        try:
            self._backup_if_old()
            self._connect(str(self.path), uri=False)
            version = self.schema_version()
            self._check_version(version)
            self._migrate(version)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreCorrupt(f"{self.path} is not a usable Jobdeck database: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _check_file(self) -> None:
        """Refuse a non-SQLite or too-new file by reading its header only (touches nothing)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        if self.path.is_dir():
            raise StoreCorrupt(f"{self.path} is a directory, not a Jobdeck database")
        header = _read_header(self.path)
        if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
            raise StoreCorrupt(f"{self.path} is not a SQLite database; it was left untouched")
        self._check_version(int.from_bytes(header[60:64], "big"))

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{self.path} has schema version {version}, newer than version "
                f"{SCHEMA_VERSION} that this Jobdeck understands; it was left untouched "
                "(upgrade Jobdeck to open it)"
            )

    def _connect(self, database: str, *, uri: bool) -> None:
        self.db.init(database, uri=uri, check_same_thread=False, timeout=10)
        self.db.connect()
        conn = self.conn
        conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
        if not self.read_only:
            if not self.memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":  # pragma: no cover - exotic file systems
                    log.warning("%s: could not switch to WAL (journal mode %s)", self.path, mode)
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        self.jobs_model, self.logs_model = bind_models(self.db)

    def _backup_if_old(self) -> None:
        """Copy an older-schema file aside before anything touches it, so nothing is lost."""
        if not self.path.exists() or self.path.stat().st_size < 100:
            return
        version = int.from_bytes(_read_header(self.path)[60:64], "big")
        if not 0 < version < SCHEMA_VERSION:
            return
        target = self.path.with_name(f"{self.path.name}.v{version}.bak")
        if target.exists():
            return
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            # Committed pages may still sit in the WAL: let SQLite write a consistent copy.
            src = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            shutil.copy2(self.path, target)
        log.info("backed up %s (schema version %d) to %s", self.path, version, target)

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for sql in MIGRATIONS[target - 1]:
                    self.conn.execute(sql)
                self.conn.execute(f"PRAGMA user_version = {target}")
            if version:
                log.info("migrated %s to schema version %d", self.path, target)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.connection()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        if not self.db.is_closed():
            if not self.read_only and not self.memory:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA optimize")
            self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). A single statement needs none:
        the connection is in autocommit mode, so it is its own transaction."""
        if self.read_only:
            raise StoreReadOnly(f"{self.path} is open read-only")
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def insert(self, conn: sqlite3.Connection, job: Job) -> None:
        conn.execute(_INSERT_JOB, _job_values(job))

    def save_fields(self, conn: sqlite3.Connection, job: Job, fields: frozenset[str]) -> None:
        """Write only ``fields`` (Job field names) of ``job``: one prepared UPDATE."""
        sql, getters = _partial_update(fields)
        conn.execute(sql, [g(job) for g in getters] + [job.id])

    def save_progress(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[float, float, str, str]]
    ) -> None:
        """Rows of (current, total, message, job_id); only running jobs are touched."""
        conn.executemany(_UPDATE_PROGRESS, rows)

    def add_logs(self, conn: sqlite3.Connection, entries: Iterable[LogEntry]) -> None:
        conn.executemany(_INSERT_LOG, ((e.job_id, e.ts, e.level, e.message) for e in entries))

    def delete_finished_before(self, conn: sqlite3.Connection, ts: float) -> int:
        """Delete finished jobs that ended before ``ts`` (their logs go by cascade)."""
        cur = conn.execute(
            "DELETE FROM jobs WHERE completed_ts < ? AND status IN "
            "('completed', 'failed', 'cancelled')",
            (ts,),
        )
        return cur.rowcount

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute(f"{_SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row_to_job(row)

    def exists(self, job_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is not None
        )

    def with_status(self, *statuses: JobStatus) -> list[Job]:
        marks = ", ".join("?" * len(statuses))
        rows = self.conn.execute(
            f"{_SELECT_JOB} WHERE status IN ({marks}) ORDER BY id", [s.value for s in statuses]
        )
        return [row_to_job(r) for r in rows]

    def _filtered(
        self,
        query: Any,
        status: JobStatus | str | Iterable[JobStatus | str] | None,
        type: str | Iterable[str] | None,
        search: str | None,
    ) -> Any:
        m = self.jobs_model
        if status is not None:
            values = (
                [JobStatus(status).value]
                if isinstance(status, str)
                else [JobStatus(s).value for s in status]
            )
            query = query.where(m.status.in_(values))
        if type is not None:
            types = [type] if isinstance(type, str) else list(type)
            query = query.where(m.type.in_(types))
        if search:
            like = f"%{search}%"
            query = query.where(
                m.title**like | m.type**like | m.progress_message**like | m.error**like
            )
        return query

    def select_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
        oldest_first: bool = False,
    ) -> list[Job]:
        m = self.jobs_model
        fields = [getattr(m, name) for name in JOB_COLUMNS]
        query = self._filtered(m.select(*fields), status, type, search)
        if before is not None:
            query = query.where(m.id > before if oldest_first else m.id < before)
        query = query.order_by(m.id.asc() if oldest_first else m.id.desc()).limit(limit)
        return [row_to_job(r) for r in query.tuples()]

    def count_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
    ) -> int:
        m = self.jobs_model
        query = self._filtered(m.select(pw.fn.COUNT(pw.SQL("*"))), status, type, search)
        return int(query.scalar())

    def logs(self, job_id: str, limit: int) -> list[LogEntry]:
        rows = self.conn.execute(
            "SELECT job_id, ts, level, message FROM job_logs WHERE job_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (job_id, limit),
        ).fetchall()
        return [LogEntry(*r) for r in reversed(rows)]
