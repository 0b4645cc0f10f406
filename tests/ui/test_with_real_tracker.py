"""The widgets against the real JobTracker (SQLite in a temp dir) and the real JobSignals."""

from __future__ import annotations

from jobdeck.core.job import JobStatus
from jobdeck.jobs import builtin_registry
from jobdeck.jobs.command import COMMAND
from jobdeck.ui.history_model import HistoryModel
from jobdeck.ui.launch_form import LaunchForm
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.taskbar import Taskbar
from jobdeck.ui.tray import TrayController

from .fakes import FakeSettings, field


def row_ids(bar):
    return [r.job_id for r in bar.rows()]


def test_taskbar_follows_a_job_through_its_life(qtbot, real_tracker, real_signals):
    bar = Taskbar(real_signals, keep_finished_ms=30)
    qtbot.addWidget(bar)
    job = real_tracker.enqueue("countdown", {"seconds": 3}, title="Count")
    qtbot.waitUntil(lambda: row_ids(bar) == [job.id], timeout=2000)
    ctx = real_tracker.start_job(job.id)
    ctx.update_progress(1, 4, "one")
    row = bar.row_for(job.id)
    assert row is not None
    qtbot.waitUntil(lambda: row.progress_bar.value() == 250, timeout=2000)
    assert row.message_label.full_text() == "one"
    real_tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: row.message_label.full_text() == "Cancelling\u2026", timeout=2000)
    real_tracker.mark_cancelled(job.id)
    qtbot.waitUntil(lambda: row_ids(bar) == [], timeout=2000)


def test_taskbar_cancel_button_cancels_in_the_tracker(qtbot, real_tracker, real_signals):
    job = real_tracker.enqueue("countdown", {"seconds": 3})
    bar = Taskbar(real_signals, keep_finished_ms=30)
    qtbot.addWidget(bar)
    row = bar.row_for(job.id)
    assert row is not None
    row.cancel_button.click()
    cancelled = real_tracker.get_job(job.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED


def test_history_model_pages_and_updates_live(qtbot, qtmodeltester, real_tracker, real_signals):
    jobs = [real_tracker.enqueue("countdown", {"seconds": i}, title=f"c{i}") for i in range(25)]
    model = HistoryModel(real_tracker, real_signals, page_size=10)
    assert [model.job_at(r).id for r in range(10)] == [j.id for j in reversed(jobs)][:10]
    assert model.rowCount() == 25
    assert [model.job_at(r).id for r in range(25)] == [j.id for j in reversed(jobs)]
    newest = real_tracker.enqueue("countdown", {"seconds": 1}, title="newest")
    qtbot.waitUntil(lambda: model.rowCount() == 26, timeout=2000)
    assert model.job_at(0).id == newest.id
    real_tracker.cancel_job(jobs[0].id)
    row = model.row_of(jobs[0].id)
    assert row is not None
    qtbot.waitUntil(lambda: model.index(row, 0).data() == "Cancelled", timeout=2000)
    qtmodeltester.check(model)


def test_launch_form_queues_a_real_command(qtbot, real_tracker):
    form = LaunchForm(COMMAND, real_tracker)
    qtbot.addWidget(form)
    field(form, "argv").edit.setText("echo 'hello world'")
    job_id = form.submit()
    assert job_id is not None
    assert real_tracker.get_job(job_id).params["argv"] == ["echo", "hello world"]
    field(form, "shell").check.setChecked(True)
    field(form, "argv").edit.setText("echo a | tr a b")
    job_id = form.submit()
    assert real_tracker.get_job(job_id).params["argv"] == ["echo a | tr a b"]


def test_launch_forms_build_for_every_builtin_type(qtbot, real_tracker):
    for job_type in [*builtin_registry(), COMMAND]:
        form = LaunchForm(job_type, real_tracker)
        qtbot.addWidget(form)
        assert set(form.fields) == {p.name for p in job_type.params}


def test_tray_cancel_all(qtbot, real_tracker, real_signals):
    a = real_tracker.enqueue("countdown", {"seconds": 3})
    b = real_tracker.enqueue("countdown", {"seconds": 3})
    real_tracker.start_job(b.id)
    tray = TrayController(real_tracker, real_signals, confirm_cancel_all=lambda jobs: True)
    qtbot.addWidget(tray.menu)
    tray.cancel_all_action.trigger()
    assert real_tracker.get_job(a.id).status is JobStatus.CANCELLED
    assert real_tracker.get_job(b.id).cancel_requested
    tray.dispose()


def test_main_window_over_the_real_tracker(qtbot, real_tracker, real_signals):
    registry = builtin_registry()
    window = MainWindow(real_tracker, real_signals, registry, FakeSettings())
    qtbot.addWidget(window)
    job = real_tracker.enqueue("countdown", {"seconds": 3}, title="Count")
    assert window.show_job(job.id)
    shown = window.details.job
    assert shown is not None and shown.id == job.id


def test_after_an_idle_spell_a_new_job_shows_live_progress_everywhere(
    qtbot, real_tracker, real_signals
):
    """The taskbar hides once idle; a job started after the idle spell brings it back with
    live percentages, and the details pane follows the job too."""
    from jobdeck.ui.job_details import JobDetails

    bar = Taskbar(real_signals, keep_finished_ms=50)
    qtbot.addWidget(bar)
    bar.set_enabled(True)
    details = JobDetails(real_tracker, real_signals)
    qtbot.addWidget(details)
    first = real_tracker.enqueue("countdown", {"seconds": 1}, title="First")
    ctx = real_tracker.start_job(first.id)
    ctx.update_progress(1, 2)
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    real_tracker.complete_job(first.id, success=True)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=3000)
    qtbot.wait(1500)  # idle: nothing runs, nothing reports

    second = real_tracker.enqueue("countdown", {"seconds": 1}, title="Second")
    details.set_job(second.id)
    ctx = real_tracker.start_job(second.id)
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    for i in range(1, 4):
        ctx.update_progress(i, 4, f"step {i}")
        qtbot.wait(30)
    row = bar.row_for(second.id)
    assert row is not None
    qtbot.waitUntil(lambda: "75%" in row.time_label.text(), timeout=3000)
    assert row.message_label.full_text() == "step 3"
    qtbot.waitUntil(lambda: details.progress_label.full_text().startswith("75% (3 of 4)"))
    assert details.progress_bar.value() == 750
    real_tracker.complete_job(second.id, success=True)


def test_a_job_whose_error_matches_the_search_stays_as_a_reload_would_show_it(
    qtbot, real_tracker, real_signals
):
    """The search looks at title, type, message *and error*, in the store's query and in
    the live matching alike: a job whose error matches used to vanish from the filtered
    history at its next live update, and come back after a reload."""
    model = HistoryModel(real_tracker, real_signals, page_size=10)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="DISK full")
    load = lambda: [model.job_at(r).id for r in range(model.rowCount())]  # noqa: E731
    assert load() == []
    other = real_tracker.enqueue("countdown", {"seconds": 1}, title="Unrelated")
    job = real_tracker.enqueue("countdown", {"seconds": 3}, title="Nightly backup", max_attempts=2)
    real_tracker.start_job(job.id)
    real_tracker.retry_later(job.id, real_tracker.now(), "OSError: disk full")
    qtbot.waitUntil(lambda: model.row_of(job.id) is not None, timeout=2000)
    ctx = real_tracker.start_job(job.id)  # the retry runs; its last error is still shown
    ctx.update_progress(1, 4, "copying again")
    qtbot.waitUntil(
        lambda: any(
            model.job_at(r).progress.message == "copying again" for r in range(model.rowCount())
        ),
        timeout=2000,
    )
    live = load()
    assert live == [job.id]
    model.refresh()
    assert load() == live and other.id not in live
    real_tracker.complete_job(job.id, success=False, error="disk full again")
    qtbot.waitUntil(lambda: model.job_at(0).status is JobStatus.FAILED, timeout=2000)
    assert load() == [job.id]
