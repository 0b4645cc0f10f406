"""The floating taskbar: a small always-on-top panel with one row per active job."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QGuiApplication,
    QMouseEvent,
    QPalette,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..core.job import Job, JobStatus
from . import icons
from .elided_label import ElidedLabel
from .formatting import format_percent
from .job_row import JobRow

__all__ = ["Corner", "Taskbar", "summary_text"]

#: Frame interval of the coalesced refresh (about 30 per second).
FRAME_MS = 33
SETTINGS_POS_KEY = "taskbar/pos"
SCREEN_MARGIN = 16


class Corner(StrEnum):
    """Where on the screen the taskbar starts."""

    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"


class Settings(Protocol):
    """The part of QSettings the taskbar uses."""

    def value(self, key: str, defaultValue: Any = ...) -> Any: ...

    def setValue(self, key: str, value: Any) -> None: ...


def summary_text(jobs: Iterable[Job]) -> str:
    """``3 jobs · 45%``: active jobs and the overall percent of the known totals."""
    active = [j for j in jobs if j.status.active]
    if not active:
        return "No active jobs"
    noun = "job" if len(active) == 1 else "jobs"
    known = [j for j in active if j.progress.total]
    text = f"{len(active)} {noun}"
    if known:
        total = sum(j.progress.total for j in known)
        current = sum(min(j.progress.current, j.progress.total) for j in known)
        text += f" \u00b7 {format_percent(100.0 * current / total)}"
    return text


def _sort_key(job: Job) -> tuple[int, str]:
    # Running (and finished rows still showing their outcome) first, then pending; by age.
    return (1 if job.status is JobStatus.PENDING else 0, job.id)


class Taskbar(QWidget):
    """A frameless, always-on-top panel listing running and pending jobs.

    Connects to a JobSignals object (``jobsAdded``, ``jobsChanged``); the tracker is used
    for the clock and to cancel. Signal handlers only record the latest snapshots and mark
    the panel dirty; widgets are updated by one coalescing timer at most ~30 times per
    second, and only the first ``max_rows`` jobs get a :class:`JobRow` (the rest are
    counted in a "+N more" line), so hundreds of jobs stay cheap.

    Finished jobs keep their row, showing the outcome, for ``keep_finished_ms``.
    The panel can be dragged; its position is saved in ``settings`` (``taskbar/pos``).

    Emits ``jobActivated(job_id)`` (GUI thread) when a row is clicked.
    """

    jobActivated = Signal(str)

    def __init__(
        self,
        signals: Any,
        tracker: Any = None,
        settings: Settings | None = None,
        corner: Corner | str = Corner.BOTTOM_RIGHT,
        max_rows: int = 6,
        keep_finished_ms: int = 4000,
        type_icons: dict[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if max_rows < 1:
            raise ValueError(f"Taskbar max_rows must be at least 1, got {max_rows}")
        if keep_finished_ms < 0:
            raise ValueError(f"Taskbar keep_finished_ms must be >= 0, got {keep_finished_ms}")
        try:
            self._corner = Corner(corner)
        except ValueError:
            choices = ", ".join(c.value for c in Corner)
            raise ValueError(f"Taskbar corner must be one of {choices}, got {corner!r}") from None
        self._signals = signals
        self._tracker = tracker if tracker is not None else signals.tracker
        self._settings = settings
        self.max_rows = max_rows
        self.keep_finished_ms = keep_finished_ms
        self._type_icons = dict(type_icons or {})
        self._jobs: dict[str, Job] = {}
        self._leaving: set[str] = set()
        self._rows: dict[str, JobRow] = {}
        self._collapsed = False
        self._drag_offset: QPoint | None = None
        self._user_placed = False
        self.refresh_count = 0  # how many coalesced refreshes ran (for tests and profiling)

        self.setWindowFlags(
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setWindowTitle("Jobdeck jobs")
        self.setFixedWidth(380)
        self._spinner = icons.Spinner(self)

        # header: icon, summary, collapse toggle
        self.app_icon_label = QLabel(self)
        self.app_icon_label.setPixmap(icons.pixmap("jobdeck", 18))
        self.summary_label = ElidedLabel("", self)
        bold = self.summary_label.font()
        bold.setBold(True)
        self.summary_label.setFont(bold)
        self.collapse_button = QToolButton(self)
        self.collapse_button.setAutoRaise(True)
        self.collapse_button.setArrowType(Qt.ArrowType.DownArrow)
        self.collapse_button.setToolTip("Collapse to a summary line")
        self.collapse_button.clicked.connect(lambda: self.set_collapsed(not self._collapsed))
        header = QHBoxLayout()
        header.setContentsMargins(6, 0, 0, 0)
        header.setSpacing(8)
        header.addWidget(self.app_icon_label)
        header.addWidget(self.summary_label, 1)
        header.addWidget(self.collapse_button)

        self.rows_box = QWidget(self)
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(2)
        self.more_label = QLabel(self)
        self.more_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.more_label.setContentsMargins(38, 0, 0, 0)
        self.empty_label = QLabel("Nothing running", self)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty_label.setContentsMargins(38, 2, 0, 2)

        self.panel = QFrame(self)
        self.panel.setObjectName("taskbarPanel")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.panel)
        self._style_panel()
        layout = QVBoxLayout(self.panel)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.rows_box)
        layout.addWidget(self.more_label)
        layout.addWidget(self.empty_label)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(FRAME_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self._tick_clock)

        signals.jobsAdded.connect(self._on_jobs_added)
        signals.jobsChanged.connect(self._on_jobs_changed)
        for job in signals.active_jobs():
            self._jobs[job.id] = job
        self.refresh()
        self._restore_position()

    # --- public state ----------------------------------------------------------------------

    @property
    def corner(self) -> Corner:
        return self._corner

    def is_collapsed(self) -> bool:
        return self._collapsed

    def job_ids(self) -> list[str]:
        """Ids of all jobs the taskbar tracks (visible or not), in display order."""
        return [j.id for j in sorted(self._jobs.values(), key=_sort_key)]

    def rows(self) -> list[JobRow]:
        """The row widgets currently shown, top to bottom."""
        out = []
        for i in range(self.rows_layout.count()):
            item = self.rows_layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, JobRow):
                out.append(widget)
        return out

    def row_for(self, job_id: str) -> JobRow | None:
        return self._rows.get(job_id)

    def more_count(self) -> int:
        return max(0, len(self._jobs) - self.max_rows)

    def summary(self) -> str:
        return self.summary_label.full_text()

    def set_collapsed(self, collapsed: bool) -> None:
        """Show only the one-line summary (True) or all rows (False)."""
        if collapsed == self._collapsed:
            return
        self._collapsed = collapsed
        self.collapse_button.setArrowType(
            Qt.ArrowType.UpArrow if collapsed else Qt.ArrowType.DownArrow
        )
        self.collapse_button.setToolTip("Show all jobs" if collapsed else "Collapse to a summary")
        self.refresh()

    # --- signal handlers: record and mark dirty --------------------------------------------

    def _on_jobs_added(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status.active:
                self._jobs[job.id] = job
        self._mark_dirty()

    def _on_jobs_changed(self, jobs: list[Job]) -> None:
        for job in jobs:
            known = job.id in self._jobs
            if job.finished:
                if not known:
                    continue
                self._jobs[job.id] = job
                if job.id not in self._leaving:
                    self._leaving.add(job.id)
                    QTimer.singleShot(
                        self.keep_finished_ms, self, lambda jid=job.id: self._remove(jid)
                    )
            elif known or job.status.active:
                self._jobs[job.id] = job
        self._mark_dirty()

    def _remove(self, job_id: str) -> None:
        self._leaving.discard(job_id)
        if self._jobs.pop(job_id, None) is not None:
            self._mark_dirty()

    def _mark_dirty(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    # --- coalesced refresh -----------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the widgets up to date with the recorded snapshots (normally via the timer)."""
        self._refresh_timer.stop()
        self.refresh_count += 1
        now = self._tracker.now()
        ordered = sorted(self._jobs.values(), key=_sort_key)
        visible = [] if self._collapsed else ordered[: self.max_rows]
        visible_ids = [j.id for j in visible]

        for job_id in list(self._rows):
            if job_id not in visible_ids:
                gone = self._rows.pop(job_id)
                self.rows_layout.removeWidget(gone)
                gone.hide()
                gone.deleteLater()
        for job in visible:
            row = self._rows.get(job.id)
            if row is None:
                row = JobRow(self._spinner, self._type_icons.get(job.type), self.rows_box)
                row.cancelRequested.connect(self._cancel)
                row.activated.connect(self.jobActivated)
                self._rows[job.id] = row
            row.set_job(job, now)
        if [r.job_id for r in self.rows()] != visible_ids:
            for job_id in visible_ids:
                self.rows_layout.removeWidget(self._rows[job_id])
            for job_id in visible_ids:
                self.rows_layout.addWidget(self._rows[job_id])
                self._rows[job_id].show()

        hidden = len(ordered) - len(visible)
        self.summary_label.set_full_text(summary_text(ordered))
        self.rows_box.setVisible(bool(visible))
        self.more_label.setVisible(not self._collapsed and hidden > 0)
        self.more_label.setText(f"+{hidden} more")
        self.empty_label.setVisible(not self._collapsed and not ordered)
        if visible and not self._clock_timer.isActive():
            self._clock_timer.start()
        elif not visible:
            self._clock_timer.stop()
        self._fit()

    def _tick_clock(self) -> None:
        now = self._tracker.now()
        for row in self._rows.values():
            row.refresh_time(now)

    def _cancel(self, job_id: str) -> None:
        self._tracker.cancel_job(job_id)

    # --- placement and dragging ------------------------------------------------------------

    def _screen_rect(self) -> QRect:
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 800)

    def _corner_position(self) -> QPoint:
        area = self._screen_rect()
        size = self.sizeHint().expandedTo(self.minimumSize())
        left = self._corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT)
        top = self._corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT)
        x = area.left() + SCREEN_MARGIN if left else area.right() - size.width() - SCREEN_MARGIN
        y = area.top() + SCREEN_MARGIN if top else area.bottom() - size.height() - SCREEN_MARGIN
        return QPoint(x, y)

    def _restore_position(self) -> None:
        saved = self._settings.value(SETTINGS_POS_KEY, None) if self._settings else None
        if isinstance(saved, QPoint):
            self._user_placed = True
            self.move(self._clamped(saved))
        else:
            self.move(self._corner_position())

    def _clamped(self, pos: QPoint) -> QPoint:
        area = self._screen_rect()
        x = min(max(pos.x(), area.left()), max(area.left(), area.right() - self.width()))
        y = min(max(pos.y(), area.top()), max(area.top(), area.bottom() - self.height()))
        return QPoint(x, y)

    def _fit(self) -> None:
        self.adjustSize()
        if not self._user_placed:
            self.move(self._corner_position())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_offset = event.globalPosition().toPoint() - self.pos()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_offset is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.move(event.globalPosition().toPoint() - self._drag_offset)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_offset is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_offset = None
            self._user_placed = True
            if self._settings is not None:
                self._settings.setValue(SETTINGS_POS_KEY, self.pos())
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def set_corner(self, corner: Corner | str) -> None:
        """Move to another screen corner (forgetting a dragged position)."""
        self._corner = Corner(corner)
        self.reset_position()

    def reset_position(self) -> None:
        """Forget a dragged position and go back to the configured corner."""
        self._user_placed = False
        if self._settings is not None:
            self._settings.setValue(SETTINGS_POS_KEY, None)
        self.move(self._corner_position())

    # --- look ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing for good (not hiding): stop the timers and the spinner, so nothing fires
        for this panel once it is gone."""
        self._refresh_timer.stop()
        self._clock_timer.stop()
        self._spinner.stop()
        super().closeEvent(event)

    def _style_panel(self) -> None:
        """Rounded, nearly opaque panel in the palette's colours, drawn by Qt's style sheet
        engine (C++), so repaints run no Python."""
        palette = self.palette()
        bg = palette.color(QPalette.ColorRole.Window)
        fg = palette.color(QPalette.ColorRole.WindowText)
        self.panel.setStyleSheet(
            "#taskbarPanel {"
            f" background-color: rgba({bg.red()}, {bg.green()}, {bg.blue()}, 242);"
            f" border: 1px solid rgba({fg.red()}, {fg.green()}, {fg.blue()}, 40);"
            " border-radius: 10px; }"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_panel()
