"""The store before it is open: :class:`UnopenedStore`, a :class:`JobSource` with no jobs.

The desktop app paints its window before it opens the store (importing and opening it takes
longer than the window's first paint); until then the window's widgets read from this, which
has no jobs and refuses to change any (:class:`~jobdeck.core.store_errors.StoreNotOpen`).
The app then gives them the real tracker (``MainWindow.attach``). No Qt.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .filters import JobFilter
from .history_order import HistorySort, SortKey
from .job_status import JobStatus
from .read_stop import ReadStop
from .store_errors import StoreNotOpen

if TYPE_CHECKING:
    from .events import LogEntry
    from .job import Job

__all__ = ["UnopenedStore"]


class UnopenedStore:
    """A :class:`~jobdeck.core.job_source.JobSource` of a store not opened yet: it is
    ``closed``, reads find nothing, and queueing, cancelling or running a job again raise
    :class:`StoreNotOpen`."""

    closed = True

    def now(self) -> float:
        return time.time()

    def get_job(self, job_id: str) -> Job | None:
        return None

    def list_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]:
        return []

    def history_page(
        self,
        where: JobFilter,
        sort: HistorySort = HistorySort.CREATED,
        descending: bool = True,
        after: SortKey | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        stop: ReadStop | None = None,
    ) -> list[tuple[Job, SortKey]]:
        return []

    def count_jobs_before(
        self, where: JobFilter, sort: HistorySort, descending: bool, key: SortKey
    ) -> int:
        return 0

    def count_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        *,
        stop: ReadStop | None = None,
    ) -> int:
        return 0

    def counts_by_type(self) -> dict[str, dict[str, int]]:
        return {}

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]:
        return []

    def enqueue(
        self, type: str, params: Mapping[str, Any] | None = None, *, title: str | None = None
    ) -> Job:
        raise StoreNotOpen("the job store is still being opened")

    def cancel_job(self, job_id: str) -> bool:
        raise StoreNotOpen("the job store is still being opened")

    def rerun(self, job_id: str) -> Job:
        raise StoreNotOpen("the job store is still being opened")

    def runs_on(self, job_id: str) -> str | None:
        return None
