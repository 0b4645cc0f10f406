"""The store on PostgreSQL: one board that several app instances share. (Just over 500
lines: every place the board differs from a SQLite file is here, so the file store has none.)

:class:`PgStore` is a :class:`~jobdeck.core.store.Store` whose database is a PostgreSQL
database named by a ``postgresql://`` URL (:mod:`.board_url`). The tracker uses it exactly as
a SQLite store: the same peewee model, the same migrations in PostgreSQL's dialect
(:mod:`.pg_schema`), the same SQL through :class:`~jobdeck.core.pg_connection.PgConnection`.
What differs, because several instances write at once:

* **Claiming.** The scheduler asks for the next free jobs of the ones it would start
  (:meth:`PgStore.claim_free`: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT n``, a batch per
  claim) and starts them in the same transaction, so instances that look at the same
  queue take different jobs instead of colliding. Starting a pending job locks its row
  (``SELECT ... FOR UPDATE SKIP LOCKED``) in the transaction that starts it; a row another
  instance holds or has already started is refused with
  :class:`~jobdeck.core.job.InvalidTransition` (the scheduler then leaves it), so each job
  is started by exactly one instance. The starter's name goes into ``jobs.run_by``.
* **Leases.** Each instance has a row in ``board_instances`` with a lease it renews
  (:meth:`PgStore.renew_lease`, by the board link's thread). Heartbeats and recovery at
  open touch only this instance's own running jobs; another instance's running jobs are
  taken over only once its lease has expired (:meth:`PgStore.orphaned_jobs`). Lease times
  come from the server's clock, so the instances' clocks need not agree.
* **Reconnecting.** A lost connection fails the changes in flight with a clear
  :class:`~jobdeck.core.store_errors.StoreWriteError` (the tracker keeps them in memory); the
  next change connects again.

Local files of a board (process jobs' logs, supervisor records) live in a folder of the
user's data directory named after the board (never the password). No Qt.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import peewee as pw
import psycopg

from .board_url import BoardUrl
from .history_order import HistorySort
from .job import Job, JobStatus, JobTaken
from .job_rows import JOB_ROWS
from .pg_connection import PgConnection, as_sqlite_error
from .pg_schema import BOARD_SETUP, VERSION_SETUP, pg_statement
from .schema import MIGRATIONS, SCHEMA_VERSION, bind_models
from .store import Store
from .store_errors import StoreError, StoreLocked, StoreTooNew, describe_sqlite_error

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LEASE", "PgStore", "default_instance_name"]

#: Seconds an instance's lease lasts; it renews it every third of that.
DEFAULT_LEASE = 30.0
_MIGRATION_LOCK = 0x6A6F6264  # "jobd": one instance migrates at a time
_NOW = "extract(epoch from clock_timestamp())"
_IDLE_READERS = 4
_NOCASE = " COLLATE NOCASE"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9@._-]+")
_SELECT_JOB = JOB_ROWS.select_sql
_COLUMNS = ", ".join(JOB_ROWS.columns)
_EXPIRED = (
    "FROM jobs WHERE completed_ts < ? AND status IN ('completed', 'failed', 'cancelled') "
    "AND id NOT IN (SELECT d.value FROM jobs AS p, "
    "json_array_elements_text(p.depends_on::json) AS d(value) "
    "WHERE p.status IN ('pending', 'running') AND p.depends_on != '[]')"
)


def default_instance_name() -> str:
    """``$JOBDECK_INSTANCE``, else ``user@host``: stable across restarts, so an instance
    that comes back re-attaches the jobs it left running."""
    env = os.environ.get("JOBDECK_INSTANCE")
    if env:
        return env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _board_folder(url: BoardUrl) -> Path:
    env = os.environ.get("JOBDECK_BOARD_FILES")
    if env:
        return Path(env).expanduser() / url.folder_name()
    import platformdirs

    return platformdirs.user_data_path("jobdeck", appauthor=False) / url.folder_name()


class PgStore(Store):
    """A job store on a PostgreSQL board (see the module).

    ``instance``: this app instance's name on the board (default
    :func:`default_instance_name`); ``lease``: seconds its lease lasts.
    """

    statement_undo_alone = False
    shared = True
    #: Schema 6's counts and text index are SQLite's (triggers, FTS5): a board counts
    #: with COUNT(*) and searches with ILIKE (see :mod:`.pg_schema`).
    keeps_counts = False

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        instance: str | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.url = BoardUrl.parse(url)
        self.memory = False
        self.read_only = read_only
        self.instance = instance or default_instance_name()
        if not self.instance.strip() or len(self.instance) > 200:
            raise ValueError(f"instance name must be 1-200 characters, got {self.instance!r}")
        self.lease = float(lease)
        # Each instance's own local files (logs, records, progress channel) beside the rest.
        self.path = _board_folder(self.url) / _SAFE_NAME.sub("_", self.instance) / "jobs"
        self._file = None
        self._locked = False
        self._readers = None
        self._text_counts = {}
        self._sql_cache = {}
        self._text_ready = False
        self._history_build = None
        self._history_build_due = False
        self._idle: list[PgConnection] = []
        self._idle_lock = threading.Lock()
        self._closed = False
        self._writer: PgConnection | None = None
        self.db = pw.PostgresqlDatabase(  # type: ignore[assignment]
            self.url.conninfo, autoconnect=False, prefer_psycopg3=True
        )
        self.jobs_model, self.logs_model = bind_models(self.db)
        try:
            self._writer = self._connect_writer()
            if not read_only:
                self._migrate_board()
                self._join()
            elif self.schema_version() != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.location} has schema version {self.schema_version()} but this "
                    f"Jobdeck reads version {SCHEMA_VERSION}; open it once for writing"
                )
        except BaseException:
            self.close()
            raise

    # -- connecting ---------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"the board {self.url.display}"

    def _raw_connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection; raises :class:`StoreError` naming the host."""
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in dict(self.url.params):
            kwargs["connect_timeout"] = 5
        try:
            raw = psycopg.connect(self.url.conninfo, **kwargs)
        except psycopg.Error as exc:
            raise StoreError(self._cannot_connect(exc)) from None
        raw.execute("SELECT set_config('jobdeck.instance', %s, false)", (self.instance,))
        return raw

    def _cannot_connect(self, exc: BaseException) -> str:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        password = _password(self.url.conninfo)
        if password:
            detail = detail.replace(password, "***")
        port = f", port {self.url.port}" if self.url.port else ""
        return (
            f"could not connect to the board {self.url.display}: PostgreSQL at "
            f"{self.url.host}{port} said: {detail}; check that the server runs and that the "
            "URL's host, database, user and password are right"
        )

    def _connect_writer(self) -> PgConnection:
        if self._closed:
            raise StoreError(f"{self.location} is closed")
        return PgConnection(self._raw_connect(), self.url.where)

    @property
    def conn(self) -> sqlite3.Connection:
        """The writer connection (connected again if it was lost, outside a transaction)."""
        writer = self._writer
        if writer is None or writer.broken:
            if writer is not None:
                writer.close()
            try:
                self._writer = writer = self._connect_writer()
            except StoreError as exc:
                raise sqlite3.OperationalError(str(exc)) from exc
            log.warning("reconnected to %s", self.location)
        return cast(sqlite3.Connection, writer)

    def drop_idle_connections(self) -> None:
        """The server was lost (or is back): close the connections not in use now (they
        died with the server, unknown to the driver until used), so the next change or
        read connects afresh instead of failing once. Caller holds the tracker's lock."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.close()
        writer = self._writer
        if writer is not None and not writer.in_transaction:
            writer.close()

    def close(self) -> None:
        self._closed = True
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            if not self.read_only and not writer.broken:
                # Closed, not gone: its lease runs out as usual (jobs it left running are
                # taken over only then), but the name is free for its next start at once.
                with contextlib.suppress(sqlite3.Error):
                    writer.execute(
                        "UPDATE board_instances SET pid = 0 WHERE name = ?", (self.instance,)
                    )
            writer.close()

    # -- schema and joining the board -----------------------------------------------------------

    def schema_version(self) -> int:
        conn = self.conn
        exists = conn.execute("SELECT to_regclass('jobdeck_schema') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = conn.execute("SELECT version FROM jobdeck_schema").fetchone()
        return 0 if row is None else int(row[0])

    def _migrate_board(self) -> None:
        with self._sqlite_errors("open"), self.transaction() as conn:
            conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            for sql in VERSION_SETUP:
                conn.execute(sql)
            version = int(conn.execute("SELECT version FROM jobdeck_schema").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreTooNew(
                    f"{self.location} has schema version {version}, newer than version "
                    f"{SCHEMA_VERSION} that this Jobdeck understands; it was left untouched "
                    "(upgrade Jobdeck to use it)"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for sql in MIGRATIONS[target - 1]:
                    statement = pg_statement(sql)
                    if statement is not None:
                        conn.execute(statement)
                conn.execute("UPDATE jobdeck_schema SET version = ?", (target,))
                if version:
                    log.info("migrated %s to schema version %d", self.location, target)
            for sql in BOARD_SETUP:
                conn.execute(sql)

    def _join(self) -> None:
        """Take this instance's lease, refusing a name a live instance holds."""
        with self._sqlite_errors("join"), self.transaction() as conn:
            row = conn.execute(
                f"SELECT pid, host, lease_until - {_NOW} FROM board_instances "
                "WHERE name = ? FOR UPDATE",
                (self.instance,),
            ).fetchone()
            if row is not None and row[2] > 0 and _may_be_running(int(row[0]), row[1]):
                raise StoreLocked(
                    Path(f"{self.url.display} (instance {self.instance!r})"), None
                ) from None
            conn.execute(
                "INSERT INTO board_instances (name, host, pid, started_ts, lease_until) "
                f"VALUES (?, ?, ?, {_NOW}, {_NOW} + ?) ON CONFLICT (name) DO UPDATE SET "
                "host = excluded.host, pid = excluded.pid, started_ts = excluded.started_ts, "
                "lease_until = excluded.lease_until",
                (self.instance, socket.gethostname(), os.getpid(), self.lease),
            )

    def verify(self) -> str | None:
        """PostgreSQL keeps its own data sound; nothing to check from here."""
        return None

    @contextlib.contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(describe_sqlite_error(self.location, exc, doing)) from exc

    # -- transactions ---------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        writer = self._writer
        return writer is not None and writer.in_transaction

    def rollback(self) -> None:
        writer = self._writer
        if writer is not None and writer.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                writer.execute("ROLLBACK")

    def undo(self, name: str) -> None:
        writer = self._writer
        if writer is not None and writer.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                writer.execute(f"ROLLBACK TO {name}")
                writer.execute(f"RELEASE {name}")

    # -- the board's own writes -----------------------------------------------------------------

    def lock_for_transition(self, conn: sqlite3.Connection, job: Job, new: JobStatus) -> None:
        """Lock the job's row for this transition; refuse (:class:`JobTaken`) when another
        instance changed its status meanwhile. Starting a pending job skips a row another
        instance holds (it is starting it) and claims it: ``run_by`` becomes this
        instance's name."""
        if job.status is JobStatus.PENDING and new is JobStatus.RUNNING:
            # One round trip: lock it unless another instance holds it, check that it is
            # still pending, and name this instance as its runner.
            claimed = conn.execute(
                "UPDATE jobs SET run_by = ? WHERE id = (SELECT id FROM jobs WHERE id = ? "
                "AND status = 'pending' FOR UPDATE SKIP LOCKED) RETURNING id",
                (self.instance, job.id),
            ).fetchone()
            if claimed is None:  # another instance holds it (is starting it) or changed it
                row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job.id,)).fetchone()
                now = job.status if row is None else JobStatus(row[0])
                raise JobTaken(job.id, job.status, now)
            return
        row = conn.execute("SELECT status FROM jobs WHERE id = ? FOR UPDATE", (job.id,)).fetchone()
        if row is None:
            return  # not stored: save_fields says so
        if row[0] != job.status.value:
            raise JobTaken(job.id, job.status, JobStatus(row[0]))

    def claim_free(self, conn: sqlite3.Connection, job_ids: list[str], limit: int) -> list[str]:
        """Lock, in the open transaction, up to ``limit`` of these jobs that are still
        pending and that no other instance's transaction holds (``FOR UPDATE SKIP
        LOCKED``), in the order given: the next free jobs for this instance to start in
        the same transaction. Instances that try the same jobs at once each get others."""
        rows = conn.execute(
            "SELECT id FROM jobs WHERE id = ANY(?) AND status = 'pending' "
            "ORDER BY array_position(?::text[], id) FOR UPDATE SKIP LOCKED LIMIT ?",
            (job_ids, job_ids, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def insert(self, conn: sqlite3.Connection, job: Job) -> None:
        super().insert(conn, job)
        if job.status is JobStatus.RUNNING:
            conn.execute("UPDATE jobs SET run_by = ? WHERE id = ?", (self.instance, job.id))

    def mark_alive(self, conn: sqlite3.Connection, now: float) -> None:
        """This instance's running jobs were alive at ``now``."""
        conn.execute(
            "UPDATE jobs SET last_seen_ts = ? WHERE status = 'running' AND run_by = ?",
            (now, self.instance),
        )

    def renew_lease(self, conn: sqlite3.Connection) -> bool:
        """Extend this instance's lease (taking it again if its row is gone); False if it
        had expired (other instances may have taken its jobs over meanwhile)."""
        row = conn.execute(
            "INSERT INTO board_instances (name, host, pid, started_ts, lease_until) "
            f"VALUES (?, ?, ?, {_NOW}, {_NOW} + ?) ON CONFLICT (name) DO UPDATE SET "
            f"lease_until = {_NOW} + ? RETURNING "
            f"(SELECT lease_until FROM board_instances WHERE name = ?) > {_NOW}",
            (
                self.instance,
                socket.gethostname(),
                os.getpid(),
                self.lease,
                self.lease,
                self.instance,
            ),
        ).fetchone()
        return row is not None and row[0] is not False

    def orphaned_jobs(self, conn: sqlite3.Connection) -> list[str]:
        """Ids of running jobs whose instance's lease has expired (not this instance's)."""
        rows = conn.execute(
            "SELECT j.id FROM jobs AS j WHERE j.status = 'running' "
            "AND j.run_by IS DISTINCT FROM ? AND NOT EXISTS (SELECT 1 FROM board_instances "
            f"AS i WHERE i.name = j.run_by AND i.lease_until > {_NOW}) ORDER BY j.id",
            (self.instance,),
        ).fetchall()
        return [r[0] for r in rows]

    def lock_orphan(self, conn: sqlite3.Connection, job_id: str) -> tuple[Job, str | None] | None:
        """Lock a running job whose instance's lease has expired, inside the open
        transaction; (the job, the instance that ran it), or None when it is no longer such
        a job (another instance took it over, or its own instance came back)."""
        row = conn.execute(
            f"SELECT {_COLUMNS}, run_by FROM jobs WHERE id = ? AND status = 'running' "
            "AND run_by IS DISTINCT FROM ? "
            "AND NOT EXISTS (SELECT 1 FROM board_instances AS i WHERE i.name = jobs.run_by "
            f"AND i.lease_until > {_NOW}) FOR UPDATE SKIP LOCKED",
            (job_id, self.instance),
        ).fetchone()
        return None if row is None else (JOB_ROWS.from_row(row[:-1]), row[-1])

    def run_by(self, job_id: str, conn: sqlite3.Connection | None = None) -> str | None:
        """The name of the instance that runs (or last ran) a job."""
        row = (
            (self.conn if conn is None else conn)
            .execute("SELECT run_by FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None else row[0]

    def instances(self) -> list[tuple[str, str, int, float]]:
        """(name, host, pid, seconds its lease has left) of the board's live instances."""
        with self.reader() as conn:
            rows = conn.execute(
                f"SELECT name, host, pid, lease_until - {_NOW} FROM board_instances "
                f"WHERE lease_until > {_NOW} ORDER BY name"
            ).fetchall()
        return [(r[0], r[1], int(r[2]), float(r[3])) for r in rows]

    # -- recovery and retention in PostgreSQL's dialect -----------------------------------------

    def raw_rows_with_status(self, *statuses: JobStatus) -> list[tuple[Any, ...]]:
        """As on SQLite, but of running jobs only this instance's own (recovery at open
        never touches another instance's jobs: their leases say when they are lost)."""
        rows: list[tuple[Any, ...]] = []
        for status in statuses:
            if status is JobStatus.RUNNING:
                rows += self.conn.execute(
                    f"{_SELECT_JOB} WHERE status = 'running' AND run_by = ? ORDER BY id",
                    (self.instance,),
                ).fetchall()
            else:
                rows += self.conn.execute(
                    f"{_SELECT_JOB} WHERE status = ? ORDER BY id", (status.value,)
                ).fetchall()
        if len(statuses) > 1:
            rows.sort(key=lambda row: row[JOB_ROWS.index["id"]])
        return rows

    def expired_batch(
        self, conn: sqlite3.Connection, ts: float, limit: int
    ) -> list[tuple[str, str | None]]:
        sql = f"SELECT id, log_path {_EXPIRED} ORDER BY completed_ts LIMIT ?"
        return [(r[0], r[1]) for r in conn.execute(sql, (ts, limit)).fetchall()]

    def _sql_of(self, query: Any) -> tuple[str, list[Any]]:
        """Searches are case-insensitive, as SQLite's ``LIKE`` is (PostgreSQL's ``ILIKE``)."""
        sql, params = query.sql()
        return sql.replace(" LIKE ", " ILIKE "), params

    def _search_condition(
        self, search: str, conn: sqlite3.Connection | None, *, counting: bool = False
    ) -> Any:
        """No text index on a board: ``ILIKE`` over the searched columns (the filter's own)."""
        return None

    def _sort_sql(self, sort: HistorySort) -> str | None:
        """SQLite's ``X COLLATE NOCASE`` is ``lower(X)`` here (which folds more than ASCII:
        a non-ASCII title may sort a little differently than on a file)."""
        sql = sort.sql
        if sql is None or not sql.endswith(_NOCASE):
            return sql
        return f"lower({sql.removesuffix(_NOCASE)})"

    # -- reading --------------------------------------------------------------------------------

    @property
    def shares_reader_connection(self) -> bool:
        return False

    def reader_errors(self) -> contextlib.AbstractContextManager[None]:
        return self._sqlite_errors("read")

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for reading (autocommit: each query sees the latest)."""
        with self._idle_lock:
            conn = self._idle.pop() if self._idle else None
        with self._sqlite_errors("read"):
            if conn is None:
                try:
                    conn = PgConnection(self._raw_connect(), self.url.where)
                except StoreError as exc:
                    raise sqlite3.OperationalError(str(exc)) from exc
            try:
                yield cast(sqlite3.Connection, conn)
            finally:
                keep = False
                if not conn.broken:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    with self._idle_lock:
                        keep = not self._closed and len(self._idle) < _IDLE_READERS
                        if keep:
                            self._idle.append(conn)
                if not keep:
                    conn.close()

    def raw_error(self, exc: psycopg.Error) -> sqlite3.Error:
        """A driver error as the store's code handles errors."""
        return as_sqlite_error(exc, self.url.where)


def _may_be_running(pid: int, host: str) -> bool:
    """Whether the instance that holds a name may still run: not when it closed (pid 0),
    nor when its process on this host is gone (it crashed: this is its next start)."""
    if pid == 0:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _password(conninfo: str) -> str | None:
    try:
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(conninfo)
        if parts.password:
            return unquote(parts.password)
        return dict(parse_qsl(parts.query)).get("password")
    except ValueError:
        return None


def jobs_by_id(conn: sqlite3.Connection, ids: list[str]) -> list[tuple[Job, str | None]]:
    """(job, the instance running it) for each of ``ids`` still in the store."""
    rows = conn.execute(
        f"SELECT {_COLUMNS}, run_by FROM jobs WHERE id = ANY(?) ORDER BY id", (ids,)
    ).fetchall()
    return [(JOB_ROWS.from_row(r[:-1]), r[-1]) for r in rows]


def active_job_ids(conn: sqlite3.Connection) -> list[str]:
    """Ids of every pending and running job on the board."""
    rows = conn.execute("SELECT id FROM jobs WHERE status IN ('pending', 'running')").fetchall()
    return [r[0] for r in rows]
