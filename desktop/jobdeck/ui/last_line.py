"""Keep a log view (a QPlainTextEdit without line wrapping) on its last line, shown whole
and from the lines' starts.

Moving the cursor to the end of the text, the usual way, puts it at the end of the last
line: a line wider than the view scrolled the view sideways, out of every line's start (a
log line's time and level), and the horizontal scroll bar such a line brings, laid out
later, made the view shorter and hid half of that line. :func:`follow_last_line` keeps the
view on its last line as its range changes, as long as the user has not scrolled up.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

__all__ = ["LastLine", "follow_last_line"]


class LastLine(QObject):
    """The follower of one view (its child: it goes with it). GUI thread."""

    def __init__(self, view: QPlainTextEdit) -> None:
        super().__init__(view)
        self._view = view
        self.at_end = True
        bar = view.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range)

    def show(self) -> None:
        """Go to the start of the last line, and stay on it while the view settles."""
        view = self._view
        view.setTextCursor(QTextCursor(view.document().lastBlock()))
        view.horizontalScrollBar().setValue(0)
        bar = view.verticalScrollBar()
        bar.setValue(bar.maximum())
        self.at_end = True

    def _scrolled(self, value: int) -> None:
        self.at_end = value >= self._view.verticalScrollBar().maximum() - 2

    def _range(self, _minimum: int, maximum: int) -> None:
        if self.at_end:
            self._view.verticalScrollBar().setValue(maximum)


def follow_last_line(view: QPlainTextEdit) -> LastLine:
    """The :class:`LastLine` of ``view`` (made on the first call)."""
    found = view.findChild(LastLine)
    return found if isinstance(found, LastLine) else LastLine(view)
