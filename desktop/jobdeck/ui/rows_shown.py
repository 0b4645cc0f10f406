"""Tells the history model how many rows its table shows, so that a text search reads that
many first (see :meth:`~jobdeck.ui.history_model.HistoryModel.set_rows_shown`)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView

from .history_model import HistoryModel

__all__ = ["RowsShown"]


class RowsShown(QObject):
    """Watches ``view``'s viewport (a child of ``view``, on the GUI thread; emits nothing):
    each time it is shown or resized, ``model`` hears how many rows it holds (its height over
    a row's, a row partly shown counting); before it is first shown, that it is unknown (a
    table not laid out yet has a size of its own)."""

    def __init__(self, view: QTableView, model: HistoryModel) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._shown = False
        view.viewport().installEventFilter(self)
        self._tell()

    def rows(self) -> int:
        """The rows the viewport holds now."""
        row = max(1, self._view.verticalHeader().defaultSectionSize())
        return max(1, -(-self._view.viewport().height() // row))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._tell()
        return False

    def _tell(self) -> None:
        self._shown = self._shown or self._view.viewport().isVisible()  # (then laid out)
        self._model.set_rows_shown(self.rows() if self._shown else None)
