"""A job's timeline as charts (pyqtgraph): its progress over time and, for a program, its
memory (RSS) and CPU use.

Imported only when the details pane's Timeline tab is first shown: pyqtgraph is not loaded
at start-up (start-up time is benchmarked). :class:`TimelinePlot` follows the widget's
palette (light or dark): its background is the palette's Base, its axes and text the Text
colour, the progress curve the Highlight colour. GUI thread only; it emits no signals.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..core.timeline import JobTimeline
from ..i18n import translate

__all__ = ["TimelinePlot", "cpu_percent", "minutes_or_seconds"]

#: Colours of the memory and CPU curves, readable on a light and on a dark background.
RSS_COLOR = QColor("#2e9d5b")
CPU_COLOR = QColor("#d9822b")
#: Width (px) of the value axes, the same on both charts so that their times line up.
AXIS_WIDTH = 58


def minutes_or_seconds(span: float) -> tuple[float, str]:
    """How to show times over ``span`` seconds: (divisor, unit) -- seconds up to 2 min,
    minutes up to 2 h, else hours."""
    if span <= 120:
        return 1.0, translate("TimelinePlot", "s")
    if span <= 7200:
        return 60.0, translate("TimelinePlot", "min")
    return 3600.0, translate("TimelinePlot", "h")


def cpu_percent(points: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """(times, CPU %) between consecutive (time, rss, cpu seconds) samples: 100 % is one
    core busy all the time."""
    times: list[float] = []
    values: list[float] = []
    for a, b in itertools.pairwise(points):
        dt = b[0] - a[0]
        if dt > 0:
            times.append(b[0])
            values.append(max(0.0, (b[2] - a[2]) / dt * 100.0))
    return times, values


class TimelinePlot(QWidget):
    """Two charts of one job: progress (%) over time, and memory (MB) with CPU (%) over
    time (shown for programs only). :meth:`show_timeline` draws a :class:`JobTimeline`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.progress_plot = pg.PlotWidget(self)
        self.progress_plot.setMenuEnabled(False)
        self.progress_plot.setMouseEnabled(x=False, y=False)
        self.progress_plot.hideButtons()
        self.progress_plot.setYRange(0, 100, padding=0.02)
        self.progress_plot.setAccessibleName(translate("TimelinePlot", "Progress over time"))
        self.progress_curve = self.progress_plot.plot([], [])

        self.resource_plot = pg.PlotWidget(self)
        self.resource_plot.setMenuEnabled(False)
        self.resource_plot.setMouseEnabled(x=False, y=False)
        self.resource_plot.hideButtons()
        self.resource_plot.setAccessibleName(
            translate("TimelinePlot", "Memory and CPU use over time")
        )
        self.resource_plot.setToolTip(
            translate(
                "TimelinePlot",
                "Memory (resident, MB: green, left axis) and CPU use (%, 100 % is one core "
                "busy: orange, right axis) of the program and its child processes",
            )
        )
        self.rss_curve = self.resource_plot.plot([], [])
        # CPU % on its own axis (right), in a view box that follows the memory plot's x
        item = self.resource_plot.getPlotItem()
        self.cpu_view = pg.ViewBox()
        self.cpu_view.setMouseEnabled(x=False, y=False)
        item.showAxis("right")
        item.scene().addItem(self.cpu_view)
        item.getAxis("right").linkToView(self.cpu_view)
        self.cpu_view.setXLink(item)
        self.cpu_curve = pg.PlotCurveItem([], [])
        self.cpu_view.addItem(self.cpu_curve)
        item.vb.sigResized.connect(self._sync_cpu_view)
        # both charts keep the same axis widths, so their time axes line up
        progress_item = self.progress_plot.getPlotItem()
        progress_item.showAxis("right")
        progress_item.getAxis("right").setStyle(showValues=False)
        for plot_item in (item, progress_item):
            plot_item.getAxis("left").setWidth(AXIS_WIDTH)
            plot_item.getAxis("right").setWidth(AXIS_WIDTH)

        self.empty_label = QLabel(translate("TimelinePlot", "No progress recorded yet."), self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.progress_plot, 1)
        layout.addWidget(self.resource_plot, 1)
        self._timeline = JobTimeline()
        self._apply_palette()
        self.show_timeline(JobTimeline())

    def _sync_cpu_view(self) -> None:
        item = self.resource_plot.getPlotItem()
        self.cpu_view.setGeometry(item.vb.sceneBoundingRect())
        self.cpu_view.linkedViewChanged(item.vb, self.cpu_view.XAxis)

    def show_timeline(self, timeline: JobTimeline, started: float | None = None) -> None:
        """Draw ``timeline``; times are shown from ``started`` (else its first point)."""
        self._timeline = timeline
        progress, resources = timeline.progress, timeline.resources
        firsts = [p[0][0] for p in (progress, resources) if p]
        origin = started if started is not None else (min(firsts) if firsts else 0.0)
        lasts = [p[-1][0] for p in (progress, resources) if p]
        span = (max(lasts) - origin) if lasts else 0.0
        scale, unit = minutes_or_seconds(span)
        known = [p for p in progress if p[2] > 0]
        self.progress_curve.setData(
            [(p[0] - origin) / scale for p in known], [100.0 * p[1] / p[2] for p in known]
        )
        self.progress_plot.getAxis("left").setLabel(translate("TimelinePlot", "progress %"))
        # one time axis label, under the lower chart (the upper one's when it is alone)
        time_label = translate("TimelinePlot", "time ({unit})").format(unit=unit)
        self.progress_plot.getAxis("bottom").setLabel(None if resources else time_label)
        self.progress_plot.getAxis("bottom").showLabel(not resources)
        self.rss_curve.setData(
            [(p[0] - origin) / scale for p in resources], [p[1] / 1e6 for p in resources]
        )
        times, cpu = cpu_percent(resources)
        self.cpu_curve.setData([(t - origin) / scale for t in times], cpu)
        self.cpu_view.setYRange(0, max([100.0, *cpu]), padding=0.05)
        peak_mb = max((p[1] / 1e6 for p in resources), default=1.0)
        self.resource_plot.setYRange(0, peak_mb, padding=0.05)  # memory from zero
        item = self.resource_plot.getPlotItem()
        # short labels: at 1280x800 a chart is about 75 px high, and a label longer than
        # its axis is clipped (the charts' tooltip says what the curves are)
        item.getAxis("left").setLabel(translate("TimelinePlot", "MB"))
        item.getAxis("right").setLabel(translate("TimelinePlot", "CPU %"))
        item.getAxis("bottom").setLabel(time_label)
        if span > 0:
            for plot in (self.progress_plot, self.resource_plot):
                plot.setXRange(0, span / scale, padding=0.02)
        self.empty_label.setVisible(not known and not resources)
        self.progress_plot.setVisible(bool(known) or not resources)
        self.resource_plot.setVisible(bool(resources))
        self._sync_cpu_view()
        for plot in (self.progress_plot, self.resource_plot):
            # pyqtgraph moves a chart's curves and grid to a new range only when it paints
            # that chart, while its time axis already shows the new range; the two charts
            # were not always painted in the same frame, so one showed 0-9 s under the
            # other's 0-11 s until the next draw (QA sweep). Both move now, and both are
            # painted whole in the next frame.
            plot.scene().prepareForPaint()
            plot.viewport().update()

    def _apply_palette(self) -> None:
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        grid = QColor(text)
        grid.setAlpha(60)
        for plot in (self.progress_plot, self.resource_plot):
            plot.setBackground(background)
            item = plot.getPlotItem()
            for name in ("left", "bottom", "right"):
                axis = item.getAxis(name)
                axis.setPen(pg.mkPen(grid))
                axis.setTextPen(pg.mkPen(text))
            item.showGrid(x=True, y=True, alpha=0.12)
        self.progress_curve.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Highlight), width=2))
        self.progress_curve.setFillLevel(0)
        fill = QColor(palette.color(QPalette.ColorRole.Highlight))
        fill.setAlpha(50)
        self.progress_curve.setBrush(pg.mkBrush(fill))
        self.rss_curve.setPen(pg.mkPen(RSS_COLOR, width=2))
        self.cpu_curve.setPen(pg.mkPen(CPU_COLOR, width=2))
        self.resource_plot.getPlotItem().getAxis("left").setTextPen(pg.mkPen(RSS_COLOR))
        self.resource_plot.getPlotItem().getAxis("right").setTextPen(pg.mkPen(CPU_COLOR))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "cpu_curve"):
            self._apply_palette()
