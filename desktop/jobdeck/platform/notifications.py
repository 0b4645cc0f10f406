"""Desktop notifications through the freedesktop notification server, with actions.

:class:`Notifier` sends ``org.freedesktop.Notifications.Notify`` over the session bus
whenever a notification server is there (or can be started by the bus). That works with
any tray or none: GNOME without a tray extension, an XEmbed-only tray (whose balloons are
Qt's own yellow tooltips), and a StatusNotifierItem tray (where Qt would send the same
call, but without actions). Only when there is no session bus or no server does it call
the ``fallback`` it was given, normally the tray balloon.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, Signal
from PySide6.QtDBus import QDBusConnection, QDBusServiceWatcher, QDBusVariant

from .dbus_util import (
    DBusUnavailable,
    SignalSubscription,
    byte,
    call_async,
    has_name,
    session_bus,
    string_list,
    typed_ints_available,
    uint32,
)
from .desktop_entry import DESKTOP_FILE_ID, icon_file

__all__ = ["ACTIONS", "Notifier", "Urgency"]

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"

#: The actions a notification can offer: key -> label (translated when sent).
ACTIONS: dict[str, str] = {
    "open": str(QT_TRANSLATE_NOOP("Notifier", "Open")),
    "retry": str(QT_TRANSLATE_NOOP("Notifier", "Retry")),
}
#: How many sent notifications are remembered for their actions.
REMEMBERED = 200


class Urgency(IntEnum):
    """The notification spec's urgency levels."""

    LOW = 0
    NORMAL = 1
    CRITICAL = 2


#: Shows a notification some other way: ``fallback(title, body, urgency)``.
Fallback = Callable[[str, str, Urgency], None]


@dataclass(frozen=True, slots=True)
class _Pending:
    title: str
    body: str
    urgency: Urgency
    actions: tuple[str, ...]
    job_id: str


def _default_icon() -> str:
    try:
        return str(icon_file())
    except FileNotFoundError:
        return DESKTOP_FILE_ID


def _label(action: str) -> str:
    return QCoreApplication.translate("Notifier", ACTIONS[action])


class Notifier(QObject):
    """Shows desktop notifications about jobs, with "Open" and "Retry" buttons where the
    notification server offers actions. Create and use it on the GUI thread.

    Signal (emitted on the thread the Notifier lives on, from the D-Bus event):

    ``actionInvoked(action, job_id)``
        the user chose ``action`` (a key of :data:`ACTIONS`; a click on the notification
        itself is ``"open"``) on a notification sent with that ``job_id``.

    ``bus`` is the session bus by default; None means no bus (always the fallback).
    """

    actionInvoked = Signal(str, str)

    def __init__(
        self,
        fallback: Fallback | None = None,
        *,
        bus: QDBusConnection | Literal["session"] | None = "session",
        app_name: str = "Jobdeck",
        app_icon: str | None = None,
        desktop_entry: str = DESKTOP_FILE_ID,
        timeout_ms: int = -1,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._fallback = fallback
        self._bus = session_bus() if bus == "session" else bus
        self.app_name = app_name
        #: An icon name or file path; by default the icon file itself, which the server
        #: finds whether or not the menu entry and its icon are installed.
        self.app_icon = _default_icon() if app_icon is None else app_icon
        self.desktop_entry = desktop_entry
        self.timeout_ms = timeout_ms
        self._capabilities: frozenset[str] | None = None
        self._asking = False
        self._queue: list[_Pending] = []
        self._jobs: OrderedDict[int, str] = OrderedDict()  # notification id -> job id
        self._subscriptions: list[SignalSubscription] = []
        self._watcher: QDBusServiceWatcher | None = None
        if self._bus is not None and not typed_ints_available():
            log.debug("Qt's typed D-Bus integers are missing: notifications use the fallback")
            self._bus = None
        if self._bus is not None:
            self._subscriptions = [
                SignalSubscription(
                    self._bus, SERVICE, PATH, INTERFACE, "ActionInvoked", self._on_action, self
                ),
                SignalSubscription(
                    self._bus, SERVICE, PATH, INTERFACE, "NotificationClosed", self._on_closed, self
                ),
            ]
            self._watcher = QDBusServiceWatcher(
                SERVICE, self._bus, QDBusServiceWatcher.WatchModeFlag.WatchForOwnerChange, self
            )
            self._watcher.serviceOwnerChanged.connect(self._on_server_changed)

    # -- public ---------------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str] | None:
        """What the current server said it can do; None until it was asked."""
        return self._capabilities

    def server_available(self) -> bool:
        """True when a notification server is on the bus (or the bus can start one)."""
        return self._bus is not None and has_name(self._bus, SERVICE)

    def notify(
        self,
        title: str,
        body: str,
        *,
        urgency: Urgency = Urgency.NORMAL,
        actions: Sequence[str] = (),
        job_id: str = "",
    ) -> None:
        """Show a notification now. ``actions`` are keys of :data:`ACTIONS`, offered when
        the server supports actions; clicking one emits ``actionInvoked(key, job_id)``."""
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise ValueError(
                f"unknown notification action(s) {unknown}: choose from {sorted(ACTIONS)}"
            )
        pending = _Pending(title, body, Urgency(urgency), tuple(actions), job_id)
        if not self.server_available():
            self._fall_back(pending)
            return
        if self._capabilities is None:
            self._queue.append(pending)
            self._ask_capabilities()
            return
        self._send(pending)

    def close(self) -> None:
        """Stop listening for actions and drop anything queued. Idempotent."""
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions = []
        if self._watcher is not None:
            self._watcher.serviceOwnerChanged.disconnect(self._on_server_changed)
            self._watcher = None
        self._queue.clear()
        self._jobs.clear()
        self._bus = None

    # -- internals ------------------------------------------------------------------------------

    def _fall_back(self, pending: _Pending) -> None:
        if self._fallback is None:
            log.debug("notification dropped (no server, no fallback): %s", pending.title)
            return
        self._fallback(pending.title, pending.body, pending.urgency)

    def _ask_capabilities(self) -> None:
        if self._asking or self._bus is None:
            return
        self._asking = True

        def replied(arguments: list[Any]) -> None:
            self._asking = False
            self._capabilities = frozenset(str(c) for c in (arguments[0] if arguments else []))
            queued, self._queue = self._queue, []
            for pending in queued:
                self._send(pending)

        def failed(_name: str, _message: str) -> None:
            self._asking = False
            queued, self._queue = self._queue, []
            for pending in queued:
                self._fall_back(pending)

        call_async(
            self._bus,
            SERVICE,
            PATH,
            INTERFACE,
            "GetCapabilities",
            [],
            owner=self,
            on_reply=replied,
            on_error=failed,
        )

    def _send(self, pending: _Pending) -> None:
        if self._bus is None:
            self._fall_back(pending)
            return
        capabilities = self._capabilities or frozenset()
        body = pending.body
        if "body-markup" in capabilities:  # the server reads the body as markup
            import html  # here, not at start-up

            body = html.escape(body, quote=False)
        actions: list[str] = []
        if "actions" in capabilities and pending.job_id:
            actions += ["default", _label("open")]
            for key in pending.actions:
                actions += [key, _label(key)]
        try:
            hints: dict[str, Any] = {
                "urgency": QDBusVariant(byte(int(pending.urgency))),
                "desktop-entry": QDBusVariant(self.desktop_entry),
            }
            args = [
                self.app_name,
                uint32(0),
                self.app_icon,
                pending.title,
                body,
                string_list(actions),
                hints,
                int(self.timeout_ms),
            ]
        except DBusUnavailable:
            self._fall_back(pending)
            return

        def replied(arguments: list[Any]) -> None:
            if pending.job_id and arguments:
                self._jobs[int(arguments[0])] = pending.job_id
                while len(self._jobs) > REMEMBERED:
                    self._jobs.popitem(last=False)

        call_async(
            self._bus,
            SERVICE,
            PATH,
            INTERFACE,
            "Notify",
            args,
            owner=self,
            on_reply=replied,
            on_error=lambda _name, _message: self._fall_back(pending),
        )

    def _on_action(self, arguments: list[Any], _message: object) -> None:
        if len(arguments) < 2:
            return
        job_id = self._jobs.get(int(arguments[0]))
        if job_id is None:
            return  # another application's notification, or one we forgot
        key = str(arguments[1])
        if key == "default":
            key = "open"
        if key in ACTIONS:
            self.actionInvoked.emit(key, job_id)

    def _on_closed(self, arguments: list[Any], _message: object) -> None:
        if arguments:
            self._jobs.pop(int(arguments[0]), None)

    def _on_server_changed(self, _name: str, _old: str, _new: str) -> None:
        self._capabilities = None  # another server may offer other things
