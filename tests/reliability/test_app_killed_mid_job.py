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
import sqlite3
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
from jobdeck.runtime.supervisor_records import SupervisorRecords
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

    def close(self, *, keep_processes: bool = False) -> None:
        if not self.tracker.closed:
            self.runner.shutdown(timeout=5, keep_processes=keep_processes)
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


def kill_app_at(
    db: Path, point: str, jobs: list[dict[str, Any]], workers: int | None = None
) -> list[str]:
    """Run the stand-in app (``workers`` jobs at once: all by default) until it stops at
    ``point``, SIGKILL it there; its jobs' ids."""
    extra = [] if workers is None else [str(workers)]
    app = subprocess.Popen(
        [sys.executable, str(STOPPED_APP), str(db), point, json.dumps(jobs), *extra],
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


def ended_in_records(db: Path, job_ids: list[str], ends: dict[str, float]) -> bool:
    """True once the supervisor's record of each job says its program ended (``ends``
    gets their end times)."""
    for job_id in job_ids:
        record = db.parent / "jobs.db.d" / "supervised" / f"{job_id}.json"
        try:
            fields = json.loads(record.read_text())
        except (OSError, ValueError):
            return False
        if fields["state"] != "exited":
            return False
        ends[job_id] = fields["ended_at"]
    return True


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_finished(qtbot: Any, app: App, job_ids: list[str]) -> None:
    qtbot.waitUntil(lambda: all(app.job(j).finished for j in job_ids), timeout=WAIT_MS)


@pytest.mark.parametrize("workers", [None, 1], ids=["together", "one at a time"])
def test_killed_while_the_ends_of_short_programs_are_recorded(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path, workers: int | None
) -> None:
    """The programs ended (too soon for their pids to be stored); their ends were heard
    and were about to be committed together (one at a time: with the start of the next
    job). The next app records each one's real exit status and end time, from the records
    the supervisor wrote when the app went, and runs each job once (even one that may be
    retried; those not started yet run now)."""
    ran = tmp_path / "ran"
    jobs = [counting(f"echo out-{i}; exit {i}", ran) for i in (0, 3, 4)]
    jobs[0]["max_attempts"] = 3  # re-queued if it were taken for interrupted
    ids = kill_app_at(store, "ends", jobs, workers)
    ran_before = [job_id for job_id in ids if runs_of(ran, job_id)]
    assert ran_before  # (those the killed app had not started yet run in the next one)
    ends: dict[str, float] = {}
    qtbot.waitUntil(lambda: ended_in_records(store, ran_before, ends), timeout=WAIT_MS)
    app = open_app()
    wait_finished(qtbot, app, ids)
    for job_id, status in zip(ids, (0, 3, 4), strict=True):
        job = app.job(job_id)
        assert job.exit_code == status, (job.status, job.error)
        if job_id in ends:
            assert job.completed_ts == pytest.approx(ends[job_id], abs=1e-6)
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
    ends: dict[str, float] = {}
    qtbot.waitUntil(lambda: ended_in_records(store, ids, ends), timeout=WAIT_MS)
    app = open_app()
    wait_finished(qtbot, app, ids)
    for job_id, status in zip(ids, (0, 3), strict=True):
        job = app.job(job_id)
        assert job.exit_code == status, (job.status, job.error)
        assert job.completed_ts == pytest.approx(ends[job_id], abs=1e-6)
        assert job.status is (JobStatus.COMPLETED if status == 0 else JobStatus.FAILED)
        assert runs_of(ran, job_id) == 1


def stored_pid(db: Path, job_id: str) -> int:
    other = sqlite3.connect(db)
    try:
        pid = other.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    finally:
        other.close()
    assert isinstance(pid, int)
    return pid


def gated(gate: Path, then: str = "exit 0") -> dict[str, Any]:
    script = f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done; {then}'
    return {"params": {"argv": ["sh", "-c", script]}}


@pytest.mark.expected_log("is lost: the supervisor .* stopped while the program ran")
def test_the_app_and_then_the_service_killed_while_a_program_runs(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """Nothing is left to copy the program's output or record its end: the next app stops
    the program and fails the job saying so (not "running" for ever; a job that may be
    retried would run again once its program was stopped)."""
    gate = tmp_path / "go"
    job = gated(gate)
    (job_id,) = kill_app_at(store, "running", [job])
    program = psutil.Process(stored_pid(store, job_id))
    service = program.parent()
    assert service is not None
    service.kill()
    service.wait(WAIT_MS / 1000)
    assert program.is_running()
    app = open_app()
    wait_finished(qtbot, app, [job_id])
    done = app.job(job_id)
    assert done.status is JobStatus.FAILED and done.attempts == 1
    assert str(done.error) == (
        f"lost: the supervisor (pid {service.pid}) stopped while the program ran; the program "
        "was stopped and its exit status is unknown"
    )
    psutil.wait_procs([program], timeout=WAIT_MS / 1000)
    assert not alive(program.pid)


GARBAGE = """
import os, sys, time, pathlib
out = sys.stdout.buffer
out.write(os.urandom(300_000))
out.write(b"\\xff\\xfe not UTF-8 \\xc3\\x28\\n\\x00\\x01 NUL bytes\\n")
out.write(b"x" * 3_000_000 + b"\\n")  # one huge line
out.write(b"1/2\\n")
out.flush()
gate = pathlib.Path(sys.argv[1])
while not gate.exists():
    time.sleep(0.01)
out.write(os.urandom(100_000) + b"\\nlast words \\xff\\n")
sys.exit(2)
"""


def test_a_program_that_writes_garbage_is_re_attached_and_ends_truthfully(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """Binary output, bytes that are not UTF-8, NULs and a 3 MB line: the killed app's
    successor catches up on that output, follows it and records the real exit status with
    the (readable) last lines; and it goes on running other jobs."""
    gate = tmp_path / "go"
    job = {"params": {"argv": [sys.executable, "-c", GARBAGE, str(gate)]}}
    (job_id,) = kill_app_at(store, "running", [job])
    app = open_app()
    assert app.job(job_id).status is JobStatus.RUNNING
    gate.touch()
    wait_finished(qtbot, app, [job_id])
    done = app.job(job_id)
    assert done.status is JobStatus.FAILED and done.exit_code == 2, done.error
    error = str(done.error)
    assert error.startswith("exit status 2; last output:\n")
    assert error.endswith("\nlast words \ufffd")
    assert done.log_path is not None and Path(done.log_path).stat().st_size > 3_400_000
    after = app.tracker.enqueue("command", {"argv": ["sh", "-c", "echo fine"]})
    wait_finished(qtbot, app, [after.id])
    assert app.job(after.id).status is JobStatus.COMPLETED


@pytest.mark.parametrize(
    ("damage", "service"),
    [
        (b"", "runs"),
        (b'{"job_id": "01', "runs"),
        (b"\x00\xff\xfe binary", "killed"),
        (b'{"job_id": "01', "replaced"),
    ],
)
@pytest.mark.expected_log("is not a readable supervisor record")
def test_a_damaged_record_of_a_running_program(
    qtbot: Any,
    store: Path,
    open_app: Callable[[], App],
    tmp_path: Path,
    damage: bytes,
    service: str,
) -> None:
    """The record of a program left running is truncated or overwritten with garbage. The
    next app finds the program by its job's marker all the same: watched to its real end
    while the supervisor service that started it runs; stopped, saying why, when it does
    not (killed; or replaced by a new service, which knows nothing of it): never left
    running unwatched while the job says it is lost, nor "running" for ever."""
    service_too = service != "runs"
    gate = tmp_path / "go"
    first = open_app()
    job = first.tracker.enqueue("command", gated(gate, "echo bye; exit 6")["params"])
    qtbot.waitUntil(lambda: first.job(job.id).pid is not None, timeout=WAIT_MS)
    program = psutil.Process(first.job(job.id).pid)
    first.close(keep_processes=True)
    record = store.parent / "jobs.db.d" / "supervised" / f"{job.id}.json"
    record.write_bytes(damage)
    supervisor = program.parent()
    assert supervisor is not None
    if service_too:
        supervisor.kill()
        supervisor.wait(WAIT_MS / 1000)
    replacement = SupervisorRecords(record.parent)
    if service == "replaced":
        replacement.client.connect()  # a new service (it stays while connected)
        assert replacement.client.service_pid != supervisor.pid
    try:
        second = open_app()
        finish_with_damaged_record(qtbot, second, job.id, record, program, gate, service_too)
    finally:
        replacement.close()


def finish_with_damaged_record(
    qtbot: Any,
    second: App,
    job_id: str,
    record: Path,
    program: psutil.Process,
    gate: Path,
    service_too: bool,
) -> None:
    job = second.job(job_id)
    if not service_too:
        assert second.job(job.id).status is JobStatus.RUNNING
        gate.touch()
    wait_finished(qtbot, second, [job.id])
    done = second.job(job.id)
    assert done.status is JobStatus.FAILED
    if service_too:
        assert str(done.error).startswith(f"lost: {record} is not a readable supervisor record")
        assert str(done.error).endswith(
            f"; its program (pid {program.pid}) ran on, but nothing could record its end, so "
            "it was stopped and its exit status is unknown"
        )
        psutil.wait_procs([program], timeout=WAIT_MS / 1000)
        assert not alive(program.pid)
    else:
        assert done.exit_code == 6 and str(done.error) == "exit status 6; last output:\n1/2\nbye"
        qtbot.waitUntil(lambda: not record.exists(), timeout=WAIT_MS)  # stored: dropped


@pytest.mark.expected_log("is lost: .* is not a readable supervisor record")
def test_a_damaged_record_of_a_program_that_ended_meanwhile(
    qtbot: Any, store: Path, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """Its end was only in its record, now unreadable, and no process of it is left: the
    job is failed as lost, saying which record could not be read (not left running)."""
    gate = tmp_path / "go"
    first = open_app()
    job = first.tracker.enqueue("command", gated(gate, "exit 0")["params"])
    qtbot.waitUntil(lambda: first.job(job.id).pid is not None, timeout=WAIT_MS)
    first.close(keep_processes=True)
    gate.touch()
    qtbot.waitUntil(lambda: ended_in_records(store, [job.id], {}), timeout=WAIT_MS)
    record = store.parent / "jobs.db.d" / "supervised" / f"{job.id}.json"
    record.write_bytes(record.read_bytes()[:40])
    second = open_app()
    wait_finished(qtbot, second, [job.id])
    done = second.job(job.id)
    assert done.status is JobStatus.FAILED
    assert str(done.error).startswith(f"lost: {record} is not a readable supervisor record")
