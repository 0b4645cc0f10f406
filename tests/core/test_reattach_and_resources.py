"""The tracker's reattach hook at open, resource use of process jobs, and completed_ts."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.job import Job


def _left_running(db: Path, type: str = "command") -> str:
    with JobTracker.open(db) as tracker:
        job = tracker.enqueue(type, {"argv": ["sleep", "9"]})
        tracker.start_job(job.id)
        tracker.set_process_info(job.id, pid=4242)
        return job.id


def test_reattach_hook_keeps_the_job_running_with_a_context(tmp_path: Path) -> None:
    job_id = _left_running(tmp_path / "jobs.db")
    asked: list[Job] = []

    def keep(job: Job) -> bool:
        asked.append(job)
        return True

    with JobTracker.open(tmp_path / "jobs.db", reattach=keep) as tracker:
        assert [j.id for j in asked] == [job_id]
        job = tracker.get_job(job_id)
        assert job is not None and job.status is JobStatus.RUNNING and job.pid == 4242
        ctx = tracker.context(job_id)
        assert ctx is not None
        ctx.update_progress(1, 2)
        tracker.complete_job(job_id, result="later", completed_ts=job.started_ts)
        done = tracker.get_job(job_id)
        assert done is not None and done.completed_ts == job.started_ts


@pytest.mark.expected_log("reattach hook failed")
@pytest.mark.parametrize("answer", [False, "boom"])
def test_a_hook_that_declines_or_raises_leaves_recovery_as_usual(
    tmp_path: Path, answer: object
) -> None:
    job_id = _left_running(tmp_path / "jobs.db")

    def hook(job: Job) -> bool:
        if answer == "boom":
            raise RuntimeError("hook failed")
        return False

    with JobTracker.open(tmp_path / "jobs.db", reattach=hook) as tracker:
        job = tracker.get_job(job_id)
        assert job is not None and job.status is JobStatus.FAILED
        assert str(job.error).startswith("interrupted")


def test_resource_use_is_stored_and_survives_reopening(tmp_path: Path) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        job = tracker.enqueue("command", {})
        tracker.start_job(job.id)
        with pytest.raises(ValueError, match="peak_rss"):
            tracker.set_resource_usage(job.id, peak_rss=-1, cpu_seconds=None)
        tracker.set_resource_usage(job.id, peak_rss=52_000_000, cpu_seconds=3.5)
        tracker.complete_job(job.id)
        with pytest.raises(ValueError, match="can no longer change"):
            tracker.set_resource_usage(job.id, peak_rss=1, cpu_seconds=1)
    with JobTracker.open(tmp_path / "jobs.db", read_only=True) as reader:
        stored = reader.get_job(job.id)
        assert stored is not None
        assert (stored.peak_rss, stored.cpu_seconds) == (52_000_000, 3.5)
