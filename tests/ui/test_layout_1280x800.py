"""The main window at its default size on the smallest supported desktop (1280x800): the
launcher needs no horizontal scrolling, the history's columns are not elided, the log shows
at least a dozen lines, and the details do not jump as a job changes state."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QScrollArea

from jobdeck.core.job import JobError, JobStatus, Progress
from jobdeck.jobs import builtin_registry
from jobdeck.ui.history_model import Column
from jobdeck.ui.main_window import MainWindow

from .fakes import make_job


@pytest.fixture
def window(qtbot, qapp, tracker, signals, settings):
    assert qapp.primaryScreen().availableGeometry() == QRect(0, 0, 1280, 800)
    registry = builtin_registry()
    tracker.registry = registry
    win = MainWindow(tracker, signals, registry, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_default_size_fits_the_screen(window, tmp_path):
    assert QRect(0, 0, 1280, 800).contains(window.frameGeometry())
    assert window.width() >= 1100 and window.height() >= 700
    shot = tmp_path / "main-window-1280x800.png"  # kept by pytest's tmp_path for a look
    assert window.grab().save(str(shot)) and shot.stat().st_size > 10_000


def test_no_launch_form_needs_horizontal_scrolling(qtbot, window):
    for name, form in window.launch_forms.items():
        window.select_job_type(name)
        qtbot.wait(1)
        scroller = form.findChild(QScrollArea)
        body = scroller.widget()
        assert body.minimumSizeHint().width() <= scroller.viewport().width(), name
        assert body.width() <= scroller.viewport().width(), name
        for field in form.fields.values():  # every editor is wholly visible across
            right = field.widget.mapTo(body, field.widget.rect().topRight()).x()
            assert right <= scroller.viewport().width(), (name, field.name)


def test_history_columns_show_their_longest_texts_without_eliding(qtbot, window, tracker):
    t = tracker.now()
    cancelling = replace(
        make_job("Countdown 45 s", current=3, total=45, type="countdown", started=t - 30),
        cancel_requested=True,
    )
    older = make_job("Checksum", JobStatus.COMPLETED, type="checksum", started=t - 40 * 86400)
    tracker.add(older, cancelling)
    window.model.refresh()
    window.model.job_at(0)  # reads the first rows
    table = window.table
    row = window.model.row_of(cancelling.id)
    assert window.model.index(row, Column.STATUS).data() == "Cancelling\u2026"
    for column in (Column.STATUS, Column.TYPE, Column.PROGRESS, Column.STARTED, Column.DURATION):
        assert table.columnWidth(column) >= table.sizeHintForColumn(column), column.name
    assert table.columnWidth(Column.TITLE) >= 120
    assert not table.horizontalScrollBar().isVisible()
    # the Status column keeps no room for a rare long text: a usual title fits beside it
    # (it kept "Running (cancelling)"'s width, and cut this one short)
    title = "Build: compile 60 modules"
    room = table.columnWidth(Column.TITLE) - 12  # the cell's margins
    assert table.fontMetrics().horizontalAdvance(title) <= room, room


def test_the_log_shows_at_least_twelve_lines(qtbot, window, tracker):
    job = make_job("Build", current=1, total=4)
    tracker.add(job)
    window.show_job(job.id)
    qtbot.wait(1)
    log = window.details.log_view
    lines = log.viewport().height() // log.fontMetrics().lineSpacing()
    assert lines >= 12, lines


def test_the_details_keep_their_size_as_a_job_changes_state(qtbot, window, tracker, signals):
    job = make_job("Copy photos", JobStatus.PENDING, type="copy")
    tracker.add(job)
    window.show_job(job.id)
    qtbot.wait(1)
    details = window.details
    sizes = {(details.geometry(), details.tabs.geometry(), window.table.geometry())}
    for state in (
        replace(job, status=JobStatus.RUNNING, started_ts=tracker.now()),
        replace(job, status=JobStatus.RUNNING, progress=Progress(0, 0, "scanning " * 30)),
        replace(job, status=JobStatus.RUNNING, progress=Progress(5.82218, 60, "copying")),
        replace(
            job,
            status=JobStatus.FAILED,
            completed_ts=tracker.now(),
            error=JobError("exit status 3: " + "no space left " * 20, "Traceback\n  x"),
        ),
    ):
        signals.push_changed(state)
        qtbot.wait(1)
        sizes.add((details.geometry(), details.tabs.geometry(), window.table.geometry()))
    assert len(sizes) == 1


def test_a_long_title_queued_from_the_form_leaves_the_history_its_width(qtbot, window):
    """The form's "Queued <title>" line is cut short to fit: it widened the launcher to
    the whole title, squeezing the history until its titles read "L…" (QA sweep)."""
    window.select_job_type("command")
    form = window.launch_forms["command"]
    history_width = window.right_splitter.width()
    title = "Long title: build the whole release bundle for every platform and upload it all"
    form.title_edit.setText(title)
    form.fields["argv"].edit.setText("sleep 1")
    assert form.submit() is not None
    qtbot.wait(50)  # (layouts settle on posted events)
    assert window.right_splitter.width() == history_width
    assert window.table.columnWidth(Column.TITLE) >= 120
    assert form.status_label is not None
    assert title in form.status_label.toolTip()  # the whole of it, on hover
