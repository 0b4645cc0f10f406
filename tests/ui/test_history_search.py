"""The history's text search never reads or counts on the GUI thread (a common word's
count takes a while at a million jobs), shows a screenful first, and the rest as the view
scrolls to it."""

import os
import sys
import threading
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from jobdeck.core.job import JobStatus
from jobdeck.core.read_stop import ReadStop, ReadStopped
from jobdeck.ui.history_model import (
    SEARCH_EXTRA_ROWS,
    SEARCH_FIRST_ROWS,
    Column,
    HistoryModel,
)
from jobdeck.ui.rows_shown import RowsShown

from .fakes import make_job


def fill(tracker, n, word="job"):
    return tracker.add(*[make_job(f"{word} {i}", JobStatus.COMPLETED) for i in range(n)])


def counts_on_the_gui_thread(tracker):
    """Record, for each count of a search, whether it ran on the GUI thread."""
    gui = threading.get_ident()
    seen = []
    real_count = tracker.count_jobs

    def count_jobs(**kw):
        if kw.get("search"):
            seen.append(threading.get_ident() == gui)
        return real_count(**kw)

    tracker.count_jobs = count_jobs
    return seen


def drop(tracker, *titles):
    """Delete jobs from the store behind the model's back (no feed: e.g. pruned)."""
    for job in [j for j in tracker.jobs.values() if j.title in titles]:
        del tracker.jobs[job.id]


def test_a_search_shows_a_screenful_first_then_the_rest_once_counted(qtbot, tracker):
    fill(tracker, SEARCH_FIRST_ROWS + 50)
    model = HistoryModel(tracker)  # the app's page size
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="JOB")
    assert 0 < model.loaded_count() <= SEARCH_FIRST_ROWS
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == SEARCH_FIRST_ROWS + 50
    assert model.job_at(SEARCH_FIRST_ROWS + 49).title == "job 0"  # read when scrolled to


def test_the_gui_thread_never_counts_a_search(qtbot, tracker, signals):
    """A search is counted again when the store holds fewer rows than counted (changes
    the feed has not brought yet), read again after the store was pruned, and read again
    when sorted before its rows came: each count of a search is off the GUI thread."""
    fill(tracker, 95)
    model = HistoryModel(tracker, signals, page_size=10, window_rows=40)
    seen = counts_on_the_gui_thread(tracker)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 95 and model.loaded_count() == 20
    # all but the newest five go behind the model's back: reading the last rows finds
    # fewer than counted, so the model counts again (off the GUI thread) and reads again
    drop(tracker, *[f"job {i}" for i in range(90)])
    model.index(94, Column.TITLE).data()  # the view scrolls to the end
    qtbot.waitUntil(lambda: model.rowCount() == 5 and not model.search_pending)
    qtbot.waitUntil(lambda: not model.search_counting)
    assert [model.job_at(r).title for r in range(5)] == [f"job {i}" for i in range(94, 89, -1)]
    # pruned: the search reads again, its rows showing meanwhile
    drop(tracker, "job 90")
    with qtbot.waitSignal(model.filterApplied):
        model.refresh()
        assert model.search_pending and model.rowCount() == 5
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 4 and model.job_at(3).title == "job 91"
    # sorted before the rows came: read again in the new order
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job 9")
        model.sort(Column.TITLE, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not model.search_counting)
    titles = [model.job_at(r).title for r in range(model.rowCount())]
    assert titles == ["job 91", "job 92", "job 93", "job 94"]
    assert seen and not any(seen)


def test_a_search_is_counted_once_its_first_rows_show_below_the_gui_threads_priority(
    qtbot, tracker
):
    """The count of a common text takes a while at a million jobs: it starts once the first
    rows are shown (it would share a busy machine's cores with their paint), and on Linux
    at a lower CPU priority than the GUI thread's."""
    fill(tracker, 95)
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    real_count = tracker.count_jobs
    at_count: dict[str, int] = {}

    def count_jobs(**kw):
        if kw.get("search"):
            at_count["rows_shown"] = not model.search_pending and model.loaded_count() == 20
            if sys.platform == "linux":
                at_count["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return real_count(**kw)

    tracker.count_jobs = count_jobs
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 95 and at_count["rows_shown"]
    if sys.platform == "linux":
        assert at_count["nice"] > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class CountingView(QTableView):
    """A table that counts the paints it has finished."""

    painted = 0

    def paintEvent(self, event):
        super().paintEvent(event)
        self.painted += 1


def test_a_search_shown_in_a_view_is_counted_after_its_first_rows_are_painted(qtbot, tracker):
    """A common text's count keeps a core busy for a while: on a machine of two it slowed
    the paint of the first rows by half. With a view showing them, it starts once they are
    painted (the first paint after they came has ended)."""
    fill(tracker, 95)
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    view = CountingView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 400)
    view.show()
    qtbot.waitUntil(lambda: view.painted > 0)
    real_count = tracker.count_jobs
    at_count: dict[str, int] = {}
    applied: dict[str, int] = {}

    def count_jobs(**kw):
        if kw.get("search"):
            at_count["painted"] = view.painted
        return real_count(**kw)

    tracker.count_jobs = count_jobs
    model.filterApplied.connect(lambda: applied.setdefault("painted", view.painted))
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 95
    assert at_count["painted"] > applied["painted"]  # a paint of the rows had ended


def _table_of_200_jobs(qtbot, tracker) -> tuple[HistoryModel, QTableView, RowsShown]:
    """200 jobs in a history table of 20 px rows (not shown yet), with its RowsShown."""
    fill(tracker, 200)
    model = HistoryModel(tracker)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(20)
    return model, view, RowsShown(view, model)


def test_a_search_reads_first_the_rows_its_view_shows(qtbot, tracker):
    """Each row read is waited for: a search in a table that shows a few rows reads those
    and a few more first (the table tells the model on each resize), a taller one more
    (at most a tall screenful); the rest comes once counted, either way."""
    model, view, rows_shown = _table_of_200_jobs(qtbot, tracker)
    view.resize(600, 300)
    with qtbot.waitSignal(model.filterApplied):  # not shown yet: a tall screenful
        model.set_filter(search="job")
    assert model.loaded_count() == SEARCH_FIRST_ROWS
    view.show()
    qtbot.waitUntil(lambda: rows_shown.rows() == -(-view.viewport().height() // 20))
    shown = rows_shown.rows()
    assert 5 < shown < 20
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job 1")
    assert model.loaded_count() == shown + SEARCH_EXTRA_ROWS
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 111  # job 1, job 10-19, job 100-199
    view.resize(600, 3000)  # taller than a tall screenful
    qtbot.waitUntil(lambda: rows_shown.rows() > SEARCH_FIRST_ROWS)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    assert model.loaded_count() == SEARCH_FIRST_ROWS
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 200


def test_a_refresh_while_a_search_is_read_keeps_the_search_typed(qtbot, tracker):
    """The history refreshes (e.g. after a clean-up) while the text just typed is being
    read: that text is read again and shown, not the filter from before it."""
    fill(tracker, 5, word="alpha")
    fill(tracker, 3, word="beta")
    model = HistoryModel(tracker)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="alpha")
    model.set_filter(search="beta")
    assert model.search_pending
    model.refresh()
    qtbot.waitUntil(lambda: not model.search_pending and model.filter.search == "beta")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 3 and model.job_at(0).title.startswith("beta")


def test_a_count_under_way_stops_when_the_user_types_on(qtbot, tracker):
    """The count of a common text takes a while at a million jobs: typing on stops it (its
    SQLite statement is interrupted: see tests/core/test_read_stop.py), and the new text is
    counted."""
    fill(tracker, 95)
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    real_count = tracker.count_jobs
    held: list[ReadStop] = []
    stopped: list[str] = []

    def count_jobs(*, stop=None, **kw):
        if kw.get("search") == "job":  # a long count: it goes on until stopped
            held.append(stop)
            deadline = time.monotonic() + 30
            while not stop.stopped and time.monotonic() < deadline:
                time.sleep(0.005)
            if stop.stopped:
                stopped.append(kw["search"])
                raise ReadStopped("the read was stopped")
        return real_count(stop=stop, **kw)

    tracker.count_jobs = count_jobs
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: bool(held))  # "job" is being counted...
    assert model.search_counting
    model.set_filter(search="job 9")  # ...and the user types on
    qtbot.waitUntil(lambda: stopped == ["job"])
    qtbot.waitUntil(lambda: model.filter.search == "job 9" and not model.search_counting)
    assert model.rowCount() == 6  # job 9, job 90 ... job 94


def test_a_search_whose_count_changed_is_read_again_and_counted_once(qtbot, tracker):
    """The store holds fewer matches than counted (pruned behind the model's back): the
    search is counted again, and, the count having changed, read again with that count
    (a common text is not counted twice)."""
    fill(tracker, 95)
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 95
    counts = counts_on_the_gui_thread(tracker)  # the counts of the search from now on
    drop(tracker, *[f"job {i}" for i in range(65)])  # 30 left, past the first 20 read
    model.index(30, Column.TITLE).data()  # the view scrolls down: fewer rows there
    qtbot.waitUntil(lambda: model.rowCount() == 30)
    qtbot.waitUntil(lambda: not model.search_pending and not model.search_counting)
    assert model.loaded_count() == 20 and model.job_at(29).title == "job 65"
    assert len(counts) == 1


def test_a_search_read_under_way_stops_when_the_user_types_on(qtbot, tracker):
    """A text of one or two letters that few jobs contain is scanned for (seconds at a
    million jobs, on one of the few reading threads): typing on stops that read (its
    SQLite statement is interrupted: see tests/core/test_read_stop.py), and the new text
    is read."""
    fill(tracker, 95)
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    real_page = tracker.history_page
    held: list[ReadStop] = []
    stopped: list[str] = []

    def history_page(where, *args, stop=None, **kw):
        if where.search == "zq":  # a long scan: it goes on until stopped
            held.append(stop)
            deadline = time.monotonic() + 30
            while stop is not None and not stop.stopped and time.monotonic() < deadline:
                time.sleep(0.005)
            if stop is not None and stop.stopped:
                stopped.append(where.search)
                raise ReadStopped("the read was stopped")
        return real_page(where, *args, stop=stop, **kw)

    tracker.history_page = history_page
    model.set_filter(search="zq")
    qtbot.waitUntil(lambda: bool(held))  # "zq" is being read...
    assert model.search_pending
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job 9")  # ...and the user types on
    qtbot.waitUntil(lambda: stopped == ["zq"])
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.filter.search == "job 9" and model.rowCount() == 6


def test_a_searchs_rows_replace_the_shown_ones_without_a_reset(qtbot, tracker):
    """A search's first rows take the place of the rows shown without resetting the model
    (a view lays out and paints them sooner, keeping its headers' layout), and the
    selected row goes with them, as a reset would have it: no row keeps another job's
    highlight."""
    fill(tracker, 30, word="alpha")
    fill(tracker, 3, word="beta")
    model = HistoryModel(tracker, page_size=10, window_rows=40)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 400)
    view.show()
    view.selectRow(1)
    resets: list[bool] = []
    model.modelAboutToBeReset.connect(lambda: resets.append(True))
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="beta")
    assert not resets
    assert [model.job_at(r).title for r in range(model.rowCount())] == [
        "beta 2",
        "beta 1",
        "beta 0",
    ]
    assert not view.selectionModel().hasSelection()
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="alpha 1")  # more rows than before: "alpha 1", "alpha 10"-"19"
    qtbot.waitUntil(lambda: not model.search_counting)
    assert not resets and model.rowCount() == 11
    assert model.job_at(0).title == "alpha 19" and model.job_at(10).title == "alpha 1"


def test_a_search_reads_the_rows_shown_once_a_horizontal_scroll_bar_took_a_row(qtbot, tracker):
    """A column made wider than the table brings a horizontal scroll bar, which takes the
    bottom row's place, without the table being resized: the model hears it shows one row
    fewer (it read one row more than shown and the extra ones)."""
    model, view, rows_shown = _table_of_200_jobs(qtbot, tracker)
    view.resize(1000, 300)  # no horizontal scroll bar: 7 columns of 100 px
    view.show()
    qtbot.waitExposed(view)
    # a viewport 5 px taller than whole rows: the last one partly shown, until a scroll bar
    # (taller than 5 px) takes those 5 px and the rest of that row
    height = view.maximumViewportSize().height()
    whole = height // 20
    view.resize(1000, 300 + whole * 20 + 5 - height)
    qtbot.waitUntil(lambda: view.maximumViewportSize().height() == whole * 20 + 5)
    assert not view.horizontalScrollBar().isVisible() and rows_shown.rows() == whole + 1
    view.setColumnWidth(Column.TITLE, 2000)
    bar = view.horizontalScrollBar()
    qtbot.waitUntil(bar.isVisible)
    assert view.viewport().height() == whole * 20 + 5 - bar.height()
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job 1")
    assert model.loaded_count() == whole + SEARCH_EXTRA_ROWS


def test_a_search_never_waits_on_the_gui_thread_for_a_thread_to_start(qtbot, tracker, monkeypatch):
    """The first searches of a session start the threads that read and count them: the
    GUI thread never waits for one to run (Thread.start does: 50-200 ms on a busy
    machine, a freeze while typing)."""
    from jobdeck.core.kept_threads import BACKGROUND_NICE, KeptThreads
    from jobdeck.ui import history_model

    monkeypatch.setattr(history_model, "_SEARCH_READS", KeptThreads("test-reads", most=3))
    counts = KeptThreads("test-counts", most=2, nice=BACKGROUND_NICE)
    monkeypatch.setattr(history_model, "_SEARCH_COUNTS", counts)
    starters: list[int] = []
    start = threading.Thread.start

    def noted_start(thread: threading.Thread) -> None:
        starters.append(threading.get_ident())
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", noted_start)
    fill(tracker, SEARCH_FIRST_ROWS + 10)
    model = HistoryModel(tracker)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job")
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == SEARCH_FIRST_ROWS + 10
    assert len(starters) >= 2 and threading.get_ident() not in starters  # a read, a count
