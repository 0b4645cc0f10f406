"""The database schema: frozen migrations, and peewee models that mirror the newest version.

The schema version lives in SQLite's ``PRAGMA user_version``. Migration ``n`` takes a file
from version ``n - 1`` to ``n``; their SQL never changes once released, so an old file is
brought forward exactly as a fresh one is built. The peewee models describe the result and
serve the read-side queries (listing, counting, searching); a test checks they agree.
"""

from __future__ import annotations

import peewee as pw

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "JobLogRecord", "JobRecord", "bind_models"]

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
)

SCHEMA_VERSION = len(MIGRATIONS)


class JobRecord(pw.Model):
    """A row of ``jobs`` (newest schema)."""

    id = pw.TextField(primary_key=True)
    type = pw.TextField()
    title = pw.TextField()
    status = pw.TextField()
    priority = pw.IntegerField(default=0)
    params = pw.TextField(default="{}")
    metadata = pw.TextField(default="{}")
    progress_current = pw.FloatField(default=0)
    progress_total = pw.FloatField(default=0)
    progress_message = pw.TextField(default="")
    created_ts = pw.FloatField()
    started_ts = pw.FloatField(null=True)
    completed_ts = pw.FloatField(null=True)
    error = pw.TextField(null=True)
    traceback = pw.TextField(null=True)
    result = pw.TextField(null=True)
    attempts = pw.IntegerField(default=0)
    max_attempts = pw.IntegerField(default=1)
    run_at_ts = pw.FloatField(null=True)
    timeout = pw.FloatField(null=True)
    depends_on = pw.TextField(default="[]")
    cancel_requested = pw.IntegerField(default=0)
    retry_of = pw.TextField(null=True)
    pid = pw.IntegerField(null=True)
    exit_code = pw.IntegerField(null=True)
    log_path = pw.TextField(null=True)
    peak_rss = pw.IntegerField(null=True)
    cpu_seconds = pw.FloatField(null=True)
    last_seen_ts = pw.FloatField(null=True)

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


#: Column order used by every raw SELECT of a job; ``store.row_to_job`` relies on it.
JOB_COLUMNS: tuple[str, ...] = tuple(JobRecord._meta.sorted_field_names)


def bind_models(db: pw.Database) -> tuple[type[JobRecord], type[JobLogRecord]]:
    """Model classes bound to ``db`` only, so several stores can be open in one process."""

    def bound(base: type[pw.Model], table: str) -> type[pw.Model]:
        meta = type("Meta", (), {"database": db, "table_name": table})
        return type(base.__name__, (base,), {"Meta": meta, "__module__": __name__})

    job = bound(JobRecord, "jobs")
    log = bound(JobLogRecord, "job_logs")
    return job, log  # type: ignore[return-value]
