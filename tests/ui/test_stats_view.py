"""The Statistics tab against a real tracker holding real finished jobs: what its tables and
charts show, periods, the selected key's trend, newer requests winning, a job finishing
after an idle gap, jobs that end shown soon (many in one refresh, none while another
computes or the tab is hidden), the dark palette, and the 1280x800 screen."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from jobdeck.core.clock import FakeClock
from jobdeck.core.stats import Period
from jobdeck.core.tracker import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime.signals import JobSignals
from jobdeck.ui import stats_view
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.stats_tables import STATS_ROLE, GroupColumn
from jobdeck.ui.stats_view import StatsView
from jobdeck.ui.theme import apply_theme

from .fakes import FakeSettings, field

DAY = 86400.0
MAKE = {"argv": ["make", "-j4"], "cwd": "/tmp"}
RSYNC = {"argv": ["rsync", "-a", "/photos/", "/backup/"], "cwd": "/"}


def finish(tracker: JobTracker, clock: FakeClock, params: dict, seconds: float, error=None):
    job = tracker.enqueue("command", params, title=" ".join(params["argv"]))
    tracker.start_job(job.id)
    clock.advance(seconds)
    tracker.complete_job(job.id, success=error is None, error=error)
    return job.id


@pytest.fixture
def finished_jobs(real_tracker: JobTracker, clock: FakeClock) -> None:
    """Seven finished commands: an rsync, three days later five makes (one failed) and
    another rsync."""
    finish(real_tracker, clock, RSYNC, 300)  # three days before the others
    clock.advance(3 * DAY)
    for seconds in (40, 50, 60, 70):
        finish(real_tracker, clock, MAKE, seconds)
    finish(real_tracker, clock, MAKE, 5, error="exit status 2; last output:\nmain.c:3: error: x")
    finish(real_tracker, clock, RSYNC, 120)


@pytest.fixture
def window(qtbot, qapp, real_tracker, finished_jobs) -> Iterator[MainWindow]:
    assert qapp.primaryScreen().availableGeometry() == QRect(0, 0, 1280, 800)
    signals = JobSignals(real_tracker, interval_ms=5)
    registry = builtin_registry()
    win = MainWindow(real_tracker, signals, registry, FakeSettings(), stats=real_tracker.stats)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.stats_view is not None:
        win.stats_view.shutdown()
    signals.close()


def shown(qtbot, win: MainWindow) -> StatsView:
    """Open the Statistics tab and wait for its first numbers."""
    assert win.stats_view is None  # built only when the tab is first shown
    view = win.show_statistics()
    assert view is not None and view.isVisible()
    with qtbot.waitSignal(view.updated, timeout=20_000):
        pass  # the numbers arrive through the event loop, after this point
    return view


def cells(view_table, column: int) -> list[str]:
    model = view_table.model()
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_the_tab_shows_what_the_jobs_did(qtbot, window):
    view = shown(qtbot, window)
    assert view.current_period is Period.WEEK
    assert cells(view.type_table, GroupColumn.NAME) == ["Run a command"]
    assert cells(view.type_table, GroupColumn.RUNS) == ["7"]
    assert cells(view.type_table, GroupColumn.SUCCESS) == ["86 %"]  # 6 of 7
    assert cells(view.type_table, GroupColumn.FAILED) == ["1"]
    assert cells(view.type_table, GroupColumn.MAX) == ["5m 00s"]

    keys = dict(zip(cells(view.key_table, GroupColumn.NAME), cells(view.key_table, 2), strict=True))
    assert keys == {"make -j4 in /tmp": "5", "rsync -a /photos/ /backup/ in /": "2"}
    assert cells(view.failure_table, 0) == ["exit status 2"]
    assert "7 jobs ended, 1 failed" in view.summary.text()

    charts = view.charts
    assert charts is not None
    ended = charts.drawn["throughput"]
    assert sum(ended["completed"][1]) == 6 and sum(ended["failed"][1]) == 1
    assert max(charts.drawn["load"]["running"][1]) == 1  # one at a time
    assert charts.drawn["trend"] == {}  # no key selected yet


def test_a_period_and_a_key(qtbot, window):
    view = shown(qtbot, window)
    with qtbot.waitSignal(view.updated, timeout=20_000):
        view.set_period(Period.DAY)
    assert cells(view.type_table, GroupColumn.RUNS) == ["6"]  # the old rsync is out
    assert window.stats_view is view

    make = next(
        index
        for r in range(view.key_table.model().rowCount())
        if (index := view.key_table.model().index(r, 0)).data(STATS_ROLE).label.startswith("make")
    )
    with qtbot.waitSignal(view.updated, timeout=20_000):
        view.key_table.setCurrentIndex(make)
    trend = view.charts.drawn["trend"]["seconds"]
    assert trend[1] == [40.0, 50.0, 60.0, 70.0, 5.0]
    title = view.charts.trend.getPlotItem().titleLabel.text
    assert "Last 5 runs of make -j4" in title

    # sorting by a duration column sorts by value, not text
    view.key_table.sortByColumn(GroupColumn.MAX, Qt.SortOrder.AscendingOrder)
    assert cells(view.key_table, GroupColumn.MAX) == ["1m 10s", "2m 00s"]


def test_a_single_runs_percentiles_are_its_duration(qtbot, window):
    """Over the last day the rsync ran once, for 2 minutes: its p50 and p90 say 2m 00s (the
    histogram's estimate said 1m 57s, below the longest of one run); the makes' stay
    within their shortest and longest."""
    view = shown(qtbot, window)
    with qtbot.waitSignal(view.updated, timeout=20_000):
        view.set_period(Period.DAY)
    rows = {
        label: (p50, p90, longest)
        for label, p50, p90, longest in zip(
            cells(view.key_table, GroupColumn.NAME),
            cells(view.key_table, GroupColumn.P50),
            cells(view.key_table, GroupColumn.P90),
            cells(view.key_table, GroupColumn.MAX),
            strict=True,
        )
    }
    assert rows["rsync -a /photos/ /backup/ in /"] == ("2m 00s", "2m 00s", "2m 00s")
    assert view.result is not None
    make = next(s for s in view.result.report.by_key if s.label == "make -j4 in /tmp")
    assert make.p50_s is not None and make.p90_s is not None
    assert 40 <= make.p50_s <= make.p90_s <= 70 == make.max_s


def test_the_same_command_from_the_form_and_the_terminal_is_one_job_key(
    qtbot, window, real_tracker, clock, tmp_path, monkeypatch
):
    """``sync-photos --all`` queued from the launch form (the folder left empty: home) and
    by ``jobdeck run -- sync-photos --all`` in the home folder (the program found on PATH,
    the folder given) are one row of the per-key table, with both runs; so is the same
    line typed with Shell checked. The rsync and the makes stay apart."""
    from jobdeck.cli.commands import run_request
    from jobdeck.cli.parser import build_parser
    from jobdeck.ui.launch_form import LaunchForm

    home = tmp_path / "home"
    (tmp_path / "bin").mkdir()
    home.mkdir()
    program = tmp_path / "bin" / "sync-photos"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.chdir(home)

    def ran(job_id: str, seconds: float) -> None:
        real_tracker.start_job(job_id)
        clock.advance(seconds)
        real_tracker.complete_job(job_id, success=True)

    form = LaunchForm(builtin_registry()["command"], real_tracker)
    qtbot.addWidget(form)
    field(form, "argv").edit.setText("sync-photos --all")
    job_id = form.submit()
    assert job_id is not None
    ran(job_id, 30)
    body = run_request(build_parser().parse_args(["run", "--", "sync-photos", "--all"]))
    assert body["params"]["argv"][0] == str(program)  # the terminal's PATH decided
    ran(real_tracker.enqueue(body["type"], body["params"]).id, 40)
    field(form, "argv").edit.setText("sync-photos  --all")
    field(form, "shell").focus_widget().setChecked(True)
    job_id = form.submit()
    assert job_id is not None
    assert real_tracker.get_job(job_id).params["shell"] is True
    ran(job_id, 50)

    view = shown(qtbot, window)
    keys = dict(zip(cells(view.key_table, GroupColumn.NAME), cells(view.key_table, 2), strict=True))
    assert keys == {
        f"sync-photos --all in {home}": "3",
        "make -j4 in /tmp": "5",
        "rsync -a /photos/ /backup/ in /": "2",
    }


def test_the_next_start_shows_the_numbers_from_the_kept_columns(
    qtbot, window, real_tracker, monkeypatch
):
    """Once the tab has shown its numbers it keeps the columns beside the store; a tab of
    the next start shows the same numbers from them, reading no job row by row (a million
    jobs: well under a second instead of 10-17 s)."""
    from jobdeck.core import stats_data
    from jobdeck.core.stats import JobStats

    monkeypatch.setattr(stats_data, "SAVE_AFTER_ROWS", 5)  # (the app waits for 20,000)
    monkeypatch.setattr(stats_data, "SAVE_MIN_ROWS", 5)
    view = shown(qtbot, window)
    kept = real_tracker.store.path.parent / "jobs.db.d" / "stats-columns.npz"
    qtbot.waitUntil(kept.exists, timeout=10_000)  # written after the numbers went out
    first = [cells(t, GroupColumn.RUNS) for t in (view.type_table, view.key_table)]
    assert first[0] == ["7"]

    stats = JobStats(real_tracker)  # what the next start makes
    later = StatsView(stats)
    qtbot.addWidget(later)
    later.resize(1000, 600)
    later.show()
    qtbot.waitUntil(lambda: later.result is not None, timeout=20_000)
    assert [cells(t, GroupColumn.RUNS) for t in (later.type_table, later.key_table)] == first
    assert stats.data.rows_read == 0
    later.shutdown()


def test_a_job_that_ends_after_an_idle_gap_is_counted(qtbot, window, real_tracker, clock):
    view = shown(qtbot, window)
    qtbot.wait(300)  # idle
    clock.advance(3600)
    finish(real_tracker, clock, RSYNC, 30, error="exit status 23; last output:\nrsync error")
    with qtbot.waitSignal(view.updated, timeout=20_000):
        view.refresh_button.click()
    assert cells(view.type_table, GroupColumn.RUNS) == ["8"]
    assert sorted(cells(view.failure_table, 0)) == ["exit status 2", "exit status 23"]


def test_a_job_that_ends_shows_without_waiting_for_the_periodic_refresh(
    qtbot, window, real_tracker, clock
):
    view = shown(qtbot, window)
    finish(real_tracker, clock, RSYNC, 30)
    qtbot.waitUntil(lambda: cells(view.type_table, GroupColumn.RUNS) == ["8"], timeout=5_000)


def counted_requests(view: StatsView) -> list[Period]:
    """The periods ``view`` asks its loader for from now on."""
    asked: list[Period] = []
    request = view.loader.request

    def counting(period, key=None):
        asked.append(period)
        return request(period, key)

    view.loader.request = counting  # type: ignore[method-assign]
    return asked


def test_many_jobs_ending_at_once_cost_one_refresh(qtbot, window, real_tracker, clock):
    view = shown(qtbot, window)
    asked = counted_requests(view)
    for _ in range(30):
        finish(real_tracker, clock, MAKE, 1)
    qtbot.waitUntil(lambda: cells(view.type_table, GroupColumn.RUNS) == ["37"], timeout=5_000)
    qtbot.wait(stats_view.ENDED_DELAY_MS + 300)  # nothing more comes
    assert len(asked) == 1


def test_jobs_ending_during_a_long_computation_wait_for_it(
    qtbot, window, real_tracker, clock, monkeypatch
):
    """At a million jobs a computation takes seconds: a job's end neither drops it (its
    numbers would be lost) nor queues more behind it; one refresh follows it."""
    view = shown(qtbot, window)
    asked = counted_requests(view)
    gate = threading.Event()
    report = view.loader.stats.report

    def slow_report(period):
        assert gate.wait(20)
        return report(period)

    monkeypatch.setattr(view.loader.stats, "report", slow_report)
    view.refresh_button.click()
    qtbot.waitUntil(lambda: view.loader.busy)
    for _ in range(3):
        with qtbot.waitSignal(window._signals.jobFinished, timeout=5_000):
            finish(real_tracker, clock, RSYNC, 30)
    qtbot.wait(stats_view.ENDED_DELAY_MS + 300)  # the refresh for them is due: still busy
    assert len(asked) == 1
    gate.set()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=10_000)  # once the long one is in
    qtbot.waitUntil(lambda: not view.loader.busy, timeout=10_000)
    assert cells(view.type_table, GroupColumn.RUNS) == ["10"]
    qtbot.wait(stats_view.ENDED_DELAY_MS + 300)
    assert len(asked) == 2


def test_another_period_says_computing_until_its_numbers_come(qtbot, window, monkeypatch):
    """The tables keep the last 7 days' numbers while the last 24 hours' are computed:
    the summary says so instead of the 7 days' counts."""
    view = shown(qtbot, window)
    gate = threading.Event()
    report = view.loader.stats.report

    def slow_report(period):
        assert gate.wait(20)
        return report(period)

    monkeypatch.setattr(view.loader.stats, "report", slow_report)
    view.set_period(Period.DAY)
    qtbot.waitUntil(lambda: view.loader.busy)
    assert view.summary.text() == "Computing\u2026"
    with qtbot.waitSignal(view.updated, timeout=20_000):
        gate.set()
    assert view.summary.text().startswith("6 jobs ended, 1 failed")
    view.refresh_button.click()  # the same period again: its numbers stay said
    assert view.summary.text().startswith("6 jobs ended, 1 failed")
    qtbot.waitUntil(lambda: not view.loader.busy, timeout=10_000)


def test_a_hidden_tab_refreshes_when_shown_not_before(qtbot, window, real_tracker, clock):
    view = shown(qtbot, window)
    asked = counted_requests(view)
    tabs = window.tabs
    assert tabs is not None
    tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not view.isVisible())
    with qtbot.waitSignal(window._signals.jobFinished, timeout=5_000):
        finish(real_tracker, clock, RSYNC, 30)
    qtbot.wait(stats_view.ENDED_DELAY_MS + 300)
    assert asked == []  # nobody looks: nothing is counted
    window.show_statistics()
    qtbot.waitUntil(lambda: cells(view.type_table, GroupColumn.RUNS) == ["8"], timeout=5_000)
    assert len(asked) == 1


def test_the_newest_request_wins(qtbot, window):
    view = shown(qtbot, window)
    shown_periods: list[Period] = []
    view.loader.loaded.connect(lambda result: shown_periods.append(result.report.period))
    for period in (Period.ALL, Period.MONTH, Period.DAY):
        view.loader.request(period)
    qtbot.waitUntil(lambda: Period.DAY in shown_periods, timeout=20_000)
    qtbot.wait(200)
    assert shown_periods == [Period.DAY]


def test_charts_follow_a_palette_change(qtbot, qapp, window):
    view = shown(qtbot, window)
    charts = view.charts
    assert charts is not None
    before = charts.throughput.backgroundBrush().color().name()
    original = QPalette(qapp.palette())
    style = qapp.style().name()
    try:
        apply_theme(qapp, "dark")
        qtbot.waitUntil(
            lambda: charts.throughput.backgroundBrush().color().name() == "#1e1f22", timeout=5000
        )
        assert charts.throughput.backgroundBrush().color().name() != before
        axis = charts.load.getPlotItem().getAxis("left")
        assert axis.textPen().color().name() == "#e6e6e6"  # the dark palette's text
    finally:
        qapp.setStyle(style)
        QApplication.setPalette(original)


def test_readable_at_1280x800(qtbot, window, tmp_path):
    view = shown(qtbot, window)
    assert QRect(0, 0, 1280, 800).contains(window.frameGeometry())
    assert view.tables.width() >= 560 and view.chart_area.width() >= 380
    for chart in (view.charts.throughput, view.charts.load, view.charts.trend):  # type: ignore[union-attr]
        assert chart.height() >= 150
    header = view.type_table.horizontalHeader()
    assert header.length() <= view.type_table.viewport().width() + 1  # no sideways scrolling
    shot = tmp_path / "stats-1280x800.png"
    assert window.grab().save(str(shot))


def test_start_up_imports_neither_pyqtgraph_nor_numpy() -> None:
    """The tab and the API import them when first used: start-up time is benchmarked."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, jobdeck.app, jobdeck.ui.main_window, jobdeck.api.routes, jobdeck.cli.commands;"
        "print(sorted(m for m in ('pyqtgraph', 'numpy', 'jobdeck.core.stats') if m in sys.modules))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
