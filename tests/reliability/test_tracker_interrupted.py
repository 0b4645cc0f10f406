"""Issue 8 section 4 (core part): a job interrupted by a crash is recovered with a readable
error ("at 10%", "at 6/60") and ends at its last sign of life, so its duration does not
count the time the app was not running."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker, Progress
from jobdeck.core.recovery import format_progress
from jobdeck.core.schema import MIGRATIONS


@pytest.mark.parametrize(
    ("progress", "words"),
    [
        (Progress(5.82218, 60), "at 10%"),
        (Progress(6, 60), "at 6/60"),
        (Progress(6.0, 60.0), "at 6/60"),
        (Progress(40, 100), "at 40/100"),
        (Progress(1_234_567, 4_000_000_000), "at 0%"),
        (Progress(3_990_000_000, 4_000_000_000), "at 99%"),
        (Progress(0.5, 1), "at 50%"),
        (Progress(10, 0), ""),
        (Progress(0, 0), ""),
    ],
)
def test_progress_in_words(progress: Progress, words: str) -> None:
    assert format_progress(progress) == words


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_crashed_job_ends_at_its_last_sign_of_life(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock, flush_interval=3600)
    ctx = tracker.create_job("scrape")
    started = clock()
    clock.advance(30)
    ctx.update_progress(5.82218, 60, "page 5")
    tracker.flush()  # the store's last news of the job
    clock.advance(12)
    tracker.flush()  # nothing new, but the tracker's heartbeat says it is still alive
    last_alive = clock()
    # the app dies here (no close: the store just stops being written)
    tracker._closed = True
    tracker.store.close()

    clock.advance(timedelta(hours=5))  # the app was dead for five hours
    with JobTracker.open(db, clock=clock) as reopened:
        job = reopened.get_job(ctx.job_id)
        assert job is not None and job.status is JobStatus.FAILED
        assert job.error is not None
        assert job.error.message == (
            "interrupted: Jobdeck stopped while this job was running, at 10%"
        )
        assert job.completed_ts == last_alive
        assert job.duration == timedelta(seconds=last_alive - started)
        assert job.progress.message == "page 5"


def test_heartbeat_keeps_a_silent_job_alive_in_the_store(tmp_path: Path) -> None:
    """A job that reports nothing for a while is still alive while the app runs: the
    pump's heartbeat moves its last sign of life on."""
    clock = FakeClock()
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, clock=clock, flush_interval=1.0, event_interval=0.005) as tracker:
        ctx = tracker.create_job("quiet")
        other = sqlite3.connect(db)

        def last_seen() -> float:
            return float(
                other.execute(
                    "SELECT last_seen_ts FROM jobs WHERE id = ?", (ctx.job_id,)
                ).fetchone()[0]
            )

        first = last_seen()
        clock.advance(5)
        from tests.core.conftest import wait_until

        assert wait_until(lambda: last_seen() == first + 5, timeout=10)
        other.close()


def test_a_version_3_store_with_a_running_job_is_migrated_and_recovered(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A store written by schema 3 (no last_seen_ts): migrated, backed up; its running job
    ends "now" as before (its last sign of life is unknown), with readable progress."""
    db = tmp_path / "jobs.db"
    conn = sqlite3.connect(db)
    for version, statements in enumerate(MIGRATIONS[:3], start=1):
        for sql in statements:
            conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO jobs (id, type, title, status, created_ts, started_ts, attempts, "
        "progress_current, progress_total) VALUES (?, 'copy', 'Copy', 'running', ?, ?, 1, 6, 60)",
        ("01HZZZZZZZ0000000000000009", clock() - 100, clock() - 100),
    )
    conn.commit()
    conn.close()
    with JobTracker.open(db, clock=clock) as tracker:
        job = tracker.get_job("01HZZZZZZZ0000000000000009")
        assert job is not None and job.status is JobStatus.FAILED
        assert job.error is not None and job.error.message.endswith(", at 6/60")
        assert job.completed_ts == clock()
    assert (tmp_path / "jobs.db.v3.bak").exists()
