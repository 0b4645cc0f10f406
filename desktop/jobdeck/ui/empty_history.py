"""Says why the history table is empty: no job yet, or none that matches the filter."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QTableView

from ..i18n import translate
from .history_model import HistoryModel

__all__ = ["EmptyHistory"]

#: The label's distance from the viewport's edges (px).
MARGIN = 24


class EmptyHistory(QObject):
    """A short grey text centred in ``view``'s viewport while ``model`` shows no rows: on an
    empty store how to start a job; with a filter or search that matches nothing, that
    nothing matches and how to see every job. It never shows while the store is still
    opening (:meth:`set_opening`) nor while a search is read (the previous rows still show:
    no "no match" before its rows come). A label over the viewport, hidden while there are
    rows (the table's paint costs nothing more). Lives on the GUI thread; emits nothing."""

    def __init__(self, view: QTableView, model: HistoryModel) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._opening = False
        viewport = view.viewport()
        self.label = QLabel(viewport)
        self.label.setObjectName("emptyHistory")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label.hide()
        viewport.installEventFilter(self)
        model.modelReset.connect(self.update)
        model.rowsInserted.connect(self.update)
        model.rowsRemoved.connect(self.update)
        model.filterApplied.connect(self.update)

    def set_opening(self, opening: bool) -> None:
        """Whether the store is still being opened (then the history is not known yet)."""
        self._opening = opening
        self.update()

    def text(self) -> str:
        """What the label says now ("" when it is hidden)."""
        model = self._model
        if self._opening or model.search_pending or model.rowCount():
            return ""
        where = model.filter
        filtered = bool(where.statuses or where.types)
        if where.search:
            said = translate("EmptyHistory", "No jobs match \u201c{text}\u201d.").format(
                text=where.search
            )
            how = (
                translate("EmptyHistory", "Clear the search and the filters to see all jobs.")
                if filtered
                else translate("EmptyHistory", "Clear the search to see all jobs.")
            )
            return f"{said}\n{how}"
        if filtered:
            return translate(
                "EmptyHistory",
                "No jobs match these filters.\nChoose All statuses and All types to see all jobs.",
            )
        return translate(
            "EmptyHistory",
            "No jobs yet.\nStart one from the form on the left, or run\n"
            "jobdeck run -- COMMAND\nin a terminal.",
        )

    def update(self) -> None:
        """Show or hide the label for the model's state now."""
        text = self.text()
        if not text:
            self.label.hide()
            return
        self.label.setText(text)
        self._place()
        self.label.show()

    def _place(self) -> None:
        area = self._view.viewport().rect().adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        self.label.setGeometry(area)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.label.isVisible():
            self._place()
        return False
