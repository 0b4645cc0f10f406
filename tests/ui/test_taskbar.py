from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

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
    done = make_job("x", JobStatus.COMPLETED)  # a row still showing its outcome counts
    assert summary_text([done]) == "1 job ended"
    assert summary_text([done, make_job("a", current=1, total=4)]) == "2 jobs, 1 ended \u00b7 25%"


def test_summary_says_how_many_of_the_jobs_still_wait_to_start():
    """QA: 40 jobs queued with 4 at a time: as the 4 running ones neared their ends the
    header read "36 jobs \u00b7 100%", as if all were done, while 32 had not started."""
    running = [make_job(f"r{i}", current=15, total=15) for i in range(4)]
    queued = [make_job(f"q{i}", JobStatus.PENDING, total=0) for i in range(32)]
    assert summary_text(running + queued) == "36 jobs, 32 queued \u00b7 100%"
    assert summary_text(queued[:2]) == "2 jobs, 2 queued"
    done = make_job("x", JobStatus.COMPLETED)
    assert summary_text([done, *running[:1], *queued[:1]]) == (
        "3 jobs, 1 ended, 1 queued \u00b7 100%"
    )


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


# --- placement on a 1280x800 screen ----------------------------------------------------

SCREEN = QRect(0, 0, 1280, 800)


def shown_taskbar(qtbot, signals, **kw):
    kw.setdefault("max_rows", 10)
    bar = make_taskbar(qtbot, signals, **kw)
    bar.set_enabled(True)
    return bar


def add_jobs(qtbot, signals, bar, count):
    jobs = [make_job(f"job {i}", current=i, total=20, message=f"step {i}") for i in range(count)]
    signals.push_added(*jobs)
    qtbot.waitUntil(lambda: len(bar.job_ids()) >= count and not bar._refresh_timer.isActive())
    return jobs


def finish(qtbot, signals, bar, jobs):
    signals.push_changed(*[replace(j, status=JobStatus.COMPLETED) for j in jobs])
    gone = {j.id for j in jobs}
    qtbot.waitUntil(
        lambda: not gone & set(bar.job_ids()) and not bar._refresh_timer.isActive(), timeout=3000
    )


def inside(rect, area=SCREEN):
    return area.contains(rect)


def drag(qtbot, bar, by, steps=4):
    """Press on the header, move in steps, release: as a person drags."""
    grab = QPoint(60, 12)
    start = bar.pos() + grab  # where the pointer is, in screen coordinates
    qtbot.mousePress(bar, Qt.MouseButton.LeftButton, pos=grab)
    for i in range(1, steps + 1):
        pointer = start + QPoint(by.x() * i // steps, by.y() * i // steps)
        qtbot.mouseMove(bar, pointer - bar.pos())  # the panel follows the pointer
    qtbot.mouseRelease(bar, Qt.MouseButton.LeftButton, pos=start + by - bar.pos())


def test_the_test_screen_is_1280x800(qapp):
    assert qapp.primaryScreen().availableGeometry() == SCREEN


def test_docked_in_its_corner_and_grows_away_from_it(qtbot, signals):
    bar = shown_taskbar(qtbot, signals)
    one = add_jobs(qtbot, signals, bar, 1)
    small = bar.geometry()
    assert inside(small) and bar.is_docked()
    assert small.right() == SCREEN.right() - 16 and small.bottom() == SCREEN.bottom() - 16
    more = add_jobs(qtbot, signals, bar, 10)
    assert len(bar.rows()) == 10
    big = bar.geometry()
    assert inside(big)
    assert big.bottom() == small.bottom() and big.top() < small.top() - 300  # grew upward
    finish(qtbot, signals, bar, more)
    assert bar.geometry() == small  # shrinks back into its corner
    finish(qtbot, signals, bar, one)

    top = shown_taskbar(qtbot, signals, corner="top-left")
    assert top.geometry().topLeft() == QPoint(16, 16)
    add_jobs(qtbot, signals, top, 10)
    assert top.geometry().topLeft() == QPoint(16, 16) and inside(top.geometry())


def test_a_click_on_the_header_does_not_detach_it(qtbot, signals, settings):
    bar = shown_taskbar(qtbot, signals, settings=settings)
    add_jobs(qtbot, signals, bar, 2)
    before = bar.geometry()
    grab = QPoint(60, 12)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=grab)
    # a wobble smaller than the platform's drag distance is still a click
    wobble = QPoint(QApplication.startDragDistance() - 2, 0)
    qtbot.mousePress(bar, Qt.MouseButton.LeftButton, pos=grab)
    qtbot.mouseMove(bar, grab + wobble)
    qtbot.mouseRelease(bar, Qt.MouseButton.LeftButton, pos=grab + wobble)
    assert bar.is_docked() and bar.geometry() == before
    assert settings.values.get("taskbar/pos") is None
    add_jobs(qtbot, signals, bar, 8)  # still docked: grows upward from the corner
    assert bar.geometry().bottom() == before.bottom()


def test_a_real_drag_detaches_it_and_is_remembered(qtbot, signals, settings):
    bar = shown_taskbar(qtbot, signals, settings=settings)
    add_jobs(qtbot, signals, bar, 2)
    start = bar.geometry()
    drag(qtbot, bar, QPoint(-300, -100))
    moved = bar.geometry()
    assert not bar.is_docked()
    assert moved.topLeft() == start.topLeft() + QPoint(-300, -100)
    assert settings.values["taskbar/anchor"] == "bottom-right"  # lower right half
    assert settings.values["taskbar/pos"] == moved.bottomRight() + QPoint(1, 1)
    again = shown_taskbar(qtbot, signals, settings=settings)
    assert again.geometry() == moved
    assert again.anchor is Corner.BOTTOM_RIGHT


def test_a_dragged_panel_stays_on_screen_and_grows_away_from_its_anchor(qtbot, signals, settings):
    bar = shown_taskbar(qtbot, signals, settings=settings, corner="top-left")
    jobs = add_jobs(qtbot, signals, bar, 1)
    drag(qtbot, bar, QPoint(300, 280))  # upper half: anchored at its top
    assert bar.anchor is Corner.TOP_LEFT
    placed = bar.geometry()
    more = add_jobs(qtbot, signals, bar, 10)
    grown = bar.geometry()
    assert inside(grown)
    assert grown.bottom() == SCREEN.bottom()  # would run off the screen: pushed up
    finish(qtbot, signals, bar, more)
    assert bar.geometry() == placed  # shrinks back to where it was put
    # dragged far past the edge: stops at the edge
    drag(qtbot, bar, QPoint(5000, 5000))
    assert inside(bar.geometry()) and bar.anchor is Corner.BOTTOM_RIGHT
    assert bar.geometry().bottomRight() == SCREEN.bottomRight()
    finish(qtbot, signals, bar, jobs)


def test_a_saved_position_off_the_screen_is_clamped(qtbot, signals, settings):
    settings.values.update({"taskbar/pos": QPoint(4000, 3000), "taskbar/anchor": "bottom-right"})
    bar = shown_taskbar(qtbot, signals, settings=settings)
    add_jobs(qtbot, signals, bar, 3)
    assert inside(bar.geometry())
    settings.values.update({"taskbar/pos": QPoint(-900, -900), "taskbar/anchor": "nonsense"})
    other = shown_taskbar(qtbot, signals, settings=settings)
    assert other.geometry().topLeft() == SCREEN.topLeft()


def test_only_the_rows_that_fit_are_shown(qtbot, signals):
    bar = shown_taskbar(qtbot, signals, max_rows=10)
    bar.set_available_area(QRect(0, 0, 1280, 400))
    add_jobs(qtbot, signals, bar, 10)
    assert bar.geometry().height() <= 400 - 2 * 16
    assert 1 <= len(bar.rows()) < 10
    assert bar.more_button.text() == f"+{10 - len(bar.rows())} more\u2026"


def test_a_screen_change_places_it_again(qtbot, qapp, signals, settings):
    bar = shown_taskbar(qtbot, signals, settings=settings)
    add_jobs(qtbot, signals, bar, 6)
    qtbot.waitExposed(bar)
    drag(qtbot, bar, QPoint(-40, -30))
    assert not bar.is_docked()
    small = qapp.screens()[1]
    area = small.availableGeometry()
    assert area == QRect(1280, 0, 1024, 600)
    bar.windowHandle().setScreen(small)  # e.g. its screen was unplugged
    qtbot.waitUntil(lambda: inside(bar.geometry(), area), timeout=2000)


def test_a_smaller_available_area_re_clamps_it(qtbot, qapp, signals, monkeypatch):
    bar = shown_taskbar(qtbot, signals)
    add_jobs(qtbot, signals, bar, 8)
    qtbot.waitExposed(bar)
    screen = bar.windowHandle().screen()
    assert bar.geometry().bottom() > 600
    shrunk = QRect(0, 0, 1024, 600)  # the resolution went down
    monkeypatch.setattr(screen, "availableGeometry", lambda: QRect(shrunk))
    screen.availableGeometryChanged.emit(shrunk)
    assert inside(bar.geometry(), shrunk)
    assert bar.geometry().bottom() == 600 - 16 - 1 and bar.geometry().right() == 1024 - 16 - 1


# --- visibility ----------------------------------------------------------------------


def test_hides_once_idle_unless_always_shown(qtbot, signals):
    bar = make_taskbar(qtbot, signals, keep_finished_ms=100)
    bar.set_enabled(True)
    assert not bar.isVisible()  # nothing to show
    jobs = add_jobs(qtbot, signals, bar, 1)
    qtbot.waitUntil(bar.isVisible, timeout=1000)
    signals.push_changed(replace(jobs[0], status=JobStatus.COMPLETED))
    qtbot.wait(30)
    assert bar.isVisible()  # the outcome shows for a while ...
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=2000)  # ... then the panel goes
    bar.always_show = True
    assert bar.isVisible() and bar.empty_label.isVisible()
    bar.always_show = False
    assert not bar.isVisible()
    bar.set_enabled(True, reveal=True)  # "Show taskbar" from the tray: shows for a while
    assert bar.isVisible()
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=4000)
    bar.set_enabled(False)
    add_jobs(qtbot, signals, bar, 1)
    assert not bar.isVisible()  # turned off by the user: stays off


def test_keeps_out_of_the_way_of_the_active_main_window(qtbot, signals):
    bar = shown_taskbar(qtbot, signals)
    add_jobs(qtbot, signals, bar, 3)
    docked = bar.geometry()
    window = QWidget()
    qtbot.addWidget(window)
    bar.avoid_window(window)
    window.setGeometry(40, 40, 600, 400)  # top-left: the corner is free
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.wait(20)
    assert bar.isVisible() and bar.geometry() == docked
    window.setGeometry(700, 300, 560, 480)  # over the bottom-right corner
    qtbot.waitUntil(lambda: not bar.geometry().intersects(window.frameGeometry()))
    assert bar.isVisible() and inside(bar.geometry())
    window.setGeometry(51, 32, 1177, 736)  # the default size on 1280x800: no room
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=2000)
    assert bar.is_out_of_the_way()
    window.hide()  # e.g. closed to the tray: the panel comes back to its corner
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    assert bar.geometry() == docked


def test_stays_out_of_the_way_while_a_dialog_of_the_main_window_is_active(qtbot, signals):
    """The quit question (or Settings) on the main window: the panel, always on top, came
    back over the main window and hid the dialog's last button ("Stay")."""
    bar = shown_taskbar(qtbot, signals)
    add_jobs(qtbot, signals, bar, 3)
    window = QWidget()
    qtbot.addWidget(window)
    bar.avoid_window(window)
    window.setGeometry(51, 32, 1177, 736)  # the default size on 1280x800: no room
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=2000)
    dialog = QMessageBox(QMessageBox.Icon.Question, "Jobdeck", "3 jobs are still running.")
    dialog.setParent(window, dialog.windowFlags())
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.addButton("Keep running in the background and quit", QMessageBox.ButtonRole.YesRole)
    dialog.addButton("Stay", QMessageBox.ButtonRole.RejectRole)
    dialog.open()
    qtbot.waitActive(dialog)
    qtbot.wait(50)  # (the panel would be shown again by now)
    assert not bar.isVisible()
    dialog.done(0)
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.wait(50)
    assert not bar.isVisible()
    window.hide()  # closed to the tray: the panel comes back
    qtbot.waitUntil(bar.isVisible, timeout=2000)


def test_plus_n_more_opens_the_active_jobs(qtbot, signals):
    bar = shown_taskbar(qtbot, signals, max_rows=3)
    add_jobs(qtbot, signals, bar, 5)
    assert bar.more_button.isVisible()
    with qtbot.waitSignal(bar.moreActivated, timeout=1000):
        qtbot.mouseClick(bar.more_button, Qt.MouseButton.LeftButton)
