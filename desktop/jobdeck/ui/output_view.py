"""The end of a process job's output, read from its log file and followed while it runs."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QHideEvent, QShowEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ..i18n import translate
from ..runtime.log_tail import LogTail, last_lines
from .last_line import follow_last_line

__all__ = ["FOLLOW_INTERVAL_MS", "OUTPUT_LINES", "OutputView"]

#: How many of the output's last lines the view shows when it (re)loads.
OUTPUT_LINES = 500
#: The most lines it keeps while it follows (older ones scroll away).
OUTPUT_MAX_LINES = 5000
#: How often a running job's output is looked at while the view is shown.
FOLLOW_INTERVAL_MS = 500


class OutputView(QPlainTextEdit):
    """A read-only view of the last lines of a job's output file (the program's own
    output, as a terminal would show it: ANSI escapes stripped, ``\\r`` redraws as lines).

    It reads the file only while it is shown, at a bounded cost whatever the program
    prints: on showing, the last :data:`OUTPUT_LINES` lines (read from the file's end);
    then, while the job runs, every :data:`FOLLOW_INTERVAL_MS` ms, what is new when it is a
    few lines, or the last lines again when the program printed more (see
    :class:`~jobdeck.runtime.log_tail.LogTail`). Nothing is copied into the store for it.
    GUI thread only; emits no signals.
    """

    def __init__(self, font: QFont, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setMaximumBlockCount(OUTPUT_MAX_LINES)
        self.setAccessibleName(translate("OutputView", "Program output"))
        self._path: str | None = None
        self._live = False
        #: True when the job ran a program that printed nothing (so it has no file).
        self._no_output = False
        self._tail: LogTail | None = None  # None: (re)load from the end when next shown
        self._timer = QTimer(self)
        self._timer.setInterval(FOLLOW_INTERVAL_MS)
        self._timer.timeout.connect(self.follow)

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def live(self) -> bool:
        """True while the view follows a running job's output."""
        return self._live

    def show_file(self, path: str | None, *, live: bool, no_output: bool = False) -> None:
        """Show the output file at ``path`` (None: none); ``live`` while its job runs;
        ``no_output``: (with no path) its program ran and printed nothing. A job that has
        just ended gets one last look at its output."""
        self._no_output = no_output
        if path != self._path:
            self._path = path
            self._close_tail()
            self.clear()
        ended = self._live and not live
        self._live = live
        if not self.isVisible():
            if ended:
                self._close_tail()  # its final output is read when the view is shown
            return
        if self._tail is None:
            self.reload()
        elif ended:
            self.follow()
        self._arm()

    def reload(self) -> None:
        """Show the last :data:`OUTPUT_LINES` lines of the file and follow it from its end."""
        self._close_tail()
        path = self._path
        if path is None:
            self.setPlaceholderText(
                translate("OutputView", "No output: the program printed nothing.")
                if self._no_output
                else translate("OutputView", "This job has no output file.")
            )
            self.clear()
            return
        if not os.path.exists(path):
            self.setPlaceholderText(
                translate("OutputView", "No output yet: {path}").format(path=path)
                if self._live
                else translate("OutputView", "The output file is gone: {path}").format(path=path)
            )
            self.clear()
            self._tail = LogTail(path, 0) if self._live else None
            return
        self.setPlaceholderText(translate("OutputView", "The program printed nothing."))
        end = _end_of_last_line(path)
        self._tail = LogTail(path, end)  # an unfinished last line comes with what follows
        lines = last_lines(path, OUTPUT_LINES, end=end)
        self.setPlainText("\n".join(lines))
        follow_last_line(self).show()  # (not moveCursor(End): see last_line)

    def follow(self) -> None:
        """Add what the program printed since the last look (or show its latest lines again
        when it printed more than can be followed line by line)."""
        tail = self._tail
        if tail is None:
            self.reload()
            return
        lines = tail.read()
        skipped = tail.skipped
        if not self._live:
            lines += tail.finish()  # the last, unterminated line of an ended program
            skipped = skipped or tail.skipped
        if skipped:
            self.reload()
            return
        if not lines:
            return
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.appendPlainText("\n".join(lines))
        if at_end:
            bar.setValue(bar.maximum())

    def _arm(self) -> None:
        if self._live and self.isVisible() and self._path is not None:
            self._timer.start()
        else:
            self._timer.stop()

    def _close_tail(self) -> None:
        if self._tail is not None:
            self._tail.close()
            self._tail = None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._tail is None or self._live:
            self.follow()
        self._arm()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()


def _end_of_last_line(path: str) -> int:
    """Where the last complete line of the file at ``path`` ends: after its last line
    break within the last 64 KB (else where those 64 KB begin; 0 when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            begin = max(0, size - 64 * 1024)
            data = os.pread(f.fileno(), size - begin, begin)
    except OSError:
        return 0
    cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
    return begin + cut + 1 if cut >= 0 else begin
