"""The history's table repaints no row when rows are added below those it shows (a
search's count): its scroll bar alone shows them."""

import threading

from PySide6.QtCore import QEvent, QObject

from jobdeck.core.job import JobStatus
from jobdeck.ui.history_model import HistoryModel
from jobdeck.ui.history_table import HistoryTable

from .fakes import make_job


class PaintCounter(QObject):
    """Counts the paints of the table's rows (its viewport's paint events taller than a
    row: not the focus frame of a cell), and notes the scroll bar's range at the first
    one."""

    def __init__(self, table) -> None:
        super().__init__()
        self.count = 0
        self.bar_at_first: int | None = None
        self._bar = table.verticalScrollBar()
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and event.region().boundingRect().height() > 20:
            self.count += 1
            if self.bar_at_first is None:
                self.bar_at_first = self._bar.maximum()
        return False


def shown_table(qtbot, model):
    table = HistoryTable()
    qtbot.addWidget(table)
    table.setModel(model)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(20)
    table.resize(600, 300)
    paints = PaintCounter(table)
    table.show()
    qtbot.waitUntil(lambda: paints.count > 0)  # its first paint
    return table


def test_a_searchs_count_repaints_the_scroll_bar_not_the_rows(qtbot, qapp, tracker):
    tracker.add(*[make_job(f"job {i}", JobStatus.COMPLETED) for i in range(300)])
    model = HistoryModel(tracker)
    model.set_rows_shown(10)  # the search reads 15 rows first: more than the table shows
    table = shown_table(qtbot, model)
    paints = PaintCounter(table)
    counting = threading.Event()
    real_count = tracker.count_jobs

    def count_jobs(**kw):
        counting.wait(10)  # until the first rows are painted
        return real_count(**kw)

    tracker.count_jobs = count_jobs
    try:
        with qtbot.waitSignal(model.filterApplied):
            model.set_filter(search="job 1")  # 111 matches; its first rows, then its count
        qtbot.waitUntil(lambda: paints.count == 1)  # the first rows are painted
    finally:
        counting.set()
    qtbot.waitUntil(lambda: not model.search_counting)
    bar = table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > (paints.bar_at_first or 0))  # the count shows
    for _ in range(3):  # (a repaint the count asked for would be delivered now)
        qapp.processEvents()
    assert paints.count == 1 and model.rowCount() == 111


def test_rows_added_among_those_shown_are_painted(qtbot, tracker, signals):
    """A new job at the top of the history (inside the rows shown) is laid out and painted
    as QTableView does it; so are the rows after a removal."""
    tracker.add(*[make_job(f"job {i}", JobStatus.COMPLETED) for i in range(50)])
    model = HistoryModel(tracker, signals)
    table = shown_table(qtbot, model)
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    paints = PaintCounter(table)
    new = make_job("new job", JobStatus.PENDING)
    tracker.add(new)
    model.include(new)
    qtbot.waitUntil(lambda: paints.count > 0)
    assert model.index(0, 1).data() == "new job"
