"""Issue 9 item 11 (store part): what one job can put in the store is capped — log lines per
job (with a marker when later ones are dropped) and the length of any single stored string
(with a visible "… (truncated)" marker) — so a chatty or hostile job cannot fill the disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.validation import (
    LOG_CAP_MARKER,
    MAX_JSON_BYTES,
    MAX_LOG_LINES,
    MAX_TEXT,
    MAX_TRACEBACK,
    TRUNCATED,
)


def stored_log_count(db: Path, job_id: str) -> int:
    other = sqlite3.connect(db)
    try:
        return other.execute(
            "SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)
        ).fetchone()[0]
    finally:
        other.close()


def test_log_lines_per_job_are_capped_with_a_marker(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, flush_interval=3600) as tracker:
        chatty = tracker.create_job("chatty")
        quiet = tracker.create_job("quiet")
        for i in range(MAX_LOG_LINES + 5_000):
            chatty.log(f"line {i}")
        quiet.log("still heard")
        tracker.complete_job(chatty.job_id)
        tracker.complete_job(quiet.job_id)
        lines = tracker.logs(chatty.job_id, limit=MAX_LOG_LINES + 10)
        assert len(lines) == MAX_LOG_LINES + 1
        assert lines[-2].message == f"line {MAX_LOG_LINES - 1}"
        assert lines[-1].message == LOG_CAP_MARKER and lines[-1].level == "warning"
        assert [e.message for e in tracker.logs(quiet.job_id)] == ["still heard"]
    assert stored_log_count(db, chatty.job_id) == MAX_LOG_LINES + 1


def test_the_cap_counts_lines_stored_before_a_restart(tmp_path: Path) -> None:
    """A retried job keeps counting where its earlier attempts left off."""
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, flush_interval=3600) as tracker:
        job = tracker.enqueue("t", max_attempts=2)
        ctx = tracker.start_job(job.id)
        for i in range(MAX_LOG_LINES - 10):
            ctx.log(f"first {i}")
        tracker.retry_later(job.id, None, "try again")
    with JobTracker.open(db, flush_interval=3600) as tracker:
        ctx = tracker.start_job(job.id)
        for i in range(100):
            ctx.log(f"second {i}")
        tracker.complete_job(job.id)
    assert stored_log_count(db, job.id) == MAX_LOG_LINES + 1


def test_long_strings_are_cut_visibly(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    big = "m" * 5_000_000
    with JobTracker.open(db, flush_interval=3600) as tracker:
        ctx = tracker.create_job("t", title=big, message=big)
        ctx.update_progress(1, 2, big)
        ctx.log(big)
        tracker.flush()
        done = tracker.complete_job(
            ctx.job_id, success=False, error=big, traceback="T" * 10 + "x" * 1_000_000 + "END"
        )
        assert done.status is JobStatus.FAILED
    size = sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("jobs.db"))
    assert size < 2_000_000  # not 20 MB
    with JobTracker.open(db, read_only=True) as reader:
        job = reader.get_job(ctx.job_id)
        assert job is not None and job.error is not None
        for text in (job.title, job.progress.message, job.error.message):
            assert len(text) == MAX_TEXT and text.endswith(TRUNCATED)
        [line] = reader.logs(ctx.job_id)
        assert len(line.message) == MAX_TEXT and line.message.endswith(TRUNCATED)
        tb = job.error.traceback
        assert tb is not None and len(tb) == MAX_TRACEBACK
        assert tb.startswith("T" * 10) and tb.endswith("END") and TRUNCATED in tb


@pytest.mark.parametrize("field", ["params", "metadata"])
def test_oversized_json_is_refused_with_the_field_named(tmp_path: Path, field: str) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        value = {"blob": "b" * (MAX_JSON_BYTES + 1)}
        with pytest.raises(ValueError, match=rf"^{field} is too large to store: "):
            tracker.enqueue("t", **{field: value})  # type: ignore[arg-type]
        assert tracker.count_jobs() == 0


def test_an_oversized_result_is_refused_and_the_job_can_still_finish(tmp_path: Path) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        ctx = tracker.create_job("t")
        with pytest.raises(ValueError, match=r"^result is too large to store"):
            tracker.complete_job(ctx.job_id, result=["r" * 1000] * 2000)
        assert tracker.complete_job(ctx.job_id, result={"ok": True}).status is (JobStatus.COMPLETED)
