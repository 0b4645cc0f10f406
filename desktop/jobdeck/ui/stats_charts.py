"""The Statistics tab's three charts: jobs ended per hour or day, queue depth and running
jobs over time, and the duration of a job key's last runs.

:class:`StatsCharts` builds its plots (pyqtgraph, through :mod:`.charts`) when it is
created, so create it only when the tab is first shown. :meth:`~StatsCharts.show_report`
and :meth:`~StatsCharts.show_trend` draw numbers already computed (GUI thread, no SQL); a
palette change recolours every plot. Emits no signals. :attr:`~StatsCharts.drawn` keeps what
each chart shows (for tests and for the accessible descriptions).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..core.stats import KeyTrend, StatsReport
from ..i18n import translate
from . import charts

__all__ = ["StatsCharts"]


def _brush(colour: QColor) -> Any:
    return charts.pyqtgraph_module().mkBrush(colour)


def _pen(colour: QColor, width: float = 1.6) -> Any:
    return charts.pyqtgraph_module().mkPen(colour, width=width)


def _keyed(title: str, series: list[tuple[str, QColor]]) -> str:
    """A chart title followed by its series' names, each after a square of its colour (a
    legend that never covers the data)."""
    keys = "&nbsp;&nbsp;".join(
        f'<span style="color:{colour.name()}">\u25a0</span>&nbsp;{name}' for name, colour in series
    )
    return f"{title}&nbsp;&nbsp;&nbsp;{keys}"


#: The shortest time span the trend chart shows (seconds), centred on the runs.
TREND_MIN_SPAN_S = 1800.0


class StatsCharts(QWidget):
    """Throughput, load and a key's trend, stacked (see the module)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.throughput = charts.new_plot(
            self, title=translate("Stats", "Jobs ended"), left=translate("Stats", "jobs")
        )
        self.load = charts.new_plot(
            self,
            title=translate("Stats", "Queued and running"),
            left=translate("Stats", "jobs"),
        )
        self.trend = charts.new_plot(
            self,
            title=translate("Stats", "Duration of the selected key's last runs"),
            left=translate("Stats", "seconds"),
        )
        self.throughput.setAccessibleName(translate("Stats", "Jobs ended per hour or day"))
        self.load.setAccessibleName(translate("Stats", "Queued and running jobs over time"))
        self.trend.setAccessibleName(translate("Stats", "Duration of the last runs"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.throughput, 1)
        layout.addWidget(self.load, 1)
        layout.addWidget(self.trend, 1)
        self._report: StatsReport | None = None
        self._trend: KeyTrend | None = None
        self._trend_label = ""
        #: What each chart shows: chart -> series name -> (x values, y values).
        self.drawn: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
        self.trend.installEventFilter(self)  # the title is cut to the chart's width

    # -- drawing --------------------------------------------------------------------------------

    def show_report(self, report: StatsReport) -> None:
        self._report = report
        self._draw_throughput(report)
        self._draw_load(report)

    def show_trend(self, trend: KeyTrend | None, label: str = "") -> None:
        self._trend = trend
        self._trend_label = label
        self._draw_trend()

    def _colours(self) -> charts.SeriesColours:
        return charts.series_colours(self.palette())

    def _draw_throughput(self, report: StatsReport) -> None:
        pg = charts.pyqtgraph_module()
        plot = self.throughput.getPlotItem()
        plot.clear()
        c = self._colours()
        t = report.throughput
        width = t.bucket_s * 0.8
        x = np.asarray(t.starts, float) + t.bucket_s / 2
        completed = np.asarray(t.completed, float)
        failed = np.asarray(t.failed, float)
        cancelled = np.asarray(t.cancelled, float)
        bottom = np.zeros(len(x))
        for name, values, colour in (
            (translate("Stats", "completed"), completed, c.ok),
            (translate("Stats", "failed"), failed, c.bad),
            (translate("Stats", "cancelled"), cancelled, c.muted),
        ):
            bars = pg.BarGraphItem(
                x=x, height=values, y0=bottom, width=width, brush=_brush(colour), pen=None,
                name=name,
            )  # fmt: skip
            plot.addItem(bars)
            bottom = bottom + values
        hourly = t.bucket_s < 86400
        title = (
            translate("Stats", "Ended per hour")
            if hourly
            else translate("Stats", "Ended per UTC day")
        )
        plot.setTitle(
            _keyed(
                title,
                [
                    (translate("Stats", "completed"), c.ok),
                    (translate("Stats", "failed"), c.bad),
                    (translate("Stats", "cancelled"), c.muted),
                ],
            ),
            color=self.palette().color(self.foregroundRole()).name(),
            size="9pt",
        )
        plot.setXRange(float(t.starts[0]), float(t.starts[-1] + t.bucket_s), padding=0.01)
        top = max(1.0, float(bottom.max()) if len(bottom) else 1.0)
        plot.setYRange(0, top * 1.1, padding=0)
        _count_ticks(plot.getAxis("left"), top)
        self.drawn["throughput"] = {
            "completed": (x.tolist(), completed.tolist()),
            "failed": (x.tolist(), failed.tolist()),
            "cancelled": (x.tolist(), cancelled.tolist()),
        }

    def _draw_load(self, report: StatsReport) -> None:
        plot = self.load.getPlotItem()
        plot.clear()
        c = self._colours()
        load = report.load
        plot.plot(
            load.times,
            load.queued,
            pen=_pen(c.first),
            name=translate("Stats", "queued"),
            stepMode="left",
        )
        plot.plot(
            load.times,
            load.running,
            pen=_pen(c.second),
            name=translate("Stats", "running"),
            stepMode="left",
        )
        plot.setTitle(
            _keyed(
                translate("Stats", "Most at once"),
                [
                    (translate("Stats", "queued"), c.first),
                    (translate("Stats", "running"), c.second),
                ],
            ),
            color=self.palette().color(self.foregroundRole()).name(),
            size="9pt",
        )
        top = max([1, *load.queued, *load.running])
        plot.setYRange(0, top * 1.15, padding=0)
        _count_ticks(plot.getAxis("left"), top)
        plot.setXRange(load.times[0], load.times[-1], padding=0.01)
        self.drawn["load"] = {
            "queued": (load.times, [float(v) for v in load.queued]),
            "running": (load.times, [float(v) for v in load.running]),
        }

    def _draw_trend(self) -> None:
        pg = charts.pyqtgraph_module()
        plot = self.trend.getPlotItem()
        plot.clear()
        trend = self._trend
        c = self._colours()
        text = self.palette().color(self.foregroundRole()).name()
        empty = trend is None or not trend.ended
        for side in ("bottom", "left"):  # no made-up times ("00.250") or seconds when empty
            plot.getAxis(side).setStyle(showValues=not empty)
        if trend is None or not trend.ended:
            plot.setTitle(
                translate("Stats", "Select a job key to see the duration of its last runs"),
                color=text,
                size="9pt",
            )
            self.drawn["trend"] = {}
            return
        self._title_trend()
        plot.plot(trend.ended, trend.seconds, pen=_pen(c.second, 1.2))
        brushes = [_brush(c.bad if s == "failed" else c.ok) for s in trend.status]
        scatter = pg.ScatterPlotItem(
            trend.ended, trend.seconds, size=7, brush=brushes, pen=None, hoverable=True
        )
        plot.addItem(scatter)
        plot.setYRange(0, max(trend.seconds) * 1.15 or 1.0, padding=0)
        first, last = min(trend.ended), max(trend.ended)
        if last - first < TREND_MIN_SPAN_S:
            # one run, or runs minutes apart: a span of a few seconds would label its
            # ticks in fractions of a second ("02.250"); show times of day around them
            middle = (first + last) / 2
            plot.setXRange(middle - TREND_MIN_SPAN_S / 2, middle + TREND_MIN_SPAN_S / 2, padding=0)
        else:
            plot.enableAutoRange(axis="x")
        self.drawn["trend"] = {"seconds": (list(trend.ended), list(trend.seconds))}

    def _title_trend(self, chart_width: int | None = None) -> None:
        """Title the trend with its key, cut to the chart's width: a title wider than the
        chart would widen the plot past the chart's right edge (and hide the last runs)."""
        trend = self._trend
        if trend is None or not trend.ended:
            return
        key = self._trend_label or trend.key
        if len(trend.ended) == 1:
            title = translate("Stats", "The last run of {key}").format(key=key)
        else:
            title = translate("Stats", "Last {n} runs of {key}").format(n=len(trend.ended), key=key)
        font = QFont(self.font())
        font.setPointSizeF(9)
        item = self.trend.getPlotItem()
        # the title spans the plot's columns right of its value axis
        chart_width = self.trend.width() if chart_width is None else chart_width
        width = max(80, chart_width - max(40, int(item.getAxis("left").width())) - 16)
        title = QFontMetrics(font).elidedText(title, Qt.TextElideMode.ElideRight, width)
        text = self.palette().color(self.foregroundRole()).name()
        # the title is rich text: a key's "<" or "&" (sort < in > out) is text, not markup
        item.setTitle(html.escape(title), color=text, size="9pt")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # the trend chart is resized: cut its title to the new width before the chart lays
        # out its plot (a title left wider would hold the plot wide)
        if watched is self.trend and event.type() == QEvent.Type.Resize:
            assert isinstance(event, QResizeEvent)
            self._title_trend(event.size().width())
        return False

    # -- palette --------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            for plot in (self.throughput, self.load, self.trend):
                charts.recolour(plot, self.palette())
            if self._report is not None:
                self.show_report(self._report)
            self._draw_trend()


#: Up to this many jobs, a count axis is labelled at every whole number.
WHOLE_TICKS_UP_TO = 6


def _count_ticks(axis: Any, top: float) -> None:
    """Label an axis of job counts whose highest value is ``top`` at whole numbers only:
    left to itself, pyqtgraph labels a range of 0 to 1 or 2 at 0.5 and 1.5 jobs."""
    if top <= WHOLE_TICKS_UP_TO:
        axis.setTickSpacing(1, 1)
    else:
        axis.setTickSpacing()  # pyqtgraph's own, whole at these ranges
