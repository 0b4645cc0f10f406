"""Opening a job database: the checks before anything is written, then WAL and migrations.

The opening half of :class:`~jobdeck.core.store.Store` (a base class it builds on). Opening
checks, in order, without modifying anything that fails a check: the file's header is a
plausible SQLite header and the file is as long as it says (else :class:`StoreCorrupt`),
its schema is not newer than ours (else :class:`StoreTooNew`), no other writer has it open
(else :class:`StoreLocked`; the lock is on the file itself, see :mod:`.db_file`), it and
its folder are writable, and a quick integrity check passes. Only then is it switched to
WAL and migrated (an older file is first backed up beside itself). Every error is a
:class:`StoreError` whose message names the file and says what to do. No Qt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import peewee as pw

from .db_file import (
    OpenFile,
    check_header,
    create_private_file,
    make_private,
    make_private_dirs,
)
from .schema import MIGRATIONS, SCHEMA_VERSION, JobLogRecord, JobRecord, bind_models
from .store_errors import (
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreTooNew,
    describe_sqlite_error,
    error_class_for,
)
from .wal_checkpoint import WRITER_CHECKPOINT_PAGES

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

log = logging.getLogger(__name__)

__all__ = ["QUICK_CHECK_MAX_BYTES", "StoreOpening"]

#: Files up to this size get SQLite's full ``PRAGMA quick_check`` at open (about 0.1 s);
#: larger ones a bounded check of their schema and newest and oldest rows (a full check of
#: a 1M-job store takes seconds: :meth:`StoreOpening.verify` runs it on demand, e.g. in the
#: background).
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024
#: The WAL is cut back to this size whenever a checkpoint resets it.
WAL_SIZE_LIMIT = 16 * 1024 * 1024
_PROBE_ROWS = 200


class StoreOpening:
    """Opening, checking, migrating and verifying a store's file (see the module)."""

    path: Path
    memory: bool
    read_only: bool
    db: pw.SqliteDatabase
    jobs_model: type[JobRecord]
    logs_model: type[JobLogRecord]
    _file: OpenFile | None
    _locked: bool

    @property
    def conn(self) -> sqlite3.Connection:
        """The writer connection."""
        connection: sqlite3.Connection = self.db.connection()
        return connection

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def reader(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

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
        """WAL and ``synchronous=NORMAL``, checkpoints mostly left to a thread of their own
        (:mod:`.wal_checkpoint`): the first writes, after the checks passed. A new
        file gets incremental auto-vacuum first (it cannot be turned on later without a
        VACUUM), so retention can give space back (:mod:`.retention`); a bounded WAL."""
        conn = self.conn
        if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        if not self.memory:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":  # pragma: no cover - exotic file systems
                log.warning("%s: could not switch to WAL (journal mode %s)", self.path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        # a backstop: the checkpoints are the WAL checkpointer's (core/wal_checkpoint.py)
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")

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
