"""The SQLite store behind the tracker: opening, checking, migrating, reading and writing jobs.

One :class:`Store` owns one *writer* connection, which is not thread-safe by itself: the
tracker uses it under its own lock. Transitions go through ``insert``/``save_fields`` (raw,
prepared SQL: these are the hot writes). Reads that may take a while — listing, counting,
searching, logs — run on *reader* connections of their own (:meth:`Store.reader`), so a
slow query never holds up a commit (WAL lets readers and the writer work at once).

Opening checks, in order, without modifying anything that fails a check: the file's header
is a plausible SQLite header and the file is as long as it says (else
:class:`StoreCorrupt`), its schema is not newer than ours (else :class:`StoreTooNew`), no
other writer has it open (else :class:`StoreLocked`; the lock is on the file itself, see
:mod:`.store_files`), it and its folder are writable, and a quick integrity check passes.
Only then is it switched to WAL and migrated. Every error is a :class:`StoreError` whose
message names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import peewee as pw

from .events import LogEntry
from .job import Job, JobError, JobStatus, Progress
from .schema import JOB_COLUMNS, MIGRATIONS, SCHEMA_VERSION, bind_models
from .store_errors import (
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreReadOnly,
    StoreTooNew,
    StoreWriteError,
    describe_sqlite_error,
    error_class_for,
)
from .store_files import (
    OpenFile,
    check_header,
    create_private_file,
    make_private,
    make_private_dirs,
)
from .validation import MAX_TEXT, storable_text, storable_traceback

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

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

#: Files up to this size get SQLite's full ``PRAGMA quick_check`` at open (about 0.1 s);
#: larger ones a bounded check of their schema and newest and oldest rows (a full check of
#: a 1M-job store takes seconds: :meth:`Store.verify` runs it on demand, e.g. in the
#: background).
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024
_PROBE_ROWS = 200
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


def _loads(text: str | None, default: Any) -> Any:
    """Decode a stored JSON column; a damaged value becomes ``default`` (never a crash)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        log.warning("a stored JSON value could not be read: %.80r", text)
        return default


_COL = {name: i for i, name in enumerate(JOB_COLUMNS)}
_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"


def _status(value: Any) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        return JobStatus.FAILED  # an unknown status (damaged row): show it as failed


def row_to_job(row: Sequence[Any]) -> Job:
    """Build a :class:`Job` from a row whose columns are in :data:`JOB_COLUMNS` order.

    Damaged JSON columns decode to a placeholder (``{"unreadable": ...}``) instead of
    raising, so one bad row never breaks a listing."""
    c = _COL
    error = row[c["error"]]
    params = _loads(row[c["params"]], None)
    metadata = _loads(row[c["metadata"]], None)
    depends = _loads(row[c["depends_on"]], None)
    return Job(
        id=row[c["id"]],
        type=row[c["type"]],
        title=row[c["title"]],
        status=_status(row[c["status"]]),
        priority=row[c["priority"]],
        params=params if isinstance(params, dict) else {"unreadable": row[c["params"]]},
        metadata=metadata if isinstance(metadata, dict) else {"unreadable": row[c["metadata"]]},
        progress=Progress(
            row[c["progress_current"]] or 0,
            row[c["progress_total"]] or 0,
            row[c["progress_message"]] or "",
        ),
        created_ts=row[c["created_ts"]],
        started_ts=row[c["started_ts"]],
        completed_ts=row[c["completed_ts"]],
        error=None if error is None else JobError(error, row[c["traceback"]]),
        result=_loads(row[c["result"]], {"unreadable": row[c["result"]]}),
        attempts=row[c["attempts"]],
        max_attempts=row[c["max_attempts"]],
        run_at_ts=row[c["run_at_ts"]],
        timeout=row[c["timeout"]],
        depends_on=tuple(d for d in depends if isinstance(d, str))
        if isinstance(depends, list)
        else (),
        cancel_requested=bool(row[c["cancel_requested"]]),
        retry_of=row[c["retry_of"]],
        pid=row[c["pid"]],
        exit_code=row[c["exit_code"]],
        log_path=row[c["log_path"]],
        peak_rss=row[c["peak_rss"]],
        cpu_seconds=row[c["cpu_seconds"]],
        last_seen_ts=row[c["last_seen_ts"]],
    )


def unreadable_columns(row: Sequence[Any]) -> list[str]:
    """The JSON columns of a raw row that cannot be decoded (for recovery at open)."""
    bad = []
    for name in ("params", "metadata", "depends_on"):
        try:
            json.loads(row[_COL[name]])
        except (ValueError, TypeError):
            bad.append(name)
    return bad


def _text(value: str) -> str:
    return storable_text(value, MAX_TEXT)


def _error_message(job: Job) -> str | None:
    return None if job.error is None else _text(job.error.message)


def _error_traceback(job: Job) -> str | None:
    return None if job.error is None else storable_traceback(job.error.traceback)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


#: How each Job field is written: (column, value getter) pairs. Free text is made storable
#: here too (the tracker already did; this is the last line of defence).
_FIELD_COLUMNS: dict[str, tuple[tuple[str, Callable[[Job], Any]], ...]] = {
    "id": (("id", lambda j: j.id),),
    "type": (("type", lambda j: j.type),),
    "created_ts": (("created_ts", lambda j: j.created_ts),),
    "params": (("params", lambda j: _dumps(j.params)),),
    "title": (("title", lambda j: _text(j.title)),),
    "status": (("status", lambda j: j.status.value),),
    "priority": (("priority", lambda j: j.priority),),
    "progress": (
        ("progress_current", lambda j: j.progress.current),
        ("progress_total", lambda j: j.progress.total),
        ("progress_message", lambda j: _text(j.progress.message)),
    ),
    "started_ts": (("started_ts", lambda j: j.started_ts),),
    "completed_ts": (("completed_ts", lambda j: j.completed_ts),),
    "error": (("error", _error_message), ("traceback", _error_traceback)),
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
    "log_path": (("log_path", lambda j: _optional_text(j.log_path)),),
    "peak_rss": (("peak_rss", lambda j: j.peak_rss),),
    "cpu_seconds": (("cpu_seconds", lambda j: j.cpu_seconds),),
    "metadata": (("metadata", lambda j: _dumps(j.metadata)),),
    "last_seen_ts": (("last_seen_ts", lambda j: j.last_seen_ts),),
}
_ALL_GETTERS = {column: getter for pairs in _FIELD_COLUMNS.values() for column, getter in pairs}
assert set(_ALL_GETTERS) == set(JOB_COLUMNS), "every column has a getter"
_ROW_GETTERS = tuple(_ALL_GETTERS[name] for name in JOB_COLUMNS)
_partial_updates: dict[frozenset[str], tuple[str, tuple[Callable[[Job], Any], ...]]] = {}


def _job_values(job: Job) -> list[Any]:
    """The row for ``job``, in :data:`JOB_COLUMNS` order."""
    return [get(job) for get in _ROW_GETTERS]


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
    "UPDATE jobs SET progress_current = ?, progress_total = ?, progress_message = ?, "
    "last_seen_ts = ? WHERE id = ? AND status = 'running'"
)
_INSERT_LOG = "INSERT INTO job_logs (job_id, ts, level, message) VALUES (?, ?, ?, ?)"
#: Finished jobs past retention that no unfinished job depends on.
_EXPIRED = (
    "FROM jobs WHERE completed_ts < ? AND status IN ('completed', 'failed', 'cancelled') "
    "AND id NOT IN (SELECT d.value FROM jobs AS p, json_each(p.depends_on) AS d "
    "WHERE p.status IN ('pending', 'running') AND p.depends_on != '[]')"
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(field: Any, pattern: str) -> Any:
    """``field LIKE pattern ESCAPE '\\'`` (case-insensitive for ASCII, as SQLite's LIKE)."""
    return pw.NodeList((field, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '\\'")))


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


class Store:
    """One SQLite job database: schema, migrations and the queries the tracker needs."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if not self.memory else Path(":memory:")
        self.read_only = read_only
        self._file: OpenFile | None = None
        self._locked = False
        self._readers: _ReaderPool | None = None
        self.db = pw.SqliteDatabase(None, thread_safe=False, autoconnect=False)
        if self.memory:
            if read_only:
                raise StoreError("an in-memory store cannot be opened read-only")
            self._connect(":memory:", uri=False)
            self._migrate(0)
            return
        try:
            if read_only:
                self._open_read_only()
            else:
                self._open_for_writing()
        except BaseException:
            self.close()
            raise
        self._readers = _ReaderPool(self._reader_connection)

    # -- opening -------------------------------------------------------------------------------

    def _open_read_only(self) -> None:
        if not self.path.exists():
            raise StoreError(f"{self.path} does not exist, so it cannot be opened read-only")
        if self.path.is_dir():
            raise StoreCorrupt(f"{self.path} is a folder, not a Jobdeck database")
        self._file = self._attach()
        size = self._check_file()
        with self._sqlite_errors("open"):
            self._connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            version = self.schema_version()
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version} but this Jobdeck reads version "
                    f"{SCHEMA_VERSION}; open it once for writing to migrate it"
                )
            self._check_integrity(size)

    def _open_for_writing(self) -> None:
        folder = self.path.parent
        if self.path.is_dir():
            raise StoreCorrupt(f"{self.path} is a folder, not a Jobdeck database")
        try:
            make_private_dirs(folder)
            created = create_private_file(self.path)
        except OSError as exc:
            raise StoreError(
                f"could not create {self.path}: {exc.strerror or exc}; check that you may "
                f"write to {folder}, or choose another file with --db"
            ) from exc
        self._file = self._attach()
        size = self._check_file()
        self._file.lock_for_writing(self, self.path)
        self._locked = True
        self._refuse_legacy_lock()
        self._check_writable(folder)
        for suffix in ("", "-wal", "-shm"):
            make_private(self.path.with_name(self.path.name + suffix))
        if created:
            log.info("created job store %s", self.path)
        with self._sqlite_errors("open"):
            self._backup_if_old()
            self._connect(str(self.path), uri=False)
            self._check_integrity(size)
            version = self.schema_version()
            self._check_version(version)
            self._configure_writer()
            self._migrate(version)

    def _attach(self) -> OpenFile:
        try:
            return OpenFile.attach(self.path)
        except PermissionError as exc:
            raise StoreError(
                f"could not open {self.path}: permission denied; check that you may read it"
            ) from exc
        except FileNotFoundError as exc:
            raise StoreError(f"{self.path} does not exist") from exc

    def _check_file(self) -> int:
        """Refuse a non-SQLite, damaged, truncated or too-new file by its header (touches
        nothing). Returns the file's size."""
        assert self._file is not None
        header, size = self._file.read_header()
        if size == 0:
            return 0
        try:
            wal_size = self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            wal_size = 0
        self._check_version(check_header(self.path, header, size, wal_size=wal_size))
        return size

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{self.path} has schema version {version}, newer than version "
                f"{SCHEMA_VERSION} that this Jobdeck understands; it was left untouched "
                "(upgrade Jobdeck to open it)"
            )

    def _check_writable(self, folder: Path) -> None:
        if not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(
                f"could not open {self.path} for writing: the file is read-only; make it "
                f"writable (chmod u+rw) or open it read-only (e.g. `jobdeck list`)"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"could not open {self.path} for writing: its folder {folder} is read-only "
                "(SQLite keeps its journal beside the file); make the folder writable, or "
                "open the store read-only (e.g. `jobdeck list`)"
            )

    def _refuse_legacy_lock(self) -> None:
        """Jobdeck before schema 4 locked ``<db>.lock``: refuse while such a version holds
        it, else remove the stale file."""
        legacy = self.path.with_name(self.path.name + ".lock")
        if fcntl is None or not legacy.exists():
            return
        try:
            with open(legacy, "r+") as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    text = f.read().strip()
                    raise StoreLocked(self.path, int(text) if text.isdigit() else None) from None
            legacy.unlink()
        except OSError as exc:
            log.warning("could not remove the old lock file %s: %s", legacy, exc)

    def _connect(self, database: str, *, uri: bool) -> None:
        """Connect without writing anything (see :meth:`_configure_writer`)."""
        self.db.init(database, uri=uri, check_same_thread=False, timeout=10)
        self.db.connect()
        conn = self.conn
        conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        self.jobs_model, self.logs_model = bind_models(self.db)
        if self.memory:
            self._configure_writer()

    def _configure_writer(self) -> None:
        """WAL and ``synchronous=NORMAL``: the first writes, after the checks passed."""
        conn = self.conn
        if not self.memory:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":  # pragma: no cover - exotic file systems
                log.warning("%s: could not switch to WAL (journal mode %s)", self.path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")

    def _reader_connection(self) -> sqlite3.Connection:
        with self._sqlite_errors("read"):
            conn = sqlite3.connect(
                f"file:{quote(str(self.path))}?mode=ro",
                uri=True,
                check_same_thread=False,
                timeout=10,
                isolation_level=None,
            )
            conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _check_integrity(self, size: int) -> None:
        """A quick integrity check: SQLite's full ``quick_check`` for files up to
        :data:`QUICK_CHECK_MAX_BYTES`, else a bounded probe. Raises :class:`StoreCorrupt`."""
        if size == 0:
            return
        try:
            total = size + self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            total = size
        conn = self.conn
        problem = _quick_check(conn) if total <= QUICK_CHECK_MAX_BYTES else _probe(conn)
        if problem:
            raise StoreCorrupt(
                f"{self.path} is damaged ({problem}); it was left untouched (restore it from "
                "a backup, or move it aside so that Jobdeck starts a new one)"
            )

    def verify(self) -> str | None:
        """Run SQLite's full ``quick_check`` on a reader connection (seconds on a large
        store; safe beside the writer). Returns None when the file is sound, else what is
        wrong, naming the file."""
        with self.reader() as conn:
            problem = _quick_check(conn)
        return None if problem is None else f"{self.path} is damaged: {problem}"

    def _backup_if_old(self) -> None:
        """Copy an older-schema file aside before anything touches it, so nothing is lost."""
        assert self._file is not None
        header, size = self._file.read_header()
        if size < 100:
            return
        version = int.from_bytes(header[60:64], "big")
        if not 0 < version < SCHEMA_VERSION:
            return
        target = self.path.with_name(f"{self.path.name}.v{version}.bak")
        if target.exists():
            return
        create_private_file(target)
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
            shutil.copyfile(self.path, target)
        log.info("backed up %s (schema version %d) to %s", self.path, version, target)

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for sql in MIGRATIONS[target - 1]:
                    self.conn.execute(sql)
                self.conn.execute(f"PRAGMA user_version = {target}")
            if version:
                log.info("migrated %s to schema version %d", self.path, target)

    @contextlib.contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        """Turn SQLite errors into one readable :class:`StoreError` naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            cls = error_class_for(exc)
            raise cls(describe_sqlite_error(self.path, exc, doing)) from exc

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.connection()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
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
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def insert(self, conn: sqlite3.Connection, job: Job) -> None:
        conn.execute(_INSERT_JOB, _job_values(job))

    def save_fields(self, conn: sqlite3.Connection, job: Job, fields: frozenset[str]) -> None:
        """Write only ``fields`` (Job field names) of ``job``: one prepared UPDATE.

        Raises :class:`StoreWriteError` when the job has no row (nothing was written)."""
        sql, getters = _partial_update(fields)
        cur = conn.execute(sql, [g(job) for g in getters] + [job.id])
        if cur.rowcount != 1:
            raise StoreWriteError(
                f"could not save job {job.id} to {self.path}: it is not in the store"
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
        conn.execute("UPDATE jobs SET last_seen_ts = ? WHERE status = 'running'", (now,))

    def add_logs(self, conn: sqlite3.Connection, entries: Iterable[LogEntry]) -> None:
        conn.executemany(
            _INSERT_LOG, ((e.job_id, e.ts, e.level, _text(e.message)) for e in entries)
        )

    def count_logs(self, conn: sqlite3.Connection, job_id: str) -> int:
        row = conn.execute("SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def expired_log_files(self, conn: sqlite3.Connection, ts: float) -> list[tuple[str, str]]:
        """(id, log path) of the jobs :meth:`delete_expired` deletes that have a log file."""
        return list(conn.execute(f"SELECT id, log_path {_EXPIRED} AND log_path IS NOT NULL", (ts,)))

    def delete_expired(self, conn: sqlite3.Connection, ts: float) -> int:
        """Delete finished jobs that ended before ``ts`` and that no pending or running job
        depends on: what retention deletes (their log lines go by cascade)."""
        return conn.execute(f"DELETE {_EXPIRED}", (ts,)).rowcount

    def get_meta(self, conn: sqlite3.Connection, key: str) -> Any:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else _loads(row[0], None)

    def set_meta(self, conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )

    # -- reading -------------------------------------------------------------------------------

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
            yield conn

    def get(self, job_id: str, conn: sqlite3.Connection | None = None) -> Job | None:
        c = self.conn if conn is None else conn
        row = c.execute(f"{_SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row_to_job(row)

    def exists(self, job_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is not None
        )

    def raw_rows_with_status(self, *statuses: JobStatus) -> list[tuple[Any, ...]]:
        """Raw rows (in :data:`JOB_COLUMNS` order) of jobs with these statuses, oldest first."""
        rows: list[tuple[Any, ...]] = []
        for status in statuses:  # one status at a time: each walks its (status, id) index
            rows += self.conn.execute(
                f"{_SELECT_JOB} WHERE status = ? ORDER BY id", (status.value,)
            ).fetchall()
        if len(statuses) > 1:
            rows.sort(key=lambda row: row[_COL["id"]])
        return rows

    def with_status(self, *statuses: JobStatus) -> list[Job]:
        return [row_to_job(r) for r in self.raw_rows_with_status(*statuses)]

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
            like = f"%{_escape_like(search)}%"
            query = query.where(
                _like(m.title, like)
                | _like(m.type, like)
                | _like(m.progress_message, like)
                | _like(m.error, like)
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
        conn: sqlite3.Connection | None = None,
    ) -> list[Job]:
        m = self.jobs_model
        fields = [getattr(m, name) for name in JOB_COLUMNS]
        query = self._filtered(m.select(*fields), status, type, search)
        if before is not None:
            query = query.where(m.id > before if oldest_first else m.id < before)
        query = query.order_by(m.id.asc() if oldest_first else m.id.desc()).limit(limit)
        sql, params = query.sql()
        rows = (self.conn if conn is None else conn).execute(sql, params).fetchall()
        return [row_to_job(r) for r in rows]

    def count_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        m = self.jobs_model
        query = self._filtered(m.select(pw.fn.COUNT(pw.SQL("*"))), status, type, search)
        sql, params = query.sql()
        return int((self.conn if conn is None else conn).execute(sql, params).fetchone()[0])

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


def _quick_check(conn: sqlite3.Connection) -> str | None:
    """None if ``PRAGMA quick_check`` finds the file sound, else its first complaint."""
    try:
        rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    found = [str(r[0]) for r in rows]
    return None if found == ["ok"] else "; ".join(found)


def _probe(conn: sqlite3.Connection) -> str | None:
    """A bounded check of a large file: the schema, both ends of each table and of the
    indexes the tracker uses at open. Reads a few hundred pages at most."""
    queries = [
        "SELECT name, sql FROM sqlite_master",
        f"SELECT * FROM jobs ORDER BY rowid DESC LIMIT {_PROBE_ROWS}",
        f"SELECT * FROM jobs ORDER BY rowid LIMIT {_PROBE_ROWS}",
        f"SELECT id FROM jobs ORDER BY id DESC LIMIT {_PROBE_ROWS}",
        "SELECT id FROM jobs WHERE status IN ('pending', 'running')",
        f"SELECT * FROM job_logs ORDER BY id DESC LIMIT {_PROBE_ROWS}",
        f"SELECT * FROM job_logs ORDER BY id LIMIT {_PROBE_ROWS}",
    ]
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for sql in queries:
            if "jobs" in sql and "jobs" not in tables:
                continue
            if "job_logs" in sql and "job_logs" not in tables:
                continue
            conn.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None
