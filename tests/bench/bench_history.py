"""Deep history: ``python tests/bench/run.py history`` (issue 15, items 2 and 4).

The real history model (``ui/history_model.py``) in a QTableView set up as the main window
sets it up, offscreen, over a store of 1,000,000 realistic jobs (``realistic_store``),
in a child process with the user's normal environment and the interpreter switch interval
the app sets (``runtime/tuning.py``, 0.5 ms: a search read on its thread then waits less
for the GUI thread's lock); once the first page shows, the objects made so far are left
out of the garbage collector's passes, as the app does once started (until this round
they were not: a full pass walked them all, 35-40 ms holding the interpreter lock, on
whichever thread). ``first_page_ms`` leaves out PySide6's first ``viewport()`` of a
process (it makes every QtWidgets enum, 15-90 ms), which the app does not ask for before
its first paint and the bench's repaint does. Three jobs are running, as in a
real session, so the once-a-second refresh has work to do. Figures and budgets (each
time is from the action to the end of the repaint it causes):

- ``jump_to_end_ms``: End of the list: scroll to the bottom, again while the view asks for
  more, until the oldest job is on screen (budget <= 100 ms; capped at 60 s);
- ``page_ms_at_<depth>``: one Page Down with row <depth> at the top of the view, having
  scrolled there the way the view does (for a lazy model: loading every page on the way,
  so the page at the edge is fetched), until the end of the one paint it causes (until
  this round the figure also held a second, forced repaint: twice the painting)
  (budget <= 20 ms each; depths not reached within 120 s of scrolling are over budget);
- ``peak_rss_mb``: the process's peak memory by the end (budget <= 150 MB);
- ``sort_ms_max``: each column sorted ascending and descending after the deep scroll
  (budget <= 200 ms);
- ``refresh_ms``: the GUI thread's cost of the per-second refresh (the longest pauses
  of a 1 ms timer over 3.5 idle seconds) and ``new_job_ms``: from a new job's batch reaching
  the model to the repaint (budget <= 20 ms each, a page's);
- ``search_ms_max``: typing a search (a common word, a rare one, one that matches nothing)
  until its first page is painted or known to be empty, the GUI thread waiting for events
  meanwhile as the app's does (budget <= 20 ms; the view tells the model the rows it
  shows, as the main window's does, and a search reads those first), and
  ``search_gui_gap_ms``: the GUI thread's longest pause meanwhile (a search read off the
  GUI thread never freezes it; budget <= 50 ms);
- ``clock_runs_while_hidden``: whether the per-second refresh still runs once the view is
  hidden (budget: no);
- ``open_s``: opening the 1M-job store, which migrates it from the previous schema (the
  counts and the empty text index of schema 6) the first time; ``index_build_s``: how long
  the build after open (sort indexes, the old jobs into the text index, on a thread of
  its own) then takes; the figures above are measured once it is done.

**Before and after, side by side**: the same child runs twice in one run, first with the
code of a baseline git revision (``JOBDECK_BENCH_BASELINE``, default the merge base with
``main``; this bench's child over that revision's package (the child uses only the model's
public surface), on a copy of the store at that revision's schema), then with
this tree (on another copy, migrated at open). ``--quick`` runs the small variant of this
tree only.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import figure, info  # noqa: E402
from honest_env import header, quick, run_json_child  # noqa: E402

JOBS = 1_000_000
DEPTHS = (1_000, 10_000, 100_000, 500_000)
JUMP_CAP_S = 60.0
WALK_CAP_S = 120.0
SEARCHES = ("rsync", "IMG_0042.jpg", "no-such-job-anywhere")

BUDGET_END_MS = 100.0
BUDGET_PAGE_MS = 20.0
BUDGET_RSS_MB = 150.0
BUDGET_SORT_MS = 200.0
BUDGET_TICK_MS = 20.0
BUDGET_SEARCH_MS = 20.0
BUDGET_SEARCH_GAP_MS = 50.0
ROOT = HERE.parents[1]


# --- the child: the model and a view ------------------------------------------------------------


def history_child(db: str, jump_cap: float, walk_cap: float) -> int:
    from PySide6.QtCore import QEventLoop, QModelIndex, Qt
    from PySide6.QtWidgets import (
        QAbstractItemView,
        QApplication,
        QScrollArea,
        QScrollBar,
        QTableView,
    )
    from qt_wait import GapMeter, spin_for

    PaintCounter = _paint_counter_class()

    from jobdeck.core import JobTracker
    from jobdeck.runtime import JobSignals
    from jobdeck.ui.history_model import Column, HistoryModel

    qapp = QApplication.instance() or QApplication([])
    try:  # the interpreter's switch interval the app runs with (runtime/tuning.py)
        from jobdeck.runtime.tuning import GUI_SWITCH_INTERVAL, SwitchInterval

        SwitchInterval(GUI_SWITCH_INTERVAL).apply()
    except ImportError:  # a baseline revision without it runs at Python's default
        pass
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (oldest_title,) = conn.execute("SELECT title FROM jobs ORDER BY id LIMIT 1").fetchone()
    opening = time.perf_counter()
    tracker = JobTracker.open(db, retention=None)
    open_s = time.perf_counter() - opening
    build = getattr(tracker.store, "_history_build", None)  # the baseline has none
    if build is not None:  # the indexes the migration left for after open, on their thread
        build.done.wait(3600)
    build_s = time.perf_counter() - opening - open_s
    running = [tracker.create_job("command", title=f"running job {k}", total=100) for k in range(3)]
    total = tracker.count_jobs()
    signals = JobSignals(tracker)
    batch: dict[str, float] = {}

    def batch_starts(_: object) -> None:
        batch.setdefault("start", time.perf_counter())

    def batch_handled(_: object) -> None:
        batch["end"] = time.perf_counter()

    signals.jobsAdded.connect(batch_starts)  # before the model's own slots...
    signals.jobsChanged.connect(batch_starts)
    import jobdeck

    out: dict[str, Any] = {"total": total, "open_s": open_s, "index_build_s": build_s}
    out["package"] = str(Path(jobdeck.__file__).parent)  # (the one measured)

    def make_view() -> tuple[HistoryModel, QTableView]:
        model = HistoryModel(tracker, signals)
        view = QTableView()
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.horizontalHeader().setSortIndicator(Column.STARTED, Qt.SortOrder.DescendingOrder)
        view.setSortingEnabled(True)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.resize(1000, 560)
        try:  # the main window tells the model the rows it shows (a search reads those)
            from jobdeck.ui.rows_shown import RowsShown

            view._rows_shown = RowsShown(view, model)  # type: ignore[attr-defined]
        except ImportError:  # a baseline revision without it reads a tall screenful
            pass
        view.show()
        return model, view

    def settle(view: QTableView) -> None:
        qapp.processEvents()
        view.viewport().repaint()

    def last_row_shown(model: HistoryModel, view: QTableView) -> bool:
        bottom = view.rowAt(view.viewport().height() - 2)
        last = model.rowCount() - 1
        if not (bottom == last or (bottom == -1 and last >= 0)) or model.rowCount() < total:
            return False
        return model.data(model.index(last, Column.TITLE)) == oldest_title

    # 1) the first page, then End until the oldest job shows. The bench's settle() asks the
    # view for its viewport, which the app does not do before its first paint (see
    # ui.rows_shown): PySide6's first viewport() of a process makes every QtWidgets enum
    # (15-90 ms, by load), then counted in the first page. It is done before, on a widget
    # of its own.
    QScrollArea().viewport()
    started = time.perf_counter()
    model, view = make_view()
    settle(view)
    out["first_page_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    while not last_row_shown(model, view) and time.perf_counter() - started < jump_cap:
        view.scrollToBottom()
        settle(view)
    out["jump_ms"] = (time.perf_counter() - started) * 1000
    out["jump_reached"] = last_row_shown(model, view)
    out["jump_rows"] = model.rowCount()
    out["rss_after_jump_mb"] = _rss_mb()
    try:  # the app started: what it does with the objects of its start (runtime/tuning.py)
        from jobdeck.runtime.tuning import freeze_startup_objects

        freeze_startup_objects()
    except ImportError:  # a baseline revision without it
        pass
    view.close()
    view.deleteLater()
    model.deleteLater()
    qapp.processEvents()

    # 2) Page Down at increasing depths, scrolling there as the view does
    model, view = make_view()
    settle(view)
    signals.jobsAdded.connect(batch_handled)  # ...and after them
    signals.jobsChanged.connect(batch_handled)
    visible = max(1, view.rowAt(view.viewport().height() - 2) - view.rowAt(0))
    bar = view.verticalScrollBar()
    paints = PaintCounter()
    view.viewport().installEventFilter(paints)
    pages: dict[str, Any] = {}
    walk_started = time.perf_counter()
    depths = [(f"{d // 1000}k", d) for d in DEPTHS if d < total - 5 * visible]
    # "end": the last three Page Downs that all move (one more would not scroll)
    for label, depth in [*depths, ("end", total - 5 * visible)]:
        while model.rowCount() <= depth + visible and model.canFetchMore(QModelIndex()):
            if time.perf_counter() - walk_started > walk_cap:
                break
            model.fetchMore(QModelIndex())
        if model.rowCount() <= depth + visible:
            pages[label] = None  # not reached in time
            continue
        costs = []
        for step in range(3):
            view.scrollTo(model.index(depth + step * visible, 0), view.ScrollHint.PositionAtTop)
            settle(view)
            before = time.perf_counter()
            painted, value = paints.count, bar.value()
            bar.triggerAction(QScrollBar.SliderAction.SliderPageStepAdd)
            moved = bar.value() != value  # at the very end it cannot: nothing to paint
            while moved and paints.count == painted and time.perf_counter() - before < 5:
                qapp.processEvents()  # until the paint the Page Down causes is done
            costs.append((time.perf_counter() - before) * 1000)
        pages[label] = statistics.median(costs)
    out["pages_ms"] = pages
    out["walk_rows"] = model.rowCount()
    out["walk_s"] = time.perf_counter() - walk_started

    # 3) the per-second refresh and a new job, with the rows the walk loaded
    meter = GapMeter()
    meter.start()
    spin_for(3.5)
    meter.stop()
    out["tick_ms"] = statistics.median(sorted(meter.gaps)[-3:]) * 1000
    new_jobs = []
    for k in range(5):
        batch.clear()
        ctx = tracker.create_job("command", title=f"new job {k}")
        spin_for(0.3)
        if "start" in batch and "end" in batch:
            before = time.perf_counter()
            view.viewport().repaint()
            new_jobs.append((batch["end"] - batch["start"] + time.perf_counter() - before) * 1000)
        tracker.complete_job(ctx.job_id)
        spin_for(0.1)
    out["new_job_ms"] = statistics.median(new_jobs) if new_jobs else None

    # 4) sort by each column, both ways
    sorts: dict[str, float] = {}
    for column in Column:
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            before = time.perf_counter()
            view.sortByColumn(column, order)
            settle(view)
            sorts[f"{column.name.lower()}_{order.name[:-5].lower()}"] = (
                time.perf_counter() - before
            ) * 1000
    out["sorts_ms"] = sorts
    view.sortByColumn(Column.STARTED, Qt.SortOrder.DescendingOrder)
    settle(view)

    # 5) search: until the first page is painted (or the model knows there is none),
    #    with the GUI thread's longest pause meanwhile; the GUI thread waits for events as
    #    the app's loop does (until this round it forced a repaint per turn, and another at
    #    the end, each a full paint of the view counted in the figure)
    searches: dict[str, float] = {}
    gaps: list[float] = []
    for text in SEARCHES:
        meter = GapMeter()
        meter.start()
        before = time.perf_counter()
        painted = paints.count
        model.set_filter(search=text)
        deadline = before + 120
        while model.search_pending and time.perf_counter() < deadline:
            # as the app's event loop waits (the meter's 1 ms timer wakes it at the latest)
            qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        arrived = paints.count
        for _ in range(3):  # then the paint the rows (or "none") cause
            qapp.processEvents()
            if paints.count > arrived or (paints.count > painted and not model.rowCount()):
                break
        searches[text] = (time.perf_counter() - before) * 1000
        meter.stop()
        gaps.append(max(meter.gaps, default=0.0) * 1000)
        out.setdefault("search_rows", {})[text] = model.rowCount()
    out["search_gap_ms"] = max(gaps)
    model.set_filter(search=None)
    out["searches_ms"] = searches
    view.hide()
    model.set_ticking(False)  # what the main window does when it is hidden
    spin_for(0.2)
    out["clock_runs_while_hidden"] = model.live_clock_running
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for ctx in running:
        tracker.complete_job(ctx.job_id)
    view.close()
    signals.close()
    tracker.close()
    print(json.dumps(out), flush=True)
    return 0


def _paint_counter_class() -> type:
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        """Counts the paint events of the widget it filters (the view's viewport)."""

        count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    return PaintCounter


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- the parent ---------------------------------------------------------------------------------


def baseline_ref() -> str:
    ref = os.environ.get("JOBDECK_BENCH_BASELINE")
    if ref:
        return ref
    done = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or "HEAD~1"


def run_baseline(ref: str, work: Path, n: int) -> dict[str, Any] | None:
    """This bench's history child over the baseline revision's package, on a copy of that
    revision's store (its realistic_store and schema), or None when it cannot be run."""
    tree = work / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "desktop", "tests/bench", "resources"],
        capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        print(f"# baseline {ref}: git archive failed: {archive.stderr.decode()[-300:]}")
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    bench = tree / "tests" / "bench"
    db = work / "baseline.db"
    build = (
        f"import sys; sys.path[:0] = [{str(tree / 'desktop')!r}, {str(bench)!r}]\n"
        f"from realistic_store import cached_store\ncached_store(__import__('pathlib').Path("
        f"{str(db)!r}), {n})"
    )
    done = subprocess.run([sys.executable, "-c", build], capture_output=True, text=True)
    print(done.stdout.strip())
    if done.returncode != 0:
        print(f"# baseline store could not be built: {done.stderr[-500:]}")
        return None
    package = str(tree / "desktop")
    return run_json_child(
        Path(__file__),  # the same child (and switch interval), the baseline's package
        ["child", str(db), str(JUMP_CAP_S), str(WALK_CAP_S)],
        timeout=3600,
        # (the child puts the package it measures first on its path: this one)
        extra_env={"PYTHONPATH": package, "JOBDECK_BENCH_PACKAGE": package},
    )


def main() -> int:
    from realistic_store import cached_store

    small = quick()
    n = 2_000 if small else JOBS
    header("history", f"scrolling, sorting and searching a history of {n:,} realistic jobs")
    with tempfile.TemporaryDirectory(prefix="jd-history-") as name:
        work = Path(name)
        before = None
        if not small:
            ref = baseline_ref()
            print(f"# before: revision {ref} (its own model, store and bench child)")
            before = run_baseline(ref, work, n)
            # this tree opens a copy of the same (older-schema) store: the migration is timed
            source = work / "baseline.db"
            db = work / "jobs.db"
            if source.exists():
                shutil.copyfile(source, db)
            else:
                db = cached_store(db, n)
        else:
            db = cached_store(work / "jobs.db", n)
        caps = ("2", "3") if small else (str(JUMP_CAP_S), str(WALK_CAP_S))
        print("# after: this tree")
        after = run_json_child(Path(__file__), ["child", str(db), *caps], timeout=3600)
    return report(after, before)


def _jump(r: dict[str, Any]) -> float:
    if r["jump_reached"]:
        return float(r["jump_ms"])
    rows, spent = r["jump_rows"], r["jump_ms"]
    print(f"# End did not reach the oldest job: {rows:,} rows after {spent:.0f} ms")
    return float("inf")


def _side(name: str, before: float | None, unit: str) -> None:
    if before is not None:
        print(f"#   before: {name} {before:.3f} {unit}")


def report(r: dict[str, Any], before: dict[str, Any] | None = None) -> int:
    """Print this tree's figures against their budgets, each with the baseline's figure
    beside it when there is one."""
    b = before or {}
    status = 0
    print(f"# after: the package in {r.get('package')}")
    if b:
        print(f"# before: the package in {b.get('package', '(not said)')}")
    info("jobs_in_store", f"{r['total']:,}")
    info("open_s", r["open_s"], "s (the first open migrates the store)")
    if r.get("index_build_s") is not None:
        info("index_build_s", r["index_build_s"], "s (built after open, off the GUI thread)")
    info("first_page_ms", r["first_page_ms"], "ms")
    _side("first_page_ms", b.get("first_page_ms"), "ms")
    jump = _jump(r)
    status |= figure("jump_to_end_ms", jump, "ms", f"<= {BUDGET_END_MS:g}", jump <= BUDGET_END_MS)
    if b:
        _side("jump_to_end_ms", _jump(b), "ms")
    info("rss_after_jump_mb", r["rss_after_jump_mb"], "MB")
    _side("rss_after_jump_mb", b.get("rss_after_jump_mb"), "MB")
    print(f"# paging: {r['walk_rows']:,} rows in the model after {r['walk_s']:.1f} s of scrolling")
    for depth, cost in r["pages_ms"].items():
        value = float("inf") if cost is None else cost
        if cost is None:
            print(f"# depth {depth} was not reached within the scrolling time")
        status |= figure(
            f"page_ms_at_{depth}", value, "ms", f"<= {BUDGET_PAGE_MS:g}", value <= BUDGET_PAGE_MS
        )
        if b:
            old = b["pages_ms"].get(depth)
            _side(f"page_ms_at_{depth}", float("inf") if old is None else old, "ms")
    rss = r["peak_rss_mb"]
    status |= figure("peak_rss_mb", rss, "MB", f"<= {BUDGET_RSS_MB:g}", rss <= BUDGET_RSS_MB)
    _side("peak_rss_mb", b.get("peak_rss_mb"), "MB")
    for name, cost in r["sorts_ms"].items():
        info(f"sort_{name}_ms", cost, "ms")
        _side(f"sort_{name}_ms", b.get("sorts_ms", {}).get(name), "ms")
    worst = max(r["sorts_ms"].values())
    status |= figure("sort_ms_max", worst, "ms", f"<= {BUDGET_SORT_MS:g}", worst <= BUDGET_SORT_MS)
    _side("sort_ms_max", max(b["sorts_ms"].values()) if b else None, "ms")
    tick = r["tick_ms"]
    status |= figure("refresh_ms", tick, "ms", f"<= {BUDGET_TICK_MS:g}", tick <= BUDGET_TICK_MS)
    _side("refresh_ms", b.get("tick_ms"), "ms")
    hidden = bool(r.get("clock_runs_while_hidden"))
    status |= figure("clock_runs_while_hidden", float(hidden), "", "0 (stopped)", not hidden)
    new = r["new_job_ms"] if r["new_job_ms"] is not None else float("inf")
    status |= figure("new_job_ms", new, "ms", f"<= {BUDGET_TICK_MS:g}", new <= BUDGET_TICK_MS)
    _side("new_job_ms", b.get("new_job_ms"), "ms")
    for text, cost in r["searches_ms"].items():
        rows = r["search_rows"][text]
        info(f"search_ms[{text}]", cost, f"ms ({rows:,} rows)")
        _side(f"search_ms[{text}]", b.get("searches_ms", {}).get(text), "ms")
    worst = max(r["searches_ms"].values())
    status |= figure(
        "search_ms_max", worst, "ms", f"<= {BUDGET_SEARCH_MS:g}", worst <= BUDGET_SEARCH_MS
    )
    _side("search_ms_max", max(b["searches_ms"].values()) if b else None, "ms")
    gap = r["search_gap_ms"]
    status |= figure(
        "search_gui_gap_ms", gap, "ms", f"<= {BUDGET_SEARCH_GAP_MS:g}", gap <= BUDGET_SEARCH_GAP_MS
    )
    _side("search_gui_gap_ms", b.get("search_gap_ms"), "ms")  # (same child, its package)
    return status


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        # the package measured: the baseline's (run_baseline names it), else this tree's
        package = os.environ.get("JOBDECK_BENCH_PACKAGE") or str(HERE.parents[1] / "desktop")
        sys.path.insert(0, package)
        sys.exit(history_child(sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
    print("usage: run the benchmark with `python tests/bench/run.py history`")
    sys.exit(2)
