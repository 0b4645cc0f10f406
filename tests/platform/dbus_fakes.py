"""Fake desktop services for the private test bus, written with QtDBus.

Each fake owns a well-known name on its own connection, records every call it gets (member,
D-Bus signature, arguments as plain Python) and checks the signature as strictly as the
real GDBus/QtDBus services do: a call whose ``uint32`` arrives as an ``int32`` gets an
``InvalidArgs`` error, as GNOME Shell or Plasma would answer it.
"""

from __future__ import annotations

import itertools
import os
import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtDBus import (
    QDBusConnection,
    QDBusMessage,
    QDBusObjectPath,
    QDBusUnixFileDescriptor,
    QDBusVirtualObject,
)

from jobdeck.platform.dbus_util import uint32, unpack


@dataclass(frozen=True)
class Call:
    interface: str
    member: str
    path: str
    signature: str
    args: list[Any]
    sender: str


@dataclass(frozen=True)
class Method:
    """A method a fake serves: its input signature and the Python function answering it
    (which gets the unpacked arguments and the call, and returns the reply's arguments)."""

    interface: str
    name: str
    signature: str
    handler: Callable[..., list[Any]]


class FakeService(QDBusVirtualObject):
    """Serves ``methods`` under ``name`` at ``path`` (and every path below it)."""

    def __init__(self, bus: QDBusConnection, name: str, path: str, methods: list[Method]):
        super().__init__()
        self.bus = bus
        self.name = name
        self.path = path
        self.calls: list[Call] = []  # calls answered
        self.refused: list[Call] = []  # calls with a wrong signature (answered with an error)
        self._methods = {(m.interface, m.name): m for m in methods}
        ok = bus.registerVirtualObject(
            path, self, QDBusConnection.VirtualObjectRegisterOption.SubPath
        )
        assert ok, bus.lastError().message()
        assert bus.registerService(name), bus.lastError().message()

    def introspect(self, path: str) -> str:
        out = []
        interfaces = sorted({m.interface for m in self._methods.values()})
        for interface in interfaces:
            out.append(f'<interface name="{interface}">')
            for m in self._methods.values():
                if m.interface == interface:
                    out.append(f'<method name="{m.name}">')
                    out.extend(f'<arg type="{t}" direction="in"/>' for t in _split(m.signature))
                    out.append("</method>")
            out.append("</interface>")
        return "".join(out)

    def handleMessage(self, message: QDBusMessage, connection: QDBusConnection) -> bool:
        if message.interface().startswith("org.freedesktop.DBus."):
            return False  # Qt answers Introspect, Peer and Properties itself
        method = self._methods.get((message.interface(), message.member()))
        call = Call(
            message.interface(),
            message.member(),
            message.path(),
            message.signature(),
            [unpack(a) for a in message.arguments()],
            message.service(),
        )
        if method is None:
            error = "org.freedesktop.DBus.Error.UnknownMethod"
            connection.send(message.createErrorReply(error, f"no method {message.member()}"))
            return True
        if message.signature() != method.signature:
            self.refused.append(call)
            connection.send(
                message.createErrorReply(
                    "org.freedesktop.DBus.Error.InvalidArgs",
                    f"Type of message, ({message.signature()}), does not match expected type "
                    f"({method.signature})",
                )
            )
            return True
        self.calls.append(call)
        reply = message.createReply()
        reply.setArguments(method.handler(call, *call.args))
        connection.send(reply)
        return True

    def calls_to(self, member: str) -> list[Call]:
        return [c for c in self.calls if c.member == member]

    def emit(  # type: ignore[override]  # a fake service's signal, not QObject.emit
        self, interface: str, name: str, args: list[Any], path: str | None = None
    ) -> None:
        signal = QDBusMessage.createSignal(path or self.path, interface, name)
        signal.setArguments(args)
        assert self.bus.send(signal)

    def stop(self) -> None:
        self.bus.unregisterService(self.name)
        self.bus.unregisterObject(self.path, QDBusConnection.UnregisterMode.UnregisterTree)


def _split(signature: str) -> list[str]:
    """Complete types of a D-Bus signature ("sa{sv}u" -> ["s", "a{sv}", "u"])."""
    out, i = [], 0
    while i < len(signature):
        j = i
        while signature[j] == "a":
            j += 1
        if signature[j] in "({":
            depth, k = 0, j
            while True:
                depth += signature[k] in "({"
                depth -= signature[k] in ")}"
                k += 1
                if depth == 0:
                    break
            j = k
        else:
            j += 1
        out.append(signature[i:j])
        i = j
    return out


# --- the services ---------------------------------------------------------------------------------


class FakeNotificationServer(FakeService):
    """org.freedesktop.Notifications with the given capabilities."""

    INTERFACE = "org.freedesktop.Notifications"

    def __init__(self, bus: QDBusConnection, capabilities: tuple[str, ...] = ("body", "actions")):
        self.capabilities = list(capabilities)
        self._ids = itertools.count(1)
        super().__init__(
            bus,
            "org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            [
                Method(self.INTERFACE, "GetCapabilities", "", lambda c: [self.capabilities]),
                Method(self.INTERFACE, "Notify", "susssasa{sv}i", self._notify),
                Method(self.INTERFACE, "CloseNotification", "u", lambda c, i: []),
            ],
        )

    def _notify(self, call: Call, *args: Any) -> list[Any]:
        return [uint32(next(self._ids))]

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """The Notify calls so far, by field name."""
        fields = ("app_name", "replaces_id", "app_icon", "summary", "body", "actions", "hints")
        return [dict(zip(fields, c.args, strict=False)) for c in self.calls_to("Notify")]

    def click(self, notification_id: int, action: str) -> None:
        """The user chose ``action`` on notification ``notification_id``."""
        self.emit(self.INTERFACE, "ActionInvoked", [uint32(notification_id), action])
        self.emit(self.INTERFACE, "NotificationClosed", [uint32(notification_id), uint32(2)])


class FakePortal(FakeService):
    """org.freedesktop.portal.Desktop's Inhibit, with Request objects that Close releases."""

    def __init__(self, bus: QDBusConnection) -> None:
        self.active: dict[str, Call] = {}  # request handle -> the Inhibit call
        super().__init__(
            bus,
            "org.freedesktop.portal.Desktop",
            "/org/freedesktop/portal/desktop",
            [
                Method("org.freedesktop.portal.Inhibit", "Inhibit", "sua{sv}", self._inhibit),
                Method("org.freedesktop.portal.Request", "Close", "", self._close),
            ],
        )

    def _inhibit(self, call: Call, window: str, flags: int, options: dict[str, Any]) -> list:
        sender = call.sender[1:].replace(".", "_")
        handle = f"{self.path}/request/{sender}/{options.get('handle_token', 't')}"
        self.active[handle] = call
        return [QDBusObjectPath(handle)]

    def _close(self, call: Call) -> list[Any]:
        self.active.pop(call.path, None)
        return []


class FakeScreenSaver(FakeService):
    """org.freedesktop.ScreenSaver's Inhibit/UnInhibit with cookies."""

    INTERFACE = "org.freedesktop.ScreenSaver"

    def __init__(self, bus: QDBusConnection) -> None:
        self.active: dict[int, Call] = {}
        self._cookies = itertools.count(41)
        super().__init__(
            bus,
            "org.freedesktop.ScreenSaver",
            "/org/freedesktop/ScreenSaver",
            [
                Method(self.INTERFACE, "Inhibit", "ss", self._inhibit),
                Method(self.INTERFACE, "UnInhibit", "u", self._uninhibit),
            ],
        )

    def _inhibit(self, call: Call, app: str, reason: str) -> list[Any]:
        cookie = next(self._cookies)
        self.active[cookie] = call
        return [uint32(cookie)]

    def _uninhibit(self, call: Call, cookie: int) -> list[Any]:
        self.active.pop(cookie, None)
        return []


class FakeLogin1(FakeService):
    """org.freedesktop.login1's Manager.Inhibit: hands out the write end of a pipe and keeps
    the read end, so the test sees when the last copy of the inhibitor fd is closed."""

    def __init__(self, bus: QDBusConnection) -> None:
        self.read_ends: list[int] = []
        super().__init__(
            bus,
            "org.freedesktop.login1",
            "/org/freedesktop/login1",
            [Method("org.freedesktop.login1.Manager", "Inhibit", "ssss", self._inhibit)],
        )

    def _inhibit(self, call: Call, what: str, who: str, why: str, mode: str) -> list[Any]:
        read_end, write_end = os.pipe()
        self.read_ends.append(read_end)
        fd = QDBusUnixFileDescriptor()
        fd.giveFileDescriptor(write_end)  # the message's copy is the only one left
        return [fd]

    def released(self, index: int = -1) -> bool:
        """True once every copy of inhibitor ``index``'s fd is closed (its pipe hit EOF)."""
        read_end = self.read_ends[index]
        readable, _, _ = select.select([read_end], [], [], 0)
        return bool(readable) and os.read(read_end, 1) == b""

    def stop(self) -> None:
        super().stop()
        for fd in self.read_ends:
            os.close(fd)
        self.read_ends = []
