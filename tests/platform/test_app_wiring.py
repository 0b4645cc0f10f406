"""The real app, wired to a private session bus: a failed job reaches the notification server
with Open/Retry, Retry runs it again, the dock shows the count, and a running job keeps the
screen saver from starting (policy "any")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QApplication

from jobdeck.app import JobdeckApp, QuitChoice
from jobdeck.core import JobStatus
from jobdeck.settings import AppSettings

from .dbus_fakes import FakeNotificationServer, FakeScreenSaver
from .test_launcher_entry import Dock

Connect = Callable[[str], QDBusConnection]


@pytest.fixture
def wired_app(
    qapp: QApplication, tmp_path: Path, connect_bus: Connect, qtbot: Any
) -> Iterator[JobdeckApp]:
    settings = AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))
    settings.sleep_inhibit = "any"
    app = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda running, processes: QuitChoice.CANCEL_AND_QUIT,
        on_quit=lambda: None,
        session_bus=connect_bus("app"),
    )
    app.start(show_window=False)
    yield app
    app.shutdown()


@pytest.fixture
def server(connect_bus: Connect) -> Iterator[FakeNotificationServer]:
    fake = FakeNotificationServer(connect_bus("server"))
    yield fake
    fake.stop()


@pytest.fixture
def screensaver(connect_bus: Connect) -> Iterator[FakeScreenSaver]:
    fake = FakeScreenSaver(connect_bus("screensaver"))
    yield fake
    fake.stop()


@pytest.fixture
def dock(connect_bus: Connect) -> Iterator[Dock]:
    watcher = Dock(connect_bus("dock"))
    yield watcher
    watcher.close()


def test_a_failed_job_is_announced_on_the_bus_and_retry_runs_it_again(
    qtbot: Any,
    server: FakeNotificationServer,
    screensaver: FakeScreenSaver,
    dock: Dock,
    wired_app: JobdeckApp,
) -> None:
    app = wired_app
    job = app.tracker.enqueue("command", {"argv": ["sh", "-c", "sleep 0.5; echo oops; exit 3"]})
    qtbot.waitUntil(lambda: len(screensaver.calls_to("Inhibit")) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: len(server.notifications) == 1, timeout=15_000)
    [sent] = server.notifications
    assert sent["summary"].startswith("Failed: ")
    assert "exit status 3" in sent["body"]
    assert sent["actions"][-2:] == ["retry", "Retry"]
    assert sent["hints"]["urgency"] == 2
    qtbot.waitUntil(lambda: len(screensaver.calls_to("UnInhibit")) == 1, timeout=10_000)
    assert any(update[3].get("count") == 1 for update in dock.updates)  # the job was shown

    server.click(1, "retry")

    def rerun() -> Any:
        return next((j for j in app.tracker.list_jobs() if j.retry_of == job.id), None)

    qtbot.waitUntil(lambda: rerun() is not None, timeout=10_000)
    again = rerun()
    first = app.tracker.get_job(job.id)
    assert first is not None and again.params == first.params
    assert app.window.isVisible()  # Retry shows the new run
    qtbot.waitUntil(
        lambda: app.tracker.get_job(again.id).status is JobStatus.FAILED,  # type: ignore[union-attr]
        timeout=15_000,
    )
