"""The job history as a windowed table model: any row of a million in the same few ms.

The model never holds the history. It counts the jobs that pass the filter (the store
keeps counts per status and type, so that is a few rows of SQL) and holds a *window* of at
most ``window_rows`` rows around what the view shows. A row outside the window is read
when the view asks for it: next to the window, by a keyset page from the window's edge
(``tracker.history_page(after=<edge key>)``, over the index of the sort order); farther
away, by a fresh window at that position (an ``offset`` walk of the order's index, without
reading the skipped rows). So a page costs the same at row 0 and at row 999,999, the
memory stays flat wherever the view is, and jumping to the end reads one page from the
other end.

Sorting by any column is the store's sorting, over an index per order (see
:mod:`~jobdeck.core.history_order`: the keys, and where they differ from the text shown).
Sorting resets the view to the top of the new order.

Filtering (status, type, text) counts again and starts a new window. Live updates come from
the feed (``jobsAdded``, ``jobsChanged``) and never reload: a changed job's row is updated
in place (``dataChanged``, so the view keeps its selection; rows do not move while shown),
a new or newly matching job is inserted at its place in the order (the top in the natural
order), and a job that stops matching is removed. A live update is judged by the same
:class:`~jobdeck.core.filters.JobFilter` that the store's query uses, so a live view shows
what a reload would. Running durations are refreshed once a second, only while the window
holds a running job and while the view is shown (:meth:`HistoryModel.set_ticking`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from ..core.filters import JobFilter
from ..core.history_order import HistorySort, SortKey, sort_key
from ..core.job_source import JobSource
from ..core.job_status import JobStatus
from ..core.kept_threads import BACKGROUND_NICE, KeptThreads
from ..core.read_stop import ReadStop, ReadStopped
from ..core.store_errors import StoreError
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
    starts_text,
    status_text,
    where_text,
)

if TYPE_CHECKING:
    from ..core.job import Job
    from .job_warnings import JobWarnings  # (the app makes them once the store is open)

__all__ = [
    "ACTIVE_STATUSES",
    "PAGE_SIZE",
    "SORT_OF_COLUMN",
    "WINDOW_ROWS",
    "Column",
    "HistoryModel",
    "JobRole",
]

log = logging.getLogger(__name__)

#: Item data role that returns the row's :class:`Job`.
JobRole = int(Qt.ItemDataRole.UserRole) + 1
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_HORIZONTAL = Qt.Orientation.Horizontal
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
#: Rows read at a time, by a fresh window around a row (mostly after it) and by each page
#: added at the window's edge: about four screens.
PAGE_SIZE = 100
#: The most rows held in memory (about 1 KB each).
WINDOW_ROWS = 2_000
#: The most rows a text search reads before it shows (a tall screenful; the rows after
#: them are read as the view scrolls to them, as any page): what the first paint waits for
#: is reading them, ~0.1 ms each on a busy machine, and more while the GUI thread is busy
#: (the reading thread waits for the interpreter lock after each row).
SEARCH_FIRST_ROWS = 50
#: The rows a search reads first beyond those its view shows, when the view says how many
#: it shows (:meth:`HistoryModel.set_rows_shown`).
SEARCH_EXTRA_ROWS = 5
#: A search's count starts once its first rows are painted, or this long after they came
#: when no view paints them (ms).
COUNT_AFTER_MS = 50

_Index = QModelIndex | QPersistentModelIndex
#: Where searches are read (typed on: a few may be under way) and counted (below the GUI
#: thread's CPU priority: a common text's count takes a while), for every model.
_SEARCH_READS = KeptThreads("history-search", most=3)
_SEARCH_COUNTS = KeptThreads("history-count", most=2, nice=BACKGROUND_NICE)


class Column(IntEnum):
    STATUS = 0
    TITLE = 1
    TYPE = 2
    PROGRESS = 3
    STARTED = 4
    DURATION = 5
    MESSAGE = 6


_COLUMNS = tuple(Column)
_COLUMN_COUNT = len(_COLUMNS)
_STATUS = int(Column.STATUS)
_STARTED = int(Column.STARTED)
_MESSAGE = int(Column.MESSAGE)
#: The columns whose text is aligned right.
_RIGHT_COLUMNS = frozenset({int(Column.PROGRESS), int(Column.DURATION)})

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
    """The Status column's text: ``Running``, or ``Cancelling…`` while a cancel is on its
    way to an active job (it was "Running (cancelling)", whose width the column kept for
    every row: the titles beside it were cut short at 1280x800)."""
    if cancelling:
        return translate("HistoryModel", "Cancelling\u2026")
    return status_text(status)


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
    if job.status is JobStatus.PENDING and not job.progress.message and job.run_at_ts:
        now = time.time()
        if job.run_at_ts > now:  # queued to start later: when
            return starts_text(job, now)
    return job.progress.message


#: The store's order behind each column.
SORT_OF_COLUMN = {
    Column.STATUS: HistorySort.STATUS,
    Column.TITLE: HistorySort.TITLE,
    Column.TYPE: HistorySort.TYPE,
    Column.PROGRESS: HistorySort.PROGRESS,
    Column.STARTED: HistorySort.CREATED,
    Column.DURATION: HistorySort.DURATION,
    Column.MESSAGE: HistorySort.MESSAGE,
}


class _SearchResults(QObject):
    """Carries a text search's first rows, then its count (``counted``), and the count of a
    search checked again (``recounted``), from their worker threads to the GUI thread;
    ``generation`` is the model's filter generation (a task whose generation it no longer
    is was superseded)."""

    generation = 0

    ready = Signal(object)
    counted = Signal(object)
    recounted = Signal(object)


class HistoryModel(QAbstractTableModel):
    """The job history as a windowed table; see the module docstring.

    ``signals`` (a JobFeed, optional) feeds live updates. ``warnings`` (optional) says
    which running jobs are stalled or slower than usual: their Status cell says so
    ("Running: stalled — no progress for 12 min"). All methods run on the GUI
    thread. ``JobRole`` returns the :class:`Job` of a row. Emits the usual model signals;
    ``rowsInserted`` at the top for a new job in the natural order.

    A filter with a text search has its first rows read, then its matches counted, on
    threads kept for that (:mod:`~jobdeck.core.kept_threads`; the count below the GUI
    thread's CPU priority, once the first rows are painted, or :data:`COUNT_AFTER_MS`
    after they came when nothing paints them): until they are in, the rows of the previous
    filter stay (and :attr:`search_pending` is True); they show as soon as they are in, and
    the rows after them are added once counted (:attr:`search_counting` meanwhile), so a
    common text shows its first page without waiting for the count. A newer filter
    supersedes a search still running, whose results are dropped (its count stops: see
    :class:`~jobdeck.core.read_stop.ReadStop`). The first rows are at most
    :data:`SEARCH_FIRST_ROWS` (a tall screenful), or the rows the view shows and a few
    when it says how many (:meth:`set_rows_shown`: each row read costs the wait); the rest
    is read as the view scrolls to it, a page at a time. A search is never counted on the
    GUI thread: reloading (:meth:`refresh`, a sort before its rows came) reads it again the
    same way, its rows showing meanwhile, and checking its count (the store holds other
    rows than counted) counts in the background (``recounted``).
    ``filterApplied()`` (GUI thread) says a filter's rows are in place.
    """

    filterApplied = Signal()

    def __init__(
        self,
        tracker: JobSource,
        signals: JobFeed | None = None,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
        window_rows: int = WINDOW_ROWS,
        warnings: JobWarnings | None = None,
    ) -> None:
        super().__init__(parent)
        self._warnings = warnings
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        if window_rows < 2 * page_size:
            raise ValueError(
                f"window_rows must be at least twice page_size ({2 * page_size}), got {window_rows}"
            )
        self._tracker = tracker
        self._signals = signals
        self.page_size = page_size
        self.window_rows = window_rows
        self._filter = JobFilter()
        self._sort_column = Column.STARTED
        self._sort_order = Qt.SortOrder.DescendingOrder
        self._count: int | None = None
        self._start = 0
        self._rows: list[Job] = []
        self._keys: list[SortKey] = []
        self._ids: dict[str, int] = {}
        #: A finished job's cell texts (see _text): id -> (the Job, its texts).
        self._cells: dict[str, tuple[Job, tuple[str, ...]]] = {}
        self._today = (0.0, 0.0)
        #: Active jobs that pass the filter: id -> sort key (to place them, in or out of
        #: the window, when they stop passing).
        self._members: dict[str, SortKey] = {}
        self._members_known = False
        self._counted_upto: str | None = None
        self._resync_pending = False
        #: Inside a structural change (insert, remove, reset): rows outside the window read
        #: as empty instead of moving the window under the change.
        self._frozen = 0
        self._pending: JobFilter | None = None
        self._rows_shown: int | None = None
        # No parent: each search task holds it (never a signal of it alone) until it ends,
        # so a task that ends after the model is gone emits on a live object (Qt drops the
        # delivery).
        self._search_results = _SearchResults()
        self._search_results.ready.connect(self._apply_search)
        self._search_results.counted.connect(self._apply_count)
        self._search_results.recounted.connect(self._apply_recount)
        #: The generation of a search whose first rows show while it is being counted.
        self._counting: int | None = None
        #: A search whose first rows show and whose count starts once they are painted:
        #: (its generation, its filter), until it starts.
        self._count_waits: tuple[int, JobFilter] | None = None
        self._count_timer_set = False
        self._live_since_first = False
        #: Stops the search reads and counts of the generation (a newer one stops them: see
        #: _generation).
        self._read_stop = ReadStop()
        #: (generation, count) of a search read again because its count changed: the
        #: count its rows get (not counted again), and whether the feed brought changes
        #: since it was counted (then it is checked again).
        self._recounted: tuple[int, int] | None = None
        self._live_since_recount = False
        self.pages_loaded = 0
        if signals is not None:
            signals.jobsAdded.connect(self._on_added)
            signals.jobsChanged.connect(self._on_changed)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick_running_durations)
        self._clock_wanted = True
        self._update_clock()

    @property
    def _generation(self) -> int:
        """The filter's generation: each new filter (or reload of a search) has the next;
        the search tasks see it on :class:`_SearchResults` (they never hold the model)."""
        return self._search_results.generation

    @_generation.setter
    def _generation(self, value: int) -> None:
        self._search_results.generation = value
        self._read_stop.stop()  # the search reads and counts under way are of no use now
        self._read_stop = ReadStop()

    # --- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        if self._count is None:
            if getattr(self._tracker, "closed", False):
                return 0
            self._count = self._tracker.count_jobs(**self._filter.query())
            newest = self._tracker.history_page(JobFilter(), HistorySort.CREATED, True, None, 1)
            self._counted_upto = newest[0][0].id if newest else None
            self._know_members()
        return self._count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        # Asked for every role of every section when the header is sized and painted (~200
        # calls before the first window shows): the roles it never answers return first,
        # with what Qt's own answers for them (nothing).
        if role != _DISPLAY and role != _TOOLTIP:
            return None
        if orientation == _HORIZONTAL and 0 <= section < _COLUMN_COUNT:
            if role == _DISPLAY:
                return translate("HistoryModel", HEADERS[Column(section)])
            if section == _STARTED:
                return translate(
                    "HistoryModel", "Start time (sorting by this column sorts by creation order)"
                )
        return super().headerData(section, orientation, role)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every role of every cell the view paints (seven a cell, about a
        # thousand calls a page): roles never answered and cells that never have the role
        # return before the row is looked up, a row in the window without a call, a
        # finished job's texts are kept (see _text).
        if role == _DISPLAY:
            if self._count_waits is not None and not self._count_timer_set:
                self._count_after_this_paint()
            job = self._job_of(index)
            if job is None:
                return None
            column = index.column()
            kept = self._cells.get(job.id)
            if kept is not None and kept[0] is job and (column != _STARTED or self._same_day()):
                return kept[1][column]
            return self._text(job, column)
        if role == _ALIGNMENT:
            return _RIGHT if index.column() in _RIGHT_COLUMNS and index.isValid() else None
        if role == _DECORATION:
            if index.column() != _STATUS:
                return None
            job = self._job_of(index)
            return None if job is None else icons.raster_status_icon(job.status.value)
        if role == _FOREGROUND:
            column = index.column()
            if column != _MESSAGE and column != _STATUS:
                return None
            job = self._job_of(index)
            if job is None:
                return None
            if column == _MESSAGE:
                return FAILED_COLOR if job.status is JobStatus.FAILED else None
            return WARNING_COLOR if self.warning(job) else None
        if role == JobRole:
            return self._job_of(index)
        if role == _TOOLTIP:
            job = self._job_of(index)
            return None if job is None else self._tooltip(job, _COLUMNS[index.column()])
        return None

    def _job_of(self, index: _Index) -> Job | None:
        """The job of ``index``'s row: from the window without a call, else read."""
        row = index.row()
        i = row - self._start
        rows = self._rows
        if 0 <= i < len(rows):
            return rows[i]
        if not index.isValid():
            return None
        return self._job(row)

    def _text(self, job: Job, column: int) -> str:
        """A cell's text. A finished job's texts are kept (in ``_cells``) while the job's
        snapshot and the day stay the same: the Started column says the time alone for a
        job of today."""
        if job.status.active or (job.started_ts is not None and job.completed_ts is None):
            return self._display(job, _COLUMNS[column])  # its duration still grows
        self._same_day()
        texts = tuple(self._display(job, c) for c in _COLUMNS)
        if len(self._cells) >= 2 * self.window_rows:
            self._cells.clear()
        self._cells[job.id] = (job, texts)
        return texts[column]

    def _same_day(self) -> bool:
        """Whether the tracker's clock is still in the day the kept texts were made in
        (else they are dropped, and the day is now's)."""
        now = self._tracker.now()
        if self._today[0] <= now < self._today[1]:
            return True
        from datetime import datetime, timedelta  # (with the first job: not the first window)

        day = datetime.fromtimestamp(now).date()
        start = datetime.combine(day, datetime.min.time()).timestamp()
        end = datetime.combine(day + timedelta(days=1), datetime.min.time()).timestamp()
        self._today = (start, end)
        self._cells.clear()
        return False

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
            from datetime import datetime

            created = datetime.fromtimestamp(job.created_ts).strftime("%Y-%m-%d %H:%M:%S")
            started = format_local_time(job.started_ts)
            text = translate("HistoryModel", "Created {created}\nStarted {started}").format(
                created=created, started=started
            )
            where = where_text(job)
            return f"{text} {where}" if where and job.started_ts is not None else text
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

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        col = Column(column)
        if (col, order) == (self._sort_column, self._sort_order):
            return
        self._sort_column, self._sort_order = col, order
        self._frozen += 1
        self.beginResetModel()
        self._drop_window()
        self._members_known = False
        if self._count is not None:
            self._know_members()  # their keys in the new order
        self.endResetModel()
        self._frozen -= 1

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
        if new == (self._pending or self._filter):
            return
        self._generation += 1
        self._pending = None
        if new.search:
            self._search_in_background(new)
            return
        self._filter = new
        self._reload()
        self.filterApplied.emit()

    def set_rows_shown(self, rows: int | None) -> None:
        """How many rows the view shows at most (its height over a row's), or None when
        unknown: a text search reads that many first and :data:`SEARCH_EXTRA_ROWS` more
        (at most :data:`SEARCH_FIRST_ROWS`), instead of a tall screenful."""
        self._rows_shown = None if rows is None else max(1, rows)

    @property
    def search_pending(self) -> bool:
        """True while a text search is being counted and read (off the GUI thread)."""
        return self._pending is not None

    def _search_in_background(self, new: JobFilter) -> None:
        self._pending = new
        generation = self._generation
        tracker = self._tracker
        _where, sort, descending = self._query_state()
        size = min(2 * self.page_size, SEARCH_FIRST_ROWS)
        if self._rows_shown is not None:
            size = min(size, self._rows_shown + SEARCH_EXTRA_ROWS)
        results = self._search_results
        signals = self._signals
        stop = self._read_stop

        def work() -> None:
            try:
                if generation != results.generation:
                    return  # superseded before it started
                active = signals.active_jobs() if signals is not None else []  # thread-safe
                newest = tracker.history_page(JobFilter(), HistorySort.CREATED, True, None, 1)
                # (stoppable: a text of one or two letters that few jobs contain is scanned
                # for, for seconds at a million jobs, on one of the few reading threads)
                first = tracker.history_page(new, sort, descending, None, size, stop=stop)
            except ReadStopped:
                return  # typed on while it read
            except StoreError as exc:  # e.g. the app is closing the store
                log.info("a history search could not be read: %s", exc)
                return
            complete = len(first) < size  # every match is in the first rows: counted
            with contextlib.suppress(RuntimeError):  # RuntimeError: the model is gone
                results.ready.emit(
                    (generation, new, sort, descending, first, newest, active, complete)
                )

        _SEARCH_READS.submit(work)

    def _count_in_background(self, generation: int, where: JobFilter, done: str) -> None:
        """Count ``where``'s matches off the GUI thread, below its CPU priority (a common
        text takes a while at a million jobs); the signal ``done`` of the search results
        gets (generation, count), unless a newer filter superseded it: then the count
        stops, or never starts."""
        tracker, results = self._tracker, self._search_results  # (held: see __init__)
        stop = self._read_stop

        def work() -> None:
            if generation != results.generation:
                return  # typed on meanwhile
            try:
                count = tracker.count_jobs(**where.query(), stop=stop)
            except ReadStopped:
                return  # typed on while it counted
            except StoreError as exc:  # e.g. the app is closing the store
                log.info("a history search could not be counted: %s", exc)
                return
            with contextlib.suppress(RuntimeError):  # RuntimeError: the model is gone
                getattr(results, done).emit((generation, count))

        _SEARCH_COUNTS.submit(work)

    def _apply_search(self, result: Any) -> None:
        generation, new, sort, descending, first, newest, active, complete = result
        if generation != self._generation:
            return  # a newer filter superseded it
        self._pending = None
        if (sort, descending) != self._query_state()[1:]:
            self._generation += 1  # sorted meanwhile: read again in the new order
            self._search_in_background(new)
            return
        # Not a reset: the view keeps its layout (its headers' sections, column widths) and
        # lays out and paints the new rows sooner. The rows shown go, then the new ones
        # come, so a selection goes with its row as a reset clears it (no row keeps another
        # job's highlight), and search_pending holds meanwhile (nothing says "no match").
        self._frozen += 1
        shown = self._count
        if shown is None:  # (views were told of no rows: nothing to take away)
            self.beginResetModel()
        elif shown:
            self._pending = new
            self.beginRemoveRows(QModelIndex(), 0, shown - 1)
            self._drop_window()
            self._count = 0
            self.endRemoveRows()
        self._filter = new
        self._counting = None if complete else generation
        self._live_since_first = False
        self._counted_upto = newest[0][0].id if newest else None
        self._members = {j.id: sort_key(sort, j) for j in active if new.matches(j)}
        self._members_known = True
        if shown is not None and first:
            self.beginInsertRows(QModelIndex(), 0, len(first) - 1)
        self._count = len(first)  # for now, when there are more: see _apply_count
        self._start = 0
        self._rows = [job for job, _ in first]
        self._keys = [key for _, key in first]
        self._reindex()
        if shown is None:
            self.endResetModel()
        elif first:
            self.endInsertRows()
        self._pending = None
        self._frozen -= 1
        self._update_clock()
        self.filterApplied.emit()
        recounted, self._recounted = self._recounted, None
        if complete:
            return
        if recounted is not None and recounted[0] == generation:
            self._live_since_first = self._live_since_recount  # (changes since counted)
            self._apply_count(recounted)  # counted just before these were read
        else:  # how many there are, once these show
            self._count_waits = (generation, new)
            self._count_timer_set = False
            QTimer.singleShot(COUNT_AFTER_MS, self, self._start_count)  # (nothing painted)

    def _count_after_this_paint(self) -> None:
        """A view paints a search's first rows (asks for their texts): their count starts
        after this paint, never during it (a common text's count keeps a core busy for a
        while: on a machine of two, it slowed that paint by half)."""
        self._count_timer_set = True
        QTimer.singleShot(0, self, self._start_count)  # (set during a paint: runs after it)

    def _start_count(self) -> None:
        if self._count_waits is None:
            return  # started already
        generation, where = self._count_waits
        self._count_waits = None
        if generation == self._generation and self._counting == generation:
            self._count_in_background(generation, where, "counted")

    def _apply_count(self, result: Any) -> None:
        """The number of a search's matches, counted after its first rows showed: the
        rows after them are added (read when scrolled to)."""
        generation, count = result
        if generation != self._generation or self._counting != generation:
            return
        self._counting = None
        held = self._count or 0
        if count > held:
            self._frozen += 1
            self.beginInsertRows(QModelIndex(), held, count - 1)
            self._count = count
            self.endInsertRows()
            self._frozen -= 1
        if self._live_since_first or count < held:
            self._schedule_resync()  # live changes meanwhile: the count may be off by them

    @property
    def search_counting(self) -> bool:
        """True while a search's first rows show and its matches are still being counted."""
        return self._counting is not None

    def job_at(self, row: int) -> Job:
        job = self._job(row)
        if job is None:
            raise IndexError(f"no row {row} in the history (it has {self.rowCount()})")
        return job

    def row_of(self, job_id: str) -> int | None:
        """The row showing ``job_id`` if it is among the rows held now."""
        i = self._ids.get(job_id)
        return None if i is None else self._start + i

    def loaded_count(self) -> int:
        """How many rows are held in memory now (at most ``window_rows``)."""
        return len(self._rows)

    def locate(self, job: Job) -> int | None:
        """The row of ``job`` in the whole history (loading the rows around it), or None
        when the filter hides it or it is not in the store."""
        row = self.row_of(job.id)
        if row is not None or not self._filter.matches(job) or self.rowCount() == 0:
            return row
        where, sort, descending = self._query_state()
        key = sort_key(sort, job)
        before = self._tracker.count_jobs_before(where, sort, descending, key)
        if before >= self.rowCount():
            return None
        self._job(before)
        return self.row_of(job.id)

    def refresh(self) -> None:
        """Drop everything held and count again (e.g. after the store was pruned)."""
        self._reload()

    def attach(
        self, tracker: JobSource, signals: JobFeed, warnings: JobWarnings | None = None
    ) -> None:
        """Show the jobs of ``tracker`` and follow ``signals`` from now on: the store was
        opened after this model was made (on an
        :class:`~jobdeck.core.unopened.UnopenedStore`, which has no jobs). The rows are read
        again, with the filter and sort order chosen meanwhile."""
        self._tracker = tracker
        if warnings is not None:
            self._warnings = warnings
        if signals is not self._signals:
            self._signals = signals
            signals.jobsAdded.connect(self._on_added)
            signals.jobsChanged.connect(self._on_changed)
        self._reload()

    def include(self, job: Job) -> int | None:
        """Show ``job`` now if it matches the filter (e.g. a job just queued, before the
        batched ``jobsAdded`` brings it): its row, or None when the filter hides it."""
        self.rowCount()
        self._live(job)
        self._update_clock()
        return self.row_of(job.id)

    def set_ticking(self, ticking: bool) -> None:
        """Tick running jobs' durations once a second while the view is shown (and a running
        job is in the window), or not (hidden: nothing wakes up in the tray). Ticking again
        brings the durations up to date at once."""
        self._clock_wanted = ticking
        if ticking:
            self._tick_running_durations()
        self._update_clock()

    @property
    def live_clock_running(self) -> bool:
        return self._clock.isActive()

    # --- the window ------------------------------------------------------------------------

    def _query_state(self) -> tuple[JobFilter, HistorySort, bool]:
        return (
            self._filter,
            SORT_OF_COLUMN[self._sort_column],
            self._sort_order == Qt.SortOrder.DescendingOrder,
        )

    def _page(
        self, after: SortKey | None, limit: int, offset: int = 0, reverse: bool = False
    ) -> list[tuple[Job, SortKey]]:
        where, sort, descending = self._query_state()
        self.pages_loaded += 1
        return self._tracker.history_page(where, sort, descending != reverse, after, limit, offset)

    def _job(self, row: int) -> Job | None:
        i = row - self._start
        if 0 <= i < len(self._rows):
            return self._rows[i]
        if self._frozen or not 0 <= row < self.rowCount():
            return None
        if getattr(self._tracker, "closed", False):
            return None
        self._load_around(row)
        i = row - self._start
        return self._rows[i] if 0 <= i < len(self._rows) else None

    def _load_around(self, row: int) -> None:
        """Bring ``row`` into the window: by extending it from an edge when the row is
        near (a keyset page from the edge's key), else by a fresh window around it."""
        held = len(self._rows)
        end = self._start + held
        step = self.page_size
        if held and end <= row < end + step:
            page = self._page(self._keys[-1], row - end + step)
            self._extend(page, at_end=True)
            if self._start + len(self._rows) <= row:
                self._schedule_resync()  # fewer rows than counted
        elif held and self._start - step <= row < self._start:
            page = self._page(self._keys[0], self._start - row + step, reverse=True)
            page.reverse()
            if len(page) > self._start:
                page = page[len(page) - self._start :]
                self._schedule_resync()
            self._extend(page, at_end=False)
        else:
            self._fresh_window(row)
        self._trim(row)
        self._update_clock()

    def _fresh_window(self, row: int) -> None:
        count = self.rowCount()
        size = min(self.page_size, count)  # a few screens: reading more only costs time now
        first = max(0, min(row - size // 4, count - size))  # mostly below: paging down
        from_end = count - (first + size)
        if from_end < first:
            page = self._page(None, size, offset=from_end, reverse=True)
            page.reverse()
        else:
            page = self._page(None, size, offset=first)
        self._rows = [job for job, _ in page]
        self._keys = [key for _, key in page]
        self._start = first
        self._reindex()
        if len(page) < size:
            self._schedule_resync()

    def _extend(self, page: list[tuple[Job, SortKey]], at_end: bool) -> None:
        fresh = [(job, key) for job, key in page if job.id not in self._ids]
        if at_end:
            self._rows += [job for job, _ in fresh]
            self._keys += [key for _, key in fresh]
        else:
            self._rows[:0] = [job for job, _ in fresh]
            self._keys[:0] = [key for _, key in fresh]
            self._start -= len(fresh)
        self._reindex()

    def _trim(self, row: int) -> None:
        """Keep at most ``window_rows`` rows, dropping those farthest from ``row``."""
        extra = len(self._rows) - self.window_rows
        if extra <= 0:
            return
        i = row - self._start
        if i >= len(self._rows) // 2:
            del self._rows[:extra], self._keys[:extra]
            self._start += extra
        else:
            del self._rows[-extra:], self._keys[-extra:]
        self._reindex()

    def _reindex(self) -> None:
        self._ids = {job.id: i for i, job in enumerate(self._rows)}

    def _drop_window(self) -> None:
        self._start = 0
        self._rows, self._keys, self._ids = [], [], {}
        self._cells.clear()

    def _reload(self, recounted: int | None = None) -> None:
        """Drop what is held and count again; a text search reads again off the GUI
        thread, its rows showing until the new ones are in (see :meth:`set_filter`); a
        search typed but not in yet is the one read again. ``recounted``: the search's
        count, just taken (it is not counted again)."""
        if self._pending is not None or self._filter.search:
            self._generation += 1
            if recounted is not None:
                self._recounted = (self._generation, recounted)
            self._search_in_background(self._pending or self._filter)
            return
        self._frozen += 1
        self.beginResetModel()
        self._drop_window()
        self._count = None
        self._counting = None
        self._members_known = False
        self.endResetModel()
        self._frozen -= 1

    def _schedule_resync(self) -> None:
        """The store holds other rows than counted (changes the feed has not brought yet):
        count again, soon, and start over if it differs."""
        if not self._resync_pending:
            self._resync_pending = True
            QTimer.singleShot(0, self, self._resync)

    def _resync(self) -> None:
        self._resync_pending = False
        if getattr(self._tracker, "closed", False):
            return
        if self._filter.search:
            self._recount_in_background()
        elif self._tracker.count_jobs(**self._filter.query()) != self._count:
            self._reload()

    def _recount_in_background(self) -> None:
        """Count a text search's matches again off the GUI thread (a common text takes a
        while at a million jobs); :meth:`_apply_recount` reloads when the count changed."""
        if self._pending is None:  # (a search under way counts anyway)
            self._live_since_recount = False
            self._count_in_background(self._generation, self._filter, "recounted")

    def _apply_recount(self, result: Any) -> None:
        generation, count = result
        if generation != self._generation or self._pending is not None:
            return  # a newer filter or search superseded it
        if self._counting is None and count != self._count:
            self._reload(recounted=count)

    # --- live updates ----------------------------------------------------------------------

    def _know_members(self) -> None:
        """Which active jobs pass the filter now: the feed's unfinished jobs (from memory)."""
        if self._members_known:
            return
        self._members_known = True
        _where, sort, _descending = self._query_state()
        active = self._signals.active_jobs() if self._signals is not None else []
        self._members = {j.id: sort_key(sort, j) for j in active if self._filter.matches(j)}

    def _on_added(self, jobs: list[Job]) -> None:
        self._on_jobs(jobs, added=True)

    def _on_changed(self, jobs: list[Job]) -> None:
        self._on_jobs(jobs, added=False)

    def _on_jobs(self, jobs: list[Job], added: bool) -> None:
        self._live_since_recount = True
        if self._count is None:
            return  # nothing counted or shown yet: the first look will see these
        if self._counting is not None:
            self._live_since_first = True
        for job in jobs:
            self._live(job, added)
        self._update_clock()

    def _live(self, job: Job, added: bool = False) -> None:
        """Apply one new or changed job: update its row in place (rows do not move while
        shown), remove it when it stops passing the filter, insert it at its place when it
        starts to."""
        self._know_members()
        _where, sort, descending = self._query_state()
        passes = self._filter.matches(job)
        i = self._ids.get(job.id)
        member_key = self._members.pop(job.id, None)
        counted = i is not None or member_key is not None
        if added and not counted and self._counted_upto is not None:
            # a job the count already saw (it was stored before the count was taken)
            counted = passes and job.id <= self._counted_upto
        if passes and job.status.active:
            held_key = self._keys[i] if i is not None else None
            self._members[job.id] = member_key or held_key or sort_key(sort, job)
        if passes:
            if i is not None:
                self._rows[i] = job
                self._changed(self._start + i)
            elif not counted:
                self._insert(job, sort_key(sort, job), descending)
        elif counted:
            self._remove(job.id, member_key)

    def _changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def _before(self, a: SortKey, b: SortKey, descending: bool) -> bool:
        return a > b if descending else a < b

    def _insert(self, job: Job, key: SortKey, descending: bool) -> None:
        held = len(self._rows)
        count = self._count or 0
        if held == 0:
            row, into = 0, count == 0 or self._start == 0
        elif self._before(key, self._keys[0], descending):
            row, into = self._start, self._start == 0
        elif not self._before(key, self._keys[-1], descending):
            row, into = self._start + held, self._start + held == count
        else:
            lo, hi = 0, held  # the first held row that key comes before
            while lo < hi:
                mid = (lo + hi) // 2
                if self._before(key, self._keys[mid], descending):
                    hi = mid
                else:
                    lo = mid + 1
            row, into = self._start + lo, True
        self._frozen += 1
        self.beginInsertRows(QModelIndex(), row, row)
        self._count = count + 1
        if into:
            i = row - self._start
            self._rows.insert(i, job)
            self._keys.insert(i, key)
            self._reindex()
        elif row <= self._start and held:
            self._start += 1
        self.endInsertRows()
        self._frozen -= 1
        if into:
            self._trim(row)

    def _remove(self, job_id: str, old_key: SortKey | None) -> None:
        i = self._ids.get(job_id)
        held = len(self._rows)
        if i is not None:
            row = self._start + i
        elif not held or old_key is None:
            row = 0 if held == 0 else self._start + held
        else:
            _where, _sort, descending = self._query_state()
            if self._before(old_key, self._keys[0], descending) and self._start > 0:
                row = self._start - 1
            else:
                row = self._start + held
        if not 0 <= row < (self._count or 0):
            self._schedule_resync()
            return
        self._frozen += 1
        self.beginRemoveRows(QModelIndex(), row, row)
        self._count = (self._count or 0) - 1
        if i is not None:
            del self._rows[i], self._keys[i]
            self._reindex()
        elif row < self._start:
            self._start -= 1
        self.endRemoveRows()
        self._frozen -= 1

    # --- the once-a-second refresh ---------------------------------------------------------

    def _running_rows(self) -> list[int]:
        return [i for i, job in enumerate(self._rows) if job.status is JobStatus.RUNNING]

    def _update_clock(self) -> None:
        want = self._clock_wanted and any(j.status is JobStatus.RUNNING for j in self._rows)
        if want and not self._clock.isActive():
            self._clock.start()
        elif not want and self._clock.isActive():
            self._clock.stop()

    def _tick_running_durations(self) -> None:
        running = self._running_rows()
        if not running:
            self._clock.stop()
            return
        columns = (
            (Column.DURATION, Column.STATUS) if self._warnings is not None else (Column.DURATION,)
        )
        for column in columns:
            first = self.index(self._start + running[0], column)
            last = self.index(self._start + running[-1], column)
            self.dataChanged.emit(first, last, [Qt.ItemDataRole.DisplayRole])

    def refresh_warnings(self) -> None:
        """Repaint the Status cells of the running jobs (a job stalled or came back)."""
        running = self._running_rows()
        if running:
            first = self.index(self._start + running[0], Column.STATUS)
            last = self.index(self._start + running[-1], Column.STATUS)
            self.dataChanged.emit(first, last)
