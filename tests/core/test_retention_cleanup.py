"""Issue 15 item 3: retention deletes expired jobs in small batches (at open, or later on a
thread of its own while the tracker keeps recording), deletes their log files without a
folder scan per job, gives the space back, and a crash in the middle loses nothing else."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.retention import CleanupResult, ExpiredJobsCleanup

from .conftest import wait_until

WEEK = timedelta(days=7)
ROOT = Path(__file__).resolve().parents[2]


def old_history(db: Path, clock: FakeClock, n: int, *, payload: int = 0) -> list[str]:
    """``n`` finished jobs, then eight days pass; their ids."""
    ids = []
    with JobTracker.open(db, clock=clock) as tracker:
        for i in range(n):
            ctx = tracker.create_job("old", title=f"old {i}", params={"blob": "x" * payload})
            tracker.complete_job(ctx.job_id)
            ids.append(ctx.job_id)
    clock.advance(timedelta(days=8))
    return ids


def count(db: Path) -> int:
    with JobTracker.open(db, read_only=True) as reader:
        return reader.count_jobs()


def test_the_clean_up_can_wait_and_then_runs_in_batches_on_its_own_thread(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    old = old_history(db, clock, 95)
    with JobTracker.open(db, clock=clock, clean_up_at_open=False) as tracker:
        assert tracker.count_jobs() == 95  # nothing deleted before it is asked to
        batches: list[tuple[str, int]] = []
        done: list[CleanupResult] = []

        def before_delete(conn: sqlite3.Connection, ids: list[str]) -> None:
            batches.append((threading.current_thread().name, len(ids)))

        assert tracker.start_cleanup(done.append, before_delete=before_delete, batch_jobs=10)
        assert wait_until(lambda: bool(done), timeout=30)
        assert not tracker.cleanup_running
        assert [size for _, size in batches] == [10] * 9 + [5]
        assert {name for name, _ in batches} == {"jobdeck-retention"}
        assert done[0].jobs == 95 and done[0].batches == 10 and not done[0].stopped
        assert all(tracker.get_job(i) is None for i in old)
        assert not tracker.start_cleanup()  # done: nothing more is due
    assert count(db) == 0


def test_jobs_are_recorded_between_batches(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    old_history(db, clock, 60)
    with JobTracker.open(db, clock=clock, clean_up_at_open=False) as tracker:
        cutoff = clock() - WEEK.total_seconds()
        batches: list[int] = []
        cleanup = ExpiredJobsCleanup(
            tracker._commits,
            cutoff,
            batch_jobs=3,
            pause_s=0.05,
            before_delete=lambda conn, ids: batches.append(len(ids)),
        )
        worker = threading.Thread(target=cleanup.run)
        worker.start()
        try:
            assert wait_until(lambda: len(batches) >= 1)
            live = tracker.create_job("live")  # returns once committed
            tracker.complete_job(live.job_id)
            assert len(batches) < 20, "the live job waited for the whole clean-up"
        finally:
            worker.join(60)
        assert len(batches) == 20
        job = tracker.get_job(live.job_id)
        assert job is not None and job.status is JobStatus.COMPLETED
        assert tracker.count_jobs() == 1


def test_log_files_of_deleted_jobs_go_and_nothing_else(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    logs = tmp_path / "jobs.db.d" / "logs"
    logs.mkdir(parents=True)
    with JobTracker.open(db, clock=clock) as tracker:
        old_files = []
        for _ in range(30):
            ctx = tracker.create_job("cmd")
            log_file = logs / f"{ctx.job_id}.log"
            log_file.write_text("output\n")
            tracker.set_process_info(ctx.job_id, log_path=str(log_file))
            tracker.complete_job(ctx.job_id)
            old_files.append(log_file)
        part = old_files[0].with_name(old_files[0].name + ".1")  # an earlier version's part
        part.write_text("older output\n")
        young = tracker.create_job("cmd")
        young_log = logs / f"{young.job_id}.log"
        young_log.write_text("keep me\n")
        tracker.set_process_info(young.job_id, log_path=str(young_log))
        clock.advance(timedelta(days=8))
        tracker.complete_job(young.job_id)
    (logs / "notes.txt").write_text("mine")
    with JobTracker.open(db, clock=clock, clean_up_at_open=False) as tracker:
        done: list[CleanupResult] = []
        tracker.start_cleanup(done.append, batch_jobs=7)
        assert wait_until(lambda: bool(done), timeout=30)
        assert done[0].jobs == 30 and done[0].log_files == 31
    assert not any(f.exists() for f in old_files) and not part.exists()
    assert sorted(p.name for p in logs.iterdir()) == sorted([young_log.name, "notes.txt"])


def test_space_is_given_back_and_the_wal_truncated(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    old_history(db, clock, 400, payload=4000)
    before = db.stat().st_size
    with JobTracker.open(db, clock=clock, clean_up_at_open=False) as tracker:
        assert tracker.store.pragma_int("auto_vacuum") == 2  # incremental, from creation
        done: list[CleanupResult] = []
        tracker.start_cleanup(done.append, batch_jobs=50)
        assert wait_until(lambda: bool(done), timeout=30)
        assert done[0].pages_freed > 0
        assert tracker.store.pragma_int("freelist_count") == 0
        assert (tmp_path / "jobs.db-wal").stat().st_size == 0
        assert db.stat().st_size < before / 4


def test_a_store_of_an_earlier_version_is_compacted_once_when_small(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    old_history(db, clock, 300, payload=4000)
    with sqlite3.connect(db) as conn:  # as earlier versions made it: no auto-vacuum
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    before = db.stat().st_size
    with JobTracker.open(db, clock=clock) as tracker:  # at open, as a library user gets it
        assert tracker.count_jobs() == 0
        assert tracker.store.pragma_int("auto_vacuum") == 2
    assert db.stat().st_size < before / 4


def test_closing_stops_the_clean_up_between_batches_and_the_next_start_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    old_history(db, clock, 40)
    tracker = JobTracker.open(db, clock=clock, clean_up_at_open=False)
    first_batch = threading.Event()
    results: list[CleanupResult] = []

    def slow(conn: sqlite3.Connection, ids: list[str]) -> None:
        first_batch.set()

    tracker.start_cleanup(results.append, before_delete=slow, batch_jobs=1)
    assert first_batch.wait(10)
    tracker.close()
    assert results and results[0].stopped and 1 <= results[0].jobs < 40
    left = count(db)
    assert left == 40 - results[0].jobs
    with JobTracker.open(db, clock=clock) as again:
        assert again.count_jobs() == 0


CRASHING_CLEANUP = textwrap.dedent(
    """
    import os, signal, sys
    from jobdeck.core import FakeClock, JobTracker

    clock = FakeClock(float(sys.argv[2]))
    clock.reboot()  # a new process of a fake clock: real time since the last run is unknown
    tracker = JobTracker.open(sys.argv[1], clock=clock, clean_up_at_open=False)
    batches = []

    def crash_in_the_third(conn, ids):
        batches.append(ids)
        if len(batches) == 3:  # in the middle of the batch's transaction
            os.kill(os.getpid(), signal.SIGKILL)

    tracker.clean_up_expired(before_delete=crash_in_the_third)
    """
)


@pytest.mark.reliability
def test_a_crash_in_the_middle_of_the_clean_up_loses_nothing_else(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, clock=clock) as tracker:
        needed = tracker.create_job("build")
        tracker.complete_job(needed.job_id)
        for i in range(1200):  # three batches of 500 would be more than there is
            ctx = tracker.create_job("old", title=f"old {i}")
            tracker.complete_job(ctx.job_id)
        waiting = tracker.enqueue("deploy", depends_on=[needed.job_id])
        clock.advance(timedelta(days=6))
        recent = tracker.create_job("recent")
        tracker.complete_job(recent.job_id)
    clock.advance(timedelta(days=2))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop")}
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_CLEANUP)
    done = subprocess.run(
        [sys.executable, str(script), str(db), repr(clock())], env=env, timeout=120, check=False
    )
    assert done.returncode == -9
    with JobTracker.open(db, clock=clock, retention=None) as after:
        assert after.count_jobs() == 1203 - 1000  # two batches of 500 went, the third did not
        assert after.get_job(recent.job_id) is not None
        kept = after.get_job(needed.job_id)
        assert kept is not None and kept.status is JobStatus.COMPLETED
        pending = after.get_job(waiting.id)
        assert pending is not None and pending.status is JobStatus.PENDING
    with JobTracker.open(db, clock=clock) as again:  # the next start finishes the job
        assert again.count_jobs() == 3
