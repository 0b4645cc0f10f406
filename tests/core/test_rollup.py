"""Retention keeps the numbers: jobs it deletes leave them in the roll-up (core.rollup)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from jobdeck.core import FakeClock, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.core.rollup import ROLLUP_MIGRATION, bucket_of, bucket_seconds, roll_up, rolled_up


def _backup(ctx: object, folder: str = "", note: str = "") -> None:
    return None


def registry() -> JobRegistry:
    reg = JobRegistry()
    reg.register("backup", _backup, key_params=("folder",))
    return reg


def test_retention_rolls_the_deleted_jobs_up_first(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "jobs.db"
    with JobTracker.open(path, clock=clock, registry=registry()) as tracker:
        for seconds in (60, 120, 90):
            ctx = tracker.create_job("backup", params={"folder": "/home", "note": str(seconds)})
            clock.advance(seconds)
            tracker.complete_job(ctx.job_id)
        for reason in ("disk full\ndetails", "disk full\nother details", "no such folder"):
            ctx = tracker.create_job("backup", params={"folder": "/srv"})
            clock.advance(10)
            tracker.complete_job(ctx.job_id, success=False, error=reason)
    clock.advance(timedelta(days=8))  # past the 7-day retention
    with JobTracker.open(path, clock=clock, registry=registry()) as tracker:
        assert tracker.count_jobs() == 0  # retention deleted them
        conn = tracker.store.conn
        totals = rolled_up(conn)
        assert totals[("backup", "completed")]["runs"] == 3
        assert totals[("backup", "completed")]["seconds_sum"] == 270
        assert totals[("backup", "completed")]["seconds_max"] == 120
        assert totals[("backup", "failed")]["runs"] == 3
        keys = {row[0] for row in conn.execute("SELECT job_key FROM job_rollup")}
        assert keys == {'backup {"folder":"/home"}', 'backup {"folder":"/srv"}'}  # note ignored
        failures = dict(conn.execute("SELECT first_line, runs FROM job_rollup_failures").fetchall())
        assert failures == {"disk full": 2, "no such folder": 1}
        assert rolled_up(conn, since=clock() - 86400) == {}  # older than a day


def test_roll_up_adds_to_earlier_batches_and_skips_unfinished(tmp_path: Path, clock) -> None:
    with JobTracker.open(tmp_path / "jobs.db", clock=clock) as tracker:
        done = []
        for seconds in (5, 7):
            ctx = tracker.create_job("scan")
            clock.advance(seconds)
            tracker.complete_job(ctx.job_id)
            done.append(ctx.job_id)
        running = tracker.create_job("scan")
        conn = tracker.store.conn
        with tracker.batch():
            assert roll_up(conn, [done[0], running.job_id]) == 1
            assert roll_up(conn, [done[1]]) == 1
        totals = rolled_up(conn)[("scan", "completed")]
        assert totals["runs"] == 2 and totals["seconds_sum"] == 12 and totals["seconds_max"] == 7
        assert sum(totals["buckets"].values()) == 2
        tracker.complete_job(running.job_id)


def test_buckets_are_narrow_enough_for_percentiles() -> None:
    for seconds in (0.5, 3, 59, 240, 3600, 86400):
        middle = bucket_seconds(bucket_of(seconds))
        assert abs(middle - seconds) <= 0.2 * seconds + 0.5


def test_the_migration_applies_after_any_other(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db")
    for _ in range(2):  # idempotent: whatever ran before, it can run
        for sql in ROLLUP_MIGRATION:
            conn.execute(sql)
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {
        "job_rollup",
        "job_rollup_failures",
    }
