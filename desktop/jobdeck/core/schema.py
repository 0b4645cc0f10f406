"""The database schema: frozen migrations, and the peewee model that defines a job row.

The schema version lives in SQLite's ``PRAGMA user_version``. Migration ``n`` takes a file
from version ``n - 1`` to ``n``; their SQL never changes once released, so an old file is
brought forward exactly as a fresh one is built (a test checks the result matches the
model).

:class:`JobRecord` is **the one definition of a job row**: its columns, in order, and how
each holds a :class:`~jobdeck.core.job.Job` attribute. A column is named after the attribute
it stores, or declares the attribute it is a part of (``progress_current`` is
``Job.progress.current``); its field class says how a value is written and read back
(:class:`FreeText` is made storable, :class:`JsonObject` is JSON that a damaged row cannot
break, ...). Everything else — the column list, the row <-> ``Job`` mapping, the INSERT and
the partial UPDATEs — is derived from it by :mod:`.job_rows`. To add a job attribute: add
the field to :class:`~jobdeck.core.job.Job`, the column here, and a migration.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

import peewee as pw

from .history_schema import HISTORY_MIGRATION
from .job import JobError, JobStatus, Progress
from .rollup import ROLLUP_MIGRATION
from .timeline import TIMELINE_MIGRATION
from .validation import MAX_TEXT, storable_text, storable_traceback

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Flag",
    "FreeText",
    "JobLogRecord",
    "JobRecord",
    "JsonIds",
    "JsonObject",
    "JsonValue",
    "MappedField",
    "StatusText",
    "bind_models",
]

log = logging.getLogger(__name__)

#: Each entry is the SQL that takes the file from version ``index`` to ``index + 1``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: jobs and their logs
    (
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY NOT NULL,
            type TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            params TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            progress_current REAL NOT NULL DEFAULT 0,
            progress_total REAL NOT NULL DEFAULT 0,
            progress_message TEXT NOT NULL DEFAULT '',
            created_ts REAL NOT NULL,
            started_ts REAL,
            completed_ts REAL,
            error TEXT,
            traceback TEXT,
            result TEXT
        )""",
        """CREATE TABLE job_logs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            ts REAL NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL
        )""",
        "CREATE INDEX job_logs_job ON job_logs(job_id, id)",
        "CREATE INDEX jobs_status ON jobs(status)",
    ),
    # 2: queueing (attempts, run_at, timeout, dependencies), cancel requests, process jobs,
    #    and indexes that keep listing and counting fast on large histories
    (
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE jobs ADD COLUMN run_at_ts REAL",
        "ALTER TABLE jobs ADD COLUMN timeout REAL",
        "ALTER TABLE jobs ADD COLUMN depends_on TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN retry_of TEXT",
        "ALTER TABLE jobs ADD COLUMN pid INTEGER",
        "ALTER TABLE jobs ADD COLUMN exit_code INTEGER",
        "ALTER TABLE jobs ADD COLUMN log_path TEXT",
        # Version 1 counted a job as started when it ran; give such jobs their one attempt.
        "UPDATE jobs SET attempts = 1 WHERE started_ts IS NOT NULL",
        "DROP INDEX jobs_status",
        "CREATE INDEX jobs_status_id ON jobs(status, id)",
        "CREATE INDEX jobs_type_id ON jobs(type, id)",
        "CREATE INDEX jobs_completed ON jobs(completed_ts) WHERE completed_ts IS NOT NULL",
    ),
    # 3: resource use of process jobs (peak RSS of the whole tree in bytes, CPU seconds)
    (
        "ALTER TABLE jobs ADD COLUMN peak_rss INTEGER",
        "ALTER TABLE jobs ADD COLUMN cpu_seconds REAL",
    ),
    # 4: a running job's last sign of life (so a crash does not stretch its duration), and
    #    facts about the store itself (when it was last used, for the retention clock guard)
    (
        "ALTER TABLE jobs ADD COLUMN last_seen_ts REAL",
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    ),
    # 5: the statistics' roll-up of the jobs retention deletes (idempotent)
    ROLLUP_MIGRATION,
    # 6: the deep history's sort indexes, counts and text index (core/history_schema.py)
    HISTORY_MIGRATION,
    # 7: each job's progress and resource timeline (idempotent)
    TIMELINE_MIGRATION,
)

SCHEMA_VERSION = len(MIGRATIONS)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _loads(text: Any) -> tuple[bool, Any]:
    """(decoded, value) of a stored JSON text; (False, None) when it cannot be decoded."""
    if text == "{}":  # most jobs' metadata and dependencies: no parser needed
        return True, {}
    if text == "[]":
        return True, []
    try:
        return True, json.loads(text)
    except (ValueError, TypeError):
        log.warning("a stored JSON value could not be read: %.80r", text)
        return False, None


class MappedField:
    """The part of a model field that maps it to a :class:`~jobdeck.core.job.Job` attribute.

    ``job``: the attribute it stores (default: the column's name); ``part``: the attribute of
    that attribute's value it stores (``Job.progress.current``), for a value kept in several
    columns (see ``JobRecord.job_composites``). :meth:`to_store` and :meth:`from_store`
    convert a value on its way into and out of a row (identity by default). ``needed`` marks
    a column without which a pending job cannot be run (recovery fails a job whose value
    there cannot be read).
    """

    needed = False

    def __init__(self, *args: Any, job: str | None = None, part: str | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.job_attr = job
        self.job_part = part

    @staticmethod
    def to_store(value: Any) -> Any:
        return value

    @staticmethod
    def from_store(raw: Any) -> Any:
        return raw

    @staticmethod
    def readable(raw: Any) -> bool:
        """Whether a stored value can be read as what it should be (not damaged)."""
        return True

    #: True when both conversions are the identity (the row mapping then skips them).
    plain = True


class Text(MappedField, pw.TextField):
    pass


class Real(MappedField, pw.FloatField):
    pass


class Integer(MappedField, pw.IntegerField):
    pass


class FreeText(MappedField, pw.TextField):
    """Text from users and programs: made storable (valid UTF-8, capped) when written."""

    plain = False

    @staticmethod
    def to_store(value: Any) -> Any:
        return None if value is None else storable_text(value, MAX_TEXT)

    @staticmethod
    def from_store(raw: Any) -> Any:
        return raw


class TracebackText(FreeText):
    """A traceback: capped keeping its head and tail."""

    @staticmethod
    def to_store(value: Any) -> Any:
        return storable_traceback(value)


class Count(MappedField, pw.FloatField):
    """A progress number: NULL reads as 0."""

    plain = False

    @staticmethod
    def from_store(raw: Any) -> Any:
        return raw or 0


class Message(FreeText):
    """A progress message: NULL reads as empty."""

    @staticmethod
    def from_store(raw: Any) -> Any:
        return raw or ""


class StatusText(MappedField, pw.TextField):
    """A :class:`JobStatus`; an unknown value (a damaged row) reads as failed."""

    plain = False

    @staticmethod
    def to_store(value: Any) -> Any:
        return value.value

    @staticmethod
    def from_store(raw: Any) -> Any:
        try:
            return JobStatus(raw)
        except ValueError:
            return JobStatus.FAILED


class Flag(MappedField, pw.IntegerField):
    """A bool as 0/1."""

    plain = False

    @staticmethod
    def to_store(value: Any) -> Any:
        return int(value)

    @staticmethod
    def from_store(raw: Any) -> Any:
        return bool(raw)


def _json(raw: Any) -> bool:
    try:
        json.loads(raw)
    except (ValueError, TypeError):
        return False
    return True


class JsonObject(MappedField, pw.TextField):
    """A JSON object (params, metadata); damaged, it reads as ``{"unreadable": text}``."""

    plain = False
    needed = True
    readable = staticmethod(_json)

    @staticmethod
    def to_store(value: Any) -> Any:
        return _dumps(value)

    @staticmethod
    def from_store(raw: Any) -> Any:
        if raw is None:
            return None
        ok, value = _loads(raw)
        return value if ok and isinstance(value, dict) else {"unreadable": raw}


class JsonIds(MappedField, pw.TextField):
    """A list of job ids as a JSON array, read back as a tuple (damaged: empty)."""

    plain = False
    needed = True
    readable = staticmethod(_json)

    @staticmethod
    def to_store(value: Any) -> Any:
        return _dumps(list(value))

    @staticmethod
    def from_store(raw: Any) -> Any:
        if raw is None:
            return ()
        ok, value = _loads(raw)
        if not ok or not isinstance(value, list):
            return ()
        return tuple(item for item in value if isinstance(item, str))


class JsonValue(MappedField, pw.TextField):
    """Any JSON value, or NULL (a result); damaged, it reads as ``{"unreadable": text}``."""

    plain = False

    @staticmethod
    def to_store(value: Any) -> Any:
        return None if value is None else _dumps(value)

    @staticmethod
    def from_store(raw: Any) -> Any:
        if raw is None:
            return None
        ok, value = _loads(raw)
        return value if ok else {"unreadable": raw}


class JobRecord(pw.Model):
    """A row of ``jobs`` (newest schema): the one definition of a job row (see the module)."""

    id = Text(primary_key=True)
    type = Text()
    title = FreeText()
    status = StatusText()
    priority = Integer(default=0)
    params = JsonObject(default="{}")
    metadata = JsonObject(default="{}")
    progress_current = Count(default=0, job="progress", part="current")
    progress_total = Count(default=0, job="progress", part="total")
    progress_message = Message(default="", job="progress", part="message")
    created_ts = Real()
    started_ts = Real(null=True)
    completed_ts = Real(null=True)
    error = FreeText(null=True, job="error", part="message")
    traceback = TracebackText(null=True, job="error", part="traceback")
    result = JsonValue(null=True)
    attempts = Integer(default=0)
    max_attempts = Integer(default=1)
    run_at_ts = Real(null=True)
    timeout = Real(null=True)
    depends_on = JsonIds(default="[]")
    cancel_requested = Flag(default=0)
    retry_of = Text(null=True)
    pid = Integer(null=True)
    exit_code = Integer(null=True)
    log_path = FreeText(null=True)
    peak_rss = Integer(null=True)
    cpu_seconds = Real(null=True)
    last_seen_ts = Real(null=True)

    #: Job attributes kept in several columns: attribute -> (its class, whether it is None
    #: when its first column is NULL). Its columns name the class's fields as ``part``.
    job_composites: ClassVar[dict[str, tuple[Any, bool]]] = {
        "progress": (Progress, False),
        "error": (JobError, True),
    }

    class Meta:
        table_name = "jobs"


class JobLogRecord(pw.Model):
    """A row of ``job_logs``."""

    id = pw.AutoField()
    job_id = pw.TextField()
    ts = pw.FloatField()
    level = pw.TextField()
    message = pw.TextField()

    class Meta:
        table_name = "job_logs"


def bind_models(db: pw.Database) -> tuple[type[JobRecord], type[JobLogRecord]]:
    """Model classes bound to ``db`` only, so several stores can be open in one process."""

    def bound(base: type[pw.Model], table: str) -> type[pw.Model]:
        meta = type("Meta", (), {"database": db, "table_name": table})
        return type(base.__name__, (base,), {"Meta": meta, "__module__": __name__})

    job = bound(JobRecord, "jobs")
    log = bound(JobLogRecord, "job_logs")
    return job, log  # type: ignore[return-value]
