"""The history says why it is empty: no job yet, or none that matches; never while the
store opens or a search is read."""

import functools
import threading

from jobdeck.core.job import JobStatus
from jobdeck.core.unopened import UnopenedStore

from .fakes import FakeSignals, FakeTracker, make_job
from .windows import make_main_window

make_window = functools.partial(make_main_window, show=True, size=(1280, 800))


def said(window):
    """The text shown over the history, or None when nothing is."""
    label = window.empty_history.label
    return label.text() if label is not None and label.isVisible() else None


def test_an_empty_store_says_how_to_start_a_job(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    text = said(window)
    assert text is not None and text.startswith("No jobs yet.")
    assert "jobdeck run -- COMMAND" in text
    label = window.empty_history.label
    viewport = window.table.viewport()
    assert label.parent() is viewport
    assert abs(label.geometry().center().x() - viewport.rect().center().x()) <= 1


def test_a_history_with_jobs_says_nothing(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"))
    window = make_window(qtbot, tracker, signals, settings)
    assert said(window) is None


def test_the_first_job_hides_the_text(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    assert said(window) is not None
    (job,) = tracker.add(make_job("backup photos"))
    signals.push_added(job)
    assert window.model.rowCount() == 1
    assert said(window) is None


def test_a_search_that_matches_nothing_says_so(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"))
    window = make_window(qtbot, tracker, signals, settings)
    window.search_edit.setText("zebra")
    qtbot.waitUntil(lambda: said(window) is not None, timeout=5000)
    assert said(window) == "No jobs match \u201czebra\u201d.\nClear the search to see all jobs."
    window.search_edit.clear()
    assert said(window) is None


def test_filters_that_match_nothing_say_so(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"))
    window = make_window(qtbot, tracker, signals, settings)
    window.status_filter.setCurrentIndex(window.status_filter.findData(JobStatus.FAILED.value))
    assert said(window) is not None and said(window).startswith("No jobs match these filters.")


def test_no_match_never_shows_while_a_search_is_read(qtbot, tracker, signals, settings):
    """The previous rows show until the search's come: no "no match" flashes meanwhile,
    even after a search that matched nothing."""
    tracker.add(make_job("backup photos"))
    window = make_window(qtbot, tracker, signals, settings)
    window.search_edit.setText("zebra")
    qtbot.waitUntil(lambda: said(window) is not None, timeout=5000)
    gate, held = threading.Event(), threading.Event()
    real_page = tracker.history_page

    def page(where, *args, **kw):
        if where.search == "backup":
            held.set()
            gate.wait(10)
        return real_page(where, *args, **kw)

    tracker.history_page = page
    try:
        window.search_edit.setText("backup")
        qtbot.waitUntil(held.is_set, timeout=5000)
        assert window.model.search_pending
        assert said(window) is None
        with qtbot.waitSignal(window.model.filterApplied, timeout=5000):
            gate.set()
    finally:
        gate.set()
    assert window.model.rowCount() == 1
    assert said(window) is None


def test_nothing_shows_while_the_store_opens(qtbot, tracker, settings):
    unopened = UnopenedStore()
    window = make_window(qtbot, unopened, FakeSignals(FakeTracker()), settings)
    assert window.statusBar().currentMessage() == "Opening history\u2026"
    assert said(window) is None
    signals = FakeSignals(tracker)
    window.attach(tracker, signals)
    assert said(window) is not None and said(window).startswith("No jobs yet.")


def test_a_store_opened_with_jobs_says_nothing(qtbot, tracker, settings):
    tracker.add(make_job("backup photos"))
    unopened = UnopenedStore()
    window = make_window(qtbot, unopened, FakeSignals(FakeTracker()), settings)
    window.attach(tracker, FakeSignals(tracker))
    assert said(window) is None
    assert window.model.rowCount() == 1
