from dataclasses import replace

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QTableView

from jobdeck.core.job import JobStatus, Progress
from jobdeck.ui.history_model import Column, HistoryModel, JobRole

from .fakes import make_job


def fill(tracker, n, **kw):
    return tracker.add(*[make_job(f"job {i}", **kw) for i in range(n)])


def make_model(tracker, signals=None, page_size=10):
    return HistoryModel(tracker, signals, page_size=page_size)


def load_all(model):
    while model.canFetchMore():
        model.fetchMore()


def test_passes_qtmodeltester(qtmodeltester, tracker, signals):
    fill(tracker, 25)
    tracker.add(make_job("failed", JobStatus.FAILED, error="boom"))
    model = make_model(tracker, signals)
    qtmodeltester.check(model)
    load_all(model)
    # live changes while the tester watches (a reset would make the tester itself call
    # fetchMore inside the reset notification, which it then flags; so no set_filter here)
    signals.push_added(make_job("new"))
    first = model.job_at(0)
    signals.push_changed(replace(first, status=JobStatus.COMPLETED))
    model.sort(Column.TITLE, Qt.SortOrder.AscendingOrder)
    signals.push_added(make_job("newer"))


def test_opens_without_querying_and_loads_pages_lazily(tracker):
    jobs = fill(tracker, 25)
    model = make_model(tracker, page_size=10)
    assert model.rowCount() == 0
    assert tracker.list_calls == [] and tracker.count_calls == 0
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 10
    newest_first = [j.id for j in reversed(jobs)]
    assert [model.job_at(r).id for r in range(10)] == newest_first[:10]
    model.fetchMore()
    assert tracker.list_calls[-1]["before"] == newest_first[9]
    model.fetchMore()
    assert model.rowCount() == 25
    assert not model.canFetchMore()
    assert [model.job_at(r).id for r in range(25)] == newest_first


def test_view_fetches_only_what_it_shows(qtbot, tracker):
    fill(tracker, 1000)
    model = make_model(tracker, page_size=200)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=1000)
    for _ in range(3):  # let pending fetch timers run before counting
        QApplication.processEvents()
    assert model.rowCount() <= 400
    assert tracker.count_calls == 0


def test_columns_and_roles(tracker):
    t = tracker.now()
    job = make_job("Build", current=1, total=4, message="step 1", started=t - 65)
    failed = make_job("Bad", JobStatus.FAILED, error="disk full")
    tracker.add(job, failed)
    model = make_model(tracker)
    model.fetchMore()
    row = model.row_of(job.id)
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


def test_filter_requeries(tracker):
    fill(tracker, 5)
    failed = tracker.add(*[make_job(f"bad {i}", JobStatus.FAILED, type="hash") for i in range(3)])
    model = make_model(tracker)
    model.set_filter(status=JobStatus.FAILED)
    load_all(model)
    assert {model.job_at(r).id for r in range(model.rowCount())} == {j.id for j in failed}
    assert tracker.list_calls[-1]["status"] == JobStatus.FAILED
    model.set_filter(type="hash", search="BAD 1")
    load_all(model)
    assert [model.job_at(r).title for r in range(model.rowCount())] == ["bad 1"]
    model.set_filter()
    load_all(model)
    assert model.rowCount() == 8


def test_live_update_changes_only_that_row_and_keeps_selection(qtbot, tracker, signals):
    jobs = fill(tracker, 5, current=0, total=10)
    model = make_model(tracker, signals)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    load_all(model)
    target = jobs[1]
    row = model.row_of(target.id)
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
    load_all(model)
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    new = make_job("fresh")
    signals.push_added(new)
    assert inserted == [(0, 0)]
    assert model.job_at(0).id == new.id
    model.set_filter(status=JobStatus.FAILED)
    load_all(model)
    signals.push_added(make_job("also fresh"))  # running: does not match the filter
    assert model.rowCount() == 0


def test_job_leaving_a_status_filter_is_removed_and_one_entering_is_added(tracker, signals):
    running = fill(tracker, 2)
    model = make_model(tracker, signals)
    model.set_filter(status=JobStatus.RUNNING)
    load_all(model)
    assert model.rowCount() == 2
    signals.push_changed(replace(running[0], status=JobStatus.FAILED))
    assert [model.job_at(r).id for r in range(model.rowCount())] == [running[1].id]
    model.set_filter(status=JobStatus.FAILED)
    load_all(model)
    signals.push_changed(replace(running[1], status=JobStatus.FAILED))
    assert [model.job_at(r).id for r in range(model.rowCount())] == [
        running[1].id,
        running[0].id,
    ]


def test_sort_by_created_both_ways_and_other_columns(tracker, signals):
    jobs = fill(tracker, 30)
    model = make_model(tracker, signals, page_size=10)
    model.fetchMore()
    model.sort(Column.STARTED, Qt.SortOrder.AscendingOrder)  # small history: loads all
    assert [model.job_at(r).id for r in range(model.rowCount())] == [j.id for j in jobs]
    model.sort(Column.STARTED, Qt.SortOrder.DescendingOrder)  # natural: lazy again
    assert model.rowCount() == 0
    model.fetchMore()
    assert model.job_at(0).id == jobs[-1].id
    model.sort(Column.TITLE, Qt.SortOrder.AscendingOrder)  # sorts the loaded rows
    titles = [model.job_at(r).title for r in range(model.rowCount())]
    assert titles == sorted(titles, key=str.casefold)
    model.fetchMore()  # new pages are merged into the order
    titles = [model.job_at(r).title for r in range(model.rowCount())]
    assert len(titles) == 20 and titles == sorted(titles, key=str.casefold)


def test_bad_filter_status_is_a_clear_error(tracker):
    model = make_model(tracker)
    with pytest.raises(ValueError, match="sleeping"):
        model.set_filter(status="sleeping")


def test_ensure_loaded_pages_until_the_job_is_found(tracker):
    jobs = fill(tracker, 50)
    model = make_model(tracker, page_size=10)
    row = model.ensure_loaded(jobs[3].id)
    assert row is not None and model.job_at(row).id == jobs[3].id
    assert model.rowCount() == 50


def test_the_started_tooltip_names_where_a_board_job_ran(tracker):
    worker = {"host": "node-7", "address": "tcp://10.0.0.7:40000", "pid": 42}
    tracker.add(
        make_job("local", JobStatus.COMPLETED),
        make_job("board", JobStatus.COMPLETED, metadata={"instance": "ana@desk"}),
        make_job("dask", JobStatus.COMPLETED, metadata={"instance": "bo@srv", "worker": worker}),
    )
    model = make_model(tracker)
    load_all(model)
    tips = {
        model.job_at(r).title: model.data(
            model.index(r, Column.STARTED), Qt.ItemDataRole.ToolTipRole
        )
        for r in range(model.rowCount())
    }
    assert tips["board"].endswith(" on ana@desk") and tips["dask"].endswith(" on node-7 via bo@srv")
    assert " on " not in tips["local"]
