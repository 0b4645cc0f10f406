"""Two app instances' Runners on one PostgreSQL board drain one queue: every job runs once,
on one of them, and none is lost — the schedulers claim the next free jobs (``SKIP LOCKED``)
rather than colliding on the front of the queue they both see."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner

WAIT_MS = 60_000


def _noop(ctx: Any, n: int = 0) -> int:
    return n


@pytest.fixture
def instances(
    event_loop_qt: asyncio.AbstractEventLoop, pg_url: str
) -> Iterator[list[tuple[JobTracker, Runner]]]:
    made: list[tuple[JobTracker, Runner]] = []
    for name in ("left", "right"):
        registry = JobRegistry()
        registry.register("noop", _noop)
        if name == "left":
            registry.register("left_only", _noop)  # a type the other instance cannot run
        tracker = JobTracker.open(pg_url, registry=registry, instance=name, event_interval=0.01)
        made.append((tracker, Runner(tracker, max_workers=3)))
    yield made
    for tracker, runner in made:
        assert runner.shutdown(timeout=10)
        tracker.close()


def test_two_instances_drain_one_queue_each_job_once(
    qtbot: Any, instances: list[tuple[JobTracker, Runner]]
) -> None:
    (left, _), (right, _) = instances
    with left.batch():
        only_left = left.enqueue("left_only", {"n": -1})  # first in the queue of both
        ids = [left.enqueue("noop", {"n": n}).id for n in range(120)]
    qtbot.waitUntil(lambda: len(right.pending_jobs()) == 121, timeout=WAIT_MS)
    (_, left_runner), (_, right_runner) = instances
    right_runner.start()  # alone first: it cannot run the first job, and leaves it be
    qtbot.waitUntil(lambda: right.count_jobs(status="completed") >= 20, timeout=WAIT_MS)
    waiting = right.get_job(only_left.id)
    assert waiting is not None and waiting.status is JobStatus.PENDING
    left_runner.start()
    qtbot.waitUntil(lambda: left.count_jobs(status="completed") >= 120, timeout=WAIT_MS)
    jobs = [left.get_job(i) for i in ids]
    assert all(j is not None and j.status is JobStatus.COMPLETED for j in jobs)
    assert [j.result for j in jobs if j is not None] == list(range(120))
    assert {j.attempts for j in jobs if j is not None} == {1}  # none started twice
    for job in jobs:  # the instance that ran it, as the taskbar and the history show it
        assert job is not None and job.metadata["instance"] == left.runs_on(job.id)
    assert {left.runs_on(i) for i in ids} <= {"left", "right"}
    # The instance that does not know a type leaves its jobs to one that does.
    qtbot.waitUntil(lambda: left.count_jobs(status="completed") == 121, timeout=WAIT_MS)
    assert left.runs_on(only_left.id) == "left"
    # Later, after the queue ran dry: a job queued on one is still run (by one of them).
    late = right.enqueue("noop", {"n": 7})
    qtbot.waitUntil(
        lambda: (j := left.get_job(late.id)) is not None and j.status is JobStatus.COMPLETED,
        timeout=WAIT_MS,
    )
