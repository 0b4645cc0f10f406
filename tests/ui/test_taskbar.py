from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, Qt

from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.job_row import JobRow
from jobdeck.ui.taskbar import Corner, Taskbar, summary_text

from .fakes import make_job


def make_taskbar(qtbot, signals, **kw):
    kw.setdefault("keep_finished_ms", 50)
    bar = Taskbar(signals, **kw)
    qtbot.addWidget(bar)
    return bar


def row_ids(bar):
    return [r.job_id for r in bar.rows()]


def test_window_flags_make_a_floating_panel(qtbot, signals):
    bar = make_taskbar(qtbot, signals)
    flags = bar.windowFlags()
    for flag in (
        Qt.WindowType.Tool,
        Qt.WindowType.FramelessWindowHint,
        Qt.WindowType.WindowStaysOnTopHint,
    ):
        assert flags & flag


def test_starts_with_the_active_jobs(qtbot, tracker, signals):
    running, pending = tracker.add(make_job("r"), make_job("p", JobStatus.PENDING))
    tracker.add(make_job("old", JobStatus.COMPLETED))
    bar = make_taskbar(qtbot, signals)
    assert row_ids(bar) == [running.id, pending.id]


def test_rows_are_added_updated_and_removed_after_keep_finished(qtbot, tracker, signals):
    bar = make_taskbar(qtbot, signals, keep_finished_ms=80)
    a, b = make_job("a", current=1, total=10), make_job("b", JobStatus.PENDING)
    signals.push_added(a, b)
    qtbot.waitUntil(lambda: row_ids(bar) == [a.id, b.id], timeout=1000)

    signals.push_changed(replace(a, progress=Progress(7, 10, "step 7")))
    row = bar.row_for(a.id)
    qtbot.waitUntil(lambda: row.progress_bar.value() == 700, timeout=1000)
    assert row.message_label.full_text() == "step 7"

    done = replace(a, status=JobStatus.COMPLETED, completed_ts=tracker.now())
    signals.push_changed(done)
    qtbot.waitUntil(lambda: row.message_label.full_text() == "Done", timeout=1000)
    assert a.id in row_ids(bar)  # shows the outcome for a while ...
    qtbot.waitUntil(lambda: row_ids(bar) == [b.id], timeout=2000)  # ... then leaves


def test_finished_job_never_seen_is_ignored(qtbot, signals):
    bar = make_taskbar(qtbot, signals)
    signals.push_changed(make_job("elsewhere", JobStatus.FAILED, error="x"))
    bar.refresh()
    assert bar.rows() == []
    assert bar.empty_label.isVisibleTo(bar)


def test_cancel_button_calls_tracker_cancel_job(qtbot, tracker, signals):
    _a, b = tracker.add(make_job("a"), make_job("b"))
    bar = make_taskbar(qtbot, signals)
    qtbot.mouseClick(bar.row_for(b.id).cancel_button, Qt.MouseButton.LeftButton)
    assert tracker.cancelled == [b.id]


def test_clicking_a_row_emits_job_activated(qtbot, tracker, signals):
    (a,) = tracker.add(make_job("a"))
    bar = make_taskbar(qtbot, signals)
    with qtbot.waitSignal(bar.jobActivated) as blocker:
        qtbot.mouseClick(bar.row_for(a.id), Qt.MouseButton.LeftButton)
    assert blocker.args == [a.id]


def test_more_rows_than_max_rows_shows_plus_n_more(qtbot, signals):
    bar = make_taskbar(qtbot, signals, max_rows=3)
    jobs = [make_job(f"j{i}") for i in range(5)]
    signals.push_added(*jobs)
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=1000)
    assert row_ids(bar) == [j.id for j in jobs[:3]]
    assert bar.more_button.isVisibleTo(bar)
    assert bar.more_button.text() == "+2 more\u2026"


def test_running_jobs_are_listed_before_pending_ones(qtbot, signals):
    bar = make_taskbar(qtbot, signals, max_rows=2)
    pending = make_job("p", JobStatus.PENDING)
    running = make_job("r")
    signals.push_added(pending, running)
    qtbot.waitUntil(lambda: row_ids(bar) == [running.id, pending.id], timeout=1000)


def test_collapse_shows_one_summary_line(qtbot, signals):
    bar = make_taskbar(qtbot, signals)
    signals.push_added(
        make_job("a", current=30, total=100),
        make_job("b", current=60, total=100),
        make_job("c", total=0),
    )
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=1000)
    qtbot.mouseClick(bar.collapse_button, Qt.MouseButton.LeftButton)
    assert bar.is_collapsed()
    assert bar.rows() == []
    assert bar.summary() == "3 jobs \u00b7 45%"
    assert not bar.more_button.isVisibleTo(bar)
    qtbot.mouseClick(bar.collapse_button, Qt.MouseButton.LeftButton)
    assert len(bar.rows()) == 3


def test_summary_text():
    assert summary_text([]) == "No active jobs"
    assert summary_text([make_job("a", total=0)]) == "1 job"
    assert summary_text([make_job("a", current=1, total=4), make_job("b", total=0)]) == (
        "2 jobs \u00b7 25%"
    )
    assert summary_text([make_job("x", JobStatus.COMPLETED)]) == "No active jobs"


def test_signal_bursts_are_coalesced_into_few_refreshes(qtbot, signals):
    bar = make_taskbar(qtbot, signals)
    job = make_job("hot", current=0, total=1000)
    signals.push_added(job)
    start = bar.refresh_count
    for i in range(1, 501):
        signals.push_changed(replace(job, progress=Progress(i, 1000)))
    assert bar.refresh_count == start  # nothing repainted synchronously
    row_value = lambda: bar.row_for(job.id) and bar.row_for(job.id).progress_bar.value()  # noqa: E731
    qtbot.waitUntil(lambda: row_value() == 500, timeout=1000)
    assert bar.refresh_count - start <= 2


def test_hundreds_of_jobs_create_only_visible_row_widgets(qtbot, signals):
    bar = make_taskbar(qtbot, signals, max_rows=6)
    signals.push_added(*[make_job(f"j{i}", current=i, total=1000) for i in range(500)])
    qtbot.waitUntil(lambda: len(bar.rows()) == 6, timeout=1000)
    assert len(bar.findChildren(JobRow)) == 6
    assert bar.more_button.text() == "+494 more\u2026"
    assert len(bar.job_ids()) == 500


def test_placed_in_the_configured_corner(qtbot, signals):
    bar = make_taskbar(qtbot, signals, corner="top-left")
    area = bar.screen().availableGeometry()
    assert bar.corner is Corner.TOP_LEFT
    assert bar.pos().x() < area.center().x() and bar.pos().y() < area.center().y()
    bar2 = make_taskbar(qtbot, signals, corner=Corner.BOTTOM_RIGHT)
    assert bar2.pos().x() > area.center().x() - bar2.width()
    assert bar2.pos().y() > area.center().y() - bar2.height()


def test_bad_corner_is_a_clear_error(qtbot, signals):
    with pytest.raises(ValueError, match="corner must be one of"):
        Taskbar(signals, corner="middle")


def test_drag_moves_and_remembers_position(qtbot, signals, settings):
    bar = make_taskbar(qtbot, signals, settings=settings, corner="top-left")
    bar.show()
    qtbot.waitExposed(bar)
    start = bar.pos()
    grab = QPoint(20, 10)  # on the header, not a row
    qtbot.mousePress(bar, Qt.MouseButton.LeftButton, pos=grab)
    qtbot.mouseMove(bar, grab + QPoint(40, 30))
    qtbot.mouseRelease(bar, Qt.MouseButton.LeftButton, pos=grab + QPoint(40, 30))
    saved = settings.values["taskbar/pos"]
    assert saved == bar.pos()
    assert saved != start
    again = make_taskbar(qtbot, signals, settings=settings, corner="bottom-right")
    assert again.pos() == saved
