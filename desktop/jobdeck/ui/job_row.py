"""One job as a compact row: icon, title, message, progress bar, times, cancel button."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.job import Job, JobStatus
from . import icons
from .elided_label import ElidedLabel
from .formatting import error_summary, format_duration, format_percent
from .progress_bar import JobProgressBar
from .rate import RateEstimator

__all__ = ["OUTCOME_COLORS", "JobRow", "outcome_text"]

ICON_SIZE = 24

#: Colours of finished outcomes (readable on light and dark backgrounds).
OUTCOME_COLORS = {
    JobStatus.COMPLETED: QColor("#2e9d57"),
    JobStatus.FAILED: QColor("#d64545"),
}


def _release_quietly(spinner: icons.Spinner, token: object) -> None:
    with contextlib.suppress(RuntimeError):  # the spinner itself may already be gone
        spinner.release(token)


def outcome_text(job: Job) -> str:
    """What a finished job's row says: ``Done``, ``Failed: <message>`` or ``Cancelled``."""
    if job.status is JobStatus.COMPLETED:
        return "Done" + (f": {job.progress.message}" if job.progress.message else "")
    if job.status is JobStatus.FAILED:
        # never the last progress message: it may be a stale ETA ("18 s left")
        reason = error_summary(job.error)
        return f"Failed: {reason}" if reason else "Failed"
    if job.status is JobStatus.CANCELLED:
        return "Cancelled"
    return ""


class JobRow(QWidget):
    """Shows one job (a :class:`Job` snapshot given to :meth:`set_job`).

    Signals (GUI thread): ``cancelRequested(job_id)`` when the cancel button is clicked,
    ``activated(job_id)`` when the row itself is clicked. The ETA comes from the rate seen
    over the last few snapshots; ``spinner`` (shared between rows) animates the icon of a
    running job whose total is unknown.
    """

    cancelRequested = Signal(str)
    activated = Signal(str)

    def __init__(
        self,
        spinner: icons.Spinner | None = None,
        type_icon: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._spinner = spinner if spinner is not None else icons.Spinner(self)
        self._type_icon = type_icon
        self._job: Job | None = None
        self._rate = RateEstimator()
        self._spinning = False
        # Spinner users are tokens, not the row, so a deleted row can still release its hold.
        token = self._spin_token = object()
        spinner_ref = self._spinner
        self.destroyed.connect(lambda *_: _release_quietly(spinner_ref, token))
        self.setObjectName("JobRow")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.icon_label = QLabel(self)
        self.icon_label.setFixedSize(ICON_SIZE, ICON_SIZE)
        self.title_label = ElidedLabel("", self)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.time_label = QLabel(self)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.time_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.message_label = ElidedLabel("", self)
        small = self.message_label.font()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.9))
        self.message_label.setFont(small)
        self.time_label.setFont(small)
        self.progress_bar = JobProgressBar(self._spinner, self)
        self.progress_bar.setFixedHeight(6)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setIcon(icons.icon("cancel"))
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setIconSize(QSize(14, 14))
        keep_space = self.cancel_button.sizePolicy()
        keep_space.setRetainSizeWhenHidden(True)  # finished rows keep the column aligned
        self.cancel_button.setSizePolicy(keep_space)
        self.cancel_button.setToolTip("Cancel this job")
        self.cancel_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.title_label, 1)
        top.addWidget(self.time_label, 0)
        middle = QVBoxLayout()
        middle.setSpacing(3)
        middle.addLayout(top)
        middle.addWidget(self.message_label)
        middle.addWidget(self.progress_bar)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 5, 2, 5)
        outer.setSpacing(8)
        outer.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(middle, 1)
        outer.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)

    # --- state -----------------------------------------------------------------------------

    @property
    def job(self) -> Job | None:
        return self._job

    @property
    def job_id(self) -> str | None:
        return self._job.id if self._job else None

    def eta_seconds(self, now: float) -> float | None:
        """Estimated seconds left for the current job, None when unknown."""
        job = self._job
        if job is None or job.status is not JobStatus.RUNNING or not job.progress.total:
            return None
        return self._rate.eta(job.progress.current, job.progress.total, now)

    def set_type_icon(self, name: str | None) -> None:
        self._type_icon = name
        self._update_icon()

    def set_job(self, job: Job, now: float) -> None:
        """Show ``job`` as of ``now`` (epoch seconds from the tracker's clock)."""
        previous = self._job
        if previous is None or previous.id != job.id or previous.started_ts != job.started_ts:
            self._rate.clear()  # another job, or the same one started again (a retry)
        if job.status is JobStatus.RUNNING and job.progress.total:
            self._rate.add(now, job.progress.current)
        self._job = job
        self._update_texts(now)
        self._update_progress()
        self._update_icon()

    def refresh_time(self, now: float) -> None:
        """Update elapsed time and ETA without a new snapshot."""
        if self._job is not None:
            self._update_texts(now)

    # --- rendering -------------------------------------------------------------------------

    def _update_texts(self, now: float) -> None:
        job = self._job
        assert job is not None
        self.title_label.set_full_text(job.title or job.type)
        color_role = QPalette.ColorRole.WindowText
        outcome_color = OUTCOME_COLORS.get(job.status)
        if job.finished:
            message = outcome_text(job)
            self.time_label.setText(format_duration(job.duration))
        elif job.cancel_requested:
            message = "Cancelling\u2026"
            self.time_label.setText(format_duration(job.elapsed(now)))
        elif job.status is JobStatus.PENDING:
            message = job.progress.message or "Waiting to start\u2026"
            color_role = QPalette.ColorRole.PlaceholderText
            self.time_label.setText("queued")
        else:
            message = job.progress.message
            parts = []
            if job.progress.percent is not None:
                parts.append(format_percent(job.progress.percent))
            parts.append(format_duration(job.elapsed(now)))
            eta = self.eta_seconds(now)
            if eta is not None:
                parts.append(f"{format_duration(eta)} left")
            self.time_label.setText(" \u00b7 ".join(parts))
        self.message_label.set_full_text(message)
        palette = self.message_label.palette()
        if outcome_color is not None:
            palette.setColor(QPalette.ColorRole.WindowText, outcome_color)
        else:
            palette.setColor(QPalette.ColorRole.WindowText, self.palette().color(color_role))
        self.message_label.setPalette(palette)
        tip = [
            job.title,
            f"{job.status.value}" + (" (cancel requested)" if job.cancel_requested else ""),
        ]
        if message:
            tip.append(message)
        if job.error and job.error.message and error_summary(job.error) not in message:
            tip.append(error_summary(job.error))
        self.setToolTip("\n".join(tip))
        can_cancel = job.status.active and not job.cancel_requested
        self.cancel_button.setVisible(not job.finished)
        self.cancel_button.setEnabled(can_cancel)

    def _update_progress(self) -> None:
        job = self._job
        assert job is not None
        bar = self.progress_bar
        percent = job.progress.percent
        if job.status is JobStatus.RUNNING and percent is None:
            bar.set_busy(True)
            return
        if job.status is JobStatus.COMPLETED:
            bar.set_fraction(1.0)
        else:
            bar.set_fraction((percent or 0.0) / 100.0)
        bar.setEnabled(not job.finished or job.status is JobStatus.COMPLETED)

    def _wants_spinner(self) -> bool:
        job = self._job
        return job is not None and job.status is JobStatus.RUNNING and job.progress.percent is None

    def is_spinning(self) -> bool:
        """True while the icon is animated (running job, unknown total)."""
        return self._spinning

    def _update_icon(self) -> None:
        spin = self._wants_spinner()
        if spin != self._spinning:
            self._spinning = spin
            if spin:
                self._spinner.acquire(self._spin_token)
                self._spinner.frameChanged.connect(self._on_frame)
            else:
                self._spinner.frameChanged.disconnect(self._on_frame)
                self._spinner.release(self._spin_token)
        self._paint_icon()

    def _on_frame(self, _angle: int) -> None:
        self._paint_icon()

    def _paint_icon(self) -> None:
        job = self._job
        if job is None:
            return
        if job.finished or job.status is JobStatus.PENDING:
            name = {
                JobStatus.COMPLETED: "done",
                JobStatus.FAILED: "failed",
                JobStatus.CANCELLED: "cancelled",
                JobStatus.PENDING: "pending",
            }[job.status]
            self.icon_label.setPixmap(icons.pixmap(name, ICON_SIZE, dpr=self.devicePixelRatioF()))
            return
        type_name = icons.type_icon_name(self._type_icon or job.type)
        if not self._spinning:
            self.icon_label.setPixmap(
                icons.pixmap(type_name, ICON_SIZE, dpr=self.devicePixelRatioF())
            )
            return
        self.icon_label.setPixmap(self._busy_icon(type_name))

    def _busy_icon(self, type_name: str) -> QPixmap:
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        ring = self._spinner.busy_pixmap(ICON_SIZE, accent)
        inner = icons.pixmap(type_name, 12, dpr=2.0)
        painter = QPainter(ring)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(QRectF(6, 6, 12, 12), inner, QRectF(inner.rect()))
        painter.end()
        return ring

    # --- interaction -----------------------------------------------------------------------

    def _on_cancel_clicked(self) -> None:
        if self._job is not None:
            self.cancelRequested.emit(self._job.id)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        inside = self.rect().contains(QPointF(event.position()).toPoint())
        if event.button() == Qt.MouseButton.LeftButton and inside and self._job is not None:
            self.activated.emit(self._job.id)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        # Accept so the click is ours (a parent panel would otherwise start a drag).
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            return
        super().mousePressEvent(event)
