"""The orders a job listing can be sorted in, one definition for SQL and for memory.

Each :class:`HistorySort` is an SQL expression over a ``jobs`` row that an index of the
store covers (with the job id as the tie-breaker, so every order is total), and a Python
function that computes the same key from a :class:`~jobdeck.core.job.Job` in memory. The
store pages through an order with *keyset* queries (``WHERE key < last key ORDER BY key
LIMIT n``), whose cost does not depend on how deep the page is; the history model places a
live job among the rows it holds with the same key. No Qt.

The keys, and where they differ from what the history shows:

* ``CREATED``: the job id (ids sort by creation time);
* ``STATUS``, ``TYPE``: the stored text;
* ``TITLE``: the title's first :data:`~.history_schema.SORT_PREFIX` characters, ASCII
  letters in any case (SQLite's ``NOCASE``);
* ``PROGRESS``: current / total; -1 while the total is unknown;
* ``DURATION``: completed - started of a finished job; -1 for a job still pending or
  running (its duration grows: an index cannot hold it);
* ``MESSAGE``: a failed job's error, any other job's progress message (the first
  ``SORT_PREFIX`` characters, ``NOCASE``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .history_schema import SORT_PREFIX
from .job_status import JobStatus

if TYPE_CHECKING:
    from .job import Job


__all__ = ["HistorySort", "SortKey", "sort_key"]

#: A row's position in an order: (key, id), or (id,) for ``CREATED``.
SortKey = tuple[Any, ...]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _nocase(text: str) -> str:
    """The start of the text the sort looks at, as SQLite's NOCASE collation compares it
    (ASCII letters folded)."""
    return text[:SORT_PREFIX].translate(_ASCII_LOWER)


class HistorySort(enum.Enum):
    """An order of the job history (see the module). ``value`` is the SQL key expression
    (``None``: the id alone); the schema's sort indexes use these very expressions."""

    CREATED = None
    STATUS = "status"
    TITLE = f"substr(title, 1, {SORT_PREFIX}) COLLATE NOCASE"
    TYPE = "type"
    PROGRESS = "(CASE WHEN progress_total > 0 THEN progress_current / progress_total ELSE -1.0 END)"
    DURATION = "coalesce(completed_ts - started_ts, -1.0)"
    MESSAGE = (
        "substr(CASE WHEN status = 'failed' THEN coalesce(error, '') ELSE progress_message END, "
        f"1, {SORT_PREFIX}) COLLATE NOCASE"
    )

    @property
    def sql(self) -> str | None:
        return self.value


def _progress(job: Job) -> float:
    p = job.progress
    return p.current / p.total if p.total > 0 else -1.0


def _duration(job: Job) -> float:
    if job.completed_ts is None or job.started_ts is None:
        return -1.0
    return job.completed_ts - job.started_ts


def _message(job: Job) -> str:
    if job.status is JobStatus.FAILED:
        return _nocase(job.error.message if job.error is not None else "")
    return _nocase(job.progress.message)


_KEYS: dict[HistorySort, Callable[[Job], Any]] = {
    HistorySort.STATUS: lambda j: j.status.value,
    HistorySort.TITLE: lambda j: _nocase(j.title),
    HistorySort.TYPE: lambda j: j.type,
    HistorySort.PROGRESS: _progress,
    HistorySort.DURATION: _duration,
    HistorySort.MESSAGE: _message,
}


def sort_key(sort: HistorySort, job: Job) -> SortKey:
    """``job``'s position in ``sort``, as the store's ORDER BY sees it."""
    if sort is HistorySort.CREATED:
        return (job.id,)
    return (_KEYS[sort](job), job.id)
