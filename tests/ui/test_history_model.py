import threading
from dataclasses import replace
from datetime import datetime

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QTableView

from jobdeck.core.history_order import sort_key
from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.history_model import FAILED_COLOR, SORT_OF_COLUMN, Column, HistoryModel, JobRole

from .fakes import make_job


def fill(tracker, n, **kw):
    return tracker.add(*[make_job(f"job {i}", **kw) for i in range(n)])


def make_model(tracker, signals=None, page_size=10, window_rows=40):
    return HistoryModel(tracker, signals, page_size=page_size, window_rows=window_rows)


def shown_ids(model):
    return [model.job_at(r).id for r in range(model.rowCount())]


def test_passes_qtmodeltester(qtmodeltester, tracker, signals):
    fill(tracker, 95)
    tracker.add(make_job("failed", JobStatus.FAILED, error="boom"))
    model = make_model(tracker, signals)
    qtmodeltester.check(model)
    # live changes while the tester watches: new rows, a change, a sort, a filter
    signals.push_added(make_job("new"))
    first = model.job_at(0)
    signals.push_changed(replace(first, status=JobStatus.COMPLETED))
    model.sort(Column.TITLE, Qt.SortOrder.AscendingOrder)
    model.job_at(90)
    signals.push_added(make_job("newer"))
    model.set_filter(status=JobStatus.RUNNING)
    signals.push_changed(replace(model.job_at(0), status=JobStatus.FAILED))


def test_counts_then_holds_only_a_window_around_what_is_read(tracker):
    jobs = fill(tracker, 95)
    newest_first = [j.id for j in reversed(jobs)]
    model = make_model(tracker, page_size=10, window_rows=20)
    assert tracker.page_calls == [] and model.loaded_count() == 0
    assert model.rowCount() == 95  # counted, nothing read
    for row in range(95):  # scroll down row by row, as a view does
        assert model.job_at(row).id == newest_first[row]
        assert model.loaded_count() <= 20
    for row in reversed(range(95)):  # and back up, across every page boundary
        assert model.job_at(row).id == newest_first[row]
        assert model.loaded_count() <= 20
    assert not model.canFetchMore(model.index(-1, -1))


def test_jumping_to_the_end_reads_one_page_from_the_other_end(tracker):
    jobs = fill(tracker, 500)
    model = make_model(tracker, page_size=10, window_rows=40)
    assert model.job_at(0).id == jobs[-1].id
    calls = len(tracker.page_calls)
    assert model.job_at(499).id == jobs[0].id
    assert len(tracker.page_calls) == calls + 1
    assert tracker.page_calls[-1]["offset"] == 0  # from the oldest end: no walk
    assert model.job_at(250).id == jobs[249].id  # the middle: a fresh window there
    assert model.job_at(241).id == jobs[258].id
    assert model.loaded_count() <= 40


def test_columns_and_roles(tracker):
    t = tracker.now()
    job = make_job("Build", current=1, total=4, message="step 1", started=t - 65)
    failed = make_job("Bad", JobStatus.FAILED, error="disk full")
    tracker.add(job, failed)
    model = make_model(tracker)
    assert model.rowCount() == 2
    row = model.locate(job)
    cell = lambda c: model.index(row, c).data()  # noqa: E731
    assert cell(Column.STATUS) == "Running"
    assert cell(Column.TITLE) == "Build"
    assert cell(Column.TYPE) == "command"
    assert cell(Column.PROGRESS) == "25%"
    assert cell(Column.DURATION) == "1m 05s"
    assert cell(Column.MESSAGE) == "step 1"
    assert model.index(row, 0).data(JobRole) == job
    assert not model.index(row, Column.STATUS).data(Qt.ItemDataRole.DecorationRole).isNull()
    frow = model.row_of(failed.id)
    assert model.index(frow, Column.MESSAGE).data() == "disk full"
    assert model.index(frow, Column.PROGRESS).data() == "\u2014"
    assert model.index(5, 0).data() is None  # no such row


def test_a_job_queued_to_start_later_says_when_in_the_message_column(tracker):
    import time

    later = make_job("nightly", JobStatus.PENDING, run_at_ts=time.time() + 3600)
    waiting = make_job("next", JobStatus.PENDING)
    tracker.add(later, waiting)
    model = make_model(tracker)
    assert model.index(model.locate(later), Column.MESSAGE).data().startswith("Starts at ")
    assert not model.index(model.locate(waiting), Column.MESSAGE).data()


def test_filter_counts_and_reads_again(qtbot, tracker):
    fill(tracker, 5)
    failed = tracker.add(*[make_job(f"bad {i}", JobStatus.FAILED, type="hash") for i in range(3)])
    model = make_model(tracker)
    model.set_filter(status=JobStatus.FAILED)
    assert set(shown_ids(model)) == {j.id for j in failed}
    assert tracker.page_calls[-1]["where"].statuses == (JobStatus.FAILED,)
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(type="hash", search="BAD 1")  # read off the GUI thread
        assert model.search_pending and model.rowCount() == 3  # the old rows meanwhile
    assert not model.search_pending
    assert [model.job_at(r).title for r in range(model.rowCount())] == ["bad 1"]
    model.set_filter()
    assert model.rowCount() == 8


def test_a_search_without_results_then_another_search_shows_the_rows(qtbot, tracker):
    """The old lazy model showed an empty history after a search that found nothing
    followed by one that did: the view never asked it for rows again."""
    fill(tracker, 30)
    tracker.add(make_job("nightly backup"))
    model = make_model(tracker)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    model.set_filter(search="no such job anywhere")
    qtbot.waitUntil(lambda: model.rowCount() == 0)
    model.set_filter(search="backup")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    assert view.indexAt(view.viewport().rect().topLeft()).data() == "Running"
    assert model.index(0, Column.TITLE).data() == "nightly backup"
    model.set_filter(search="job 1")
    qtbot.waitUntil(lambda: model.rowCount() > 1)
    assert view.rowAt(0) == 0


def test_live_update_changes_only_that_row_and_keeps_selection(qtbot, tracker, signals):
    jobs = fill(tracker, 5, current=0, total=10)
    model = make_model(tracker, signals)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    target = jobs[1]
    row = model.locate(target)
    view.selectionModel().select(
        model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append((tl.row(), br.row())))
    signals.push_changed(replace(target, progress=Progress(5, 10, "half")))
    assert changed == [(row, row)]
    assert resets == []
    assert model.index(row, Column.PROGRESS).data() == "50%"
    assert [i.row() for i in view.selectionModel().selectedRows()] == [row]


def test_new_matching_jobs_are_inserted_at_the_top(qtbot, tracker, signals):
    fill(tracker, 3)
    model = make_model(tracker, signals)
    assert model.rowCount() == 3
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    new = make_job("fresh")
    tracker.add(new)
    signals.push_added(new)
    assert inserted == [(0, 0)]
    assert model.job_at(0).id == new.id
    assert model.rowCount() == 4
    model.set_filter(status=JobStatus.FAILED)
    assert model.rowCount() == 0
    signals.push_added(make_job("also fresh"))  # running: does not match the filter
    assert model.rowCount() == 0


def test_a_new_job_while_scrolled_deep_goes_to_the_top_without_a_reload(tracker, signals):
    jobs = fill(tracker, 300)
    model = make_model(tracker, signals, page_size=10, window_rows=40)
    assert model.job_at(200).id == jobs[99].id  # the window is deep down
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    new = tracker.add(make_job("fresh"))[0]
    signals.push_added(new)
    assert resets == [] and model.rowCount() == 301
    assert model.job_at(201).id == jobs[99].id  # the held rows moved down by one
    assert model.job_at(0).id == new.id
    assert model.job_at(1).id == jobs[-1].id


def test_job_leaving_a_status_filter_is_removed_and_one_entering_is_added(tracker, signals):
    running = fill(tracker, 2)
    model = make_model(tracker, signals)
    model.set_filter(status=JobStatus.RUNNING)
    assert model.rowCount() == 2
    done = tracker.add(replace(running[0], status=JobStatus.FAILED))[0]
    signals.push_changed(done)
    assert shown_ids(model) == [running[1].id]
    model.set_filter(status=JobStatus.FAILED)
    assert shown_ids(model) == [running[0].id]
    signals.push_changed(tracker.add(replace(running[1], status=JobStatus.FAILED))[0])
    assert shown_ids(model) == [running[1].id, running[0].id]


def test_an_active_job_outside_the_window_leaving_the_filter_is_uncounted(tracker, signals):
    old = make_job("old and running")
    tracker.add(old)
    jobs = fill(tracker, 100, status=JobStatus.COMPLETED)
    model = make_model(tracker, signals, page_size=10, window_rows=20)
    model.set_filter(status=[JobStatus.RUNNING, JobStatus.COMPLETED])
    assert model.rowCount() == 101
    assert model.job_at(5).id == jobs[-6].id  # the window is at the top
    assert model.row_of(old.id) is None
    removed = []
    model.rowsRemoved.connect(lambda parent, first, last: removed.append(first))
    signals.push_changed(replace(old, status=JobStatus.FAILED))
    assert model.rowCount() == 100 and len(removed) == 1
    assert model.job_at(5).id == jobs[-6].id  # the rows shown did not move
    assert model.job_at(99).id == jobs[0].id
    model.refresh()
    assert model.rowCount() == 100


@pytest.mark.parametrize("column", list(Column))
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_every_column_sorts_both_ways_across_pages(tracker, column, order):
    titles = ["beta", "Alpha", "alpha", "Éclair", "zeta", "Beta"]
    for i in range(60):
        status = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.RUNNING)[i % 3]
        tracker.add(
            make_job(
                titles[i % len(titles)],
                status,
                current=i % 7,
                total=(i % 4) * 3,
                message=f"msg {i % 5}",
                type=("copy", "command")[i % 2],
                error="Err" if status is JobStatus.FAILED else None,
            )
        )
    model = make_model(tracker, page_size=7, window_rows=14)
    model.sort(column, order)
    sort = SORT_OF_COLUMN[column]
    expected = sorted(
        tracker.jobs.values(),
        key=lambda j: sort_key(sort, j),
        reverse=order == Qt.SortOrder.DescendingOrder,
    )
    assert shown_ids(model) == [j.id for j in expected]
    assert [model.job_at(r).id for r in reversed(range(60))] == [j.id for j in reversed(expected)]


def test_bad_filter_status_is_a_clear_error(tracker):
    model = make_model(tracker)
    with pytest.raises(ValueError, match="sleeping"):
        model.set_filter(status="sleeping")


def test_locate_finds_a_deep_job_and_loads_around_it(tracker):
    jobs = fill(tracker, 500)
    model = make_model(tracker, page_size=10, window_rows=40)
    row = model.locate(jobs[3])
    assert row == 496 and model.job_at(row).id == jobs[3].id
    assert model.loaded_count() <= 40
    model.set_filter(status=JobStatus.FAILED)
    assert model.locate(jobs[3]) is None


def test_the_duration_clock_ticks_only_with_running_rows_and_while_shown(qtbot, tracker):
    done = tracker.add(make_job("done", JobStatus.COMPLETED))[0]
    model = make_model(tracker)
    model.job_at(0)
    assert not model.live_clock_running  # nothing running in the window
    running = tracker.add(make_job("running"))[0]
    model.include(running)
    assert model.live_clock_running
    ticks = []
    model.dataChanged.connect(lambda tl, br, roles=(): ticks.append((tl.row(), tl.column())))
    qtbot.waitUntil(lambda: (model.row_of(running.id), Column.DURATION) in ticks, timeout=3000)
    model.set_ticking(False)  # the window is hidden
    assert not model.live_clock_running
    model.set_ticking(True)
    assert model.live_clock_running
    assert model.row_of(done.id) == 1


def test_a_newer_filter_supersedes_a_search_still_running(qtbot, tracker):
    fill(tracker, 20)
    tracker.add(make_job("needle"))
    model = make_model(tracker)
    assert model.rowCount() == 21
    applied = []
    model.filterApplied.connect(lambda: applied.append(model.filter))
    model.set_filter(search="needle")
    model.set_filter(search="job 1")  # typed on before the first search came back
    qtbot.waitUntil(lambda: not model.search_pending)
    qtbot.wait(50)  # the superseded result, if it came, would land now
    assert [f.search for f in applied] == ["job 1"]
    assert all(model.job_at(r).title.startswith("job 1") for r in range(model.rowCount()))
    model.set_filter(search="needle")
    model.set_filter(status=JobStatus.FAILED)  # a plain filter applies at once
    assert model.rowCount() == 0 and not model.search_pending
    qtbot.wait(50)
    assert model.filter.statuses == (JobStatus.FAILED,) and model.rowCount() == 0


def test_a_common_search_shows_its_first_rows_before_it_is_counted(qtbot, tracker):
    """Counting every match of a common text takes a while at a million jobs: the first
    rows show at once, the rows after them once counted (and they are there to scroll)."""
    fill(tracker, 95)
    gate = threading.Event()
    counting = threading.Event()
    real_count = tracker.count_jobs

    def slow_count(**kw):
        if kw.get("search"):
            counting.set()
            gate.wait(30)
        return real_count(**kw)

    tracker.count_jobs = slow_count
    model = make_model(tracker)
    try:
        with qtbot.waitSignal(model.filterApplied):
            model.set_filter(search="job")
        assert model.rowCount() == 20 and model.search_counting  # two pages of 10
        assert model.job_at(0).title == "job 94"
        qtbot.waitUntil(counting.is_set, timeout=30_000)  # (it starts from the event loop)
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not model.search_counting)
    assert model.rowCount() == 95
    assert model.job_at(94).title == "job 0"  # read when scrolled to
    # a search that fits in its first rows needs no count at all
    calls = tracker.count_calls
    with qtbot.waitSignal(model.filterApplied):
        model.set_filter(search="job 9")
    assert model.rowCount() == 6 and not model.search_counting
    assert tracker.count_calls == calls


def test_the_started_tooltip_names_where_a_board_job_ran(tracker):
    worker = {"host": "node-7", "address": "tcp://10.0.0.7:40000", "pid": 42}
    tracker.add(
        make_job("local", JobStatus.COMPLETED),
        make_job("board", JobStatus.COMPLETED, metadata={"instance": "ana@desk"}),
        make_job("dask", JobStatus.COMPLETED, metadata={"instance": "bo@srv", "worker": worker}),
    )
    model = make_model(tracker)
    tips = {
        model.job_at(r).title: model.data(
            model.index(r, Column.STARTED), Qt.ItemDataRole.ToolTipRole
        )
        for r in range(model.rowCount())
    }
    assert tips["board"].endswith(" on ana@desk") and tips["dask"].endswith(" on node-7 via bo@srv")
    assert " on " not in tips["local"]


def test_a_finished_jobs_cells_follow_the_day_and_a_new_snapshot(tracker, signals):
    """The texts of a finished job are kept between paints: the Started cell still says
    the date once the day has changed, and a new snapshot of the job shows at once."""
    midday = datetime(2026, 3, 14, 12, 0).timestamp()
    tracker.clock = midday
    job = tracker.add(
        make_job("done", JobStatus.COMPLETED, created=midday - 600, started=midday - 590)
    )[0]
    model = make_model(tracker, signals)
    started = model.index(0, Column.STARTED)
    assert model.data(started) == "11:50:10"
    assert model.data(model.index(0, Column.DURATION)) == "5s"
    tracker.clock = midday + 24 * 3600  # the next day: the date shows as well
    assert model.data(started) == "14 Mar 11:50"
    signals.push_changed(replace(job, title="renamed", completed_ts=job.started_ts + 65))
    assert model.data(model.index(0, Column.TITLE)) == "renamed"
    assert model.data(model.index(0, Column.DURATION)) == "1m 05s"
    tracker.clock = midday  # and back (a clock set back): the time alone again
    assert model.data(started) == "11:50:10"


def test_cells_answer_only_the_roles_they_have(tracker):
    tracker.add(make_job("failed", JobStatus.FAILED, error="boom\nmore"))
    model = make_model(tracker)
    status, message = model.index(0, Column.STATUS), model.index(0, Column.MESSAGE)
    assert model.data(message) == "boom"
    assert model.data(message, Qt.ItemDataRole.ForegroundRole) == FAILED_COLOR
    assert model.data(status, Qt.ItemDataRole.ForegroundRole) is None
    assert not model.data(status, Qt.ItemDataRole.DecorationRole).isNull()
    assert model.data(model.index(0, Column.TITLE), Qt.ItemDataRole.DecorationRole) is None
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.data(model.index(0, Column.DURATION), Qt.ItemDataRole.TextAlignmentRole) == right
    assert model.data(status, Qt.ItemDataRole.TextAlignmentRole) is None
    roles = Qt.ItemDataRole
    for role in (roles.FontRole, roles.BackgroundRole, roles.EditRole):
        assert model.data(status, role) is None
    assert model.data(model.index(5, 0)) is None and model.data(model.index(-1, -1)) is None
