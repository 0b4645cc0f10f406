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
        #: The label, made when there is first something to say: the window's first paint
        #: (the store still opening) asks nothing of the viewport (see ui.rows_shown).
        self.label: QLabel | None = None
        model.modelReset.connect(self.update)
        model.rowsInserted.connect(self.update)
        model.rowsRemoved.connect(self.update)
        model.filterApplied.connect(self.update)

    def _made_label(self) -> QLabel:
        if self.label is None:
            viewport = self._view.viewport()
            label = QLabel(viewport)
            label.setObjectName("emptyHistory")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            viewport.installEventFilter(self)  # (placed again when it is resized)
            self.label = label
        return self.label

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
            if self.label is not None:
                self.label.hide()
            return
        label = self._made_label()
        label.setText(text)
        self._place(label)
        label.show()

    def _place(self, label: QLabel) -> None:
        area = self._view.viewport().rect().adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        label.setGeometry(area)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        label = self.label
        if event.type() == QEvent.Type.Resize and label is not None and label.isVisible():
            self._place(label)
        return False
