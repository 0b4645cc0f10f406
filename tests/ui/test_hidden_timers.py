"""Issue 15 item 6: hidden in the tray, the main window wakes nothing up (its once-a-second
timers stop), and shown again after an idle gap its history is up to date and ticks again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from jobdeck.app import JobdeckApp, QuitChoice
from jobdeck.core import JobStatus
from jobdeck.settings import AppSettings
from jobdeck.ui.history_model import Column


class WindowTimers(QObject):
    """Counts the timer events of the QTimers that belong to ``window`` (its widgets and
    its history model)."""

    def __init__(self, window: QWidget, model: QObject) -> None:
        super().__init__()
        self.window = window
        self.model = model
        self.fired: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Timer and isinstance(watched, QTimer):
            owner = watched.parent()
            mine = owner is self.model or (
                isinstance(owner, QWidget)
                and (owner is self.window or self.window.isAncestorOf(owner))
            )
            if mine:
                self.fired.append(type(owner).__name__)
        return False


@pytest.fixture
def app(qapp: QApplication, tmp_path: Path, qtbot) -> Iterator[JobdeckApp]:
    settings = AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))
    jobdeck = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda r, p: QuitChoice.CANCEL_AND_QUIT,
        on_quit=lambda: None,
        session_bus=None,
    )
    jobdeck.start()
    yield jobdeck
    jobdeck.shutdown()


def status_shown(app: JobdeckApp, job_id: str) -> str:
    model = app.window.model
    row = model.row_of(job_id)
    if row is None:
        return ""
    return str(model.data(model.index(row, Column.STATUS)))


def test_hidden_window_wakes_nothing_and_catches_up_when_shown(
    app: JobdeckApp, qapp: QApplication, qtbot
) -> None:
    window, model = app.window, app.window.model
    qtbot.waitExposed(window)
    running = app.tracker.enqueue("countdown", {"seconds": 60})
    short = app.tracker.enqueue("countdown", {"seconds": 1.5})
    qtbot.waitUntil(lambda: app.running_count() == 2, timeout=10_000)
    window.show_job(running.id)  # the details pane shows the running job's duration
    qtbot.waitUntil(lambda: model.row_of(running.id) is not None, timeout=5000)
    timers = WindowTimers(window, model)
    qapp.installEventFilter(timers)
    try:
        qtbot.waitUntil(lambda: "HistoryModel" in timers.fired, timeout=5000)

        window.hide()  # what closing it to the tray does
        assert not window.isVisible()
        timers.fired.clear()
        qtbot.wait(2500)  # an idle gap in the tray; the short job ends meanwhile
        assert timers.fired == [], f"timers fired while hidden: {timers.fired}"
        assert not window.details._clock.isActive()  # the details' duration clock too
        job = app.tracker.get_job(short.id)
        assert job is not None and job.status is JobStatus.COMPLETED

        app.show_window()
        qtbot.waitExposed(window)
        with qtbot.waitSignal(model.dataChanged, timeout=5000):
            pass  # the running job's duration ticks again
        qtbot.waitUntil(lambda: "HistoryModel" in timers.fired, timeout=5000)
        assert window.details._clock.isActive()
        qtbot.waitUntil(lambda: "ompleted" in status_shown(app, short.id), timeout=5000)
    finally:
        qapp.removeEventFilter(timers)
