"""The Statistics tab: how each job type and job key did over a period, with charts.

A period chooser (24 hours, 7 days, 30 days, all), three sortable tables (per type, per job
key — the busiest :data:`~jobdeck.core.stats.KEYS_LISTED` —, failures by the first line of
their error) and :class:`~.stats_charts.StatsCharts` (jobs ended per hour or day, queued and
running over time, the selected key's last runs). The numbers are computed off the GUI
thread by a :class:`~.stats_loader.StatsLoader` (the newest request wins) when the tab shows,
when the period or the selected key changes, soon after jobs end while it shows (the ends of
:data:`ENDED_DELAY_MS` share one refresh, never run while another computes, and spaced by
:data:`ENDED_PACE` times the last one's duration: a million jobs take seconds to count; see
:meth:`StatsView.follow`), and every :data:`REFRESH_MS` while it shows.
The charts (and pyqtgraph) are built when the view is first shown.

GUI thread only. Emits ``updated()`` after it showed new numbers (for tests and the status
bar). Call :meth:`shutdown` before the store closes.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.stats import JobStats, Period
from ..i18n import translate
from .formatting import QT_TRANSLATE_NOOP
from .stats_loader import StatsLoader, StatsResult
from .stats_tables import (
    STATS_ROLE,
    FailureTableModel,
    GroupColumn,
    GroupTableModel,
    sorted_view,
)

if TYPE_CHECKING:
    from ..core.job import Job
    from ..runtime.feed import JobFeed
    from .stats_charts import StatsCharts

__all__ = ["ENDED_DELAY_MS", "ENDED_PACE", "REFRESH_MS", "StatsView"]

#: How often the numbers are recomputed while the tab shows.
REFRESH_MS = 30_000
#: Milliseconds from a job's end to the refresh that shows it; every job that ends meanwhile
#: is shown by the same refresh.
ENDED_DELAY_MS = 1_000
#: A refresh for ended jobs starts no sooner than this many times the last computation's
#: duration after that one's numbers arrived (the computing thread is never kept busy).
ENDED_PACE = 4

_PERIODS = (
    (Period.DAY, QT_TRANSLATE_NOOP("Stats", "Last 24 hours")),
    (Period.WEEK, QT_TRANSLATE_NOOP("Stats", "Last 7 days")),
    (Period.MONTH, QT_TRANSLATE_NOOP("Stats", "Last 30 days")),
    (Period.ALL, QT_TRANSLATE_NOOP("Stats", "All time")),
)


def _table(parent: QWidget, name: str, proxy: QSortFilterProxyModel) -> QTableView:
    table = QTableView(parent)
    table.setAccessibleName(name)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.horizontalHeader().setHighlightSections(False)
    return table


class StatsView(QWidget):
    """The Statistics tab (see the module)."""

    updated = Signal()

    def __init__(self, stats: JobStats, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = StatsLoader(stats, self)
        self.loader.loaded.connect(self._show)
        self.loader.failed.connect(self._show_error)
        self.result: StatsResult | None = None
        self.charts: StatsCharts | None = None
        self._selected_key: str | None = None
        self._selected_label = ""

        self.period = QComboBox(self)
        self.period.setAccessibleName(translate("Stats", "Period"))
        for period, text in _PERIODS:
            self.period.addItem(translate("Stats", text), period)
        self.period.setCurrentIndex(1)
        self.period.currentIndexChanged.connect(self.refresh)
        period_label = QLabel(translate("Stats", "&Period:"), self)
        period_label.setBuddy(self.period)
        self.refresh_button = QPushButton(translate("Stats", "&Refresh"), self)
        self.refresh_button.clicked.connect(self.refresh)
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setAccessibleName(translate("Stats", "Summary"))
        bar = QHBoxLayout()
        bar.addWidget(period_label)
        bar.addWidget(self.period)
        bar.addWidget(self.refresh_button)
        bar.addSpacing(12)
        bar.addWidget(self.summary, 1)

        self.types = GroupTableModel(by_key=False, parent=self)
        self.keys = GroupTableModel(by_key=True, parent=self)
        self.failures = FailureTableModel(self)
        self.type_table = _table(self, translate("Stats", "Statistics per job type"),
                                 sorted_view(self.types, self))  # fmt: skip
        self.key_table = _table(self, translate("Stats", "Statistics per job key"),
                                sorted_view(self.keys, self))  # fmt: skip
        self.failure_table = _table(self, translate("Stats", "Failures by first line"),
                                    sorted_view(self.failures, self))  # fmt: skip
        self.type_table.setColumnHidden(GroupColumn.TYPE, True)
        for table in (self.type_table, self.key_table):  # the success rate says enough
            table.setColumnHidden(GroupColumn.CANCELLED, True)
        self.key_table.setColumnHidden(GroupColumn.TYPE, True)  # the key names its type
        for table, first_width in ((self.type_table, 110), (self.key_table, 260)):
            header = table.horizontalHeader()
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            header.setSectionResizeMode(GroupColumn.NAME, QHeaderView.ResizeMode.Stretch)
            table.setColumnWidth(GroupColumn.NAME, first_width)
            table.setColumnWidth(GroupColumn.TYPE, 80)
            for column in range(GroupColumn.RUNS, len(GroupColumn)):
                table.setColumnWidth(column, 56)
            table.setColumnWidth(GroupColumn.SUCCESS, 62)
            table.setColumnWidth(GroupColumn.CANCELLED, 72)
            table.setColumnWidth(GroupColumn.MAX, 62)
            table.setColumnWidth(GroupColumn.PEAK_RSS, 66)
            table.setColumnWidth(GroupColumn.CPU, 66)
            table.sortByColumn(GroupColumn.RUNS, Qt.SortOrder.DescendingOrder)
        failure_header = self.failure_table.horizontalHeader()
        failure_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 80), (2, 60), (3, 110)):
            self.failure_table.setColumnWidth(column, width)
        self.failure_table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.key_table.selectionModel().currentRowChanged.connect(self._on_key_selected)

        self.tables = QTabWidget(self)
        self.tables.setDocumentMode(True)
        self.tables.addTab(self.type_table, translate("Stats", "Per type"))
        self.tables.addTab(self.key_table, translate("Stats", "Per job key"))
        self.tables.addTab(self.failure_table, translate("Stats", "Failures"))
        self.chart_area = QWidget(self)
        self.chart_area.setMinimumWidth(380)
        self._chart_layout = QVBoxLayout(self.chart_area)
        self._chart_layout.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.tables)
        self.splitter.addWidget(self.chart_area)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._feed: JobFeed | None = None
        self._ended_timer = QTimer(self)
        self._ended_timer.setSingleShot(True)
        self._ended_timer.timeout.connect(self._refresh_for_ended)
        #: Jobs ended while a computation ran: refresh again once its numbers are in.
        self._ended_meanwhile = False
        self._shown_at = 0.0  # time.monotonic() when the last numbers (or error) arrived

    # -- public ---------------------------------------------------------------------------------

    @property
    def current_period(self) -> Period:
        period: Period = self.period.currentData()
        return period

    def set_period(self, period: Period) -> None:
        for row in range(self.period.count()):
            if self.period.itemData(row) == period:
                self.period.setCurrentIndex(row)

    def refresh(self) -> None:
        """Recompute the numbers of the chosen period (off the GUI thread)."""
        if self.result is None:
            self.summary.setText(translate("Stats", "Reading the job history\u2026"))
        elif self.result.report.period is not self.current_period:
            # the tables still hold another period's numbers: say so until these come
            self.summary.setText(translate("Stats", "Computing\u2026"))
        self.loader.request(self.current_period, self._selected_key)

    def follow(self, feed: JobFeed) -> None:
        """Show jobs that end (``feed.jobFinished``, replacing an earlier feed): soon, in
        one refresh for many, while the tab shows (a hidden tab refreshes when shown)."""
        self._unfollow()
        self._feed = feed
        feed.jobFinished.connect(self._on_job_finished)

    def _unfollow(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            with contextlib.suppress(RuntimeError):  # the feed is gone already
                feed.jobFinished.disconnect(self._on_job_finished)

    def select_key(self, key: str) -> bool:
        """Select the row of job key ``key`` in the per-key table; False if not listed."""
        proxy = self.key_table.model()
        for row in range(proxy.rowCount()):
            index = proxy.index(row, 0)
            if index.data(STATS_ROLE).name == key:
                self.key_table.setCurrentIndex(index)
                return True
        return False

    def shutdown(self) -> None:
        """Stop refreshing and wait for a computation under way."""
        self._timer.stop()
        self._ended_timer.stop()
        self._unfollow()
        self.loader.shutdown()

    # -- events ---------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.charts is None:
            from .stats_charts import StatsCharts  # pyqtgraph: only when first shown

            self.charts = StatsCharts(self.chart_area)
            self._chart_layout.addWidget(self.charts)
            width = max(self.splitter.width(), 800)
            self.splitter.setSizes([width * 5 // 8, width * 3 // 8])
            if self.result is not None:
                self._draw(self.result)
        self._timer.start()
        self._ended_meanwhile = False
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()
        self._ended_timer.stop()  # showing it again refreshes

    def _on_job_finished(self, _job: Job) -> None:
        if self.isVisible() and not self._ended_timer.isActive():
            self._ended_timer.start(self._ended_delay())

    def _ended_delay(self) -> int:
        """Milliseconds until the refresh for jobs that ended (see ENDED_PACE)."""
        if self.result is None:
            return ENDED_DELAY_MS
        since = time.monotonic() - self._shown_at
        paced = ENDED_PACE * self.result.seconds - since
        return max(ENDED_DELAY_MS, int(paced * 1000))

    def _refresh_for_ended(self) -> None:
        if not self.isVisible():
            return
        if self.loader.busy:  # its numbers may miss these jobs: once they are in
            self._ended_meanwhile = True
            return
        self.refresh()

    def _numbers_arrived(self) -> None:
        self._shown_at = time.monotonic()
        if self._ended_meanwhile:
            self._ended_meanwhile = False
            if self.isVisible() and not self._ended_timer.isActive():
                self._ended_timer.start(self._ended_delay())

    def _on_key_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(STATS_ROLE) if current.isValid() else None
        key = row.name if row is not None else None
        if key == self._selected_key:
            return
        self._selected_key = key
        self._selected_label = row.label if row is not None else ""
        self.refresh()

    def _show(self, result: StatsResult) -> None:
        self.result = result
        report = result.report
        self.types.set_rows(report.by_type)
        selected = self._selected_key
        self.key_table.selectionModel().blockSignals(True)
        self.keys.set_rows(report.by_key)
        if selected is not None:
            self.select_key(selected)
        self.key_table.selectionModel().blockSignals(False)
        self.failures.set_rows(report.failures, report.now)
        runs = sum(s.runs for s in report.by_type)
        failed = sum(s.failed for s in report.by_type)
        rolled = sum(s.rolled_up for s in report.by_type)
        parts = [
            translate("Stats", "{runs} jobs ended, {failed} failed").format(
                runs=f"{runs:,}", failed=f"{failed:,}"
            )
        ]
        if report.keys_total > len(report.by_key):
            parts.append(
                translate("Stats", "the {shown} busiest of {total} job keys").format(
                    shown=len(report.by_key), total=f"{report.keys_total:,}"
                )
            )
        if rolled:
            parts.append(
                translate("Stats", "{rolled} from the roll-up of deleted jobs").format(
                    rolled=f"{rolled:,}"
                )
            )
        parts.append(translate("Stats", "updated {time}").format(time=time.strftime("%H:%M:%S")))
        self.summary.setText(" \u00b7 ".join(parts))
        self.summary.setToolTip(
            translate(
                "Stats",
                "Durations are those of completed runs; p50 and p90 are read from a "
                "histogram (within about 10 %). Peak RSS and CPU time are known only for "
                "process jobs still stored.",
            )
        )
        self._draw(result)
        self._numbers_arrived()
        self.updated.emit()

    def _draw(self, result: StatsResult) -> None:
        if self.charts is None:
            return
        self.charts.show_report(result.report)
        trend = result.trend if result.trend and result.trend.key == self._selected_key else None
        self.charts.show_trend(trend, self._selected_label)

    def _show_error(self, message: str) -> None:
        self.summary.setText(
            translate("Stats", "Statistics unavailable: {why}").format(why=message)
        )
        self._numbers_arrived()
