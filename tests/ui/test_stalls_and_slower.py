"""Stalled jobs and "slower than usual" as a person sees them: the taskbar row's badge, the
tray's tooltip and one notification. Real tracker, real JobSignals, StallMonitor, Taskbar
and TrayController; the tracker's clock is moved by hand (minutes pass in no time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobdeck.core.clock import FakeClock
from jobdeck.core.run_history import RunHistories
from jobdeck.core.tracker import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime.signals import JobSignals
from jobdeck.runtime.stall_monitor import StallMonitor
from jobdeck.ui.taskbar import Taskbar
from jobdeck.ui.tray import TrayController


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tracker(tmp_path, clock) -> Iterator[JobTracker]:
    t = JobTracker.open(
        tmp_path / "jobs.db", clock=clock, registry=builtin_registry(), event_interval=0.005
    )
    yield t
    t.close()


@pytest.fixture
def signals(qtbot, tracker) -> Iterator[JobSignals]:
    s = JobSignals(tracker, interval_ms=5)
    yield s
    s.close()


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
    qtbot, tracker, signals, clock
):
    stalls, bar, tray = wire(qtbot, tracker, signals)
    shown: list[tuple[str, str, str]] = []
    tray.notified.connect(lambda *args: shown.append(args))
    ctx = tracker.create_job("command", params={"argv": ["sleep", "1d"]}, title="Overnight")
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
    tracker.complete_job(ctx.job_id)
    stalls.close()
    tray.dispose()


def test_output_keeps_a_job_alive_and_types_have_their_own_limit(qtbot, tracker, signals, clock):
    stalls, bar, tray = wire(qtbot, tracker, signals)
    chatty = tracker.create_job("command", params={"argv": ["make"]})
    slow_type = tracker.create_job("python", params={"script": "/x.py"})
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
        tracker.complete_job(ctx.job_id)
    qtbot.waitUntil(lambda: stalls.stalled() == {}, timeout=5000)
    stalls.close()
    tray.dispose()


def test_slower_than_usual_is_a_badge_between_p90_and_the_longest_run(
    qtbot, tracker, signals, clock
):
    for seconds in (100, 100, 100, 100, 100, 100, 100, 100, 100, 130):
        ctx = tracker.create_job("command", params={"argv": ["backup"]})
        clock.advance(seconds)
        tracker.complete_job(ctx.job_id)
    histories = RunHistories(tracker)
    stalls, bar, tray = wire(qtbot, tracker, signals, histories)
    job = tracker.create_job("command", params={"argv": ["backup"]}, title="Backup")
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
    tracker.complete_job(job.job_id)
    histories.close()
    stalls.close()
    tray.dispose()


def test_slower_than_usual_only_with_history(tmp_path, qtbot, tracker, signals, clock):
    for _ in range(3):
        ctx = tracker.create_job("command", params={"argv": ["backup"]})
        clock.advance(100)
        tracker.complete_job(ctx.job_id)
    histories = RunHistories(tracker)
    stalls, bar, tray = wire(qtbot, tracker, signals, histories)
    known = tracker.create_job("command", params={"argv": ["backup"]}, title="Backup")
    new = tracker.create_job("command", params={"argv": ["first-time"]}, title="New")
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
        tracker.complete_job(ctx.job_id)
    histories.close()
    stalls.close()
    tray.dispose()
