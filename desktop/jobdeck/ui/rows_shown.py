"""Tells the history model how many rows its table shows, so that a text search reads that
many first (see :meth:`~jobdeck.ui.history_model.HistoryModel.set_rows_shown`)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView

from .history_model import HistoryModel

__all__ = ["RowsShown"]


class RowsShown(QObject):
    """Watches ``view`` (a child of it, on the GUI thread; emits nothing): each time it is
    shown or resized, or its horizontal scroll bar shows or hides (a column made wider or
    narrower: the bar takes the bottom row's place, the view keeping its size), ``model``
    hears how many rows its viewport holds (the viewport's height over a row's, a row
    partly shown counting); before it is first shown, that it is unknown (a table not laid
    out yet has a size of its own).

    It never asks the view for its viewport widget: the first ``viewport()`` of a process
    makes PySide6 find the widget's Python class among every QtWidgets class, creating
    their enums (~15 ms), which the first window's paint would wait for."""

    def __init__(self, view: QTableView, model: HistoryModel) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._shown = False
        self._bar = view.horizontalScrollBar()
        view.installEventFilter(self)
        self._bar.installEventFilter(self)
        self._tell()

    def rows(self) -> int:
        """The rows the viewport holds now."""
        row = max(1, self._view.verticalHeader().defaultSectionSize())
        height = self._view.maximumViewportSize().height()  # with no scroll bar
        if self._bar.isVisible():
            height -= self._bar.height()
        return max(1, -(-height // row))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Resize, QEvent.Type.Show) or (
            kind == QEvent.Type.Hide and watched is self._bar
        ):
            self._tell()
        return False

    def _tell(self) -> None:
        self._shown = self._shown or self._view.isVisible()  # (then laid out)
        self._model.set_rows_shown(self.rows() if self._shown else None)
