"""Job progress on Jobdeck's dock or task-manager icon: the Unity LauncherEntry D-Bus API.

Unity made up the ``com.canonical.Unity.LauncherEntry`` ``Update`` signal and it outlived
Unity: KDE Plasma's task manager, Ubuntu's dock, Dash to Dock and Plank all show its
progress bar, count badge and urgency. It is a broadcast signal naming the application by
its desktop entry (``application://jobdeck.desktop``), so nothing is asked and nothing can
fail; a desktop that does not listen just never sees it.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusVariant
from PySide6.QtGui import QGuiApplication

from jobdeck.core.job import Job, JobStatus

from .dbus_util import DBusUnavailable, int64, session_bus
from .job_feed import ActiveJobs, JobFeed, overall_fraction

__all__ = ["APP_URI", "INTERFACE", "LauncherProgress", "LauncherState"]

log = logging.getLogger(__name__)

INTERFACE = "com.canonical.Unity.LauncherEntry"
APP_URI = "application://jobdeck.desktop"


@dataclass(frozen=True, slots=True)
class LauncherState:
    """What the dock shows: ``progress`` 0..1 (whole percents), a count badge, urgency."""

    progress: float = 0.0
    progress_visible: bool = False
    count: int = 0
    count_visible: bool = False
    urgent: bool = False


class LauncherProgress(QObject):
    """Keeps the dock icon's progress bar (overall progress of the running jobs with a known
    total), count badge (unfinished jobs) and urgency (a job failed while Jobdeck was not
    the active application; cleared when it becomes active) current.

    Follows a :class:`~jobdeck.platform.job_feed.JobFeed` (``JobSignals``) on the GUI
    thread and sends at most one ``Update`` per ``min_interval_ms`` (4 a second by
    default), and only when what the dock shows changed. Emits no Qt signals.
    ``bus`` is the session bus by default; None means no bus (then it only keeps
    :attr:`state`).
    """

    def __init__(
        self,
        feed: JobFeed,
        *,
        bus: QDBusConnection | Literal["session"] | None = "session",
        app_uri: str = APP_URI,
        min_interval_ms: int = 250,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if min_interval_ms < 1:
            raise ValueError(f"min_interval_ms must be at least 1, got {min_interval_ms}")
        self._bus = session_bus() if bus == "session" else bus
        self.app_uri = app_uri
        #: Where the signal comes from; docks only look at ``app_uri``.
        self.object_path = f"/com/canonical/unity/launcherentry/{zlib.crc32(app_uri.encode())}"
        self._urgent = False
        self._sent: LauncherState | None = None
        self.updates_sent = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(min_interval_ms)
        self._timer.timeout.connect(self._flush)
        self._jobs = ActiveJobs(feed, self._changed, self._on_finished)
        app = QGuiApplication.instance()
        self._app = app if isinstance(app, QGuiApplication) else None
        if self._app is not None:
            self._app.applicationStateChanged.connect(self._on_app_state)
        self._changed()

    # -- public ---------------------------------------------------------------------------------

    @property
    def state(self) -> LauncherState:
        """What the dock should show now (sent within ``min_interval_ms``)."""
        active = list(self._jobs.jobs.values())
        fraction = overall_fraction([j for j in active if j.status is JobStatus.RUNNING])
        return LauncherState(
            progress=0.0 if fraction is None else round(fraction, 2),
            progress_visible=fraction is not None,
            count=len(active),
            count_visible=bool(active),
            urgent=self._urgent,
        )

    def clear_urgent(self) -> None:
        """The user has seen the failure (also done when Jobdeck becomes active)."""
        if self._urgent:
            self._urgent = False
            self._changed()

    def close(self) -> None:
        """Stop following jobs and clear the dock icon (no bar, no badge). Idempotent."""
        self._jobs.disconnect()
        self._timer.stop()
        if self._app is not None:
            self._app.applicationStateChanged.disconnect(self._on_app_state)
            self._app = None
        if self._sent not in (None, LauncherState()):
            self._send(LauncherState())
        self._bus = None

    # -- internals ------------------------------------------------------------------------------

    def _changed(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        state = self.state
        if state != self._sent:
            self._send(state)

    def _on_finished(self, job: Job) -> None:
        if job.status is JobStatus.FAILED and not self._app_is_active():
            self._urgent = True

    def _on_app_state(self, state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationActive:
            self.clear_urgent()

    @staticmethod
    def _app_is_active() -> bool:
        return QGuiApplication.applicationState() == Qt.ApplicationState.ApplicationActive

    def _send(self, state: LauncherState) -> None:
        self._sent = state
        if self._bus is None:
            return
        try:
            count = int64(state.count)
        except DBusUnavailable:
            log.debug("Qt's typed D-Bus integers are missing: no dock progress")
            self._bus = None
            return
        properties = {
            "progress": QDBusVariant(float(state.progress)),
            "progress-visible": QDBusVariant(state.progress_visible),
            "count": QDBusVariant(count),
            "count-visible": QDBusVariant(state.count_visible),
            "urgent": QDBusVariant(state.urgent),
        }
        message = QDBusMessage.createSignal(self.object_path, INTERFACE, "Update")
        message.setArguments([self.app_uri, properties])
        if self._bus.send(message):
            self.updates_sent += 1
        else:
            log.debug("could not send the launcher entry update: %s", self._bus.lastError())
