"""UI benchmarks: ``python tests/bench/run.py ui``.

- Start to first paint of the main window with 1,000,000 jobs in the store, beside an empty
  store, in the same run (budget <= 1.5x the empty-store time; peak RSS <= 300 MB). Each
  start runs in a fresh child process (``python bench_ui.py first-paint DB``), alternating
  empty / full several times; the medians are compared. The child times from just before
  ``JobTracker.open`` to the end of the first paint of the history table's viewport.
- 200 running jobs reporting as fast as a few Python threads can make them: the floating
  taskbar's repaints per second (budget <= 30) and the GUI thread's p99 gap between ticks of
  a 1 ms timer (budget <= 50 ms).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: How many times each store is opened (alternating), each in a fresh process.
FIRST_PAINT_RUNS = 9
FIRST_PAINT_RATIO_BUDGET = 1.5
RSS_BUDGET_MB = 300.0
CHILD_TIMEOUT_S = 60.0

TASKBAR_JOBS = 200
TASKBAR_WORKERS = 4
TASKBAR_WARMUP_S = 0.5
TASKBAR_MEASURE_S = 3.0
REPAINT_BUDGET_PER_S = 30.0
GAP_P99_BUDGET_MS = 50.0


def report(name: str, value: float, unit: str, budget: str, ok: bool) -> int:
    verdict = "ok" if ok else "OVER BUDGET"
    print(f"{name} {value:.3f} {unit} (budget {budget}) {verdict}")
    return 0 if ok else 1


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


# --- 1) start to first paint (child side) --------------------------------------------------


def first_paint_child(db_path: str) -> int:
    """Open ``db_path``, show the main window and print the timings as one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "desktop"))
    t_import = time.perf_counter()
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from jobdeck.core import JobTracker
    from jobdeck.jobs import builtin_registry
    from jobdeck.runtime.signals import JobSignals
    from jobdeck.ui.main_window import MainWindow

    import_ms = (time.perf_counter() - t_import) * 1000
    t_app = time.perf_counter()
    app = QApplication.instance() or QApplication([])
    qapp_ms = (time.perf_counter() - t_app) * 1000

    marks: dict[str, float] = {}

    class FirstPaint(QObject):
        """Notes when the watched widget first gets a paint event, then ends the loop."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and self.key not in marks:
                marks[self.key] = time.perf_counter()
                if self.key == "viewport":
                    # runs once this paint (and the rest of the frame) is done
                    QTimer.singleShot(0, painted)
            return False

    def painted() -> None:
        marks["painted"] = time.perf_counter()
        app.quit()

    start = time.perf_counter()
    tracker = JobTracker.open(db_path, retention=None)
    opened = time.perf_counter()
    signals = JobSignals(tracker)
    registry = builtin_registry()
    window = MainWindow(tracker, signals, registry)
    built = time.perf_counter()
    window_filter = FirstPaint("window")
    viewport_filter = FirstPaint("viewport")
    window.installEventFilter(window_filter)
    window.table.viewport().installEventFilter(viewport_filter)
    window.show()
    QTimer.singleShot(int(CHILD_TIMEOUT_S * 1000), app.quit)
    app.exec()
    if "painted" not in marks:
        print(json.dumps({"error": "the history table was never painted"}))
        return 1
    rows = window.model.rowCount()
    window.close()
    signals.close()
    tracker.close()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    print(
        json.dumps(
            {
                "import_ms": import_ms,
                "qapp_ms": qapp_ms,
                "open_ms": (opened - start) * 1000,
                "build_ms": (built - start) * 1000,
                "window_paint_ms": (marks.get("window", marks["viewport"]) - start) * 1000,
                "first_paint_ms": (marks["painted"] - start) * 1000,
                "rows": rows,
                "maxrss_mb": maxrss_kb / 1024,
            }
        )
    )
    return 0


# --- 1) start to first paint (parent side) -------------------------------------------------


def run_first_paint_child(db_path: Path) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "first-paint", str(db_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT_S + 30,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"first-paint child for {db_path.name} failed (exit {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    result: dict[str, float] = json.loads(lines[-1])
    return result


def bench_first_paint(folder: Path) -> int:
    from bench_core import build_million

    from jobdeck.core import JobTracker

    empty = folder / "empty.db"
    JobTracker.open(empty, retention=None).close()
    full = folder / "million.db"
    started = time.perf_counter()
    build_million(full)
    print(f"build_1m_store_s {time.perf_counter() - started:.1f}")

    runs: dict[str, list[dict[str, float]]] = {"empty": [], "1m": []}
    run_first_paint_child(empty)  # warm the disk cache and Python's bytecode cache
    run_first_paint_child(full)
    for _ in range(FIRST_PAINT_RUNS):
        runs["empty"].append(run_first_paint_child(empty))
        runs["1m"].append(run_first_paint_child(full))

    def median(label: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[label])

    status = 0
    for label in ("empty", "1m"):
        print(f"import_ui_{label}_ms {median(label, 'import_ms'):.1f}")
        print(f"qapplication_{label}_ms {median(label, 'qapp_ms'):.1f}")
        print(f"open_store_{label}_ms {median(label, 'open_ms'):.1f}")
        print(f"build_window_{label}_ms {median(label, 'build_ms'):.1f}")
        print(f"first_paint_{label}_ms {median(label, 'first_paint_ms'):.1f}")
        print(f"history_rows_at_first_paint_{label} {median(label, 'rows'):.0f}")
    best = min(r["first_paint_ms"] for r in runs["1m"]) / min(
        r["first_paint_ms"] for r in runs["empty"]
    )
    print(f"first_paint_1m_vs_empty_best_of_{FIRST_PAINT_RUNS}_ratio {best:.3f}")
    ratio = median("1m", "first_paint_ms") / median("empty", "first_paint_ms")
    status |= report(
        "first_paint_1m_vs_empty_ratio",
        ratio,
        "x",
        f"<= {FIRST_PAINT_RATIO_BUDGET}",
        ratio <= FIRST_PAINT_RATIO_BUDGET,
    )
    print(f"peak_rss_empty_mb {max(r['maxrss_mb'] for r in runs['empty']):.1f}")
    rss = max(r["maxrss_mb"] for r in runs["1m"])
    status |= report("peak_rss_1m_mb", rss, "MB", f"<= {RSS_BUDGET_MB:.0f}", rss <= RSS_BUDGET_MB)
    return status


# --- 2) taskbar under 200 fast-reporting jobs ----------------------------------------------


def run_reporting_load(folder: Path, name: str, with_taskbar: bool) -> dict[str, Any]:
    """200 jobs updated by a few busy threads; the GUI thread's timer gaps, with or without UI.

    Without the taskbar (and its JobSignals) this is the baseline: the same tracker and
    workers, so the difference is what the UI costs the GUI thread.
    """
    from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from jobdeck.core import JobTracker
    from jobdeck.runtime.signals import JobSignals
    from jobdeck.runtime.tuning import GUI_YIELD_EVERY
    from jobdeck.ui.taskbar import Taskbar

    app = QApplication.instance() or QApplication([])

    class PaintCounter(QObject):
        """Counts the paint events the watched widget receives."""

        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    class GapRecorder(QObject):
        """A 1 ms timer on the GUI thread that records the time between its ticks."""

        def __init__(self) -> None:
            super().__init__()
            self.gaps: list[float] = []
            self._last = time.perf_counter()
            self.timer = QTimer(self)
            self.timer.setTimerType(Qt.TimerType.PreciseTimer)
            self.timer.setInterval(1)
            self.timer.timeout.connect(self._tick)

        def _tick(self) -> None:
            now = time.perf_counter()
            self.gaps.append(now - self._last)
            self._last = now

        def reset(self) -> None:
            self.gaps = []
            self._last = time.perf_counter()

    def spin(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    # The app's own choices for its process (jobdeck.runtime.tuning): the library makes none.
    tracker = JobTracker.open(
        folder / f"{name}.db", retention=None, yield_gil_every=GUI_YIELD_EVERY
    )
    signals = JobSignals(tracker) if with_taskbar else None
    taskbar = Taskbar(signals, tracker) if signals is not None else None
    paints = PaintCounter()
    if taskbar is not None:
        taskbar.installEventFilter(paints)
        taskbar.show()
    contexts = [
        tracker.create_job("bench", title=f"busy job {i}", total=1_000_000)
        for i in range(TASKBAR_JOBS)
    ]
    stop = threading.Event()
    updates = [0] * TASKBAR_WORKERS

    def work(slot: int) -> None:
        mine = contexts[slot::TASKBAR_WORKERS]
        i = 0
        while not stop.is_set():
            for ctx in mine:
                ctx.update_progress(i, 1_000_000, f"step {i}")
            i += 1
            updates[slot] += len(mine)

    gaps = GapRecorder()
    gaps.timer.start()
    workers = [
        threading.Thread(target=work, args=(n,), name=f"bench-worker-{n}", daemon=True)
        for n in range(TASKBAR_WORKERS)
    ]
    for worker in workers:
        worker.start()
    try:
        spin(TASKBAR_WARMUP_S)
        gaps.reset()
        paints.count = 0
        refreshes_before = taskbar.refresh_count if taskbar is not None else 0
        updates_before = sum(updates)
        started = time.perf_counter()
        spin(TASKBAR_MEASURE_S)
        elapsed = time.perf_counter() - started
        refreshes = (taskbar.refresh_count if taskbar is not None else 0) - refreshes_before
        repaints = paints.count
        updates_done = sum(updates) - updates_before
        gap_ms = [g * 1000 for g in gaps.gaps]
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
        gaps.timer.stop()
        for ctx in contexts:
            tracker.complete_job(ctx.job_id, success=True)
        if taskbar is not None:
            taskbar.close()
            taskbar.deleteLater()
        if signals is not None:
            signals.close()
        tracker.close()
        app.processEvents()
    return {
        "updates_per_s": updates_done / elapsed,
        "refreshes_per_s": refreshes / elapsed,
        "repaints_per_s": repaints / elapsed,
        "ticks_per_s": len(gap_ms) / elapsed,
        "gap_p99_ms": percentile(gap_ms, 0.99) if gap_ms else float("inf"),
        "gap_max_ms": max(gap_ms) if gap_ms else float("inf"),
    }


def bench_taskbar(folder: Path) -> int:
    from jobdeck.runtime.tuning import GUI_SWITCH_INTERVAL, GUI_YIELD_EVERY, SwitchInterval

    with SwitchInterval(GUI_SWITCH_INTERVAL):  # as the app runs
        base = run_reporting_load(folder, "baseline", with_taskbar=False)
        ui = run_reporting_load(folder, "taskbar", with_taskbar=True)
        switch_ms = sys.getswitchinterval() * 1000
    print(f"taskbar_jobs {TASKBAR_JOBS} (updated by {TASKBAR_WORKERS} busy threads)")
    print(f"switch_interval_ms {switch_ms:.1f} (the app's; yield_gil_every {GUI_YIELD_EVERY})")
    print(f"baseline_no_ui_worker_updates_per_s {base['updates_per_s']:.0f}")
    print(f"baseline_no_ui_gui_ticks_per_s {base['ticks_per_s']:.0f}")
    print(f"baseline_no_ui_gui_gap_p99_ms {base['gap_p99_ms']:.1f}")
    print(f"baseline_no_ui_gui_gap_max_ms {base['gap_max_ms']:.1f}")
    print(f"worker_updates_per_s {ui['updates_per_s']:.0f}")
    print(f"taskbar_refreshes_per_s {ui['refreshes_per_s']:.1f}")
    print(f"gui_ticks_per_s {ui['ticks_per_s']:.0f}")
    print(f"gui_gap_max_ms {ui['gap_max_ms']:.1f}")
    repaints = ui["repaints_per_s"]
    status = report(
        "taskbar_repaints_per_s",
        repaints,
        "/s",
        f"<= {REPAINT_BUDGET_PER_S:.0f}",
        repaints <= REPAINT_BUDGET_PER_S,
    )
    p99 = ui["gap_p99_ms"]
    status |= report(
        "gui_gap_p99_ms", p99, "ms", f"<= {GAP_P99_BUDGET_MS:.0f}", p99 <= GAP_P99_BUDGET_MS
    )
    return status


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        status = bench_first_paint(Path(tmp))
        status |= bench_taskbar(Path(tmp))
    return status


def _child_main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "first-paint":
        return first_paint_child(argv[1])
    print("usage: bench_ui.py first-paint DB_PATH (run the whole bench with run.py ui)")
    return 2


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
