"""A supervisor service slow to answer a start (hung, stopped, swapped out) for longer than
``START_TIMEOUT``: the job says so in plain words and keeps waiting for the answer, and
adopts the program when the service starts it at last. It was failed as "lost: the
supervisor did not answer within 30 s" while the service could still start the program,
which then ran unwatched (and a retry ran it twice). A job cancelled meanwhile ends
cancelled, and a program the service starts for it later is stopped at once.

The service is really stopped (SIGSTOP) and resumed (SIGCONT); START_TIMEOUT is shortened.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner, program_watcher
from jobdeck.runtime.lost_start import processes_of_job
from jobdeck.runtime.store_folder import StoreFolder

from .conftest import finished, status_of

TIMEOUT = 30.0
WAIT_MS = int(TIMEOUT * 1000)


def _service_of(tracker: JobTracker) -> psutil.Process:
    folder = str(StoreFolder(tracker.store.path).records)
    for process in psutil.process_iter(["cmdline"]):
        if "--serve" in (process.info["cmdline"] or []) and folder in process.info["cmdline"]:
            return process
    raise AssertionError("no supervisor service runs for the store")


@pytest.fixture
def stopped_service(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[psutil.Process]:
    """A runner whose supervisor service has run a job, then was stopped (SIGSTOP)."""
    monkeypatch.setattr(program_watcher, "START_TIMEOUT", 0.5)
    make_runner(tracker=real_tracker)
    first = real_tracker.enqueue("command", {"argv": ["true"]})
    qtbot.waitUntil(lambda: finished(real_tracker, first.id), timeout=WAIT_MS)
    service = _service_of(real_tracker)
    service.send_signal(signal.SIGSTOP)
    try:
        yield service
    finally:
        service.send_signal(signal.SIGCONT)


def _waiting_said(tracker: JobTracker, job_id: str, service: psutil.Process) -> bool:
    job = tracker.get_job(job_id)
    return job is not None and job.progress.message.startswith(
        f"not started yet: Jobdeck's supervisor service (pid {service.pid}) has not answered for"
    )


@pytest.mark.expected_log("has not answered for")
def test_a_start_the_service_answers_late_is_said_then_adopted_and_runs_once(
    qtbot: Any, real_tracker: JobTracker, stopped_service: psutil.Process, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    job = real_tracker.enqueue("command", {"argv": ["sh", "-c", f'echo once >> "{ran}"']})
    qtbot.waitUntil(lambda: _waiting_said(real_tracker, job.id, stopped_service), timeout=WAIT_MS)
    message = real_tracker.get_job(job.id).progress.message  # type: ignore[union-attr]
    assert message.endswith("still waiting for it to start the program (cancel the job to give up)")
    assert status_of(real_tracker, job.id) is JobStatus.RUNNING  # not lost: still waiting
    stopped_service.send_signal(signal.SIGCONT)
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.exit_code == 0 and done.attempts == 1
    assert ran.read_text() == "once\n"  # adopted: it ran once, and its end was heard
    logged = [entry.message for entry in real_tracker.logs(job.id)]
    assert any(line.startswith("not started yet: ") for line in logged), logged
    assert "the supervisor service answered: the program has started" in logged


@pytest.mark.expected_log("has not answered for", "after the job had given up waiting")
def test_a_job_cancelled_while_the_service_is_late_ends_and_its_late_program_is_stopped(
    qtbot: Any, real_tracker: JobTracker, stopped_service: psutil.Process, tmp_path: Path
) -> None:
    ran, gate = tmp_path / "ran", tmp_path / "gate"
    script = f'touch "{ran}"; while [ ! -e "{gate}" ]; do sleep 0.01; done; touch "{gate}.passed"'
    job = real_tracker.enqueue("command", {"argv": ["sh", "-c", script]})
    qtbot.waitUntil(lambda: _waiting_said(real_tracker, job.id, stopped_service), timeout=WAIT_MS)
    real_tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    assert status_of(real_tracker, job.id) is JobStatus.CANCELLED
    stopped_service.send_signal(signal.SIGCONT)  # it starts the program now...
    qtbot.waitUntil(ran.exists, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not processes_of_job(job.id), timeout=WAIT_MS)  # ...stopped at once
    gate.touch()
    assert not Path(f"{gate}.passed").exists()
    assert status_of(real_tracker, job.id) is JobStatus.CANCELLED
