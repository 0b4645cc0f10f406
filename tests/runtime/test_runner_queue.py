"""The Runner's queue: worker limit, priority, dependencies, retries, timeouts and run_at."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from jobdeck.core import EventKind, FakeClock, JobContext, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner

from .conftest import ProgressRecorder, finished, status_of

WAIT_MS = 5000


class Gate:
    """Jobs that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.order: list[str] = []

    def work(self, ctx: JobContext, name: str) -> str:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.order.append(name)
        try:
            assert self.release.wait(5), "the test never released the gate"
        finally:
            with self.lock:
                self.running -= 1
        return name


@pytest.fixture
def gate(registry: JobRegistry) -> Gate:
    g = Gate()
    registry.register("gated", g.work)
    return g


def test_concurrency_never_exceeds_max_workers_and_can_change(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, gate: Gate
) -> None:
    runner = make_runner(max_workers=3)
    jobs = [tracker.enqueue("gated", {"name": f"j{i}"}) for i in range(10)]
    qtbot.waitUntil(lambda: gate.running == 3, timeout=WAIT_MS)
    qtbot.wait(50)  # give a wrongly started fourth job the chance to show up
    assert gate.running == 3
    assert len(runner.running_job_ids()) == 3
    assert sum(status_of(tracker, j.id) is JobStatus.PENDING for j in jobs) == 7

    runner.max_workers = 5
    qtbot.waitUntil(lambda: gate.running == 5, timeout=WAIT_MS)
    gate.release.set()
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in jobs), timeout=WAIT_MS)
    assert gate.max_running == 5
    assert all(status_of(tracker, j.id) is JobStatus.COMPLETED for j in jobs)


def test_bad_max_workers_is_refused(tracker: JobTracker, qapp) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        Runner(tracker, max_workers=0)
    runner = Runner(tracker, max_workers=1)
    with pytest.raises(ValueError, match="max_workers"):
        runner.max_workers = True
    assert runner.max_workers == 1


def test_higher_priority_first_then_oldest(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    order: list[str] = []
    blocker = threading.Event()

    @registry.job_type("record")
    def record(ctx: JobContext, name: str) -> None:
        if name == "blocker":
            assert blocker.wait(5)
        order.append(name)

    make_runner(max_workers=1)
    first = tracker.enqueue("record", {"name": "blocker"})
    qtbot.waitUntil(lambda: status_of(tracker, first.id) is JobStatus.RUNNING, timeout=WAIT_MS)
    low = tracker.enqueue("record", {"name": "low"}, priority=-1)
    mid_old = tracker.enqueue("record", {"name": "mid-old"})
    high = tracker.enqueue("record", {"name": "high"}, priority=5)
    mid_new = tracker.enqueue("record", {"name": "mid-new"})
    blocker.set()
    jobs = (low, mid_old, high, mid_new)
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in jobs), timeout=WAIT_MS)
    assert order == ["blocker", "high", "mid-old", "mid-new", "low"]


def test_dependent_waits_for_its_dependencies(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, gate: Gate
) -> None:
    make_runner(max_workers=4)
    a = tracker.enqueue("gated", {"name": "a"})
    b = tracker.enqueue("gated", {"name": "b"})
    c = tracker.enqueue("gated", {"name": "c"}, depends_on=[a.id, b.id], priority=10)
    qtbot.waitUntil(lambda: gate.running == 2, timeout=WAIT_MS)
    qtbot.wait(50)
    assert status_of(tracker, c.id) is JobStatus.PENDING  # free slots, but a and b run
    gate.release.set()
    qtbot.waitUntil(lambda: finished(tracker, c.id), timeout=WAIT_MS)
    assert status_of(tracker, c.id) is JobStatus.COMPLETED
    assert gate.order[-1] == "c"
    a_done = tracker.get_job(a.id).completed_ts  # type: ignore[union-attr]
    assert tracker.get_job(c.id).started_ts >= a_done  # type: ignore[union-attr, operator]


def test_failed_or_cancelled_dependency_fails_dependents_naming_it(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    progress: ProgressRecorder,
) -> None:
    @registry.job_type("explode", title="Explode")
    def explode(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    ran: list[str] = []

    @registry.job_type("after")
    def after(ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    make_runner()
    a = tracker.enqueue("explode")
    b = tracker.enqueue("after", depends_on=[a.id])
    c = tracker.enqueue("after", depends_on=[b.id])
    later = tracker.enqueue("after", run_at=tracker.now() + 3600)
    d = tracker.enqueue("after", depends_on=[later.id])
    tracker.cancel_job(later.id)
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in (b, c, d)), timeout=WAIT_MS)
    assert ran == []
    for job, dep in ((b, a), (c, b), (d, later)):
        done = tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.FAILED
        assert done.error is not None and dep.id in done.error.message
    assert "'Explode'" in tracker.get_job(b.id).error.message  # type: ignore[union-attr]
    assert "failed" in tracker.get_job(b.id).error.message  # type: ignore[union-attr]
    assert "cancelled" in tracker.get_job(d.id).error.message  # type: ignore[union-attr]
    for job in (b, c, d):  # they never ran: no start, no attempt, no STARTED event
        done = tracker.get_job(job.id)
        assert done is not None and (done.attempts, done.started_ts) == (0, None)
        assert progress.statuses[job.id] == [JobStatus.PENDING, JobStatus.FAILED]
        assert not [e for e in progress.events if e.job.id == job.id and e.kind == "started"]


def test_retryable_job_retries_with_backoff_on_the_fake_clock(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    clock: FakeClock,
) -> None:
    attempts: list[int] = []

    @registry.job_type("flaky", retryable=True)
    def flaky(ctx: JobContext) -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "ok"

    runner = make_runner()
    job = tracker.enqueue("flaky", max_attempts=3)

    for expected_attempts, ceiling in ((1, 1.0), (2, 2.0)):
        qtbot.waitUntil(lambda n=expected_attempts: len(attempts) == n, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: status_of(tracker, job.id) is JobStatus.PENDING, timeout=WAIT_MS)
        waiting = tracker.get_job(job.id)
        assert waiting is not None and waiting.run_at_ts is not None
        assert waiting.attempts == expected_attempts
        assert waiting.error is not None and f"attempt {expected_attempts} failed" in str(
            waiting.error
        )
        delay = waiting.run_at_ts - clock()
        assert ceiling / 2 <= delay <= ceiling  # exponential, with jitter
        clock.advance(delay / 2)
        runner.poke()
        assert status_of(tracker, job.id) is JobStatus.PENDING  # not due yet
        clock.set(waiting.run_at_ts)
        runner.poke()

    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.result == "ok" and done.attempts == 3 and attempts == [1, 2, 3]


def test_retries_stop_at_max_attempts_and_non_retryable_types_never_retry(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    clock: FakeClock,
) -> None:
    @registry.job_type("always-fails", retryable=True)
    def always(ctx: JobContext) -> None:
        raise OSError("disk on fire")

    @registry.job_type("fails-once")
    def once(ctx: JobContext) -> None:
        raise OSError("nope")

    runner = make_runner()
    retried = tracker.enqueue("always-fails", max_attempts=2)
    plain = tracker.enqueue("fails-once", max_attempts=5)
    qtbot.waitUntil(lambda: finished(tracker, plain.id), timeout=WAIT_MS)
    assert tracker.get_job(plain.id).attempts == 1  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: status_of(tracker, retried.id) is JobStatus.PENDING, timeout=WAIT_MS)
    clock.advance(300)
    runner.poke()
    qtbot.waitUntil(lambda: finished(tracker, retried.id), timeout=WAIT_MS)
    done = tracker.get_job(retried.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.attempts == 2 and "disk on fire" in str(done.error)


def test_run_at_delays_a_job_until_the_clock_reaches_it(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    clock: FakeClock,
) -> None:
    registry.register("noop", lambda ctx: None)
    runner = make_runner()
    job = tracker.enqueue("noop", run_at=clock() + 60)
    now_job = tracker.enqueue("noop")
    qtbot.waitUntil(lambda: finished(tracker, now_job.id), timeout=WAIT_MS)
    clock.advance(59.9)
    runner.poke()
    assert status_of(tracker, job.id) is JobStatus.PENDING
    clock.advance(0.1)
    runner.poke()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert tracker.get_job(job.id).started_ts >= clock() - 0.001  # type: ignore[union-attr,operator]


def test_run_at_fires_by_itself_with_the_real_clock(
    qtbot, event_loop_qt, real_tracker: JobTracker, registry: JobRegistry, tmp_path
) -> None:
    registry.register("noop", lambda ctx: None)
    runner = Runner(real_tracker, log_dir=tmp_path)
    runner.start()
    try:
        job = real_tracker.enqueue("noop", run_at=real_tracker.now() + 0.2)
        assert status_of(real_tracker, job.id) is JobStatus.PENDING
        qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
        done = real_tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.COMPLETED
        assert done.started_ts is not None and done.started_ts >= job.run_at_ts  # type: ignore[operator]
    finally:
        assert runner.shutdown(timeout=5)


def test_callable_timeout_fails_the_job_and_signals_the_code(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    clock: FakeClock,
) -> None:
    saw_cancel = threading.Event()
    running = threading.Event()

    @registry.job_type("slow")
    def slow(ctx: JobContext) -> None:
        running.set()
        if ctx.cancel_event.wait(5):
            saw_cancel.set()

    runner = make_runner()
    job = tracker.enqueue("slow", timeout=30)
    qtbot.waitUntil(running.is_set, timeout=WAIT_MS)
    clock.advance(29)
    runner.poke()
    assert status_of(tracker, job.id) is JobStatus.RUNNING
    clock.advance(1)
    runner.poke()
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert str(done.error) == "timed out after 30 s"
    assert saw_cancel.wait(5)


def test_coroutine_timeout_cancels_the_task(
    qtbot,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    registry: JobRegistry,
    clock: FakeClock,
) -> None:
    got_cancelled = []

    @registry.job_type("asleep")
    async def asleep(ctx: JobContext) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            got_cancelled.append(True)
            raise

    runner = make_runner()
    job = tracker.enqueue("asleep", timeout=2.5)
    qtbot.waitUntil(lambda: status_of(tracker, job.id) is JobStatus.RUNNING, timeout=WAIT_MS)
    qtbot.wait(20)  # let the coroutine reach its await
    clock.advance(3)
    runner.poke()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert str(done.error) == "timed out after 2.5 s"
    assert got_cancelled == [True]


def test_jobs_pending_before_start_run_when_it_starts(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    registry.register("noop", lambda ctx: 7)
    runner = make_runner(start=False)
    job = tracker.enqueue("noop")
    qtbot.wait(20)
    assert status_of(tracker, job.id) is JobStatus.PENDING
    runner.start()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert tracker.get_job(job.id).result == 7  # type: ignore[union-attr]


def test_callables_run_within_max_threads_in_priority_order_while_processes_still_start(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, gate: Gate
) -> None:
    runner = make_runner(max_workers=10, max_threads=2)
    with tracker.batch():  # queued at once: they compete by priority for the threads
        callables = [tracker.enqueue("gated", {"name": f"c{i}"}, priority=i) for i in range(5)]
        process = tracker.enqueue("command", {"argv": ["echo", "no thread needed"]}, priority=-5)
    qtbot.waitUntil(lambda: gate.running == 2, timeout=WAIT_MS)
    # The process comes last by priority, yet starts: the callables wait for a thread.
    qtbot.waitUntil(lambda: finished(tracker, process.id), timeout=WAIT_MS)
    assert status_of(tracker, process.id) is JobStatus.COMPLETED
    assert gate.running == 2 and sorted(gate.order) == ["c3", "c4"]  # the two first
    assert sum(status_of(tracker, j.id) is JobStatus.PENDING for j in callables) == 3

    runner.max_threads = 3
    qtbot.waitUntil(lambda: gate.running == 3, timeout=WAIT_MS)
    assert gate.order[2] == "c2"
    gate.release.set()
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in callables), timeout=WAIT_MS)
    assert sorted(gate.order[3:]) == ["c0", "c1"]
    assert gate.max_running == 3


def test_bad_max_threads_is_refused(tracker: JobTracker, qapp) -> None:
    with pytest.raises(ValueError, match="max_threads must be an integer >= 1, got 0"):
        Runner(tracker, max_threads=0)


def test_a_program_that_follows_is_never_stored_running_before_the_end_it_followed(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, monkeypatch
) -> None:
    """One program at a time, the next ones handed over to the service, which starts one
    the moment the last ends. However late the ended program's watcher thread records
    that end (here: a busy machine, 0.3 s late), the store never says two run at once:
    the start that took its place is recorded with the end, not before it."""
    from jobdeck.runtime.executors.processes import ProcessExecutor

    ended = ProcessExecutor._ended

    def late(self: ProcessExecutor, *args: object) -> None:
        threading.Event().wait(0.3)  # (the watcher thread is late, not the program)
        ended(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ProcessExecutor, "_ended", late)
    events: list[tuple[EventKind, str]] = []
    kinds = {EventKind.STARTED, EventKind.COMPLETED, EventKind.FAILED}
    tracker.subscribe(lambda e: events.append((e.kind, e.job.id)) if e.kind in kinds else None)
    # (each runs long enough for the next ones to be handed over meanwhile)
    jobs = [tracker.enqueue("command", {"argv": ["sleep", "0.2"]}) for _ in range(4)]
    make_runner(max_workers=1)
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in jobs), timeout=WAIT_MS * 4)
    running = 0
    for kind, job_id in events:
        running += 1 if kind is EventKind.STARTED else -1
        assert 0 <= running <= 1, (job_id, events)
    assert [status_of(tracker, j.id) for j in jobs] == [JobStatus.COMPLETED] * 4


def test_short_programs_run_back_to_back_in_order_within_the_limit(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    """A slot a program frees goes to the next queued job at once (its watcher starts it,
    in the commit that records the end): in priority order, never more at once than
    allowed, each job with its pid and resource use (and no log file: `true` prints
    nothing), and a job that waited for one of them runs too."""
    events: list[tuple[EventKind, str]] = []
    kinds = {EventKind.STARTED, EventKind.COMPLETED, EventKind.FAILED}
    tracker.subscribe(lambda e: events.append((e.kind, e.job.id)) if e.kind in kinds else None)
    jobs = [tracker.enqueue("command", {"argv": ["true"]}, priority=i % 3) for i in range(12)]
    after = tracker.enqueue("command", {"argv": ["true"]}, depends_on=[jobs[0].id])
    make_runner(max_workers=1)
    everything = [*jobs, after]
    qtbot.waitUntil(lambda: all(finished(tracker, j.id) for j in everything), timeout=WAIT_MS * 4)

    started = [job_id for kind, job_id in events if kind is EventKind.STARTED]
    by_priority = [j.id for j in sorted(jobs, key=lambda j: (-j.priority, j.id))]
    assert [job_id for job_id in started if job_id != after.id] == by_priority
    running = 0
    for kind, _job_id in events:
        running += 1 if kind is EventKind.STARTED else -1
        assert 0 <= running <= 1
    for job in everything:
        done = tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.COMPLETED, done
        assert done.pid is not None and done.log_path is None
        assert done.cpu_seconds is not None
        # `true`'s own peak (the supervisor's is never taken for it): unknown when it ended
        # before it could be read, else small
        assert done.peak_rss is None or done.peak_rss < 8_000_000, done.peak_rss
