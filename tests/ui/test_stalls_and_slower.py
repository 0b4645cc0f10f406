"""Stalled jobs and "slower than usual" as a person sees them: the taskbar row's badge, the
tray's tooltip and one notification. Real tracker, real JobSignals, StallMonitor, Taskbar
and TrayController; the tracker's clock is moved by hand (minutes pass in no time)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from jobdeck.core.run_history import RunHistories
from jobdeck.runtime.stall_monitor import StallMonitor
from jobdeck.ui.taskbar import Taskbar
from jobdeck.ui.tray import TrayController


def wire(qtbot, tracker, signals, histories=None):
    stalls = StallMonitor(signals, after_s=600, by_type={"python": 3600})
    bar = Taskbar(
        signals,
        history_for=histories.for_job if histories else None,
        stalled_for=stalls.silence,
    )
    qtbot.addWidget(bar)
    tray = TrayController(tracker, signals, stalled_for=stalls.silence)
    stalls.stallsChanged.connect(bar.update_rows)
    stalls.stallsChanged.connect(tray.update)
    stalls.jobStalled.connect(tray.notify_stalled)
    return stalls, bar, tray


def test_a_silent_job_is_stalled_everywhere_notifies_once_and_recovers(
    qtbot, real_tracker, real_signals, clock
):
    stalls, bar, tray = wire(qtbot, real_tracker, real_signals)
    shown: list[tuple[str, str, str]] = []
    tray.notified.connect(lambda *args: shown.append(args))
    ctx = real_tracker.create_job("command", params={"argv": ["sleep", "1d"]}, title="Overnight")
    ctx.update_progress(3, 10, "step 3")
    qtbot.waitUntil(lambda: bar.row_for(ctx.job_id) is not None, timeout=5000)
    row = bar.row_for(ctx.job_id)
    assert row is not None
    qtbot.waitUntil(lambda: row.job is not None and row.job.progress.current == 3)
    clock.advance(12 * 60)  # twelve minutes without a word
    stalls.check()
    qtbot.waitUntil(lambda: "no progress for 12 min" in row.badge_label.text(), timeout=5000)
    assert row.badge_label.isVisibleTo(row)
    assert "no progress for 12 min" in row.toolTip()
    assert "Overnight \u2014 30%, no progress for 12 min" in tray.tooltip()
    assert [(title, body) for _id, title, body in shown] == [
        ("Stalled: Overnight", "no progress for 12 min")
    ]
    clock.advance(60)
    stalls.check()  # still stalled: no second notification
    assert len(shown) == 1
    ctx.update_progress(4, 10, "step 4")  # it moves again
    qtbot.waitUntil(lambda: not row.badge_label.isVisibleTo(row), timeout=5000)
    qtbot.waitUntil(lambda: "no progress" not in tray.tooltip(), timeout=5000)
    assert stalls.stalled() == {}
    real_tracker.complete_job(ctx.job_id)
    stalls.close()
    tray.dispose()


def test_output_keeps_a_job_alive_and_types_have_their_own_limit(
    qtbot, real_tracker, real_signals, clock
):
    stalls, bar, tray = wire(qtbot, real_tracker, real_signals)
    chatty = real_tracker.create_job("command", params={"argv": ["make"]})
    slow_type = real_tracker.create_job("python", params={"script": "/x.py"})
    qtbot.waitUntil(lambda: len(bar.rows()) == 2, timeout=5000)
    for _ in range(4):
        clock.advance(5 * 60)
        chatty.log("compiling")  # output, no progress numbers
        qtbot.waitUntil(lambda: stalls.watch._last[chatty.job_id][0] == clock(), timeout=5000)
        stalls.check()
    assert stalls.stalled() == {}  # 20 min: make talks, the python type allows an hour
    clock.advance(45 * 60)
    stalls.check()
    assert set(stalls.stalled()) == {chatty.job_id, slow_type.job_id}
    for ctx in (chatty, slow_type):
        real_tracker.complete_job(ctx.job_id)
    qtbot.waitUntil(lambda: stalls.stalled() == {}, timeout=5000)
    stalls.close()
    tray.dispose()


def test_slower_than_usual_is_a_badge_between_p90_and_the_longest_run(
    qtbot, real_tracker, real_signals, clock
):
    for seconds in (100, 100, 100, 100, 100, 100, 100, 100, 100, 130):
        ctx = real_tracker.create_job("command", params={"argv": ["backup"]})
        clock.advance(seconds)
        real_tracker.complete_job(ctx.job_id)
    histories = RunHistories(real_tracker)
    stalls, bar, tray = wire(qtbot, real_tracker, real_signals, histories)
    job = real_tracker.create_job("command", params={"argv": ["backup"]}, title="Backup")
    qtbot.waitUntil(lambda: bar.row_for(job.job_id) is not None, timeout=5000)
    qtbot.waitUntil(lambda: histories.lookups >= 1, timeout=5000)
    row = bar.row_for(job.job_id)
    assert row is not None
    clock.advance(110)  # past the p90 (100 s), not past the longest run (130 s)
    job.update_progress(9, 10)
    qtbot.waitUntil(lambda: row.job is not None and row.job.progress.current == 9)
    bar.refresh()
    assert row.badge_label.text() == "slower than usual"
    assert row.badge_label.isVisibleTo(row)
    assert "Usually takes ~2 min (10 earlier runs)" in row.toolTip()
    real_tracker.complete_job(job.job_id)
    histories.close()
    stalls.close()
    tray.dispose()


def test_slower_than_usual_only_with_history(tmp_path, qtbot, real_tracker, real_signals, clock):
    for _ in range(3):
        ctx = real_tracker.create_job("command", params={"argv": ["backup"]})
        clock.advance(100)
        real_tracker.complete_job(ctx.job_id)
    histories = RunHistories(real_tracker)
    stalls, bar, tray = wire(qtbot, real_tracker, real_signals, histories)
    known = real_tracker.create_job("command", params={"argv": ["backup"]}, title="Backup")
    new = real_tracker.create_job("command", params={"argv": ["first-time"]}, title="New")
    qtbot.waitUntil(lambda: len(bar.rows()) == 2, timeout=5000)
    qtbot.waitUntil(lambda: histories.lookups >= 2, timeout=5000)
    clock.advance(90)
    known.update_progress(9, 10)
    new.update_progress(9, 10)
    row, new_row = bar.row_for(known.job_id), bar.row_for(new.job_id)
    assert row is not None and new_row is not None
    qtbot.waitUntil(lambda: row.job is not None and row.job.progress.current == 9)
    bar.refresh()
    assert not row.badge_label.isVisibleTo(row)
    clock.advance(15)  # 105 s: past the p90 (100 s) of three runs
    known.update_progress(9.5, 10)
    new.update_progress(9.5, 10)
    qtbot.waitUntil(lambda: row.job is not None and row.job.progress.current == 9.5)
    qtbot.waitUntil(lambda: new_row.job is not None and new_row.job.progress.current == 9.5)
    bar.refresh()
    # three runs: their p90 is the longest, so the row says it in its time line
    assert "longer than usual" in row.time_label.text()
    assert "Usually takes ~2 min (3 earlier runs)" in row.toolTip()
    assert not new_row.badge_label.isVisibleTo(new_row)  # no history: no false alarm
    assert "usual" not in new_row.time_label.text()
    for ctx in (known, new):
        real_tracker.complete_job(ctx.job_id)
    histories.close()
    stalls.close()
    tray.dispose()


def test_the_history_and_the_details_say_stalled_after_an_idle_gap(
    qtbot, real_tracker, real_signals, clock
):
    """The history's Status cell and the details pane's status line say a job stalled, for
    a job started after the app sat idle for an hour (the monitor's timer had stopped)."""
    from jobdeck.ui.history_model import Column, HistoryModel
    from jobdeck.ui.job_details import JobDetails
    from jobdeck.ui.job_warnings import JobWarnings

    stalls = StallMonitor(real_signals, after_s=600, check_ms=20)
    warnings = JobWarnings(stalls.silence)
    model = HistoryModel(real_tracker, real_signals, warnings=warnings)
    details = JobDetails(real_tracker, real_signals, warnings=warnings)
    qtbot.addWidget(details)
    stalls.stallsChanged.connect(model.refresh_warnings)
    stalls.stallsChanged.connect(details.refresh_warning)
    first = real_tracker.create_job("command", params={"argv": ["true"]})
    real_tracker.complete_job(first.job_id)
    qtbot.waitUntil(lambda: not stalls.watch.watching, timeout=5000)
    clock.advance(3600)  # an idle hour: nothing runs, nothing is checked
    ctx = real_tracker.create_job("command", params={"argv": ["sleep", "1d"]}, title="Overnight")
    ctx.update_progress(1, 10, "step 1")
    qtbot.waitUntil(
        lambda: model.locate(real_tracker.get_job(ctx.job_id)) is not None, timeout=5000
    )
    details.set_job(ctx.job_id)
    row = model.row_of(ctx.job_id)
    assert row is not None
    status = model.index(row, Column.STATUS)
    qtbot.waitUntil(lambda: ctx.job_id in stalls.watch._last, timeout=5000)
    assert model.data(status) == "Running"
    clock.advance(12 * 60)
    qtbot.waitUntil(lambda: stalls.silence(ctx.job_id) is not None, timeout=5000)  # its timer
    expected = "Running: stalled \u2014 no progress for 12 min"
    qtbot.waitUntil(lambda: model.data(status) == expected, timeout=5000)
    assert model.data(status, Qt.ItemDataRole.ToolTipRole) == (
        "stalled \u2014 no progress for 12 min"
    )
    assert model.data(status, Qt.ItemDataRole.ForegroundRole) is not None
    assert details.status_label.full_text() == (
        "Running \u2014 stalled \u2014 no progress for 12 min"
    )
    ctx.update_progress(2, 10, "step 2")  # it moves again
    qtbot.waitUntil(lambda: model.data(status) == "Running", timeout=5000)
    qtbot.waitUntil(lambda: details.status_label.full_text() == "Running", timeout=5000)
    real_tracker.complete_job(ctx.job_id)
    stalls.close()


def test_the_history_and_the_details_say_slower_than_usual(
    qtbot, real_tracker, real_signals, clock
):
    from jobdeck.ui.history_model import Column, HistoryModel
    from jobdeck.ui.job_details import JobDetails
    from jobdeck.ui.job_warnings import JobWarnings

    for seconds in (240, 240, 250, 230):
        ctx = real_tracker.create_job("command", params={"argv": ["backup"]})
        clock.advance(seconds)
        real_tracker.complete_job(ctx.job_id)
    histories = RunHistories(real_tracker)
    stalls = StallMonitor(real_signals, after_s=3600)
    warnings = JobWarnings(stalls.silence, histories.for_job)
    model = HistoryModel(real_tracker, real_signals, warnings=warnings)
    details = JobDetails(real_tracker, real_signals, warnings=warnings)
    qtbot.addWidget(details)
    job = real_tracker.create_job("command", params={"argv": ["backup"]}, title="Backup")
    other = real_tracker.create_job("command", params={"argv": ["first-time"]}, title="New")
    qtbot.waitUntil(lambda: histories.lookups >= 2, timeout=5000)
    qtbot.waitUntil(
        lambda: model.locate(real_tracker.get_job(job.job_id)) is not None, timeout=5000
    )
    model.locate(real_tracker.get_job(other.job_id))
    details.set_job(job.job_id)
    row, other_row = model.row_of(job.job_id), model.row_of(other.job_id)
    assert row is not None and other_row is not None
    assert model.data(model.index(row, Column.STATUS)) == "Running"
    clock.advance(300)  # past the p90 (250 s) of four runs
    model.refresh_warnings()
    details.refresh_warning()
    assert model.data(model.index(row, Column.STATUS)) == (
        "Running: slower than usual (usually ~4 min)"
    )
    assert details.status_label.full_text() == ("Running \u2014 slower than usual (usually ~4 min)")
    assert model.data(model.index(other_row, Column.STATUS)) == "Running"  # no history
    real_tracker.complete_job(job.job_id)
    qtbot.waitUntil(lambda: model.data(model.index(row, Column.STATUS)) == "Completed")
    assert "usual" not in details.status_label.full_text()
    real_tracker.complete_job(other.job_id)
    histories.close()
    stalls.close()


def test_the_default_stall_time_applies_live_and_a_type_keeps_its_own(
    qtbot, real_tracker, real_signals, clock
):
    from jobdeck.ui.settings_dialog import SettingsDialog, SettingsValues

    stalls, _bar, tray = wire(qtbot, real_tracker, real_signals)  # 10 min by default, python: 1 h
    command = real_tracker.create_job("command", params={"argv": ["make"]})
    script = real_tracker.create_job("python", params={"script": "/x.py"})
    qtbot.waitUntil(lambda: len(stalls.watch._last) == 2, timeout=5000)
    clock.advance(7 * 60)
    stalls.check()
    assert stalls.stalled() == {}
    dialog = SettingsDialog(
        SettingsValues(
            concurrency=1,
            retention=None,
            notifications=True,
            notify_after_s=0,
            taskbar_corner="bottom-right",
            keep_finished_ms=0,
        )
    )
    qtbot.addWidget(dialog)
    assert dialog.stall_after.value() == 10
    dialog.stall_after.setValue(5)
    stalls.set_after(60.0 * dialog.values().stall_after_min)  # what the app does on OK
    assert set(stalls.stalled()) == {command.job_id}  # the python type still allows an hour
    with pytest.raises(ValueError, match="more than 0 seconds"):
        stalls.set_after(0)
    stalls.set_after(60.0 * 30)  # raised again: the job is no longer stalled
    assert stalls.stalled() == {}
    for ctx in (command, script):
        real_tracker.complete_job(ctx.job_id)
    stalls.close()
    tray.dispose()
