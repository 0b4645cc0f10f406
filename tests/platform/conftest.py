"""Fixtures for desktop-integration tests: a private D-Bus session bus per test.

Each test that asks for ``bus_address`` gets its own ``dbus-daemon`` (no service files, so
nothing real is ever activated on it) and ``DBUS_SESSION_BUS_ADDRESS`` pointing at it.
``connect_bus(name)`` opens a separate connection to it, so the code under test and the fake
services it talks to exchange real, marshalled messages. In CI (``CI`` set) a missing
dbus-daemon is a failure, not a skip (scripts/install-debian-deps.sh installs it).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtDBus import QDBusConnection

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

_names = itertools.count()


def need_tool(name: str, package: str) -> str:
    """The path of ``name``; outside CI a missing tool skips the test, in CI it fails it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: scripts/install-debian-deps.sh installs {package}")
        pytest.skip(f"{name} is not installed (bash scripts/install-debian-deps.sh)")
    return path


@pytest.fixture
def bus_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private session bus for this test; its address is also DBUS_SESSION_BUS_ADDRESS."""
    daemon = need_tool("dbus-daemon", "dbus")
    config = tmp_path / "session-bus.conf"
    config.write_text(_BUS_CONFIG)
    process = subprocess.Popen(
        [daemon, "--config-file", str(config), "--print-address", "--nofork"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        if not address:
            pytest.fail(f"dbus-daemon printed no address (exit status {process.poll()})")
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def connect_bus(qapp: Any, bus_address: str) -> Iterator[Callable[[str], QDBusConnection]]:
    """``connect_bus(role)``: a new connection to the private bus, closed after the test."""
    opened: list[str] = []

    def connect(role: str) -> QDBusConnection:
        name = f"jobdeck-test-{role}-{next(_names)}"
        connection = QDBusConnection.connectToBus(bus_address, name)
        assert connection.isConnected(), connection.lastError().message()
        opened.append(name)
        return connection

    yield connect
    for name in opened:
        QDBusConnection.disconnectFromBus(name)
