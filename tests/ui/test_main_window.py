from jobdeck.core.job import JobStatus
from jobdeck.ui.main_window import MainWindow

from .fakes import fake_registry, make_job


def make_window(qtbot, tracker, signals, settings):
    registry = fake_registry()
    tracker.registry = registry
    window = MainWindow(tracker, signals, registry, settings)
    qtbot.addWidget(window)
    return window


def selected_id(window):
    rows = window.table.selectionModel().selectedRows()
    return window.model.job_at(rows[0].row()).id if rows else None


def test_lists_job_types_with_a_form_each(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    titles = [window.type_list.item(i).text() for i in range(window.type_list.count())]
    assert titles == ["Command", "Hash files"]
    window.type_list.setCurrentRow(1)
    assert window.forms.currentWidget() is window.launch_forms["hash"]


def test_show_job_selects_it_and_opens_details(qtbot, tracker, signals, settings):
    jobs = tracker.add(*[make_job(f"j{i}", JobStatus.COMPLETED) for i in range(450)])
    window = make_window(qtbot, tracker, signals, settings)
    target = jobs[10]  # old: beyond the first page
    assert window.show_job(target.id)
    assert selected_id(window) == target.id
    assert window.details.job.id == target.id


def test_show_job_clears_a_filter_that_hides_it(qtbot, tracker, signals, settings):
    _failed, ok = tracker.add(make_job("bad", JobStatus.FAILED), make_job("ok"))
    window = make_window(qtbot, tracker, signals, settings)
    window.status_filter.setCurrentIndex(window.status_filter.findData("failed"))
    window.model.fetchMore()
    assert window.model.row_of(ok.id) is None
    window.show_job(ok.id)
    assert window.status_filter.currentIndex() == 0
    assert selected_id(window) == ok.id


def test_selecting_a_row_shows_its_details(qtbot, tracker, signals, settings):
    a, _b = tracker.add(make_job("a"), make_job("b"))
    window = make_window(qtbot, tracker, signals, settings)
    window.model.fetchMore()
    window.table.selectRow(window.model.row_of(a.id))
    assert window.details.job.id == a.id


def test_launching_from_the_form_selects_the_new_job(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    form = window.select_job_type("command")
    form.fields["argv"].edit.setText("sleep 1")
    job_id = form.submit()
    assert job_id is not None
    signals.push_added(tracker.get_job(job_id))
    assert window.details.job.id == job_id
    assert selected_id(window) == job_id


def test_search_filter_requeries_the_history(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    window.search_edit.setText("photo")
    qtbot.waitUntil(lambda: window.model.filter.search == "photo", timeout=2000)
    window.model.fetchMore()
    assert [window.model.job_at(r).title for r in range(window.model.rowCount())] == [
        "backup photos"
    ]


def test_geometry_is_saved_on_close(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    window.show()
    window.close()
    assert "main_window/geometry" in settings.values
