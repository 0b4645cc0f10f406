"""The tray icon on a real StatusNotifier bus: what a desktop panel receives.

A private session bus with a StatusNotifierWatcher (answered here) makes Qt use its D-Bus
tray (the StatusNotifierItem protocol of KDE Plasma, GNOME's AppIndicator extension, waybar,
...). The tray runs in a child process under Xvfb, as in a desktop session; ``dbus-monitor``
counts the item's ``NewIcon`` and ``NewToolTip`` signals, each of which makes the panel
fetch and redraw the icon. A busy ring used to send about 25 of them a second.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusVariant, QDBusVirtualObject

from tests.e2e.xsession import XSession
from tests.platform.conftest import _BUS_CONFIG, need_tool

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WATCHER = "org.kde.StatusNotifierWatcher"
#: The app in the child: a tray whose only job runs with an unknown total.
TRAY_APP = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
app = QApplication(sys.argv[:1])
from jobdeck.core import JobTracker
from jobdeck.runtime import JobSignals
from jobdeck.ui.tray import TrayController
tracker = JobTracker.open(sys.argv[1])
signals = JobSignals(tracker)
tracker.create_job("scan", title="Scan disk")  # running, total unknown: a busy ring
tray = TrayController(tracker, signals, animate=sys.argv[2] == "animate")
assert tray.available, "Qt found no StatusNotifier tray on the bus"
print("ready", flush=True)
QTimer.singleShot(int(float(sys.argv[3]) * 1000), app.quit)
app.exec()
tray.dispose()
signals.close()
tracker.close()
"""


class Watcher(QDBusVirtualObject):
    """A StatusNotifierWatcher with a host: what a panel registers on a desktop."""

    def __init__(self, bus: QDBusConnection) -> None:
        super().__init__()
        self.items: list[str] = []
        assert bus.registerVirtualObject("/StatusNotifierWatcher", self)
        assert bus.registerService(WATCHER), bus.lastError().message()

    def introspect(self, path: str) -> str:
        return ""

    def handleMessage(self, message: QDBusMessage, connection: QDBusConnection) -> bool:
        properties: dict[str, Any] = {
            "IsStatusNotifierHostRegistered": True,
            "ProtocolVersion": 0,
            "RegisteredStatusNotifierItems": list(self.items),
        }
        member = message.member()
        if member == "RegisterStatusNotifierItem":
            self.items.append(str(message.arguments()[0]))
            connection.send(message.createReply())
        elif member == "Get" and message.arguments()[1] in properties:
            value = properties[message.arguments()[1]]
            connection.send(message.createReply([QDBusVariant(value)]))
        elif member == "GetAll":
            connection.send(message.createReply([properties]))
        else:
            return False
        return True


@pytest.fixture
def private_bus(tmp_path: Path, qapp) -> Iterator[tuple[str, Watcher]]:
    daemon_path = need_tool("dbus-daemon", "dbus")
    need_tool("dbus-monitor", "dbus")
    need_tool("Xvfb", "xvfb")
    config = tmp_path / "bus.conf"
    config.write_text(_BUS_CONFIG)
    daemon = subprocess.Popen(
        [daemon_path, "--config-file", str(config), "--print-address", "--nofork"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    bus = QDBusConnection.connectToBus(address, "jobdeck-test-sni-watcher")
    assert bus.isConnected(), bus.lastError().message()
    watcher = Watcher(bus)
    try:
        yield address, watcher
    finally:
        bus.unregisterService(WATCHER)
        QDBusConnection.disconnectFromBus("jobdeck-test-sni-watcher")
        daemon.terminate()
        daemon.wait(timeout=10)


def run_tray(address: str, tmp_path: Path, mode: str, seconds: float) -> dict[str, float]:
    """Run the tray app for ``seconds`` under Xvfb; its signals per second on the bus."""
    script = tmp_path / "tray_app.py"
    script.write_text(TRAY_APP)
    monitor = subprocess.Popen(
        [
            "dbus-monitor",
            "--address",
            address,
            "type='signal',interface='org.kde.StatusNotifierItem'",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        with XSession(tray=False, compositor=False) as session:
            child = subprocess.Popen(
                [sys.executable, str(script), str(tmp_path / f"{mode}.db"), mode, str(seconds)],
                env=session.env(DBUS_SESSION_BUS_ADDRESS=address),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + seconds + 60
            while child.poll() is None:  # the watcher (on this thread) answers meanwhile
                QCoreApplication.processEvents()
                time.sleep(0.005)
                assert time.monotonic() < deadline, "the tray app did not end"
            _out, err = child.communicate()
            assert child.returncode == 0, err[-2000:]
    finally:
        monitor.terminate()
        seen = monitor.communicate(timeout=10)[0]
    return {
        "NewIcon": seen.count("member=NewIcon") / seconds,
        "NewToolTip": seen.count("member=NewToolTip") / seconds,
    }


def test_a_busy_tray_icon_sends_at_most_four_updates_a_second(private_bus, tmp_path) -> None:
    address, watcher = private_bus
    rates = run_tray(address, tmp_path, "animate", seconds=3.0)
    assert watcher.items, "the tray never registered with the watcher"
    # 4 frames a second, plus the first icon and one frame at the edge of the counted
    # time (the app runs a little longer than ``seconds``: its start and quit are counted
    # too); it was ~12.5 icons + ~12.5 tooltips a second
    assert 1.5 <= rates["NewIcon"] <= 4 + 2 / 3.0, rates
    assert rates["NewToolTip"] <= 0.5, rates  # the tooltip did not change: sent once


def test_a_still_tray_icon_sends_nothing_while_the_job_runs(private_bus, tmp_path) -> None:
    address, _watcher = private_bus
    rates = run_tray(address, tmp_path, "still", seconds=2.0)
    assert rates["NewIcon"] <= 0.5 and rates["NewToolTip"] <= 0.5, rates  # the first one only
