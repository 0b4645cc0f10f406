from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from jobdeck.core.events import LogEntry
from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.job_details import JobDetails

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
    assert details.status_label.text() == "Failed"
    assert '"workers": 4' in details.params_view.toPlainText()
    assert '"by": "cli"' in details.params_view.toPlainText()
    assert "Traceback" in details.error_view.toPlainText()
    assert details.error_label.text() == "disk full"
    assert details.fields["Duration"].text() == "5s"
    assert details.tabs.currentWidget() is details.error_view
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


def test_open_log_uses_the_desktop_opener(qtbot, tracker, signals, monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True)
    )
    details = make_details(qtbot, tracker, signals)
    details.set_job(make_job("no log"))
    assert not details.open_log_button.isEnabled()
    log = tmp_path / "job.log"
    details.set_job(make_job("with log", log_path=str(log)))
    assert details.open_log_button.isEnabled()
    qtbot.mouseClick(details.open_log_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(log)]


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
