"""One job as a compact row: icon, title, message, progress bar, times, cancel button."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6 import QtWidgets
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.eta import EtaEstimate, EtaState, LearnedEta, RunHistory
from ..core.job import Job, JobStatus
from ..i18n import translate
from . import icons
from .colors import BADGE_COLOR, OUTCOME_COLORS
from .elided_label import ElidedLabel
from .eta_text import eta_text, stalled_text, usual_tooltip
from .formatting import (
    error_summary,
    format_duration,
    format_percent,
    starts_text,
    status_text,
    where_text,
)
from .progress_bar import JobProgressBar
from .rate import RateEstimator

__all__ = ["OUTCOME_COLORS", "ConfirmCancel", "JobRow", "ask_to_cancel", "outcome_text"]

#: ``confirm(parent, job) -> bool``: may ``job`` be cancelled? (asked before a key cancels)
ConfirmCancel = Callable[[QWidget, Job], bool]
#: ``history_for(job)``: the recent runs of the job's key, or None (a cached look-up, no SQL).
HistoryFor = Callable[[Job], RunHistory | None]
#: ``stalled_for(job_id)``: seconds a stalled job has been silent, None when it is not stalled.
StalledFor = Callable[[str], float | None]

ICON_SIZE = 24


def _release_quietly(spinner: icons.Spinner, token: object) -> None:
    with contextlib.suppress(RuntimeError):  # the spinner itself may already be gone
        spinner.release(token)


def outcome_text(job: Job) -> str:
    """What a finished job's row says: ``Done``, ``Failed: <message>`` or ``Cancelled``."""
    if job.status is JobStatus.COMPLETED:
        if job.progress.message:
            return translate("JobRow", "Done: {message}").format(message=job.progress.message)
        return translate("JobRow", "Done")
    if job.status is JobStatus.FAILED:
        # never the last progress message: it may be a stale ETA ("18 s left")
        reason = error_summary(job.error)
        if reason:
            return translate("JobRow", "Failed: {reason}").format(reason=reason)
        return translate("JobRow", "Failed")
    if job.status is JobStatus.CANCELLED:
        return translate("JobRow", "Cancelled")
    return ""


def ask_to_cancel(parent: QWidget, job: Job) -> bool:
    """Ask with a message box whether ``job`` should be cancelled (the default answer:
    keep it running)."""
    QMessageBox = QtWidgets.QMessageBox  # (made, with its enums, when first used)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(translate("JobRow", "Cancel job?"))
    box.setText(translate("JobRow", "Cancel \u201c{title}\u201d?").format(title=job.title))
    box.setInformativeText(translate("JobRow", "The job is asked to stop; this cannot be undone."))
    stop = box.addButton(translate("JobRow", "Cancel job"), QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton(translate("JobRow", "Keep running"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is stop


class JobRow(QWidget):
    """Shows one job (a :class:`Job` snapshot given to :meth:`set_job`).

    Signals (GUI thread): ``cancelRequested(job_id)`` when the cancel button is clicked, or
    Delete is pressed on the focused row and ``confirm_cancel`` agrees; ``activated(job_id)``
    when the row itself is clicked or Enter is pressed on it. The ETA is learned from the
    earlier runs of the job's key when ``history_for`` knows them (:mod:`jobdeck.core.eta`:
    "~4 min, usually" before the first progress, "re-estimating", "longer than usual"), else
    it comes from the rate seen over the last few snapshots; ``spinner`` (shared between
    rows) animates the icon of a running job whose total is unknown.

    Accessibility: the row takes the keyboard focus (Tab moves from row to row); its
    accessible name is the job's title and its description what the row shows; the cancel
    button's name says which job it cancels ("Cancel Copy photos"). A palette change
    repaints its icons in the new colours.
    """

    cancelRequested = Signal(str)
    activated = Signal(str)

    def __init__(
        self,
        spinner: icons.Spinner | None = None,
        type_icon: str | None = None,
        parent: QWidget | None = None,
        confirm_cancel: ConfirmCancel | None = None,
        history_for: HistoryFor | None = None,
        stalled_for: StalledFor | None = None,
    ) -> None:
        super().__init__(parent)
        self._history_for = history_for
        self._stalled_for = stalled_for
        self._learned: LearnedEta | None = None
        self._estimate: EtaEstimate | None = None
        self._spinner = spinner if spinner is not None else icons.Spinner(self)
        self._type_icon = type_icon
        self.confirm_cancel: ConfirmCancel = confirm_cancel or ask_to_cancel
        self._job: Job | None = None
        #: This app instance's name on a shared board (its own jobs need no "on <name>").
        self.here: str | None = None
        self._rate = RateEstimator()
        self._spinning = False
        # Spinner users are tokens, not the row, so a deleted row can still release its hold.
        token = self._spin_token = object()
        spinner_ref = self._spinner
        self.destroyed.connect(lambda *_: _release_quietly(spinner_ref, token))
        self.setObjectName("JobRow")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)  # a style sheet marks focus

        self.icon_label = QLabel(self)
        self.icon_label.setFixedSize(ICON_SIZE, ICON_SIZE)
        self.title_label = ElidedLabel("", self)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.time_label = QLabel(self)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.time_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        # "slower than usual", "no progress for 12 min": hidden while there is nothing to say
        self.badge_label = QLabel(self)
        self.badge_label.setObjectName("jobBadge")
        self.badge_label.hide()
        self.message_label = ElidedLabel("", self)
        small = self.message_label.font()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.9))
        self.message_label.setFont(small)
        self.time_label.setFont(small)
        self.badge_label.setFont(small)
        self.progress_bar = JobProgressBar(self._spinner, self)
        self.progress_bar.setFixedHeight(6)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.setAutoRaise(True)
        # Tab moves from row to row; Delete on a row cancels (the button is for the mouse).
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.setIconSize(QSize(14, 14))
        keep_space = self.cancel_button.sizePolicy()
        keep_space.setRetainSizeWhenHidden(True)  # finished rows keep the column aligned
        self.cancel_button.setSizePolicy(keep_space)
        self.cancel_button.setToolTip(translate("JobRow", "Cancel this job"))
        self.cancel_button.setAccessibleName(translate("JobRow", "Cancel this job"))
        self.cancel_button.setCursor(Qt.CursorShape.ArrowCursor)
        self._paint_cancel_icon()
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.title_label, 1)
        top.addWidget(self.time_label, 0)
        middle = QVBoxLayout()
        middle.setSpacing(3)
        middle.addLayout(top)
        # the message, and the warning badge at its right (the title keeps the top line)
        second = QHBoxLayout()
        second.setSpacing(8)
        second.addWidget(self.message_label, 1)
        second.addWidget(self.badge_label, 0)
        middle.addLayout(second)
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
            self._learned = None
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

    def learned_estimate(self, now: float) -> EtaEstimate | None:
        """The ETA learned from the earlier runs of the job's key as of ``now``; None when
        the job is not running or its key has no earlier successful run (yet)."""
        job = self._job
        if job is None or job.status is not JobStatus.RUNNING or job.started_ts is None:
            return None
        if self._learned is None:
            history = self._history_for(job) if self._history_for is not None else None
            if history is None:
                return None
            self._learned = LearnedEta(history)
        progress = job.progress
        fraction = progress.current / progress.total if progress.total > 0 else None
        return self._learned.update(max(0.0, now - job.started_ts), fraction)

    # --- rendering -------------------------------------------------------------------------

    def _update_texts(self, now: float) -> None:
        job = self._job
        assert job is not None
        self._estimate = None
        self.title_label.set_full_text(job.title or job.type)
        color_role = QPalette.ColorRole.WindowText
        outcome_color = OUTCOME_COLORS.get(job.status)
        if job.finished:
            message = outcome_text(job)
            self.time_label.setText(format_duration(job.duration))
        elif job.cancel_requested:
            message = translate("JobRow", "Cancelling\u2026")
            self.time_label.setText(format_duration(job.elapsed(now)))
        elif job.status is JobStatus.PENDING:
            message = job.progress.message or starts_text(job, now)
            color_role = QPalette.ColorRole.PlaceholderText
            self.time_label.setText(translate("JobRow", "queued"))
        else:
            message = job.progress.message
            parts = []
            where = where_text(job, self.here)
            if where:  # first on the message line: the time line has no room to spare
                message = f"{where} \u00b7 {message}" if message else where
            if job.progress.percent is not None:
                parts.append(format_percent(job.progress.percent))
            parts.append(format_duration(job.elapsed(now)))
            estimate = self._estimate = self.learned_estimate(now)
            eta = None if estimate is not None else self.eta_seconds(now)
            if estimate is not None:
                parts.append(eta_text(estimate))
            elif eta is not None:
                parts.append(
                    translate("JobRow", "{duration} left").format(duration=format_duration(eta))
                )
            self.time_label.setText(" \u00b7 ".join(parts))
        self.message_label.set_full_text(message)
        palette = self.message_label.palette()
        if outcome_color is not None:
            palette.setColor(QPalette.ColorRole.WindowText, outcome_color)
        else:
            palette.setColor(QPalette.ColorRole.WindowText, self.palette().color(color_role))
        self.message_label.setPalette(palette)
        state = status_text(job.status)
        if job.cancel_requested and not job.finished:
            state = translate("JobRow", "{status} (cancel requested)").format(status=state)
        tip = [job.title, state]
        if message:
            tip.append(message)
        badge = self._update_badge(job, now)
        if badge:
            tip.append(badge)
        if self._estimate is not None and self._learned is not None and not job.finished:
            tip.append(usual_tooltip(self._estimate, self._learned.history.runs))
        if job.error and job.error.message and error_summary(job.error) not in message:
            tip.append(error_summary(job.error))
        self.setToolTip("\n".join(tip))
        title = job.title or job.type
        description = ", ".join(p for p in (state, badge, message) if p)
        if self.accessibleName() != title:
            self.setAccessibleName(title)
        if self.accessibleDescription() != description:
            self.setAccessibleDescription(description)
        cancel_name = translate("JobRow", "Cancel {title}").format(title=title)
        if self.cancel_button.accessibleName() != cancel_name:
            self.cancel_button.setAccessibleName(cancel_name)
            self.cancel_button.setToolTip(cancel_name)
        can_cancel = job.status.active and not job.cancel_requested
        self.cancel_button.setVisible(not job.finished)
        self.cancel_button.setEnabled(can_cancel)

    def _update_badge(self, job: Job, now: float) -> str:
        """Show (and return) the row's warning: stalled first, else slower than usual."""
        text = ""
        if job.status is JobStatus.RUNNING:
            silence = self._stalled_for(job.id) if self._stalled_for is not None else None
            if silence is not None:
                text = stalled_text(silence)
            elif (
                self._estimate is not None
                and self._estimate.slower_than_usual
                and self._estimate.state is not EtaState.LONGER_THAN_USUAL  # the ETA says it
            ):
                text = translate("JobRow", "slower than usual")
        if text != self.badge_label.text():
            self.badge_label.setText(text)
            palette = self.badge_label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, BADGE_COLOR)
            self.badge_label.setPalette(palette)
        self.badge_label.setVisible(bool(text))
        return text

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
            self.icon_label.setPixmap(
                icons.pixmap(name, ICON_SIZE, icons.foreground(self), self.devicePixelRatioF())
            )
            return
        type_name = icons.type_icon_name(self._type_icon or job.type)
        if not self._spinning:
            self.icon_label.setPixmap(
                icons.pixmap(type_name, ICON_SIZE, icons.foreground(self), self.devicePixelRatioF())
            )
            return
        self.icon_label.setPixmap(self._busy_icon(type_name))

    def _paint_cancel_icon(self) -> None:
        self.cancel_button.setIcon(icons.icon("cancel", icons.foreground(self)))

    def _busy_icon(self, type_name: str) -> QPixmap:
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        ring = self._spinner.busy_pixmap(ICON_SIZE, accent)
        inner = icons.pixmap(type_name, 12, icons.foreground(self), dpr=2.0)
        painter = QPainter(ring)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(QRectF(6, 6, 12, 12), inner, QRectF(inner.rect()))
        painter.end()
        return ring

    # --- interaction -----------------------------------------------------------------------

    def _on_cancel_clicked(self) -> None:
        if self._job is not None:
            self.cancelRequested.emit(self._job.id)

    def can_cancel(self) -> bool:
        """True while the job is active and no cancel was asked for yet."""
        job = self._job
        return job is not None and job.status.active and not job.cancel_requested

    def request_cancel(self) -> bool:
        """Ask ``confirm_cancel`` and, if it agrees, emit ``cancelRequested``; the answer."""
        job = self._job
        if job is None or not self.can_cancel() or not self.confirm_cancel(self, job):
            return False
        if self._job is None or self._job.id != job.id:
            return False  # the row shows another job by now
        self.cancelRequested.emit(job.id)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self._job:
            self.activated.emit(self._job.id)
            event.accept()
            return
        if key == Qt.Key.Key_Delete and self._job is not None:
            self.request_cancel()
            event.accept()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_cancel_icon()
            self._paint_icon()

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
