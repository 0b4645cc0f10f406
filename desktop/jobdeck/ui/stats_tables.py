"""The Statistics tab's tables: per type or per job key, and failures by first line.

:class:`GroupTableModel` shows :class:`~jobdeck.core.stats.GroupStats` rows and
:class:`FailureTableModel` :class:`~jobdeck.core.stats.FailureGroup` rows; both give the raw
number of a cell as :data:`SORT_ROLE`, so a :func:`sorted_view` (a QSortFilterProxyModel
sorting on it) orders durations and sizes by value, not by text. GUI thread only; they emit
only the standard model signals.
"""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from ..core.stats import FailureGroup, GroupStats
from ..i18n import translate
from .formatting import (
    EM_DASH,
    QT_TRANSLATE_NOOP,
    format_duration,
    format_local_time,
    type_text,
)

__all__ = [
    "SORT_ROLE",
    "STATS_ROLE",
    "FailureTableModel",
    "GroupColumn",
    "GroupTableModel",
    "format_bytes",
    "sorted_view",
]

SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 10
STATS_ROLE = int(Qt.ItemDataRole.UserRole) + 11  # the row's GroupStats / FailureGroup

Index = QModelIndex | QPersistentModelIndex


def format_bytes(value: int | None) -> str:
    """``512 MB``, ``1.4 GB``; an em dash for None."""
    if value is None:
        return EM_DASH
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if size >= 100 or unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns first


def _rate(value: float | None) -> str:
    return EM_DASH if value is None else f"{100 * value:.0f} %"


class GroupColumn(enum.IntEnum):
    NAME = 0
    TYPE = 1
    RUNS = 2
    SUCCESS = 3
    FAILED = 4
    CANCELLED = 5
    P50 = 6
    P90 = 7
    MAX = 8
    PEAK_RSS = 9
    CPU = 10


def _group_headers(by_key: bool) -> list[str]:
    return [
        translate("Stats", "Job key") if by_key else translate("Stats", "Type"),
        translate("Stats", "Type"),
        translate("Stats", "Runs"),
        translate("Stats", "Success"),
        translate("Stats", "Failed"),
        translate("Stats", "Cancelled"),
        translate("Stats", "p50"),
        translate("Stats", "p90"),
        translate("Stats", "Max"),
        translate("Stats", "Peak RSS"),
        translate("Stats", "CPU / run"),
    ]


_GROUP_TIPS = {
    GroupColumn.SUCCESS: QT_TRANSLATE_NOOP(
        "Stats", "Completed runs out of completed and failed ones"
    ),
    GroupColumn.P50: QT_TRANSLATE_NOOP(
        "Stats", "Half of the completed runs took at most this long"
    ),
    GroupColumn.P90: QT_TRANSLATE_NOOP(
        "Stats", "Nine in ten completed runs took at most this long"
    ),
    GroupColumn.MAX: QT_TRANSLATE_NOOP("Stats", "The longest completed run"),
    GroupColumn.PEAK_RSS: QT_TRANSLATE_NOOP(
        "Stats", "The most memory a run's processes used (process jobs still stored)"
    ),
    GroupColumn.CPU: QT_TRANSLATE_NOOP("Stats", "CPU time per run (process jobs still stored)"),
}


class GroupTableModel(QAbstractTableModel):
    """Per-type (``by_key`` False) or per-key statistics, one row each."""

    def __init__(self, *, by_key: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.by_key = by_key
        self.rows: list[GroupStats] = []
        self._headers = _group_headers(by_key)

    def set_rows(self, rows: list[GroupStats]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(GroupColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole and section in _GROUP_TIPS:
            return translate("Stats", _GROUP_TIPS[GroupColumn(section)])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = GroupColumn(index.column())
        if role == STATS_ROLE:
            return row
        if role == SORT_ROLE:
            return _sort_value(row, column)
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == GroupColumn.NAME:
            return row.type if not self.by_key else f"{row.label}\n{row.name}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= GroupColumn.RUNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _display(row: GroupStats, column: GroupColumn) -> str:
    match column:
        case GroupColumn.NAME:
            return row.label if row.label != row.type_title else type_text(row.type_title)
        case GroupColumn.TYPE:
            return row.type
        case GroupColumn.RUNS:
            return f"{row.runs:,}"
        case GroupColumn.SUCCESS:
            return _rate(row.success_rate)
        case GroupColumn.FAILED:
            return f"{row.failed:,}"
        case GroupColumn.CANCELLED:
            return f"{row.cancelled:,}"
        case GroupColumn.P50:
            return format_duration(row.p50_s)
        case GroupColumn.P90:
            return format_duration(row.p90_s)
        case GroupColumn.MAX:
            return format_duration(row.max_s)
        case GroupColumn.PEAK_RSS:
            return format_bytes(row.peak_rss)
        case GroupColumn.CPU:
            return format_duration(row.cpu_mean_s)
    return ""  # pragma: no cover


def _sort_value(row: GroupStats, column: GroupColumn) -> Any:
    values: dict[GroupColumn, Any] = {
        GroupColumn.NAME: row.label.lower(),
        GroupColumn.TYPE: row.type,
        GroupColumn.RUNS: row.runs,
        GroupColumn.SUCCESS: row.success_rate,
        GroupColumn.FAILED: row.failed,
        GroupColumn.CANCELLED: row.cancelled,
        GroupColumn.P50: row.p50_s,
        GroupColumn.P90: row.p90_s,
        GroupColumn.MAX: row.max_s,
        GroupColumn.PEAK_RSS: row.peak_rss,
        GroupColumn.CPU: row.cpu_mean_s,
    }
    value = values[column]
    return -1.0 if value is None else value


class FailureTableModel(QAbstractTableModel):
    """Failures grouped by the first line of their error, most runs first."""

    HEADERS = (
        QT_TRANSLATE_NOOP("Stats", "First line of the error"),
        QT_TRANSLATE_NOOP("Stats", "Type"),
        QT_TRANSLATE_NOOP("Stats", "Runs"),
        QT_TRANSLATE_NOOP("Stats", "Last"),
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[FailureGroup] = []
        self.now: float | None = None

    def set_rows(self, rows: list[FailureGroup], now: float) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.now = now
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return translate("Stats", self.HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == STATS_ROLE:
            return row
        if role == SORT_ROLE:
            return (row.first_line.lower(), row.type, row.runs, row.last_ts or 0.0)[column]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.first_line
            if column == 1:
                return type_text(row.type)
            if column == 2:
                return f"{row.runs:,}"
            return format_local_time(row.last_ts, self.now) if row.last_ts else EM_DASH
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return row.first_line
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def sorted_view(model: QAbstractTableModel, parent: QObject) -> QSortFilterProxyModel:
    """A proxy that sorts ``model`` by the cells' raw values (:data:`SORT_ROLE`)."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    return proxy
