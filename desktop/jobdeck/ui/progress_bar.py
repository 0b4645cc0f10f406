"""A progress bar whose busy state (unknown total) is a sliding chunk, never a full bar."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QProgressBar, QWidget

from . import icons

__all__ = ["JobProgressBar"]

#: Width of the busy chunk as a share of the bar.
CHUNK_SHARE = 0.25
STEPS = 1000


def _release_quietly(clock: icons.Spinner, token: object) -> None:
    with contextlib.suppress(RuntimeError):  # the clock itself may already be gone
        clock.release(token)


class JobProgressBar(QProgressBar):
    """Shows a job's progress from 0 to 1 (:meth:`set_fraction`) or that it is busy with an
    unknown total (:meth:`set_busy`).

    Qt's own busy bar (range 0..0) is drawn full width by some styles (Fusion), which reads
    as "done"; here a busy bar is an empty groove with a chunk sliding back and forth. The
    animation follows ``clock`` (a :class:`~jobdeck.ui.icons.Spinner`, shared between bars
    so they move together; one of its own by default), which runs only while a bar is busy.
    """

    def __init__(self, clock: icons.Spinner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, STEPS)
        self.setValue(0)
        self.setTextVisible(False)
        self._clock = clock if clock is not None else icons.Spinner(self)
        self._busy = False
        token = self._token = object()
        clock_ref = self._clock
        self.destroyed.connect(lambda *_: _release_quietly(clock_ref, token))

    def is_busy(self) -> bool:
        return self._busy

    def set_fraction(self, fraction: float) -> None:
        """Show ``fraction`` (0..1) done; leaves the busy state."""
        self.set_busy(False)
        value = round(max(0.0, min(1.0, fraction)) * STEPS)
        if self.value() != value:
            # QProgressBar.setValue repaints at once (and with it a translucent parent);
            # with updates off it only schedules the usual batched repaint.
            self.setUpdatesEnabled(False)
            self.setValue(value)
            self.setUpdatesEnabled(True)

    def set_busy(self, busy: bool) -> None:
        """Busy (True): an empty groove with a sliding chunk. False: back to a plain bar."""
        if busy == self._busy:
            return
        self._busy = busy
        if busy:
            self.setValue(0)
            self._clock.acquire(self._token)
            self._clock.frameChanged.connect(self._on_frame)
        else:
            self._clock.frameChanged.disconnect(self._on_frame)
            self._clock.release(self._token)
        self.update()

    def chunk_rect(self) -> QRect:
        """Where the busy chunk is drawn now (an empty rect when not busy)."""
        if not self._busy:
            return QRect()
        inner = self.rect()
        width = max(4, round(inner.width() * CHUNK_SHARE))
        phase = self._clock.angle / 360.0
        position = 1.0 - abs(2.0 * phase - 1.0)  # 0 -> 1 -> 0
        x = inner.x() + round(position * (inner.width() - width))
        return QRect(x, inner.y(), width, inner.height())

    def _on_frame(self, _angle: int) -> None:
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._busy:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Highlight))
        chunk = self.chunk_rect().adjusted(1, 1, -1, -1)
        radius = min(3.0, chunk.height() / 2)
        painter.drawRoundedRect(chunk, radius, radius)
        painter.end()
