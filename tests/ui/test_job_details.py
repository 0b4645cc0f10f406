from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QPalette

from jobdeck.core.events import LogEntry
from jobdeck.core.job import JobError, JobStatus, Progress
from jobdeck.ui.job_details import _BODY_PARTS, JobDetails

from .fakes import make_job


def make_details(qtbot, tracker, signals):
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    details.resize(500, 600)
    details.show()
    qtbot.waitExposed(details)
    return details


def test_empty_until_a_job_is_set(qtbot, tracker, signals):
    details = make_details(qtbot, tracker, signals)
    assert details.placeholder.isVisible()
    assert not details.body.isVisible()


def test_the_job_widgets_are_built_when_a_job_is_first_shown(qtbot, tracker, signals):
    """Start-up shows no job: the tabs, views and buttons are built when one is shown."""
    details = make_details(qtbot, tracker, signals)
    pale = QPalette(details.palette())
    pale.setColor(QPalette.ColorRole.WindowText, QColor("#777777"))
    details.setPalette(pale)  # a theme change before any job: still nothing built
    job = make_job("Early", JobStatus.RUNNING, current=1, total=4)
    tracker.add(job)
    signals.jobsChanged.emit([job])  # news of a job not shown: nothing built either
    assert not details.body_built and details.notice() == ""
    details.set_job(job.id)
    assert details.body_built and details.body.isVisible()
    assert not details.placeholder.isVisible()
    assert details.title_label.text() == "Early" and "1 of 4" in details.progress_label.text()
    details.set_job(None)
    assert details.placeholder.isVisible() and not details.body.isVisible()


def test_looking_up_a_job_widget_before_any_job_builds_them(qtbot, tracker, signals):
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    assert not details.body_built
    assert details.tabs.count() == 7  # built on demand: the API stays as it was
    assert details.body_built and not details.body.isVisible()


def test_every_job_widget_the_build_makes_can_be_looked_up_before_it(qtbot, tracker, signals):
    """What the build makes is listed as such (_BODY_PARTS): a part added to the build but
    not to the list would raise AttributeError when looked up before any job was shown."""
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    before = set(vars(details))
    details._build_body()
    made = set(vars(details)) - before - {"_building"}
    assert made == _BODY_PARTS


def test_a_build_that_failed_raises_its_error_again_not_a_recursion(
    qtbot, tracker, signals, monkeypatch
):
    """Building the job's widgets fails (here: the log reader cannot be made): each later
    lookup of one of them tries again and raises that error, and once it can be built it
    is."""
    import jobdeck.ui.output_view as output_view

    real = output_view.OutputView

    def broken(*args, **kwargs):
        raise OSError("no log reader")

    monkeypatch.setattr(output_view, "OutputView", broken)
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    for _ in range(2):  # (before the fix the second raised RecursionError)
        with pytest.raises(OSError, match="no log reader"):
            details.output_view  # noqa: B018
    monkeypatch.setattr(output_view, "OutputView", real)
    assert isinstance(details.output_view, real) and details.body_built
    assert details.tabs.count() == 7


def test_shows_params_timings_error_and_result(qtbot, tracker, signals):
    job = make_job(
        "Hash",
        JobStatus.FAILED,
        type="hash",
        error="disk full",
        params={"folder": "/data", "workers": 4},
        metadata={"by": "cli"},
    )
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    assert details.title_label.text() == "Hash"
    assert '"workers": 4' in details.params_view.toPlainText()
    assert '"by": "cli"' in details.params_view.toPlainText()
    assert details.status_label.full_text() == "Failed \u2014 disk full"
    assert details.error_message.text() == "disk full"
    assert details.tabs.currentWidget() is details.error_view
    # the traceback is in the Error tab's collapsible details, folded at first
    assert not details.traceback_view.isVisible()
    qtbot.mouseClick(details.traceback_toggle, Qt.MouseButton.LeftButton)
    assert details.traceback_view.isVisible()
    assert "Traceback" in details.traceback_view.toPlainText()
    qtbot.mouseClick(details.traceback_toggle, Qt.MouseButton.LeftButton)
    assert not details.traceback_view.isVisible()
    assert details.fields["Duration"].text() == "5s"  # completed_ts - started_ts
    assert not details.cancel_button.isEnabled()
    done = make_job("ok", JobStatus.COMPLETED, result={"files": 3})
    details.set_job(done)
    assert '"files": 3' in details.result_view.toPlainText()


def test_follows_live_changes_and_log_lines(qtbot, tracker, signals):
    job = make_job("Build", current=1, total=4)
    tracker.add(job)
    tracker.log_entries.append(LogEntry(job.id, tracker.now(), "info", "first"))
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    assert "first" in details.log_view.toPlainText()
    signals.push_changed(replace(job, progress=Progress(2, 4, "halfway")))
    assert "halfway" in details.progress_label.text()
    assert details.progress_bar.value() == 500
    signals.push_log(
        LogEntry(job.id, tracker.now(), "warning", "second"),
        LogEntry("someone-else", tracker.now(), "info", "not mine"),
    )
    log = details.log_view.toPlainText()
    assert log.index("first") < log.index("second")
    assert "not mine" not in log


def test_lines_read_when_shown_and_then_delivered_live_show_once(qtbot, tracker, signals):
    """The job is shown while its latest lines are still on their way to the window."""
    job = make_job("Simulate", current=1, total=4)
    tracker.add(job)
    early = [LogEntry(job.id, tracker.now() + i, "info", f"step {i}") for i in range(3)]
    tracker.log_entries.extend(early)  # stored, not yet delivered as live lines
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    signals.logAppended.emit([*early[1:], LogEntry(job.id, tracker.now() + 3, "info", "step 3")])
    lines = details.log_view.toPlainText().splitlines()
    assert [line.split()[-1] for line in lines] == ["0", "1", "2", "3"]


def test_cancel_and_run_again(qtbot, tracker, signals):
    job = make_job("Build", params={"argv": ["make"]})
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    qtbot.mouseClick(details.cancel_button, Qt.MouseButton.LeftButton)
    assert tracker.cancelled == [job.id]
    with qtbot.waitSignal(details.jobQueued) as blocker:
        qtbot.mouseClick(details.run_again_button, Qt.MouseButton.LeftButton)
    (call,) = tracker.enqueued
    assert call["type"] == job.type and call["params"] == {"argv": ["make"]}
    assert call["title"] == "Build"
    assert call["retry_of"] == job.id
    assert tracker.get_job(blocker.args[0]).title == "Build"


def test_open_log_uses_the_desktop_opener_or_says_why_not(
    qtbot, tracker, signals, monkeypatch, tmp_path
):
    opened: list[QUrl] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(open_url))
    details = make_details(qtbot, tracker, signals)
    details.set_job(make_job("no log"))
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.notice() == "This job has no log file; its messages are in the Log tab."
    assert details.notice_label.isVisible() and opened == []
    log = tmp_path / "job.log"
    details.set_job(make_job("log gone", log_path=str(log)))
    assert details.notice() == ""  # another job: the old notice goes
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.notice() == f"The log file is gone: {log}" and opened == []
    log.write_text("output\n")
    details.set_job(make_job("with log", log_path=str(log)))
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(log)]
    assert details.notice() == ""


def test_a_program_that_printed_nothing_says_no_output_not_gone(
    qtbot, tracker, signals, monkeypatch, tmp_path
):
    """A finished program with a pid and no log path printed nothing (its log file is
    created with the first output); one whose stored log file is missing lost it."""
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: True))
    details = make_details(qtbot, tracker, signals)
    details.set_job(make_job("quiet", JobStatus.COMPLETED, pid=4242))
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.notice() == "No output: the program printed nothing."
    assert details.tabs.isTabEnabled(details.tabs.indexOf(details.output_view))
    details.tabs.setCurrentWidget(details.output_view)
    assert details.output_view.placeholderText() == "No output: the program printed nothing."
    log = tmp_path / "gone.log"
    details.set_job(make_job("printed", JobStatus.COMPLETED, pid=4243, log_path=str(log)))
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.notice() == f"The log file is gone: {log}"
    assert details.output_view.placeholderText() == f"The output file is gone: {log}"


def test_shows_the_resource_use_of_a_process_job(qtbot, tracker, signals):
    measured = replace(
        make_job("Build", JobStatus.COMPLETED), peak_rss=52_400_000, cpu_seconds=3.14
    )
    unmeasured = make_job("Sum", JobStatus.COMPLETED)
    tracker.add(measured)
    tracker.add(unmeasured)
    details = make_details(qtbot, tracker, signals)
    details.set_job(measured.id)
    assert details.fields["Resources"].text() == "peak 52 MB, CPU 3.1 s"
    details.set_job(unmeasured.id)
    assert details.fields["Resources"].text() == "\u2014"


def test_an_empty_log_says_why(qtbot, tracker, signals):
    """A program that prints only progress logs no lines: its Log tab points at the Output
    tab rather than staying blank."""
    program = replace(make_job("Build", JobStatus.RUNNING), log_path="/tmp/build.log")
    quiet = make_job("Sum", JobStatus.COMPLETED)
    tracker.add(program)
    tracker.add(quiet)
    details = make_details(qtbot, tracker, signals)
    details.set_job(program.id)
    assert details.log_view.toPlainText() == ""
    assert "Output tab" in details.log_view.placeholderText()
    details.set_job(quiet.id)
    assert details.log_view.placeholderText() == "This job logged nothing."


TRACE = (
    "Traceback (most recent call last):\n"
    '  File "jobs/files.py", line 40, in copy\n'
    "    shutil.copytree(source, target)\n"
    "FileNotFoundError: [Errno 2] No such file or directory: '/no/such/dir'"
)


def test_a_traceback_is_never_the_message_shown(qtbot, tracker, signals):
    job = make_job("Copy files", JobStatus.FAILED, type="copy")
    job = replace(job, error=JobError(TRACE))  # a traceback passed off as the message
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    line = "FileNotFoundError: [Errno 2] No such file or directory: '/no/such/dir'"
    assert details.status_label.full_text() == f"Failed \u2014 {line}"
    assert details.error_message.text() == line
    assert "Traceback" not in details.status_label.full_text()
    assert details.traceback_toggle.isVisible() and not details.traceback_view.isVisible()
    details.set_traceback_expanded(True)
    assert "shutil.copytree" in details.traceback_view.toPlainText()


def test_a_stopped_job_shows_formatted_progress_no_eta_and_the_time_it_ran(qtbot, tracker, signals):
    t = tracker.now()
    job = make_job(
        "Countdown 60 s",
        JobStatus.FAILED,
        type="countdown",
        started=t - 3600,
        completed=t - 3600 + 6,
        error="interrupted: Jobdeck stopped while it ran",
    )
    job = replace(job, progress=Progress(5.82218, 60, "54 s left"))
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    assert details.progress_label.full_text() == "Stopped at 9.7% (5.8 of 60)"
    shown = " ".join(
        [details.status_label.full_text(), details.progress_label.full_text()]
        + [label.text() for label in details.fields.values()]
    )
    assert "left" not in shown and "5.82218" not in shown
    assert details.fields["Duration"].text() == "6s"


def test_a_busy_bar_never_looks_full(qtbot, tracker, signals):
    job = make_job("scan", current=0, total=0, message="scanning")
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    bar = details.progress_bar
    assert bar.is_busy()
    assert 0 < bar.chunk_rect().width() <= bar.width() // 3
    image = bar.grab().toImage()
    accent = bar.palette().color(QPalette.ColorRole.Highlight)

    def accent_like(x: int) -> bool:
        c = QColor(image.pixel(x, image.height() // 2))
        distance = (
            abs(c.red() - accent.red())
            + abs(c.green() - accent.green())
            + abs(c.blue() - accent.blue())
        )
        return distance < 60

    filled = sum(accent_like(x) for x in range(image.width()))
    assert filled < image.width() * 0.5  # a sliding chunk, not a full bar
    signals.push_changed(replace(job, progress=Progress(3, 4, "counted")))
    assert not bar.is_busy() and bar.value() == 750


def test_the_details_do_not_jump_when_a_job_changes_state(qtbot, tracker, signals):
    job = make_job("Build", JobStatus.PENDING)
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    long_error = "exit status 2: " + "make: *** [all] Error 2 " * 20
    states = [
        replace(job, status=JobStatus.RUNNING, started_ts=tracker.now()),
        replace(job, status=JobStatus.RUNNING, progress=Progress(3, 10, "step 3 " * 40)),
        replace(job, status=JobStatus.RUNNING, progress=Progress(3, 10), cancel_requested=True),
        replace(
            job,
            status=JobStatus.FAILED,
            completed_ts=tracker.now(),
            error=JobError(long_error, TRACE),
        ),
        replace(job, status=JobStatus.COMPLETED, completed_ts=tracker.now(), result={"a": 1}),
    ]
    geometry = details.tabs.geometry()
    for state in states:
        signals.push_changed(state)
        qtbot.wait(10)
        assert details.tabs.geometry() == geometry, state.status


def test_on_a_board_the_details_say_which_instance_runs_the_job(qtbot, signals, pg_url, tmp_path):
    """A real tracker on a PostgreSQL board: the Runs on row names the instance that
    started the job; on a SQLite store (one instance) the row is not shown."""
    from jobdeck.core import JobTracker

    with JobTracker.open(pg_url, instance="build-server") as board:
        job = board.enqueue("x", title="Nightly build")
        board.start_job(job.id)
        details = make_details(qtbot, board, signals)
        details.set_job(job.id)
        details.tabs.setCurrentWidget(details.info_view)  # the Details tab, as a user opens it
        assert details.fields["Instance"].text() == "build-server"
        assert details.fields["Instance"].isVisible()
        board.complete_job(job.id)
        details.set_job(job.id)
        assert details.fields["Instance"].text() == "build-server"  # the history keeps it
    with JobTracker.open(tmp_path / "jobs.db") as local:
        job = local.enqueue("x")
        local.start_job(job.id)
        details = make_details(qtbot, local, signals)
        details.set_job(job.id)
        details.tabs.setCurrentWidget(details.info_view)
        assert details.fields["Process"].isVisible()
        assert not details.fields["Instance"].isVisible()


def test_a_pending_job_names_no_instance(qtbot, tracker, signals):
    job = make_job("Waiting", JobStatus.PENDING)
    tracker.add(job)
    tracker.instances[job.id] = "somewhere"
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    details.tabs.setCurrentWidget(details.info_view)
    assert details.fields["Process"].isVisible()
    assert not details.fields["Instance"].isVisible()


def test_a_job_on_a_dask_worker_shows_the_worker_and_its_resource_use(qtbot, tracker, signals):
    worker = {"host": "node-7", "address": "tcp://10.0.0.7:40000", "name": "3", "pid": 4242}
    job = make_job(
        "Render", type="render", metadata={"worker": worker}, peak_rss=250_000_000, cpu_seconds=3.5
    )
    tracker.add(job)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    assert details.fields["Process"].text() == (
        "Dask worker tcp://10.0.0.7:40000 on node-7, pid 4242"
    )
    assert "250 MB" in details.fields["Resources"].text()


def test_the_log_tab_says_why_it_is_empty_once_a_queued_program_starts(qtbot, tracker, signals):
    """Shown while queued ("No log lines yet."), a program's Log tab kept saying so after
    it started and ended: Qt repaints a placeholder only when it appears or goes, not when
    its text changes (QA sweep). Its new text is painted."""
    from PySide6.QtCore import QEvent, QObject

    queued = make_job("Build", JobStatus.PENDING)
    tracker.add(queued)
    details = make_details(qtbot, tracker, signals)
    details.set_job(queued.id)
    view = details.log_view
    assert view.placeholderText() == "No log lines yet."
    qtbot.wait(50)  # (painted)

    class Paints(QObject):
        seen = 0

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                self.seen += 1
            return False

    paints = Paints()
    view.viewport().installEventFilter(paints)
    running = replace(queued, status=JobStatus.RUNNING, log_path="/tmp/build.log")
    tracker.add(running)
    signals.jobsChanged.emit([running])
    qtbot.waitUntil(lambda: "Output tab" in view.placeholderText(), timeout=2000)
    qtbot.waitUntil(lambda: paints.seen > 0, timeout=2000)


def test_a_job_queued_to_start_later_says_when_in_the_details(qtbot, tracker, signals):
    import time

    details = make_details(qtbot, tracker, signals)
    details.set_job(make_job("nightly", JobStatus.PENDING, run_at_ts=time.time() + 3600))
    assert details.progress_label.full_text().startswith("Starts at ")
    details.set_job(make_job("next", JobStatus.PENDING))
    assert details.progress_label.full_text() == "Waiting to start"


def test_open_log_of_a_program_that_never_started_points_at_the_error(
    qtbot, tracker, signals, monkeypatch
):
    """`jobdeck run -- /nonexistent/prog`, then Open log in its details: the notice said
    its messages were in the Log tab, which said "This job logged nothing"."""
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: True))
    details = make_details(qtbot, tracker, signals)
    details.set_job(
        make_job("prog", JobStatus.FAILED, error="executable not found: '/nonexistent/prog'")
    )
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.log_view.placeholderText() == "This job logged nothing."
    assert details.notice() == "This job has no log file; the Error tab says what went wrong."
    details.set_job(make_job("quiet", JobStatus.COMPLETED))
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert details.notice() == "This job has no log file and logged nothing."


def test_a_timeline_refresh_due_after_the_tracker_closed_draws_nothing(qtbot, tmp_path):
    """The Timeline tab redraws a running job's chart on a timer: one due as the app quits,
    after its tracker closed, does nothing (it raised "the job tracker is closed")."""
    from jobdeck.core import JobTracker
    from jobdeck.runtime.signals import JobSignals

    tracker = JobTracker.open(tmp_path / "jobs.db")
    signals = JobSignals(tracker)
    job = tracker.enqueue("t", title="drawn")
    context = tracker.start_job(job.id)
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    details.tabs.setCurrentWidget(details.timeline_tab)
    qtbot.waitUntil(lambda: details.timeline_plot is not None)
    context.update_progress(1, 4, "a quarter")  # a change: the redraw is due
    qtbot.waitUntil(details._timeline_timer.isActive)
    tracker.close()
    qtbot.waitUntil(lambda: not details._timeline_timer.isActive(), timeout=10_000)
    details.refresh_timeline()  # (and called at once: nothing either)


def test_the_log_opens_on_its_last_line_whole_and_from_its_start(qtbot, tracker, signals):
    """QA: a job whose last log line was wider than the view opened with the view scrolled
    sideways to that line's end (every line's start, its time and level, out of sight) and
    the line itself half hidden under the horizontal scroll bar."""
    from PySide6.QtGui import QTextCursor

    job = make_job("Big output", JobStatus.COMPLETED)
    tracker.add(job)
    lines = [f"out {i}" for i in range(40)] + ["140366 bytes of the output were lost " * 8]
    tracker.log_entries.extend(
        LogEntry(job.id, tracker.now() + i, "info", text) for i, text in enumerate(lines)
    )
    details = make_details(qtbot, tracker, signals)
    details.set_job(job.id)
    view = details.log_view

    def last_line_whole_from_its_start() -> bool:
        cursor = QTextCursor(view.document().lastBlock())
        where = view.cursorRect(cursor)
        return (
            view.horizontalScrollBar().value() == 0
            and where.left() < 10
            and where.bottom() <= view.viewport().height()
        )

    qtbot.waitUntil(lambda: view.horizontalScrollBar().isVisible(), timeout=2000)
    qtbot.waitUntil(last_line_whole_from_its_start, timeout=2000)
