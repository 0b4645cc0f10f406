"""Each job's timeline: its progress over time and, for a program, its RSS and CPU.

A :class:`Timeline` keeps at most ``max_points`` points (:data:`MAX_POINTS`) however long
a job runs: when it is full, neighbouring points are merged in pairs (a merged point has
the later time and the larger of each value, so a peak of memory is never lost and
progress, which only grows, keeps its latest value). Adding a point costs O(1) amortised.

Stored with the job in ``job_timelines`` (:data:`TIMELINE_MIGRATION`: one row per job,
the progress and the resources as compact JSON); written in batches by the tracker's
progress pump and at the job's end, never per progress update (see
:mod:`.progress_pump`). The SQL is plain, with ``?`` placeholders and ``ON CONFLICT``, so
the PostgreSQL board runs it too. No Qt.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_POINTS",
    "TIMELINE_MIGRATION",
    "JobTimeline",
    "Timeline",
    "load_timeline",
    "save_progress_timelines",
    "save_resource_timeline",
]

#: Points kept per timeline (per job, per kind).
MAX_POINTS = 200

#: Schema migration 7: the timelines of jobs (idempotent, like the roll-up's; deleted with
#: their job by cascade; on a PostgreSQL board translated by :mod:`.pg_schema`).
TIMELINE_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS job_timelines (
        job_id TEXT PRIMARY KEY NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        progress TEXT NOT NULL DEFAULT '[]',
        resources TEXT NOT NULL DEFAULT '[]'
    )""",
)

Point = tuple[float, ...]


class Timeline:
    """Points ``(time, value, ...)`` in time order, at most ``max_points`` (see the module).
    Not thread-safe."""

    __slots__ = ("max_points", "points")

    def __init__(self, points: Iterable[Sequence[float]] = (), max_points: int = MAX_POINTS):
        if max_points < 2:
            raise ValueError(f"a timeline keeps at least 2 points, got max_points={max_points}")
        self.max_points = max_points
        self.points: list[Point] = []
        for point in points:
            self.add(*point)

    def __len__(self) -> int:
        return len(self.points)

    def add(self, t: float, *values: float) -> None:
        """A point at time ``t``; a point no later than the last replaces nothing: it is
        merged into the last one. Non-finite values are refused (ValueError)."""
        point = (float(t), *(float(v) for v in values))
        if not all(math.isfinite(v) for v in point):
            raise ValueError(f"a timeline point must be finite numbers, got {point!r}")
        points = self.points
        if points and point[0] <= points[-1][0]:
            points[-1] = _merge(points[-1], point)
            return
        points.append(point)
        if len(points) > self.max_points:
            self._halve()

    def _halve(self) -> None:
        """Merge neighbours in pairs, the first point kept as it is (the start stays)."""
        points = self.points
        merged = [points[0]]
        rest = points[1:]
        for i in range(0, len(rest) - 1, 2):
            merged.append(_merge(rest[i], rest[i + 1]))
        if len(rest) % 2:
            merged.append(rest[-1])
        self.points = merged

    def to_json(self) -> str:
        return json.dumps([[round(v, 3) for v in p] for p in self.points], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None, max_points: int = MAX_POINTS) -> Timeline:
        """The timeline stored as ``text``; an unreadable one is empty (nothing to plot)."""
        try:
            raw = json.loads(text or "[]")
            return cls((tuple(p) for p in raw), max_points)
        except (ValueError, TypeError):
            return cls(max_points=max_points)


def _merge(a: Point, b: Point) -> Point:
    return (max(a[0], b[0]), *(max(x, y) for x, y in zip(a[1:], b[1:], strict=False)))


@dataclass(frozen=True, slots=True)
class JobTimeline:
    """One job's timeline: ``progress`` points ``(time, current, total)`` and, for a
    program, ``resources`` points ``(time, rss bytes, cpu seconds)``; times are epoch
    seconds of the tracker's clock."""

    progress: tuple[Point, ...] = ()
    resources: tuple[Point, ...] = ()


_SAVE_PROGRESS = (
    "INSERT INTO job_timelines (job_id, progress) VALUES (?, ?) "
    "ON CONFLICT (job_id) DO UPDATE SET progress = excluded.progress"
)
_SAVE_RESOURCES = (
    "INSERT INTO job_timelines (job_id, resources) VALUES (?, ?) "
    "ON CONFLICT (job_id) DO UPDATE SET resources = excluded.resources"
)


def save_progress_timelines(conn: sqlite3.Connection, rows: Iterable[tuple[str, Timeline]]) -> None:
    """Store the progress timelines of some jobs (job id, timeline), in one statement."""
    conn.executemany(_SAVE_PROGRESS, [(job_id, t.to_json()) for job_id, t in rows])


def save_resource_timeline(conn: sqlite3.Connection, job_id: str, timeline: Timeline) -> None:
    conn.execute(_SAVE_RESOURCES, (job_id, timeline.to_json()))


def load_timeline(conn: sqlite3.Connection, job_id: str) -> JobTimeline:
    """The stored timeline of ``job_id`` (empty when it has none)."""
    row = conn.execute(
        "SELECT progress, resources FROM job_timelines WHERE job_id = ?", (job_id,)
    ).fetchone()
    if row is None:
        return JobTimeline()
    return JobTimeline(
        tuple(Timeline.from_json(row[0]).points), tuple(Timeline.from_json(row[1]).points)
    )
