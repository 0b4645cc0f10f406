"""A start request caught on a broken connection to the supervisor service is not taken for
lost before looking: a program that started is watched to its real end (or stopped, when
its service is gone, saying so), and one that surely never ran fails saying it did not run.

The connection is broken at a chosen point of the conversation, with a real service: a line
the service does not understand, sent in the same write as the request (just after it: the
service has started the program when it lets go; just before it: it never reads the
request), or the service SIGKILLed once the program runs but before its answer is heard.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.lost_start import judge_lost_starts
from jobdeck.runtime.private_files import private_directory
from jobdeck.runtime.process_launch import PreparedCommand
from jobdeck.runtime.program_watcher import EndKind, ProgramWatcher
from jobdeck.runtime.store_folder import StoreFolder
from jobdeck.runtime.supervisor import (
    RecordState,
    SupervisorRecord,
    process_start_time,
    write_record,
)
from jobdeck.runtime.supervisor_client import SupervisorClient
from jobdeck.runtime.supervisor_records import SupervisorRecords

from .conftest import finished

TIMEOUT = 30.0
NOT_OURS = b"not one of ours\n"


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SupervisorRecords]:
    records = SupervisorRecords(tmp_path / "supervised")
    records.client.connect()  # (it starts the service)
    yield records
    records.close()


def break_the_first_request(monkeypatch: pytest.MonkeyPatch, *, before: bool) -> Callable[[], None]:
    """The first spawn request goes in one write with a line the service does not
    understand, after it (``before=False``) or before it: the service lets go of the
    connection there. Returns a function that undoes it."""
    encode = SupervisorClient._encode_locked
    done: list[bool] = []

    def broken(client: SupervisorClient, sock: Any, op: str, record: dict[str, Any]) -> bytes:
        line = encode(client, sock, op, record)
        if not done and op == "spawn":
            done.append(True)
            line = NOT_OURS + line if before else line + NOT_OURS
        return line

    monkeypatch.setattr(SupervisorClient, "_encode_locked", broken)
    return lambda: monkeypatch.setattr(SupervisorClient, "_encode_locked", encode)


def gated_command(tmp_path: Path, exit_status: int) -> tuple[PreparedCommand, Path, Path]:
    gate, ran = tmp_path / "go", tmp_path / "ran"
    script = f'touch "{ran}"; while [ ! -e "{gate}" ]; do sleep 0.01; done; exit {exit_status}'
    return PreparedCommand(("/bin/sh", "-c", script), None, dict(os.environ)), gate, ran


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_program_started_before_the_service_let_go_of_the_connection_is_watched_to_its_end(
    records: SupervisorRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the job was "lost" at once while its program ran on, unwatched."""
    break_the_first_request(monkeypatch, before=False)
    command, gate, ran = gated_command(tmp_path, exit_status=5)
    pids: list[int] = []
    watcher = ProgramWatcher.spawn(
        records, "job", command, tmp_path / "job.log", on_started=pids.append
    )
    try:
        assert watcher.wait(1.0) is None  # not judged lost: it runs, and is watched
        assert ran.exists()
        pid = watcher.pid
        assert pid is not None and alive(pid)
        gate.touch()
        end = watcher.wait(TIMEOUT)
        assert end is not None and end.kind is EndKind.EXITED, end
        assert end.exit_code == 5 and end.ended_at is not None
        assert pids == [pid] or end.pid == pid  # its pid is told, as for any start
    finally:
        gate.touch()


def test_a_request_the_service_never_read_fails_saying_the_program_did_not_run(
    records: SupervisorRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_the_first_request(monkeypatch, before=True)
    service = records.client.service_pid
    command, gate, ran = gated_command(tmp_path, exit_status=0)
    watcher = ProgramWatcher.spawn(records, "job", command, tmp_path / "job.log")
    end = watcher.wait(TIMEOUT)
    gate.touch()
    assert end is not None and end.kind is EndKind.START_FAILED, end
    assert end.error == (
        f"the supervisor (pid {service}) let go of Jobdeck's connection before it got the "
        "request: the program did not run"
    )
    assert not ran.exists()
    # the next request is answered on a new connection (the service, alone, may have left)
    again = ProgramWatcher.spawn(records, "job2", command, tmp_path / "job2.log")
    end = again.wait(TIMEOUT)
    assert end is not None and end.kind is EndKind.EXITED and end.exit_code == 0


def test_a_program_whose_service_was_killed_before_answering_is_found_and_stopped(
    records: SupervisorRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service is SIGKILLed after starting the program, before its answer is heard
    and before it wrote the program's record (a directory in the way here): the program,
    found by its job's marker, is stopped (nothing copies its output or records its end),
    and the job is lost saying so, not "never started" while it runs on."""
    dispatch = SupervisorClient._dispatch

    def unheard_start(client: SupervisorClient, message: dict[str, Any]) -> None:
        if message.get("op") != "started":
            dispatch(client, message)

    monkeypatch.setattr(SupervisorClient, "_dispatch", unheard_start)
    (records.directory / "job.json").mkdir()  # the service cannot write the record
    command, gate, ran = gated_command(tmp_path, exit_status=0)
    service = psutil.Process(records.client.service_pid)
    watcher = ProgramWatcher.spawn(records, "job", command, tmp_path / "job.log")
    try:
        wait_until(ran.exists)
        program = next(p for p in service.children() if p.pid != os.getpid())
        service.send_signal(signal.SIGKILL)
        end = watcher.wait(TIMEOUT)
        assert end is not None and end.kind is EndKind.LOST, end
        assert end.error == (
            f"the supervisor (pid {service.pid}) stopped while the program ran; the program "
            "was stopped and its exit status is unknown"
        )
        psutil.wait_procs([program], timeout=TIMEOUT)
        assert not alive(program.pid)
    finally:
        gate.touch()


@pytest.mark.expected_log("let go of Jobdeck's connection before it got the request")
def test_an_ended_programs_record_left_behind_is_never_taken_for_a_later_attempt(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An app that stored a program's end and went before telling the service so has the
    service write that end down again. The next app deletes such records (of jobs not
    running) before any job starts: a later attempt of that job whose start request is
    then caught on a broken connection is not judged by the earlier attempt's end."""
    queued = real_tracker.enqueue("command", {"argv": ["sh", "-c", "echo ran"]})
    folder = StoreFolder(real_tracker.store.path).records
    private_directory(folder)
    stale = SupervisorRecord(
        job_id=queued.id,
        argv=["sh"],
        log_path=os.fspath(folder / "earlier.log"),
        state=RecordState.EXITED,
        pid=os.getpid(),
        start_time=1.0,
        exit_code=9,
        ended_at=time.time(),
    )
    write_record(folder / f"{queued.id}.json", stale)
    running_elsewhere = dataclasses.replace(stale, job_id="other", state=RecordState.RUNNING)
    write_record(folder / "other.json", running_elsewhere)
    break_the_first_request(monkeypatch, before=True)
    make_runner(tracker=real_tracker)
    qtbot.waitUntil(lambda: finished(real_tracker, queued.id), timeout=int(TIMEOUT * 1000))
    done = real_tracker.get_job(queued.id)
    assert done is not None and done.status is JobStatus.FAILED and done.exit_code is None
    assert "let go of Jobdeck's connection before it got the request" in str(done.error)
    assert (folder / "other.json").exists()  # (not ended: left alone)


def test_without_a_trace_of_the_program_only_a_live_service_tells_it_never_ran(
    tmp_path: Path,
) -> None:
    """No record and no process of the job: a service that still runs let go of the
    connection without starting it; one that died (or a connection this app closed) leaves
    it unknown, and the answer says so."""
    a, b = (f"never-{uuid.uuid4().hex}" for _ in range(2))
    me = (os.getpid(), process_start_time(os.getpid()))
    gone = (2**22 + 1, 1.0)  # (above the largest pid Linux gives)
    answers = judge_lost_starts(tmp_path, [a], me)
    assert answers[a]["op"] == "start_failed"
    assert answers[a]["error"].endswith("the program did not run")
    answers = judge_lost_starts(tmp_path, [a, b], gone)
    assert [answers[j]["op"] for j in (a, b)] == ["lost", "lost"]
    assert answers[a]["error"] == (
        f"the supervisor (pid {gone[0]}) stopped before it told whether the program started; "
        "no trace of it was found: whether it ran is unknown"
    )
    closing = judge_lost_starts(tmp_path, [a], me, closing=True)[a]
    assert closing["op"] == "lost" and closing["error"].startswith("Jobdeck closed")
