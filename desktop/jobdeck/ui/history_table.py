"""The history's table view: rows added below the ones it shows repaint nothing shown."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, SignalInstance
from PySide6.QtWidgets import QTableView, QWidget

__all__ = ["HistoryTable"]

_Index = QModelIndex | QPersistentModelIndex


class HistoryTable(QTableView):
    """A QTableView that, when its model adds rows below the last one it shows (a text
    search's count: the rows after its first ones), updates its scroll bar and repaints no
    row: QTableView lays out and repaints every row shown after any insertion (for the
    history, a whole paint of the rows just painted, ~10 ms, right after a search's first
    paint). Any other change of the rows (an insertion among or above those shown, a
    removal, a move, a reset, a new layout) is laid out and painted as QTableView does.
    Lives on the GUI thread; emits what QTableView emits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: Since the last layout: rows were added below those shown / something else
        #: changed (then the next layout is QTableView's own).
        self._appended_below = False
        self._changed = False
        self._watched: QAbstractItemModel | None = None

    def setModel(self, model: QAbstractItemModel | None) -> None:
        if self._watched is not None:
            self._watched.rowsInserted.disconnect(self._rows_inserted)
            for signal in _other_changes(self._watched):
                signal.disconnect(self._rows_changed)
        super().setModel(model)
        self._watched = model
        self._appended_below = self._changed = False
        if model is not None:
            model.rowsInserted.connect(self._rows_inserted)
            for signal in _other_changes(model):
                signal.connect(self._rows_changed)

    def _rows_inserted(self, parent: _Index, first: int, _last: int) -> None:
        # the last row shown: at the bottom edge of the viewport (at most this tall, with
        # no scroll bar); -1 when the rows end above it (new rows would show there)
        bottom = self.rowAt(self.maximumViewportSize().height() - 1)
        if not parent.isValid() and 0 <= bottom < first:
            self._appended_below = True
        else:
            self._changed = True

    def _rows_changed(self, *_args: object) -> None:
        self._changed = True

    def doItemsLayout(self) -> None:
        appended_only = self._appended_below and not self._changed
        self._appended_below = self._changed = False
        if appended_only:
            self.updateGeometries()  # the scroll bar's range: what shows the new rows
            return
        super().doItemsLayout()


def _other_changes(model: QAbstractItemModel) -> tuple[SignalInstance, ...]:
    """The model's signals of changes that need QTableView's own layout."""
    return (
        model.rowsRemoved,
        model.rowsMoved,
        model.modelReset,
        model.layoutChanged,
        model.columnsInserted,
        model.columnsRemoved,
        model.columnsMoved,
    )
