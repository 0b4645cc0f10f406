"""Issue 9 item 14: retention keeps what unfinished jobs depend on, never deletes more than
could have aged since the last run (a clock that jumped), and deletes a job's log file with
its row."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker

WEEK = timedelta(days=7)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def finished_jobs(tracker: JobTracker, n: int, prefix: str) -> list[str]:
    ids = []
    for i in range(n):
        ctx = tracker.create_job("t", title=f"{prefix} {i}")
        tracker.complete_job(ctx.job_id)
        ids.append(ctx.job_id)
    return ids


def test_dependencies_of_unfinished_jobs_are_kept(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, clock=clock) as tracker:
        needed = tracker.create_job("build")
        tracker.complete_job(needed.job_id)
        lonely = tracker.create_job("old")
        tracker.complete_job(lonely.job_id)
        waiting = tracker.enqueue("deploy", depends_on=[needed.job_id], run_at=clock() + 30 * 86400)
    clock.advance(timedelta(days=8))
    with JobTracker.open(db, clock=clock) as tracker:
        assert tracker.get_job(lonely.job_id) is None
        kept = tracker.get_job(needed.job_id)
        assert kept is not None and kept.status is JobStatus.COMPLETED
        assert tracker.get_job(waiting.id) is not None


@pytest.mark.expected_log("the clock moved")
def test_a_clock_that_jumped_forward_does_not_wipe_the_history(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, clock=clock) as tracker:
        old = finished_jobs(tracker, 3, "last week")
    clock.advance(timedelta(days=6))
    with JobTracker.open(db, clock=clock) as tracker:
        recent = finished_jobs(tracker, 5, "yesterday")
    clock.advance(timedelta(days=1, hours=1))  # the "old" jobs are now really 7 days old
    clock.jump(timedelta(days=8))  # and the system clock is set 8 days fast
    with caplog.at_level(logging.WARNING), JobTracker.open(db, clock=clock) as tracker:
        assert all(tracker.get_job(i) is not None for i in recent)
        # what really aged out (finished more than a week of real time ago) still goes
        assert all(tracker.get_job(i) is None for i in old)
    assert "the clock moved 8 days" in caplog.text
    # still fast at the next start in the same boot: still guarded
    clock.advance(timedelta(minutes=5))
    with JobTracker.open(db, clock=clock) as tracker:
        assert all(tracker.get_job(i) is not None for i in recent)


def test_real_time_passing_still_expires_jobs(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, clock=clock) as tracker:
        ids = finished_jobs(tracker, 3, "old")
    clock.advance(timedelta(days=30))  # away for a month: the history really is old
    with JobTracker.open(db, clock=clock) as tracker:
        assert all(tracker.get_job(i) is None for i in ids)


@pytest.mark.expected_log("taking that for a clock error")
def test_an_absurd_jump_across_a_reboot_deletes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "jobs.db"
    clock = FakeClock()
    with JobTracker.open(db, clock=clock) as tracker:
        ids = finished_jobs(tracker, 3, "kept")
    clock.reboot()
    clock.jump(timedelta(days=40 * 365))  # a new boot whose clock says 2063
    with caplog.at_level(logging.WARNING), JobTracker.open(db, clock=clock) as tracker:
        assert all(tracker.get_job(i) is not None for i in ids)
    assert "retention deletes nothing this time" in caplog.text


@pytest.mark.expected_log("not deleting .*: it is not named after job")
def test_a_deleted_job_takes_its_log_file_along(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    logs = tmp_path / "logs"
    logs.mkdir()
    bystander = tmp_path / "notes.txt"
    bystander.write_text("mine")
    with JobTracker.open(db, clock=clock) as tracker:
        old = tracker.create_job("cmd")
        log_file = logs / f"{old.job_id}.log"
        log_file.write_text("output\n")
        rotated = logs / f"{old.job_id}.log.1"
        rotated.write_text("older output\n")
        tracker.set_process_info(old.job_id, log_path=str(log_file))
        tracker.complete_job(old.job_id)
        crafted = tracker.create_job("cmd")  # a row pointing at someone else's file
        tracker.set_process_info(crafted.job_id, log_path=str(bystander))
        tracker.complete_job(crafted.job_id)
        young = tracker.create_job("cmd")
        young_log = logs / f"{young.job_id}.log"
        young_log.write_text("keep me\n")
        tracker.set_process_info(young.job_id, log_path=str(young_log))
        clock.advance(timedelta(days=6))
        tracker.complete_job(young.job_id)
    clock.advance(timedelta(days=1, hours=1))
    with JobTracker.open(db, clock=clock) as tracker:
        assert tracker.get_job(old.job_id) is None
        assert tracker.get_job(young.job_id) is not None
    assert not log_file.exists() and not rotated.exists()
    assert young_log.exists()
    assert bystander.read_text() == "mine"


def test_a_reboot_with_a_plausible_gap_trusts_the_clock(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    clock = FakeClock()
    with JobTracker.open(db, clock=clock) as tracker:
        ids = finished_jobs(tracker, 3, "old")
    clock.reboot()
    clock.jump(timedelta(days=9))  # real time across a reboot is unknown: trusted
    with JobTracker.open(db, clock=clock) as tracker:
        assert all(tracker.get_job(i) is None for i in ids)
