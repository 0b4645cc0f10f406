"""ReadyQueue: ready jobs kept in start order, each once, at O(1) per job queued in order."""

from __future__ import annotations

import collections
from collections.abc import Iterator

from jobdeck.core import Job, JobStatus, new_job_id
from jobdeck.runtime.ready_queue import ReadyQueue


def _job(priority: int = 0) -> Job:
    return Job(
        id=new_job_id(),
        type="command",
        title="t",
        status=JobStatus.PENDING,
        created_ts=0.0,
        priority=priority,
    )


def test_jobs_go_in_start_order_each_once() -> None:
    queue = ReadyQueue()
    first, second, urgent, third = _job(), _job(), _job(priority=5), _job()
    for job in (first, second, urgent, third, second, urgent, third):  # (some twice)
        queue.add(job, needs_thread=False)
    assert list(queue.ready) == [urgent, first, second, third]
    queue.add(first, needs_thread=True)  # the other queue is another queue
    assert list(queue.threaded) == [first]


def test_jobs_queued_in_order_cost_the_same_however_many_are_queued() -> None:
    """Queueing one job after another (the launch form, the API, a script) looks at the
    last job queued only, never through all of them (quadratic: 10,000 jobs queued one by
    one cost 50 million comparisons)."""
    walks = 0

    class Watched(collections.deque[Job]):
        def __iter__(self) -> Iterator[Job]:
            nonlocal walks
            walks += 1
            return super().__iter__()

    queue = ReadyQueue()
    queue.ready = Watched()
    jobs = [_job() for _ in range(2000)]
    for job in jobs:
        queue.add(job, needs_thread=False)
    assert walks == 0
    queue.add(jobs[1000], needs_thread=False)  # (one that is there: looked for, once)
    assert walks == 1
    assert list(queue.ready) == jobs
