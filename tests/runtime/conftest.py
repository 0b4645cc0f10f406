"""Fixtures for runtime tests: a qasync loop on pytest-qt's QApplication, trackers, Runners.

Every Runner made through ``make_runner`` is shut down at the end of its test, and every
process a test starts carries a per-test environment marker, so anything left alive is
killed (and the test fails) instead of leaking into later tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import qasync

from jobdeck.core import FakeClock, JobEvent, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner
from tests.registries import with_command

MARKER = "JOBDECK_RUNTIME_TEST_MARKER"


@pytest.fixture
def event_loop_qt(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop driven by the Qt event loop that ``qtbot.wait*`` spins."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    # qasync's stop() would call QApplication.exit(), which makes every later nested event
    # loop (qtbot.waitSignal) return at once; mark it stopped by hand so close() works.
    loop._QEventLoop__is_running = False
    loop.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> JobRegistry:
    """The tracker's job types: ``command`` (as the app registers it); tests add theirs."""
    return with_command()


@pytest.fixture
def tracker(tmp_path: Path, clock: FakeClock, registry: JobRegistry) -> Iterator[JobTracker]:
    """A tracker on a temporary file whose time only moves when the test says so."""
    t = JobTracker.open(tmp_path / "jobs.db", registry=registry, clock=clock, event_interval=0.005)
    yield t
    t.close()


@pytest.fixture
def real_tracker(tmp_path: Path, registry: JobRegistry) -> Iterator[JobTracker]:
    """A tracker on a temporary file with the real clock (for timers that fire by themselves)."""
    t = JobTracker.open(tmp_path / "real.db", registry=registry, event_interval=0.005)
    yield t
    t.close()


def _tagged_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER) == marker and process.status() != "zombie":
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def make_runner(
    event_loop_qt: asyncio.AbstractEventLoop,
    tracker: JobTracker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Runner]]:
    """``make_runner(**kwargs)``: a started Runner (the tracker from the fixture)."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    runners: list[Runner] = []

    def make(**kwargs: Any) -> Runner:
        kwargs.setdefault("tracker", tracker)
        kwargs.setdefault("log_dir", tmp_path / "logs")
        kwargs.setdefault("grace", 1.0)
        start = kwargs.pop("start", True)
        runner = Runner(**kwargs)
        runners.append(runner)
        if start:
            runner.start()
        return runner

    yield make
    for runner in runners:
        assert runner.shutdown(timeout=5), "a job was still running at shutdown"
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


@pytest.fixture
def runner(make_runner: Callable[..., Runner]) -> Runner:
    return make_runner()


class ProgressRecorder:
    """A tracker subscriber that keeps, per job, every status and the largest progress seen."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[JobStatus]] = {}
        self.max_current: dict[str, float] = {}
        self.totals: dict[str, float] = {}
        self.events: list[JobEvent] = []

    def __call__(self, event: JobEvent) -> None:
        job = event.job
        self.events.append(event)
        seen = self.statuses.setdefault(job.id, [])
        if not seen or seen[-1] is not job.status:
            seen.append(job.status)
        if job.progress.current >= self.max_current.get(job.id, -1):
            self.max_current[job.id] = job.progress.current
            self.totals[job.id] = job.progress.total


@pytest.fixture
def progress(tracker: JobTracker) -> ProgressRecorder:
    recorder = ProgressRecorder()
    tracker.subscribe(recorder)
    return recorder


def finished(tracker: JobTracker, job_id: str) -> bool:
    job = tracker.get_job(job_id)
    return job is not None and job.finished


def status_of(tracker: JobTracker, job_id: str) -> JobStatus:
    job = tracker.get_job(job_id)
    assert job is not None, job_id
    return job.status
