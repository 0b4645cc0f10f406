"""The floating taskbar: a small always-on-top panel with one row per active job.

Longer than most modules: the rows, the coalesced refresh, visibility and the keyboard of one
panel share its state; where it sits on the screen is :mod:`.taskbar_placement`'s.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QKeyEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.job import Job, JobStatus
from ..core.job_source import JobSource
from ..i18n import translate
from ..runtime.feed import JobEvents
from . import icons
from .elided_label import ElidedLabel
from .formatting import format_percent
from .job_row import ConfirmCancel, HistoryFor, JobRow, StalledFor, ask_to_cancel
from .placement import Corner
from .settings_store import SettingsStore
from .taskbar_placement import SCREEN_MARGIN, PlacedPanel

__all__ = ["Corner", "Taskbar", "summary_text"]

#: Frame interval of the coalesced refresh (about 30 per second).
FRAME_MS = 33
#: How long :meth:`Taskbar.focus_rows` waits for the window manager to activate the panel.
ACTIVATION_WAIT_MS = 2000
#: Rows shown when docked in the main window (Wayland without XWayland).
DOCKED_MAX_ROWS = 4


def summary_text(jobs: Iterable[Job]) -> str:
    """``3 jobs · 45%``: the jobs listed (one per row, "+N more" included) and the overall
    percent of the active ones' known totals.

    Finished jobs whose row still shows its outcome count too, said apart (``4 jobs, 1
    ended · 45%``), so that the number always matches the rows: with one job at a time, a
    row that just said "Done" made the header read one job fewer than the rows below it.
    So do the queued ones (``36 jobs, 32 queued · 100%``): the percent is of the started
    ones, and alone it read as if all were done.
    """
    listed = list(jobs)
    active = [j for j in listed if j.status.active]
    ended = len(listed) - len(active)
    if not listed:
        return translate("Taskbar", "No active jobs")
    count = len(listed)  # (a call inside translate()'s arguments hides it from lupdate)
    if not active:
        return translate("Taskbar", "%n job(s) ended", None, count)
    text = translate("Taskbar", "%n job(s)", None, count)
    if ended:
        text += translate("Taskbar", ", {ended} ended").format(ended=ended)
    queued = sum(1 for j in active if j.status is JobStatus.PENDING)
    if queued:  # the percent is of the running ones: "36 jobs · 100%" read as all done
        text += translate("Taskbar", ", {queued} queued").format(queued=queued)
    known = [j for j in active if j.progress.total]
    if known:
        total = sum(j.progress.total for j in known)
        current = sum(min(j.progress.current, j.progress.total) for j in known)
        text += f" \u00b7 {format_percent(100.0 * current / total)}"
    return text


def _sort_key(job: Job) -> tuple[int, str]:
    # Running (and finished rows still showing their outcome) first, then pending; by age.
    return (1 if job.status is JobStatus.PENDING else 0, job.id)


class Taskbar(PlacedPanel):
    """A frameless, always-on-top panel listing running and pending jobs.

    Connects to a JobSignals object (``jobsAdded``, ``jobsChanged``); the tracker is used
    for the clock and to cancel. Signal handlers only record the latest snapshots and mark
    the panel dirty; widgets are updated by one coalescing timer at most ~30 times per
    second, and only the first ``max_rows`` jobs (fewer when the screen is too short) get a
    :class:`JobRow`; the rest are counted in a clickable "+N more" line.

    Finished jobs keep their row, showing the outcome, for ``keep_finished_ms``.

    Placement (:class:`~jobdeck.ui.taskbar_placement.PlacedPanel`): docked in its
    ``corner`` of the screen's available area by default; only a real drag detaches it
    (saved in ``settings``); it stays wholly inside the available area and grows away from
    its anchor.

    Visibility: shown while it has rows to show (or always, with ``always_show``) and the
    user has not turned it off (:meth:`set_enabled`); with nothing left to show it hides
    once the last finished row has gone. While the window given to :meth:`avoid_window` is
    active, the panel moves to a corner clear of it, or hides when there is none.

    Docked mode (``floating=False``, for Wayland without XWayland, where an app cannot place
    its own windows): the same rows as a plain child widget, e.g. inside a QDockWidget of
    the main window (:meth:`MainWindow.dock_taskbar`). It is never moved or dragged, shows
    whenever the user has it on (hiding its QDockWidget otherwise), and keeps no distance
    from any window.

    ``history_for(job)`` gives a job's earlier runs for the rows' learned ETAs (see
    :class:`~jobdeck.core.run_history.RunHistories`); None: ETAs from the live rate only.
    ``stalled_for(job_id)`` says how long a stalled job has been silent (rows show "no
    progress for 12 min"); call :meth:`update_rows` when that changes.

    Keyboard: rows take the focus (Tab and the arrow keys move between them), Enter opens
    a row's job, Delete cancels it after ``confirm_cancel(row, job)`` agrees (a message box
    by default). :meth:`focus_rows` brings the keyboard to the panel.

    Signals (GUI thread): ``jobActivated(job_id)`` when a row is clicked (or Enter is
    pressed on it); ``moreActivated()`` when "+N more" is clicked.
    """

    jobActivated = Signal(str)
    moreActivated = Signal()

    def __init__(
        self,
        signals: JobEvents,
        tracker: JobSource | None = None,
        settings: SettingsStore | None = None,
        corner: Corner | str = Corner.BOTTOM_RIGHT,
        max_rows: int = 6,
        keep_finished_ms: int = 4000,
        type_icons: dict[str, str] | None = None,
        always_show: bool = False,
        parent: QWidget | None = None,
        *,
        floating: bool = True,
        confirm_cancel: ConfirmCancel | None = None,
        history_for: HistoryFor | None = None,
        stalled_for: StalledFor | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"Taskbar max_rows must be at least 1, got {max_rows}")
        if keep_finished_ms < 0:
            raise ValueError(f"Taskbar keep_finished_ms must be >= 0, got {keep_finished_ms}")
        try:
            Corner(corner)
        except ValueError:
            choices = ", ".join(c.value for c in Corner)
            raise ValueError(f"Taskbar corner must be one of {choices}, got {corner!r}") from None
        super().__init__(parent, corner=Corner(corner), settings=settings, floating=floating)
        self._signals = signals
        self._tracker = tracker if tracker is not None else signals.tracker
        #: This app instance's name on a shared board: its own jobs need no "on <name>".
        here = getattr(getattr(self._tracker, "store", None), "instance", None)
        self._here: str | None = here if isinstance(here, str) else None
        self.max_rows = max_rows
        self.keep_finished_ms = keep_finished_ms
        self._always_show = always_show
        self.confirm_cancel: ConfirmCancel = confirm_cancel or ask_to_cancel
        self._history_for = history_for
        self._stalled_for = stalled_for
        self._enabled = False  # the app (or a test) turns it on with set_enabled / show
        self._type_icons = dict(type_icons or {})
        self._jobs: dict[str, Job] = {}
        self._leaving: set[str] = set()
        self._rows: dict[str, JobRow] = {}
        self._hidden = 0  # jobs listed without a row, as last drawn
        self._collapsed = False
        probe = JobRow(self._spinner_for_probe(), None)
        self._row_height = probe.sizeHint().height()  # rows are all alike: measure once
        probe.deleteLater()
        self.refresh_count = 0  # how many coalesced refreshes ran (for tests and profiling)

        if self._floating:
            self.setWindowFlags(
                Qt.WindowType.Tool
                | Qt.WindowType.FramelessWindowHint
                | Qt.WindowType.WindowStaysOnTopHint
            )
            self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
            self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
            self.setFixedWidth(380)
        else:
            self.setMinimumWidth(300)
        self.setWindowTitle(translate("Taskbar", "Jobdeck jobs"))
        self.setAccessibleName(translate("Taskbar", "Jobdeck jobs"))
        self._spinner = icons.Spinner(self)

        # header: icon, summary, collapse toggle
        self.app_icon_label = QLabel(self)
        self.app_icon_label.setPixmap(icons.pixmap("jobdeck", 18, icons.foreground(self)))
        self.summary_label = ElidedLabel("", self)
        bold = self.summary_label.font()
        bold.setBold(True)
        self.summary_label.setFont(bold)
        self.collapse_button = QToolButton(self)
        self.collapse_button.setAutoRaise(True)
        self.collapse_button.setArrowType(Qt.ArrowType.DownArrow)
        self.collapse_button.setToolTip(translate("Taskbar", "Collapse to a summary line"))
        self.collapse_button.setAccessibleName(translate("Taskbar", "Collapse the job list"))
        self.collapse_button.clicked.connect(lambda: self.set_collapsed(not self._collapsed))
        header = QHBoxLayout()
        header.setContentsMargins(6, 0, 0, 0)
        header.setSpacing(8)
        header.addWidget(self.app_icon_label)
        header.addWidget(self.summary_label, 1)
        header.addWidget(self.collapse_button)

        self.rows_box = QWidget(self)
        self.rows_box.setAccessibleName(translate("Taskbar", "Running jobs"))
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(2)
        self.more_button = QToolButton(self)
        self.more_button.setObjectName("taskbarMore")
        self.more_button.setAutoRaise(True)
        self.more_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.more_button.setToolTip(translate("Taskbar", "Show all active jobs in the main window"))
        self.more_button.clicked.connect(self.moreActivated)
        more_row = QHBoxLayout()
        more_row.setContentsMargins(32, 0, 0, 0)
        more_row.addWidget(self.more_button)
        more_row.addStretch(1)
        self.empty_label = QLabel(translate("Taskbar", "Nothing running"), self)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty_label.setContentsMargins(38, 2, 0, 2)

        self.panel = QFrame(self)
        self.panel.setObjectName("taskbarPanel")
        outer = self._outer_layout = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.panel)
        self._style_panel()
        layout = self._panel_layout = QVBoxLayout(self.panel)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.rows_box)
        layout.addLayout(more_row)
        layout.addWidget(self.empty_label)
        self._header = header

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(FRAME_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self._tick_clock)
        self._idle_timer = QTimer(self)  # hides a panel revealed with nothing to show
        self._idle_timer.setSingleShot(True)
        self._idle_timer.timeout.connect(self._update_visibility)

        signals.jobsAdded.connect(self._on_jobs_added)
        signals.jobsChanged.connect(self._on_jobs_changed)
        for job in signals.active_jobs():
            self._jobs[job.id] = job
        if self._floating:
            self._restore_position()
            self.winId()  # the native window exists from the start, so screen changes reach it
            self._watch_window()
        self.refresh()

    # --- public state ----------------------------------------------------------------------

    @property
    def floating(self) -> bool:
        """True for the floating panel; False when the rows live inside another window."""
        return self._floating

    def focus_rows(self) -> bool:
        """Bring the keyboard here: show and activate the panel and focus its first row
        (else its first button). False when the user turned the taskbar off."""
        if not self._enabled:
            return False
        rows = self.rows()
        target: QWidget = rows[0] if rows else self.collapse_button
        activate = self._floating and not self.isActiveWindow()
        if activate:
            # The window manager activates the panel later: focus the row then too (a window
            # shown just now gives the focus to its first button), and meanwhile keep out of
            # no window's way (the one the keyboard comes from is still active).
            self._focus_on_activation = target
        self._out_of_the_way = False
        if not self._jobs:  # nothing to show: stay up a while, like a reveal
            self._idle_timer.start(max(self.keep_finished_ms, 1500))
        self._update_visibility()
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if activate:
            self.raise_()
            self.activateWindow()
            QTimer.singleShot(ACTIVATION_WAIT_MS, self, self._give_up_activation)
        return True

    def _give_up_activation(self) -> None:
        """The window manager did not activate the panel (focus stealing prevention): the
        panel goes back to keeping out of the way."""
        if self._focus_on_activation is not None:
            self._focus_on_activation = None
            self._place()

    def is_collapsed(self) -> bool:
        return self._collapsed

    def is_enabled_by_user(self) -> bool:
        """False when the user turned the taskbar off (tray menu, View menu)."""
        return self._enabled

    @property
    def always_show(self) -> bool:
        return self._always_show

    @always_show.setter
    def always_show(self, value: bool) -> None:
        self._always_show = bool(value)
        self._update_visibility()

    def is_out_of_the_way(self) -> bool:
        """True while hidden because the avoided (main) window is active and leaves no room."""
        return self._out_of_the_way

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
        """How many listed jobs have no row (the "+N more"), as of the last refresh: like
        the header and the rows, it changes only when they are redrawn."""
        return self._hidden

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
        if collapsed:
            self.collapse_button.setToolTip(translate("Taskbar", "Show all jobs"))
            self.collapse_button.setAccessibleName(translate("Taskbar", "Expand the job list"))
        else:
            self.collapse_button.setToolTip(translate("Taskbar", "Collapse to a summary line"))
            self.collapse_button.setAccessibleName(translate("Taskbar", "Collapse the job list"))
        self.refresh()

    def set_enabled(self, enabled: bool, *, reveal: bool = False) -> None:
        """Turn the taskbar on or off (the user's choice). With ``reveal``, an enabled
        panel shows even with nothing to show, for ``keep_finished_ms``."""
        self._enabled = bool(enabled)
        if enabled and reveal and not self._jobs:
            self._idle_timer.start(max(self.keep_finished_ms, 1500))
        elif not enabled:
            self._idle_timer.stop()
        self._update_visibility()

    def should_be_visible(self) -> bool:
        """Whether the panel ought to be on screen now (see the class docstring)."""
        if not self._floating:
            return self._enabled
        if not self._enabled or self._out_of_the_way:
            return False
        return bool(self._jobs) or self._always_show or self._idle_timer.isActive()

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

    def update_rows(self) -> None:
        """Show the rows again soon (something they show besides the jobs changed)."""
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
        visible = [] if self._collapsed else ordered[: self._row_limit()]
        visible_ids = [j.id for j in visible]

        shown_before = [r.job_id for r in self.rows()]
        focused_at: int | None = None
        for job_id in list(self._rows):
            if job_id not in visible_ids:
                gone = self._rows.pop(job_id)
                if gone.hasFocus() and job_id in shown_before:
                    focused_at = shown_before.index(job_id)
                self.rows_layout.removeWidget(gone)
                gone.hide()
                gone.deleteLater()
        for job in visible:
            row = self._rows.get(job.id)
            if row is None:
                row = JobRow(
                    self._spinner,
                    self._type_icons.get(job.type),
                    self.rows_box,
                    confirm_cancel=self._confirm_cancel,
                    history_for=self._history_for,
                    stalled_for=self._stalled_for,
                )
                row.here = self._here
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
            self._order_tab_stops()
        if focused_at is not None:  # the focused row left: the keyboard stays in the list
            rows = self.rows()
            target: QWidget = rows[min(focused_at, len(rows) - 1)] if rows else self
            target.setFocus(Qt.FocusReason.OtherFocusReason)

        hidden = self._hidden = len(ordered) - len(visible)
        self.summary_label.set_full_text(summary_text(ordered))
        self.rows_box.setVisible(bool(visible))
        self.more_button.setVisible(not self._collapsed and hidden > 0)
        self.more_button.setText(translate("Taskbar", "+{count} more\u2026").format(count=hidden))
        self.empty_label.setVisible(not self._collapsed and not ordered)
        if visible and not self._clock_timer.isActive():
            self._clock_timer.start()
        elif not visible:
            self._clock_timer.stop()
        self._panel_layout.activate()  # now, not at the next LayoutRequest: sizes are current
        self._outer_layout.activate()
        self._place()
        self._update_visibility()

    def _row_limit(self) -> int:
        """How many rows fit: ``max_rows``, fewer when the screen area is too short."""
        if not self._floating:  # a dock shares its window's height: a few rows, "+N more"
            return min(self.max_rows, DOCKED_MAX_ROWS)
        layout = self._panel_layout
        margins = layout.contentsMargins()
        spacing = layout.spacing()
        chrome = (
            margins.top()
            + margins.bottom()
            + self._header.sizeHint().height()
            + self.more_button.sizeHint().height()
            + 2 * spacing
        )
        room = self.available_area().height() - 2 * SCREEN_MARGIN - chrome
        step = self._row_height + self.rows_layout.spacing()
        return max(1, min(self.max_rows, (room + self.rows_layout.spacing()) // step))

    @staticmethod
    def _spinner_for_probe() -> icons.Spinner:
        return icons.Spinner()

    def _tick_clock(self) -> None:
        now = self._tracker.now()
        for row in self._rows.values():
            row.refresh_time(now)

    def _cancel(self, job_id: str) -> None:
        self._tracker.cancel_job(job_id)

    def _confirm_cancel(self, row: QWidget, job: Job) -> bool:
        return self.confirm_cancel(row, job)

    def _order_tab_stops(self) -> None:
        """Tab goes through the rows top to bottom (not in the order they were made)."""
        chain: list[QWidget] = [self.collapse_button, *self.rows(), self.more_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Up and Down move the focus between rows (Tab does too)."""
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            rows = self.rows()
            focused = QApplication.focusWidget()
            if rows:
                index = rows.index(focused) if focused in rows else -1
                step = 1 if key == Qt.Key.Key_Down else -1
                index = max(0, min(len(rows) - 1, index + step)) if index >= 0 else 0
                rows[index].setFocus(Qt.FocusReason.TabFocusReason)
                event.accept()
                return
        super().keyPressEvent(event)

    # --- visibility ------------------------------------------------------------------------

    def _update_visibility(self) -> None:
        want = self.should_be_visible()
        dock = self._dock()
        if dock is not None:  # docked: the dock widget shows or hides with the rows
            if want == dock.isHidden():
                dock.setVisible(want)
            if self.isHidden():
                super().setVisible(True)
            return
        if want and not self.isVisible():
            super().setVisible(True)
        elif not want and self.isVisible():
            super().setVisible(False)

    def _dock(self) -> QDockWidget | None:
        parent = self.parentWidget()
        return parent if not self._floating and isinstance(parent, QDockWidget) else None

    def setVisible(self, visible: bool) -> None:
        """``show()`` / ``hide()`` turn the taskbar on or off, like :meth:`set_enabled`
        (docked, they show or hide it within its window)."""
        if not self._floating:
            super().setVisible(visible)
            return
        self.set_enabled(visible)

    # --- look ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing for good (not hiding): stop the timers and the spinner, so nothing fires
        for this panel once it is gone."""
        self._refresh_timer.stop()
        self._clock_timer.stop()
        self._idle_timer.stop()
        self._spinner.stop()
        if self._avoided is not None:
            self._avoided.removeEventFilter(self)
            self._avoided = None
        super().closeEvent(event)

    def _style_panel(self) -> None:
        """Rounded, nearly opaque panel in the palette's colours, drawn by Qt's style sheet
        engine (C++), so repaints run no Python."""
        palette = self.palette()
        bg = palette.color(QPalette.ColorRole.Window)
        fg = palette.color(QPalette.ColorRole.WindowText)
        link = palette.color(QPalette.ColorRole.Link)
        focus = palette.color(QPalette.ColorRole.Highlight)
        if self._floating:
            panel = (
                f" background-color: rgba({bg.red()}, {bg.green()}, {bg.blue()}, 242);"
                f" border: 1px solid rgba({fg.red()}, {fg.green()}, {fg.blue()}, 40);"
                " border-radius: 10px;"
            )
        else:
            panel = " background: transparent; border: none;"
        self.panel.setStyleSheet(
            f"#taskbarPanel {{{panel} }}"
            f"#taskbarMore {{ color: {link.name()}; border: none; padding: 1px 4px; }}"
            "#taskbarMore:hover { text-decoration: underline; }"
            "#taskbarMore:focus { text-decoration: underline; }"
            "#JobRow { border: 1px solid transparent; border-radius: 6px; }"
            f"#JobRow:focus {{ background-color: rgba({focus.red()}, {focus.green()},"
            f" {focus.blue()}, 48); border-color: {focus.name()}; }}"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            target, self._focus_on_activation = self._focus_on_activation, None
            if target is not None:
                with contextlib.suppress(RuntimeError):  # the row may be gone by now
                    target.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_panel()
            self.app_icon_label.setPixmap(icons.pixmap("jobdeck", 18, icons.foreground(self)))
