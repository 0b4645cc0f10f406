"""Jobs started after the app has been idle still report live progress (issue 8, section 1).

Regression: once every job had finished and nothing ran for a moment, the tracker's progress
pump slept for good, so each later job showed no progress in the UI and 0/0 in the store
until it ended. These tests run real jobs through a Runner and JobSignals, with idle gaps
between them as a user has, and check what the widgets would get (``jobsChanged`` snapshots
with progress) and what a read-only reader of the store sees, while the job still runs.

Each job stops half way on a gate the test opens, so the checks never race the job's end.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import Job, JobContext, JobStatus, JobTracker
from jobdeck.runtime import JobSignals, Runner
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

WAIT_MS = 15_000
#: Idle gaps between jobs: a short pause and a longer one (the pump long asleep).
IDLE_GAPS_MS = (300, 1500)

GATED_COMMAND = (
    "import os, sys, time\n"
    "print('5/10', flush=True)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.02)\n"
    "print('10/10', flush=True)\n"
)


class Seen:
    """The latest running snapshot of each job that JobSignals handed to widgets."""

    def __init__(self, signals: JobSignals) -> None:
        self.running: dict[str, Job] = {}
        self.threads: set[int] = set()
        signals.jobsChanged.connect(self._on_changed)

    def _on_changed(self, jobs: list[Job]) -> None:
        self.threads.add(threading.get_ident())
        for job in jobs:
            if job.status is JobStatus.RUNNING:
                self.running[job.id] = job

    def progress(self, job_id: str) -> tuple[float, float] | None:
        job = self.running.get(job_id)
        return None if job is None else (job.progress.current, job.progress.total)


def stored_progress(db: Path, job_id: str) -> tuple[str, float, float] | None:
    """What another process reading the store sees."""
    with JobTracker.open(db, read_only=True) as reader:
        job = reader.get_job(job_id)
    return None if job is None else (job.status.value, job.progress.current, job.progress.total)


@dataclass
class Session:
    """One app session as the app wires it: tracker -> Runner -> JobSignals."""

    tracker: JobTracker
    runner: Runner
    seen: Seen
    #: Gates of the ``gated`` callable jobs, by name: set one to let that job finish.
    gates: dict[str, threading.Event]

    def gate(self, name: str) -> threading.Event:
        return self.gates.setdefault(name, threading.Event())


@pytest.fixture
def session(
    event_loop_qt: asyncio.AbstractEventLoop,
    tmp_path: Path,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Session]:
    """A tracker (the app's event rate; the store flushed often, to keep the test short), a
    Runner and JobSignals; a callable job type ``gated`` that waits half way for its gate."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    registry = with_command()
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=registry, flush_interval=0.1)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    signals = JobSignals(tracker)
    result = Session(tracker, runner, Seen(signals), {})

    @registry.job_type("gated")
    def gated(ctx: JobContext, name: str) -> str:
        ctx.update_progress(5, 10, "half way")
        if not result.gate(name).wait(WAIT_MS / 1000):
            raise TimeoutError("the test never opened the gate")
        ctx.update_progress(10, 10, "done")
        return name

    runner.start()
    yield result
    signals.close()
    assert runner.shutdown(timeout=5)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def check_live_progress(
    qtbot: Any, session: Session, job_id: str, open_gate: Callable[[], None]
) -> None:
    """While the job waits half way: the widgets got 5/10 and the store holds 5/10."""
    tracker = session.tracker
    db = tracker.store.path
    qtbot.waitUntil(lambda: session.seen.progress(job_id) == (5, 10), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: stored_progress(db, job_id) == ("running", 5, 10), timeout=WAIT_MS)
    open_gate()
    qtbot.waitUntil(lambda: finished(tracker, job_id), timeout=WAIT_MS)
    job = tracker.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED, job and job.error


def idle(qtbot: Any, session: Session, gap_ms: int) -> None:
    """Every job has finished; nothing happens for ``gap_ms``."""
    assert not session.tracker.active_jobs()
    qtbot.wait(gap_ms)


def test_command_jobs_report_progress_after_idle_gaps(
    qtbot: Any, session: Session, tmp_path: Path
) -> None:
    for round_, gap_ms in enumerate((0, *IDLE_GAPS_MS)):
        idle(qtbot, session, gap_ms)
        gate = tmp_path / f"gate-{round_}"
        job = session.tracker.enqueue(
            "command", {"argv": [sys.executable, "-c", GATED_COMMAND, str(gate)]}
        )
        check_live_progress(qtbot, session, job.id, gate.touch)
    assert session.seen.threads == {threading.get_ident()}  # widgets' batches: GUI thread


def test_callable_jobs_report_progress_after_idle_gaps(qtbot: Any, session: Session) -> None:
    for round_, gap_ms in enumerate((0, *IDLE_GAPS_MS)):
        idle(qtbot, session, gap_ms)
        name = f"round {round_}"
        job = session.tracker.enqueue("gated", {"name": name})
        check_live_progress(qtbot, session, job.id, session.gate(name).set)
