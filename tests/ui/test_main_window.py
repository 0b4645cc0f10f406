import threading

from PySide6.QtCore import QEvent, QObject, Qt

from jobdeck.core.job import JobStatus

from .fakes import make_job
from .windows import make_main_window

make_window = make_main_window


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
    window.model.job_at(0)  # reads the first rows
    assert window.model.row_of(ok.id) is None
    window.show_job(ok.id)
    assert window.status_filter.currentIndex() == 0
    assert selected_id(window) == ok.id


def test_selecting_a_row_shows_its_details(qtbot, tracker, signals, settings):
    a, _b = tracker.add(make_job("a"), make_job("b"))
    window = make_window(qtbot, tracker, signals, settings)
    window.model.job_at(0)  # reads the first rows
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
    window.model.job_at(0)  # reads the first rows
    assert [window.model.job_at(r).title for r in range(window.model.rowCount())] == [
        "backup photos"
    ]


class Paints(QObject):
    """Counts the paint events of the widget it watches."""

    count = 0

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_search_paints_its_rows_once(qtbot, tracker, signals, settings):
    """Each paint of the history costs the GUI thread a while at a million jobs: a search's
    rows are painted once when they come (the table's layout for them is done before that
    paint, not in it, which asked for a second one), and the history once more when the
    rows after them are counted."""
    tracker.add(*[make_job(f"backup {i}") for i in range(300)])
    window = make_window(qtbot, tracker, signals, settings)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    gate = threading.Event()
    real_count = tracker.count_jobs

    def held_count(**kw):
        if kw.get("search"):
            gate.wait(10)
        return real_count(**kw)

    tracker.count_jobs = held_count
    paints = Paints()
    window.table.viewport().installEventFilter(paints)
    qtbot.wait(200)
    try:
        window.search_edit.setText("backup 2")
        with qtbot.waitSignal(window.model.filterApplied, timeout=5000):
            window.apply_filter()
        painted = paints.count
        qtbot.waitUntil(lambda: paints.count > painted)
        qtbot.wait(300)  # (what else it would paint meanwhile)
        assert paints.count == painted + 1
        assert window.model.search_counting
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not window.model.search_counting)
    qtbot.waitUntil(lambda: paints.count == painted + 2)
    assert window.model.rowCount() == 111


def test_geometry_is_saved_on_close(qtbot, tracker, signals, settings):
    window = make_window(qtbot, tracker, signals, settings)
    window.show()
    window.close()
    assert "main_window/geometry" in settings.values


def test_after_start_the_new_job_is_selected_and_shown_at_once(qtbot, tracker, signals, settings):
    """The batched jobsAdded comes a moment after Start: the new row is selected anyway,
    and the previously selected row does not stay highlighted."""
    old = tracker.add(make_job("old", JobStatus.COMPLETED))[0]
    window = make_window(qtbot, tracker, signals, settings)
    window.show()
    window.show_job(old.id)
    assert selected_id(window) == old.id
    form = window.select_job_type("command")
    form.fields["argv"].edit.setText("sleep 1")
    qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)
    new_id = next(iter(reversed(tracker.jobs)))
    assert selected_id(window) == new_id and window.details.job.id == new_id
    signals.push_added(tracker.get_job(new_id))  # the batch arrives later: no duplicate row
    ids = [window.model.job_at(r).id for r in range(window.model.rowCount())]
    assert ids.count(new_id) == 1
    assert selected_id(window) == new_id and window.details.job.id == new_id


def test_run_again_selects_and_shows_the_new_job(qtbot, tracker, signals, settings):
    done = tracker.add(
        make_job("build", JobStatus.FAILED, error="exit 2", params={"argv": ["make"]})
    )[0]
    window = make_window(qtbot, tracker, signals, settings)
    window.show()
    window.show_job(done.id)
    qtbot.mouseClick(window.details.run_again_button, Qt.MouseButton.LeftButton)
    new_id = next(iter(reversed(tracker.jobs)))
    assert new_id != done.id
    assert selected_id(window) == new_id and window.details.job.id == new_id


def test_clicking_a_row_always_shows_it(qtbot, tracker, signals, settings):
    a, b = tracker.add(make_job("a", JobStatus.COMPLETED), make_job("b", JobStatus.COMPLETED))
    window = make_window(qtbot, tracker, signals, settings)
    window.show()
    qtbot.waitExposed(window)
    window.model.job_at(0)  # reads the first rows
    window.table.selectRow(window.model.row_of(a.id))
    window.details.set_job(b.id)  # e.g. a taskbar click showed another job
    rect = window.table.visualRect(window.model.index(window.model.row_of(a.id), 1))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.details.job.id == a.id and selected_id(window) == a.id


def test_show_active_jobs_filters_to_pending_and_running(qtbot, tracker, signals, settings):
    running, pending, _done = tracker.add(
        make_job("r"), make_job("p", JobStatus.PENDING), make_job("d", JobStatus.COMPLETED)
    )
    window = make_window(qtbot, tracker, signals, settings)
    window.search_edit.setText("zzz")
    window.show_active_jobs()
    assert window.search_edit.text() == ""
    shown = {window.model.job_at(r).id for r in range(window.model.rowCount())}
    assert shown == {running.id, pending.id}
    assert selected_id(window) in shown


def test_a_search_after_jumping_to_the_end_shows_its_newest_rows(qtbot, tracker, signals, settings):
    tracker.add(*[make_job(f"backup {i}") for i in range(300)])
    window = make_window(qtbot, tracker, signals, settings)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.table.rowAt(0) > 200)
    window.search_edit.setText("backup 2")
    with qtbot.waitSignal(window.model.filterApplied, timeout=5000):
        window.apply_filter()
    qtbot.waitUntil(lambda: window.table.rowAt(0) == 0)
    assert window.model.index(0, 1).data() == "backup 299"
    # the history stays small in memory whatever was shown
    assert window.model.loaded_count() <= window.model.window_rows


def test_the_status_bar_says_ready_again_after_a_menu_or_a_passing_message(
    qtbot, tracker, signals, settings
):
    """Hovering the menus (their status tips) or a passing message ("No job …", for 5 s)
    left the status bar blank for the rest of the session (QA sweep)."""
    from PySide6.QtGui import QStatusTipEvent
    from PySide6.QtWidgets import QApplication

    window = make_main_window(qtbot, tracker, signals, settings, show=True)
    bar = window.statusBar()
    assert bar.currentMessage() == "Ready"
    QApplication.sendEvent(window, QStatusTipEvent(""))  # the pointer left a menu item
    assert bar.currentMessage() == "Ready"
    assert window.show_job("01NOSUCHJOB") is False
    assert bar.currentMessage().startswith("No job")
    bar.showMessage("No job 01NOSUCHJOB", 50)  # (the same message, passing sooner)
    qtbot.waitUntil(lambda: bar.currentMessage() == "Ready", timeout=2000)


def test_the_store_trouble_banner_is_styled_when_it_first_shows(qtbot, tracker, signals, settings):
    """The banner (white on dark red) gets its style sheet when trouble first shows, not
    with the window: a style sheet makes Qt build and parse one before the first paint."""
    window = make_main_window(qtbot, tracker, signals, settings, show=True)
    banner = window.store_banner
    assert not banner.isVisible() and banner.styleSheet() == ""
    window.show_store_trouble("cannot save job changes: disk full")
    assert banner.isVisible() and "background: #a32020" in banner.styleSheet()
    assert banner.text().endswith("disk full")
    window.show_store_trouble("")
    assert not banner.isVisible()
    window.show_store_trouble("again")
    assert banner.isVisible() and "#a32020" in banner.styleSheet()
