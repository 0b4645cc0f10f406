"""Cancelling: pending jobs at once, callables and coroutines through ctx, process trees."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import psutil

from jobdeck.core import EventKind, JobContext, JobEvent, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner

from .conftest import finished, status_of

WAIT_MS = 5000


def cancelled_at(tracker: JobTracker, job_id: str) -> Callable[[], float | None]:
    """Record (time.monotonic) when ``job_id`` becomes cancelled; returns a getter."""
    seen: list[float] = []

    def on_event(event: JobEvent) -> None:
        if event.job.id == job_id and event.kind is EventKind.CANCELLED:
            seen.append(time.monotonic())

    tracker.subscribe(on_event)
    return lambda: seen[0] if seen else None


def test_pending_job_is_cancelled_at_once(
    make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    registry.register("noop", lambda ctx: None)
    make_runner()
    job = tracker.enqueue("noop", run_at=tracker.now() + 3600)
    assert tracker.cancel_job(job.id)
    assert status_of(tracker, job.id) is JobStatus.CANCELLED


def test_callable_polling_ctx_is_cancelled_within_100_ms(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    started = threading.Event()

    @registry.job_type("poller")
    def poller(ctx: JobContext) -> None:
        started.set()
        while not ctx.cancelled:
            time.sleep(0.01)

    make_runner()
    job = tracker.enqueue("poller")
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    when = cancelled_at(tracker, job.id)
    t0 = time.monotonic()
    assert tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: when() is not None, timeout=WAIT_MS)
    latency = when() - t0  # type: ignore[operator]
    assert latency < 0.100, f"cancelled after {latency * 1000:.0f} ms"
    assert status_of(tracker, job.id) is JobStatus.CANCELLED


def test_callable_raising_cancelled_from_checkpoint_is_cancelled(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    @registry.job_type("checker")
    def checker(ctx: JobContext) -> None:
        while True:
            ctx.update_progress(1, 10, "checking item 1")
            ctx.checkpoint()
            time.sleep(0.005)

    make_runner()
    job = tracker.enqueue("checker")
    qtbot.waitUntil(lambda: status_of(tracker, job.id) is JobStatus.RUNNING, timeout=WAIT_MS)
    tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.CANCELLED and done.cancel_requested
    assert done.progress.message == "Cancelled"  # not "checking item 1"
    assert done.progress.current == 1


def test_coroutine_gets_cancelled_error(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    seen: list[str] = []

    @registry.job_type("waiter")
    async def waiter(ctx: JobContext) -> None:
        seen.append("started")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    make_runner()
    job = tracker.enqueue("waiter")
    qtbot.waitUntil(lambda: seen == ["started"], timeout=WAIT_MS)
    when = cancelled_at(tracker, job.id)
    t0 = time.monotonic()
    tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: when() is not None, timeout=WAIT_MS)
    assert when() - t0 < 0.100  # type: ignore[operator]
    assert seen == ["started", "cancelled"]
    assert status_of(tracker, job.id) is JobStatus.CANCELLED


def test_coroutine_runs_on_the_gui_thread(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, registry: JobRegistry
) -> None:
    threads: list[threading.Thread] = []

    @registry.job_type("where")
    async def where(ctx: JobContext, n: int) -> int:
        threads.append(threading.current_thread())
        await asyncio.sleep(0)
        return n * 2

    make_runner()
    job = tracker.enqueue("where", {"n": 21})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert tracker.get_job(job.id).result == 42  # type: ignore[union-attr]
    assert threads == [threading.main_thread()]


def test_process_ignoring_sigterm_is_killed_with_its_children_after_grace(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    grace = 0.5
    make_runner(grace=grace)
    script = 'trap "" TERM; sleep 60 & sh -c "sleep 60; true" & echo ready; wait'
    job = tracker.enqueue("command", {"argv": ["sh", "-c", script]})

    def tree() -> list[psutil.Process]:
        current = tracker.get_job(job.id)
        if current is None or current.pid is None:
            return []
        root = psutil.Process(current.pid)
        return [root, *root.children(recursive=True)]

    # sh, sleep, inner sh (and its sleep, unless the inner sh execs it)
    qtbot.waitUntil(lambda: len(tree()) >= 3, timeout=WAIT_MS)
    processes = tree()
    qtbot.wait(50)  # let every child install its (inherited) ignored SIGTERM
    t0 = time.monotonic()
    tracker.cancel_job(job.id)

    def all_gone() -> bool:
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    return False
            except psutil.NoSuchProcess:
                continue
        return True

    qtbot.waitUntil(all_gone, timeout=WAIT_MS)
    elapsed = time.monotonic() - t0
    assert elapsed >= grace * 0.8, f"gone after {elapsed:.2f} s: SIGTERM was not ignored?"
    assert elapsed <= grace + 0.5, f"gone after {elapsed:.2f} s"
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert status_of(tracker, job.id) is JobStatus.CANCELLED


def test_well_behaved_process_stops_on_sigterm(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    make_runner(grace=5.0)
    job = tracker.enqueue("command", {"argv": ["sleep", "60"]})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    t0 = time.monotonic()
    tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert time.monotonic() - t0 < 1.0  # well before the 5 s grace
    assert status_of(tracker, job.id) is JobStatus.CANCELLED


def test_a_cancelled_process_says_cancelled_not_its_last_words(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    # Like rsync: on SIGTERM it prints why it stops, then exits with its own status.
    script = (
        "trap 'echo \"rsync error: received SIGUSR1 (code 20)\"; exit 20' TERM; "
        'echo "sending incremental file list"; while :; do sleep 0.05; done'
    )
    make_runner(grace=5.0)
    job = tracker.enqueue("command", {"argv": ["sh", "-c", script]})
    qtbot.waitUntil(
        lambda: tracker.get_job(job.id).progress.message == "sending incremental file list",  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.CANCELLED
    assert done.progress.message == "Cancelled"
    logs = [entry.message for entry in tracker.logs(job.id)]
    assert "rsync error: received SIGUSR1 (code 20)" in logs  # still in its log
