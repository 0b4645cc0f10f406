"""What widgets, the API and the CLI ask of the tracker: the :class:`JobSource` Protocol.

:class:`~jobdeck.core.tracker.JobTracker` is the real one; tests use small fakes. Typing a
widget's ``tracker`` parameter as a ``JobSource`` says what the widget may do with it — read
jobs and logs, queue, cancel and rerun — and lets the type checker hold both sides to it.
No Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .filters import JobFilter
from .history_order import HistorySort, SortKey
from .job_status import JobStatus
from .read_stop import ReadStop

if TYPE_CHECKING:
    from .events import LogEntry  # (the log's entries: with the store, not the first window)
    from .job import Job

__all__ = ["JobSource"]


class JobSource(Protocol):
    """Reading, queueing and cancelling jobs (see the module)."""

    def now(self) -> float:
        """The current time (epoch seconds), as the tracker's clock says."""
        ...

    @property
    def closed(self) -> bool: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]: ...

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
    ) -> list[tuple[Job, SortKey]]: ...

    def count_jobs_before(
        self, where: JobFilter, sort: HistorySort, descending: bool, key: SortKey
    ) -> int: ...

    def count_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | Iterable[str] | None = None,
        search: str | None = None,
        *,
        stop: ReadStop | None = None,
    ) -> int: ...

    def counts_by_type(self) -> dict[str, dict[str, int]]: ...

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]: ...

    def enqueue(
        self, type: str, params: Mapping[str, Any] | None = None, *, title: str | None = None
    ) -> Job: ...

    def cancel_job(self, job_id: str) -> bool: ...

    def rerun(self, job_id: str) -> Job: ...

    def runs_on(self, job_id: str) -> str | None:
        """The app instance on a shared board that runs (or last ran) the job; None on a
        store with one instance (a SQLite file)."""
        ...
