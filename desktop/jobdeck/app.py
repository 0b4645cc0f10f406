"""The composition root: Store -> Tracker -> Runner -> JobSignals -> UI (and the API), and the
app's lifetime. (Longer than most modules: it wires every part once — the desktop app, the
windowless service and their start and quit — and holds no logic of its own beyond that.)

The desktop app starts progressively (:func:`run_app`): the main window is built on a store
that is not open yet (:class:`~jobdeck.core.unopened.UnopenedStore`: "Opening history…",
nothing to launch) and painted first; then the store's modules are imported, the store is
opened and everything that follows its jobs is built and attached to the window
(:meth:`JobdeckApp.open_store`).

Nothing else in Jobdeck builds the object graph. :class:`JobdeckApp` owns every long-lived
object and tears them down in reverse order on quit: the runner stops (cancelling running
jobs, or leaving process jobs running in the background when the user chose so), the
signals bridge closes, the tracker flushes and closes the store. On the next start, process
jobs that outlived the app are re-attached.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import shiboken6
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QWidget

from jobdeck.api.launch import (
    NotAnswering,
    claim_start,
    show_running_app,
    wait_and_show_running_app,
    wait_for_starting_app,
)
from jobdeck.api.options import ApiOptions, Listen
from jobdeck.api.paths import ApiPaths
from jobdeck.core.job_status import JobStatus
from jobdeck.core.registry import JobRegistry
from jobdeck.core.store_errors import StoreError, StoreLocked
from jobdeck.core.unopened import UnopenedStore
from jobdeck.i18n import install_translators, translate
from jobdeck.jobs import builtin_registry
from jobdeck.runtime.feed import NoEventsYet
from jobdeck.runtime.tuning import (
    GUI_SWITCH_INTERVAL,
    GUI_YIELD_EVERY,
    SwitchInterval,
    freeze_startup_objects,
    resume_gc,
)
from jobdeck.settings import AppSettings
from jobdeck.ui.first_paint import AfterFirstPaint, paint_first
from jobdeck.ui.icons import icon
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.quit_choice import QuitChoice
from jobdeck.ui.theme import apply_theme
from jobdeck.ui.wayland import taskbar_floats, use_xwayland

if TYPE_CHECKING:
    import asyncio

    # (imported when the store opens: see JobdeckApp.open_store)
    from PySide6.QtCore import QSocketNotifier
    from PySide6.QtDBus import QDBusConnection

    from jobdeck.api.server import ApiServer
    from jobdeck.core.retention import CleanupResult
    from jobdeck.core.tracker import JobTracker
    from jobdeck.platform.notifications import Urgency
    from jobdeck.runtime.runner import Runner
    from jobdeck.ui.quit_dialog import QuitCounts, QuitDialog  # (when quitting asks)
    from jobdeck.ui.settings_dialog import SettingsValues

log = logging.getLogger(__name__)

__all__ = ["JobdeckApp", "JobdeckService", "QuitChoice", "queue_demo_jobs", "run_service"]


class _CloseToTray(QObject):
    """Turns closing the main window into hiding it while a tray icon can bring it back
    (then calls ``on_hidden``), or into a quit request without a tray."""

    def __init__(
        self,
        tray_available: Callable[[], bool],
        on_last_close: Callable[[], None],
        on_hidden: Callable[[], None] = lambda: None,
    ):
        super().__init__()
        self._tray_available = tray_available
        self._on_last_close = on_last_close
        self._on_hidden = on_hidden
        self.allow_close = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and not self.allow_close:
            assert isinstance(event, QCloseEvent)
            event.ignore()
            if self._tray_available():
                watched.hide()  # type: ignore[attr-defined]
                self._on_hidden()
            else:
                self._on_last_close()
            return True
        return False


#: Start-up work that waits for the first paint starts after this even when none comes.
FIRST_PAINT_FALLBACK_MS = 3000
#: ... and this long after the start when the app starts hidden in the tray.
HIDDEN_START_DELAY_MS = 1000


class JobdeckApp(QObject):
    """Jobdeck's desktop application: builds the object graph and runs until quit.

    Emits ``cleanupFinished(CleanupResult)`` (queued to the GUI thread) when retention's
    clean-up, started once the first window is painted, is over.

    ``confirm_quit(running, processes)`` decides, when ``running`` jobs (``processes`` of
    them external programs) are still running at quit, what to do: a :class:`QuitChoice`;
    by default it asks with a :class:`~jobdeck.ui.quit_dialog.QuitDialog`, which follows the
    jobs while it is open (:attr:`quit_dialog`). ``on_quit`` ends the event loop
    (``QApplication.quit`` by default). ``session_bus`` is where desktop notifications and
    dock progress go (the user's session bus by default; None: no D-Bus, tray balloons).
    ``api`` says where to serve the local API (:mod:`jobdeck.api`); None: not at all.
    ``open_store=False`` builds only the window (see :meth:`show_first_frame` and
    :meth:`open_store`, which must then be called before :meth:`start`).
    """

    cleanupFinished = Signal(object)
    #: The API's module (aiohttp) has been imported on a thread of its own (queued to us).
    _apiModuleImported = Signal()

    def __init__(
        self,
        qapp: QApplication,
        db_path: str | os.PathLike[str] | None = None,
        *,
        registry: JobRegistry | None = None,
        settings: AppSettings | None = None,
        confirm_quit: Callable[[int, int], QuitChoice] | None = None,
        on_quit: Callable[[], None] | None = None,
        session_bus: QDBusConnection | Literal["session"] | None = "session",
        api: ApiOptions | None = None,
        dask: str | None = None,
        open_store: bool = True,
    ) -> None:
        super().__init__()
        self.cleanupFinished.connect(self._cleaned_up)
        self.qapp = qapp
        self._on_quit = on_quit or qapp.quit
        self.settings = settings or AppSettings()
        self.registry = registry or builtin_registry()
        self._confirm_quit = confirm_quit or self._ask_quit
        self._quitting = False
        self._shut_down = False
        #: The quit question while it is open (see :meth:`_ask_quit`).
        self.quit_dialog: QuitDialog | None = None
        self.exit_code = 0
        qapp.setQuitOnLastWindowClosed(False)
        qapp.setWindowIcon(icon("jobdeck"))
        self._db_path = db_path
        self._dask = dask
        self._session_bus = session_bus
        self._api_options = api
        #: The local API server, once started (see :meth:`start`).
        self.api: ApiServer | None = None
        self._signal_notifier: QSocketNotifier | None = None
        self._apiModuleImported.connect(self._start_api, Qt.ConnectionType.QueuedConnection)
        # The app's choice for its whole process: busy job threads leave the GUI its turns.
        self._switch_interval = SwitchInterval(GUI_SWITCH_INTERVAL)
        #: True once :meth:`open_store` has opened the store and built what follows its jobs.
        self.store_open = False
        self._painted_early = False
        #: The window was closed to the tray before the store was open (see _tray_for_close).
        self._closed_while_opening = False
        # The window first shows no jobs ("Opening history…"): it can be painted before the
        # store is imported and opened (see run_app); open_store attaches the store to it.
        self.window = MainWindow(
            UnopenedStore(),
            NoEventsYet(self),
            self.registry,
            self.settings,
            # (the tracker's, made when the Statistics tab first shows: the store is open then)
            stats=lambda: self.tracker.stats(),
        )
        self._close_filter = _CloseToTray(
            self._tray_for_close, self.request_quit, self._hidden_to_tray
        )
        self.window.installEventFilter(self._close_filter)
        self.window.quitRequested.connect(self.request_quit)
        self.window.settingsRequested.connect(self.edit_settings)
        self.window.toggleTaskbarRequested.connect(self.toggle_taskbar)
        self.window.focusTaskbarRequested.connect(self._focus_taskbar)
        if open_store:
            self.open_store()

    def open_store(self) -> None:
        """Open the store (raises :class:`~jobdeck.core.StoreError` when it cannot be
        opened), then build what follows its jobs — the runner, the job feed, the taskbar,
        the tray, desktop integration — and show its jobs in the window.

        The constructor calls this unless told not to (``open_store=False``: the desktop
        app paints its window first). Called once, before :meth:`start`."""
        # Imported here: the window is painted before the store (peewee), the runner
        # (asyncio) and what watches the jobs are imported.
        from jobdeck.core.run_history import RunHistories
        from jobdeck.platform.launcher_entry import LauncherProgress
        from jobdeck.platform.notifications import Notifier
        from jobdeck.platform.sleep_inhibit import SleepInhibitor, session_backends
        from jobdeck.runtime.signals import JobSignals
        from jobdeck.runtime.stall_monitor import StallMonitor
        from jobdeck.ui.job_warnings import JobWarnings
        from jobdeck.ui.taskbar import Taskbar
        from jobdeck.ui.tray import TrayController

        if self.store_open:
            return
        qapp, session_bus = self.qapp, self._session_bus
        self.tracker, self.runner = open_runtime(
            self._db_path, self.registry, self.settings, self._dask
        )
        self.signals = JobSignals(self.tracker)
        self.run_histories = RunHistories(self.tracker)
        self.stalls = StallMonitor(
            self.signals,
            after_s=60.0 * self.settings.stall_after_min,
            by_type={t.name: t.stall_after for t in self.registry if t.stall_after},
            parent=self,
        )
        self.warnings = JobWarnings(self.stalls.silence, self.run_histories.for_job)
        self.window.attach(self.tracker, self.signals, warnings=self.warnings)
        self.taskbar = Taskbar(
            self.signals,
            self.tracker,
            settings=self.settings,
            corner=self.settings.taskbar_corner,
            keep_finished_ms=self.settings.keep_finished_ms,
            type_icons={t.name: t.icon for t in self.registry},
            always_show=self.settings.taskbar_always_show,
            floating=taskbar_floats(qapp.platformName()),  # docked on native Wayland
            history_for=self.run_histories.for_job,
            stalled_for=self.stalls.silence,
        )
        self.taskbar.avoid_window(self.window)
        if not self.taskbar.floating:
            self.window.dock_taskbar(self.taskbar)
        self.tray = TrayController(
            self.tracker,
            self.signals,
            notify_after_s=self.settings.notify_after_s,
            notifications_enabled=self.settings.notifications,
            animate=self.settings.tray_animate,
            stalled_for=self.stalls.silence,
        )
        self.stalls.stallsChanged.connect(self.taskbar.update_rows)
        self.stalls.stallsChanged.connect(self.tray.update)
        self.stalls.stallsChanged.connect(self.window.model.refresh_warnings)
        self.stalls.stallsChanged.connect(self.window.details.refresh_warning)
        self.stalls.jobStalled.connect(self.tray.notify_stalled)
        # Desktop integration: notifications through the desktop's server (the tray balloon
        # only as the last resort), progress on the dock icon, staying awake while jobs run.
        self.notifier = Notifier(fallback=self._balloon, bus=session_bus)
        self.notifier.actionInvoked.connect(self._on_notification_action)
        self.tray.set_sender(self._send_notification)
        self.launcher = LauncherProgress(self.signals, bus=session_bus)
        self.sleep_inhibitor = SleepInhibitor(
            self.signals,
            policy=self.settings.sleep_inhibit,
            long_after_s=60.0 * self.settings.sleep_inhibit_after_min,
            backends=None if session_bus == "session" else session_backends(session_bus, self),
        )
        self.taskbar.jobActivated.connect(self.show_job)
        self.taskbar.moreActivated.connect(self.show_active_jobs)
        self.tray.jobActivated.connect(self.show_job)
        self.tray.showWindowRequested.connect(self.show_window)
        self.tray.toggleTaskbarRequested.connect(self.toggle_taskbar)
        self.tray.quitRequested.connect(self.request_quit)
        self.store_open = True

    # -- lifetime -------------------------------------------------------------------------------

    def start(self, *, show_window: bool = True) -> None:
        """Run: jobs, the window (unless ``show_window`` is False: the tray only; or the
        user closed it to the tray while the store was opening), and once it is painted
        what it does not need (:meth:`_settle_in`); started hidden, the API at once (a
        second launch may be waiting for it)."""
        if self._closed_while_opening:
            show_window = False
            if not self.tray.available:  # no icon came after all: closing was quitting
                QTimer.singleShot(0, self.request_quit)
            else:
                self._hidden_to_tray()  # (the hint waited for the tray icon)
        self._switch_interval.apply()
        self.runner.start()
        if not show_window:
            self._start_api()
        if show_window:
            self.show_window()
        self.taskbar.set_enabled(self.settings.taskbar_visible)
        self.tray.set_taskbar_visible(self.taskbar.is_enabled_by_user())
        self.window.set_taskbar_visible(self.taskbar.is_enabled_by_user())
        # What the first window does not need waits until it is on screen: painted before
        # the store was open (show_first_frame), until the history shows its jobs.
        fallback = FIRST_PAINT_FALLBACK_MS if show_window else HIDDEN_START_DELAY_MS
        watched = self.window.table.viewport() if self._painted_early else self.window
        self._after_first_paint = AfterFirstPaint(watched, self._settle_in, fallback)

    @property
    def quitting(self) -> bool:
        """Whether the app has been told to quit (:meth:`quit`)."""
        return self._quitting

    def show_first_frame(self) -> bool:
        """Show the window and return once its first frame is on screen (the event loop
        runs meanwhile; at most :data:`FIRST_PAINT_FALLBACK_MS`): whether it was painted.
        The desktop app calls this before :meth:`open_store`, so the window shows while
        the store is imported and opened."""
        self.show_window()
        self._painted_early = paint_first(self.window, FIRST_PAINT_FALLBACK_MS)
        return self._painted_early

    def _settle_in(self) -> None:
        """Start-up work that waits for the first window: the local API (aiohttp), and
        cleaning up expired jobs (on a thread of its own, in batches; ``cleanupFinished``
        says when it is done)."""
        if self.tracker.closed:
            return
        self._import_api_then_start()
        self.tracker.start_cleanup(self.cleanupFinished.emit)

    def _import_api_then_start(self) -> None:
        """Import the API's module (aiohttp: ~0.3 s of imports) on a thread of its own, so
        the window answers meanwhile, then start the server on the GUI thread."""
        if self._api_options is None:
            return

        def import_api() -> None:
            # An import error is raised again where the server is made (GUI thread).
            with contextlib.suppress(Exception):
                importlib.import_module("jobdeck.api.server")
            with contextlib.suppress(RuntimeError):  # the app was deleted meanwhile
                self._apiModuleImported.emit()

        threading.Thread(target=import_api, name="jobdeck-api-import", daemon=True).start()

    def _start_api(self) -> None:
        if self.api is not None or self._api_options is None or self.tracker.closed:
            return
        api = make_api(self, self._db_path, self._api_options, self.window)
        try:
            if api is not None:
                api.start()
        except OSError as exc:  # e.g. an unsafe runtime directory: run without it
            log.warning("the local API is off: %s", exc)
            return
        self.api = api

    def _cleaned_up(self, result: CleanupResult) -> None:
        """The clean-up is over (GUI thread): drop history rows of jobs it deleted."""
        if not result.jobs or self.tracker.closed:
            return
        model = self.window.model
        if any(
            (job := model.job_at(row)).completed_ts is not None and job.completed_ts < result.cutoff
            for row in range(model.loaded_count())
        ):
            model.refresh()

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def show_job(self, job_id: str) -> None:
        self.show_window()
        self.window.show_job(job_id)

    def show_active_jobs(self) -> None:
        """The main window with its history filtered to active (pending and running) jobs."""
        self.show_window()
        self.window.show_active_jobs()

    def _send_notification(self, job_id: str, title: str, body: str, failed: bool) -> None:
        from jobdeck.platform.notifications import Urgency  # (imported: the notifier's)

        actions = ("open", "retry") if failed and job_id else ("open",) if job_id else ()
        urgency = Urgency.CRITICAL if failed else Urgency.NORMAL
        self.notifier.notify(title, body, urgency=urgency, actions=actions, job_id=job_id)

    def _balloon(self, title: str, body: str, urgency: Urgency) -> None:
        from jobdeck.platform.notifications import Urgency  # (imported: the notifier's)

        self.tray.show_balloon(title, body, critical=urgency is Urgency.CRITICAL)

    def _on_notification_action(self, action: str, job_id: str) -> None:
        """A button (or the body) of one of our notifications was clicked."""
        if not job_id:
            self.show_window()
        elif action == "retry":
            try:
                job = self.tracker.rerun(job_id)
            except Exception as exc:  # the job was deleted meanwhile, the store is closed, ...
                log.warning("could not run job %s again: %s", job_id, exc)
                return
            self.show_job(job.id)
        else:
            self.show_job(job_id)

    def _tray_for_close(self) -> bool:
        """Whether closing the window hides it to the tray (else it quits): when there is
        a tray icon; before the store is open (no icon yet), when the desktop has a tray
        for the one that comes with the store (:meth:`start` shows it, the window hidden).
        Closing the window that said "Opening history…" quit even beside a tray."""
        if self.store_open:
            return self.tray.available
        return QtWidgets.QSystemTrayIcon.isSystemTrayAvailable()  # (made when first used)

    def _hidden_to_tray(self) -> None:
        """The window was closed to the tray: say so, once ever (once the tray icon is
        there, when closed while the store was opening)."""
        if not self.store_open:
            self._closed_while_opening = True
            return
        if self.settings.close_hint_shown:
            return
        self.settings.close_hint_shown = True
        self.tray.tell(
            translate("JobdeckApp", "Jobdeck is still running"),
            translate(
                "JobdeckApp",
                "It keeps watching your jobs from the tray. Click the tray icon to open the "
                "window again; choose Quit from its menu to quit.",
            ),
        )

    def toggle_taskbar(self) -> None:
        """Turn the taskbar on or off (remembered); turned on, it shows at once for a while
        even with nothing running."""
        if not self.store_open:  # (no taskbar yet)
            return
        enabled = not self.taskbar.is_enabled_by_user()
        self.taskbar.set_enabled(enabled, reveal=True)
        self.settings.taskbar_visible = enabled
        self.tray.set_taskbar_visible(enabled)
        self.window.set_taskbar_visible(enabled)

    def _focus_taskbar(self) -> None:
        if self.store_open:
            self.taskbar.focus_rows()

    def current_settings(self) -> SettingsValues:
        from jobdeck.ui.settings_dialog import SettingsValues  # when first asked for

        s = self.settings
        return SettingsValues(
            concurrency=s.concurrency,
            retention=s.retention,
            notifications=s.notifications,
            notify_after_s=s.notify_after_s,
            taskbar_corner=s.taskbar_corner,
            keep_finished_ms=s.keep_finished_ms,
            taskbar_always_show=s.taskbar_always_show,
            sleep_inhibit=s.sleep_inhibit,
            sleep_inhibit_after_min=s.sleep_inhibit_after_min,
            tray_animate=s.tray_animate,
            api_port=s.api_listen_port,
            dask_scheduler=s.dask_scheduler,
            stall_after_min=s.stall_after_min,
        )

    def apply_settings(self, values: SettingsValues) -> None:
        """Store ``values`` and apply them at once (retention, the API's port and the Dask
        scheduler apply at the next start; the stall time to the jobs running now too)."""
        s = self.settings
        s.concurrency = values.concurrency
        s.retention = values.retention
        s.notifications = values.notifications
        s.notify_after_s = values.notify_after_s
        s.keep_finished_ms = values.keep_finished_ms
        self.runner.max_workers = values.concurrency
        self.tray.notifications_enabled = values.notifications
        self.tray.notify_after_s = values.notify_after_s
        self.taskbar.keep_finished_ms = values.keep_finished_ms
        s.taskbar_always_show = values.taskbar_always_show
        self.taskbar.always_show = values.taskbar_always_show
        s.sleep_inhibit = values.sleep_inhibit
        s.sleep_inhibit_after_min = values.sleep_inhibit_after_min
        self.sleep_inhibitor.set_policy(values.sleep_inhibit, 60.0 * values.sleep_inhibit_after_min)
        s.tray_animate = values.tray_animate
        s.api_listen_port = values.api_port
        s.dask_scheduler = values.dask_scheduler
        s.stall_after_min = values.stall_after_min
        self.stalls.set_after(60.0 * values.stall_after_min)
        self.tray.animate = values.tray_animate
        if values.taskbar_corner != s.taskbar_corner:
            s.taskbar_corner = values.taskbar_corner
            self.taskbar.set_corner(values.taskbar_corner)

    def edit_settings(self) -> None:
        from jobdeck.ui.settings_dialog import SettingsDialog  # when first asked for

        if not self.store_open:  # (what the settings change is not there yet)
            return
        dialog = SettingsDialog(self.current_settings(), self.window)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.values())

    def running_count(self) -> int:
        return sum(1 for j in self.tracker.active_jobs() if j.status is JobStatus.RUNNING)

    def running_process_count(self) -> int:
        """Running jobs that are external programs (they can keep running without us)."""
        return sum(1 for j in self.tracker.active_jobs() if self.tracker.reattachable(j))

    def request_quit(self) -> None:
        """Quit, first asking what to do with running jobs (cancel them, keep the external
        programs running in the background, or stay), or, when only queued jobs are left,
        with those (keep them queued, cancel them, or stay)."""
        if self._quitting:
            return
        if self.quit_dialog is not None:  # (the tray's Quit while it is open: the same one)
            self.quit_dialog.raise_()
            self.quit_dialog.activateWindow()
            return
        counts = self.quit_counts()
        choice = QuitChoice.CANCEL_AND_QUIT
        if counts.running or (counts.queued and not self.tracker.store.shared):
            choice = self._confirm_quit(counts.running, counts.processes)
        if choice is QuitChoice.STAY:
            return
        if choice is QuitChoice.DROP_QUEUED_AND_QUIT:
            self._cancel_queued()
        self.quit(keep_processes=choice is QuitChoice.KEEP_AND_QUIT)

    def _cancel_queued(self) -> None:
        """Cancel the jobs still queued (the user chose not to keep them)."""
        for job in self.tracker.active_jobs():
            if job.status is JobStatus.PENDING:
                self.tracker.cancel_job(job.id)

    def quit(self, exit_code: int = 0, *, keep_processes: bool = False) -> None:
        """Quit without asking: cancel running jobs (but leave external programs running if
        ``keep_processes``), flush and close everything."""
        if self._quitting:
            return
        self._quitting = True
        self.exit_code = exit_code
        if self.quit_dialog is not None:  # (SIGTERM while the question is open: it goes)
            self.quit_dialog.reject()
        self.shutdown(keep_processes=keep_processes)
        self._on_quit()

    def shutdown(self, *, keep_processes: bool = False) -> None:
        """Tear the object graph down in reverse order. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        if not self.store_open:  # closed while the store was being opened: the window only
            self._close_filter.allow_close = True
            self.window.hide()  # (close() would be ignored inside its own close event)
            self.window.deleteLater()
            return
        if self.tracker.closed:
            return
        if self.api is not None:
            self.api.close()
        self.runner.shutdown(cancel_running=True, timeout=10, keep_processes=keep_processes)
        self._switch_interval.restore()
        self._close_filter.allow_close = True
        self.window.close()
        if self.window.stats_view is not None:
            self.window.stats_view.shutdown()  # before the store closes under it
        self.taskbar.close()
        self.tray.dispose()
        self.sleep_inhibitor.close()
        self.launcher.close()
        self.notifier.close()
        self.stalls.close()
        self.signals.close()
        self.run_histories.close()
        self.tracker.close()
        self.settings.sync()
        # Destroy the Qt objects here, on the GUI thread, when the loop next runs. Left to
        # Python's garbage collector they could be freed on a worker thread, where Qt cannot
        # unregister their timers (a timer then fires for a freed object).
        for obj in (
            self.window,
            self.taskbar,
            self.tray,
            self.sleep_inhibitor,
            self.launcher,
            self.notifier,
            self.signals,
            self.runner,
        ):
            obj.deleteLater()

    def quit_counts(self) -> QuitCounts:
        """What quitting now would affect: running jobs (and external programs among them)
        and queued jobs."""
        from jobdeck.ui.quit_dialog import QuitCounts, count_for_quit

        if not self.store_open or self.tracker.closed:
            return QuitCounts()
        return count_for_quit(self.tracker.active_jobs(), self.tracker.reattachable)

    def _ask_quit(self, running: int, processes: int) -> QuitChoice:
        """The quit question (:class:`~jobdeck.ui.quit_dialog.QuitDialog`). It counts for
        itself (``running`` and ``processes`` were counted before it opened) and follows
        the jobs while it is open: one that ends or starts meanwhile changes its text."""
        from jobdeck.ui.quit_dialog import QuitDialog

        box = QuitDialog(
            self.quit_counts,
            [self.signals.jobsAdded, self.signals.jobsChanged],
            shared=bool(self.tracker.store.shared),
            parent=self.window if self.window.isVisible() else None,
        )
        self.quit_dialog = box
        try:
            box.exec()
            # (the app may have quit meanwhile and deleted its window, the box's parent)
            return box.answer() if shiboken6.isValid(box) else QuitChoice.STAY
        finally:
            self.quit_dialog = None
            if shiboken6.isValid(box):
                box.disconnect_feed()
                box.deleteLater()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT (Ctrl+C) quit cleanly, exit status 0, without asking."""
        self._signal_notifier = quit_on_signals(self, lambda: self.quit(0))


def quit_on_signals(parent: QObject, quit: Callable[[], None]) -> QSocketNotifier:
    """Call ``quit`` on the GUI thread when SIGTERM or SIGINT (Ctrl+C) arrives."""
    import signal  # (its enums: ~4M instructions, not for the first window)

    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)  # the wakeup fd does the work
    notifier = QtCore.QSocketNotifier(read_fd, QtCore.QSocketNotifier.Type.Read, parent)

    def on_signal() -> None:
        try:
            os.read(read_fd, 64)
        except BlockingIOError:
            return
        log.info("signal received: quitting")
        QTimer.singleShot(0, quit)

    notifier.activated.connect(on_signal)
    return notifier


def queue_demo_jobs(tracker: JobTracker) -> list[str]:
    """A handful of built-in jobs so a newcomer sees progress at once."""
    python = sys.executable
    stdlib = Path(os.__file__).parent
    ids = [
        tracker.enqueue("countdown", {"seconds": 20, "message": ""}, title="Countdown 20 s").id,
        tracker.enqueue(
            "command",
            {
                "argv": [
                    python,
                    "-c",
                    "import time\nfor i in range(1, 101):\n"
                    "    print(f'{i}%', flush=True); time.sleep(0.12)",
                ],
            },
            title="Python: count to 100%",
        ).id,
        tracker.enqueue(
            "checksum", {"folder": str(stdlib / "email")}, title="Checksum Python's email package"
        ).id,
        tracker.enqueue(
            "command",
            {"argv": ["sh", "-c", 'for i in $(seq 1 30); do echo "$i/30"; sleep 0.4; done']},
            title="Shell: 30 steps",
        ).id,
        tracker.enqueue(
            "command",
            {"argv": ["sh", "-c", "sleep 6; echo 'unknown total, then done'"]},
            title="Shell: unknown length",
        ).id,
        tracker.enqueue("countdown", {"seconds": 45}, title="Countdown 45 s", priority=-1).id,
    ]
    example = Path(__file__).resolve().parent / "resources" / "examples" / "progress.py"
    if example.is_file():  # reports through the progress channel (jobdeck.worker)
        ids.append(
            tracker.enqueue(
                "python",
                {"script": str(example), "args": ["--steps", "40", "--delay", "0.5"]},
                title="Python script with jobdeck.worker",
                priority=-1,
            ).id
        )
    return ids


def shown_store(db_path: str | os.PathLike[str] | None) -> str | None:
    """The store as people see it: its path, or a board's URL without its password (for
    None: the default store, ``$JOBDECK_DB`` or the user-data one; None in memory)."""
    from jobdeck.core.board_url import BoardUrl, is_board_url  # (not for the first window)

    if db_path is None:
        from jobdeck.api.paths import store_path

        db_path = os.environ.get("JOBDECK_DB") or store_path(None)
        if db_path is None:
            return None
    if is_board_url(db_path):
        return BoardUrl.parse(str(db_path)).display
    return os.fspath(db_path)


def open_runtime(
    db_path: str | os.PathLike[str] | None,
    registry: JobRegistry,
    settings: AppSettings,
    dask: str | None = None,
) -> tuple[JobTracker, Runner]:
    """The tracker of the store at ``db_path`` and the Runner that runs its jobs; the job
    types that ask for Dask run on the cluster of the scheduler ``dask`` (else the
    setting's; none: here). Dask itself is imported only once it connects."""
    from jobdeck.core.tracker import JobTracker
    from jobdeck.runtime.runner import Runner

    tracker = JobTracker.open(
        db_path,
        registry=registry,
        retention=settings.retention,
        yield_gil_every=GUI_YIELD_EVERY,
        clean_up_at_open=False,  # later, on a thread: see JobdeckApp.start
    )
    address = dask or settings.dask_scheduler or None
    return tracker, Runner(tracker, max_workers=settings.concurrency, dask=address)


class _WindowRequests(QObject):
    """The API's requests about the main window, carried to the GUI thread (the API serves
    from a thread of its own). :meth:`show` may be called from any thread: it emits
    ``showRequested``, queued to the GUI thread, which raises the window. :meth:`visible`
    answers from a flag the window's Show and Hide events keep: no widget is touched off the
    GUI thread."""

    showRequested = Signal()

    def __init__(self, owner: JobdeckApp, window: QWidget) -> None:
        super().__init__(owner)
        self._visible = window.isVisible()
        self.showRequested.connect(owner.show_window, Qt.ConnectionType.QueuedConnection)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self._visible = event.type() == QEvent.Type.Show
        return False

    def show(self) -> None:
        self.showRequested.emit()

    def visible(self) -> bool:
        return self._visible


def make_api(
    owner: JobdeckApp | JobdeckService,
    db_path: str | os.PathLike[str] | None,
    options: ApiOptions | None,
    window: QWidget | None = None,
) -> ApiServer | None:
    """The local API server of ``owner`` (started by its ``start``), or None."""
    if options is None:
        return None
    from jobdeck.api.server import ApiServer  # aiohttp: only once it is needed

    requests = _WindowRequests(owner, window) if isinstance(owner, JobdeckApp) and window else None
    return ApiServer(
        owner.tracker,
        owner.registry,
        options.paths,
        db=shown_store(db_path),
        listen=options.listen,
        show_window=requests.show if requests else None,
        window_visible=requests.visible if requests else None,
        stream_options=options.stream,
    )


class JobdeckService(QObject):
    """``jobdeck serve``: the tracker, the Runner and the API, without any widget.

    The same program as :class:`JobdeckApp` without a GUI, for a machine without a display
    or a session over ssh. SIGTERM and SIGINT quit cleanly (running jobs are cancelled).
    """

    def __init__(
        self,
        qapp: QCoreApplication,
        db_path: str | os.PathLike[str] | None = None,
        *,
        registry: JobRegistry | None = None,
        settings: AppSettings | None = None,
        api: ApiOptions | None = None,
        on_quit: Callable[[], None] | None = None,
        dask: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.registry = registry or builtin_registry()
        self._on_quit = on_quit or qapp.quit
        self.exit_code = 0
        self.tracker, self.runner = open_runtime(db_path, self.registry, self.settings, dask)
        self.api = make_api(self, db_path, api)
        self._signal_notifier: QSocketNotifier | None = None

    def start(self) -> None:
        self.runner.start()
        if self.api is not None:
            self.api.start()
        self.tracker.start_cleanup()

    def install_signal_handlers(self) -> None:
        self._signal_notifier = quit_on_signals(self, self.quit)

    def quit(self, exit_code: int = 0) -> None:
        if self.tracker.closed:
            return
        self.exit_code = exit_code
        self.shutdown()
        self._on_quit()

    def shutdown(self) -> None:
        """Stop serving, cancel running jobs, close the store. Idempotent."""
        if self.tracker.closed:
            return
        if self.api is not None:
            self.api.close()
        self.runner.shutdown(cancel_running=True, timeout=10)
        self.tracker.close()
        self.runner.deleteLater()


def api_options(
    db_path: str | None, settings: AppSettings, listen: int | None, listen_host: str | None
) -> ApiOptions | None:
    """Where the app of ``db_path`` serves its API: the Unix socket always, TCP when
    ``listen`` (else the setting) gives a port. None when no safe runtime directory
    exists (the app then runs without its API; the reason is logged)."""
    try:
        paths = ApiPaths.for_store(db_path)
    except Exception as exc:  # RuntimeDirError: nowhere safe to put the socket
        log.warning("the local API is off: %s", exc)
        return None
    port = listen if listen is not None else (settings.api_listen_port or None)
    if port is None:
        return ApiOptions(paths)
    return ApiOptions(paths, Listen(port, listen_host or "127.0.0.1"))


def run_app(
    db_path: str | None,
    *,
    demo: bool = False,
    argv: list[str] | None = None,
    tray: bool = False,
    listen: int | None = None,
    listen_host: str | None = None,
    dask: str | None = None,
    before_store: Callable[[], None] | None = None,
) -> int:
    """Create the QApplication and qasync loop, run Jobdeck until it quits; the exit status.

    When Jobdeck already runs on this store, its window is raised and this returns 0 at
    once. ``tray`` starts with the window hidden (the CLI starts the app so).

    A progressive start: the window is shown, without jobs, and painted first; then
    ``before_store()`` is called (the CLI imports the store's modules there), the store
    is opened (a :class:`~jobdeck.core.StoreError` is raised as when nothing was shown),
    the runner and the qasync loop start, and the window fills with the store's jobs.
    """
    settings = AppSettings()
    options = api_options(db_path, settings, listen, listen_host)
    if options is not None:
        status = show_running_app(options.paths)
        if status is None and not claim_start(options.paths):
            # Another Jobdeck on this store is starting: raise its window once it answers
            # (started in the tray: leave it as it is), as long as it keeps busy, without
            # painting a window of our own; start only if it goes without answering. One
            # that is hung, stopped or does nothing is named, with what to do: exit 1.
            try:
                status = wait_for_starting_app(options.paths, raise_window=not tray)
            except NotAnswering as exc:
                tell_not_answering(exc, argv, dialog=not tray)
                return 1
        if status is not None:
            return status
    if use_xwayland():  # Wayland places no floating panel: XWayland when it is there
        log.info("Wayland session with XWayland: running on X11 (QT_QPA_PLATFORM=xcb)")
    paint_on_one_thread()
    qapp = QApplication.instance() or QApplication(argv or sys.argv)
    assert isinstance(qapp, QApplication)
    install_translators(qapp)  # $JOBDECK_LANG or the system's languages
    apply_theme(qapp, os.environ.get("JOBDECK_THEME", "system"))
    qapp.setApplicationName("Jobdeck")
    qapp.setOrganizationName("Jobdeck")
    qapp.setDesktopFileName("jobdeck")
    app = JobdeckApp(qapp, db_path, settings=settings, api=options, dask=dask, open_store=False)
    if not tray:
        app.show_first_frame()  # on screen before the store is imported and opened
    resume_gc()  # (paused by the command for the start up to here: see cli.before_qt)
    if app.quitting:  # closed meanwhile
        app.shutdown()
        return app.exit_code
    if before_store is not None:
        before_store()
    import asyncio

    os.environ.setdefault("QT_API", "pyside6")
    import qasync  # after PySide6, so qasync picks the right binding

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        app.open_store()
    except StoreLocked:
        app.shutdown()
        _drop_loop(loop)
        # Another launch got the store first and is still starting: show its window.
        status = (
            None
            if options is None
            else wait_and_show_running_app(options.paths, raise_window=not tray)
        )
        if status is None:
            raise
        return status
    except BaseException as exc:
        if isinstance(exc, StoreError) and not tray:
            # Started from the desktop, nobody reads stderr: say it where the window was
            # (or is no more: closed to the tray while the store was opening).
            tell_store_not_opened(app.window, exc)
        app.shutdown()  # the window goes; the error is reported as before (jobdeck.cli)
        _drop_loop(loop)
        raise
    app.install_signal_handlers()
    app.start(show_window=not tray)
    freeze_startup_objects()  # the program's choice for its process (see runtime.tuning)
    if demo:
        queue_demo_jobs(app.tracker)
    if not QtWidgets.QSystemTrayIcon.isSystemTrayAvailable():
        log.info("no system tray: closing the window quits Jobdeck")
    with loop:
        loop.run_forever()
    app.shutdown()
    return app.exit_code


#: Read by Qt (once, when it first paints): no thread pool for painting.
NO_GUI_THREADPOOL = "QT_NO_GUI_THREADPOOL"


def paint_on_one_thread() -> None:
    """Have Qt paint on the GUI thread alone (unless the environment says otherwise):
    the app's choice for its process, made before its first paint.

    Qt's raster engine splits a fill taller than ~96 lines (a scroll bar, a gradient) into
    pieces for a thread pool, and the GUI thread waits for them. The app's widgets are
    small, so there is little to gain; while jobs keep the cores busy, each such wait lasts
    until a pool thread gets a core (the first window alone waited ~200-300 times: a
    bare window none), and every frame is late by as much.

    Set for Qt only (``os.putenv``): ``os.environ``, which jobs' programs inherit, is left
    as it was."""
    if NO_GUI_THREADPOOL not in os.environ:
        os.putenv(NO_GUI_THREADPOOL, "1")


def _drop_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the event loop of a start that goes no further (the store was not opened),
    on the GUI thread: left to the garbage collector, qasync's loop closes itself after
    the QApplication's objects are gone and raises (an unraisable RuntimeError)."""
    import asyncio

    loop.close()
    asyncio.set_event_loop(None)


def tell_not_answering(error: NotAnswering, argv: list[str] | None, *, dialog: bool) -> None:
    """Say on stderr why this launch does not start (the Jobdeck holding the store does not
    answer: which process, what to do), and in a dialog too when ``dialog`` (started from
    the desktop, nobody reads stderr)."""
    print(f"jobdeck: {error}", file=sys.stderr)
    if not dialog:
        return
    from PySide6.QtWidgets import QMessageBox  # (only on this error)

    qapp = QApplication.instance() or QApplication(argv or sys.argv)
    install_translators(qapp)
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        translate("JobdeckApp", "Jobdeck"),
        translate("JobdeckApp", "Jobdeck already runs on this history but does not answer."),
        QMessageBox.StandardButton.Close,
    )
    box.setInformativeText(str(error))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


def tell_store_not_opened(window: QWidget, error: StoreError) -> None:
    """Say in a dialog over ``window`` why the store could not be opened (a newer or
    damaged file, a folder that cannot be written...), until the user closes it: the
    window showed before the store was opened, and would otherwise vanish without a word
    (the CLI prints the same error on stderr afterwards)."""
    from PySide6.QtWidgets import QMessageBox  # (only on this error)

    box = QMessageBox(
        QMessageBox.Icon.Critical,
        translate("JobdeckApp", "Jobdeck"),
        translate("JobdeckApp", "Jobdeck cannot open its job history."),
        QMessageBox.StandardButton.Close,
        window,
    )
    box.setInformativeText(str(error))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


def run_service(
    db_path: str | None,
    *,
    listen: int | None = None,
    listen_host: str | None = None,
    dask: str | None = None,
) -> int:
    """``jobdeck serve``: run the tracker, Runner and API on a QCoreApplication until
    SIGTERM/SIGINT; the exit status (1 when Jobdeck already runs on this store).

    It respects the store's start lock as a second launch does: while another Jobdeck is
    starting on the store (a desktop launch opening it), it waits for that one and, once
    it answers, says so and returns 1 (a command that started this one hands its request
    to that one). One that hangs, is stopped or does nothing while starting is named:
    :class:`~jobdeck.api.launch.NotAnswering` is raised (the CLI says it, exit 3)."""
    settings = AppSettings()
    options = api_options(db_path, settings, listen, listen_host)
    if options is not None:
        status = show_running_app(options.paths, raise_window=False)
        if status is None and not claim_start(options.paths):
            # Another Jobdeck is starting on this store: taking the store now would leave
            # it without (and a desktop launch's window would vanish). Wait for it.
            status = wait_for_starting_app(
                options.paths, raise_window=False, again="run jobdeck serve again"
            )
            if status is not None and show_running_app(options.paths, raise_window=False) is None:
                print("jobdeck: Jobdeck already runs on this store; quit it first", file=sys.stderr)
        if status is not None:
            return 1
    import asyncio

    os.environ.setdefault("QT_API", "pyside6")
    import qasync

    qapp = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    qapp.setApplicationName("Jobdeck")
    qapp.setOrganizationName("Jobdeck")
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    service = JobdeckService(qapp, db_path, settings=settings, api=options, dask=dask)
    service.install_signal_handlers()
    try:
        service.start()
    except OSError as exc:
        print(f"jobdeck: cannot serve the API: {exc}", file=sys.stderr)
        service.shutdown()
        return 1
    freeze_startup_objects()  # the program's choice for its process (see runtime.tuning)
    if service.api is not None:
        where = f"{service.api.socket_path}" + (
            f" and {service.api.url}" if service.api.url else ""
        )
        shown = shown_store(db_path) if db_path else "the default store"
        print(f"jobdeck: serving {shown} on {where}", file=sys.stderr)
    with loop:
        loop.run_forever()
    service.shutdown()
    return service.exit_code
