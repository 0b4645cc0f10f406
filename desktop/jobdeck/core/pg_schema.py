"""The job schema in PostgreSQL's dialect, and the board's own tables.

The numbered migrations of :mod:`.schema` are the one history of the schema; on PostgreSQL
each statement is translated (:func:`pg_statement`): SQLite's ``REAL`` is PostgreSQL's
``DOUBLE PRECISION`` (``REAL`` there is 4 bytes, too coarse for timestamps), ``INTEGER``
becomes ``BIGINT`` (byte counts and pids), and an ``INTEGER PRIMARY KEY AUTOINCREMENT`` a
``BIGSERIAL``. A statement with no meaning there (SQLite's full-text virtual tables and their
triggers) is skipped: :func:`pg_statement` returns None; so is all of migration 6
(:data:`~jobdeck.core.history_schema.HISTORY_MIGRATION`): its counts and text index are kept
by SQLite triggers and FTS5, so a board counts with ``COUNT(*)`` and searches with
``ILIKE`` as before (and its sort indexes, built after open, are SQLite's alone). The
schema version lives in the ``jobdeck_schema`` table (SQLite keeps it in ``PRAGMA user_version``).

A board adds what several instances need, outside the numbered migrations and only on
PostgreSQL (:data:`BOARD_SETUP`, idempotent): ``board_instances`` (each instance's name,
where it runs and the lease it renews), ``jobs.run_by`` (the instance running a job), and a
trigger that announces every change of a job row on the ``jobdeck_jobs`` channel
(``LISTEN``/``NOTIFY``) with the job's id and the name of the instance that changed it.
No Qt.
"""

from __future__ import annotations

import re

from .history_schema import HISTORY_MIGRATION
from .schema import JobRecord

__all__ = ["BOARD_SETUP", "NOTIFY_CHANNEL", "VERSION_SETUP", "pg_statement"]

#: The channel every change of a job row is announced on: payload ``<job id> <instance>``.
NOTIFY_CHANNEL = "jobdeck_jobs"

VERSION_SETUP = (
    "CREATE TABLE IF NOT EXISTS jobdeck_schema (version INTEGER NOT NULL)",
    "INSERT INTO jobdeck_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM jobdeck_schema)",
)

_ANNOUNCED = [name for name in JobRecord._meta.sorted_field_names if name != "last_seen_ts"] + [
    "run_by"
]

BOARD_SETUP = (
    """CREATE TABLE IF NOT EXISTS board_instances (
        name TEXT PRIMARY KEY NOT NULL,
        host TEXT NOT NULL,
        pid BIGINT NOT NULL,
        started_ts DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL
    )""",
    "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS run_by TEXT",
    "CREATE INDEX IF NOT EXISTS jobs_running_by ON jobs(run_by) WHERE status = 'running'",
    f"""CREATE OR REPLACE FUNCTION jobdeck_announce() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('{NOTIFY_CHANNEL}',
            NEW.id || ' ' || coalesce(current_setting('jobdeck.instance', true), ''));
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS jobs_announce ON jobs",
    # Not on a heartbeat alone (``last_seen_ts``): that changes nothing anyone sees.
    "CREATE TRIGGER jobs_announce AFTER INSERT OR UPDATE OF "
    f"{', '.join(_ANNOUNCED)} ON jobs FOR EACH ROW EXECUTE FUNCTION jobdeck_announce()",
)

_SKIPPED = re.compile(r"\bVIRTUAL\s+TABLE\b|\bfts5\b|\bCREATE\s+TRIGGER\b", re.IGNORECASE)
_TYPES = (
    (
        re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE),
        "BIGSERIAL PRIMARY KEY",
    ),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    # a SQLite storage choice (the primary key is the table); PostgreSQL has no such clause
    (re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.IGNORECASE), ")"),
)


_SQLITE_ONLY = frozenset(HISTORY_MIGRATION)


def pg_statement(sql: str) -> str | None:
    """A migration statement in PostgreSQL's dialect, or None when it has no meaning there."""
    if sql in _SQLITE_ONLY or _SKIPPED.search(sql):
        return None
    if not re.match(r"\s*(CREATE|ALTER)\s+TABLE\b", sql, re.IGNORECASE):
        return sql
    for pattern, replacement in _TYPES:
        sql = pattern.sub(replacement, sql)
    return sql
