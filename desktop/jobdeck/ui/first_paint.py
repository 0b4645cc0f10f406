"""Run start-up work that the first window does not need once that window has been painted.

The app shows its window as early as it can and leaves the rest — cleaning up old jobs,
the local API server, desktop integration over D-Bus — until the window's first paint is
on screen (:class:`AfterFirstPaint`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QWidget

__all__ = ["AfterFirstPaint", "paint_first"]


class AfterFirstPaint(QObject):
    """Calls ``then()`` once, on the GUI thread, right after ``widget`` is first painted
    (after the event loop has finished that paint), or after ``fallback_ms`` when it is not
    painted by then (started hidden in the tray; a platform that never paints)."""

    def __init__(self, widget: QWidget, then: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(widget)
        self._widget = widget
        self._then = then
        self.done = False
        #: Whether ``widget`` was painted (False: the fallback's time ran out).
        self.painted = False
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.timeout.connect(self._fire)
        self._fallback.start(fallback_ms)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.done:
            self.painted = True
            self._widget.removeEventFilter(self)
            QTimer.singleShot(0, self._fire)  # once this paint is done
        return False

    def cancel(self) -> None:
        """Never call ``then``."""
        self.done = True
        self._fallback.stop()
        self._widget.removeEventFilter(self)

    def _fire(self) -> None:
        if self.done:
            return
        self.done = True
        self._fallback.stop()
        self._widget.removeEventFilter(self)
        self._then()


def paint_first(widget: QWidget, timeout_ms: int) -> bool:
    """Run the event loop until ``widget`` (shown) has been painted once, or ``timeout_ms``
    have passed, or the application quits: whether it was painted. For a start that shows
    its window before it does the rest of its work."""
    loop = QEventLoop()
    waiter = AfterFirstPaint(widget, loop.quit, timeout_ms)
    loop.exec()
    waiter.cancel()  # (when the application quit first)
    # What the paint queued for right after it (e.g. an observer of the first frame) runs
    # now, not after the work that follows.
    QCoreApplication.processEvents()
    return waiter.painted
