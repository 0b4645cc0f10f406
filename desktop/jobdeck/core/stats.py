"""Job statistics over a period: per type and per job key, failures, throughput and load.

:class:`JobStats` answers the Statistics tab and ``GET /api/stats?period=``, which share
a tracker's one instance (:meth:`JobTracker.stats <jobdeck.core.tracker.JobTracker.stats>`,
made at first use). Every view combines the finished jobs still in the store with the
roll-up of those retention deleted (:mod:`.rollup`), so a 30-day view stays right after a
7-day retention. The numbers come from :class:`~.stats_data.StatsData` (columns in memory,
refreshed incrementally), so a view costs milliseconds even with a million jobs. The first
refresh starts from the columns a previous run kept beside the store
(:mod:`.stats_snapshot`, checked against the store: well under a second at a million
jobs); without them it reads every finished job once (10-17 s at a million). Either
belongs off the GUI thread.

What each number means:

* ``runs`` counts finished jobs (completed, failed, cancelled) that *ended* in the period;
  the success rate is completed / (completed + failed) — a cancel is the user's choice.
* Durations (p50, p90, mean, max) are those of the completed runs. p50 and p90 are read
  from the duration histogram the roll-up keeps (buckets ~19 % wide, the middle of the
  bucket), the same way for live and rolled-up jobs, and then clamped into the runs'
  [shortest, longest]: a single run's p50 and p90 are its duration. (The roll-up keeps no
  shortest run: a row of rolled-up runs bounds it by its lowest bucket.)
* Peak RSS (the largest) and CPU time (mean per run) exist only for process jobs and only
  while the jobs are in the table: the roll-up does not keep them, so over a period that
  retention has partly deleted they describe the jobs still stored (``resource_runs`` says
  how many).
* Rolled-up jobs are known per UTC day: a period takes the whole UTC day it starts in;
  hourly buckets put a rolled-up day at its first hour in the chart.
* Queue depth and running count over time come from the stored jobs' created, started and
  ended times (jobs retention deleted are not in them): the most queued (running) at any
  moment of each of :data:`LOAD_SAMPLES` intervals, so a short job still shows.

No Qt.
"""

from __future__ import annotations

import enum
import json
import math
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .occupancy import Occupancy
from .rollup import DAY, key_of
from .stats_data import FINISHED, NBUCKETS, Columns, Rollup, StatsData
from .stats_snapshot import StatsSnapshot, key_rule

if TYPE_CHECKING:
    from .tracker import JobTracker

__all__ = [
    "FailureGroup",
    "GroupStats",
    "JobStats",
    "KeyTrend",
    "Load",
    "Period",
    "StatsReport",
    "Throughput",
    "key_label",
]

HOUR = 3600
#: Points of the queue depth / running chart.
LOAD_SAMPLES = 240
#: Job keys a report lists (the ones with the most runs).
KEYS_LISTED = 500
#: Failure groups a report lists.
FAILURES_LISTED = 200


class Period(enum.Enum):
    """A period the statistics cover: the last 24 hours, 7 or 30 days, or everything."""

    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"
    ALL = "all"

    @classmethod
    def parse(cls, text: str) -> Period:
        """The period named ``text``; a ValueError that lists the valid names otherwise."""
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown period {text!r}: use one of {names}") from None

    @property
    def seconds(self) -> float | None:
        return {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}.get(self.value)

    @property
    def bucket_s(self) -> int:
        """The width of a throughput bar: an hour for 24 h, a UTC day otherwise."""
        return HOUR if self is Period.DAY else DAY


@dataclass(frozen=True)
class GroupStats:
    """The numbers of one job type or job key over a period (see the module)."""

    name: str  # the type, or the key
    type: str
    type_title: str  # the type's title in its registry (its name when unknown)
    label: str  # what a person reads: the type's title, or the key's params in short
    runs: int
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None  # completed / (completed + failed); None if neither
    p50_s: float | None
    p90_s: float | None
    mean_s: float | None
    max_s: float | None
    peak_rss: int | None  # bytes
    cpu_mean_s: float | None
    resource_runs: int  # runs whose RSS/CPU are known
    rolled_up: int  # runs known only from the roll-up

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FailureGroup:
    """Failed runs sharing the first line of their error, per type."""

    first_line: str
    type: str
    runs: int
    last_ts: float | None  # the latest stored one's end (None: only rolled-up runs)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Throughput:
    """Jobs that ended per bucket (``starts[i]`` .. ``starts[i] + bucket_s``), by status."""

    bucket_s: int
    starts: list[float]
    completed: list[int]
    failed: list[int]
    cancelled: list[int]


@dataclass(frozen=True)
class Load:
    """The most queued (pending) and running jobs at any moment from each of ``times`` to
    the next."""

    times: list[float]
    queued: list[int]
    running: list[int]


@dataclass(frozen=True)
class KeyTrend:
    """The last runs of one job key, oldest first: when each ended, how long it ran."""

    key: str
    ended: list[float]
    seconds: list[float]
    status: list[str]


@dataclass(frozen=True)
class StatsReport:
    """Every view of one period, computed from one consistent snapshot."""

    period: Period
    since: float | None
    now: float
    by_type: list[GroupStats]
    by_key: list[GroupStats]
    keys_total: int  # keys with runs in the period (by_key lists the busiest)
    failures: list[FailureGroup]
    throughput: Throughput
    load: Load


@lru_cache(maxsize=8192)
def key_label(key: str) -> str:
    """A job key in short: a command's argv as a shell line (and its folder); else the
    type and its params as ``name=value`` (those that are empty or false left out)."""
    type_name, _, text = key.partition(" ")
    try:
        params = json.loads(text) if text else {}
    except ValueError:
        return key
    if not isinstance(params, dict) or not params:
        return type_name
    parts: list[str] = []
    argv = params.pop("argv", None)
    if isinstance(argv, list):
        parts.append(shlex.join(str(a) for a in argv))
    elif isinstance(argv, str):
        parts.append(argv)
    else:
        parts.append(f"{type_name}:")
    cwd = params.pop("cwd", None)
    for name, value in sorted(params.items()):
        if value in (None, False, "", [], {}):
            continue  # a default left alone says nothing
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        parts.append(f"{name}={shown}")
    if cwd:
        parts.append(f"in {cwd}")
    return " ".join(parts)


def _bucket_middles() -> npt.NDArray[np.float64]:
    b = np.arange(NBUCKETS, dtype=np.float64)
    return ((2.0 ** (b / 4) - 1.0) + (2.0 ** ((b + 1) / 4) - 1.0)) / 2.0


_MIDDLES = _bucket_middles()


def _since_day(since: float | None) -> int | None:
    return None if since is None else int(since // DAY)


def _rollup_rows(roll: Rollup, since: float | None) -> npt.NDArray[np.bool_]:
    day = _since_day(since)
    return np.ones(len(roll.day), bool) if day is None else roll.day >= day


def _rollup_floor(roll: Rollup, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The shortest duration each of the roll-up's ``rows`` can hold: its longest when it
    has one run, else the lower end of its lowest histogram bucket."""
    hist = roll.hist[rows]
    lowest = np.argmax(hist > 0, axis=1)
    floor = 2.0 ** (lowest / 4) - 1.0
    return np.asarray(np.where(roll.runs[rows] == 1, roll.seconds_max[rows], floor), np.float64)


def _percentile(hist: npt.NDArray[np.int64], q: float) -> npt.NDArray[np.float64]:
    cum = hist.cumsum(axis=1)
    total = cum[:, -1] if cum.shape[1] else np.zeros(len(hist), np.int64)
    target = np.maximum(np.ceil(q * total), 1)
    index = np.argmax(cum >= target[:, None], axis=1)
    return np.asarray(_MIDDLES[index], np.float64)


class JobStats:
    """The statistics of one tracker's store (see the module). Thread-safe; each call
    refreshes from the store first unless given a ``refresh=False``."""

    def __init__(self, tracker: JobTracker, *, keep_columns: bool = True) -> None:
        """``keep_columns``: start from (and write) the columns kept beside a SQLite file
        (:mod:`.stats_snapshot`); False reads every finished job at the first refresh."""
        self._tracker = tracker
        store = tracker.store
        snapshot = (
            None  # a board's other instances write too: it is read at each start
            if store.memory or store.shared or not keep_columns
            else StatsSnapshot.beside(store.path, key_rule(tracker.registry))
        )
        self.data = StatsData(tracker.read_store, key_of(tracker.registry), snapshot)

    def save_if_due(self) -> bool:
        """Keep the columns read so far for the next start, when due (off the GUI thread;
        see :meth:`StatsData.save_if_due <.stats_data.StatsData.save_if_due>`)."""
        return self.data.save_if_due()

    # -- the views ------------------------------------------------------------------------------

    def report(self, period: Period | str, keys: int = KEYS_LISTED) -> StatsReport:
        """Every view of ``period`` at once (one refresh, one snapshot); the ``keys`` job
        keys with the most runs."""
        period = period if isinstance(period, Period) else Period.parse(period)
        cols, roll = self.data.refresh()
        now = self._tracker.now()
        since = self._since(period, now)
        by_type = self._groups(cols, roll, since, by_key=False)[0]
        by_key, keys_total = self._groups(cols, roll, since, by_key=True, limit=keys)
        return StatsReport(
            period=period,
            since=since,
            now=now,
            by_type=by_type,
            by_key=by_key,
            keys_total=keys_total,
            failures=self._failures(cols, roll, since, None),
            throughput=self._throughput(cols, roll, period, since, now),
            load=self._load(cols, since, now),
        )

    def by_type(self, period: Period | str, *, refresh: bool = True) -> list[GroupStats]:
        """Every job type with runs in ``period``, most runs first."""
        cols, roll, _period, since, _now = self._prepare(period, refresh)
        return self._groups(cols, roll, since, by_key=False)[0]

    def by_key(
        self, period: Period | str, limit: int = KEYS_LISTED, *, refresh: bool = True
    ) -> tuple[list[GroupStats], int]:
        """The ``limit`` job keys with the most runs in ``period`` (most first), and how
        many keys had runs."""
        cols, roll, _period, since, _now = self._prepare(period, refresh)
        return self._groups(cols, roll, since, by_key=True, limit=limit)

    def failures(
        self, period: Period | str, key: str | None = None, *, refresh: bool = True
    ) -> list[FailureGroup]:
        """Failures grouped by first line (of one key only, if given), most runs first."""
        cols, roll, _period, since, _now = self._prepare(period, refresh)
        return self._failures(cols, roll, since, key)

    def throughput(self, period: Period | str, *, refresh: bool = True) -> Throughput:
        cols, roll, p, since, now = self._prepare(period, refresh)
        return self._throughput(cols, roll, p, since, now)

    def load(self, period: Period | str, *, refresh: bool = True) -> Load:
        cols, _roll, _period, since, now = self._prepare(period, refresh)
        return self._load(cols, since, now)

    def trend(self, key: str, runs: int = 50, *, refresh: bool = True) -> KeyTrend:
        """The last ``runs`` stored runs of ``key`` (rolled-up runs have no single runs)."""
        cols, _roll = self.data.refresh() if refresh else self.data.snapshot()
        code = self.data.keys.find(key)
        if code is None or not len(cols) or runs <= 0:
            return KeyTrend(key, [], [], [])
        rows = np.flatnonzero(cols.key == code)[-runs:]
        return KeyTrend(
            key,
            cols.completed[rows].tolist(),
            cols.duration[rows].tolist(),
            [FINISHED[s] for s in cols.status[rows]],
        )

    # -- computing ------------------------------------------------------------------------------

    def _title(self, type_name: str) -> str:
        registry = self._tracker.registry
        job_type = registry.get(type_name) if registry is not None else None
        return job_type.title if job_type is not None and job_type.title else type_name

    def _prepare(
        self, period: Period | str, refresh: bool
    ) -> tuple[Columns, Rollup, Period, float | None, float]:
        period = period if isinstance(period, Period) else Period.parse(period)
        cols, roll = self.data.refresh() if refresh else self.data.snapshot()
        now = self._tracker.now()
        return cols, roll, period, self._since(period, now), now

    @staticmethod
    def _since(period: Period, now: float) -> float | None:
        seconds = period.seconds
        return None if seconds is None else now - seconds

    def _groups(
        self,
        cols: Columns,
        roll: Rollup,
        since: float | None,
        *,
        by_key: bool,
        limit: int | None = None,
    ) -> tuple[list[GroupStats], int]:
        """The groups with runs in the period, most runs first (at most ``limit``), and
        how many groups had runs."""
        data = self.data
        count = len(data.keys) if by_key else len(data.types)
        if count == 0:
            return [], 0
        rows = cols.since(since)
        group = (cols.key if by_key else cols.type)[rows]
        status = cols.status[rows]
        counts = np.bincount(group * 3 + status, minlength=count * 3).reshape(count, 3)
        if not by_key:
            roll = roll.per_type()
        taken = np.flatnonzero(_rollup_rows(roll, since))  # roll-up rows in the period
        rgroup = (roll.key if by_key else roll.type)[taken]
        np.add.at(counts, (rgroup, roll.status[taken]), roll.runs[taken])
        runs = counts.sum(axis=1)
        present = np.flatnonzero(runs)
        if limit is not None and len(present) > limit:
            present = present[np.argsort(-runs[present], kind="stable")[:limit]]
        k = len(present)
        position = np.full(count, -1, np.int64)
        position[present] = np.arange(k)
        # everything below is over the chosen groups only (k of them)
        mine = position[group]
        # (every group shown, as types usually are: the rows as they are, no copies)
        chosen: Any = slice(None) if k == count else np.flatnonzero(mine >= 0)
        mine, status = mine[chosen], status[chosen]
        done = np.flatnonzero(status == 0)
        done_mine = mine[done]
        done_seconds = cols.duration[rows][chosen][done]
        hist = np.bincount(
            done_mine * NBUCKETS + cols.bucket[rows][chosen][done], minlength=k * NBUCKETS
        ).reshape(k, NBUCKETS)
        seconds_sum = np.bincount(done_mine, weights=done_seconds, minlength=k)
        seconds_max = np.zeros(k)
        np.maximum.at(seconds_max, done_mine, done_seconds)
        seconds_min = np.full(k, np.inf)  # (a lower bound where roll-up rows count)
        np.minimum.at(seconds_min, done_mine, done_seconds)
        rss = cols.rss[rows][chosen]
        measured = np.flatnonzero(~np.isnan(rss))
        peak = np.full(k, -np.inf)
        np.maximum.at(peak, mine[measured], rss[measured])
        peak[np.isneginf(peak)] = np.nan
        cpu = cols.cpu[rows][chosen]
        known = ~np.isnan(cpu)
        cpu_sum = np.bincount(mine[known], weights=cpu[known], minlength=k)
        cpu_runs = np.bincount(mine[known], minlength=k)
        rolled = np.zeros(k, np.int64)
        rmine = position[rgroup]
        rchosen = rmine >= 0
        if rchosen.any():
            which = taken[rchosen]  # the chosen groups' roll-up rows (indexes)
            rmine = rmine[rchosen]
            np.add.at(rolled, rmine, roll.runs[which])
            rdone = roll.status[which] == 0
            which, rmine = which[rdone], rmine[rdone]
            np.add.at(hist, rmine, roll.hist[which])
            np.add.at(seconds_sum, rmine, roll.seconds_sum[which])
            np.maximum.at(seconds_max, rmine, roll.seconds_max[which])
            np.minimum.at(seconds_min, rmine, _rollup_floor(roll, which))
        # a histogram's estimate can fall outside the runs' range (one run of 120 s reads
        # 117 s): every percentile lies within [shortest, longest]
        p50 = np.clip(_percentile(hist, 0.5), np.minimum(seconds_min, seconds_max), seconds_max)
        p90 = np.clip(_percentile(hist, 0.9), np.minimum(seconds_min, seconds_max), seconds_max)
        out: list[GroupStats] = []
        for i, g in enumerate(present.tolist()):
            completed, failed, cancelled = (int(c) for c in counts[g])
            judged = completed + failed
            name = data.keys.texts[g] if by_key else data.types.texts[g]
            type_name = data.types.texts[data.key_type[g]] if by_key else name
            longest = float(seconds_max[i])
            title = self._title(type_name)
            out.append(
                GroupStats(
                    name=name,
                    type=type_name,
                    type_title=title,
                    label=key_label(name) if by_key else title,
                    runs=int(runs[g]),
                    completed=completed,
                    failed=failed,
                    cancelled=cancelled,
                    success_rate=completed / judged if judged else None,
                    p50_s=float(p50[i]) if completed else None,
                    p90_s=float(p90[i]) if completed else None,
                    mean_s=float(seconds_sum[i]) / completed if completed else None,
                    max_s=longest if completed else None,
                    peak_rss=None if math.isnan(peak[i]) else int(peak[i]),
                    cpu_mean_s=float(cpu_sum[i] / cpu_runs[i]) if cpu_runs[i] else None,
                    resource_runs=int(cpu_runs[i]),
                    rolled_up=int(rolled[i]),
                )
            )
        out.sort(key=lambda s: (-s.runs, s.name))
        return out, int(np.count_nonzero(runs))

    def _failures(
        self, cols: Columns, roll: Rollup, since: float | None, key: str | None
    ) -> list[FailureGroup]:
        data = self.data
        lines, types = len(data.lines), len(data.types)
        if not lines:
            return []
        rows = cols.since(since)
        failed = cols.line[rows] >= 0
        if key is not None:
            code = data.keys.find(key)
            failed &= cols.key[rows] == (-1 if code is None else code)
        line = cols.line[rows][failed]
        type_code = cols.type[rows][failed]
        pair = type_code * lines + line
        runs = np.bincount(pair, minlength=types * lines)
        last = np.full(types * lines, np.nan)
        np.fmax.at(last, pair, cols.completed[rows][failed])
        day = _since_day(since)
        ftake = np.ones(len(roll.fail_day), bool) if day is None else roll.fail_day >= day
        if key is not None:
            code = data.keys.find(key)
            ftake &= roll.fail_key == (-1 if code is None else code)
        np.add.at(
            runs, roll.fail_type[ftake] * lines + roll.fail_line[ftake], roll.fail_runs[ftake]
        )
        found = np.flatnonzero(runs)
        if len(found) > FAILURES_LISTED:  # those with as many runs as the last listed, or more
            least = np.partition(runs[found], len(found) - FAILURES_LISTED)[-FAILURES_LISTED]
            found = found[runs[found] >= least]
        counted = runs[found].tolist()
        # most runs first, then by type and line (not by code: codes differ between starts)
        order = [
            p
            for _n, _t, _l, p in sorted(
                (-n, data.types.texts[p // lines], data.lines.texts[p % lines], p)
                for n, p in zip(counted, found.tolist(), strict=True)
            )[:FAILURES_LISTED]
        ]
        return [
            FailureGroup(
                first_line=data.lines.texts[p % lines],
                type=data.types.texts[p // lines],
                runs=int(runs[p]),
                last_ts=None if math.isnan(last[p]) else float(last[p]),
            )
            for p in order
        ]

    def _start(self, cols: Columns, roll: Rollup, since: float | None, now: float) -> float:
        """Where a chart of ``since`` starts: ``since``, or for all time the oldest end."""
        if since is not None:
            return since
        firsts = [now - DAY]
        if len(cols):
            firsts.append(float(cols.completed[0]))
        if len(roll.day):
            firsts.append(float(roll.day.min() * DAY))
        return min(firsts)

    def _throughput(
        self, cols: Columns, roll: Rollup, period: Period, since: float | None, now: float
    ) -> Throughput:
        width = period.bucket_s
        first = math.floor(self._start(cols, roll, since, now) / width) * width
        count = max(1, math.ceil((now - first) / width))
        rows = cols.since(first)
        index = np.minimum(((cols.completed[rows] - first) // width).astype(np.int64), count - 1)
        by_status = np.bincount(index * 3 + cols.status[rows], minlength=count * 3).reshape(
            count, 3
        )
        take = _rollup_rows(roll, since)
        if take.any():
            rindex = np.clip((roll.day[take] * DAY - first) // width, 0, count - 1)
            np.add.at(by_status, (rindex.astype(np.int64), roll.status[take]), roll.runs[take])
        return Throughput(
            bucket_s=width,
            starts=[first + i * width for i in range(count)],
            completed=by_status[:, 0].tolist(),
            failed=by_status[:, 1].tolist(),
            cancelled=by_status[:, 2].tolist(),
        )

    def _load(self, cols: Columns, since: float | None, now: float) -> Load:
        first = self._start(cols, Rollup(), since, now)
        step = max((now - first) / (LOAD_SAMPLES - 1), 1e-6)
        times = first + step * np.arange(LOAD_SAMPLES)
        finished_queued, finished_running = cols.occupancy()
        active = self._tracker.active_jobs()
        a_created = np.array([j.created_ts for j in active], np.float64)
        a_started = np.array(
            [j.started_ts if j.started_ts is not None else np.inf for j in active], np.float64
        )
        a_ran = np.isfinite(a_started)
        never = np.full(int(a_ran.sum()), np.inf)
        queued = finished_queued.peaks(
            first, step, LOAD_SAMPLES, Occupancy.of(a_created, a_started)
        )
        running = finished_running.peaks(
            first, step, LOAD_SAMPLES, Occupancy.of(a_started[a_ran], never)
        )
        return Load(times.tolist(), queued.tolist(), running.tolist())
