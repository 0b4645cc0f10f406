"""A transition's UPDATE writes only the columns that change (tracker_transitions.py,
``_fields_to_write``): what it leaves out must already be in the store. Each test reads
the row back from the file (a tracker opened afresh), the text index (a search) and the
counts, after the changes a skipped column could have lost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.job import Progress


def _reopened(db: Path, clock: FakeClock) -> JobTracker:
    """The store as the file has it (read-only, beside the tracker that wrote it)."""
    return JobTracker.open(db, clock=clock, read_only=True)


def test_a_retried_job_starts_again_from_no_progress(tmp_path: Path, clock: FakeClock) -> None:
    """Put back in the queue with progress and a message, a job's next start resets them in
    the store (they differ from what it had), and a search no longer finds the old message."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    job = tracker.enqueue("flaky", max_attempts=2, title="flaky one")
    ctx = tracker.start_job(job.id)
    ctx.update_progress(5, 10, "halfway through")
    clock.advance(5)
    tracker.retry_later(job.id, None, "boom")
    assert [j.id for j in tracker.list_jobs(search="halfway")] == [job.id]
    clock.advance(5)
    tracker.start_job(job.id)
    again = _reopened(db, clock)
    try:
        stored = again.get_job(job.id)
        assert stored is not None and stored.status is JobStatus.RUNNING
        assert stored.progress == Progress(0, 0, "")
        assert stored.started_ts == clock() and stored.last_seen_ts == clock()
        assert stored.completed_ts is None and stored.attempts == 2
        assert again.list_jobs(search="halfway") == []
        assert again.count_jobs(status=JobStatus.RUNNING) == 1
        assert again.count_jobs(status=JobStatus.PENDING) == 0
    finally:
        again.close()
        tracker.close()


def test_a_message_changed_while_running_is_stored_and_found(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    job = tracker.enqueue("work", title="copy files")
    ctx = tracker.start_job(job.id)
    ctx.update_progress(1, 3, "reading the catalogue")
    tracker.flush()
    ctx.update_progress(3, 3, "writing the archive")
    clock.advance(2)
    tracker.complete_job(job.id, success=True, result={"ok": True})
    tracker.close()
    again = _reopened(db, clock)
    try:
        stored = again.get_job(job.id)
        assert stored is not None and stored.status is JobStatus.COMPLETED
        assert stored.progress == Progress(3, 3, "writing the archive")
        assert stored.result == {"ok": True} and stored.completed_ts == clock()
        assert [j.id for j in again.list_jobs(search="archive")] == [job.id]
        assert again.list_jobs(search="catalogue") == []
        assert again.count_jobs(status=JobStatus.COMPLETED) == 1
        assert again.count_jobs(status=JobStatus.RUNNING) == 0
        assert again.count_jobs(search="archive") == 1
    finally:
        again.close()


def test_a_message_set_back_to_the_one_started_with_is_stored(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The progress stored meanwhile differs from the job's at its start: an end whose
    progress equals the start's still writes it."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    job = tracker.enqueue("work", title="sync")
    ctx = tracker.start_job(job.id)
    ctx.update_progress(2, 4, "uploading")
    tracker.flush()
    ctx.update_progress(0, 0, "")
    tracker.complete_job(job.id, success=True)
    tracker.close()
    again = _reopened(db, clock)
    try:
        stored = again.get_job(job.id)
        assert stored is not None and stored.progress == Progress(0, 0, "")
        assert again.list_jobs(search="uploading") == []
    finally:
        again.close()


def test_pending_jobs_cancelled_and_failed_keep_the_counts_right(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    cancelled = tracker.enqueue("work", title="never mind")
    failed = tracker.enqueue("work", title="cannot start")
    left = tracker.enqueue("work", title="still waiting")
    clock.advance(3)
    tracker.cancel_job(cancelled.id)
    tracker.fail_pending(failed.id, "its type is gone")
    tracker.close()
    again = _reopened(db, clock)
    try:
        assert again.count_jobs(status=JobStatus.PENDING) == 1
        assert again.count_jobs(status=JobStatus.CANCELLED) == 1
        assert again.count_jobs(status=JobStatus.FAILED) == 1
        assert [j.id for j in again.list_jobs(search="type is gone")] == [failed.id]
        gone = again.get_job(cancelled.id)
        assert gone is not None and gone.completed_ts == clock()
        assert again.get_job(left.id).status is JobStatus.PENDING  # type: ignore[union-attr]
    finally:
        again.close()


def test_a_start_and_an_end_set_only_what_changes(tmp_path: Path, clock: FakeClock) -> None:
    """The UPDATEs of a job that reports no progress: no progress columns (their index
    entries and the text index's trigger cost a start and an end for nothing), and the
    row read back is the job as the tracker has it."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    job = tracker.enqueue("work", title="quiet")
    updates: list[str] = []
    tracker.store.conn.set_trace_callback(
        lambda sql: updates.append(sql) if sql.startswith("UPDATE jobs SET status") else None
    )
    tracker.start_job(job.id)
    clock.advance(1)
    tracker.flush()
    ended = tracker.complete_job(job.id, success=True, exit_code=0)
    tracker.store.conn.set_trace_callback(None)
    updates = list(dict.fromkeys(updates))  # (SQLite traces it again for each trigger)
    assert len(updates) == 2
    assert all("progress" not in sql and "cancel_requested" not in sql for sql in updates)
    stored = _reopened(db, clock)
    try:
        row = stored.get_job(job.id)
        assert row is not None
        # (the last sign of life is the heartbeat's, stored behind the tracker's memory)
        assert replace(row, last_seen_ts=None) == replace(ended, last_seen_ts=None)
        assert ended.progress == Progress(0, 0, "") and ended.exit_code == 0
        assert stored.count_jobs(status=JobStatus.COMPLETED) == 1
        assert [j.id for j in stored.list_jobs(search="quiet")] == [job.id]
    finally:
        stored.close()
        tracker.close()
