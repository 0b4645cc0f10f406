"""Which jobs left running are kept for the runtime to re-attach and which are retried
(decided in core from the job type and the job's process record), resource use of process
jobs, and completed_ts."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.core import JobContext, JobKind, JobRegistry, JobStatus, JobTracker, ProcessSpec
from jobdeck.core.job import Job


def _process_type(job: Job, seconds: int = 9) -> ProcessSpec:
    return ProcessSpec(("sleep", str(seconds)))


def _callable_type(ctx: JobContext, seconds: int = 9) -> None:
    return None


def _registry(kind: JobKind, *, retryable: bool = False) -> JobRegistry:
    """A registry with a ``work`` job type of ``kind``."""
    registry = JobRegistry()
    func = _process_type if kind is JobKind.PROCESS else _callable_type
    registry.register("work", func, kind=kind, retryable=retryable)
    return registry


def _left_running(
    db: Path, *, log_file: bool = True, max_attempts: int = 1, type: str = "work"
) -> str:
    """A job left running as by a crash: started, its program's pid (and log) recorded."""
    with JobTracker.open(db) as tracker:
        job = tracker.enqueue(type, {"seconds": 9}, max_attempts=max_attempts)
        tracker.start_job(job.id)
        tracker.set_process_info(job.id, pid=4242)
        if log_file:
            tracker.set_process_info(job.id, log_path=str(db.parent / f"{job.id}.log"))
        return job.id


def test_a_process_job_left_running_is_kept_running_for_the_runtime(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job_id = _left_running(db)
    # one whose pid and log were not stored yet (a short program's are stored with its
    # end) may have started all the same: the runtime looks for its program
    unlogged = _left_running(db, log_file=False)
    with JobTracker.open(db, registry=_registry(JobKind.PROCESS)) as tracker:
        job = tracker.get_job(job_id)
        assert job is not None and job.status is JobStatus.RUNNING and job.pid == 4242
        assert tracker.reattachable(job)
        kept = tracker.get_job(unlogged)
        assert kept is not None and kept.status is JobStatus.RUNNING
        assert [j.id for j in tracker.jobs_to_reattach()] == [job_id, unlogged]
        assert tracker.jobs_to_reattach() == []  # taken over once
        ctx = tracker.context(job_id)
        assert ctx is not None
        ctx.update_progress(1, 2)
        tracker.complete_job(job_id, result="later", completed_ts=job.started_ts)
        done = tracker.get_job(job_id)
        assert done is not None and done.completed_ts == job.started_ts


def test_other_jobs_left_running_are_recovered_as_interrupted(tmp_path: Path) -> None:
    """A thread's work cannot outlive the app. (A process job that never got to start its
    program is interrupted by the runtime, which finds no trace of it: see
    tests/runtime/test_restart.py.)"""
    db = tmp_path / "jobs.db"
    job_id = _left_running(db)
    with JobTracker.open(db, registry=_registry(JobKind.CALLABLE)) as tracker:
        job = tracker.get_job(job_id)
        assert job is not None and job.status is JobStatus.FAILED
        assert str(job.error).startswith("interrupted")
        assert tracker.jobs_to_reattach() == []


def test_a_job_of_a_type_the_registry_lacks_is_judged_by_its_own_record(tmp_path: Path) -> None:
    """An embedder's registry without ``command``: a command job whose program was started
    is still re-attached (its recorded process says what it is), and one interrupted with
    attempts left is re-queued as the job asked, never failed on a guess."""
    db = tmp_path / "jobs.db"
    started = _left_running(db, type="command")
    unstarted = _left_running(db, type="command", log_file=False, max_attempts=2)
    spent = _left_running(db, type="command", log_file=False)
    registry = _registry(JobKind.CALLABLE)  # knows "work" only
    with JobTracker.open(db, registry=registry) as tracker:
        kept = tracker.get_job(started)
        assert kept is not None and kept.status is JobStatus.RUNNING
        assert [j.id for j in tracker.jobs_to_reattach()] == [started]
        again = tracker.get_job(unstarted)
        assert again is not None and again.status is JobStatus.PENDING
        assert again.error is not None and again.error.message.startswith("interrupted")
        failed = tracker.get_job(spent)
        assert failed is not None and failed.status is JobStatus.FAILED


def test_retryability_comes_from_the_job_type(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    retryable = _left_running(db, max_attempts=3)
    with JobTracker.open(db, registry=_registry(JobKind.CALLABLE, retryable=True)) as tracker:
        job = tracker.get_job(retryable)
        assert job is not None and job.status is JobStatus.PENDING and job.attempts == 1
    not_retryable = _left_running(db, max_attempts=3)
    with JobTracker.open(db, registry=_registry(JobKind.CALLABLE)) as tracker:
        job = tracker.get_job(not_retryable)
        assert job is not None and job.status is JobStatus.FAILED


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
