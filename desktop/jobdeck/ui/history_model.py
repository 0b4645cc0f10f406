"""A lazy table model of the job history, read through the tracker page by page.

Nothing is counted or loaded up front: the view asks for rows with ``fetchMore`` and the
model reads ``page_size`` jobs at a time with ``tracker.list_jobs(before=<oldest id>)``,
so a history of a million jobs opens as fast as an empty one.

Sorting:

* by the *Started* column (creation order: job ids sort by creation time), descending,
  is the natural order and fully lazy;
* by the *Started* column ascending: when at most ``FULL_SORT_LIMIT`` jobs match the
  filter, all of them are loaded and reversed; with more, the rows loaded so far are sorted
  (and re-sorted as more pages load);
* by any other column: the rows loaded so far are sorted in memory, and re-sorted as more
  pages load. Live updates change rows in place; they do not move rows.

Filtering (status, type, text) re-queries the tracker. New jobs (``jobsAdded``) that match
the filter are inserted at their sorted place (the top in the natural order); changes
(``jobsChanged``) update only the rows concerned (``dataChanged``, no reset, so the view
keeps its selection); a job that stops matching the filter is removed. A live update is
judged by the same :class:`~jobdeck.core.filters.JobFilter` that the tracker's query uses,
so a live view shows what a reload would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor

from ..core.filters import JobFilter
from ..core.job import Job, JobStatus
from ..core.job_source import JobSource
from ..i18n import translate
from ..runtime.feed import JobFeed
from . import icons
from .formatting import (
    EM_DASH,
    QT_TRANSLATE_NOOP,
    error_summary,
    format_duration,
    format_local_time,
    format_percent,
    status_text,
)
from .job_warnings import JobWarnings

__all__ = [
    "ACTIVE_STATUSES",
    "FULL_SORT_LIMIT",
    "PAGE_SIZE",
    "Column",
    "HistoryModel",
    "JobRole",
]

#: Item data role that returns the row's :class:`Job`.
JobRole = int(Qt.ItemDataRole.UserRole) + 1
PAGE_SIZE = 200
#: Sorting by creation ascending loads every matching job when there are at most this many.
FULL_SORT_LIMIT = 20_000

_Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    STATUS = 0
    TITLE = 1
    TYPE = 2
    PROGRESS = 3
    STARTED = 4
    DURATION = 5
    MESSAGE = 6


HEADERS = {
    Column.STATUS: QT_TRANSLATE_NOOP("HistoryModel", "Status"),
    Column.TITLE: QT_TRANSLATE_NOOP("HistoryModel", "Title"),
    Column.TYPE: QT_TRANSLATE_NOOP("HistoryModel", "Type"),
    Column.PROGRESS: QT_TRANSLATE_NOOP("HistoryModel", "Progress"),
    Column.STARTED: QT_TRANSLATE_NOOP("HistoryModel", "Started"),
    Column.DURATION: QT_TRANSLATE_NOOP("HistoryModel", "Duration"),
    Column.MESSAGE: QT_TRANSLATE_NOOP("HistoryModel", "Message"),
}


def status_cell(status: JobStatus, cancelling: bool = False) -> str:
    """The Status column's text: ``Running``, or ``Running (cancelling)`` while a cancel is
    on its way."""
    text = status_text(status)
    if cancelling:
        return translate("HistoryModel", "{status} (cancelling)").format(status=text)
    return text


FAILED_COLOR = QColor("#d64545")
#: A running job's warning (stalled, slower than usual): the taskbar badge's colour.
WARNING_COLOR = QColor("#c77700")


#: What the history's status filter offers besides single statuses.
ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


def message_of(job: Job) -> str:
    """The text of the Message column: for a failed job its error's first line (never a
    traceback), for a cancelled one that it was cancelled, else the progress message. A
    stopped job never shows its last live message, which may be a stale ETA."""
    if job.status is JobStatus.FAILED:
        return error_summary(job.error) or status_text(JobStatus.FAILED)
    if job.status is JobStatus.CANCELLED:
        message = job.progress.message
        return message if "cancel" in message.lower() else status_text(JobStatus.CANCELLED)
    return job.progress.message


def _sort_key(column: Column, now: float) -> Callable[[Job], Any]:
    def duration(job: Job) -> float:
        elapsed = job.elapsed(now)
        return -1.0 if elapsed is None else elapsed.total_seconds()

    keys: dict[Column, Callable[[Job], Any]] = {
        Column.STATUS: lambda j: (j.status.value, j.id),
        Column.TITLE: lambda j: (j.title.casefold(), j.id),
        Column.TYPE: lambda j: (j.type, j.id),
        Column.PROGRESS: lambda j: (
            -1.0 if j.progress.percent is None else j.progress.percent,
            j.id,
        ),
        Column.STARTED: lambda j: j.id,
        Column.DURATION: lambda j: (duration(j), j.id),
        Column.MESSAGE: lambda j: (message_of(j).casefold(), j.id),
    }
    return keys[column]


class HistoryModel(QAbstractTableModel):
    """Jobs from the tracker, newest first, loaded lazily; see the module docstring.

    ``signals`` (a JobSignals, optional) feeds live updates. ``warnings`` (optional) says
    which running jobs are stalled or slower than usual: their Status cell says so
    ("Running: stalled — no progress for 12 min"). All methods run on the GUI thread.
    ``JobRole`` returns the :class:`Job` of a row.
    """

    def __init__(
        self,
        tracker: JobSource,
        signals: JobFeed | None = None,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
        warnings: JobWarnings | None = None,
    ) -> None:
        super().__init__(parent)
        self._warnings = warnings
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        self._tracker = tracker
        self.page_size = page_size
        self._rows: list[Job] = []
        self._index: dict[str, int] = {}
        self._oldest_id: str | None = None
        self._exhausted = False
        self._filter = JobFilter()
        self._sort_column = Column.STARTED
        self._sort_order = Qt.SortOrder.DescendingOrder
        self.pages_loaded = 0
        if signals is not None:
            signals.jobsAdded.connect(self._on_jobs_added)
            signals.jobsChanged.connect(self._on_jobs_changed)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick_running_durations)
        self._clock.start()

    # --- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return translate("HistoryModel", HEADERS[Column(section)])
            if role == Qt.ItemDataRole.ToolTipRole and section == Column.STARTED:
                return translate(
                    "HistoryModel", "Start time (sorting by this column sorts by creation order)"
                )
        return super().headerData(section, orientation, role)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        job = self._rows[index.row()]
        if role == JobRole:
            return job
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATUS:
            return icons.status_icon(job.status.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, column)
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.MESSAGE:
            return FAILED_COLOR if job.status is JobStatus.FAILED else None
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.STATUS:
            return WARNING_COLOR if self.warning(job) else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            Column.PROGRESS,
            Column.DURATION,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, job: Job, column: Column) -> str:
        if column is Column.STATUS:
            text = status_cell(job.status, job.cancel_requested and job.status.active)
            warning = self.warning(job)
            return f"{text}: {warning}" if warning else text
        if column is Column.TITLE:
            return job.title
        if column is Column.TYPE:
            return job.type
        if column is Column.PROGRESS:
            if job.status is JobStatus.COMPLETED and job.progress.percent is None:
                return EM_DASH
            return format_percent(job.progress.percent)
        if column is Column.STARTED:
            return format_local_time(job.started_ts, self._tracker.now())
        if column is Column.DURATION:
            return format_duration(job.elapsed(self._tracker.now()))
        return " ".join(message_of(job).split())

    def _tooltip(self, job: Job, column: Column) -> str | None:
        if column is Column.STARTED:
            created = datetime.fromtimestamp(job.created_ts).strftime("%Y-%m-%d %H:%M:%S")
            started = format_local_time(job.started_ts)
            return translate("HistoryModel", "Created {created}\nStarted {started}").format(
                created=created, started=started
            )
        if column is Column.MESSAGE:
            return message_of(job) or None
        if column is Column.TITLE:
            return f"{job.title}\n{job.id}"
        if column is Column.STATUS and job.error is not None:
            return error_summary(job.error)
        if column is Column.STATUS:
            return self.warning(job)
        return None

    def warning(self, job: Job) -> str | None:
        """A running job's warning (stalled, slower than usual), or None."""
        if self._warnings is None or job.status is not JobStatus.RUNNING:
            return None
        return self._warnings.warning(job, self._tracker.now())

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        if getattr(self._tracker, "closed", False):
            return False  # the app is shutting down: nothing more to read
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        page = self._tracker.list_jobs(
            **self._filter.query(), limit=self.page_size, before=self._oldest_id
        )
        self.pages_loaded += 1
        if len(page) < self.page_size:
            self._exhausted = True
        fresh = [j for j in page if j.id not in self._index]
        if page:
            self._oldest_id = min(page[-1].id, self._oldest_id or page[-1].id)
        if not fresh:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._rows.extend(fresh)
        self._reindex()
        self.endInsertRows()
        if not self._natural_order():
            self._resort()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        col = Column(column)
        if (col, order) == (self._sort_column, self._sort_order):
            return
        self._sort_column, self._sort_order = col, order
        if self._natural_order():
            self._reload()
            return
        oldest_first = col is Column.STARTED and order == Qt.SortOrder.AscendingOrder
        if oldest_first and self._tracker.count_jobs(**self._filter.query()) <= FULL_SORT_LIMIT:
            self.beginResetModel()
            while not self._exhausted:
                self._load_page_silently()
            self._rows.sort(key=lambda j: j.id)
            self._reindex()
            self.endResetModel()
            return
        self._resort()

    # --- public helpers --------------------------------------------------------------------

    @property
    def filter(self) -> JobFilter:
        return self._filter

    def sort_state(self) -> tuple[Column, Qt.SortOrder]:
        return self._sort_column, self._sort_order

    def set_filter(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        type: str | None = None,
        search: str | None = None,
    ) -> None:
        """Show only jobs with one of ``status``, of ``type``, whose title, type, message or
        error contains ``search``."""
        new = JobFilter.of(status, type or None, (search or "").strip() or None)
        if new == self._filter:
            return
        self._filter = new
        self._reload()

    def job_at(self, row: int) -> Job:
        return self._rows[row]

    def row_of(self, job_id: str) -> int | None:
        """The row showing ``job_id`` if it is loaded."""
        return self._index.get(job_id)

    def loaded_count(self) -> int:
        return len(self._rows)

    def ensure_loaded(self, job_id: str, max_pages: int = 50) -> int | None:
        """Fetch pages until ``job_id`` is loaded (at most ``max_pages``); its row or None."""
        for _ in range(max_pages):
            row = self._index.get(job_id)
            if row is not None or not self.canFetchMore():
                return row
            if self._oldest_id is not None and job_id > self._oldest_id:
                return None  # newer than what is loaded yet not here: it does not match
            self.fetchMore()
        return self._index.get(job_id)

    def set_ticking(self, ticking: bool) -> None:
        """Tick running jobs' durations once a second, or not (its view is hidden: nothing
        wakes up in the tray). Ticking again brings the durations up to date at once."""
        if ticking and not self._clock.isActive():
            self._tick_running_durations()
            self._clock.start()
        elif not ticking:
            self._clock.stop()

    def refresh(self) -> None:
        """Drop everything loaded and start over (e.g. after the store was pruned)."""
        self._reload()

    def include(self, job: Job) -> int | None:
        """Show ``job`` now if it matches the filter (e.g. a job just queued, before the
        batched ``jobsAdded`` brings it): its row, or None when the filter hides it."""
        if job.id in self._index:
            self._update(job)
            return self._index.get(job.id)
        if not self._filter.matches(job):
            return None
        self._insert(job)
        return self._index[job.id]

    # --- internals -------------------------------------------------------------------------

    def _natural_order(self) -> bool:
        return (
            self._sort_column is Column.STARTED and self._sort_order == Qt.SortOrder.DescendingOrder
        )

    def _reindex(self) -> None:
        self._index = {job.id: i for i, job in enumerate(self._rows)}

    def _reload(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._index = {}
        self._oldest_id = None
        self._exhausted = False
        self.endResetModel()

    def _load_page_silently(self) -> None:
        page = self._tracker.list_jobs(
            **self._filter.query(), limit=self.page_size, before=self._oldest_id
        )
        self.pages_loaded += 1
        if len(page) < self.page_size:
            self._exhausted = True
        if page:
            self._oldest_id = min(page[-1].id, self._oldest_id or page[-1].id)
        for job in page:
            if job.id not in self._index:
                self._index[job.id] = len(self._rows)
                self._rows.append(job)

    def _key(self) -> Callable[[Job], Any]:
        return _sort_key(self._sort_column, self._tracker.now())

    def _resort(self) -> None:
        if len(self._rows) < 2:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        ids = [self._rows[i.row()].id if i.isValid() else None for i in persistent]
        self._rows.sort(key=self._key(), reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        self._reindex()
        moved = [
            self.index(self._index[job_id], old.column()) if job_id is not None else QModelIndex()
            for old, job_id in zip(persistent, ids, strict=True)
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _position_for(self, job: Job) -> int:
        if self._natural_order():
            # ids descending: the first row older than the job
            for i, row in enumerate(self._rows):
                if row.id < job.id:
                    return i
            return len(self._rows)
        key = self._key()
        k = key(job)
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        for i, row in enumerate(self._rows):
            rk = key(row)
            if (rk < k) if descending else (rk > k):
                return i
        return len(self._rows)

    def _insert(self, job: Job) -> None:
        row = self._position_for(job)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, job)
        self._reindex()
        self.endInsertRows()

    def _could_be_loaded(self, job: Job) -> bool:
        # A job belongs among the loaded rows if everything was loaded, or it is newer than
        # the oldest loaded job (older ones will arrive with a later page).
        return self._exhausted or (self._oldest_id is not None and job.id > self._oldest_id)

    def _on_jobs_added(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.id in self._index:
                self._update(job)
            elif self._filter.matches(job) and self._could_be_loaded(job):
                self._insert(job)

    def _on_jobs_changed(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.id in self._index:
                self._update(job)
            elif self._filter.matches(job) and self._could_be_loaded(job):
                self._insert(job)

    def _update(self, job: Job) -> None:
        row = self._index[job.id]
        if not self._filter.matches(job):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self._reindex()
            self.endRemoveRows()
            return
        self._rows[row] = job
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def _tick_running_durations(self) -> None:
        columns = (
            (Column.DURATION, Column.STATUS) if self._warnings is not None else (Column.DURATION,)
        )
        for row, job in enumerate(self._rows):
            if job.status is JobStatus.RUNNING:
                for column in columns:
                    idx = self.index(row, column)
                    self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DisplayRole])

    def refresh_warnings(self) -> None:
        """Repaint the Status cells of the running jobs (a job stalled or came back)."""
        for row, job in enumerate(self._rows):
            if job.status is JobStatus.RUNNING:
                idx = self.index(row, Column.STATUS)
                self.dataChanged.emit(idx, idx)
