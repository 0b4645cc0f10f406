"""Wayland: run through XWayland when it is there; otherwise the taskbar's rows are docked
in the main window (an app cannot place a floating panel on Wayland)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget

from jobdeck.core.job import JobStatus
from jobdeck.ui import wayland
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.taskbar import Taskbar

from .fakes import fake_registry, make_job
from .test_accessibility import unnamed_controls


@pytest.mark.parametrize(
    ("environ", "platform"),
    [
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "xcb"),
        ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":1"}, "xcb"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),  # no XWayland: docked rows instead
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, None),  # X11: nothing to do
        ({}, None),
        # the user's own choice is kept, whatever the session
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, None),
        ({"WAYLAND_DISPLAY": "w", "DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, None),
    ],
)
def test_choose_platform(environ: dict[str, str], platform: str | None) -> None:
    assert wayland.choose_platform(environ) == platform
    env = dict(environ)
    assert wayland.use_xwayland(env) is (platform is not None)
    assert env.get("QT_QPA_PLATFORM") == (platform or environ.get("QT_QPA_PLATFORM"))


def test_the_taskbar_floats_except_on_wayland() -> None:
    assert wayland.taskbar_floats("xcb")
    assert wayland.taskbar_floats("offscreen")
    assert not wayland.taskbar_floats("wayland")
    assert not wayland.taskbar_floats("wayland-egl")


@pytest.fixture
def docked(qtbot, tracker, signals) -> tuple[MainWindow, Taskbar]:
    tracker.registry = fake_registry()
    window = MainWindow(tracker, signals, tracker.registry)
    qtbot.addWidget(window)
    bar = Taskbar(signals, tracker, floating=False, confirm_cancel=lambda row, job: True)
    window.dock_taskbar(bar)
    bar.avoid_window(window)  # the app does this; docked, there is nothing to avoid
    window.show()
    bar.set_enabled(True)
    return window, bar


def test_docked_rows_live_in_the_main_window(qtbot, docked, tracker, signals) -> None:
    window, bar = docked
    dock = window.jobs_dock
    assert isinstance(dock, QDockWidget) and dock.widget() is cast(QWidget, bar)
    assert not bar.isWindow() and bar.window() is window
    assert dock.isVisible() and bar.isVisible()
    assert bar.empty_label.isVisible()  # idle, it still shows: no jumping layout
    jobs = [make_job("Copy photos", current=1, total=4), make_job("Scan", total=0)]
    signals.push_added(*jobs)
    qtbot.waitUntil(lambda: len(bar.rows()) == 2, timeout=3000)
    inside = window.rect()
    for row in bar.rows():
        assert row.isVisible()
        top_left = row.mapTo(window, QPoint(0, 0))
        assert inside.contains(top_left) and inside.contains(
            top_left + QPoint(row.width() - 1, row.height() - 1)
        )
    assert unnamed_controls(window) == []
    with qtbot.waitSignal(bar.jobActivated) as opened:
        qtbot.mouseClick(bar.rows()[0], Qt.MouseButton.LeftButton)
    assert opened.args == [jobs[0].id]
    position = bar.pos()
    qtbot.mousePress(bar, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    qtbot.mouseMove(bar, QPoint(200, 200))
    qtbot.mouseRelease(bar, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    assert bar.pos() == position and bar.is_docked()  # no dragging inside a window


def test_docked_taskbar_keeps_to_a_few_rows(qtbot, docked, signals) -> None:
    _window, bar = docked
    signals.push_added(*(make_job(f"job {i}") for i in range(7)))
    qtbot.waitUntil(lambda: bar.more_count() == 3, timeout=3000)
    assert len(bar.rows()) == 4 and bar.more_button.isVisible()


def test_docked_taskbar_turns_off_and_on_with_its_dock(qtbot, docked, signals) -> None:
    window, bar = docked
    dock = window.jobs_dock
    bar.set_enabled(False)
    assert dock.isHidden()
    signals.push_added(make_job("Copy photos"))
    qtbot.waitUntil(lambda: len(bar.rows()) == 1, timeout=3000)
    assert dock.isHidden()  # the user turned it off: jobs do not bring it back
    bar.set_enabled(True)
    assert dock.isVisible() and bar.rows()[0].isVisible()


def test_docked_rows_are_usable_from_the_keyboard(qtbot, docked, tracker, signals) -> None:
    window, bar = docked
    jobs = [make_job("Copy photos", current=1, total=4), make_job("Wait", JobStatus.PENDING)]
    signals.push_added(*jobs)
    qtbot.waitUntil(lambda: len(bar.rows()) == 2, timeout=3000)
    window.activateWindow()
    assert bar.focus_rows()
    first, second = bar.rows()
    qtbot.waitUntil(first.hasFocus, timeout=3000)
    qtbot.keyClick(first, Qt.Key.Key_Down)
    assert second.hasFocus()
    qtbot.keyClick(second, Qt.Key.Key_Delete)
    assert tracker.cancelled == [jobs[1].id]
    signals.push_changed(replace(jobs[1], status=JobStatus.CANCELLED))


@pytest.fixture
def wayland_app(qapp: QApplication, tmp_path: Path, monkeypatch) -> Iterator[object]:
    """The real app as it starts on a Wayland connection (no XWayland)."""
    from jobdeck import app as app_module
    from jobdeck.app import JobdeckApp, QuitChoice
    from jobdeck.settings import AppSettings

    monkeypatch.setattr(app_module, "taskbar_floats", lambda platform: False)
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    jobdeck = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda *_: QuitChoice.STAY,
        on_quit=lambda: None,
        session_bus=None,
    )
    jobdeck.start()
    yield jobdeck
    jobdeck.shutdown()


def test_the_app_docks_its_taskbar_on_wayland(qtbot, wayland_app) -> None:
    app = wayland_app
    assert not app.taskbar.floating and app.window.jobs_dock is not None
    assert app.window.jobs_dock.isVisible()
    job = app.tracker.enqueue("countdown", {"seconds": 30}, title="Count down")
    qtbot.waitUntil(lambda: job.id in [r.job_id for r in app.taskbar.rows()], timeout=10_000)
    row = app.taskbar.row_for(job.id)
    qtbot.waitUntil(lambda: "left" in row.message_label.full_text(), timeout=10_000)
    assert row.isVisible() and row.window() is app.window
    app.toggle_taskbar()  # View > Show/hide taskbar
    assert app.window.jobs_dock.isHidden()
    app.toggle_taskbar()
    assert app.window.jobs_dock.isVisible()
    app.tracker.cancel_job(job.id)
