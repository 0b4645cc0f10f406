"""What the statistics are computed from: the finished jobs in columns, and the roll-up.

Aggregating a million rows of the jobs table takes seconds in SQLite, far over the
statistics' budget (200 ms a view). :class:`StatsData` therefore keeps, in memory, one numpy
column per number the statistics use (end, start and creation time, type, job key, status,
duration and its histogram bucket, peak RSS, CPU time, failure line) for every finished job
still in the table, and the roll-up of the deleted ones (:mod:`.rollup`). A view then
aggregates arrays (milliseconds) instead of rows.

:meth:`StatsData.refresh` keeps the columns in step with the store cheaply: it reads only
the jobs that ended since the last refresh (the ``jobs_completed`` index), counts the
finished rows to notice deletions (retention), re-reads only the UTC days whose count
changed, and re-reads the roll-up only when its totals moved. The first refresh starts from
the snapshot a previous run kept (:mod:`.stats_snapshot`; :meth:`StatsData._restore`
checks it against the store day by day) and reads what ended since; without one it reads
every finished job once (10-17 s at a million jobs). Run refreshes off the GUI thread.
:meth:`StatsData.save_if_due` writes the snapshot. Works on a SQLite store and a PostgreSQL
board alike (portable SQL; a board keeps no snapshot). Thread-safe. No Qt.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .job_key import parse_key
from .occupancy import Occupancy
from .rollup import DAY, KeyOf, first_error_line
from .stats_snapshot import Saved, StatsSnapshot

__all__ = ["FINISHED", "NBUCKETS", "Columns", "Interned", "Rollup", "StatsData"]

#: Finished statuses, in the order of their codes in :attr:`Columns.status`.
FINISHED: tuple[str, ...] = ("completed", "failed", "cancelled")
#: Duration histogram buckets kept (bucket 127 is ~ 3.5 * 10**9 s).
NBUCKETS = 128
#: Jobs that end out of order (another board instance's commit) are still found if they
#: end within this many seconds before the newest one already read.
MARGIN_S = 600.0
#: Rows read from the store at a time (a chunk's rows become arrays in calls that hold the
#: GIL: 50,000 at a time paused the GUI thread for 40-70 ms, 10,000 for a fifth of that).
CHUNK = 10_000
#: A snapshot is written once this many rows were read from the store since the last one
#: (or since the one loaded) ...
SAVE_AFTER_ROWS = 20_000
#: ... and only of this many rows or more (a smaller store is read in a moment).
SAVE_MIN_ROWS = 20_000
#: The checksum of a day's end times: the sum of each one's milliseconds modulo this.
_MOD = 1_000_000_007

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_SELECT = (
    "SELECT id, type, params, status, created_ts, started_ts, completed_ts, "
    "CASE WHEN status = 'failed' THEN substr(error, 1, 400) END, peak_rss, cpu_seconds "
    "FROM jobs WHERE completed_ts IS NOT NULL"
)  # no condition on status: the planner could then pick the status index over the end time's


class Interned:
    """Texts numbered in the order first seen (types, job keys, failure lines)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        found = self._codes.get(text)
        if found is None:
            found = self._codes[text] = len(self.texts)
            self.texts.append(text)
        return found

    @classmethod
    def of(cls, texts: list[str]) -> Interned:
        """The texts numbered in their order (as loaded from a snapshot)."""
        interned = cls()
        interned.texts = texts
        interned._codes = dict(zip(texts, range(len(texts)), strict=True))
        return interned

    def find(self, text: str) -> int | None:
        return self._codes.get(text)

    def __len__(self) -> int:
        return len(self.texts)


def _empty_f() -> Floats:
    return np.empty(0, np.float64)


def _empty_i() -> Ints:
    return np.empty(0, np.int64)


@dataclass
class Columns:
    """The finished jobs still in the table, one array per number, sorted by end time.

    ``status`` holds indexes into :data:`FINISHED`; ``type``/``key``/``line`` codes into
    :class:`StatsData`'s :class:`Interned` tables (``line`` -1 unless failed); ``started``
    and ``rss``/``cpu`` are NaN where unknown; ``duration`` is 0 for a job that never
    started."""

    completed: Floats = field(default_factory=_empty_f)
    started: Floats = field(default_factory=_empty_f)
    created: Floats = field(default_factory=_empty_f)
    duration: Floats = field(default_factory=_empty_f)
    rss: Floats = field(default_factory=_empty_f)
    cpu: Floats = field(default_factory=_empty_f)
    type: Ints = field(default_factory=_empty_i)
    key: Ints = field(default_factory=_empty_i)
    status: Ints = field(default_factory=_empty_i)
    bucket: Ints = field(default_factory=_empty_i)
    line: Ints = field(default_factory=_empty_i)
    #: What views derive from these rows and keep while they last (e.g. sorted times).
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    NAMES = (
        "completed",
        "started",
        "created",
        "duration",
        "rss",
        "cpu",
        "type",
        "key",
        "status",
        "bucket",
        "line",
    )

    def __len__(self) -> int:
        return len(self.completed)

    def occupancy(self) -> tuple[Occupancy, Occupancy]:
        """The rows as queued (from creation until they started, or ended unstarted) and
        as running (from start to end), made once for these rows (every period's chart
        reads them) and extended, not made again, by :meth:`joined`."""
        found: tuple[Occupancy, Occupancy] | None = self.derived.get("occupancy")
        if found is None:
            found = self.derived["occupancy"] = (
                Occupancy.of(*self._queued()),
                Occupancy.of(*self._running()),
            )
        return found

    def _queued(self) -> tuple[Floats, Floats]:
        ran = ~np.isnan(self.started)
        return self.created, np.where(ran, self.started, self.completed)

    def _running(self) -> tuple[Floats, Floats]:
        ran = ~np.isnan(self.started)
        return self.started[ran], self.completed[ran]

    def since(self, ts: float | None) -> slice:
        """The rows that ended at or after ``ts`` (all for None)."""
        start = 0 if ts is None else int(np.searchsorted(self.completed, ts, side="left"))
        return slice(start, len(self))

    def joined(self, *others: Columns) -> Columns:
        """These rows and ``others``', sorted by end time."""
        parts = (self, *others)
        arrays: dict[str, Any] = {
            n: np.concatenate([getattr(p, n) for p in parts]) for n in self.NAMES
        }
        merged = Columns(**arrays)
        if len(merged) and np.any(np.diff(merged.completed) < 0):
            merged = merged.taken(np.argsort(merged.completed, kind="stable"))
        made: tuple[Occupancy, Occupancy] | None = self.derived.get("occupancy")
        if made is not None:  # the same rows and a few more: added, not made again
            added = others[0].joined(*others[1:]) if len(others) > 1 else others[0]
            if len(added) * 4 < len(self):
                merged.derived["occupancy"] = (
                    made[0].with_added(*added._queued()),
                    made[1].with_added(*added._running()),
                )
        return merged

    def taken(self, which: Any) -> Columns:
        arrays: dict[str, Any] = {n: getattr(self, n)[which] for n in self.NAMES}
        return Columns(**arrays)


@dataclass
class Rollup:
    """The roll-up tables as arrays: per (day, type, key, status) runs, seconds and a
    histogram (``hist``: rows x :data:`NBUCKETS`), and failures per (day, type, key, line)."""

    day: Ints = field(default_factory=_empty_i)
    type: Ints = field(default_factory=_empty_i)
    key: Ints = field(default_factory=_empty_i)
    status: Ints = field(default_factory=_empty_i)
    runs: Ints = field(default_factory=_empty_i)
    seconds_sum: Floats = field(default_factory=_empty_f)
    seconds_max: Floats = field(default_factory=_empty_f)
    hist: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, NBUCKETS), np.int64))
    fail_day: Ints = field(default_factory=_empty_i)
    fail_type: Ints = field(default_factory=_empty_i)
    fail_key: Ints = field(default_factory=_empty_i)
    fail_line: Ints = field(default_factory=_empty_i)
    fail_runs: Ints = field(default_factory=_empty_i)
    #: What views derive from these rows and keep while they last.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def per_type(self) -> Rollup:
        """These rows summed per (day, type, status), keys dropped (kept once made): the
        per-type view needs no more, and it has far fewer rows."""
        found = self.derived.get("per_type")
        if found is not None:
            return found
        group = (self.day * (int(self.type.max(initial=0)) + 1) + self.type) * 3 + self.status
        unique, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        n = len(unique)
        hist = np.zeros((n, NBUCKETS), np.int64)
        np.add.at(hist, inverse, self.hist)
        longest = np.zeros(n)
        np.maximum.at(longest, inverse, self.seconds_max)
        reduced = Rollup(
            day=self.day[first],
            type=self.type[first],
            key=np.full(n, -1, np.int64),
            status=self.status[first],
            runs=np.asarray(np.bincount(inverse, weights=self.runs, minlength=n), np.int64),
            seconds_sum=np.asarray(
                np.bincount(inverse, weights=self.seconds_sum, minlength=n), np.float64
            ),
            seconds_max=longest,
            hist=hist,
        )
        self.derived["per_type"] = reduced
        return reduced


class StatsData:
    """The finished jobs of one store as :class:`Columns`, plus its :class:`Rollup`.

    ``read(query)`` runs ``query(conn)`` on a reader connection (a tracker's
    :meth:`~jobdeck.core.tracker.JobTracker.read_store`); ``key_of(type, params)`` gives a
    job's key (:func:`~jobdeck.core.rollup.key_of`). :meth:`refresh` brings it up to date
    and returns a consistent ``(columns, rollup)`` pair; readers use that pair only.
    """

    def __init__(
        self,
        read: Callable[[Callable[[sqlite3.Connection], Any]], Any],
        key_of: KeyOf,
        snapshot: StatsSnapshot | None = None,
    ) -> None:
        self._read = read
        self._key_of = key_of
        self._snapshot = snapshot
        self._started = False  # whether a refresh ran (the first one loads the snapshot)
        self._saved_at = 0  # rows_read when the snapshot was last written or loaded
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self.types = Interned()
        self.keys = Interned()
        self.lines = Interned()
        self.key_type: list[int] = []  # key code -> type code
        self._columns = Columns()
        self._rollup = Rollup()
        self._rollup_signature: tuple[Any, ...] | None = None
        self._newest = -math.inf
        self._recent: dict[str, float] = {}  # ids that ended within MARGIN_S of the newest
        self._param_keys: dict[tuple[str, str], int] = {}
        self._current_keys: dict[str, str] = {}  # a roll-up row's key -> the current rule's
        self.rows_read = 0  # how many job rows refreshes read (for tests and benchmarks)

    def refresh(self) -> tuple[Columns, Rollup]:
        """Read what changed in the store since the last refresh (see the module)."""
        with self._lock:
            self._read(self._refresh)
            return self._columns, self._rollup

    def snapshot(self) -> tuple[Columns, Rollup]:
        """The data as of the last refresh (no SQL)."""
        with self._lock:
            return self._columns, self._rollup

    def save_if_due(self) -> bool:
        """Write the columns to the snapshot file when enough rows were read from the store
        since it was last written (see :data:`SAVE_AFTER_ROWS`); whether it was written.
        Takes ~0.3 s at a million jobs: call it off the GUI thread, after the numbers
        that the refresh was for went out."""
        if self._snapshot is None or not self._save_lock.acquire(blocking=False):
            return False
        try:
            with self._lock:
                fresh = self.rows_read - self._saved_at
                if fresh < SAVE_AFTER_ROWS or len(self._columns) < SAVE_MIN_ROWS:
                    return False
                saved = Saved(
                    columns=self._columns,  # (never changed in place: refreshes replace it)
                    types=list(self.types.texts),
                    keys=list(self.keys.texts),
                    lines=list(self.lines.texts),
                    key_type=list(self.key_type),
                    newest=self._newest,
                    recent=dict(self._recent),
                    occupancy=self._columns.derived.get("occupancy"),
                    rollup=self._rollup if self._rollup_signature is not None else None,
                    rollup_signature=(
                        None if self._rollup_signature is None else list(self._rollup_signature)
                    ),
                )
                self._saved_at = self.rows_read
            self._snapshot.save(saved)
            return True
        finally:
            self._save_lock.release()

    # -- reading (under the lock, on the reader's connection) ----------------------------------

    def _refresh(self, conn: sqlite3.Connection) -> None:
        counted: tuple[float, int] | None = None
        if not self._started:
            self._started = True
            if self._snapshot is not None:
                try:
                    counted = self._restore(conn)
                except sqlite3.Error:
                    raise
                except Exception:  # a file that does not fit this store: read it all
                    log.warning("statistics snapshot not used", exc_info=True)
                    self._columns, self._newest, self._recent = Columns(), -math.inf, {}
        self._read_new(conn)
        if counted is None:
            stored = int(
                conn.execute("SELECT COUNT(*) FROM jobs WHERE completed_ts IS NOT NULL").fetchone()[
                    0
                ]
            )
        else:  # the rows before the horizon were just counted: count the rest only
            horizon, below = counted
            stored = below + int(
                conn.execute(
                    "SELECT COUNT(*) FROM jobs WHERE completed_ts IS NOT NULL "
                    "AND completed_ts >= ?",
                    (float(horizon),),
                ).fetchone()[0]
            )
        if stored != len(self._columns):
            self._read_new(conn)  # jobs that ended meanwhile
            stored = int(
                conn.execute("SELECT COUNT(*) FROM jobs WHERE completed_ts IS NOT NULL").fetchone()[
                    0
                ]
            )
            if stored != len(self._columns):
                self._reconcile_days(conn)
        self._read_rollup(conn)

    def _read_new(self, conn: sqlite3.Connection) -> None:
        since = self._newest - MARGIN_S
        cursor = conn.execute(
            f"{_SELECT} AND completed_ts >= ? ORDER BY completed_ts",
            (since if math.isfinite(since) else -1e300,),
        )
        recent = self._recent
        parts: list[Columns] = []
        newest: list[tuple[str, float]] = []
        while True:  # in chunks: a million rows at once would need ~1 GB of tuples
            rows = cursor.fetchmany(CHUNK)
            fresh = [row for row in rows if row[0] not in recent]
            if fresh:
                parts.append(self._columns_of(fresh))
                last = fresh[-1][6] - MARGIN_S  # the rows before cannot be recent at the end
                newest += [(row[0], row[6]) for row in fresh if row[6] >= last]
            if len(rows) < CHUNK:
                break
        if not parts:
            return
        self._columns = self._columns.joined(*parts)
        self._newest = max(self._newest, float(self._columns.completed[-1]))
        floor = self._newest - MARGIN_S
        for job_id, ts in newest:
            if ts >= floor:
                recent[job_id] = ts
        for job_id in [i for i, ts in recent.items() if ts < floor]:
            del recent[job_id]

    def _restore(self, conn: sqlite3.Connection) -> tuple[float, int] | None:
        """Start from the snapshot file, checked against the store: the rows that ended
        before its newest end less :data:`MARGIN_S` (the horizon), per UTC day, by count
        and a checksum of their end times; a day that differs is read again. The rows
        after the horizon are the snapshot's ``recent`` ones, as after any refresh: the
        refresh that follows reads the rest and counts the whole. Returns the horizon and
        how many rows ended before it (None: no snapshot used)."""
        saved = self._snapshot.load() if self._snapshot is not None else None
        if saved is None or not len(saved.columns) or not math.isfinite(saved.newest):
            return None
        cols = saved.columns
        horizon = saved.newest - MARGIN_S
        below = int(np.searchsorted(cols.completed, horizon, side="left"))
        days = np.floor(cols.completed[:below] / DAY).astype(np.int64)
        sums = (cols.completed[:below] * 1000).astype(np.int64) % _MOD
        known, starts, counts = np.unique(days, return_index=True, return_counts=True)
        checksums = np.add.reduceat(sums, starts) if len(starts) else sums
        mine = {
            day: (count, checksum)
            for day, count, checksum in zip(
                known.tolist(), counts.tolist(), checksums.tolist(), strict=True
            )
        }
        first = int(known[0]) if len(known) else math.floor(horizon / DAY)
        older = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE completed_ts IS NOT NULL AND completed_ts < ?",
            (float(first * DAY),),
        ).fetchone()[0]
        if int(older):  # rows older than any the snapshot has (imported?): read it all
            log.info("statistics snapshot: the store has older jobs; reading them all")
            return None
        reread: list[int] = []
        below_total = 0
        for day in range(first, math.floor(horizon / DAY) + 1):  # gaps included
            low, high = day * DAY, min((day + 1) * DAY, horizon)
            stored, stored_sum = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(CAST(completed_ts * 1000 AS INTEGER) % ?), 0) "
                "FROM jobs WHERE completed_ts IS NOT NULL AND completed_ts >= ? "
                "AND completed_ts < ?",
                (_MOD, float(low), float(high)),
            ).fetchone()
            below_total += int(stored)
            if (int(stored), int(stored_sum)) != mine.get(day, (0, 0)):
                reread.append(day)
        self.types = Interned.of(saved.types)
        self.keys = Interned.of(saved.keys)
        self.lines = Interned.of(saved.lines)
        self.key_type = saved.key_type
        if reread:
            keep = np.ones(len(cols), bool)
            keep[:below] = ~np.isin(days, reread)
            cols = cols.taken(keep)
        self._saved_at = self.rows_read
        for day in reread:
            rows = conn.execute(
                f"{_SELECT} AND completed_ts >= ? AND completed_ts < ? ORDER BY completed_ts",
                (float(day * DAY), float(min((day + 1) * DAY, horizon))),
            ).fetchall()
            if rows:
                cols = cols.joined(self._columns_of(rows))
        self._columns = cols
        self._newest = saved.newest
        self._recent = saved.recent
        if saved.rollup is not None and saved.rollup_signature is not None:
            # read again only if the roll-up's totals moved (see _read_rollup)
            self._rollup, self._rollup_signature = saved.rollup, tuple(saved.rollup_signature)
        if reread:
            log.info("statistics snapshot: %d day(s) changed in the store, re-read", len(reread))
        return horizon, below_total

    def _reconcile_days(self, conn: sqlite3.Connection) -> None:
        """Rows were deleted (or came in out of order): re-read each UTC day whose count
        differs from the store's."""
        cols = self._columns
        if not len(cols):
            return
        days = np.floor(cols.completed / DAY).astype(np.int64)
        counted = dict(zip(*np.unique(days, return_counts=True), strict=True))
        keep = np.ones(len(cols), bool)
        reread: list[int] = []
        for day, count in counted.items():
            stored = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE completed_ts >= ? AND completed_ts < ?",
                (float(day * DAY), float((day + 1) * DAY)),
            ).fetchone()[0]
            if int(stored) != int(count):
                keep &= days != day
                reread.append(int(day))
        cols = cols.taken(keep)
        for day in reread:
            rows = conn.execute(
                f"{_SELECT} AND completed_ts >= ? AND completed_ts < ? ORDER BY completed_ts",
                (float(day * DAY), float((day + 1) * DAY)),
            ).fetchall()
            if rows:
                cols = cols.joined(self._columns_of(rows))
        self._columns = cols
        self._recent = {i: ts for i, ts in self._recent.items() if ts >= self._newest - MARGIN_S}

    def _key_code(self, type_name: str, params_json: Any) -> int:
        found = self._param_keys.get((type_name, params_json))
        if found is not None:
            return found
        try:
            params = json.loads(params_json)
        except (TypeError, ValueError):
            params = {}
        key = self._key_of(type_name, params if isinstance(params, Mapping) else {})
        code = self.keys.code(key)
        if code == len(self.key_type):
            self.key_type.append(self.types.code(type_name))
        if len(self._param_keys) > 100_000:  # bounded: most keys repeat their params
            self._param_keys.clear()
        self._param_keys[(type_name, params_json)] = code
        return code

    def _columns_of(self, rows: list[Any]) -> Columns:
        self.rows_read += len(rows)
        n = len(rows)
        status_code = {name: i for i, name in enumerate(FINISHED)}  # a damaged one: failed
        types = self.types
        lines = self.lines
        type_col = np.empty(n, np.int64)
        key_col = np.empty(n, np.int64)
        status_col = np.empty(n, np.int64)
        line_col = np.full(n, -1, np.int64)
        for i, (_id, type_name, params, status, *_rest, error, _rss, _cpu) in enumerate(rows):
            type_col[i] = types.code(type_name)
            key_col[i] = self._key_code(type_name, params)
            status_col[i] = code = status_code.get(status, 1)
            if code == 1:
                line_col[i] = lines.code(first_error_line(error))
        numbers = np.array(
            [(r[4], r[5], r[6], r[8], r[9]) for r in rows], dtype=np.float64
        ).reshape(n, 5)
        created, started, completed, rss, cpu = numbers.T
        duration = np.where(np.isnan(started), 0.0, np.maximum(completed - started, 0.0))
        bucket = np.minimum(
            (4 * np.log2(duration + 1.0)).astype(np.int64), NBUCKETS - 1
        )  # as rollup.bucket_of
        return Columns(
            completed=np.ascontiguousarray(completed),
            started=np.ascontiguousarray(started),
            created=np.ascontiguousarray(created),
            duration=duration,
            rss=np.ascontiguousarray(rss),
            cpu=np.ascontiguousarray(cpu),
            type=type_col,
            key=key_col,
            status=status_col,
            bucket=bucket,
            line=line_col,
        )

    def _read_rollup(self, conn: sqlite3.Connection) -> None:
        signature = tuple(
            conn.execute(
                "SELECT (SELECT COUNT(*) FROM job_rollup), "
                "(SELECT COALESCE(SUM(runs), 0) FROM job_rollup), "
                "(SELECT COALESCE(SUM(runs), 0) FROM job_rollup_failures)"
            ).fetchone()
        )
        if signature == self._rollup_signature:
            return
        self._rollup = self._rollup_from_store(conn)
        self._rollup_signature = signature

    def _rollup_from_store(self, conn: sqlite3.Connection) -> Rollup:
        rows = conn.execute(
            "SELECT day, type, job_key, status, runs, seconds_sum, seconds_max, buckets "
            "FROM job_rollup"
        ).fetchall()
        rows = [r for r in rows if r[3] in FINISHED]
        n = len(rows)
        hist = np.zeros((n, NBUCKETS), np.int64)
        keys = [self._interned_key(r[1], r[2]) for r in rows]
        for i, row in enumerate(rows):
            for bucket, count in json.loads(row[7]).items():
                hist[i, min(int(bucket), NBUCKETS - 1)] += int(count)
        fails = conn.execute(
            "SELECT day, type, job_key, first_line, runs FROM job_rollup_failures"
        ).fetchall()
        return Rollup(
            day=np.array([r[0] for r in rows], np.int64),
            type=np.array([self.types.code(r[1]) for r in rows], np.int64),
            key=np.array(keys, np.int64),
            status=np.array([FINISHED.index(r[3]) for r in rows], np.int64),
            runs=np.array([r[4] for r in rows], np.int64),
            seconds_sum=np.array([r[5] for r in rows], np.float64),
            seconds_max=np.array([r[6] for r in rows], np.float64),
            hist=hist,
            fail_day=np.array([r[0] for r in fails], np.int64),
            fail_type=np.array([self.types.code(r[1]) for r in fails], np.int64),
            fail_key=np.array([self._interned_key(r[1], r[2]) for r in fails], np.int64),
            fail_line=np.array([self.lines.code(r[3]) for r in fails], np.int64),
            fail_runs=np.array([r[4] for r in fails], np.int64),
        )

    def _interned_key(self, type_name: str, key: str) -> int:
        """The code of a roll-up row's key, as the current rule makes it: a row rolled up
        before the rule changed (a command's folder or program written another way) joins
        the runs it is the same work as."""
        current = self._current_keys.get(key)
        if current is None:
            parsed = parse_key(key)
            current = key if parsed is None else self._key_of(type_name, parsed[1])
            if len(self._current_keys) > 100_000:
                self._current_keys.clear()
            self._current_keys[key] = current
        code = self.keys.code(current)
        if code == len(self.key_type):
            self.key_type.append(self.types.code(type_name))
        return code
