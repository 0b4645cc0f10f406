from dataclasses import replace

from PySide6.QtCore import Qt

from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.icons import Spinner
from jobdeck.ui.job_row import JobRow

from .fakes import make_job


def make_row(qtbot, job, now):
    row = JobRow()
    qtbot.addWidget(row)
    row.resize(360, 60)
    row.set_job(job, now)
    return row


def test_cancel_button_emits_job_id(qtbot, tracker):
    job = make_job("build", current=3, total=10)
    row = make_row(qtbot, job, tracker.now())
    with qtbot.waitSignal(row.cancelRequested) as blocker:
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [job.id]


def test_click_on_row_emits_activated(qtbot, tracker):
    job = make_job("build", current=3, total=10)
    row = make_row(qtbot, job, tracker.now())
    with qtbot.waitSignal(row.activated) as blocker:
        qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    assert blocker.args == [job.id]


def test_known_total_shows_percent_and_unknown_total_is_busy_and_spins(qtbot, tracker):
    job = make_job("copy", current=25, total=100, message="file 25")
    row = make_row(qtbot, job, tracker.now())
    assert row.progress_bar.maximum() == 1000 and row.progress_bar.value() == 250
    assert "25%" in row.time_label.text()
    assert not row.is_spinning()
    row.set_job(replace(job, progress=Progress(5, 0, "scanning")), tracker.now())
    assert row.progress_bar.is_busy()
    assert row.progress_bar.value() == 0  # a busy bar is an empty groove plus a chunk
    assert row.is_spinning()
    assert row.message_label.full_text() == "scanning"


def test_spinner_is_released_when_the_total_becomes_known_or_the_row_dies(qtbot, tracker):
    spinner = Spinner()
    row = JobRow(spinner)
    qtbot.addWidget(row)
    job = make_job("scan", total=0)
    row.set_job(job, tracker.now())
    assert spinner.running
    row.set_job(replace(job, progress=Progress(1, 4)), tracker.now())
    assert not spinner.running
    row.set_job(job, tracker.now())
    assert spinner.running
    row.deleteLater()
    qtbot.waitUntil(lambda: not spinner.running, timeout=1000)


def test_eta_from_observed_rate(qtbot, tracker):
    job = make_job("hash", current=0, total=110)
    row = make_row(qtbot, job, tracker.now())
    assert row.eta_seconds(tracker.now()) is None  # one sample: no rate yet
    row.set_job(replace(job, progress=Progress(20, 110)), tracker.now() + 20)  # 1 unit/s
    assert row.eta_seconds(tracker.now() + 20) == 90
    assert "1m 30s left" in row.time_label.text()


def test_a_re_attached_job_s_jump_is_not_read_as_speed(qtbot, tracker):
    """After a restart the row first sees the stored (stale) progress, then the live one:
    the jump between them is not speed; the ETA comes from the progress after it."""
    t = tracker.now()
    stale = make_job("copy", current=30, total=100)
    row = make_row(qtbot, stale, t)
    row.set_job(replace(stale, progress=Progress(60, 100)), t + 0.5)  # live value: a jump
    assert row.eta_seconds(t + 0.5) is None  # not "0.8 s left"
    row.set_job(replace(stale, progress=Progress(61, 100)), t + 1.5)  # 1 unit/s from here
    assert row.eta_seconds(t + 1.5) == 39
    assert "39s left" in row.time_label.text()


def test_a_retried_job_starts_its_rate_afresh(qtbot, tracker):
    t = tracker.now()
    job = make_job("retry me", current=0, total=100, started=t)
    row = make_row(qtbot, job, t)
    row.set_job(replace(job, progress=Progress(50, 100)), t + 1)  # fast first attempt
    assert row.eta_seconds(t + 1) == 1
    again = replace(job, started_ts=t + 5, progress=Progress(50, 100))
    row.set_job(again, t + 5)  # same job id, started again: no rate carried over
    assert row.eta_seconds(t + 5) is None


def test_failed_and_finished_rows_show_no_eta(qtbot, tracker):
    t = tracker.now()
    job = make_job("countdown", current=0, total=60, message="60 s left")
    row = make_row(qtbot, job, t)
    row.set_job(replace(job, progress=Progress(10, 60, "50 s left")), t + 10)
    assert "left" in row.time_label.text()
    failed = replace(job, status=JobStatus.FAILED, completed_ts=t + 11, error=None)
    row.set_job(replace(failed, progress=Progress(10.82218, 60, "49 s left")), t + 11)
    assert row.eta_seconds(t + 11) is None
    assert "left" not in row.time_label.text() and "left" not in row.message_label.text()


def test_cancel_requested_shows_cancelling_and_disables_button(qtbot, tracker):
    job = make_job("build", current=1, total=10)
    row = make_row(qtbot, replace(job, cancel_requested=True), tracker.now())
    assert row.message_label.full_text() == "Cancelling\u2026"
    assert not row.cancel_button.isEnabled()
    assert "Running (cancel requested)" in row.toolTip()
    # Once cancelled it keeps the flag; its tooltip read "Cancelled (cancel requested)".
    cancelled = replace(job, status=JobStatus.CANCELLED, cancel_requested=True)
    row.set_job(cancelled, tracker.now())
    assert "Cancelled" in row.toolTip() and "cancel requested" not in row.toolTip()


def test_finished_rows_show_their_outcome(qtbot, tracker):
    done = make_job("a", JobStatus.COMPLETED, current=4, total=4)
    failed = make_job("b", JobStatus.FAILED, error="disk full")
    cancelled = make_job("c", JobStatus.CANCELLED)
    row = make_row(qtbot, done, tracker.now())
    assert row.message_label.full_text() == "Done"
    assert row.progress_bar.value() == 1000
    assert row.cancel_button.isHidden()
    row.set_job(failed, tracker.now())
    assert row.message_label.full_text() == "Failed: disk full"
    assert "disk full" in row.toolTip()
    row.set_job(cancelled, tracker.now())
    assert row.message_label.full_text() == "Cancelled"


def test_long_title_is_elided_with_full_text_in_tooltip(qtbot, tracker):
    title = "a very long title " * 10
    row = make_row(qtbot, make_job(title, current=1, total=2), tracker.now())
    row.show()
    qtbot.waitExposed(row)
    assert row.title_label.elided_text().endswith("\u2026")
    assert row.title_label.toolTip() == title


def test_a_job_on_a_cluster_worker_shows_the_workers_host(qtbot, tracker):
    worker = {"host": "node-7", "address": "tcp://10.0.0.7:40000", "name": "3", "pid": 4242}
    job = make_job("render", current=5, total=10, metadata={"worker": worker})
    row = make_row(qtbot, job, tracker.now())
    assert row.message_label.full_text().startswith("on node-7")
    assert row.time_label.text().startswith("50%")
    local = make_row(qtbot, make_job("render", current=5, total=10), tracker.now())
    assert "on " not in local.time_label.text()


def test_a_board_job_shows_the_instance_that_runs_it_and_its_worker(qtbot, tracker):
    on_board = make_job(
        "render", current=5, total=10, message="frame 5", metadata={"instance": "ana@desk"}
    )
    row = make_row(qtbot, on_board, tracker.now())
    assert row.message_label.full_text() == "on ana@desk \u00b7 frame 5"
    assert row.time_label.text().startswith("50%")  # the time line keeps its room
    worker = {"host": "node-7", "address": "tcp://10.0.0.7:40000", "name": "3", "pid": 4242}
    both = make_job(
        "render", current=5, total=10, metadata={"instance": "ana@desk", "worker": worker}
    )
    row = make_row(qtbot, both, tracker.now())
    assert row.message_label.full_text() == "on node-7 via ana@desk"
    row.here = "ana@desk"  # this instance's own jobs: only the worker is worth saying
    row.set_job(both, tracker.now())
    assert row.message_label.full_text() == "on node-7"


def test_a_job_queued_to_start_later_says_when(qtbot, tracker):
    """`jobdeck run --at 14:30 -- ...`: its row says when it starts, not just that it
    waits; one due now (or with no time) waits for a slot."""
    from datetime import datetime

    now = tracker.now()
    later = now + 3600
    job = make_job("nightly", JobStatus.PENDING, run_at_ts=later)
    row = make_row(qtbot, job, now)
    at = datetime.fromtimestamp(later)
    expected = at.strftime("%H:%M:%S") if at.date() == datetime.fromtimestamp(now).date() else ""
    assert row.message_label.full_text().startswith("Starts at ")
    assert expected in row.message_label.full_text()
    assert row.time_label.text() == "queued"
    row.set_job(job, later + 1)
    assert row.message_label.full_text() == "Waiting to start\u2026"
