"""A one-line QLabel that elides its text to fit and shows the full text as tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

__all__ = ["ElidedLabel"]


class ElidedLabel(QLabel):
    """Shows as much of ``full_text`` as fits, ending in "…"; the tooltip has all of it.

    The elided text is worked out when the text or the width changes, and handed to
    QLabel, so painting stays in C++ (no Python paintEvent on every frame).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._flat = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        """Set the text; newlines are shown as spaces, the tooltip keeps them."""
        if text == self._full:
            return
        self._full = text
        self._flat = " ".join(text.split())
        self.setToolTip(text)
        self._elide()

    def elided_text(self) -> str:
        """The text as currently shown."""
        return self.text()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._flat, Qt.TextElideMode.ElideRight, width)
        if shown != self.text():
            self.setText(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self._flat), hint.height())
