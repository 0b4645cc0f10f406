"""The tray indicator: a painted progress ring, a tooltip of running jobs, a menu, notices."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ..core.job import Job, JobStatus, queued_first
from ..core.job_source import JobSource
from ..i18n import translate
from ..runtime.feed import JobEvents
from . import icons
from .eta_text import stalled_text
from .formatting import error_summary, format_duration, format_percent

__all__ = ["TrayController", "overall_percent"]

ICON_PX = 64
ACCENT = QColor("#2f7ed8")
TOOLTIP_MAX_JOBS = 8
#: The tray icon changes at most this many times a second (each change of a StatusNotifier
#: item's icon or tooltip is a D-Bus signal the panel acts on).
MAX_FPS = 4
FRAME_MS = 1000 // MAX_FPS
#: Degrees the busy ring turns per frame (a turn every two seconds at MAX_FPS).
SPIN_STEP = 45
#: Dashes of the static busy ring (shown when the icon must not animate).
STATIC_DASHES = 8
#: Jobs finishing within this many milliseconds of each other get one notification.
FINISH_BATCH_MS = 700
#: How many job names a notification about several jobs lists.
NAMES_SHOWN = 3


#: ``sender(job_id, title, body, failed)`` shows a notification (see :meth:`set_sender`).
NotificationSender = Callable[[str, str, str, bool], None]


def _names(jobs: list[Job]) -> str:
    names = [j.title or j.type for j in jobs[:NAMES_SHOWN]]
    text = ", ".join(names)
    if len(jobs) > NAMES_SHOWN:
        more = len(jobs) - NAMES_SHOWN
        text = translate("TrayController", "{names} and {count} more").format(
            names=text, count=more
        )
    return text


def overall_percent(jobs: list[Job]) -> float | None:
    """Percent of the summed known totals of ``jobs``; None when no job knows its total."""
    known = [j for j in jobs if j.progress.total]
    if not known:
        return None
    total = sum(j.progress.total for j in known)
    current = sum(min(max(j.progress.current, 0), j.progress.total) for j in known)
    return 100.0 * current / total


def ask_to_cancel_all(jobs: list[Job]) -> bool:
    """Ask with a message box whether all of ``jobs`` (the active ones) should be cancelled
    (the default answer: keep them)."""
    from PySide6.QtWidgets import QMessageBox  # (made, with its enums, when first used)

    count = len(jobs)
    running = sum(1 for job in jobs if job.status is JobStatus.RUNNING)
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(translate("TrayController", "Cancel all jobs?"))
    # (one text: an informative text wraps at the width of a short one, a line a word)
    question = translate("TrayController", "Cancel %n job(s)?", None, count)
    detail = translate(
        "TrayController", "{running} running (asked to stop), {queued} queued."
    ).format(running=running, queued=count - running)
    undone = translate("TrayController", "This cannot be undone.")
    box.setText(f"{question}\n\n{detail}\n{undone}")
    stop = box.addButton(
        translate("TrayController", "Cancel jobs"), QMessageBox.ButtonRole.DestructiveRole
    )
    keep = box.addButton(
        translate("TrayController", "Keep them"), QMessageBox.ButtonRole.RejectRole
    )
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is stop


class TrayController(QObject):
    """Owns the system tray icon (when the platform has a tray) and keeps it current.

    The icon shows a ring of overall progress, a turning ring while only unknown totals
    are running (or, with ``animate`` False, a still dashed ring), and the plain app icon
    when idle. Its tooltip lists the running jobs, after a warning while the store cannot
    save job changes (``signals.storeTroubleChanged``). The icon and tooltip change at most
    :data:`MAX_FPS` times a second, and only when they look different: with a
    StatusNotifier tray each change is a D-Bus signal. A palette change (light <-> dark)
    repaints the icon. Works without a system tray too (``available`` is False):
    :meth:`icon`, :meth:`tooltip` and the menu are still computed, only nothing is shown.

    Signals (GUI thread): ``showWindowRequested()``, ``toggleTaskbarRequested()``,
    ``quitRequested()`` from the menu (whose "Cancel all..." cancels the active jobs once
    ``confirm_cancel_all(jobs)`` agrees: by default a message box, :func:`ask_to_cancel_all`);
    ``jobActivated(job_id)`` when a notification is clicked; ``notified(job_id, title,
    body)`` whenever a notification is raised (job_id is empty for a notice that is about
    no job, see :meth:`tell`).

    Notifications: a failed job, or a completed one that ran at least ``notify_after_s``.
    Jobs that finish together (within ``finish_batch_ms``) share one notification that
    says how many finished and names the failures.
    """

    showWindowRequested = Signal()
    toggleTaskbarRequested = Signal()
    quitRequested = Signal()
    jobActivated = Signal(str)
    notified = Signal(str, str, str)

    def __init__(
        self,
        tracker: JobSource,
        signals: JobEvents,
        notify_after_s: float = 30.0,
        notifications_enabled: bool = True,
        finish_batch_ms: int = FINISH_BATCH_MS,
        animate: bool = True,
        parent: QObject | None = None,
        stalled_for: Callable[[str], float | None] | None = None,
        confirm_cancel_all: Callable[[list[Job]], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self._stalled_for = stalled_for
        #: Asked (with the active jobs) before the menu's "Cancel all..." cancels them.
        self.confirm_cancel_all = confirm_cancel_all or ask_to_cancel_all
        if notify_after_s < 0:
            raise ValueError(f"notify_after_s must be >= 0, got {notify_after_s}")
        self._tracker = tracker
        self._signals = signals
        self.notify_after_s = notify_after_s
        self.notifications_enabled = notifications_enabled
        self._active: dict[str, Job] = {j.id: j for j in signals.active_jobs()}
        self._angle = 0
        self._animate = bool(animate)
        self._last_notified: str | None = None
        self._icon = QIcon()
        self._icon_key: tuple[Any, ...] | None = None
        self._tooltip = ""
        self._store_trouble = signals.store_trouble
        self._sender: NotificationSender | None = None
        self._last_frame = -1e9  # time.monotonic() of the last update
        self.frames = 0  # how many times the icon changed (for tests and profiling)

        self.menu = QMenu()
        self.menu.setAccessibleName(translate("TrayController", "Jobdeck"))
        self.show_window_action = QAction(translate("TrayController", "Show window"), self)
        # A check box, not "Hide taskbar": with nothing running the taskbar is out of
        # the way though turned on, and "Hide" named what the user could not see.
        self.toggle_taskbar_action = QAction(translate("TrayController", "Show taskbar"), self)
        self.toggle_taskbar_action.setCheckable(True)
        self.toggle_taskbar_action.setChecked(True)
        self.cancel_all_action = QAction(translate("TrayController", "Cancel all\u2026"), self)
        self.quit_action = QAction(translate("TrayController", "Quit"), self)
        self.show_window_action.triggered.connect(self.showWindowRequested)
        self.toggle_taskbar_action.triggered.connect(self.toggleTaskbarRequested)
        self.cancel_all_action.triggered.connect(self._cancel_all_asked)
        self.quit_action.triggered.connect(self.quitRequested)
        self.menu.addAction(self.show_window_action)
        self.menu.addAction(self.toggle_taskbar_action)
        self.menu.addSeparator()
        self.menu.addAction(self.cancel_all_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)

        # One single-shot timer paces every change of the icon: changes of the jobs and the
        # busy ring's turning both wait for the next frame, FRAME_MS after the last one.
        self._update_timer = QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.timeout.connect(self._on_frame)
        self._finished_batch: list[Job] = []
        self._batch_timer = QTimer(self)
        self._batch_timer.setSingleShot(True)
        self._batch_timer.setInterval(finish_batch_ms)
        self._batch_timer.timeout.connect(self._flush_finished)

        self._tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._tray = QSystemTrayIcon(self)
            self._tray.setContextMenu(self.menu)
            self._tray.activated.connect(self._on_tray_activated)
            self._tray.messageClicked.connect(self._on_message_clicked)

        signals.jobsAdded.connect(self._on_jobs)
        signals.jobsChanged.connect(self._on_jobs)
        signals.jobFinished.connect(self._on_job_finished)
        signals.storeTroubleChanged.connect(self._on_store_trouble)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.paletteChanged.connect(self._on_palette_changed)
            app.styleHints().colorSchemeChanged.connect(self._on_palette_changed)
        self.update()
        if self._tray is not None:
            self._tray.show()

    # --- public ----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """True when a system tray exists and the icon is shown in it."""
        return self._tray is not None

    @property
    def tray_icon(self) -> QSystemTrayIcon | None:
        return self._tray

    def icon(self) -> QIcon:
        """The icon as currently painted."""
        return self._icon

    def tooltip(self) -> str:
        return self._tooltip

    def active_jobs(self) -> list[Job]:
        return sorted(self._active.values(), key=lambda j: j.id)

    def set_taskbar_visible(self, visible: bool) -> None:
        """Keep the menu's taskbar entry in step with the taskbar: checked while it is
        turned on (it shows whenever jobs run)."""
        self.toggle_taskbar_action.setChecked(visible)

    @property
    def animate(self) -> bool:
        """Whether a busy ring turns (True) or stays still (a dashed ring)."""
        return self._animate

    @animate.setter
    def animate(self, value: bool) -> None:
        self._animate = bool(value)
        self._schedule_update()

    def is_animating(self) -> bool:
        """True while the icon turns (a job of unknown length runs and animation is on)."""
        return self._animate and self._busy(self.active_jobs())

    def _cancel_all_asked(self) -> None:
        """The menu's "Cancel all...": once ``confirm_cancel_all`` agrees (a misplaced
        click in a tray menu must not stop every job at once)."""
        jobs = list(self._signals.active_jobs())
        if jobs and self.confirm_cancel_all(jobs):
            self.cancel_all()

    def cancel_all(self) -> int:
        """Ask the tracker to cancel every pending or running job (the queued ones first:
        see :func:`~jobdeck.core.job.queued_first`); returns how many."""
        count = 0
        for job in queued_first(self._signals.active_jobs()):
            if self._tracker.cancel_job(job.id):
                count += 1
        return count

    def update(self) -> None:
        """Repaint the icon and rebuild the tooltip from the current jobs, now. The tray
        gets them only when they changed. While the busy ring turns, the next frame is
        due :data:`FRAME_MS` later."""
        self._update_timer.stop()
        self._last_frame = time.monotonic()
        jobs = self.active_jobs()
        animating = self._animate and self._busy(jobs)
        key = self._icon_key_for(jobs, animating)
        if key != self._icon_key:
            self._icon_key = key
            self._icon = QIcon(self.paint_icon(jobs, self._angle, animated=self._animate))
            self.frames += 1
            if self._tray is not None:
                self._tray.setIcon(self._icon)
        tooltip = self._make_tooltip(jobs)
        if self._store_trouble:  # what the user must know first: changes are not saved
            trouble = self._store_trouble.split(";")[0]
            tooltip = f"\u26a0 Jobdeck {trouble}\n{tooltip}"
        if tooltip != self._tooltip:
            self._tooltip = tooltip
            if self._tray is not None:
                self._tray.setToolTip(tooltip)
        self.cancel_all_action.setEnabled(bool(jobs))
        if animating:
            self._update_timer.start(FRAME_MS)

    @staticmethod
    def _busy(jobs: list[Job]) -> bool:
        """Only jobs of unknown length run: the ring shows activity, not an amount."""
        return (
            any(j.status is JobStatus.RUNNING and not j.progress.total for j in jobs)
            and overall_percent(jobs) is None
        )

    def _icon_key_for(self, jobs: list[Job], animating: bool) -> tuple[Any, ...]:
        """What the icon shows: equal keys paint equal icons (so nothing is sent)."""
        if not jobs:
            return ("idle",)
        percent = overall_percent(jobs)
        if percent is not None:
            return ("percent", round(percent))
        if not any(j.status is JobStatus.RUNNING for j in jobs):
            return ("waiting",)
        return ("busy", self._angle if animating else None, self._animate)

    @staticmethod
    def paint_icon(
        jobs: list[Job], angle: int = 0, size: int = ICON_PX, *, animated: bool = True
    ) -> QPixmap:
        """The tray icon for ``jobs``: app icon, plus a progress or busy ring when active.
        A busy ring is a quarter arc at ``angle`` or, when not ``animated``, a still ring
        of dashes."""
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not jobs:
            painter.drawPixmap(0, 0, icons.pixmap("jobdeck", size))
            painter.end()
            return pm
        inner = round(size * 0.56)
        offset = (size - inner) // 2
        painter.drawPixmap(offset, offset, icons.pixmap("jobdeck", inner))
        ring_w = size * 0.13
        rect = QRectF(ring_w / 2, ring_w / 2, size - ring_w, size - ring_w)
        track = QColor(ACCENT)
        track.setAlphaF(0.28)
        pen = QPen(track, ring_w)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.drawEllipse(rect)
        pen.setColor(ACCENT)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        percent = overall_percent(jobs)
        if percent is not None:
            span = round(-360 * 16 * percent / 100)
            if span:
                painter.drawArc(rect, 90 * 16, span)
        elif any(j.status is JobStatus.RUNNING for j in jobs):
            if animated:
                painter.drawArc(rect, (90 - angle) * 16, -90 * 16)
            else:  # still: evenly spaced dashes all round (no amount, no direction)
                step = 360 * 16 // STATIC_DASHES
                for i in range(STATIC_DASHES):
                    painter.drawArc(rect, 90 * 16 - i * step, -step // 3)
        painter.end()
        return pm

    # --- internals -------------------------------------------------------------------------

    def _make_tooltip(self, jobs: list[Job]) -> str:
        if not jobs:
            return translate("TrayController", "Jobdeck \u2014 idle")
        running = [j for j in jobs if j.status is JobStatus.RUNNING]
        pending = len(jobs) - len(running)
        if pending:
            head = translate(
                "TrayController", "Jobdeck \u2014 {running} running, {pending} pending"
            )
        else:
            head = translate("TrayController", "Jobdeck \u2014 {running} running")
        head = head.format(running=len(running), pending=pending)
        percent = overall_percent(jobs)
        if percent is not None:
            head += f" ({format_percent(percent)})"
        lines = [head]
        for job in running[:TOOLTIP_MAX_JOBS]:
            pct = job.progress.percent
            title = job.title if len(job.title) <= 48 else job.title[:47] + "\u2026"
            state = format_percent(pct) if pct is not None else translate("TrayController", "busy")
            silence = self._stalled_for(job.id) if self._stalled_for is not None else None
            if silence is not None:
                state = f"{state}, {stalled_text(silence)}"
            lines.append(f"\u2022 {title} \u2014 {state}")
        if len(running) > TOOLTIP_MAX_JOBS:
            more = len(running) - TOOLTIP_MAX_JOBS
            lines.append(translate("TrayController", "+{count} more").format(count=more))
        return "\n".join(lines)

    def _on_store_trouble(self, message: str) -> None:
        self._store_trouble = message
        self.update()

    def _schedule_update(self) -> None:
        """Update at the next frame: at once when the last one is a frame's time ago."""
        if self._update_timer.isActive():
            return
        since_ms = (time.monotonic() - self._last_frame) * 1000
        self._update_timer.start(max(0, round(FRAME_MS - since_ms)))

    def _on_frame(self) -> None:
        if self._animate and self._busy(self.active_jobs()):
            self._angle = (self._angle + SPIN_STEP) % 360
        self.update()

    def _on_palette_changed(self, *_args: object) -> None:
        self._icon_key = None  # repaint even if the jobs look the same
        self._schedule_update()

    def _on_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status.active:
                self._active[job.id] = job
            else:
                self._active.pop(job.id, None)
        self._schedule_update()

    def _on_job_finished(self, job: Job) -> None:
        self._active.pop(job.id, None)
        self._schedule_update()
        if not self.notifications_enabled or not self._worth_telling(job):
            return
        self._finished_batch.append(job)
        if not self._batch_timer.isActive():
            self._batch_timer.start()

    def _worth_telling(self, job: Job) -> bool:
        if job.status is JobStatus.FAILED:
            return True
        duration = job.duration
        return (
            job.status is JobStatus.COMPLETED
            and duration is not None
            and duration.total_seconds() >= self.notify_after_s
        )

    def _flush_finished(self) -> None:
        """One notification for the jobs that finished together."""
        batch, self._finished_batch = self._finished_batch, []
        if not batch or not self.notifications_enabled:
            return
        if len(batch) == 1:
            self._notify_one(batch[0])
            return
        failed = [j for j in batch if j.status is JobStatus.FAILED]
        count = len(batch)  # (a call inside translate()'s arguments hides it from lupdate)
        title = translate("TrayController", "%n job(s) finished", None, count)
        if failed:
            title = translate("TrayController", "{finished}, {failed} failed").format(
                finished=title, failed=len(failed)
            )
            body = translate("TrayController", "Failed: {names}").format(names=_names(failed))
            done = [j for j in batch if j.status is not JobStatus.FAILED]
            if done:
                body += "\n" + translate("TrayController", "Done: {names}").format(
                    names=_names(done)
                )
            kind = QSystemTrayIcon.MessageIcon.Critical
        else:
            body = translate("TrayController", "Done: {names}").format(names=_names(batch))
            kind = QSystemTrayIcon.MessageIcon.Information
        self._notify((failed or batch)[0].id, title, body, kind)

    def _notify_one(self, job: Job) -> None:
        if job.status is JobStatus.FAILED:
            reason = error_summary(job.error) or translate("TrayController", "no reason given")
            title = translate("TrayController", "Failed: {title}").format(title=job.title)
            self._notify(job.id, title, reason, QSystemTrayIcon.MessageIcon.Critical)
            return
        duration = format_duration(job.duration)
        if job.progress.message:
            body = translate("TrayController", "Finished after {duration}: {message}").format(
                duration=duration, message=job.progress.message
            )
        else:
            body = translate("TrayController", "Finished after {duration}").format(
                duration=duration
            )
        title = translate("TrayController", "Done: {title}").format(title=job.title)
        self._notify(job.id, title, body, QSystemTrayIcon.MessageIcon.Information)

    def notify_stalled(self, job_id: str, seconds: float) -> None:
        """Say once that a job stalled ("no progress for 12 min"), if notifications are on."""
        self.update()
        job = self._active.get(job_id)
        if job is None or not self.notifications_enabled:
            return
        title = translate("TrayController", "Stalled: {title}").format(title=job.title)
        self._notify(job_id, title, stalled_text(seconds), QSystemTrayIcon.MessageIcon.Warning)

    def tell(self, title: str, body: str) -> None:
        """A one-off notice that is about no job (e.g. "still running in the tray")."""
        self._notify("", title, body, QSystemTrayIcon.MessageIcon.Information)

    def set_sender(self, sender: NotificationSender | None) -> None:
        """Send notifications through ``sender(job_id, title, body, failed)`` (the desktop's
        notification server) instead of the tray's own balloon; None restores the balloon."""
        self._sender = sender

    def show_balloon(self, title: str, body: str, critical: bool = False) -> None:
        """The tray's own balloon: the last resort when no notification server answers."""
        if self._tray is not None:
            kind = (
                QSystemTrayIcon.MessageIcon.Critical
                if critical
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._tray.showMessage(title, body, kind, 8000)

    def _notify(
        self, job_id: str, title: str, body: str, kind: QSystemTrayIcon.MessageIcon
    ) -> None:
        self._last_notified = job_id or None
        critical = kind is QSystemTrayIcon.MessageIcon.Critical
        if self._sender is not None:
            self._sender(job_id, title, body, critical)
        else:
            self.show_balloon(title, body, critical)
        self.notified.emit(job_id, title, body)

    def _on_message_clicked(self) -> None:
        if self._last_notified is not None:
            self.jobActivated.emit(self._last_notified)

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.showWindowRequested.emit()

    def dispose(self) -> None:
        """Hide the tray icon (call before quitting so no ghost icon stays behind) and stop
        the animation timers."""
        self._update_timer.stop()
        self._batch_timer.stop()
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            for signal in (app.paletteChanged, app.styleHints().colorSchemeChanged):
                with contextlib.suppress(RuntimeError, TypeError):
                    signal.disconnect(self._on_palette_changed)
        if self._tray is not None:
            self._tray.hide()
        self.menu.deleteLater()
