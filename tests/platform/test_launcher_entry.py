"""LauncherProgress, watched from another connection on a private session bus."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtDBus import QDBusConnection, QDBusMessage
from PySide6.QtGui import QGuiApplication

from jobdeck.core import JobTracker
from jobdeck.core.job import JobStatus
from jobdeck.platform.dbus_util import SignalSubscription, unpack
from jobdeck.platform.launcher_entry import APP_URI, INTERFACE, LauncherProgress, LauncherState
from jobdeck.runtime.signals import JobSignals

from .conftest import need_tool
from .feeds import FakeFeed, finished, make_job, progressed

Connect = Callable[[str], QDBusConnection]


class Dock:
    """Listens to every LauncherEntry Update on the bus, as a dock does."""

    def __init__(self, bus: QDBusConnection) -> None:
        self.updates: list[tuple[str, str, str, dict[str, Any]]] = []
        self._subscription = SignalSubscription(bus, "", "", INTERFACE, "Update", self._on_update)
        assert self._subscription.connected

    def _on_update(self, args: list[Any], message: QDBusMessage) -> None:
        self.updates.append((message.path(), message.signature(), args[0], unpack(args[1])))

    @property
    def last(self) -> dict[str, Any]:
        return self.updates[-1][3]

    def close(self) -> None:
        self._subscription.cancel()


@pytest.fixture
def dock(connect_bus: Connect) -> Any:
    d = Dock(connect_bus("dock"))
    yield d
    d.close()


def test_progress_count_and_signature_reach_the_dock(
    qtbot: Any, connect_bus: Connect, dock: Dock
) -> None:
    feed = FakeFeed()
    launcher = LauncherProgress(feed, bus=connect_bus("app"))
    qtbot.waitUntil(lambda: len(dock.updates) == 1, timeout=10_000)  # the start clears it
    assert dock.last["count-visible"] is False

    a, b = make_job("a", total=100), make_job("b", total=100)
    feed.push(progressed(a, 50), progressed(b, 25), make_job("c", JobStatus.PENDING))
    qtbot.waitUntil(lambda: bool(dock.updates) and dock.last["count"] == 3, timeout=10_000)
    path, signature, app_uri, props = dock.updates[-1]
    assert signature == "sa{sv}"
    assert app_uri == APP_URI == "application://jobdeck.desktop"
    assert path.startswith("/com/canonical/unity/launcherentry/")
    assert props == {
        "progress": 0.38,  # (50 + 25) / 200, in whole percents
        "progress-visible": True,
        "count": 3,
        "count-visible": True,
        "urgent": False,
    }
    launcher.close()


def test_unknown_totals_show_the_badge_but_no_bar(
    qtbot: Any, connect_bus: Connect, dock: Dock
) -> None:
    feed = FakeFeed([make_job("busy")])  # already running when the app wires it up
    launcher = LauncherProgress(feed, bus=connect_bus("app"))
    qtbot.waitUntil(lambda: bool(dock.updates), timeout=10_000)
    assert dock.last["count"] == 1
    assert dock.last["progress-visible"] is False
    launcher.close()


def test_a_flood_of_progress_is_coalesced(qtbot: Any, connect_bus: Connect, dock: Dock) -> None:
    feed = FakeFeed()
    launcher = LauncherProgress(feed, bus=connect_bus("app"), min_interval_ms=250)
    qtbot.waitUntil(lambda: len(dock.updates) == 1, timeout=10_000)
    job = make_job("copy", total=1000)
    for i in range(1, 1001):  # one batch per unit, as fast as the feed can go
        feed.push(progressed(job, i))
    qtbot.waitUntil(lambda: dock.last["progress"] == 1.0, timeout=10_000)
    assert len(dock.updates) <= 3  # the clear at start, then one or two updates

    # A steady stream for about a second: at most ~4 updates a second reach the bus.
    before = launcher.updates_sent
    ticks = iter(range(1, 51))
    timer = QTimer()
    timer.setInterval(20)

    def tick() -> None:
        i = next(ticks, None)
        if i is None:
            timer.stop()
        else:
            feed.push(progressed(job, i * 20))

    timer.timeout.connect(tick)
    timer.start()
    qtbot.waitUntil(lambda: not timer.isActive(), timeout=20_000)
    qtbot.waitUntil(lambda: dock.last["progress"] == 1.0, timeout=10_000)
    # 50 changes over >= 1 s: a 250 ms gap between sends allows at most elapsed/0.25 + 1.
    assert launcher.updates_sent - before <= 8
    launcher.close()


def test_a_failure_marks_the_icon_urgent_until_the_app_is_activated(
    qtbot: Any, connect_bus: Connect, dock: Dock, qapp: Any
) -> None:
    if QGuiApplication.applicationState() == Qt.ApplicationState.ApplicationActive:
        pytest.skip("the test application is active: a failure would not be urgent")
    feed = FakeFeed()
    launcher = LauncherProgress(feed, bus=connect_bus("app"))
    job = make_job("sync", total=10)
    feed.push(progressed(job, 3))
    qtbot.waitUntil(lambda: bool(dock.updates) and dock.last["count"] == 1, timeout=10_000)
    feed.push(finished(job, JobStatus.FAILED))
    qtbot.waitUntil(lambda: dock.last["urgent"] is True, timeout=10_000)
    assert dock.last["count-visible"] is False and dock.last["progress-visible"] is False

    qapp.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
    qtbot.waitUntil(lambda: dock.last["urgent"] is False, timeout=10_000)
    launcher.close()


def test_close_clears_the_icon(qtbot: Any, connect_bus: Connect, dock: Dock) -> None:
    feed = FakeFeed()
    launcher = LauncherProgress(feed, bus=connect_bus("app"))
    feed.push(make_job("a", total=4, current=1))
    qtbot.waitUntil(lambda: bool(dock.updates) and dock.last["count"] == 1, timeout=10_000)
    launcher.close()
    qtbot.waitUntil(lambda: dock.last["count"] == 0, timeout=10_000)
    assert dock.last == {
        "progress": 0.0,
        "progress-visible": False,
        "count": 0,
        "count-visible": False,
        "urgent": False,
    }
    feed.push(make_job("after close"))  # no longer followed
    assert launcher.state.count == 1


def test_without_a_bus_it_only_keeps_state(qapp: Any) -> None:
    feed = FakeFeed()
    launcher = LauncherProgress(feed, bus=None)
    feed.push(make_job("a", total=4, current=2))
    assert launcher.state == LauncherState(0.5, True, 1, True, False)
    launcher.close()
    assert launcher.updates_sent == 0


def test_the_count_is_an_int64_on_the_wire(
    qtbot: Any, connect_bus: Connect, bus_address: str, dock: Dock
) -> None:
    """Plank reads the count with g_variant_get_int64: an int32 would be refused."""
    monitor_exe = need_tool("dbus-monitor", "dbus")
    monitor = subprocess.Popen(
        [monitor_exe, "--address", bus_address],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(monitor.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        # dbus-monitor loses its name when it becomes a monitor: from then on it sees all.
        qtbot.waitUntil(lambda: any("NameLost" in line for line in lines), timeout=10_000)
        feed = FakeFeed()
        launcher = LauncherProgress(feed, bus=connect_bus("app"))
        feed.push(make_job("a", total=4, current=1), make_job("b"))
        qtbot.waitUntil(lambda: bool(dock.updates) and dock.last["count"] == 2, timeout=10_000)
        qtbot.waitUntil(lambda: any("int64 2" in line for line in lines), timeout=10_000)
        text = "".join(lines)
        assert 'string "count"\n' in text
        assert "double 0.25" in text
        launcher.close()
    finally:
        monitor.terminate()
        monitor.wait(timeout=10)
        reader.join(timeout=10)


def test_follows_the_real_job_signals_after_an_idle_gap(
    qtbot: Any, connect_bus: Connect, dock: Dock, tmp_path: Path
) -> None:
    tracker = JobTracker.open(tmp_path / "jobs.db", event_interval=0.005)
    signals = JobSignals(tracker)
    launcher = LauncherProgress(signals, bus=connect_bus("app"))
    try:
        first = tracker.create_job("test", title="first", total=10)
        first.update_progress(5, 10)
        qtbot.waitUntil(lambda: bool(dock.updates) and dock.last["progress"] == 0.5, timeout=10_000)
        tracker.complete_job(first.job_id)
        qtbot.waitUntil(lambda: dock.last["count"] == 0, timeout=10_000)
        sent = launcher.updates_sent

        # Idle: nothing changes, nothing is sent. Then a new job must show at once.
        qtbot.wait(600)
        assert launcher.updates_sent == sent
        second = tracker.create_job("test", title="second", total=4)
        second.update_progress(1, 4)
        qtbot.waitUntil(lambda: dock.last["progress"] == 0.25, timeout=10_000)
        assert dock.last["count"] == 1
        tracker.complete_job(second.job_id)
        qtbot.waitUntil(lambda: dock.last["count"] == 0, timeout=10_000)
    finally:
        launcher.close()
        signals.close()
        tracker.close()
