"""Roll-up: the numbers of finished jobs kept after retention deletes the jobs themselves.

Before retention deletes a batch of finished jobs it calls :func:`roll_up` on the same
connection, in the same transaction, with the ids it is about to delete. Each job adds to
one row of ``job_rollup`` per (UTC day it ended, type, job key, status): how many runs,
their total and longest duration, and a histogram of durations (so p50 / p90 stay
computable); a failed job also counts in ``job_rollup_failures`` under the first line of
its error. A 30-day chart therefore stays right after a 7-day retention.

The tables come with the schema migration :data:`ROLLUP_MIGRATION` (written to apply after
whatever migrations come before it: ``IF NOT EXISTS``). No Qt.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .job_key import key_in

if TYPE_CHECKING:
    from .registry import JobRegistry

__all__ = [
    "ROLLUP_MIGRATION",
    "bucket_of",
    "bucket_seconds",
    "first_error_line",
    "key_of",
    "roll_up",
    "rolled_up",
]

#: Schema migration 5, the roll-up tables (idempotent; on a PostgreSQL board, translated by
#: :mod:`.pg_schema` like the others).
ROLLUP_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS job_rollup (
        day INTEGER NOT NULL,
        type TEXT NOT NULL,
        job_key TEXT NOT NULL,
        status TEXT NOT NULL,
        runs INTEGER NOT NULL,
        seconds_sum REAL NOT NULL,
        seconds_max REAL NOT NULL,
        buckets TEXT NOT NULL,
        PRIMARY KEY (day, type, job_key, status)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS job_rollup_failures (
        day INTEGER NOT NULL,
        type TEXT NOT NULL,
        job_key TEXT NOT NULL,
        first_line TEXT NOT NULL,
        runs INTEGER NOT NULL,
        PRIMARY KEY (day, type, job_key, first_line)
    ) WITHOUT ROWID""",
)

#: Histogram buckets per doubling of the duration (bucket b holds 2**(b/4) - 1 seconds up).
BUCKETS_PER_DOUBLING = 4
MAX_FIRST_LINE = 200
DAY = 86400

KeyOf = Callable[[str, Mapping[str, Any]], str]


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration (0 for 0 s; about 19 % wide)."""
    return int(BUCKETS_PER_DOUBLING * math.log2(max(0.0, seconds) + 1.0))


def bucket_seconds(bucket: int) -> float:
    """The middle of a bucket, in seconds (what a percentile read from it says)."""
    low = 2.0 ** (bucket / BUCKETS_PER_DOUBLING) - 1.0
    high = 2.0 ** ((bucket + 1) / BUCKETS_PER_DOUBLING) - 1.0
    return (low + high) / 2.0


def key_of(registry: JobRegistry | None) -> KeyOf:
    """The job-key function of a registry's types (:meth:`~.registry.JobType.key`)."""

    def key(type_name: str, params: Mapping[str, Any]) -> str:
        return key_in(registry, type_name, params)

    return key


#: The heading a process job's error puts before the program's last output lines.
_OUTPUT_HEADING = "; last output:"


def first_error_line(error: str | None) -> str:
    """What a failure is grouped under: the first line of its error, capped; for a process
    job, its ``exit status N`` without the heading of the output lines that follow."""
    text = (error or "").strip()
    line = text.splitlines()[0] if text else "(no error message)"
    return line.removesuffix(_OUTPUT_HEADING)[:MAX_FIRST_LINE]


def roll_up(conn: sqlite3.Connection, job_ids: Iterable[str], key_fn: KeyOf | None = None) -> int:
    """Add the finished jobs among ``job_ids`` to the roll-up tables; how many were added.

    Call it in the transaction that deletes them, before the delete. ``key_fn(type,
    params)`` gives a job's key (default: every param counts, see
    :func:`~jobdeck.core.job_key.job_key`; recovery passes its registry's, see :func:`key_of`)."""
    key_fn = key_fn or key_of(None)
    groups: dict[tuple[int, str, str, str], list[Any]] = {}
    failures: dict[tuple[int, str, str, str], int] = {}
    ids = list(job_ids)
    added = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT type, params, status, started_ts, completed_ts, error FROM jobs "
            f"WHERE id IN ({marks}) AND status IN ('completed', 'failed', 'cancelled') "
            "AND completed_ts IS NOT NULL",
            chunk,
        ).fetchall()
        for type_name, params_json, status, started, completed, error in rows:
            try:
                params = json.loads(params_json)
            except (TypeError, ValueError):
                params = {}
            key = key_fn(type_name, params if isinstance(params, dict) else {})
            day = int(completed // DAY)
            seconds = max(0.0, completed - started) if started is not None else 0.0
            group = groups.setdefault((day, type_name, key, status), [0, 0.0, 0.0, {}])
            group[0] += 1
            group[1] += seconds
            group[2] = max(group[2], seconds)
            bucket = str(bucket_of(seconds))
            group[3][bucket] = group[3].get(bucket, 0) + 1
            if status == "failed":
                where = (day, type_name, key, first_error_line(error))
                failures[where] = failures.get(where, 0) + 1
            added += 1
    for (day, type_name, key, status), (runs, total, longest, buckets) in groups.items():
        row = conn.execute(
            "SELECT runs, seconds_sum, seconds_max, buckets FROM job_rollup "
            "WHERE day = ? AND type = ? AND job_key = ? AND status = ?",
            (day, type_name, key, status),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO job_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (day, type_name, key, status, runs, total, longest, json.dumps(buckets)),
            )
            continue
        runs += row[0]
        total += row[1]
        longest = max(longest, row[2])
        for bucket, count in json.loads(row[3]).items():
            buckets[bucket] = buckets.get(bucket, 0) + count
        conn.execute(  # no INSERT OR REPLACE: a PostgreSQL board runs this too
            "UPDATE job_rollup SET runs = ?, seconds_sum = ?, seconds_max = ?, buckets = ? "
            "WHERE day = ? AND type = ? AND job_key = ? AND status = ?",
            (runs, total, longest, json.dumps(buckets), day, type_name, key, status),
        )
    for (day, type_name, key, line), runs in failures.items():
        conn.execute(
            "INSERT INTO job_rollup_failures VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(day, type, job_key, first_line) "
            "DO UPDATE SET runs = job_rollup_failures.runs + excluded.runs",
            (day, type_name, key, line, runs),
        )
    return added


def rolled_up(
    conn: sqlite3.Connection, since: float | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (type, status) since ``since`` (epoch seconds; None: all): runs, total and
    longest seconds, the duration histogram (bucket -> runs) of the rolled-up jobs."""
    where, args = ("WHERE day >= ?", (int(since // DAY),)) if since is not None else ("", ())
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for type_name, status, runs, total, longest, buckets in conn.execute(
        f"SELECT type, status, runs, seconds_sum, seconds_max, buckets FROM job_rollup {where}",
        args,
    ):
        entry = out.setdefault(
            (type_name, status), {"runs": 0, "seconds_sum": 0.0, "seconds_max": 0.0, "buckets": {}}
        )
        entry["runs"] += runs
        entry["seconds_sum"] += total
        entry["seconds_max"] = max(entry["seconds_max"], longest)
        for bucket, count in json.loads(buckets).items():
            entry["buckets"][int(bucket)] = entry["buckets"].get(int(bucket), 0) + count
    return out
