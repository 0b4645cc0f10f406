"""Statistics (core.stats): what each view says about real finished jobs, on SQLite and on a
PostgreSQL board, and that retention deleting jobs leaves a 30-day view unchanged."""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.core.stats import JobStats, Period, StatsReport, key_label

from .conftest import either_store

DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store_where(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    return either_store(request, db_path)


def _noop(ctx: object, folder: str = "", note: str = "") -> None:
    return None


def registry() -> JobRegistry:
    reg = JobRegistry()
    reg.register("backup", _noop, key_params=("folder",))
    reg.register("scan", _noop)
    return reg


def run(
    tracker: JobTracker,
    clock: FakeClock,
    type_name: str,
    seconds: float,
    *,
    folder: str = "/home",
    error: str | None = None,
    cancel: bool = False,
    rss: int | None = None,
) -> str:
    """One job that runs ``seconds`` on the fake clock and ends as asked."""
    ctx = tracker.create_job(type_name, params={"folder": folder, "note": str(seconds)})
    clock.advance(seconds)
    if rss is not None:
        tracker.set_resource_usage(ctx.job_id, peak_rss=rss, cpu_seconds=seconds / 2)
    if cancel:
        tracker.cancel_job(ctx.job_id)
        tracker.mark_cancelled(ctx.job_id)
    else:
        tracker.complete_job(ctx.job_id, success=error is None, error=error)
    return ctx.job_id


@pytest.fixture
def tracker(store_where: str | Path, clock: FakeClock) -> Iterator[JobTracker]:
    t = JobTracker.open(store_where, clock=clock, registry=registry(), instance="tests")
    yield t
    t.close()


def test_per_type_and_per_key_numbers(tracker: JobTracker, clock: FakeClock) -> None:
    for seconds in (10, 20, 30, 40, 100):
        run(tracker, clock, "backup", seconds, folder="/home")
    run(tracker, clock, "backup", 5, folder="/srv", error="disk full\nwhile writing x")
    run(tracker, clock, "backup", 7, folder="/srv", error="disk full\nwhile writing y")
    run(tracker, clock, "backup", 3, folder="/srv", cancel=True)
    run(tracker, clock, "scan", 60, rss=300 << 20)
    run(tracker, clock, "scan", 40, rss=200 << 20)
    stats = JobStats(tracker)

    by_type = {s.name: s for s in stats.by_type("24h")}
    backup = by_type["backup"]
    assert (backup.runs, backup.completed, backup.failed, backup.cancelled) == (8, 5, 2, 1)
    assert backup.success_rate == pytest.approx(5 / 7)
    assert backup.max_s == pytest.approx(100)
    assert backup.mean_s == pytest.approx(40)
    assert backup.p50_s is not None and 25 <= backup.p50_s <= 36  # 30 s, a 19 % bucket
    assert backup.p90_s is not None and 80 <= backup.p90_s <= 100
    assert backup.peak_rss is None and backup.resource_runs == 0  # no process jobs here
    scan = by_type["scan"]
    assert scan.runs == 2 and scan.max_s == pytest.approx(60)
    assert scan.peak_rss == 300 << 20 and scan.cpu_mean_s == pytest.approx(25)
    assert scan.resource_runs == 2

    keys, total = stats.by_key("24h")
    assert total == 4  # the two scans differ in their note: every param counts
    named = {s.name: s for s in keys}
    home = named['backup {"folder":"/home"}']  # the note is not part of the key
    assert home.runs == 5 and home.label == "backup: folder=/home" and home.type == "backup"
    srv = named['backup {"folder":"/srv"}']
    assert (srv.failed, srv.cancelled, srv.success_rate, srv.p50_s) == (2, 1, 0.0, None)

    failures = stats.failures("24h")
    assert [(f.first_line, f.type, f.runs) for f in failures] == [("disk full", "backup", 2)]
    assert failures[0].last_ts == pytest.approx(clock() - 3 - 60 - 40)
    assert stats.failures("24h", key='backup {"folder":"/home"}') == []

    trend = stats.trend('backup {"folder":"/home"}', runs=3)
    assert trend.seconds == pytest.approx([30, 40, 100])
    assert trend.status == ["completed"] * 3
    assert trend.ended == sorted(trend.ended)


def test_periods_throughput_and_load(tracker: JobTracker, clock: FakeClock) -> None:
    run(tracker, clock, "scan", 30)  # 3 days ago
    clock.advance(3 * DAY)
    first = tracker.enqueue("scan")  # queued for 10 minutes, then runs 20 minutes
    second = tracker.enqueue("scan")
    clock.advance(600)
    tracker.start_job(first.id)
    clock.advance(1200)
    tracker.complete_job(first.id, success=False, error="boom")
    tracker.start_job(second.id)
    clock.advance(60)
    stats = JobStats(tracker)

    assert [s.runs for s in stats.by_type("24h")] == [1]
    assert [s.runs for s in stats.by_type(Period.WEEK)] == [2]
    assert [s.runs for s in stats.by_type("all")] == [2]

    hourly = stats.throughput("24h")
    assert hourly.bucket_s == 3600 and len(hourly.starts) in (24, 25)
    assert sum(hourly.failed) == 1 and sum(hourly.completed) == 0
    assert hourly.starts[-1] <= clock() - 1260 < hourly.starts[-1] + 2 * 3600
    daily = stats.throughput("7d")
    assert daily.bucket_s == DAY and sum(daily.completed) == 1 and sum(daily.failed) == 1

    load = stats.load("24h")
    at = {round(t): (q, r) for t, q, r in zip(load.times, load.queued, load.running, strict=True)}
    assert max(load.queued) == 2  # both waited at first
    assert load.queued[-1] == 0 and load.running[-1] == 1  # the second runs now
    assert max(load.running) == 1
    assert at[round(load.times[-1])] == (0, 1)


def test_period_names_are_checked() -> None:
    assert Period.parse(" 7D ") is Period.WEEK
    with pytest.raises(ValueError, match="unknown period 'week': use one of 24h, 7d, 30d, all"):
        Period.parse("week")


def test_a_key_in_short() -> None:
    assert key_label('command {"argv":["rsync","-a","my dir/"],"cwd":"/home"}') == (
        "rsync -a 'my dir/' in /home"
    )
    assert key_label("countdown {}") == "countdown"


def _summary(report: StatsReport) -> dict[str, object]:
    """What must not change when retention deletes jobs (resource use is not kept)."""
    return {
        "by_type": [
            (s.name, s.runs, s.completed, s.failed, s.cancelled, s.p50_s, s.p90_s, s.max_s)
            for s in report.by_type
        ],
        "means": [round(s.mean_s or 0, 6) for s in report.by_type],
        "by_key": [(s.name, s.runs, s.failed, s.p90_s, s.max_s) for s in report.by_key],
        "failures": [(f.first_line, f.type, f.runs) for f in report.failures],
        "throughput": (
            report.throughput.starts,
            report.throughput.completed,
            report.throughput.failed,
            report.throughput.cancelled,
        ),
    }


def _month_of_jobs(tracker: JobTracker, clock: FakeClock) -> None:
    for day in range(28):
        for i in range(3):
            error = f"exit status {1 + i % 2}; last output:\nline {day}" if day % 4 == i else None
            run(tracker, clock, "backup", 10 + 7 * i + day, folder=f"/f{i}", error=error)
        run(tracker, clock, "scan", 5 + day, cancel=day % 5 == 0)
        clock.advance(DAY - 200)


def test_a_30_day_view_stays_right_after_a_7_day_retention(
    store_where: str | Path, clock: FakeClock
) -> None:
    with JobTracker.open(store_where, clock=clock, registry=registry(), retention=None) as t:
        _month_of_jobs(t, clock)
        before = JobStats(t).report("30d")
        kept = JobStats(t)
        kept.data.refresh()
        assert t.count_jobs() == 28 * 4
    assert before.by_type[0].rolled_up == 0
    week = timedelta(days=7)
    with JobTracker.open(store_where, clock=clock, registry=registry(), retention=week) as t:
        assert 20 <= t.count_jobs() <= 32  # retention deleted the older three weeks
        after = JobStats(t).report("30d")
    assert sum(s.rolled_up for s in after.by_type) >= 80
    assert _summary(after) == _summary(before)
    assert [f.first_line for f in after.failures] == ["exit status 1", "exit status 2"]


def test_a_long_lived_view_notices_the_deletions(store_where: str | Path, clock) -> None:
    """The same JobStats before and after a clean-up: it re-reads the days that changed."""
    with JobTracker.open(store_where, clock=clock, registry=registry(), retention=None) as t:
        _month_of_jobs(t, clock)
    week = timedelta(days=7)
    with JobTracker.open(
        store_where, clock=clock, registry=registry(), retention=week, clean_up_at_open=False
    ) as t:
        stats = JobStats(t)
        before = stats.report("30d")
        read_once = stats.data.rows_read
        assert read_once == 28 * 4
        t.clean_up_expired()
        after = stats.report("30d")
        assert _summary(after) == _summary(before)
        assert sum(s.rolled_up for s in after.by_type) >= 80
        assert stats.data.rows_read - read_once <= 8  # at most the day cut in two
        scans = {s.name: s.runs for s in stats.by_type("30d")}["scan"]
        run(t, clock, "scan", 12)  # a new job counts at the next refresh
        assert {s.name: s.runs for s in stats.by_type("30d")}["scan"] == scans + 1


def test_an_empty_store_has_empty_views(tracker: JobTracker, clock: FakeClock) -> None:
    queued = tracker.enqueue("scan")
    report = JobStats(tracker).report("all")
    assert (report.by_type, report.by_key, report.keys_total, report.failures) == ([], [], 0, [])
    assert sum(report.throughput.completed) == 0 and len(report.throughput.starts) >= 1
    assert report.load.queued[-1] == 1 and max(report.load.running) == 0  # the queued one
    assert JobStats(tracker).trend("scan {}").ended == []
    assert queued.status.value == "pending"


def test_the_first_use_imports_numpy_without_holding_the_trackers_stats_lock(
    tracker: JobTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing the statistics (numpy: a while) holds no lock of the tracker's: another
    caller waits for nothing but what it needs itself."""
    held_at_import: list[bool] = []

    class SeeImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            if name == "jobdeck.core.stats":
                held_at_import.append(tracker._stats_lock.locked())
            # the usual finders find it

    import jobdeck.core

    monkeypatch.delitem(sys.modules, "jobdeck.core.stats")  # imported at first use, again
    monkeypatch.setattr(jobdeck.core, "stats", jobdeck.core.stats)  # (put back after)
    monkeypatch.setattr(sys, "meta_path", [SeeImport(), *sys.meta_path])
    made = tracker.stats()
    assert held_at_import == [False]
    assert tracker.stats() is made


def test_a_tracker_has_one_stats_made_at_first_use_from_any_thread(
    tracker: JobTracker, clock: FakeClock
) -> None:
    """Its readers (the Statistics tab, ``/api/stats``) share one copy of the history."""
    assert tracker._stats is None  # nothing read (nor numpy columns kept) before first use
    run(tracker, clock, "backup", 30)
    ready = threading.Barrier(8)

    def first_use(_: int) -> JobStats:
        ready.wait(timeout=10)  # all at once
        return tracker.stats()

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(first_use, range(8)))
    assert all(stats is made[0] for stats in made)
    assert made[0].by_type(Period.DAY)[0].runs == 1
    assert tracker.stats() is made[0]


def test_percentiles_lie_between_the_shortest_and_the_longest_run(
    store_where: str | Path, clock: FakeClock
) -> None:
    """The histogram reads 117 s for runs of 120 s (its bucket's middle): one run's p50 and
    p90 are its duration, stored or rolled up, and runs of 118-120 s never read below 118."""
    with JobTracker.open(store_where, clock=clock, registry=registry(), retention=None) as t:
        run(t, clock, "backup", 120, folder="/once")
        clock.advance(10 * DAY)
        for seconds in (118, 119, 120):
            run(t, clock, "backup", seconds, folder="/thrice")
    with JobTracker.open(
        store_where, clock=clock, registry=registry(), retention=timedelta(days=7)
    ) as t:
        keys = {s.name: s for s in JobStats(t).by_key("30d")[0]}
    once = keys['backup {"folder":"/once"}']
    assert once.rolled_up == 1
    assert once.p50_s == once.p90_s == once.max_s == 120
    thrice = keys['backup {"folder":"/thrice"}']
    assert thrice.p50_s is not None and thrice.p90_s is not None
    assert 118 <= thrice.p50_s <= thrice.p90_s <= 120 == thrice.max_s


def test_a_store_rolled_up_under_the_old_key_rule_joins_the_runs_it_is_the_same_work_as(
    db_path: Path, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A roll-up row an earlier version wrote (the CLI's key: the program's path, the
    folder given, ``shell`` false) counts under the key a launch form's run has now."""
    from jobdeck.jobs import builtin_registry

    monkeypatch.setenv("HOME", str(tmp_path))
    old_key = f'command {{"argv":["/usr/bin/make","-j4"],"cwd":"{tmp_path}","shell":false}}'
    with JobTracker.open(db_path, clock=clock, registry=builtin_registry()) as t:
        t.store.conn.execute(
            "INSERT INTO job_rollup VALUES (?, 'command', ?, 'completed', 2, 90.0, 50.0, ?)",
            (int(t.now() // DAY) - 1, old_key, '{"22": 1, "23": 1}'),
        )
        job = t.enqueue("command", {"argv": ["make", "-j4"], "cwd": ""})
        t.start_job(job.id)
        clock.advance(60)
        t.complete_job(job.id, success=True)
        keys, total = JobStats(t).by_key("7d")
    assert total == 1
    assert keys[0].name == f'command {{"argv":["make","-j4"],"cwd":"{tmp_path}"}}'
    assert (keys[0].runs, keys[0].rolled_up, keys[0].max_s) == (3, 2, 60.0)
