"""Statistics views on a big store: ``python tests/bench/run.py stats`` (issue 12).

A copy of a store of 1,000,000 realistic finished jobs (``realistic_store``, one every
0.5 s: about 5.8 days) is opened and each view of :class:`jobdeck.core.stats.JobStats` --
per type, per key (the 500 busiest), failures, throughput, queue depth/running, a key's last
runs, and the whole report -- is timed for each period (24h, 7d, 30d, all), each call
including the refresh that checks the store for changes. The median of five calls counts.
The first refresh, which reads every finished job into the columns once (off the GUI
thread in the app), is shown for context, with the columns' memory.

Then retention (3 days) deletes about half of the jobs into the roll-up and the views are
timed again: the same budget must hold with the roll-up in play.

First of all, the Statistics tab's first numbers at a start, as the tab gets them (a
:class:`~jobdeck.ui.stats_loader.StatsLoader` computing the 7-day report off the GUI
thread, a 1 ms timer on the GUI thread measuring its longest pause meanwhile), side by side
in this run: ``scan`` is a start with no kept columns (every finished job read, as a78e424
did at every start; the columns are then kept, ``kept_columns_write_s``), ``kept`` the next
start, from the kept columns (budget <= 1 s, the GUI thread never paused > 50 ms).

Budget: <= 200 ms per view and period (the whole report, every view at once, is shown for
context). Each figure's CPU time is shown beside it: on a shared machine the wall time also
counts the time other processes had the CPU.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import figure, info  # noqa: E402
from honest_env import header, quick  # noqa: E402

from jobdeck.core import JobTracker  # noqa: E402
from jobdeck.core.stats import JobStats, Period  # noqa: E402
from jobdeck.core.stats_data import Columns  # noqa: E402
from jobdeck.core.stats_snapshot import FILE_NAME  # noqa: E402

STORE_JOBS = 1_000_000
CALLS = 5
BUDGET_MS = 200.0


#: CPU milliseconds of each figure's calls (context for a loaded machine, where the wall
#: clock also counts the time other processes had the CPU).
CPU_MS: dict[str, float] = {}


def _ms(call: Callable[[], Any], name: str = "") -> float:
    times = []
    cpu = []
    for _ in range(CALLS):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    CPU_MS[name] = statistics.median(cpu)
    return statistics.median(times)


def _columns_mb(stats: JobStats) -> float:
    cols, _roll = stats.data.snapshot()
    return sum(getattr(cols, name).nbytes for name in Columns.NAMES) / 2**20


def first_numbers(db: Path, label: str) -> int:
    """The tab's first numbers at a start without kept columns, then at the next start."""
    from qt_wait import GapMeter, app, spin_until

    from jobdeck.jobs import builtin_registry
    from jobdeck.ui.stats_loader import StatsLoader

    app()
    for name in ("jobdeck.core.stats_data", "jobdeck.core.stats_snapshot", "jobdeck.ui"):
        logger = logging.getLogger(name)  # why kept columns were not used, if they were not
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
    kept = db.parent / (db.name + ".d") / FILE_NAME
    status = 0
    for side in ("scan", "kept"):
        with JobTracker.open(db, retention=None, registry=builtin_registry()) as tracker:
            stats = JobStats(tracker)
            loader = StatsLoader(stats)
            got: list[Any] = []
            loader.loaded.connect(got.append)
            loader.failed.connect(got.append)
            meter = GapMeter()
            meter.start()
            started, started_cpu = time.perf_counter(), time.process_time()
            loader.request(Period.WEEK)
            spin_until(lambda got=got: bool(got), timeout=600)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - started_cpu
            meter.stop()
            gap_ms = max(meter.gaps, default=0.0) * 1000
            writing = time.perf_counter()
            loader.shutdown()  # (waits for the columns being kept)
            written = time.perf_counter() - writing
            assert got and not isinstance(got[0], str), got
            name = f"{label}_first_numbers_{side}"
            if side == "kept":
                status |= figure(f"{name}_s", seconds, "s", "<= 1", seconds <= 1.0)
                status |= figure(f"{name}_gui_gap_ms", gap_ms, "ms", "<= 50", gap_ms <= 50)
            else:
                info(f"{name}_s", seconds, "s")
                info(f"{name}_gui_gap_ms", gap_ms, "ms")
                info(f"{label}_kept_columns_write_s", written, "s")
                size = kept.stat().st_size / 2**20 if kept.exists() else 0.0
                info(f"{label}_kept_columns_file_mb", size, "MB")
            info(f"{name}_cpu_s", cpu, "s")
            info(f"{name}_rows_read", f"{stats.data.rows_read:,}")
    return status


def time_views(db: Path, label: str, retention: timedelta | None) -> int:
    status = 0
    started = time.perf_counter()
    with JobTracker.open(db, retention=retention) as tracker:
        if retention is not None:
            info(f"{label}_retention_s", time.perf_counter() - started, "s")
        stats = JobStats(tracker)
        started = time.perf_counter()
        stats.data.refresh()
        info(f"{label}_first_refresh_s", time.perf_counter() - started, "s")
        info(f"{label}_columns_mb", _columns_mb(stats), "MB")
        info(f"{label}_jobs_stored", f"{tracker.count_jobs():,}")
        info(f"{label}_refresh_unchanged_ms", _ms(stats.data.refresh), "ms")
        busiest = stats.by_key(Period.ALL, limit=1)[0]
        key = busiest[0].name if busiest else ""
        for period in Period:
            views: dict[str, Callable[[], Any]] = {
                "by_type": partial(stats.by_type, period),
                "by_key": partial(stats.by_key, period),
                "failures": partial(stats.failures, period),
                "throughput": partial(stats.throughput, period),
                "load": partial(stats.load, period),
                "report": partial(stats.report, period),
            }
            for name, call in views.items():
                figure_name = f"{label}_{period.value}_{name}_ms"
                ms = _ms(call, figure_name)
                if name == "report":  # every view at once: shown, the budget is per view
                    info(figure_name, ms, "ms")
                else:
                    status |= figure(figure_name, ms, "ms", f"<= {BUDGET_MS:g}", ms <= BUDGET_MS)
                info(f"{figure_name}_cpu", CPU_MS[figure_name], "ms")
        ms = _ms(lambda: stats.trend(key, 50))
        status |= figure(f"{label}_key_trend_ms", ms, "ms", f"<= {BUDGET_MS:g}", ms <= BUDGET_MS)
        report = stats.report(Period.ALL)
        rolled = sum(s.rolled_up for s in report.by_type)
        info(f"{label}_all_runs", f"{sum(s.runs for s in report.by_type):,} ({rolled:,} rolled up)")
    return status


def main() -> int:
    from realistic_store import cached_store

    store_jobs = 3_000 if quick() else STORE_JOBS
    header("stats", f"statistics views on {store_jobs:,} realistic jobs, then after retention")
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    status = 0
    with tempfile.TemporaryDirectory(prefix="jd-stats-") as name:
        tmp = Path(name)
        db = cached_store(tmp / "jobs.db", store_jobs)
        label = f"{store_jobs // 1000}k" if store_jobs < 1_000_000 else "1m"
        first = tmp / "first.db"
        shutil.copyfile(db, first)
        status |= first_numbers(first, label)
        status |= time_views(db, label, None)
        kept = tmp / "kept.db"
        shutil.copyfile(db, kept)
        days = 3 if not quick() else 0.01
        status |= time_views(kept, f"{label}_retention{days:g}d", timedelta(days=days))
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return status
