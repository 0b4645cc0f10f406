"""The composition root: wiring, close-to-tray, quit confirmation, settings, demo jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from jobdeck.app import JobdeckApp, QuitChoice, queue_demo_jobs
from jobdeck.core import JobStatus
from jobdeck.settings import AppSettings


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))


class Quits:
    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []
        self.answer = QuitChoice.STAY
        self.quit_calls = 0

    def confirm(self, running: int, processes: int) -> QuitChoice:
        self.asked.append((running, processes))
        return self.answer

    def on_quit(self) -> None:
        self.quit_calls += 1


@pytest.fixture
def quits() -> Quits:
    return Quits()


@pytest.fixture
def app(
    qapp: QApplication, tmp_path: Path, settings: AppSettings, quits: Quits, qtbot
) -> Iterator[JobdeckApp]:
    jobdeck = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=quits.confirm,
        on_quit=quits.on_quit,
    )
    jobdeck.start()
    yield jobdeck
    jobdeck.shutdown()  # closes and deletes its widgets (not qtbot.addWidget's job here)


def test_queued_job_runs_and_shows_in_taskbar_and_history(app: JobdeckApp, qtbot) -> None:
    job = app.tracker.enqueue("countdown", {"seconds": 0.3})
    qtbot.waitUntil(lambda: job.id in app.taskbar.job_ids(), timeout=5000)
    qtbot.waitUntil(
        lambda: app.tracker.get_job(job.id).status is JobStatus.COMPLETED,  # type: ignore[union-attr]
        timeout=5000,
    )
    assert app.window.model.row_of(job.id) is not None


def test_quit_with_running_jobs_asks_and_no_keeps_running(app: JobdeckApp, quits: Quits, qtbot):
    job = app.tracker.enqueue("countdown", {"seconds": 30})
    qtbot.waitUntil(lambda: app.running_count() == 1, timeout=5000)
    quits.answer = QuitChoice.STAY
    app.request_quit()
    assert quits.asked == [(1, 0)] and quits.quit_calls == 0
    assert app.tracker.get_job(job.id).status is JobStatus.RUNNING  # type: ignore[union-attr]
    quits.answer = QuitChoice.CANCEL_AND_QUIT
    app.request_quit()
    assert quits.quit_calls == 1 and app.tracker.closed
    from jobdeck.core import JobTracker

    with JobTracker.open(app.tracker.store.path, read_only=True) as reader:
        stored = reader.get_job(job.id)
        assert stored is not None and stored.status is JobStatus.CANCELLED


def test_quit_keeping_processes_leaves_them_running_and_the_next_start_re_attaches(
    app: JobdeckApp,
    quits: Quits,
    qtbot,
    qapp: QApplication,
    tmp_path: Path,
    settings: AppSettings,
) -> None:
    program = app.tracker.enqueue("command", {"argv": ["sleep", "30"]})
    counting = app.tracker.enqueue("countdown", {"seconds": 30})
    qtbot.waitUntil(lambda: app.running_count() == 2, timeout=5000)
    qtbot.waitUntil(lambda: app.tracker.get_job(program.id).pid is not None, timeout=5000)  # type: ignore[union-attr]
    pid = app.tracker.get_job(program.id).pid  # type: ignore[union-attr]
    quits.answer = QuitChoice.KEEP_AND_QUIT
    app.request_quit()
    assert quits.asked == [(2, 1)] and quits.quit_calls == 1 and app.tracker.closed
    assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # still running

    again = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=quits.confirm,
        on_quit=quits.on_quit,
    )
    again.start(show_window=False)
    try:
        assert again.tracker.get_job(counting.id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
        assert again.runner.running_job_ids() == [program.id]
        again.tracker.cancel_job(program.id)
        qtbot.waitUntil(
            lambda: again.tracker.get_job(program.id).status is JobStatus.CANCELLED,  # type: ignore[union-attr]
            timeout=5000,
        )
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        again.shutdown()


def test_quit_when_idle_does_not_ask(app: JobdeckApp, quits: Quits) -> None:
    app.request_quit()
    assert quits.asked == [] and quits.quit_calls == 1


def test_closing_window_hides_to_tray_or_quits_without_one(
    app: JobdeckApp, quits: Quits, monkeypatch: pytest.MonkeyPatch, qtbot
) -> None:
    monkeypatch.setattr(type(app.tray), "available", property(lambda self: True))
    app.window.close()
    assert not app.window.isVisible() and quits.quit_calls == 0
    app.show_window()
    assert app.window.isVisible()
    monkeypatch.setattr(type(app.tray), "available", property(lambda self: False))
    app.window.close()
    assert quits.quit_calls == 1


def test_tray_menu_toggles_taskbar_and_remembers(app: JobdeckApp, settings: AppSettings) -> None:
    assert app.taskbar.is_enabled_by_user()
    assert not app.taskbar.isVisible()  # nothing runs: no panel in the way
    # ... yet it is on: the menu's "Show taskbar" is checked (it said "Hide taskbar")
    action = app.tray.toggle_taskbar_action
    assert action.text() == "Show taskbar" and action.isChecked()
    action.trigger()  # the user unchecks it
    assert not app.taskbar.is_enabled_by_user() and settings.taskbar_visible is False
    assert not action.isChecked()
    action.trigger()
    assert app.taskbar.is_enabled_by_user() and settings.taskbar_visible is True
    assert action.isChecked()


def test_the_view_menu_s_taskbar_entry_is_a_check_box_in_step_with_the_tray_s(
    app: JobdeckApp, settings: AppSettings
) -> None:
    """View > "Show taskbar" (Ctrl+T) is checked while the taskbar is on, whichever menu
    turned it off; it read "Show/hide taskbar" and said nothing of which (QA sweep)."""
    view = app.window.toggle_taskbar_action
    tray = app.tray.toggle_taskbar_action
    assert view.text() == "Show &taskbar" and view.isCheckable()
    assert view.isChecked() and tray.isChecked()
    view.trigger()  # the user unchecks it in the window
    assert not app.taskbar.is_enabled_by_user() and settings.taskbar_visible is False
    assert not view.isChecked() and not tray.isChecked()
    tray.trigger()  # ... and turns it on again from the tray
    assert app.taskbar.is_enabled_by_user() and view.isChecked()


def test_the_taskbar_shows_jobs_when_the_window_is_not_in_front_and_hides_when_idle(
    app: JobdeckApp, qtbot
) -> None:
    app.window.hide()  # closed to the tray, or the user works elsewhere
    app.taskbar.keep_finished_ms = 200
    job = app.tracker.enqueue("countdown", {"seconds": 0.5})
    qtbot.waitUntil(app.taskbar.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: app.tracker.get_job(job.id).finished, timeout=5000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: not app.taskbar.isVisible(), timeout=5000)


def test_closing_the_window_says_once_that_jobdeck_is_still_in_the_tray(
    app: JobdeckApp, settings: AppSettings, monkeypatch: pytest.MonkeyPatch, qtbot
) -> None:
    monkeypatch.setattr(type(app.tray), "available", property(lambda self: True))
    told = []
    app.tray.notified.connect(lambda *args: told.append(args))
    app.window.close()
    assert told == [("", "Jobdeck is still running", told[0][2])] and "tray" in told[0][2]
    assert settings.close_hint_shown is True
    app.show_window()
    app.window.close()
    assert len(told) == 1  # only the first time, ever
    again = AppSettings(settings.qsettings)
    assert again.close_hint_shown is True


def test_plus_n_more_opens_the_history_of_active_jobs(app: JobdeckApp, qtbot) -> None:
    from jobdeck.ui.history_model import ACTIVE_STATUSES

    app.settings.concurrency = 1
    app.runner.max_workers = 1
    done = app.tracker.enqueue("countdown", {"seconds": 0})
    qtbot.waitUntil(lambda: app.tracker.get_job(done.id).finished, timeout=5000)  # type: ignore[union-attr]
    jobs = [app.tracker.enqueue("countdown", {"seconds": 30}) for _ in range(9)]
    app.window.hide()
    qtbot.waitUntil(lambda: app.taskbar.more_button.isVisible(), timeout=5000)
    qtbot.mouseClick(app.taskbar.more_button, Qt.MouseButton.LeftButton)
    assert app.window.isVisible()
    assert app.window.model.filter.statuses == ACTIVE_STATUSES
    assert app.window.status_filter.currentText() == "Active"
    shown = {app.window.model.job_at(r).id for r in range(app.window.model.rowCount())}
    assert shown == {j.id for j in jobs}
    for job in jobs:
        app.tracker.cancel_job(job.id)


def test_settings_round_trip(settings: AppSettings) -> None:
    from datetime import timedelta

    assert settings.concurrency == 4 and settings.retention == timedelta(days=7)
    settings.concurrency = 2
    settings.retention = None
    settings.taskbar_corner = "top-left"
    settings.notifications = False
    settings.qsettings.setValue("notify_after_s", "garbage")
    assert settings.concurrency == 2 and settings.retention is None
    assert settings.taskbar_corner == "top-left" and settings.notifications is False
    assert settings.notify_after_s == 30.0  # bad stored value falls back
    settings.taskbar_corner = "middle"
    assert settings.taskbar_corner == "bottom-right"


def test_demo_jobs_are_valid(app: JobdeckApp) -> None:
    ids = queue_demo_jobs(app.tracker)
    assert len(ids) >= 5
    jobs = [app.tracker.get_job(i) for i in ids]
    assert {job.type for job in jobs if job is not None} >= {
        "command",
        "countdown",
        "checksum",
        "python",
    }


def test_no_system_tray_still_works(app: JobdeckApp) -> None:
    if QSystemTrayIcon.isSystemTrayAvailable():
        pytest.skip("this display has a tray")
    assert app.tray.available is False
    job = app.tracker.enqueue("countdown", {"seconds": 0})
    assert job.id


def test_settings_dialog_applies_at_once(app: JobdeckApp, settings: AppSettings, qtbot) -> None:
    from datetime import timedelta

    from jobdeck.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app.current_settings())
    qtbot.addWidget(dialog)
    dialog.concurrency.setValue(2)
    dialog.retention.setValue(0)
    dialog.corner.setCurrentIndex(dialog.corner.findData("top-left"))
    dialog.keep_finished.setValue(9)
    dialog.notifications.setChecked(False)
    dialog.always_show.setChecked(True)
    values = dialog.values()
    assert values.retention is None and values.keep_finished_ms == 9000
    app.apply_settings(values)
    assert app.runner.max_workers == 2 and settings.concurrency == 2
    assert settings.retention is None and settings.taskbar_corner == "top-left"
    assert app.taskbar.corner.value == "top-left" and app.taskbar.keep_finished_ms == 9000
    assert app.tray.notifications_enabled is False
    assert settings.taskbar_always_show is True and app.taskbar.always_show is True
    assert app.taskbar.is_out_of_the_way()  # the active main window fills the screen
    app.window.hide()
    qtbot.waitUntil(app.taskbar.isVisible, timeout=2000)  # always shown, even when idle
    dialog.retention.setValue(30)
    assert dialog.values().retention == timedelta(days=30)


def test_the_board_port_is_set_in_settings_and_used_at_the_next_start(
    app: JobdeckApp, settings: AppSettings, qtbot
) -> None:
    from jobdeck.app import api_options
    from jobdeck.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app.current_settings())
    qtbot.addWidget(dialog)
    assert dialog.api_port.value() == 0 and dialog.api_port.text() == "Off"
    dialog.api_port.setValue(8765)
    app.apply_settings(dialog.values())
    assert settings.api_listen_port == 8765
    assert SettingsDialog(app.current_settings()).api_port.value() == 8765  # reopened
    options = api_options(None, settings, None, None)
    assert options is not None and options.listen is not None
    assert (options.listen.port, options.listen.host) == (8765, "127.0.0.1")
    by_flag = api_options(None, settings, 9000, None)  # --listen wins
    assert by_flag is not None and by_flag.listen is not None and by_flag.listen.port == 9000


def test_the_dask_scheduler_is_set_in_settings_and_used_at_the_next_start(
    app: JobdeckApp, settings: AppSettings, qtbot, tmp_path
) -> None:
    from jobdeck.app import open_runtime
    from jobdeck.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app.current_settings())
    qtbot.addWidget(dialog)
    assert dialog.dask_scheduler.text() == "" and app.runner.dask is None
    dialog.dask_scheduler.setText("scheduler:8786")  # no scheme: refused, said why
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    assert not dialog.dask_problem.isHidden()
    assert "tcp://scheduler:8786" in dialog.dask_problem.text()
    dialog.dask_scheduler.setText(" tcp://10.0.0.5:8786 ")
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    app.apply_settings(dialog.values())
    assert settings.dask_scheduler == "tcp://10.0.0.5:8786"
    assert app.runner.dask is None  # applies at the next start
    reopened = SettingsDialog(app.current_settings())
    qtbot.addWidget(reopened)
    assert reopened.dask_scheduler.text() == "tcp://10.0.0.5:8786"
    tracker, runner = open_runtime(tmp_path / "next.db", app.registry, settings, None)
    try:
        assert runner.dask is not None and runner.dask.address == "tcp://10.0.0.5:8786"
    finally:
        tracker.close()


def test_menu_actions_reach_the_app(app: JobdeckApp, quits: Quits) -> None:
    app.window.toggleTaskbarRequested.emit()
    assert not app.taskbar.is_enabled_by_user() and not app.taskbar.isVisible()
    app.window.quitRequested.emit()
    assert quits.quit_calls == 1


def test_the_app_opts_in_to_sharing_the_interpreter_lock_and_puts_it_back(
    qapp: QApplication, tmp_path: Path, settings: AppSettings, quits: Quits
) -> None:
    """The switch interval and the tight-loop yield are the app's choices for its process
    (the library makes neither); quitting puts the interpreter's setting back."""
    import sys

    from jobdeck.runtime.tuning import GUI_SWITCH_INTERVAL, GUI_YIELD_EVERY

    before = sys.getswitchinterval()
    app = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=quits.confirm,
        on_quit=quits.on_quit,
    )
    assert sys.getswitchinterval() == before and app.tracker.yield_gil_every == GUI_YIELD_EVERY
    app.start(show_window=False)
    try:
        assert sys.getswitchinterval() == pytest.approx(GUI_SWITCH_INTERVAL)
    finally:
        app.shutdown()
    assert sys.getswitchinterval() == before


def test_the_stall_time_is_a_setting_applied_to_the_running_app(
    app: JobdeckApp, settings: AppSettings, qtbot
) -> None:
    from jobdeck.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app.current_settings())
    qtbot.addWidget(dialog)
    assert dialog.stall_after.value() == 10 and app.stalls.watch.after_s == 600
    dialog.stall_after.setValue(25)
    app.apply_settings(dialog.values())
    assert settings.stall_after_min == 25 and app.stalls.watch.after_s == 25 * 60
    assert SettingsDialog(app.current_settings()).stall_after.value() == 25  # reopened


def test_the_api_names_the_default_store_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /api/info``'s ``db`` for an app started without ``--db`` (QA: it was null)."""
    from jobdeck.app import shown_store

    monkeypatch.delenv("JOBDECK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert shown_store(None) == str(tmp_path / "jobdeck" / "jobs.db")
    monkeypatch.setenv("JOBDECK_DB", "postgresql://alice:hunter2@db.example/jobs")
    assert shown_store(None) == "postgresql://alice@db.example/jobs"
    assert shown_store(tmp_path / "other.db") == str(tmp_path / "other.db")
