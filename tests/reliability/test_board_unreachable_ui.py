"""While the PostgreSQL board cannot be reached the app says so — a banner in the main
window and the tray's tooltip, naming the host and never the password — and the state
clears by itself once the server is back (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from jobdeck.core import JobRegistry, JobTracker
from jobdeck.runtime import JobSignals
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.tray import TrayController
from tests.pg_server import PASSWORD, PgServer
from tests.runtime.conftest import event_loop_qt
from tests.ui.fakes import FakeSettings

__all__ = ["event_loop_qt"]

WAIT_MS = 30_000


@pytest.mark.slow
@pytest.mark.expected_log(
    r"lost the connection to the board",
    r"could not connect to the board",
    r"can be reached again",
    r"accepts changes again",
    r"reconnected to the board",
)
def test_a_stopped_server_shows_a_banner_and_tooltip_until_it_is_back(
    qtbot: Any, event_loop_qt: Any, pg_server: PgServer, pg_url: str
) -> None:
    database = pg_url.split("@/")[1].split("?")[0]
    url = pg_server.url(database, password=PASSWORD)  # over TCP, with the password
    registry = JobRegistry()
    registry.register("x", lambda ctx: None)
    tracker = JobTracker.open(url, registry=registry, instance="desk", event_interval=0.01)
    signals = JobSignals(tracker, interval_ms=5)
    window = MainWindow(tracker, signals, registry, FakeSettings())
    qtbot.addWidget(window)
    window.show()
    tray = TrayController(tracker, signals)
    try:
        assert not window.store_banner.isVisible()
        pg_server.stop("fast")
        try:
            qtbot.waitUntil(window.store_banner.isVisible, timeout=WAIT_MS)
            banner = window.store_banner.text()
            assert banner.startswith(f"\u26a0 Jobdeck cannot reach the board '{database}'")
            assert f"PostgreSQL at 127.0.0.1, port {pg_server.port}" in banner
            assert "connects again by itself" in banner
            tooltip = tray.tooltip()
            assert tooltip.startswith("\u26a0 Jobdeck cannot reach the board") and "127.0.0.1" in (
                tooltip
            )
            assert PASSWORD not in banner and PASSWORD not in tooltip
        finally:
            pg_server.start_again()
        qtbot.waitUntil(lambda: not window.store_banner.isVisible(), timeout=WAIT_MS)
        assert signals.store_trouble == "" and not tray.tooltip().startswith("\u26a0")
        job = tracker.enqueue("x", title="after the restart")  # the board works again
        assert tracker.get_job(job.id) is not None
    finally:
        tray.dispose()
        signals.close()
        tracker.close()
