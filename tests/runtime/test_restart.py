"""Process jobs outlive the app: re-attached after a clean detach and after the app was
SIGKILLed, their real outcome when they ended meanwhile, "lost" when it cannot be known,
and a reused pid is never taken for the job."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import EventKind, JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.process_tree import ProcessTree
from jobdeck.runtime.supervisor import RecordState, SupervisorRecord, read_record, write_record
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
ENV = {"PYTHONPATH": str(ROOT / "desktop")}
WAIT_MS = 10_000


class App:
    """One "app session": a tracker opened with the reattach hook and a started Runner."""

    def __init__(self, db: Path) -> None:
        self.tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
        self.runner = Runner(self.tracker, log_dir=db.parent / "logs", grace=1.0)
        self.runner.start()

    def close(self, *, keep_processes: bool = False) -> None:
        if not self.tracker.closed:
            self.runner.shutdown(timeout=5, keep_processes=keep_processes)
            self.tracker.close()


@pytest.fixture
def open_app(
    event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], App]]:
    """``open_app()`` starts an app session on ``tmp_path/jobs.db``; all are closed (and
    every program they started killed) at the end."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    apps: list[App] = []

    def open_() -> App:
        app = App(tmp_path / "jobs.db")
        apps.append(app)
        return app

    yield open_
    for app in apps:
        app.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def gated(tmp_path: Path, exit_status: int = 0) -> dict[str, Any]:
    gate = tmp_path / "gate"
    gate.mkdir(exist_ok=True)
    argv = [sys.executable, str(PROGRAMS / "gated_job.py"), str(gate), str(exit_status)]
    return {"argv": argv, "env": ENV}


def job_of(app: App, job_id: str):
    job = app.tracker.get_job(job_id)
    assert job is not None
    return job


def wait_progress(qtbot, app: App, job_id: str, current: float) -> None:
    qtbot.waitUntil(lambda: job_of(app, job_id).progress.current == current, timeout=WAIT_MS)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def resume_and_finish(qtbot, app: App, job_id: str, tmp_path: Path) -> None:
    """Drive a re-attached gated job to its end: output progress, then channel messages."""
    assert job_id in app.runner.running_job_ids()
    (tmp_path / "gate" / "go1").touch()
    wait_progress(qtbot, app, job_id, 3)  # parsed from its output
    (tmp_path / "gate" / "go2").touch()
    qtbot.waitUntil(lambda: finished(app.tracker, job_id), timeout=WAIT_MS)
    done = job_of(app, job_id)
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result == {"ok": True} and done.exit_code == 0
    logs = [e.message for e in app.tracker.logs(job_id)]
    assert "after the restart" in logs  # its helper reconnected to the new channel
    assert done.progress.current == 4


def test_job_keeps_running_while_the_app_is_closed_and_is_re_attached(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    first = open_app()
    job = first.tracker.enqueue("command", gated(tmp_path))
    wait_progress(qtbot, first, job.id, 1)
    # written once the program has run a moment (a short one has it written with its end)
    qtbot.waitUntil(lambda: job_of(first, job.id).pid is not None, timeout=WAIT_MS)
    pid = job_of(first, job.id).pid
    assert pid is not None
    service = psutil.Process(pid).ppid()  # the store's supervisor service
    first.close(keep_processes=True)
    assert alive(pid) and alive(service)  # it stays while it has a program to watch

    second = open_app()
    reopened = job_of(second, job.id)
    assert reopened.status is JobStatus.RUNNING and reopened.pid == pid
    resume_and_finish(qtbot, second, job.id, tmp_path)
    assert psutil.Process(service).is_running()  # the same service, not a second one
    record = tmp_path / "jobs.db.d" / "supervised" / f"{job.id}.json"
    qtbot.waitUntil(lambda: not record.exists(), timeout=WAIT_MS)  # removed once recorded


def test_job_survives_the_app_being_sigkilled(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    db = tmp_path / "jobs.db"
    app = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "app_stand_in.py"), str(db), json.dumps(gated(tmp_path))],
        stdout=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        assert app.stdout is not None
        ready, _, _ = select.select([app.stdout], [], [], WAIT_MS / 1000)
        assert ready, "the stand-in app never started its job"
        job_id = app.stdout.readline().decode().strip()
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
        if app.stdout is not None:
            app.stdout.close()
    assert job_id

    second = open_app()
    reopened = job_of(second, job_id)
    assert reopened.status is JobStatus.RUNNING and reopened.pid is not None
    assert alive(reopened.pid)
    resume_and_finish(qtbot, second, job_id, tmp_path)


@pytest.mark.parametrize("exit_status", [0, 3])
def test_job_that_ended_while_the_app_was_closed_gets_its_recorded_outcome(
    qtbot, open_app: Callable[[], App], tmp_path: Path, exit_status: int
) -> None:
    gate = tmp_path / "go"
    script = f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done; exit {exit_status}'
    first = open_app()
    job = first.tracker.enqueue("command", {"argv": ["sh", "-c", script]})
    wait_progress(qtbot, first, job.id, 1)
    first.close(keep_processes=True)
    gate.touch()
    record = tmp_path / "jobs.db.d" / "supervised" / f"{job.id}.json"
    qtbot.waitUntil(lambda: json.loads(record.read_text())["state"] == "exited", timeout=WAIT_MS)
    ended_at = json.loads(record.read_text())["ended_at"]

    second = open_app()
    qtbot.waitUntil(lambda: finished(second.tracker, job.id), timeout=WAIT_MS)
    done = job_of(second, job.id)
    assert done.exit_code == exit_status
    assert done.completed_ts == pytest.approx(ended_at, abs=1e-6)
    assert done.cpu_seconds is not None
    if exit_status == 0:
        assert done.status is JobStatus.COMPLETED and done.result is None  # only the status
    else:
        assert done.status is JobStatus.FAILED and str(done.error).startswith("exit status 3")
    logs = [e.message for e in second.tracker.logs(job.id)]
    assert f"ended while Jobdeck was not running (exit status {exit_status})" in logs


def test_a_failure_while_the_app_was_closed_quotes_its_last_lines(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    script = (
        f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done; '
        "echo 'copying the last file'; echo 'error: disk full' >&2; exit 3"
    )
    first = open_app()
    job = first.tracker.enqueue("command", {"argv": ["sh", "-c", script]})
    wait_progress(qtbot, first, job.id, 1)
    first.close(keep_processes=True)
    gate.touch()
    record = tmp_path / "jobs.db.d" / "supervised" / f"{job.id}.json"
    qtbot.waitUntil(lambda: json.loads(record.read_text())["state"] == "exited", timeout=WAIT_MS)

    second = open_app()
    qtbot.waitUntil(lambda: finished(second.tracker, job.id), timeout=WAIT_MS)
    done = job_of(second, job.id)
    assert done.status is JobStatus.FAILED
    assert str(done.error) == (
        "exit status 3; last output:\n1/2\ncopying the last file\nerror: disk full"
    )


def _running_job_without_runner(db: Path) -> str:
    with JobTracker.open(db, registry=with_command()) as tracker:
        job = tracker.enqueue("command", {"argv": ["sleep", "60"]})
        tracker.start_job(job.id)
        tracker.set_process_info(job.id, pid=os.getpid(), log_path=str(db.parent / "x.log"))
        return job.id


def test_a_reused_pid_is_never_taken_for_the_job(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    job_id = _running_job_without_runner(tmp_path / "jobs.db")
    me = os.getpid()  # alive, but started long before the "recorded" start time
    records = tmp_path / "supervised"
    records.mkdir(mode=0o700)
    write_record(
        records / f"{job_id}.json",
        SupervisorRecord(
            job_id=job_id,
            argv=["sleep", "60"],
            log_path=str(tmp_path / "x.log"),
            state=RecordState.RUNNING,
            supervisor_pid=me,
            supervisor_start_time=1.0,
            pid=me,
            start_time=1.0,
        ),
    )
    tree = ProcessTree(me, 1.0)
    assert not tree.matched and not tree.alive() and not tree._group_is_ours()

    app = open_app()
    qtbot.waitUntil(lambda: finished(app.tracker, job_id), timeout=WAIT_MS)
    done = job_of(app, job_id)
    assert done.status is JobStatus.FAILED
    assert str(done.error) == (
        "lost: the supervisor and the program are gone and no exit status was recorded"
    )


@pytest.mark.expected_log("is lost: no supervisor record")
def test_job_without_a_record_is_failed_as_lost(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    job_id = _running_job_without_runner(tmp_path / "jobs.db")
    app = open_app()
    qtbot.waitUntil(lambda: finished(app.tracker, job_id), timeout=WAIT_MS)
    done = job_of(app, job_id)
    assert done.status is JobStatus.FAILED
    assert str(done.error) == "lost: no supervisor record: its program cannot be found again"


@pytest.mark.parametrize(("max_attempts", "earlier_log"), [(1, False), (2, False), (1, True)])
def test_a_command_job_whose_program_never_started_is_interrupted(
    qtbot, open_app: Callable[[], App], tmp_path: Path, max_attempts: int, earlier_log: bool
) -> None:
    """A process job that died before its program started (no pid stored, no record, no
    process of it; a retry has the log of its earlier attempts) is interrupted by the
    runtime once it found no trace of the program: failed, or run (once) again when it may
    be retried."""
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, registry=with_command()) as tracker:
        job = tracker.enqueue(
            "command", {"argv": ["sh", "-c", "echo ran"]}, max_attempts=max_attempts
        )
        tracker.start_job(job.id)
        if earlier_log:
            tracker.set_process_info(job.id, log_path=str(tmp_path / "earlier.log"))
    app = open_app()
    qtbot.waitUntil(lambda: finished(app.tracker, job.id), timeout=WAIT_MS)
    done = job_of(app, job.id)
    if max_attempts == 1:
        assert done.status is JobStatus.FAILED
        assert str(done.error) == "interrupted: Jobdeck stopped before this job's program started"
        assert done.completed_ts == done.last_seen_ts
    else:
        assert done.status is JobStatus.COMPLETED and done.attempts == 2, done.error


def test_jobs_queued_behind_a_re_attached_program_start_in_queue_order(
    qtbot, open_app: Callable[[], App], tmp_path: Path
) -> None:
    """The next app re-attaches a program an earlier one left running: the jobs queued
    behind it start in queue order. (They were handed over to the service as if that
    program were this app's; its end started none of them, and later jobs overtook them.)"""
    gate = tmp_path / "gate-a"
    first = open_app()
    first.runner.max_workers = 1
    wait = ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.01; done"]
    a = first.tracker.enqueue("command", {"argv": wait})
    rest = [first.tracker.enqueue("command", {"argv": ["true"]}).id for _ in range(6)]
    qtbot.waitUntil(lambda: job_of(first, a.id).status is JobStatus.RUNNING, timeout=WAIT_MS)
    first.close(keep_processes=True)
    gate.touch()  # it ends while no app runs
    record = tmp_path / "jobs.db.d" / "supervised" / f"{a.id}.json"
    qtbot.waitUntil(lambda: read_record(record).exit_code is not None, timeout=WAIT_MS)

    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    order: list[str] = []
    tracker.subscribe(lambda e: order.append(e.job.id) if e.kind is EventKind.STARTED else None)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0, max_workers=1)
    runner.start()
    try:
        qtbot.waitUntil(lambda: all(finished(tracker, i) for i in rest), timeout=WAIT_MS)
        assert order == rest
    finally:
        gate.touch()
        runner.shutdown(timeout=5)
        tracker.close()
