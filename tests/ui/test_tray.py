from dataclasses import replace

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QSystemTrayIcon

from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.tray import TrayController, overall_percent

from .fakes import make_job


@pytest.fixture(params=[True, False], ids=["tray", "no-tray"])
def tray_available(request, monkeypatch):
    monkeypatch.setattr(
        QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: request.param)
    )
    return request.param


def make_tray(qtbot, tracker, signals, **kw):
    tray = TrayController(tracker, signals, **kw)
    qtbot.addWidget(tray.menu)
    return tray


def pixels(icon):
    return icon.pixmap(64, 64).toImage().convertToFormat(QImage.Format.Format_ARGB32)


def test_available_follows_the_platform(qtbot, tracker, signals, tray_available):
    tray = make_tray(qtbot, tracker, signals)
    assert tray.available is tray_available
    assert (tray.tray_icon is not None) is tray_available
    tray.dispose()


def test_icon_and_tooltip_follow_the_jobs(qtbot, tracker, signals, tray_available):
    tray = make_tray(qtbot, tracker, signals)
    idle = pixels(tray.icon())
    assert tray.tooltip() == "Jobdeck \u2014 idle"
    job = make_job("Build", current=1, total=4)
    signals.push_added(job)
    qtbot.waitUntil(lambda: "Build \u2014 25%" in tray.tooltip(), timeout=1000)
    assert tray.tooltip().startswith("Jobdeck \u2014 1 running (25%)")
    quarter = pixels(tray.icon())
    assert quarter != idle
    signals.push_changed(replace(job, progress=Progress(3, 4)))
    qtbot.waitUntil(lambda: "75%" in tray.tooltip(), timeout=1000)
    assert pixels(tray.icon()) != quarter
    if tray.available:
        assert tray.tray_icon.toolTip() == tray.tooltip()
    signals.push_changed(replace(job, status=JobStatus.COMPLETED))
    qtbot.waitUntil(lambda: tray.tooltip() == "Jobdeck \u2014 idle", timeout=1000)
    assert pixels(tray.icon()) == idle
    tray.dispose()


def test_unknown_totals_animate_a_busy_ring(qtbot, tracker, signals, tray_available):
    tracker.add(make_job("scan", total=0))
    tray = make_tray(qtbot, tracker, signals)
    assert "scan \u2014 busy" in tray.tooltip()
    first = pixels(tray.icon())
    qtbot.waitUntil(lambda: pixels(tray.icon()) != first, timeout=1000)
    tray.dispose()


def test_overall_percent_sums_known_totals():
    jobs = [make_job("a", current=1, total=10), make_job("b", current=9, total=10)]
    assert overall_percent(jobs) == 50
    assert overall_percent([make_job("c", total=0)]) is None


def test_menu_actions_emit_signals(qtbot, tracker, signals, tray_available):
    tray = make_tray(qtbot, tracker, signals)
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Show window", "Hide taskbar", "Cancel all", "Quit"]
    for action, signal in (
        (tray.show_window_action, tray.showWindowRequested),
        (tray.toggle_taskbar_action, tray.toggleTaskbarRequested),
        (tray.quit_action, tray.quitRequested),
    ):
        with qtbot.waitSignal(signal, timeout=500):
            action.trigger()
    tray.set_taskbar_visible(False)
    assert tray.toggle_taskbar_action.text() == "Show taskbar"
    tray.dispose()


def test_cancel_all_cancels_every_active_job(qtbot, tracker, signals, tray_available):
    a, b, _done = tracker.add(
        make_job("a"), make_job("b", JobStatus.PENDING), make_job("c", JobStatus.COMPLETED)
    )
    tray = make_tray(qtbot, tracker, signals)
    assert tray.cancel_all_action.isEnabled()
    tray.cancel_all_action.trigger()
    assert sorted(tracker.cancelled) == sorted([a.id, b.id])
    tray.dispose()


def test_notifies_failures_and_long_completions_only(qtbot, tracker, signals, tray_available):
    tray = make_tray(qtbot, tracker, signals, notify_after_s=30)
    shown = []
    tray.notified.connect(lambda *args: shown.append(args))
    t = tracker.now()
    quick = make_job("quick", JobStatus.COMPLETED, started=t - 5, completed=t)
    long = make_job("long", JobStatus.COMPLETED, started=t - 60, completed=t)
    failed = make_job("bad", JobStatus.FAILED, error="exit code 2")
    cancelled = make_job("stop", JobStatus.CANCELLED)
    for job in (quick, long, failed, cancelled):
        signals.jobFinished.emit(job)
    assert [(job_id, title) for job_id, title, _ in shown] == [
        (long.id, "Done: long"),
        (failed.id, "Failed: bad"),
    ]
    assert shown[1][2] == "exit code 2"
    tray.notifications_enabled = False
    signals.jobFinished.emit(make_job("bad2", JobStatus.FAILED, error="x"))
    assert len(shown) == 2
    tray.dispose()


def test_clicking_the_notification_activates_its_job(qtbot, tracker, signals, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    messages = []
    monkeypatch.setattr(QSystemTrayIcon, "showMessage", lambda self, *a: messages.append(a))
    tray = make_tray(qtbot, tracker, signals)
    failed = make_job("bad", JobStatus.FAILED, error="boom")
    signals.jobFinished.emit(failed)
    assert messages and messages[0][0] == "Failed: bad"
    with qtbot.waitSignal(tray.jobActivated) as blocker:
        tray.tray_icon.messageClicked.emit()
    assert blocker.args == [failed.id]
    tray.dispose()
