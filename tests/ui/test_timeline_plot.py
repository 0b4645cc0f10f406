"""The details pane's Timeline tab: a job's progress and a program's memory and CPU, drawn
with pyqtgraph (loaded only when the tab is first shown), in the widget's palette."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPalette

from jobdeck.core.timeline import JobTimeline
from jobdeck.core.tracker import JobTracker
from jobdeck.runtime.signals import JobSignals
from jobdeck.ui.job_details import JobDetails
from jobdeck.ui.timeline_plot import cpu_percent, minutes_or_seconds

ROOT = Path(__file__).resolve().parents[2]


def timeline_reached(tracker: JobTracker, job_id: str, current: float) -> bool:
    progress = tracker.timeline(job_id).progress
    return bool(progress) and progress[-1][1] >= current


def test_pyqtgraph_is_not_loaded_when_the_app_starts() -> None:
    code = "import sys, jobdeck.app, jobdeck.ui.job_details; print('pyqtgraph' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr


def test_the_timeline_tab_plots_progress_then_memory_and_cpu(qtbot, real_tracker, clock) -> None:
    signals = JobSignals(real_tracker, interval_ms=5)
    details = JobDetails(real_tracker, signals)
    qtbot.addWidget(details)
    details.resize(900, 600)
    details.show()
    ctx = real_tracker.create_job("command", params={"argv": ["make"]}, title="Build")
    for step in range(1, 6):
        clock.advance(3)
        ctx.update_progress(step, 10)
        qtbot.waitUntil(partial(timeline_reached, real_tracker, ctx.job_id, step), timeout=5000)
    details.set_job(ctx.job_id)
    assert details.timeline_plot is None  # nothing drawn before the tab is shown
    details.tabs.setCurrentWidget(details.timeline_tab)
    plot = details.timeline_plot
    assert plot is not None
    xs, ys = plot.progress_curve.getData()
    assert len(xs) >= 3 and ys[-1] >= 50.0 and xs[0] == 0.0
    assert not plot.resource_plot.isVisibleTo(details)  # not a program's samples yet
    samples = [(clock() - 30 + i, 1e6 * (10 + i), i * 0.5) for i in range(30)]
    real_tracker.set_resource_usage(
        ctx.job_id, peak_rss=int(39e6), cpu_seconds=14.5, timeline=samples
    )
    real_tracker.complete_job(ctx.job_id)
    qtbot.waitUntil(lambda: plot.resource_plot.isVisibleTo(details), timeout=5000)
    rss_x, rss_y = plot.rss_curve.getData()
    assert len(rss_x) == 30 and max(rss_y) == pytest.approx(39.0)
    cpu_x, cpu_y = plot.cpu_curve.getData()
    assert len(cpu_x) == 29 and cpu_y[0] == pytest.approx(50.0)  # half a core
    details.set_job(None)
    signals.close()


def test_the_charts_follow_the_palette(qtbot, real_tracker) -> None:
    details = JobDetails(real_tracker)
    qtbot.addWidget(details)
    ctx = real_tracker.create_job("work")
    details.set_job(ctx.job_id)
    details.tabs.setCurrentWidget(details.timeline_tab)
    plot = details.timeline_plot
    assert plot is not None
    assert plot.empty_label.isVisibleTo(details)  # no progress yet: it says so
    dark = QPalette(details.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1f22"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    details.setPalette(dark)
    assert plot.progress_plot.backgroundBrush().color() == QColor("#1e1f22")
    axis = plot.progress_plot.getPlotItem().getAxis("left")
    assert axis.textPen().color() == QColor("#e6e6e6")
    real_tracker.complete_job(ctx.job_id)


def test_units_and_cpu_use() -> None:
    assert minutes_or_seconds(90)[1] == "s"
    assert minutes_or_seconds(600) == (60.0, "min")
    assert minutes_or_seconds(3 * 3600) == (3600.0, "h")
    assert cpu_percent([(0, 1, 0.0), (2, 1, 1.0), (2, 1, 1.0), (4, 1, 5.0)]) == (
        [2, 4],
        [50.0, 200.0],
    )
    assert JobTimeline().progress == ()


def clipped_axis_labels(plot) -> list[tuple[str, float, float]]:
    """(text, length, room) of each shown axis label of ``plot`` longer than its axis."""
    clipped = []
    for chart in (plot.progress_plot, plot.resource_plot):
        if not chart.isVisible():
            continue
        item = chart.getPlotItem()
        for side in ("left", "right"):
            axis = item.getAxis(side)
            if axis.isVisible() and axis.label.isVisible() and axis.label.toPlainText():
                length = axis.label.boundingRect().width()  # the text runs along the axis
                room = axis.boundingRect().height()
                if length > room:
                    clipped.append((axis.label.toPlainText(), length, room))
    return clipped


def test_the_axis_labels_fit_charts_as_low_as_at_1280x800(qtbot, real_tracker, clock) -> None:
    """On a 1280x800 screen the details pane leaves each chart about 75 px of height."""
    from jobdeck.ui.timeline_plot import TimelinePlot

    plot = TimelinePlot()
    qtbot.addWidget(plot)
    progress = [(clock() + i, float(i), 30.0) for i in range(30)]
    samples = [(clock() + i, 1e6 * (10 + i), i * 0.5) for i in range(30)]
    plot.show_timeline(JobTimeline(progress=tuple(progress), resources=tuple(samples)))
    plot.resize(860, 210)
    plot.show()
    qtbot.waitExposed(plot)
    left = plot.resource_plot.getPlotItem().getAxis("left")
    qtbot.waitUntil(lambda: left.boundingRect().height() < 90)
    assert left.boundingRect().height() >= 60  # as low as the QA's
    assert clipped_axis_labels(plot) == []


def test_the_axis_labels_fit_the_details_pane_at_1280x800(
    qtbot, qapp, real_tracker, clock, tmp_path
) -> None:
    from PySide6.QtCore import QRect

    from jobdeck.jobs import builtin_registry
    from jobdeck.ui.main_window import MainWindow

    from .fakes import FakeSettings

    assert qapp.primaryScreen().availableGeometry() == QRect(0, 0, 1280, 800)
    signals = JobSignals(real_tracker, interval_ms=5)
    window = MainWindow(real_tracker, signals, builtin_registry(), FakeSettings())
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    ctx = real_tracker.create_job("command", params={"argv": ["make"]}, title="Build")
    for step in range(1, 6):
        clock.advance(3)
        ctx.update_progress(step, 10)
    qtbot.waitUntil(partial(timeline_reached, real_tracker, ctx.job_id, 5), timeout=5000)
    samples = [(clock() - 30 + i, 1e6 * (10 + i), i * 0.5) for i in range(30)]
    real_tracker.set_resource_usage(
        ctx.job_id, peak_rss=int(39e6), cpu_seconds=14.5, timeline=samples
    )
    real_tracker.complete_job(ctx.job_id)
    assert window.show_job(ctx.job_id)
    details = window.details
    details.tabs.setCurrentWidget(details.timeline_tab)
    plot = details.timeline_plot
    assert plot is not None
    qtbot.waitUntil(lambda: plot.resource_plot.isVisibleTo(details), timeout=5000)
    qtbot.wait(50)  # laid out
    assert clipped_axis_labels(plot) == []
    assert window.grab().save(str(tmp_path / "timeline-1280x800.png"))
    signals.close()


def test_both_charts_move_to_a_new_time_range_together(qtbot) -> None:
    """Regression (QA, under Xvfb): now and then a frame showed the progress chart on the new
    time range (0-11 s) above the memory/CPU chart still on the old one (0-9 s), until the
    next draw: pyqtgraph placed each chart's curves on a new range only when it next painted
    that chart, and the two were not always painted in the same frame. Right after a draw,
    each chart's curves are where its time axis says."""
    from jobdeck.ui.timeline_plot import TimelinePlot

    def timeline(seconds: int) -> JobTimeline:
        progress = tuple((float(t), float(t), 100.0) for t in range(seconds + 1))
        resources = tuple((1.0 + t, 12e6, 0.01 * t) for t in range(5))  # sampled less often
        return JobTimeline(progress=progress, resources=resources)

    plot = TimelinePlot()
    qtbot.addWidget(plot)
    plot.resize(820, 230)
    plot.show()
    qtbot.waitExposed(plot)
    plot.show_timeline(timeline(9), 0.0)
    qtbot.waitUntil(lambda: plot.resource_plot.isVisible())
    qtbot.wait(100)  # painted
    plot.show_timeline(timeline(11), 0.0)  # no event processed before the checks
    four_s = QPointF(4.0, 0.0)
    for chart, curve in (
        (plot.progress_plot, plot.progress_curve),
        (plot.resource_plot, plot.rss_curve),
    ):
        drawn_at = curve.mapToScene(four_s).x()  # where the next paint puts 4 s of the curve
        axis_at = chart.getPlotItem().vb.mapViewToScene(four_s).x()  # the new range's 4 s
        assert drawn_at == pytest.approx(axis_at, abs=0.5), chart.accessibleName()
    ranges = [p.getViewBox().viewRange()[0] for p in (plot.progress_plot, plot.resource_plot)]
    assert ranges[0] == ranges[1] and ranges[0][1] > 11
