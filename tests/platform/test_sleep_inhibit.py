"""SleepInhibitor against a fake portal, logind and screen saver on a private bus."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtDBus import QDBusConnection

from jobdeck.core import JobTracker
from jobdeck.core.job import JobStatus
from jobdeck.platform.sleep_inhibit import (
    InhibitPolicy,
    Login1Inhibit,
    PortalInhibit,
    ScreenSaverInhibit,
    SleepInhibitor,
)
from jobdeck.runtime.signals import JobSignals

from .dbus_fakes import FakeLogin1, FakePortal, FakeScreenSaver, FakeService, Method
from .feeds import FakeFeed, finished, make_job

Connect = Callable[[str], QDBusConnection]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_bus(connect_bus: Connect) -> QDBusConnection:
    return connect_bus("app")


def backends(bus: QDBusConnection) -> list[Any]:
    """The default order, all on the private bus (logind's stands in for the system bus)."""
    return [PortalInhibit(bus), Login1Inhibit(bus), ScreenSaverInhibit(bus)]


@pytest.fixture
def services(connect_bus: Connect) -> Iterator[list[FakeService]]:
    started: list[FakeService] = []
    yield started
    for service in started:
        service.stop()


def test_the_portal_is_preferred_and_released_when_the_last_job_ends(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    portal = FakePortal(connect_bus("portal"))
    login1 = FakeLogin1(connect_bus("login1"))
    services += [portal, login1]
    feed = FakeFeed()
    inhibitor = SleepInhibitor(feed, policy="any", backends=backends(app_bus))
    a, b = make_job("a"), make_job("b")
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000) as taken:
        feed.push(a, b)
    assert taken.args == [True]
    assert inhibitor.backend == "portal"
    [call] = portal.calls_to("Inhibit")
    assert call.signature == "sua{sv}"
    window, flags, options = call.args
    assert (window, flags) == ("", 4)  # suspend only: the screen may still blank
    assert options["reason"] == "Jobs are running"
    assert login1.calls == []

    feed.push(finished(a))  # one job still runs
    assert inhibitor.inhibited
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000) as released:
        feed.push(finished(b, JobStatus.FAILED))
    assert released.args == [False]
    qtbot.waitUntil(lambda: not portal.active, timeout=10_000)
    [close] = portal.calls_to("Close")
    assert close.path == call.path + "/request/" + call.sender[1:].replace(".", "_") + (
        "/" + options["handle_token"]
    )
    inhibitor.close()


def test_logind_holds_a_descriptor_that_closing_releases(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    login1 = FakeLogin1(connect_bus("login1"))
    services.append(login1)
    feed = FakeFeed()
    chain = backends(app_bus)
    inhibitor = SleepInhibitor(feed, backends=chain)
    job = make_job("backup")
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        feed.push(job)
    assert inhibitor.backend == "login1"
    [call] = login1.calls_to("Inhibit")
    assert call.signature == "ssss"
    what, _who, why, mode = call.args
    assert (what, why, mode) == ("sleep", "Jobs are running", "block")
    fd = chain[1].fd
    assert fd is not None and not os.get_inheritable(fd)
    assert not login1.released()

    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        feed.push(finished(job))
    # (the last copy of the descriptor may go with a QtDBus object deleted a moment later)
    qtbot.waitUntil(login1.released, timeout=5_000)
    inhibitor.close()


def test_the_screen_saver_is_the_last_resort_and_gets_its_cookie_back(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    saver = FakeScreenSaver(connect_bus("saver"))
    services.append(saver)
    feed = FakeFeed()
    inhibitor = SleepInhibitor(feed, backends=backends(app_bus))
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        feed.push(make_job("render"))
    assert inhibitor.backend == "screensaver"
    [cookie] = saver.active
    inhibitor.close()  # at quit
    assert not inhibitor.inhibited
    qtbot.waitUntil(lambda: not saver.active, timeout=10_000)
    [uninhibit] = saver.calls_to("UnInhibit")
    assert (uninhibit.signature, uninhibit.args) == ("u", [cookie])
    assert saver.refused == []


def test_a_refusing_portal_falls_through_to_the_next(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    portal = FakeService(  # answers every Inhibit with an error, as a portal without backend
        connect_bus("portal"),
        "org.freedesktop.portal.Desktop",
        "/org/freedesktop/portal/desktop",
        [Method("org.freedesktop.portal.Inhibit", "Inhibit", "(refused)", lambda c: [])],
    )
    saver = FakeScreenSaver(connect_bus("saver"))
    services += [portal, saver]
    inhibitor = SleepInhibitor(FakeFeed([make_job("x")]), backends=backends(app_bus))
    qtbot.waitUntil(lambda: inhibitor.backend == "screensaver", timeout=10_000)
    assert len(portal.refused) == 1
    inhibitor.close()


def test_nothing_to_inhibit_with_is_quiet(qtbot: Any, app_bus: QDBusConnection) -> None:
    feed = FakeFeed()
    inhibitor = SleepInhibitor(feed, backends=backends(app_bus))
    feed.push(make_job("a"))
    feed.push(make_job("b"))
    assert not inhibitor.inhibited
    inhibitor.close()
    # And with no bus at all:
    none = SleepInhibitor(feed, backends=[PortalInhibit(None), Login1Inhibit(None)])
    feed.push(make_job("c"))
    assert not none.inhibited
    none.close()


def test_the_policy_applies_at_once(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    saver = FakeScreenSaver(connect_bus("saver"))
    services.append(saver)
    feed = FakeFeed([make_job("running before the app wired us")])
    inhibitor = SleepInhibitor(feed, policy=InhibitPolicy.OFF, backends=backends(app_bus))
    assert not inhibitor.inhibited and saver.calls == []
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        inhibitor.set_policy("any")
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        inhibitor.set_policy(InhibitPolicy.OFF)
    qtbot.waitUntil(lambda: not saver.active, timeout=10_000)
    with pytest.raises(ValueError, match=r"policy must be one of 'off', 'any', 'long', got 'al"):
        inhibitor.set_policy("always")
    with pytest.raises(ValueError, match="long_after_s must be a number of seconds >= 0"):
        inhibitor.set_policy("long", -1)
    assert inhibitor.policy is InhibitPolicy.OFF
    inhibitor.close()


def test_only_long_jobs_inhibit_once_they_have_run_long_enough(
    qtbot: Any, connect_bus: Connect, app_bus: QDBusConnection, services: list[FakeService]
) -> None:
    saver = FakeScreenSaver(connect_bus("saver"))
    services.append(saver)
    feed = FakeFeed()
    inhibitor = SleepInhibitor(feed, policy="long", long_after_s=0.5, backends=backends(app_bus))
    started = time.time()
    quick = make_job("quick", started=started)
    feed.push(quick)
    assert not inhibitor.inhibited and saver.calls == []
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        pass  # the job passes the threshold while nothing else happens
    assert time.time() - started >= 0.5
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        feed.push(finished(quick))

    # A job that has already run for an hour (e.g. re-attached after a restart): at once.
    with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
        feed.push(make_job("old", started=time.time() - 3600))
    inhibitor.close()
    qtbot.waitUntil(lambda: not saver.active, timeout=10_000)


def test_follows_the_real_job_signals(
    qtbot: Any,
    connect_bus: Connect,
    app_bus: QDBusConnection,
    services: list[FakeService],
    tmp_path: Path,
) -> None:
    login1 = FakeLogin1(connect_bus("login1"))
    services.append(login1)
    tracker = JobTracker.open(tmp_path / "jobs.db", event_interval=0.005)
    signals = JobSignals(tracker)
    inhibitor = SleepInhibitor(signals, backends=backends(app_bus))
    try:
        for round_ in range(2):  # the second round comes after an idle spell
            with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
                ctx = tracker.create_job("test", title=f"round {round_}")
            with qtbot.waitSignal(inhibitor.inhibitedChanged, timeout=10_000):
                tracker.complete_job(ctx.job_id)
            qtbot.waitUntil(login1.released, timeout=5_000)
            qtbot.wait(300)
    finally:
        inhibitor.close()
        signals.close()
        tracker.close()


_CHILD = """
import sys
from PySide6.QtCore import QCoreApplication
from PySide6.QtDBus import QDBusConnection
from jobdeck.platform.sleep_inhibit import Login1Inhibit
app = QCoreApplication([])
bus = QDBusConnection.connectToBus(sys.argv[1], "child")
backend = Login1Inhibit(bus)
backend.acquire("a job runs", lambda ok: print("held" if ok else "refused", flush=True))
app.exec()
"""


def test_a_crash_releases_the_logind_inhibitor(
    qtbot: Any, connect_bus: Connect, bus_address: str, services: list[FakeService]
) -> None:
    login1 = FakeLogin1(connect_bus("login1"))
    services.append(login1)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop"), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, bus_address], stdout=subprocess.PIPE, text=True, env=env
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        qtbot.waitUntil(lambda: lines == ["held\n"], timeout=30_000)
        assert not login1.released()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert login1.released()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        reader.join(timeout=10)
