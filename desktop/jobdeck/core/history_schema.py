"""What a deep history needs in a SQLite store: counts, sort indexes and a text index.

Schema migration 6 (:data:`HISTORY_MIGRATION`) adds only what is cheap at any size, so
opening a store of a million jobs is not held up by it:

* ``job_counts``: how many jobs there are of each status and type, kept by triggers, so
  counting a filter without a text search reads a handful of rows;
* ``jobs_text``: an SQLite FTS5 index with the ``trigram`` tokenizer over each job's title,
  type, progress message, error message and command (argv's items joined by spaces), kept
  in step by triggers in the writing transaction. The texts go in with their ASCII letters
  in lower case (SQLite's ``lower``) and the tokenizer is case-sensitive, so a quoted
  phrase of three characters or more matches exactly the jobs whose text *contains* it
  with ASCII letters in any case, as SQLite's ``LIKE`` does (see :mod:`.text_search`). It
  is contentless (the texts stay in ``jobs``) and keeps no column sizes (``columnsize=0``:
  nothing is written for a row before the commit, see below);
* ``history_pending``: one row, ``below``: the rows of ``jobs`` whose rowid is below it
  are neither in the text index nor in the counts yet (every row a store had when it was
  migrated: counting a million rows takes seconds). The triggers take a row out of the
  index and the counts only when it is in them.

The rest is built after the store opened (:func:`build_step`, called by
:class:`~jobdeck.core.history_build.HistoryBuild` in small transactions on a thread of its
own, or at once for a small store): the old rows into the text index, newest first, and
the sort indexes of :data:`SORT_INDEXES`. Until that is done a search scans and a count
counts the rows (:func:`text_index_ready`).

Why a long title costs no page at once: a title index entry of a 2000-character title
needs overflow pages in the statement that inserts it, and a full disk then fails that
statement alone while the rest of the group commits; the indexes key on the first
:data:`SORT_PREFIX` characters. FTS5 writes its index at the commit.

SQLite only: a PostgreSQL board skips the migration (:mod:`.pg_schema`), counts with
``COUNT(*)`` and searches with ``ILIKE``. No Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (the desktop app's first window needs SORT_PREFIX, not sqlite3)
    import sqlite3

__all__ = [
    "COMMAND_SQL",
    "HISTORY_MIGRATION",
    "SORT_INDEXES",
    "SORT_PREFIX",
    "build_step",
    "text_index_ready",
]

#: Characters of a title or message the sort indexes (and so the sort) look at.
SORT_PREFIX = 100

#: The command text of a row (``new.``/``old.`` in a trigger, or none for the table):
#: argv's items joined by spaces; NULL when params are not JSON or hold no argv.
COMMAND_SQL = (
    "(SELECT group_concat(value, ' ') FROM json_each("
    "CASE WHEN json_valid({row}params) THEN {row}params ELSE '{{}}' END, '$.argv'))"
)

_TEXTS = "rowid, title, type, message, error, command"


def _values(row: str) -> str:
    """The index's texts of a row: ASCII letters lower-cased (SQLite's ``lower``)."""
    return (
        f"{row}rowid, lower({row}title), lower({row}type), lower({row}progress_message), "
        f"lower({row}error), lower({COMMAND_SQL.format(row=row)})"
    )


_INDEXED = "old.rowid >= (SELECT below FROM history_pending)"

#: Schema migration 6 (see the module). Frozen once released.
HISTORY_MIGRATION: tuple[str, ...] = (
    "CREATE TABLE history_pending (below INTEGER NOT NULL)",
    "INSERT INTO history_pending (below) SELECT IFNULL(MAX(rowid), 0) + 1 FROM jobs",
    """CREATE TABLE job_counts (
        status TEXT NOT NULL,
        type TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (status, type)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO job_counts (status, type, n) VALUES (new.status, new.type, 1)
            ON CONFLICT (status, type) DO UPDATE SET n = n + 1;
    END""",
    f"""CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs WHEN {_INDEXED} BEGIN
        UPDATE job_counts SET n = n - 1 WHERE status = old.status AND type = old.type;
    END""",
    f"""CREATE TRIGGER job_counts_update AFTER UPDATE OF status, type ON jobs
    WHEN (old.status IS NOT new.status OR old.type IS NOT new.type) AND {_INDEXED} BEGIN
        UPDATE job_counts SET n = n - 1 WHERE status = old.status AND type = old.type;
        INSERT INTO job_counts (status, type, n) VALUES (new.status, new.type, 1)
            ON CONFLICT (status, type) DO UPDATE SET n = n + 1;
    END""",
    "CREATE VIRTUAL TABLE jobs_text USING fts5(title, type, message, error, command, "
    "content='', columnsize=0, tokenize='trigram case_sensitive 1')",
    f"""CREATE TRIGGER jobs_text_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO jobs_text ({_TEXTS}) VALUES ({_values("new.")});
    END""",
    f"""CREATE TRIGGER jobs_text_delete AFTER DELETE ON jobs WHEN {_INDEXED} BEGIN
        INSERT INTO jobs_text (jobs_text, {_TEXTS}) VALUES ('delete', {_values("old.")});
    END""",
    f"""CREATE TRIGGER jobs_text_update
    AFTER UPDATE OF title, type, progress_message, error, params ON jobs
    WHEN (old.title IS NOT new.title OR old.type IS NOT new.type
        OR old.progress_message IS NOT new.progress_message OR old.error IS NOT new.error
        OR old.params IS NOT new.params) AND {_INDEXED} BEGIN
        INSERT INTO jobs_text (jobs_text, {_TEXTS}) VALUES ('delete', {_values("old.")});
        INSERT INTO jobs_text ({_TEXTS}) VALUES ({_values("new.")});
    END""",
)

#: The sort indexes of the history's orders (the expressions of core/history_order.py, id
#: as the tie-breaker), built after open by :func:`build_step` (``IF NOT EXISTS``).
SORT_INDEXES: tuple[str, ...] = (
    f"CREATE INDEX IF NOT EXISTS jobs_title_sort ON jobs("
    f"substr(title, 1, {SORT_PREFIX}) COLLATE NOCASE, id)",
    "CREATE INDEX IF NOT EXISTS jobs_progress_sort ON jobs((CASE WHEN progress_total > 0 "
    "THEN progress_current / progress_total ELSE -1.0 END), id)",
    "CREATE INDEX IF NOT EXISTS jobs_duration_sort ON jobs("
    "coalesce(completed_ts - started_ts, -1.0), id)",
    "CREATE INDEX IF NOT EXISTS jobs_message_sort ON jobs(substr(CASE WHEN status = 'failed' "
    f"THEN coalesce(error, '') ELSE progress_message END, 1, {SORT_PREFIX}) COLLATE NOCASE, id)",
)


def text_index_ready(conn: sqlite3.Connection) -> bool:
    """Whether every job is in the text index and the counts."""
    row = conn.execute("SELECT below FROM history_pending").fetchone()
    return row is None or int(row[0]) <= 0


def build_step(conn: sqlite3.Connection, rows: int) -> bool:
    """Do one step of building what the migration left (on a writable connection with no
    open transaction): one missing sort index, else up to ``rows`` more old rows into the
    text index and the counts, newest first; each step one short transaction. Returns True when
    everything is built."""
    missing = [sql for sql in SORT_INDEXES if not _index_exists(conn, _index_name(sql))]
    if not missing and text_index_ready(conn):
        return True
    if missing:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(missing[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT below FROM history_pending").fetchone()
        below = 0 if row is None else int(row[0])
        if below > 0:
            low = conn.execute(
                "SELECT rowid FROM jobs WHERE rowid < ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (below, rows - 1),
            ).fetchone()
            start = 0 if low is None else int(low[0])
            conn.execute(
                f"INSERT INTO jobs_text ({_TEXTS}) SELECT {_values('')} FROM jobs "
                "WHERE rowid >= ? AND rowid < ?",
                (start, below),
            )
            conn.execute(
                "INSERT INTO job_counts (status, type, n) SELECT status, type, COUNT(*) "
                "FROM jobs WHERE rowid >= ? AND rowid < ? GROUP BY status, type "
                "ON CONFLICT (status, type) DO UPDATE SET n = n + excluded.n",
                (start, below),
            )
            below = start
            conn.execute("UPDATE history_pending SET below = ?", (below,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return below <= 0


def _index_name(sql: str) -> str:
    return sql.split(" IF NOT EXISTS ", 1)[1].split(" ", 1)[0]


def _index_exists(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
    return found.fetchone() is not None
