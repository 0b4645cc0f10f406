"""Nothing acknowledged is lost when the app is SIGKILLed at its worst moments.

A real app (``tests/runtime/programs/stopped_app.py``: a tracker and a Runner) stops dead
at a chosen point and is SIGKILLed there: while the ends of programs are being recorded,
while a program's start is in flight, while a full store refuses an end. A new app on the
same store then has every job end truthfully: the program's real exit status and end time
(never "running" for ever), each program run once, a readable reason when the outcome
cannot be known.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import Job, JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

STOPPED_APP = Path(__file__).resolve().parents[1] / "runtime" / "programs" / "stopped_app.py"
WAIT_MS = 20_000


class App:
    """A new app session on the store: a tracker and a started Runner."""

    def __init__(self, db: Path) -> None:
        self.tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
        self.runner = Runner(self.tracker, log_dir=db.parent / "logs", grace=1.0)
        self.runner.start()

    def job(self, job_id: str) -> Job:
        job = self.tracker.get_job(job_id)
        assert job is not None
        return job

    def close(self) -> None:
        if not self.tracker.closed:
            self.runner.shutdown(timeout=5)
            self.tracker.close()


@pytest.fixture
def store(event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The store's path; every program started meanwhile carries a marker, so none outlives
    the test unnoticed."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    yield tmp_path / "jobs.db"
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


@pytest.fixture
def open_app(store: Path) -> Iterator[Callable[[], App]]:
    apps: list[App] = []

    def open_() -> App:
        apps.append(App(store))
        return apps[-1]

    yield open_
    for app in apps:
        app.close()


def _read_line(out: Any, buffer: bytearray) -> str:
    deadline = time.monotonic() + WAIT_MS / 1000
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        assert left > 0, f"the stand-in app said nothing more (so far: {bytes(buffer)!r})"
        ready, _, _ = select.select([out], [], [], left)
        if ready:
            chunk = os.read(out.fileno(), 4096)
            assert chunk, f"the stand-in app ended early (it said {bytes(buffer)!r})"
            buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


def kill_app_at(db: Path, point: str, jobs: list[dict[str, Any]]) -> list[str]:
    """Run the stand-in app until it stops at ``point``, SIGKILL it there; its jobs' ids."""
    app = subprocess.Popen(
        [sys.executable, str(STOPPED_APP), str(db), point, json.dumps(jobs)],
        stdout=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    buffer = bytearray()
    try:
        assert app.stdout is not None
        ids = json.loads(_read_line(app.stdout, buffer))
        assert _read_line(app.stdout, buffer) == "stopped"
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
        if app.stdout is not None:
            app.stdout.close()
    return list(ids)


def counting(script: str, ran: Path) -> dict[str, Any]:
    """A command that notes each run of its job in ``ran`` first, then runs ``script``."""
    return {"params": {"argv": ["sh", "-c", f'echo "$JOBDECK_JOB_ID" >> "{ran}"; {script}']}}


def runs_of(ran: Path, job_id: str) -> int:
    return ran.read_text().split().count(job_id) if ran.exists() else 0


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_finished(qtbot: Any, app: App, job_ids: list[str]) -> None:
    qtbot.waitUntil(lambda: all(app.job(j).finished for j in job_ids), timeout=WAIT_MS)


def test_killed_while_the_ends_of_short_programs_are_recorded(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """The programs ended (too soon for their pids to be stored); their ends were heard
    and were about to be committed together. The next app records each one's real exit
    status and end time, from the records the supervisor wrote when the app went, and runs
    none of them again (even a job that may be retried)."""
    ran = tmp_path / "ran"
    jobs = [counting(f"echo out-{i}; exit {i}", ran) for i in (0, 3, 4)]
    jobs[0]["max_attempts"] = 3  # re-queued if it were taken for interrupted
    ids = kill_app_at(store, "ends", jobs)
    before = time.time()
    ran_before = [job_id for job_id in ids if runs_of(ran, job_id)]
    assert ran_before  # (those the killed app had not started yet run in the next one)
    app = open_app()
    wait_finished(qtbot, app, ids)
    for job_id, status in zip(ids, (0, 3, 4), strict=True):
        job = app.job(job_id)
        assert job.exit_code == status, (job.status, job.error)
        assert job.completed_ts is not None
        assert job.completed_ts <= before or job_id not in ran_before
        assert runs_of(ran, job_id) == 1
        assert job.log_path is not None and Path(job.log_path).read_text() == f"out-{status}\n"
        if status == 0:
            assert job.status is JobStatus.COMPLETED, job.error
        else:
            assert job.status is JobStatus.FAILED
            assert str(job.error).startswith(f"exit status {status}; last output:\nout-{status}")


def test_killed_while_a_start_is_answered_the_program_is_re_attached(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """The supervisor started the program; the app died as it heard so (its pid not stored
    yet). The next app watches that program to its end: not "interrupted" while it runs
    on unwatched, and not run a second time."""
    ran, gate = tmp_path / "ran", tmp_path / "go"
    job = counting(f'while [ ! -e "{gate}" ]; do sleep 0.01; done; echo done', ran)
    job["max_attempts"] = 3  # re-queued if it were taken for interrupted
    (job_id,) = kill_app_at(store, "start-heard", [job])
    app = open_app()
    reopened = app.job(job_id)
    assert reopened.status is JobStatus.RUNNING, reopened.error
    qtbot.waitUntil(lambda: app.job(job_id).pid is not None, timeout=WAIT_MS)
    program = app.job(job_id).pid
    assert program is not None and alive(program)
    gate.touch()
    wait_finished(qtbot, app, [job_id])
    done = app.job(job_id)
    assert done.status is JobStatus.COMPLETED and done.exit_code == 0, done.error
    assert done.pid == program and done.log_path is not None
    assert Path(done.log_path).read_text() == "done\n"
    assert runs_of(ran, job_id) == 1


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_killed_before_a_start_was_asked_the_job_is_interrupted_or_run_once(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path, max_attempts: int
) -> None:
    ran = tmp_path / "ran"
    job = counting("exit 0", ran)
    job["max_attempts"] = max_attempts
    (job_id,) = kill_app_at(store, "start-asked", [job])
    app = open_app()
    wait_finished(qtbot, app, [job_id])
    done = app.job(job_id)
    if max_attempts == 1:
        assert done.status is JobStatus.FAILED
        assert str(done.error).startswith("interrupted: Jobdeck stopped")
        assert runs_of(ran, job_id) == 0
    else:
        assert done.status is JobStatus.COMPLETED, done.error
        assert runs_of(ran, job_id) == 1


@pytest.mark.expected_log("could not save job changes")
def test_killed_while_a_full_store_refuses_the_ends(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """The programs ended while the store was full; their ends waited for space when the
    app was killed. The next app records their real exit statuses and end times."""
    ran, gate = tmp_path / "ran", tmp_path / "go"
    wait = f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done'
    big = "for i in 1 2 3 4 5 6 7 8 9 10; do head -c 3000 /dev/zero | tr '\\0' x; echo; done"
    jobs = [counting(f"{wait}; {big}; exit {status}", ran) for status in (0, 3)]
    ids = kill_app_at(store, "full-disk", jobs)
    before = time.time()
    app = open_app()
    wait_finished(qtbot, app, ids)
    for job_id, status in zip(ids, (0, 3), strict=True):
        job = app.job(job_id)
        assert job.exit_code == status, (job.status, job.error)
        assert job.completed_ts is not None and job.completed_ts <= before
        assert job.status is (JobStatus.COMPLETED if status == 0 else JobStatus.FAILED)
        assert runs_of(ran, job_id) == 1
