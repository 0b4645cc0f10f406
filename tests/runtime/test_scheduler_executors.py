"""The scheduler hands jobs to executors through one small interface: a new way of running
jobs is one class, with no change to the scheduler (here: a hand-driven "remote" executor,
as a cluster executor would be)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobContext, JobRegistry, JobStatus, JobTracker
from jobdeck.core.job import Job
from jobdeck.core.registry import JobType
from jobdeck.runtime import Scheduler
from jobdeck.runtime.executors import Executor, Outcome, Run, ThreadExecutor
from jobdeck.runtime.scheduler import MAX_TIMER_MS

from .conftest import finished, status_of

WAIT_MS = 15_000


class RemoteExecutor(Executor):
    """Runs the job types whose name starts with ``remote-`` "elsewhere": it keeps each
    started run until the test says how it ended (as results from a cluster would)."""

    def __init__(self) -> None:
        self.started: dict[str, tuple[Run, Any]] = {}
        self.cancelled: list[str] = []
        self.timed_out: list[str] = []

    def accepts(self, job_type: JobType) -> bool:
        return job_type.name.startswith("remote-")

    def prepare(self, job: Job, job_type: JobType) -> Any:
        kwargs = job_type.to_kwargs(job.params)
        return {"shipped": kwargs}

    def start(self, run: Run, prepared: Any) -> None:
        self.started[run.job_id] = (run, prepared)

    def cancel(self, run: Run) -> None:
        self.cancelled.append(run.job_id)
        run.report(Outcome.cancelled())

    def time_out(self, run: Run) -> None:
        self.timed_out.append(run.job_id)
        run.report(Outcome.failed(run.timeout_message, retry=True))


def remote_sum(ctx: JobContext, numbers: list[int]) -> int:
    return sum(numbers)


def local_double(ctx: JobContext, value: int) -> int:
    return 2 * value


@pytest.fixture
def setup(
    event_loop_qt: Any, tmp_path: Path, clock: FakeClock
) -> Iterator[tuple[JobTracker, Scheduler, RemoteExecutor]]:
    registry = JobRegistry()
    registry.register("remote-sum", remote_sum, retryable=True)
    registry.register("local-double", local_double)
    tracker = JobTracker.open(
        tmp_path / "jobs.db", registry=registry, clock=clock, event_interval=0.005
    )
    remote = RemoteExecutor()
    scheduler = Scheduler(tracker, [remote, ThreadExecutor()], max_workers=4)
    scheduler.start()
    yield tracker, scheduler, remote
    assert scheduler.shutdown(timeout=5)
    tracker.close()


def test_a_new_executor_runs_the_jobs_it_accepts_beside_the_built_in_ones(
    qtbot: Any, setup: tuple[JobTracker, Scheduler, RemoteExecutor]
) -> None:
    tracker, scheduler, remote = setup
    shipped = tracker.enqueue("remote-sum", {"numbers": [1, 2, 3]})
    local = tracker.enqueue("local-double", {"value": 21})
    qtbot.waitUntil(lambda: shipped.id in remote.started, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: finished(tracker, local.id), timeout=WAIT_MS)
    done = tracker.get_job(local.id)
    assert done is not None and done.result == 42  # the thread executor ran it
    run, prepared = remote.started[shipped.id]
    assert prepared == {"shipped": {"numbers": [1, 2, 3]}}
    assert status_of(tracker, shipped.id) is JobStatus.RUNNING
    assert scheduler.running_job_ids() == [shipped.id]
    run.report(Outcome.completed(6))
    run.report(Outcome.failed("too late"))  # one outcome per run: the first wins
    qtbot.waitUntil(lambda: finished(tracker, shipped.id), timeout=WAIT_MS)
    result = tracker.get_job(shipped.id)
    assert result is not None and result.status is JobStatus.COMPLETED and result.result == 6
    assert scheduler.running_job_ids() == []


def test_the_scheduler_applies_its_policy_to_any_executor_s_jobs(
    qtbot: Any, setup: tuple[JobTracker, Scheduler, RemoteExecutor], clock: FakeClock
) -> None:
    """Cancel, timeouts and retries with backoff reach the new executor's jobs too."""
    tracker, scheduler, remote = setup
    cancelled = tracker.enqueue("remote-sum", {"numbers": [1]})
    slow = tracker.enqueue("remote-sum", {"numbers": [2]}, timeout=30)
    flaky = tracker.enqueue("remote-sum", {"numbers": [3]}, max_attempts=2)
    qtbot.waitUntil(lambda: len(remote.started) == 3, timeout=WAIT_MS)
    tracker.cancel_job(cancelled.id)
    qtbot.waitUntil(lambda: finished(tracker, cancelled.id), timeout=WAIT_MS)
    assert remote.cancelled == [cancelled.id]
    assert status_of(tracker, cancelled.id) is JobStatus.CANCELLED

    run, _ = remote.started.pop(flaky.id)
    run.report(Outcome.failed("node lost", retry=True))
    qtbot.waitUntil(lambda: status_of(tracker, flaky.id) is JobStatus.PENDING, timeout=WAIT_MS)
    waiting = tracker.get_job(flaky.id)
    assert waiting is not None and waiting.run_at_ts is not None and waiting.run_at_ts > clock()

    clock.advance(31)  # past the timeout, and past the retry's backoff (at most 1 s)
    scheduler.poke()
    qtbot.waitUntil(lambda: finished(tracker, slow.id), timeout=WAIT_MS)
    assert remote.timed_out == [slow.id]
    timed_out = tracker.get_job(slow.id)
    assert timed_out is not None and str(timed_out.error) == "timed out after 30 s"
    qtbot.waitUntil(lambda: flaky.id in remote.started, timeout=WAIT_MS)  # the second attempt
    again, _ = remote.started[flaky.id]
    assert again.job.attempts == 1 and tracker.get_job(flaky.id).attempts == 2  # type: ignore[union-attr]
    again.report(Outcome.completed(3))
    qtbot.waitUntil(lambda: finished(tracker, flaky.id), timeout=WAIT_MS)


def test_a_job_no_executor_runs_fails_without_starting(
    qtbot: Any, tmp_path: Path, event_loop_qt: Any
) -> None:
    registry = JobRegistry()
    registry.register("local-double", local_double)

    async def later(ctx: JobContext) -> None: ...

    registry.register("later", later)
    with JobTracker.open(tmp_path / "jobs.db", registry=registry) as tracker:
        scheduler = Scheduler(tracker, [ThreadExecutor()])
        scheduler.start()
        job = tracker.enqueue("later")
        qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
        failed = tracker.get_job(job.id)
        assert failed is not None and failed.status is JobStatus.FAILED
        assert str(failed.error) == "nothing here runs coroutine job types like 'later'"
        assert (failed.attempts, failed.started_ts) == (0, None)
        assert scheduler.shutdown(timeout=5)
    with pytest.raises(ValueError, match="needs at least one executor"):
        Scheduler(tracker).start()


def test_the_timer_never_sleeps_past_its_cap_for_a_far_run_at(
    qtbot: Any, setup: tuple[JobTracker, Scheduler, RemoteExecutor], clock: FakeClock
) -> None:
    """run_at up to the year 9999 and timeouts up to 366 days: the scheduling timer is
    armed for at most a minute (a QTimer cannot take such intervals; a clock jump must be
    noticed anyway), and the job runs when its time comes."""
    tracker, scheduler, remote = setup
    timer = scheduler._timer
    long = tracker.enqueue("remote-sum", {"numbers": [2]}, timeout=366 * 86_400)
    qtbot.waitUntil(lambda: long.id in remote.started, timeout=WAIT_MS)
    assert timer.isActive() and 0 < timer.interval() <= MAX_TIMER_MS  # for the timeout
    remote.started[long.id][0].report(Outcome.completed(2))
    qtbot.waitUntil(lambda: finished(tracker, long.id), timeout=WAIT_MS)
    far = tracker.enqueue("remote-sum", {"numbers": [1]}, run_at=253_402_300_000.0)
    # (queued on the GUI thread with a slot free, it was planned in a pass run at once)
    qtbot.waitUntil(lambda: not scheduler._schedule_requested, timeout=WAIT_MS)
    assert timer.isActive() and 0 < timer.interval() <= MAX_TIMER_MS  # for the run_at
    assert far.id not in remote.started
    clock.set(253_402_300_001.0)
    scheduler.poke()
    qtbot.waitUntil(lambda: far.id in remote.started, timeout=WAIT_MS)


def test_the_library_changes_nothing_process_wide(qtbot: Any, setup: Any) -> None:
    """No switch interval from a scheduler or a Runner (the app opts in: see test_app)."""
    before = sys.getswitchinterval()
    tracker, _scheduler, _remote = setup
    job = tracker.enqueue("local-double", {"value": 1})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert sys.getswitchinterval() == before
