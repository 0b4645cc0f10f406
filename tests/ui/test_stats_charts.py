"""The Statistics tab's trend chart with a long job key: the title fits the chart, so the
plot (and the last runs on its right) stays inside it, and a key's "<" is shown as text."""

from __future__ import annotations

from jobdeck.core.stats import KeyTrend
from jobdeck.ui.stats_charts import StatsCharts

KEY = "sort < names.txt > sorted.txt && " + "for i in $(seq 0 5 100); do echo $i%; done " * 3


def test_a_long_key_keeps_the_trend_inside_its_chart(qtbot) -> None:
    charts = StatsCharts()
    qtbot.addWidget(charts)
    charts.resize(435, 610)  # the tab's chart column at 1280x800
    charts.show()
    qtbot.waitExposed(charts)
    charts.show_trend(KeyTrend("k", [1000.0, 1260.0], [21.0, 20.0], ["completed"] * 2), KEY)
    item = charts.trend.getPlotItem()

    def inside() -> bool:
        return 0 < item.vb.sceneBoundingRect().right() <= charts.trend.width()

    qtbot.waitUntil(inside)
    title = item.titleLabel.text
    assert "Last 2 runs of sort &lt; names.txt" in title and "\u2026" in title
    charts.resize(300, 610)  # narrower: the title is cut again
    qtbot.waitUntil(inside)


def test_one_run_is_shown_among_times_of_day_not_fractions_of_a_second(qtbot) -> None:
    charts = StatsCharts()
    qtbot.addWidget(charts)
    charts.resize(435, 610)
    charts.show()
    qtbot.waitExposed(charts)
    charts.show_trend(KeyTrend("k", [1_796_103_000.0], [28.0], ["completed"]), "sleep 30")
    item = charts.trend.getPlotItem()
    assert item.titleLabel.text == "The last run of sleep 30"
    low, high = item.vb.viewRange()[0]
    assert low < 1_796_103_000.0 < high and high - low >= 1800
    # two runs hours apart: the chart spans them (and follows the data again)
    charts.show_trend(KeyTrend("k", [1000.0, 20_000.0], [5.0, 6.0], ["completed"] * 2), "k")
    qtbot.waitUntil(
        lambda: item.vb.viewRange()[0][0] <= 1000.0 < 20_000.0 <= item.vb.viewRange()[0][1]
    )
    assert "Last 2 runs of k" in item.titleLabel.text


def test_no_key_selected_shows_no_made_up_times_or_seconds(qtbot) -> None:
    """Empty, the chart's axes were labelled "00.250 00.500 00.750" and "0.2 ... 0.8"."""
    charts = StatsCharts()
    qtbot.addWidget(charts)
    charts.show_trend(None)
    item = charts.trend.getPlotItem()
    assert "Select a job key" in item.titleLabel.text
    for side in ("bottom", "left"):
        assert not item.getAxis(side).style["showValues"], side
    charts.show_trend(KeyTrend("k", [1000.0, 20_000.0], [5.0, 6.0], ["completed"] * 2), "k")
    for side in ("bottom", "left"):
        assert item.getAxis(side).style["showValues"], side


def test_job_counts_are_labelled_in_whole_jobs(qtbot) -> None:
    """'Most at once' with one or two jobs was labelled 0.5 and 1.5 jobs."""
    from jobdeck.ui import stats_charts

    charts = StatsCharts()
    qtbot.addWidget(charts)
    axis = charts.load.getPlotItem().getAxis("left")

    def labelled(top: float) -> list[float]:
        return [v for _spacing, values in axis.tickValues(0, top * 1.15, 150) for v in values]

    assert any(v % 1 for v in labelled(1)), "pyqtgraph labels whole numbers by itself now"
    for top in (1, 2, 5):
        stats_charts._count_ticks(axis, top)
        assert labelled(top) and not [v for v in labelled(top) if v % 1], top
    stats_charts._count_ticks(axis, 400)  # many: pyqtgraph's own spacing again
    assert 0 < len(labelled(400)) < 40
