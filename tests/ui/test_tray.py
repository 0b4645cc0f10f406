import time
from dataclasses import replace

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon, QImage
from PySide6.QtWidgets import QSystemTrayIcon

from jobdeck.core.job import JobError, JobStatus, Progress
from jobdeck.ui.tray import MAX_FPS, TrayController, overall_percent

from .fakes import make_job


@pytest.fixture(params=[True, False], ids=["tray", "no-tray"])
def tray_available(request, monkeypatch):
    monkeypatch.setattr(
        QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: request.param)
    )
    return request.param


BATCH_MS = 150


def make_tray(qtbot, tracker, signals, **kw):
    kw.setdefault("finish_batch_ms", BATCH_MS)
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
    assert texts == ["Show window", "Show taskbar", "Cancel all\u2026", "Quit"]
    assert tray.toggle_taskbar_action.isCheckable()
    for action, signal in (
        (tray.show_window_action, tray.showWindowRequested),
        (tray.toggle_taskbar_action, tray.toggleTaskbarRequested),
        (tray.quit_action, tray.quitRequested),
    ):
        with qtbot.waitSignal(signal, timeout=500):
            action.trigger()
    tray.set_taskbar_visible(False)
    assert not tray.toggle_taskbar_action.isChecked()
    tray.set_taskbar_visible(True)
    assert tray.toggle_taskbar_action.isChecked()
    tray.dispose()


def test_cancel_all_cancels_every_active_job_once_agreed(qtbot, tracker, signals, tray_available):
    a, b, _done = tracker.add(
        make_job("a"), make_job("b", JobStatus.PENDING), make_job("c", JobStatus.COMPLETED)
    )
    asked: list[list[str]] = []
    answer = [False]

    def confirm(jobs):
        asked.append(sorted(j.id for j in jobs))
        return answer[0]

    tray = make_tray(qtbot, tracker, signals, confirm_cancel_all=confirm)
    assert tray.cancel_all_action.isEnabled()
    tray.cancel_all_action.trigger()  # declined: nothing is cancelled
    assert asked == [sorted([a.id, b.id])] and tracker.cancelled == []
    answer[0] = True
    tray.cancel_all_action.trigger()
    assert sorted(tracker.cancelled) == sorted([a.id, b.id])
    tray.dispose()


def test_cancel_all_asks_first_in_a_message_box_that_keeps_the_jobs_by_default(
    qtbot, tracker, signals, tray_available
):
    """QA: the tray's "Cancel all" stopped every job at once, without a word: a misplaced
    click in a tray menu lost all running work. It asks now; Escape keeps them."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QMessageBox

    a, b = tracker.add(make_job("a"), make_job("b", JobStatus.PENDING))
    tray = make_tray(qtbot, tracker, signals)
    assert tray.cancel_all_action.text() == "Cancel all\u2026"
    seen: list[tuple[str, str, list[str]]] = []

    def answer(button: str | None) -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox))
        seen.append((box.text(), box.informativeText(), [b.text() for b in box.buttons()]))
        if button is None:
            qtbot.keyClick(box, Qt.Key.Key_Escape)
        else:
            next(b for b in box.buttons() if b.text() == button).click()

    def ask(button: str | None) -> None:
        QTimer.singleShot(0, lambda: answer(button))
        tray.cancel_all_action.trigger()

    ask(None)
    assert tracker.cancelled == []
    assert seen[0][0] == (
        "Cancel 2 jobs?\n\n1 running (asked to stop), 1 queued.\nThis cannot be undone."
    )
    assert sorted(seen[0][2]) == ["Cancel jobs", "Keep them"]
    ask("Cancel jobs")
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
    for job in (quick, long, cancelled):
        signals.jobFinished.emit(job)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=3000)
    assert shown == [(long.id, "Done: long", "Finished after 1m 00s")]
    signals.jobFinished.emit(failed)
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=3000)
    assert shown[1] == (failed.id, "Failed: bad", "exit code 2")
    tray.notifications_enabled = False
    signals.jobFinished.emit(make_job("bad2", JobStatus.FAILED, error="x"))
    qtbot.wait(BATCH_MS + 150)
    assert len(shown) == 2
    tray.dispose()


def test_jobs_finishing_together_get_one_notification_that_counts_them(
    qtbot, tracker, signals, tray_available
):
    tray = make_tray(qtbot, tracker, signals, notify_after_s=0, finish_batch_ms=1000)
    shown = []
    tray.notified.connect(lambda *args: shown.append(args))
    done = [make_job(f"copy {i}", JobStatus.COMPLETED) for i in range(6)]
    failed = [make_job(f"bad {i}", JobStatus.FAILED, error="boom") for i in range(2)]
    for job in [*done[:3], failed[0], *done[3:], failed[1]]:  # over a few batches
        signals.push_changed(job)
        qtbot.wait(5)
    qtbot.waitUntil(lambda: len(shown) >= 1, timeout=3000)
    qtbot.wait(300)
    assert len(shown) == 1
    job_id, title, body = shown[0]
    assert title == "8 jobs finished, 2 failed"
    assert body.startswith("Failed: bad 0, bad 1")
    assert "Done: copy 0, copy 1, copy 2 and 3 more" in body
    assert job_id == failed[0].id  # a click opens the first failure
    for i in range(3):
        signals.push_changed(make_job(f"sum {i}", JobStatus.COMPLETED))
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=3000)
    assert shown[1][1:] == ("3 jobs finished", "Done: sum 0, sum 1, sum 2")
    tray.dispose()


def test_a_traceback_is_never_the_notification_text(qtbot, tracker, signals, tray_available):
    tray = make_tray(qtbot, tracker, signals)
    shown = []
    tray.notified.connect(lambda *args: shown.append(args))
    job = make_job("copy", JobStatus.FAILED, error="x")
    trace = (
        'Traceback (most recent call last):\n  File "copy.py", line 3, in run\n'
        "    shutil.copy(a, b)\nFileNotFoundError: [Errno 2] No such file: '/nope'"
    )
    signals.jobFinished.emit(replace(job, error=JobError(trace)))
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=3000)
    assert shown[0][2] == "FileNotFoundError: [Errno 2] No such file: '/nope'"
    tray.dispose()


def test_clicking_the_notification_activates_its_job(qtbot, tracker, signals, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    messages = []
    monkeypatch.setattr(QSystemTrayIcon, "showMessage", lambda self, *a: messages.append(a))
    tray = make_tray(qtbot, tracker, signals)
    failed = make_job("bad", JobStatus.FAILED, error="boom")
    signals.jobFinished.emit(failed)
    qtbot.waitUntil(lambda: bool(messages), timeout=3000)
    assert messages[0][0] == "Failed: bad"
    with qtbot.waitSignal(tray.jobActivated) as blocker:
        tray.tray_icon.messageClicked.emit()
    assert blocker.args == [failed.id]
    tray.tell("Jobdeck is still running", "In the tray.")
    assert messages[-1][0] == "Jobdeck is still running"
    tray.dispose()


class TrayCalls:
    """Counts what reaches the system tray (with a StatusNotifier tray, each call is a
    D-Bus signal the panel acts on)."""

    def __init__(self, monkeypatch) -> None:
        self.icons: list[float] = []
        self.tooltips: list[float] = []
        monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
        monkeypatch.setattr(QSystemTrayIcon, "setIcon", lambda _s, _i: self.icons.append(now()))
        monkeypatch.setattr(
            QSystemTrayIcon, "setToolTip", lambda _s, _t: self.tooltips.append(now())
        )

    @staticmethod
    def per_second(stamps: list[float], since: float, until: float) -> float:
        return sum(1 for t in stamps if since <= t <= until) / (until - since)


def now() -> float:
    return time.monotonic()


def test_busy_ring_turns_at_most_four_times_a_second(qtbot, tracker, signals, monkeypatch):
    calls = TrayCalls(monkeypatch)
    tracker.add(make_job("scan", total=0))
    tray = make_tray(qtbot, tracker, signals)
    assert tray.is_animating()
    start = now()
    qtbot.wait(1500)  # measuring a rate: the ring keeps turning meanwhile
    end = now()
    rate = TrayCalls.per_second(calls.icons, start, end)
    assert 1 <= rate <= MAX_FPS + 0.5, rate  # it turns, but at most 4 frames a second
    assert len(set(calls.tooltips)) <= 2  # the tooltip did not change: not sent again
    tray.dispose()


def test_a_flood_of_progress_reaches_the_tray_at_most_four_times_a_second(
    qtbot, tracker, signals, monkeypatch
):
    calls = TrayCalls(monkeypatch)
    job = make_job("copy", current=0, total=1000)
    tracker.add(job)
    tray = make_tray(qtbot, tracker, signals)
    step = {"n": 0}

    def advance() -> None:
        step["n"] += 1
        signals.push_changed(replace(job, progress=Progress(step["n"], 1000)))

    flood = QTimer()
    flood.setInterval(5)
    flood.timeout.connect(advance)
    start = now()
    flood.start()
    qtbot.waitUntil(lambda: step["n"] >= 200 and now() - start >= 1.5, timeout=30_000)
    flood.stop()
    end = now()
    assert step["n"] >= 200
    icon_rate = TrayCalls.per_second(calls.icons, start, end)
    tip_rate = TrayCalls.per_second(calls.tooltips, start, end)
    assert 1 <= icon_rate <= MAX_FPS + 0.5, icon_rate
    assert 1 <= tip_rate <= MAX_FPS + 0.5, tip_rate
    qtbot.waitUntil(
        lambda: f"copy \u2014 {step['n'] * 100 // 1000}%" in tray.tooltip(), timeout=2000
    )
    tray.dispose()


def test_still_icon_when_animation_is_off(qtbot, tracker, signals, monkeypatch):
    calls = TrayCalls(monkeypatch)
    busy = make_job("scan", total=0)
    tracker.add(busy)
    tray = make_tray(qtbot, tracker, signals, animate=False)
    assert not tray.is_animating()
    still = pixels(tray.icon())
    sent = len(calls.icons)
    qtbot.wait(800)  # time in which an animated ring would turn three times
    assert len(calls.icons) == sent and pixels(tray.icon()) == still
    idle = pixels(QIcon(TrayController.paint_icon([])))
    quarter = pixels(QIcon(TrayController.paint_icon([make_job("x", current=1, total=4)])))
    turning = pixels(QIcon(TrayController.paint_icon([busy], 0, animated=True)))
    assert still not in (idle, quarter, turning)  # a still busy ring, not a 25% ring
    tray.animate = True
    qtbot.waitUntil(lambda: len(calls.icons) >= sent + 2, timeout=3000)
    tray.animate = False
    qtbot.wait(300)  # a frame already due may still come
    sent = len(calls.icons)
    qtbot.wait(600)
    assert len(calls.icons) == sent
    tray.dispose()


def test_animate_setting_reaches_the_tray(qtbot, tmp_path, qapp):
    from PySide6.QtCore import QSettings

    from jobdeck.app import JobdeckApp, QuitChoice
    from jobdeck.settings import AppSettings
    from jobdeck.ui.settings_dialog import SettingsDialog

    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert settings.tray_animate is True
    settings.tray_animate = False
    app = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda *_: QuitChoice.STAY,
        on_quit=lambda: None,
        session_bus=None,
    )
    try:
        assert app.tray.animate is False
        dialog = SettingsDialog(app.current_settings())
        qtbot.addWidget(dialog)
        assert not dialog.tray_animate.isChecked()
        dialog.tray_animate.setChecked(True)
        app.apply_settings(dialog.values())
        assert app.tray.animate is True and settings.tray_animate is True
    finally:
        app.shutdown()
    settings.sync()  # the next start reads it back
    reopened = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert reopened.tray_animate is True


def test_the_ring_turns_again_for_jobs_started_after_an_idle_spell(
    qtbot, tracker, signals, monkeypatch
):
    calls = TrayCalls(monkeypatch)
    tray = make_tray(qtbot, tracker, signals)
    for round_ in range(2):
        qtbot.wait(600)  # idle: nothing runs, nothing is sent
        sent = len(calls.icons)
        qtbot.wait(400)
        assert len(calls.icons) == sent, round_
        busy = make_job(f"scan {round_}", total=0)
        signals.push_added(busy)
        qtbot.waitUntil(lambda n=sent: len(calls.icons) >= n + 3, timeout=3000)  # turning
        signals.push_changed(replace(busy, status=JobStatus.COMPLETED))
        qtbot.waitUntil(lambda: tray.tooltip().endswith("idle"), timeout=3000)
        assert not tray.is_animating()
    tray.dispose()
