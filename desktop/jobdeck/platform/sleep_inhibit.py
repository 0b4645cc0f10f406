"""Keeping the computer from going to sleep while jobs run.

:class:`SleepInhibitor` is the policy (off / while any job runs / only once a job has run
longer than N minutes); it takes an inhibitor from the first of these that works:

1. the XDG desktop portal (``org.freedesktop.portal.Inhibit``, suspend only): works in and
   out of sandboxes, on GNOME and Plasma;
2. systemd-logind (``org.freedesktop.login1.Manager.Inhibit("sleep", ..., "block")`` on the
   system bus), which hands back a file descriptor: the inhibitor lives exactly as long as
   that descriptor is open;
3. ``org.freedesktop.ScreenSaver.Inhibit`` (older desktops; it also keeps the screen on).

All three are released by the system when Jobdeck's process ends, crash included: the
portal and the screen saver drop the inhibitors of a D-Bus connection that closes, and the
kernel closes logind's descriptor. The descriptor is not inherited by job processes.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, Literal, Protocol

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtDBus import QDBusConnection, QDBusObjectPath, QDBusUnixFileDescriptor, QDBusVariant

from .dbus_util import DBusUnavailable, call_async, has_name, session_bus, system_bus, uint32
from .job_feed import ActiveJobs, JobFeed

__all__ = [
    "InhibitBackend",
    "InhibitPolicy",
    "Login1Inhibit",
    "PortalInhibit",
    "ScreenSaverInhibit",
    "SleepInhibitor",
    "default_backends",
]

log = logging.getLogger(__name__)

Bus = QDBusConnection | Literal["session", "system"] | None


def _bus(bus: Bus) -> QDBusConnection | None:
    if bus == "session":
        return session_bus()
    if bus == "system":
        return system_bus()
    return bus


class InhibitPolicy(StrEnum):
    """When to keep the computer awake (the values are what a setting stores)."""

    OFF = "off"
    ANY_JOB = "any"
    LONG_JOBS = "long"


class InhibitBackend(Protocol):
    """One way to hold an inhibitor. ``acquire`` answers later, on the GUI thread."""

    name: str

    def available(self) -> bool: ...

    def acquire(self, reason: str, done: Callable[[bool], None]) -> None: ...

    def release(self) -> None: ...


class _DBusBackend(QObject):
    name = "?"
    service = ""

    def __init__(self, bus: Bus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bus = _bus(bus)

    def available(self) -> bool:
        return self._bus is not None and has_name(self._bus, self.service)


class PortalInhibit(_DBusBackend):
    """``org.freedesktop.portal.Inhibit`` (flag 4: suspend); released by closing the
    returned request."""

    name = "portal"
    service = "org.freedesktop.portal.Desktop"
    SUSPEND = 4
    _tokens = itertools.count(1)

    def __init__(self, bus: Bus = "session", parent: QObject | None = None) -> None:
        super().__init__(bus, parent)
        self._handle: str | None = None

    def acquire(self, reason: str, done: Callable[[bool], None]) -> None:
        assert self._bus is not None
        options = {
            "reason": QDBusVariant(reason),
            "handle_token": QDBusVariant(f"jobdeck{os.getpid()}_{next(self._tokens)}"),
        }

        def replied(arguments: list[Any]) -> None:
            handle = arguments[0] if arguments else None
            if isinstance(handle, QDBusObjectPath):
                handle = handle.path()
            self._handle = str(handle) if handle else None
            done(self._handle is not None)

        call_async(
            self._bus,
            self.service,
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.portal.Inhibit",
            "Inhibit",
            ["", uint32(self.SUSPEND), options],
            owner=self,
            on_reply=replied,
            on_error=lambda _n, _m: done(False),
        )

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle and self._bus is not None:
            call_async(
                self._bus,
                self.service,
                handle,
                "org.freedesktop.portal.Request",
                "Close",
                [],
                owner=self,
            )


class Login1Inhibit(_DBusBackend):
    """systemd-logind's ``block`` inhibitor for ``sleep``: a file descriptor we hold."""

    name = "login1"
    service = "org.freedesktop.login1"

    def __init__(self, bus: Bus = "system", parent: QObject | None = None) -> None:
        super().__init__(bus, parent)
        self._fd: int | None = None

    @property
    def fd(self) -> int | None:
        """The inhibitor's file descriptor while held."""
        return self._fd

    def acquire(self, reason: str, done: Callable[[bool], None]) -> None:
        assert self._bus is not None

        def replied(arguments: list[Any]) -> None:
            received = arguments[0] if arguments else None
            if not isinstance(received, QDBusUnixFileDescriptor) or not received.isValid():
                done(False)
                return
            fd = received.takeFileDescriptor()
            os.set_inheritable(fd, False)  # job processes must not keep the machine awake
            self._fd = fd
            done(True)

        call_async(
            self._bus,
            self.service,
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager",
            "Inhibit",
            ["sleep", QCoreApplication.applicationName() or "Jobdeck", reason, "block"],
            owner=self,
            on_reply=replied,
            on_error=lambda _n, _m: done(False),
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class ScreenSaverInhibit(_DBusBackend):
    """``org.freedesktop.ScreenSaver.Inhibit``/``UnInhibit`` with the returned cookie."""

    name = "screensaver"
    service = "org.freedesktop.ScreenSaver"
    PATH = "/org/freedesktop/ScreenSaver"

    def __init__(self, bus: Bus = "session", parent: QObject | None = None) -> None:
        super().__init__(bus, parent)
        self._cookie: int | None = None

    def acquire(self, reason: str, done: Callable[[bool], None]) -> None:
        assert self._bus is not None

        def replied(arguments: list[Any]) -> None:
            self._cookie = int(arguments[0]) if arguments else None
            done(self._cookie is not None)

        call_async(
            self._bus,
            self.service,
            self.PATH,
            self.service,
            "Inhibit",
            [QCoreApplication.applicationName() or "Jobdeck", reason],
            owner=self,
            on_reply=replied,
            on_error=lambda _n, _m: done(False),
        )

    def release(self) -> None:
        cookie, self._cookie = self._cookie, None
        if cookie is not None and self._bus is not None:
            try:
                args = [uint32(cookie)]
            except DBusUnavailable:
                return
            call_async(
                self._bus, self.service, self.PATH, self.service, "UnInhibit", args, owner=self
            )


def default_backends(parent: QObject | None = None) -> list[InhibitBackend]:
    """Portal, then logind, then the screen saver, on the user's session and system buses."""
    return [
        PortalInhibit(parent=parent),
        Login1Inhibit(parent=parent),
        ScreenSaverInhibit(parent=parent),
    ]


def session_backends(
    bus: QDBusConnection | None, parent: QObject | None = None
) -> list[InhibitBackend]:
    """The backends that live on one given session bus (the portal, then the screen saver);
    none without a bus. For an app told to use a particular bus (tests, a nested session)."""
    if bus is None:
        return []
    return [PortalInhibit(bus, parent), ScreenSaverInhibit(bus, parent)]


class SleepInhibitor(QObject):
    """Keeps the computer awake while jobs run, as the user's setting says.

    Follows a :class:`~jobdeck.platform.job_feed.JobFeed` (``JobSignals``) on the GUI
    thread. With :attr:`InhibitPolicy.ANY_JOB` it inhibits while any job is running; with
    :attr:`InhibitPolicy.LONG_JOBS` once a running job has run ``long_after_s`` seconds. It
    releases the inhibitor when the last such job ends, when the policy turns it off, and
    at :meth:`close` (quit).

    Signal (GUI thread): ``inhibitedChanged(bool)`` when an inhibitor is taken or released.
    """

    inhibitedChanged = Signal(bool)

    def __init__(
        self,
        feed: JobFeed,
        *,
        policy: InhibitPolicy | str = InhibitPolicy.ANY_JOB,
        long_after_s: float = 600.0,
        backends: Sequence[InhibitBackend] | None = None,
        now: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._policy = InhibitPolicy.OFF
        self._long_after_s = 0.0
        self._check_policy(policy, long_after_s)
        self._backends = list(default_backends(self) if backends is None else backends)
        self._now = now
        self._holder: InhibitBackend | None = None
        self._acquiring = False
        self._gave_up = False  # nothing worked: do not ask again until no longer wanted
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._evaluate)
        self._jobs = ActiveJobs(feed, self._evaluate)
        self.set_policy(policy, long_after_s)

    # -- public ---------------------------------------------------------------------------------

    @property
    def policy(self) -> InhibitPolicy:
        return self._policy

    @property
    def long_after_s(self) -> float:
        return self._long_after_s

    @property
    def inhibited(self) -> bool:
        """True while an inhibitor is held."""
        return self._holder is not None

    @property
    def backend(self) -> str | None:
        """The name of the backend holding the inhibitor, if any."""
        return None if self._holder is None else self._holder.name

    def set_policy(self, policy: InhibitPolicy | str, long_after_s: float | None = None) -> None:
        """Apply a new setting at once (e.g. from the settings dialog)."""
        self._policy, self._long_after_s = self._check_policy(
            policy, self._long_after_s if long_after_s is None else long_after_s
        )
        self._gave_up = False
        self._evaluate()

    def close(self) -> None:
        """Release any inhibitor and stop following jobs (at quit). Idempotent."""
        self._jobs.disconnect()
        self._timer.stop()
        self._policy = InhibitPolicy.OFF
        self._apply(False)

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _check_policy(
        policy: InhibitPolicy | str, long_after_s: float
    ) -> tuple[InhibitPolicy, float]:
        try:
            checked = InhibitPolicy(policy)
        except ValueError:
            choices = ", ".join(repr(p.value) for p in InhibitPolicy)
            raise ValueError(
                f"sleep inhibition policy must be one of {choices}, got {policy!r}"
            ) from None
        if (
            isinstance(long_after_s, bool)
            or not isinstance(long_after_s, int | float)
            or long_after_s < 0
        ):
            raise ValueError(f"long_after_s must be a number of seconds >= 0, got {long_after_s!r}")
        return checked, float(long_after_s)

    def _wanted(self) -> bool:
        running = self._jobs.running()
        if self._policy is InhibitPolicy.OFF or not running:
            return False
        if self._policy is InhibitPolicy.ANY_JOB:
            return True
        now = self._now()
        due = [(j.started_ts or now) + self._long_after_s for j in running]
        if min(due) <= now:
            return True
        self._timer.start(max(1, min(2**31 - 1, int((min(due) - now) * 1000) + 1)))
        return False

    def _evaluate(self) -> None:
        self._timer.stop()
        self._apply(self._wanted())

    def _apply(self, wanted: bool) -> None:
        if not wanted:
            self._gave_up = False
            holder, self._holder = self._holder, None
            if holder is not None:
                holder.release()
                log.debug("sleep inhibitor released (%s)", holder.name)
                self.inhibitedChanged.emit(False)
            return
        if self._holder is None and not self._acquiring and not self._gave_up:
            self._try(0)

    def _try(self, index: int) -> None:
        for i in range(index, len(self._backends)):
            backend = self._backends[i]
            if backend.available():
                self._acquiring = True
                reason = QCoreApplication.translate("SleepInhibitor", "Jobs are running")
                backend.acquire(reason, functools.partial(self._acquired, i))
                return
        self._acquiring = False
        self._gave_up = True
        log.debug("no way to inhibit sleep on this desktop")

    def _acquired(self, index: int, ok: bool) -> None:
        backend = self._backends[index]
        if not ok:
            log.debug("sleep inhibitor from %s refused; trying the next", backend.name)
            self._try(index + 1)
            return
        self._acquiring = False
        if not self._wanted():  # the jobs ended (or the policy changed) meanwhile
            backend.release()
            return
        self._holder = backend
        log.debug("sleep inhibited through %s", backend.name)
        self.inhibitedChanged.emit(True)
