"""Small helpers over QtDBus: bus connections, typed integers, asynchronous calls, signals.

PySide6's QtDBus turns every Python ``int`` into a D-Bus ``int32`` (or ``int64`` when it does
not fit) and cannot read a dictionary (``a{...}``) back, because the bindings expose only
one overload of ``QDBusArgument``'s ``<<`` for integers (``uint16``) and the writing
overloads of ``beginMapEntry``/``endMap``/... But notification servers, the desktop portal
and the screen saver reject a call whose ``uint32`` argument arrives as an ``int32``. So
:func:`uint32`, :func:`int64` and :func:`byte` call Qt's own typed
``QDBusArgument::operator<<`` overloads from ``libQt6DBus`` through :mod:`ctypes`, and
:func:`unpack` reads any received value with Qt's ``const`` reading methods. Both use the
stable Qt 6 ABI; when the library or a symbol cannot be found (another platform, another
build), :func:`typed_ints_available` is False and callers quietly do without D-Bus.

Everything here runs on the calling thread (the GUI thread in Jobdeck): replies and
signals are delivered by the Qt event loop of the thread the ``owner`` object lives on.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from PySide6.QtCore import SLOT, QMetaType, QObject, Slot
from PySide6.QtDBus import (
    QDBus,
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusObjectPath,
    QDBusPendingCallWatcher,
    QDBusSignature,
    QDBusVariant,
)

__all__ = [
    "DBusUnavailable",
    "SignalSubscription",
    "byte",
    "call_async",
    "has_name",
    "int64",
    "session_bus",
    "string_list",
    "system_bus",
    "typed_ints_available",
    "uint32",
    "unpack",
]

log = logging.getLogger(__name__)

BUS_SERVICE = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"
BUS_INTERFACE = "org.freedesktop.DBus"
#: How long a question to the bus daemon itself may take (it answers at once when alive).
DAEMON_TIMEOUT_MS = 2000


class DBusUnavailable(RuntimeError):
    """D-Bus cannot be used here: no bus, or typed integers cannot be written."""


# --- connections -------------------------------------------------------------------------------


def session_bus() -> QDBusConnection | None:
    """The session bus, or None (logged at debug) when there is none."""
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        log.debug("no D-Bus session bus: %s", bus.lastError().message())
        return None
    return bus


def system_bus() -> QDBusConnection | None:
    """The system bus, or None (logged at debug) when there is none."""
    bus = QDBusConnection.systemBus()
    if not bus.isConnected():
        log.debug("no D-Bus system bus: %s", bus.lastError().message())
        return None
    return bus


def _ask_daemon(bus: QDBusConnection, method: str, *args: Any) -> list[Any] | None:
    message = QDBusMessage.createMethodCall(BUS_SERVICE, BUS_PATH, BUS_INTERFACE, method)
    if args:
        message.setArguments(list(args))
    reply = bus.call(message, QDBus.CallMode.Block, DAEMON_TIMEOUT_MS)
    if reply.type() != QDBusMessage.MessageType.ReplyMessage:
        log.debug("D-Bus %s failed: %s", method, reply.errorMessage())
        return None
    return list(reply.arguments())


def has_name(bus: QDBusConnection, name: str) -> bool:
    """True when ``name`` has an owner on ``bus`` or the bus can start (activate) one.

    Asks the bus daemon only (never the service), so it cannot hang on a stuck service.
    """
    owned = _ask_daemon(bus, "NameHasOwner", name)
    if owned and owned[0]:
        return True
    activatable = _ask_daemon(bus, "ListActivatableNames")
    return activatable is not None and name in (activatable[0] if activatable else [])


# --- typed values --------------------------------------------------------------------------------


class _QtDBusAbi:
    """Qt's typed ``QDBusArgument`` methods, found in the loaded ``libQt6DBus``."""

    WRITERS = {
        "y": ("_ZN13QDBusArgumentlsEh", ctypes.c_uint8),
        "u": ("_ZN13QDBusArgumentlsEj", ctypes.c_uint32),
        "x": ("_ZN13QDBusArgumentlsEx", ctypes.c_int64),
        "t": ("_ZN13QDBusArgumentlsEy", ctypes.c_uint64),
    }
    READERS = {
        "beginStructure": "_ZNK13QDBusArgument14beginStructureEv",
        "endStructure": "_ZNK13QDBusArgument12endStructureEv",
        "beginArray": "_ZNK13QDBusArgument10beginArrayEv",
        "endArray": "_ZNK13QDBusArgument8endArrayEv",
        "beginMap": "_ZNK13QDBusArgument8beginMapEv",
        "endMap": "_ZNK13QDBusArgument6endMapEv",
        "beginMapEntry": "_ZNK13QDBusArgument13beginMapEntryEv",
        "endMapEntry": "_ZNK13QDBusArgument11endMapEntryEv",
    }

    def __init__(self, lib: ctypes.CDLL) -> None:
        import shiboken6

        self._pointer = lambda arg: shiboken6.getCppPointer(arg)[0]
        self.writers: dict[str, Any] = {}
        for code, (symbol, ctype) in self.WRITERS.items():
            function = getattr(lib, symbol)
            function.restype = ctypes.c_void_p
            function.argtypes = [ctypes.c_void_p, ctype]
            self.writers[code] = function
        self.readers: dict[str, Any] = {}
        for name, symbol in self.READERS.items():
            function = getattr(lib, symbol)
            function.restype = ctypes.c_void_p
            function.argtypes = [ctypes.c_void_p]
            self.readers[name] = function

    def write(self, code: str, value: int) -> QDBusArgument:
        argument = QDBusArgument()
        self.writers[code](self._pointer(argument), value)
        return argument

    def read(self, name: str, argument: QDBusArgument) -> None:
        self.readers[name](self._pointer(argument))


@cache
def _abi() -> _QtDBusAbi | None:
    # QtDBus is imported above, so its library is loaded: dlopen by soname returns it.
    for soname in ("libQt6DBus.so.6", "libQt6DBus.6.dylib"):
        try:
            return _QtDBusAbi(ctypes.CDLL(soname))
        except (OSError, AttributeError, ImportError) as exc:
            log.debug("typed QDBusArgument methods not found in %s: %s", soname, exc)
    return None


def typed_ints_available() -> bool:
    """True when :func:`uint32` and friends work (Qt 6's D-Bus library was found)."""
    return _abi() is not None


def _typed(code: str, value: int, low: int, high: int) -> QDBusArgument:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a D-Bus '{code}' value must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{value} does not fit a D-Bus '{code}' ({low}..{high})")
    abi = _abi()
    if abi is None:
        raise DBusUnavailable("Qt's typed D-Bus integers are not available")
    return abi.write(code, value)


def uint32(value: int) -> QDBusArgument:
    """``value`` as a D-Bus ``uint32`` (``u``), for a message's arguments or a variant."""
    return _typed("u", value, 0, 2**32 - 1)


def int64(value: int) -> QDBusArgument:
    """``value`` as a D-Bus ``int64`` (``x``)."""
    return _typed("x", value, -(2**63), 2**63 - 1)


def byte(value: int) -> QDBusArgument:
    """``value`` as a D-Bus ``byte`` (``y``)."""
    return _typed("y", value, 0, 255)


def string_list(values: Sequence[str]) -> list[str] | QDBusArgument:
    """``values`` as a D-Bus ``as``, even when empty (an empty Python list would be sent as
    ``av``)."""
    if values:
        return [str(v) for v in values]
    empty = QDBusArgument()
    empty.beginArray(QMetaType(QMetaType.Type.QString))
    empty.endArray()
    return empty


def unpack(value: Any) -> Any:
    """A received D-Bus value as plain Python: structures become tuples, arrays lists,
    dictionaries dicts, variants their content, object paths and signatures strings."""
    if isinstance(value, QDBusVariant):
        return unpack(value.variant())
    if isinstance(value, QDBusObjectPath):
        return value.path()
    if isinstance(value, QDBusSignature):
        return value.signature()
    if isinstance(value, list):
        return [unpack(v) for v in value]
    if isinstance(value, dict):
        return {unpack(k): unpack(v) for k, v in value.items()}
    if not isinstance(value, QDBusArgument):
        return value
    abi = _abi()
    if abi is None:
        raise DBusUnavailable("Qt's D-Bus reading methods are not available")
    kind = value.currentType()
    types = QDBusArgument.ElementType
    if kind == types.StructureType:
        abi.read("beginStructure", value)
        items = []
        while not value.atEnd():
            items.append(unpack(value.asVariant()))
        abi.read("endStructure", value)
        return tuple(items)
    if kind == types.ArrayType:
        abi.read("beginArray", value)
        elements = []
        while not value.atEnd():
            elements.append(unpack(value.asVariant()))
        abi.read("endArray", value)
        return elements
    if kind == types.MapType:
        abi.read("beginMap", value)
        mapping = {}
        while not value.atEnd():
            abi.read("beginMapEntry", value)
            key = unpack(value.asVariant())
            mapping[key] = unpack(value.asVariant())
            abi.read("endMapEntry", value)
        abi.read("endMap", value)
        return mapping
    return unpack(value.asVariant())


# --- calls and signals ---------------------------------------------------------------------------


def call_async(
    bus: QDBusConnection,
    service: str,
    path: str,
    interface: str,
    method: str,
    args: Sequence[Any],
    *,
    owner: QObject,
    on_reply: Callable[[list[Any]], None] | None = None,
    on_error: Callable[[str, str], None] | None = None,
    timeout_ms: int = 10_000,
) -> None:
    """Call ``method`` without blocking. ``on_reply(arguments)`` or ``on_error(name,
    message)`` runs later on ``owner``'s thread; neither runs once ``owner`` is destroyed."""
    message = QDBusMessage.createMethodCall(service, path, interface, method)
    message.setArguments(list(args))
    watcher = QDBusPendingCallWatcher(bus.asyncCall(message, timeout_ms), owner)

    def finished(w: QDBusPendingCallWatcher) -> None:
        w.deleteLater()
        if w.isError():
            error = w.error()
            log.debug("D-Bus %s.%s failed: %s", interface, method, error.message())
            if on_error is not None:
                on_error(error.name(), error.message())
        elif on_reply is not None:
            on_reply(list(w.reply().arguments()))

    watcher.finished.connect(finished)


class SignalSubscription(QObject):
    """Delivers one D-Bus signal to a Python callable, as ``callback(arguments, message)``,
    on the thread this object lives on, until :meth:`cancel` (or destruction)."""

    def __init__(
        self,
        bus: QDBusConnection,
        service: str,
        path: str,
        interface: str,
        name: str,
        callback: Callable[[list[Any], QDBusMessage], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._bus = bus
        self._match = (service, path, interface, name)
        self._callback = callback
        self.connected = bus.connect(service, path, interface, name, self, self._SLOT)
        if not self.connected:
            log.debug("cannot watch D-Bus signal %s.%s", interface, name)

    #: PySide6 takes the slot as a str at run time; its stubs say bytes.
    _SLOT: Any = SLOT("deliver(QDBusMessage)")

    @Slot(QDBusMessage)
    def deliver(self, message: QDBusMessage) -> None:
        self._callback(list(message.arguments()), message)

    def cancel(self) -> None:
        """Stop delivering. Idempotent."""
        if self.connected:
            self.connected = False
            service, path, interface, name = self._match
            self._bus.disconnect(service, path, interface, name, self, self._SLOT)
