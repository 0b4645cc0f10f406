"""Plots that follow the application's palette (pyqtgraph, imported on first use).

pyqtgraph is imported only when :func:`new_plot` first builds a plot, never at start-up
(start-up time is benchmarked). A plot made here takes its background, axes, text and grid
from the palette, and :func:`recolour` applies a new palette to it (call it on
``QEvent.PaletteChange``); :func:`series_colours` gives series colours that read on the
palette's background, light or dark. Shared by every chart of the app (statistics, and any
other widget that plots). GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    import pyqtgraph

__all__ = ["SeriesColours", "is_dark", "new_plot", "pyqtgraph_module", "recolour", "series_colours"]

_MODULE: Any = None


def pyqtgraph_module() -> Any:
    """pyqtgraph, imported on first call (configured for antialiased lines)."""
    global _MODULE
    if _MODULE is None:
        import pyqtgraph

        pyqtgraph.setConfigOptions(antialias=True, foreground="k", background=None)
        _MODULE = pyqtgraph
    return _MODULE


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


@dataclass(frozen=True)
class SeriesColours:
    """Colours of the series, chosen to read on the palette's background."""

    ok: QColor  # completed runs
    bad: QColor  # failed runs
    muted: QColor  # cancelled runs
    first: QColor  # a first line series (queued)
    second: QColor  # a second line series (running)


def series_colours(palette: QPalette) -> SeriesColours:
    if is_dark(palette):
        return SeriesColours(
            QColor("#5fb878"), QColor("#ff6b6b"), QColor("#8a8f98"), QColor("#e0a84e"),
            QColor("#6ea8fe"),
        )  # fmt: skip
    return SeriesColours(
        QColor("#2e8540"), QColor("#c62828"), QColor("#9aa0a6"), QColor("#b26a00"),
        QColor("#1f5fbf"),
    )  # fmt: skip


def new_plot(parent: QWidget, *, title: str, left: str, dates: bool = True) -> pyqtgraph.PlotWidget:
    """A plot widget with a date/time bottom axis (when ``dates``), a light grid, no mouse
    panning (a statistics chart is read, not explored) and the parent's palette."""
    pg = pyqtgraph_module()
    axes = {"bottom": pg.DateAxisItem(orientation="bottom")} if dates else {}
    plot = pg.PlotWidget(parent, axisItems=axes)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setMinimumHeight(150)
    item = plot.getPlotItem()
    item.setTitle(title)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.15)
    plot.setProperty("jobdeck_title", title)
    plot.setProperty("jobdeck_left", left)
    recolour(plot, parent.palette())
    return plot


def recolour(plot: pyqtgraph.PlotWidget, palette: QPalette) -> None:
    """Apply ``palette`` to a plot made by :func:`new_plot` (background, axes, title)."""
    pg = pyqtgraph_module()
    text = palette.color(QPalette.ColorRole.Text)
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    axis_pen = pg.mkPen(palette.color(QPalette.ColorRole.Mid).darker(110) if not is_dark(palette)
                        else palette.color(QPalette.ColorRole.Light))  # fmt: skip
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(axis_pen)
        axis.setTextPen(pg.mkPen(text))
    left = plot.property("jobdeck_left")
    if left:
        item.setLabel("left", left, color=text.name())
    title = plot.property("jobdeck_title")
    if title:
        item.setTitle(title, color=text.name(), size="10pt")
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(text)
        legend.setBrush(pg.mkBrush(palette.color(QPalette.ColorRole.Base)))
