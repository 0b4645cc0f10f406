"""The details pane's Output tab: the end of a process job's log file, followed live.

It reads the file (never per-line rows from the store), at a bounded cost: a few new lines
are appended as they come, a flood shows its latest lines, and the job's end brings its
last (unterminated) line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from jobdeck.core.job import JobStatus
from jobdeck.ui.job_details import JobDetails
from jobdeck.ui.output_view import OUTPUT_LINES

from .fakes import FakeSignals, FakeTracker, make_job

WAIT_MS = 10_000


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def shown(details: JobDetails) -> list[str]:
    return details.output_view.toPlainText().splitlines()


def open_output(qtbot: Any, tracker: FakeTracker, signals: FakeSignals, job: Any) -> JobDetails:
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    details.resize(600, 500)
    details.show()
    qtbot.waitExposed(details)
    details.set_job(job.id)
    details.tabs.setCurrentWidget(details.output_view)  # the user opens the Output tab
    return details


def test_the_output_tab_follows_a_running_job_s_log_file(
    qtbot: Any, tracker: FakeTracker, signals: FakeSignals, tmp_path: Path
) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"".join(b"early line %d\n" % i for i in range(1000)) + b"\x1b[1mbold\x1b[0m\n")
    job = make_job("Build", log_path=str(log))
    tracker.add(job)
    details = open_output(qtbot, tracker, signals, job)
    assert details.tabs.isTabEnabled(details.tabs.indexOf(details.output_view))
    lines = shown(details)
    assert len(lines) == OUTPUT_LINES and lines[-1] == "bold" and lines[0] == "early line 501"

    # A line now and then: each one shows, in order, after the previous ones.
    for k in range(3):
        append(log, b"compiling part %d\n" % k)
        qtbot.waitUntil(lambda k=k: shown(details)[-1] == f"compiling part {k}", timeout=WAIT_MS)
    assert shown(details)[-4:] == [
        "bold",
        "compiling part 0",
        "compiling part 1",
        "compiling part 2",
    ]

    # A flood: its latest lines show, not millions of lines.
    append(log, b"".join(b"%d%%\r" % (i % 100) for i in range(2_000_000)) + b"writing output\n")
    qtbot.waitUntil(lambda: shown(details)[-1] == "writing output", timeout=WAIT_MS)
    assert len(shown(details)) <= OUTPUT_LINES

    # The job ends with an unterminated line: it shows once the job is over.
    append(log, b"half a ")
    details.output_view.follow()  # a look, as its timer takes: an unfinished line waits
    assert shown(details)[-1] == "writing output"
    append(log, b"line, the last")
    signals.push_changed(replace(job, status=JobStatus.COMPLETED, completed_ts=job.started_ts))
    assert shown(details)[-1] == "half a line, the last"
    assert not details.output_view.live


def test_the_output_is_read_when_the_tab_is_shown_not_before(
    qtbot: Any, tracker: FakeTracker, signals: FakeSignals, tmp_path: Path
) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"first\n")
    job = make_job("Build", log_path=str(log))
    tracker.add(job)
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    details.show()
    details.set_job(job.id)
    assert details.tabs.currentWidget() is details.log_view
    append(log, b"second\n")
    signals.push_changed(replace(job, status=JobStatus.FAILED, error=None))  # ends unseen
    assert shown(details) == []  # nothing read while hidden
    details.tabs.setCurrentWidget(details.output_view)
    assert shown(details) == ["first", "second"]


def test_a_job_without_a_log_file_has_no_output_tab(
    qtbot: Any, tracker: FakeTracker, signals: FakeSignals
) -> None:
    job = make_job("Python work")
    tracker.add(job)
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    details.set_job(job.id)
    assert not details.tabs.isTabEnabled(details.tabs.indexOf(details.output_view))


def test_the_output_opens_on_its_last_line_whole_and_from_its_start(
    qtbot: Any, tracker: FakeTracker, signals: FakeSignals, tmp_path: Path
) -> None:
    """QA: a program whose last line was wider than the view (a progress bar, a long
    message) had its output open scrolled sideways to that line's end, every line's start
    out of sight, and the line half hidden under the horizontal scroll bar."""
    from PySide6.QtGui import QTextCursor

    log = tmp_path / "job.log"
    lines = [f"out {i}" for i in range(60)] + ["the last line, a long one " * 12]
    log.write_text("\n".join(lines) + "\n")
    job = make_job("Build", JobStatus.COMPLETED, log_path=str(log))
    tracker.add(job)
    details = open_output(qtbot, tracker, signals, job)
    view = details.output_view
    qtbot.waitUntil(lambda: shown(details)[-1:] == [lines[-1]], timeout=WAIT_MS)

    def last_line_whole_from_its_start() -> bool:
        where = view.cursorRect(QTextCursor(view.document().lastBlock()))
        return (
            view.horizontalScrollBar().value() == 0
            and where.left() < 10
            and where.bottom() <= view.viewport().height()
        )

    qtbot.waitUntil(lambda: view.horizontalScrollBar().isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(last_line_whole_from_its_start, timeout=2000)
