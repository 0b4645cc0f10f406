"""The statistics' columns kept beside the store (core.stats_snapshot): a later start begins
from them and reads only what changed, and gives the very numbers a full read gives —
after jobs ended, after jobs were deleted or replaced while the app was closed, and when
the file is damaged, of another key rule, or missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobTracker, stats_data
from jobdeck.core.registry import JobRegistry
from jobdeck.core.stats import JobStats, StatsReport
from jobdeck.core.stats_snapshot import FILE_NAME

DAY = 86400.0


@pytest.fixture(autouse=True)
def small_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep snapshots of a few jobs (the app waits for 20,000)."""
    monkeypatch.setattr(stats_data, "SAVE_AFTER_ROWS", 5)
    monkeypatch.setattr(stats_data, "SAVE_MIN_ROWS", 5)


def _noop(ctx: object, folder: str = "") -> None:
    return None


def registry(key_params: tuple[str, ...] | None = ("folder",)) -> JobRegistry:
    reg = JobRegistry()
    reg.register("backup", _noop, key_params=key_params)
    return reg


def run(tracker: JobTracker, clock: FakeClock, seconds: float, folder: str, error=None) -> str:
    ctx = tracker.create_job("backup", params={"folder": folder})
    clock.advance(seconds)
    tracker.complete_job(ctx.job_id, success=error is None, error=error)
    return ctx.job_id


def four_days(tracker: JobTracker, clock: FakeClock) -> None:
    for day in range(4):
        for i in range(6):
            error = f"exit status {i}" if i == day else None
            run(tracker, clock, 10 + 5 * i + day, f"/f{i % 3}", error)
        clock.advance(DAY - 400)


def summary(report: StatsReport) -> dict[str, object]:
    return {
        "types": [s.as_json() for s in report.by_type],
        "keys": [s.as_json() for s in report.by_key],
        "failures": [f.as_json() for f in report.failures],
        "throughput": report.throughput,
        "load": report.load,
    }


def full_read(db: Path, clock: FakeClock, reg: JobRegistry | None = None) -> dict[str, object]:
    """What a start without the snapshot says."""
    snapshot = db.parent / (db.name + ".d") / FILE_NAME
    kept = snapshot.read_bytes() if snapshot.exists() else None
    snapshot.unlink(missing_ok=True)
    try:
        with JobTracker.open(db, clock=clock, registry=reg or registry()) as t:
            return summary(JobStats(t).report("all"))
    finally:
        if kept is not None:
            snapshot.write_bytes(kept)


@pytest.fixture
def kept(db_path: Path, clock: FakeClock) -> Iterator[Path]:
    """A store of four days of jobs whose statistics were read once and kept."""
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        four_days(t, clock)
        stats = JobStats(t)
        stats.report("all")
        assert stats.save_if_due()
        assert not stats.save_if_due()  # nothing new read since
    snapshot = db_path.parent / "jobs.db.d" / FILE_NAME
    assert snapshot.exists()
    yield snapshot


def test_a_start_begins_from_the_kept_columns(db_path: Path, clock: FakeClock, kept) -> None:
    expected = full_read(db_path, clock)
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        stats = JobStats(t)
        columns, _rollup = stats.data.refresh()
        assert "occupancy" in columns.derived  # the chart's sorted times were kept too
        assert summary(stats.report("all")) == expected
        assert stats.data.rows_read == 0  # nothing read row by row
        run(t, clock, 30, "/f0")
        after = summary(stats.report("all"))
        assert stats.data.rows_read == 1
        columns, _rollup = stats.data.snapshot()
        assert "occupancy" in columns.derived  # extended by the job, not made again
    assert after == full_read(db_path, clock)


def test_jobs_ended_deleted_or_replaced_while_closed_are_seen(
    db_path: Path, clock: FakeClock, kept
) -> None:
    """Another program (or a restored backup) changed the store: the days that differ are
    read again, one with as many jobs as before too (its end times differ)."""
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        run(t, clock, 25, "/new")  # ended after the snapshot
        with t.store.transaction() as conn:
            first = conn.execute("SELECT MIN(completed_ts) FROM jobs").fetchone()[0]
            conn.execute("DELETE FROM jobs WHERE completed_ts = ?", (first,))  # day 1
            conn.execute(  # day 2: one job ends a second later, as many jobs as before
                "UPDATE jobs SET completed_ts = completed_ts + 1 WHERE id = "
                "(SELECT id FROM jobs WHERE completed_ts > ? ORDER BY completed_ts LIMIT 1)",
                (first + DAY / 2,),
            )
    expected = full_read(db_path, clock)
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        stats = JobStats(t)
        assert summary(stats.report("all")) == expected
        assert 0 < stats.data.rows_read <= 6 + 6 + 1  # two days and the new job


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
@pytest.mark.expected_log("statistics snapshot .* cannot be read: ignored")
def test_a_damaged_file_is_ignored(db_path: Path, clock: FakeClock, kept, damage) -> None:
    data = kept.read_bytes()
    kept.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"x" * 999, "empty": b""}[damage]
    )
    expected = full_read(db_path, clock)
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        stats = JobStats(t)
        assert summary(stats.report("all")) == expected
        assert stats.data.rows_read == 24  # read from the store
        assert stats.save_if_due()  # and kept again
    assert len(kept.read_bytes()) > len(data) // 2  # a whole file again


def test_keys_of_another_rule_are_not_used(db_path: Path, clock: FakeClock, kept) -> None:
    """Every param counts now: the kept keys (the folder only) would be wrong."""
    every_param = registry(key_params=None)
    expected = full_read(db_path, clock, every_param)
    with JobTracker.open(db_path, clock=clock, registry=every_param) as t:
        stats = JobStats(t)
        assert summary(stats.report("all")) == expected
        assert stats.data.rows_read == 24


def test_no_file_for_a_small_store_or_a_board(
    db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_data, "SAVE_MIN_ROWS", 1000)
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        four_days(t, clock)
        stats = JobStats(t)
        stats.report("all")
        assert not stats.save_if_due()
    assert not (db_path.parent / "jobs.db.d" / FILE_NAME).exists()
    with JobTracker.open(":memory:", clock=clock, registry=registry()) as t:
        assert JobStats(t).data._snapshot is None


def test_a_file_that_does_not_fit_the_store_is_not_used(
    db_path: Path, clock: FakeClock, kept: Path
) -> None:
    """A snapshot whose newest end is not a time (written by hand?) is read past."""
    from jobdeck.core.stats_snapshot import StatsSnapshot, key_rule

    snapshot = StatsSnapshot(kept, key_rule(registry()))
    saved = snapshot.load()
    assert saved is not None
    saved.newest = float("nan")
    snapshot.save(saved)
    expected = full_read(db_path, clock)
    with JobTracker.open(db_path, clock=clock, registry=registry()) as t:
        stats = JobStats(t)
        assert summary(stats.report("all")) == expected
        assert stats.data.rows_read == 24


def test_the_roll_up_is_kept_too(
    db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roll-up of the jobs retention deleted (its histograms) is kept with the columns
    and read again only once retention rolled up more."""
    from datetime import timedelta

    two_days = timedelta(days=2)
    with JobTracker.open(db_path, clock=clock, registry=registry(), retention=None) as t:
        four_days(t, clock)
    with JobTracker.open(db_path, clock=clock, registry=registry(), retention=two_days) as t:
        stats = JobStats(t)
        assert sum(s.rolled_up for s in stats.report("all").by_type) >= 6
        assert stats.save_if_due()
    expected = full_read(db_path, clock)
    read = stats_data.StatsData._rollup_from_store
    reads: list[int] = []

    def counted(self: stats_data.StatsData, conn: object) -> stats_data.Rollup:
        reads.append(1)
        return read(self, conn)  # type: ignore[arg-type]

    monkeypatch.setattr(stats_data.StatsData, "_rollup_from_store", counted)
    with JobTracker.open(db_path, clock=clock, registry=registry(), retention=two_days) as t:
        stats = JobStats(t)
        assert summary(stats.report("all")) == expected
        assert reads == []
    clock.advance(DAY)
    with JobTracker.open(db_path, clock=clock, registry=registry(), retention=two_days) as t:
        stats = JobStats(t)  # (a day more was rolled up at open)
        after = summary(stats.report("all"))
        assert reads == [1]
    assert after == full_read(db_path, clock)
