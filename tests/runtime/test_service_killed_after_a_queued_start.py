"""The supervisor service is SIGKILLed right after it started a job handed over to it, before
it told the app (or wrote the program's record): the app does not take the job for queued
still and run it again, nor leave its program unwatched. The service's journal of such
starts (one short line each, see ``supervisor_service``) names the program; the app that
finds its service gone, or the next app, adopts it: the program ran once, the job has one
attempt, and it ends saying what happened (its service is gone, so nothing could wait for
the program's exit status).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.private_files import private_directory
from jobdeck.runtime.start_journal import journaled_starts
from jobdeck.runtime.store_folder import StoreFolder
from jobdeck.runtime.supervisor import SupervisorRecord
from jobdeck.runtime.supervisor_client import socket_path_for
from jobdeck.runtime.supervisor_records import SupervisorRecords
from jobdeck.runtime.supervisor_service import JOURNAL_COMPACT_AT, _Journal, journal_name
from tests.registries import with_command

from .conftest import MARKER, finished
from .test_service_queue import RawApp, handed_over, spec

TIMEOUT = 30.0
WAIT_MS = 30_000
PROGRAMS = Path(__file__).resolve().parent / "programs"


def start_dying_service(db: Path) -> subprocess.Popen[bytes]:
    """The store's service, as the app would start it, but SIGKILLed the moment it has
    started a program from the app's queue (see ``programs/``)."""
    records = private_directory(StoreFolder(db).records)
    service = subprocess.Popen(
        [
            sys.executable,
            str(PROGRAMS / "service_dies_after_a_queued_start.py"),
            os.fspath(records),
            os.fspath(socket_path_for(records)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert service.stdout is not None
    with service.stdout:
        ready, _, _ = select.select([service.stdout], [], [], TIMEOUT)
        assert ready and service.stdout.read().strip() == b"ok", "the service did not start"
    assert service.wait(TIMEOUT) == 0  # (the service itself runs on in a child of it)
    return service


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never came"
        time.sleep(0.01)


@pytest.fixture
def jobs(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """argv of job A (runs until GATE exists) and B (appends a line to RAN), GATE, RAN."""
    gate, ran = tmp_path / "gate", tmp_path / "ran"
    return [f"while [ ! -e {gate} ]; do sleep 0.01; done", f"echo ran >> {ran}"], gate, ran


def assert_lost_once(tracker: JobTracker, job_id: str, ran: Path) -> None:
    job = tracker.get_job(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED, (job.status, job.attempts, ran.read_text())
    error = str(job.error)
    assert error.startswith("lost: the supervisor"), error
    assert "exit status is unknown" in error or "no exit status was recorded" in error, error
    assert job.attempts == 1
    assert ran.read_text() == "ran\n"  # its program ran once


def test_the_app_adopts_a_start_its_service_was_killed_before_telling(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
    jobs: tuple[list[str], Path, Path],
) -> None:
    (wait, append), gate, ran = jobs
    start_dying_service(tmp_path / "real.db")
    runner = make_runner(tracker=real_tracker, max_workers=1)
    a = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", wait]})
    b = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", append]})
    qtbot.waitUntil(lambda: handed_over(runner, b.id), timeout=WAIT_MS)
    records = StoreFolder(tmp_path / "real.db").records
    qtbot.waitUntil((records / f"{a.id}.json").exists, timeout=WAIT_MS)  # (a's end goes there)
    gate.touch()  # a ends, the service starts b in its place and is killed
    qtbot.waitUntil(
        lambda: finished(real_tracker, a.id) and finished(real_tracker, b.id), timeout=WAIT_MS
    )
    job_a = real_tracker.get_job(a.id)
    assert job_a is not None and job_a.status is JobStatus.COMPLETED, job_a
    qtbot.wait(300)  # (a second run of b would have written its line by now)
    assert_lost_once(real_tracker, b.id, ran)
    # (found by the dead service's journal, which stays for the next app to look at)
    journals = [p for p in records.iterdir() if p.name.startswith(".queued-starts-")]
    assert len(journals) == 1 and b.id in journals[0].read_text()


@pytest.mark.parametrize(
    "app_dies", ["storing_the_start", "at_the_broken_connection"], ids=lambda where: where
)
def test_the_next_app_adopts_a_start_neither_the_service_nor_the_app_stored(
    qtbot: Any,
    event_loop_qt: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_dies: str,
) -> None:
    """The app goes too (SIGKILLed) once it finds its service killed: before it looked for
    the start (the next app finds it in the dead service's journal), or as it would store
    it (the app had written its record from the journal)."""
    db, gate, ran = tmp_path / "jobs.db", tmp_path / "gate", tmp_path / "ran"
    monkeypatch.setenv(MARKER, uuid.uuid4().hex)
    start_dying_service(db)
    records = StoreFolder(db).records
    flags = ["--at-broken-connection"] if app_dies == "at_the_broken_connection" else []
    first = subprocess.Popen(
        [
            sys.executable,
            str(PROGRAMS / "app_dies_storing_a_start.py"),
            *map(str, (db, gate, ran)),
            *flags,
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        assert first.stdout is not None
        ready, _, _ = select.select([first.stdout], [], [], TIMEOUT)
        assert ready, "the stand-in app never started its first job"
        a, b = first.stdout.readline().decode().split()
        wait_for(records / f"{a}.json")  # (a's end goes there: not lost with the service)
        gate.touch()  # a ends, the service starts b and is killed, then the app
        assert first.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stdout is not None:
            first.stdout.close()
    journals = [p for p in records.iterdir() if p.name.startswith(".queued-starts-")]
    if app_dies == "at_the_broken_connection":
        assert journals and not (records / f"{b}.json").exists()
    tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    assert tracker.get_job(b).status is JobStatus.PENDING  # type: ignore[union-attr]
    runner = Runner(tracker, log_dir=tmp_path / "logs")
    try:
        runner.start()
        qtbot.waitUntil(lambda: finished(tracker, a) and finished(tracker, b), timeout=WAIT_MS)
        job_a = tracker.get_job(a)
        assert job_a is not None and job_a.status is JobStatus.COMPLETED, job_a
        qtbot.wait(300)  # (a second run of b would have written its line by now)
        assert_lost_once(tracker, b, ran)
        assert not [p for p in records.iterdir() if p.name.startswith(".queued-starts-")]
    finally:
        runner.shutdown(timeout=10)
        tracker.close()


def test_the_journal_names_each_queued_start_and_never_an_earlier_one_of_a_job(
    tmp_path: Path,
) -> None:
    """The service's journal (what the tests above adopt by) names the program of each
    start from a queue; a job handed over again after its end was stored never finds its
    earlier start there; the journal goes with its service."""
    records = SupervisorRecords(tmp_path / "supervised")
    records.client.connect()  # starts the service (and stays connected: it stays up)
    service = (records.client.service_pid, records.client.service_start_time)
    assert service[0] is not None
    journal = records.directory / journal_name(service[0], service[1])
    gate = tmp_path / "gate"
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    try:
        app = RawApp(records.client.socket_path)
        app.send_together(
            {"op": "spawn", "record": spec(tmp_path, "p", "true")},
            {"op": "queue", "record": spec(tmp_path, "x", "true", attempt=1)},
            {"op": "queue", "record": spec(tmp_path, "y", "/bin/sh", "-c", wait, attempt=1)},
        )
        started_x = app.hear("ended", "p")["then"][0]
        app.hear("ended", "x")  # (y took its place)
        assert app.hear("started", "y")["queued"] is True
        found = journaled_starts(records.directory, service)
        assert set(found) == {"x", "y"}
        assert found["x"].pid == started_x["pid"] and found["x"].extra["attempt"] == 1
        assert found["x"].start_time == started_x["start_time"]
        app.send(op="forget", job_id="x")  # x's end is stored: its line is not needed
        app.send(op="queue", record=spec(tmp_path, "x", "true", attempt=2))  # (a retry)
        app.send(op="withdraw", job_id="x")
        assert app.hear("withdrawn", "x")["started"] is False
        assert set(journaled_starts(records.directory, service)) == {"y"}
        gate.touch()
        app.hear("ended", "y")
        app.sock.close()
    finally:
        gate.touch()
        records.close()
    deadline = time.monotonic() + TIMEOUT
    while journal.exists():  # the service exits (no program, no app): the journal goes
        assert time.monotonic() < deadline, "the journal outlived its service"
        time.sleep(0.01)


def test_the_journal_stays_small_however_many_programs_start(tmp_path: Path) -> None:
    """Dropped lines are rewritten away once the file passes JOURNAL_COMPACT_AT bytes; the
    lines still needed (programs in flight) are always there."""
    journal = _Journal(tmp_path / journal_name(123, 456.0))
    largest = 0
    for n in range(3000):
        job_id = f"job{n:05d}"
        record = SupervisorRecord(
            job_id, [], os.fspath(tmp_path / f"{job_id}.log"), pid=n + 1000, start_time=n
        )
        journal.add(record)
        if n >= 4:  # (four in flight)
            journal.drop(f"job{n - 4:05d}")
        largest = max(largest, journal.path.stat().st_size)
    assert largest < JOURNAL_COMPACT_AT + 1024
    found = journaled_starts(tmp_path, (123, 456.0))
    assert {f"job{n:05d}" for n in range(2996, 3000)} <= set(found)
    assert found["job02999"].pid == 3999 and found["job02999"].supervisor_pid == 123
    journal.close()
    assert not journal.path.exists()
