"""Job records: the transition table, ids, progress and durations."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from jobdeck.core import InvalidTransition, Job, JobStatus, Progress, new_job_id
from jobdeck.core.job import TRANSITIONS, check_transition, evolve

S = JobStatus


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.PENDING, S.RUNNING),
        (S.PENDING, S.CANCELLED),
        (S.PENDING, S.FAILED),  # a job that can never start
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELLED),
        (S.RUNNING, S.PENDING),
    ],
)
def test_allowed_transitions(old: JobStatus, new: JobStatus) -> None:
    check_transition("j", old, new)


def test_everything_else_is_refused() -> None:
    allowed = {(o, n) for o, targets in TRANSITIONS.items() for n in targets}
    assert len(allowed) == 7
    for old in S:
        for new in S:
            if (old, new) not in allowed:
                with pytest.raises(InvalidTransition) as info:
                    check_transition("j1", old, new)
                assert "j1" in str(info.value)
                assert old.value in str(info.value) and new.value in str(info.value)


def test_finished_job_message_says_it_never_changes() -> None:
    with pytest.raises(InvalidTransition, match="finished jobs never change"):
        check_transition("j", S.COMPLETED, S.RUNNING)


def test_ids_are_unique_and_sort_by_creation_within_one_millisecond() -> None:
    ids = [new_job_id(1_700_000_000.0) for _ in range(20_000)]  # same millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    later = new_job_id(1_700_000_000.002)
    assert later > ids[-1]
    assert all(len(i) == 26 for i in ids[:10])


def test_ids_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        out[i].extend(new_job_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [x for chunk in out for x in chunk]
    assert len(set(every)) == 20_000
    for chunk in out:
        assert chunk == sorted(chunk)


def test_progress_percent() -> None:
    assert Progress(50, 200).percent == 25.0
    assert Progress(5, 0).percent is None
    assert Progress(300, 200).percent == 100.0


def test_duration_and_elapsed() -> None:
    job = Job("a", "t", "T", S.RUNNING, created_ts=100.0, started_ts=110.0)
    assert job.duration is None
    elapsed = job.elapsed(now=125.0)
    assert elapsed is not None and elapsed.total_seconds() == 15.0
    done = Job("a", "t", "T", S.COMPLETED, created_ts=100.0, started_ts=110.0, completed_ts=170.0)
    assert done.duration is not None and done.duration.total_seconds() == 60.0
    assert done.elapsed(now=999.0) == done.duration
    assert done.created_at.year == 1970 and done.completed_at is not None


def test_the_status_is_one_class_wherever_it_is_imported_from() -> None:
    # (its own module, so that the first window shows statuses without the Job dataclasses)
    import jobdeck.core
    from jobdeck.core import job, job_status

    assert job.JobStatus is job_status.JobStatus is jobdeck.core.JobStatus
    assert JobStatus.COMPLETED.finished and JobStatus.RUNNING.active
    assert not JobStatus.PENDING.finished and not JobStatus.FAILED.active


def test_evolve_is_dataclasses_replace_for_every_field() -> None:
    """``evolve`` (the copy every transition makes, built slot by slot) gives what
    ``dataclasses.replace`` gives, whatever fields change, and leaves the job as it was."""
    job = Job(
        id="01M8RKDPATBNRX07RQGPJT91MZ",
        type="command",
        title="true",
        status=JobStatus.PENDING,
        created_ts=1.0,
        params={"argv": ["true"]},
        metadata={"k": 1},
    )
    before = dataclasses.replace(job)
    names = [f.name for f in dataclasses.fields(Job)]
    for i, name in enumerate(names):
        changes: dict[str, Any] = {name: f"value {i}", names[(i + 7) % len(names)]: i}
        assert evolve(job, changes) == dataclasses.replace(job, **changes)
    assert evolve(job, {}) is job
    assert job == before
    new = evolve(job, {"status": JobStatus.RUNNING, "attempts": 1})
    assert (new.status, new.attempts, new.params) == (JobStatus.RUNNING, 1, {"argv": ["true"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.status = JobStatus.FAILED  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        evolve(job, {"colour": "red"})
