"""Shutdown: running jobs are cancelled (or allowed to finish), no thread or warning is left."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import psutil
from PySide6.QtCore import QtMsgType

from jobdeck.core import JobContext, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import JobSignals, Runner

from .conftest import status_of

WAIT_MS = 5000


def _threads() -> int:
    return psutil.Process().num_threads()


def test_shutdown_cancels_every_kind_of_job_and_leaves_no_thread_or_warning(
    qtbot, qtlog, event_loop_qt, tracker: JobTracker, registry: JobRegistry, tmp_path: Path
) -> None:
    started = threading.Event()

    @registry.job_type("spin")
    def spin(ctx: JobContext) -> None:
        started.set()
        ctx.cancel_event.wait(10)

    @registry.job_type("nap")
    async def nap(ctx: JobContext) -> None:
        await asyncio.sleep(10)

    with tracker.create_job("warm-up"):  # start the tracker's own progress thread first
        pass
    baseline = _threads()

    runner = Runner(tracker, max_workers=3, log_dir=tmp_path, grace=1.0)
    signals = JobSignals(tracker)
    runner.start()
    jobs = [
        tracker.enqueue("spin"),
        tracker.enqueue("nap"),
        tracker.enqueue("command", {"argv": ["sleep", "30"]}),
    ]
    waiting = tracker.enqueue("spin")

    def all_running() -> bool:
        process = tracker.get_job(jobs[2].id)
        running = all(status_of(tracker, j.id) is JobStatus.RUNNING for j in jobs)
        return running and process is not None and process.pid is not None

    qtbot.waitUntil(all_running, timeout=WAIT_MS)
    assert started.is_set()
    t0 = time.monotonic()
    assert runner.shutdown(cancel_running=True, timeout=5)
    assert time.monotonic() - t0 < 1.0
    signals.close()
    assert [status_of(tracker, j.id) for j in jobs] == [JobStatus.CANCELLED] * 3
    assert status_of(tracker, waiting.id) is JobStatus.PENDING  # kept for the next start
    assert runner.running_job_ids() == []
    # Process reader/waiter threads end with the process; the pool's threads are removed.
    qtbot.waitUntil(lambda: _threads() <= baseline, timeout=500)
    assert not [t for t in threading.enumerate() if t.name.startswith("jobdeck-process")]
    warnings = [r for r in qtlog.records if r.type is QtMsgType.QtWarningMsg]
    assert warnings == []
    assert runner.shutdown() is True  # idempotent


def test_shutdown_without_cancel_lets_running_jobs_finish(
    qtbot, event_loop_qt, tracker: JobTracker, registry: JobRegistry, tmp_path: Path
) -> None:
    release = threading.Event()

    @registry.job_type("short")
    def short(ctx: JobContext) -> str:
        release.wait(5)
        return "done"

    runner = Runner(tracker, log_dir=tmp_path)
    runner.start()
    job = tracker.enqueue("short")
    qtbot.waitUntil(lambda: status_of(tracker, job.id) is JobStatus.RUNNING, timeout=WAIT_MS)
    threading.Timer(0.05, release.set).start()
    assert runner.shutdown(cancel_running=False, timeout=5)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.result == "done"
    later = tracker.enqueue("short")
    qtbot.wait(30)
    assert status_of(tracker, later.id) is JobStatus.PENDING  # a stopped Runner starts nothing
