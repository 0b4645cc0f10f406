"""Issue 15, item 5: one supervisor service per store starts and watches every process job.

Many short commands end with their own exit codes and logs; the service is one process,
not the app's child, shared by the jobs; it exits once it has nothing to watch and no app
is connected; killing it fails its jobs with a message that says so (they do not hang);
a program that cannot be executed gets a readable error from the service itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.cli import main as cli_main
from jobdeck.core import JobStatus, JobTracker, StoreWriteError
from jobdeck.runtime import Runner
from jobdeck.runtime.process_launch import PreparedCommand
from jobdeck.runtime.program_watcher import EndKind, ProgramWatcher
from jobdeck.runtime.supervisor_client import SupervisorClient, service_command, socket_path_for
from jobdeck.runtime.supervisor_records import SupervisorRecords
from jobdeck.runtime.watcher_threads import WatcherThreads

from .conftest import finished

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
WAIT_MS = 30_000
TIMEOUT = 30.0


def service_of(job_pid: int) -> psutil.Process:
    """The supervisor service that started the program ``job_pid``."""
    parent = psutil.Process(job_pid).parent()
    assert parent is not None
    return parent


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_many_short_commands_end_with_their_exit_codes_and_logs(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    runner = make_runner(tracker=real_tracker, max_workers=4)
    jobs = [
        real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", f"echo out-{i}; exit {i % 3}"]})
        for i in range(40)
    ]
    qtbot.waitUntil(lambda: all(finished(real_tracker, j.id) for j in jobs), timeout=WAIT_MS * 2)
    for i, queued in enumerate(jobs):
        job = real_tracker.get_job(queued.id)
        assert job is not None and job.log_path is not None
        assert job.exit_code == i % 3, (i, job.error)
        assert Path(job.log_path).read_text() == f"out-{i}\n"
        if i % 3 == 0:
            assert job.status is JobStatus.COMPLETED, job.error
        else:
            assert job.status is JobStatus.FAILED
            assert str(job.error).startswith(f"exit status {i % 3}; last output:\nout-{i}")
    assert runner.shutdown(timeout=10)


def test_a_program_that_ends_before_its_start_returns_keeps_its_pid_and_log(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A short program's end can reach the app (and be judged on the thread that hears it)
    before the thread that started it is done; the job still gets its pid and log."""
    heard = threading.Event()
    dispatch = SupervisorClient._dispatch
    call_later = WatcherThreads.call_later

    def hear(client: SupervisorClient, message: dict[str, Any]) -> None:
        if message.get("op") == "ended":
            heard.set()
        dispatch(client, message)

    def late_return(threads: WatcherThreads, delay: float, call: Callable[[], None]) -> None:
        heard.wait(TIMEOUT)  # the last step of the start: it returns after the end is heard
        call_later(threads, delay, call)

    monkeypatch.setattr(SupervisorClient, "_dispatch", hear)
    monkeypatch.setattr(WatcherThreads, "call_later", late_return)
    runner = make_runner(tracker=real_tracker)
    job = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", "echo quick"]})
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    assert heard.is_set()
    done = real_tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done
    assert done.pid is not None and done.log_path is not None
    assert Path(done.log_path).read_text() == "quick\n"
    assert runner.shutdown(timeout=10)


@pytest.mark.expected_log("could not record the pid of job")
def test_a_program_whose_pid_and_log_the_store_refused_gets_them_with_its_end(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """QA: while the disk was full, the write of a running program's pid and log file
    failed; its end was recorded once space was back, without them: the job showed no
    output (no Output tab, ``log_path`` None) although its log file was there."""
    refused = threading.Event()

    def full_disk(job_id: str, **fields: Any) -> Any:
        refused.set()
        raise StoreWriteError("could not save job changes: the disk is full")

    monkeypatch.setattr(real_tracker, "set_process_info", full_disk)
    runner = make_runner(tracker=real_tracker)
    gate = tmp_path / "gate"
    wait = f"echo before; while [ ! -e '{gate}' ]; do sleep 0.01; done; echo after"
    job = real_tracker.enqueue("command", {"argv": wait, "shell": True})
    assert refused.wait(TIMEOUT)  # it ran long enough for its pid to be written
    gate.touch()
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done
    assert done.log_path is not None and done.pid is not None
    assert Path(done.log_path).read_text() == "before\nafter\n"
    assert runner.shutdown(timeout=10)


#: Run in the service before it serves: its job logs hold at most 4 KiB (a full disk).
FULL_LOG_DISK = """
import errno, os, jobdeck.runtime.supervisor as supervisor
class _Disk:
    def __getattr__(self, name):
        return getattr(os, name)
    def write(self, fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".log"):
            room = 4096 - os.fstat(fd).st_size
            if room <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = bytes(data[:room])
        return os.write(fd, data)
supervisor.os = _Disk()
"""


def test_output_a_full_disk_kept_out_of_the_log_is_said_in_the_jobs_log(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """QA: with its log folder full, a job's output stopped mid-line and the job completed
    as if nothing were missing (its last lines, "ALL DONE" included, were gone)."""
    from jobdeck.runtime import supervisor_client

    def command(records_dir: Path, socket_path: Path) -> list[str]:
        argv = service_command(records_dir, socket_path)
        boot = argv[4].replace("; from jobdeck", f"\n{FULL_LOG_DISK}\nfrom jobdeck", 1)
        return [*argv[:4], boot, *argv[5:]]

    monkeypatch.setattr(supervisor_client, "service_command", command)
    runner = make_runner(tracker=real_tracker)
    flood = "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line $i of the output; done"
    job = real_tracker.enqueue("command", {"argv": f"{flood}; echo ALL DONE", "shell": True})
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done
    assert done.log_path is not None and Path(done.log_path).stat().st_size == 4096
    real_tracker.flush()
    warnings = [e.message for e in real_tracker.logs(job.id) if e.level == "warning"]
    lost = "bytes of the program's output could not be written to its log (No space left"
    assert any(lost in m for m in warnings), warnings
    assert runner.shutdown(timeout=10)


def test_the_bar_a_program_is_drawing_shows_before_its_next_redraw(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    """QA: tqdm (and curl, and OSC 9;4 reports) begin each redraw with ``\\r``: the bar
    drawn last was read only once the next came, so a job whose steps took minutes showed
    the step before (0% for the whole first step)."""
    runner = make_runner(tracker=real_tracker)
    gate = tmp_path / "gate"
    bar = f"printf '\\r 25%%|##5       | 1/4'; while [ ! -e '{gate}' ]; do sleep 0.01; done"
    job = real_tracker.enqueue("command", {"argv": bar, "shell": True})

    def progress() -> tuple[float, float] | None:
        now = real_tracker.get_job(job.id)
        return None if now is None else (now.progress.current, now.progress.total)

    try:
        qtbot.waitUntil(lambda: progress() == (1, 4), timeout=WAIT_MS)
    finally:
        gate.touch()
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    assert runner.shutdown(timeout=10)


def test_one_service_runs_the_jobs_and_leaves_once_nothing_is_left(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    runner = make_runner(tracker=real_tracker, max_workers=4)
    gate = tmp_path / "gate"
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
    jobs = [
        real_tracker.enqueue("command", {"argv": [sys.executable, "-c", wait]}) for _ in range(3)
    ]

    def pids() -> list[int | None]:
        return [real_tracker.get_job(j.id).pid for j in jobs]  # type: ignore[union-attr]

    qtbot.waitUntil(lambda: None not in pids(), timeout=WAIT_MS)
    services = {service_of(pid).pid for pid in pids() if pid is not None}
    assert len(services) == 1  # one service for the store's jobs
    service = services.pop()
    assert service != os.getpid() and psutil.Process(service).ppid() != os.getpid()
    gate.touch()
    qtbot.waitUntil(lambda: all(finished(real_tracker, j.id) for j in jobs), timeout=WAIT_MS)
    assert all(real_tracker.get_job(j.id).status is JobStatus.COMPLETED for j in jobs)  # type: ignore[union-attr]
    assert not gone(service)  # the app is still connected
    assert runner.shutdown(timeout=10)
    qtbot.waitUntil(lambda: gone(service), timeout=WAIT_MS)  # nothing to watch, nobody connected


def test_killing_the_service_fails_its_jobs_with_a_readable_message(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    make_runner(tracker=real_tracker)
    job = real_tracker.enqueue("command", {"argv": ["sleep", "600"]})
    qtbot.waitUntil(lambda: real_tracker.get_job(job.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    program = real_tracker.get_job(job.id).pid  # type: ignore[union-attr]
    assert program is not None
    service = service_of(program)
    service.send_signal(signal.SIGKILL)
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert str(done.error).startswith(
        f"lost: the supervisor (pid {service.pid}) stopped while the program ran; "
        "the program was stopped and its exit status is unknown"
    )
    qtbot.waitUntil(lambda: gone(program), timeout=WAIT_MS)  # not left running unwatched


def test_a_new_service_starts_after_one_was_killed(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    make_runner(tracker=real_tracker)
    first = real_tracker.enqueue("command", {"argv": ["sleep", "600"]})
    qtbot.waitUntil(lambda: real_tracker.get_job(first.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    service_of(real_tracker.get_job(first.id).pid).kill()  # type: ignore[union-attr, arg-type]
    qtbot.waitUntil(lambda: finished(real_tracker, first.id), timeout=WAIT_MS)
    second = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", "echo again"]})
    qtbot.waitUntil(lambda: finished(real_tracker, second.id), timeout=WAIT_MS)
    done = real_tracker.get_job(second.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error


def test_a_program_that_cannot_be_executed_gets_a_readable_error(tmp_path: Path) -> None:
    """What the app's checks cannot predict (the file vanished, it is no program) is
    reported by the service in words a person can act on."""
    records = SupervisorRecords(tmp_path / "supervised")
    not_a_program = tmp_path / "notes.txt"
    not_a_program.write_text("just text\n")
    not_a_program.chmod(0o755)
    cases = {
        str(tmp_path / "vanished"): f"executable not found: {str(tmp_path / 'vanished')!r}",
        str(not_a_program): (
            f"cannot execute {str(not_a_program)!r}: not a program, and a script needs a '#!' line"
        ),
    }
    try:
        for number, (program, error) in enumerate(cases.items()):
            command = PreparedCommand((program,), None, dict(os.environ))
            watcher = ProgramWatcher.spawn(
                records, f"job{number}", command, tmp_path / f"job{number}.log"
            )
            end = watcher.wait(TIMEOUT)
            assert end is not None
            assert end.kind is EndKind.START_FAILED
            assert end.error == error
    finally:
        records.close()


def test_a_program_runs_in_its_working_directory_and_is_looked_for_in_path_only(
    tmp_path: Path,
) -> None:
    """The service starts programs in their working directory (a relative program is found
    there, a bare name only in PATH: a file of that name in the directory is never run), a
    directory that cannot be entered is a readable error, and a program without one runs
    where the service runs, whatever ran elsewhere before it."""
    records = SupervisorRecords(tmp_path / "supervised")
    work = tmp_path / "work"
    work.mkdir()
    ran = tmp_path / "ran"
    tool = work / "tool"
    tool.write_text(f"#!/bin/sh\necho tool ran\ntouch {ran}\n")
    tool.chmod(0o755)
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    cases: list[tuple[tuple[str, ...], str | None, EndKind, tuple[str, ...] | str]] = [
        (("/bin/sh", "-c", "pwd"), str(work), EndKind.EXITED, (str(work),)),
        (("./tool",), str(work), EndKind.EXITED, ("tool ran",)),
        (("tool",), str(work), EndKind.START_FAILED, "executable not found: 'tool'"),
        (
            ("/bin/sh", "-c", "pwd"),
            str(tmp_path / "missing"),
            EndKind.START_FAILED,
            f"cannot use working directory {tmp_path / 'missing'}: No such file or directory",
        ),
        (("/bin/sh", "-c", "pwd"), None, EndKind.EXITED, (os.getcwd(),)),  # the service's
    ]
    try:
        for number, (argv, cwd, kind, expected) in enumerate(cases):
            ran.unlink(missing_ok=True)
            command = PreparedCommand(argv, cwd, env)
            watcher = ProgramWatcher.spawn(
                records, f"job{number}", command, tmp_path / f"job{number}.log"
            )
            end = watcher.wait(TIMEOUT)
            assert end is not None and end.kind is kind, (argv, cwd, end)
            if kind is EndKind.EXITED:
                assert end.exit_code == 0 and end.tail == expected, (argv, cwd, end)
            else:
                assert end.error == expected
                assert not ran.exists()
    finally:
        records.close()


def test_a_running_program_is_told_started_before_it_ends(tmp_path: Path) -> None:
    """The service holds a program's ``started`` answer a moment (to send it with the end
    of a short program), never until the end of a long one: its pid is known while it runs."""
    records = SupervisorRecords(tmp_path / "supervised")
    told = threading.Event()
    command = PreparedCommand(("sleep", "60"), None, dict(os.environ))
    try:
        watcher = ProgramWatcher.spawn(
            records, "job", command, tmp_path / "job.log", on_started=lambda pid: told.set()
        )
        assert told.wait(TIMEOUT)
        pid = watcher.pid
        assert pid is not None and not gone(pid)
        watcher.kill()
        end = watcher.wait(TIMEOUT)
        assert end is not None and end.kind is EndKind.EXITED and end.signal == signal.SIGKILL
    finally:
        records.close()


def test_the_hidden_jobdeck_sub_command_runs_the_service(tmp_path: Path) -> None:
    """What a frozen bundle runs (``jobdeck _supervise --serve RECORDS SOCKET``) serves
    programs like the service the interpreter runs from a source tree."""
    records = SupervisorRecords(tmp_path / "supervised")
    records.directory.mkdir(mode=0o700)
    socket_path = socket_path_for(records.directory)
    with (tmp_path / "service.err").open("wb") as errors:  # the service keeps it open
        started = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobdeck",
                "_supervise",
                "--serve",
                str(records.directory),
                str(socket_path),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            timeout=TIMEOUT,
            env={**os.environ, "PYTHONPATH": str(DESKTOP)},
        )
    assert started.returncode == 0 and started.stdout == b"ok\n"
    try:
        assert records.client.connect_if_running()
        command = PreparedCommand(("/bin/sh", "-c", "echo served; exit 4"), None, dict(os.environ))
        watcher = ProgramWatcher.spawn(records, "job", command, tmp_path / "job.log")
        end = watcher.wait(TIMEOUT)
        assert end is not None and end.kind is EndKind.EXITED and end.exit_code == 4
        assert end.tail == ("served",)
        service = records.client.service_pid
        assert service is not None and psutil.Process(service).cmdline()[3] == "_supervise"
    finally:
        records.close()


def test_a_frozen_app_runs_the_service_as_its_own_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/jobdeck/jobdeck")
    assert service_command(tmp_path, tmp_path / "s.sock") == [
        "/opt/jobdeck/jobdeck",
        "_supervise",
        "--serve",
        str(tmp_path),
        str(tmp_path / "s.sock"),
    ]


def test_the_hidden_sub_command_says_how_to_use_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["_supervise"]) == 2
    assert "usage: jobdeck _supervise --serve RECORDS_DIR SOCKET" in capsys.readouterr().err


def test_the_ends_of_one_read_are_handled_in_one_block(tmp_path: Path) -> None:
    """Several messages that arrive in one read (programs that ended together) are handled
    inside one ``read_together`` block: the process executor records them in one commit."""
    path = tmp_path / "fake.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(os.fspath(path))
    server.listen(1)
    sent = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            ended = [
                {"op": "ended", "job_id": job_id, "record": {"job_id": job_id}}
                for job_id in ("a", "b", "c")
            ]
            # the hello and the first end in one write, the other two in the next
            conn.sendall(
                b'{"op": "hello", "pid": 1, "start_time": 2.0}\n'
                + json.dumps(ended[0]).encode()
                + b"\n"
            )
            sent.wait(TIMEOUT)
            conn.sendall(b"".join(json.dumps(m).encode() + b"\n" for m in ended[1:]))
            conn.recv(1)  # until the client lets go

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    blocks: list[list[str]] = []
    heard: list[str] = []
    all_heard = threading.Event()

    @contextlib.contextmanager
    def together() -> Iterator[None]:
        blocks.append([])
        yield
        blocks[-1] = list(heard)
        heard.clear()
        if sum(len(b) for b in blocks) == 3:
            all_heard.set()

    client = SupervisorClient(tmp_path, socket_path=path)
    client.read_together = together
    for job_id in ("a", "b", "c"):
        client.watch(job_id, lambda record: heard.append(record["job_id"]) if record else None)
    try:
        assert client.connect_if_running()
        assert client.service_pid == 1
        sent.set()
        assert all_heard.wait(TIMEOUT), blocks
        assert blocks == [["a"], ["b", "c"]]
    finally:
        sent.set()
        client.close()
        thread.join(TIMEOUT)
        server.close()


def test_an_app_that_reads_slowly_holds_up_nobody_and_is_not_dropped(tmp_path: Path) -> None:
    """An app busy for a while (a slow commit) reads nothing meanwhile: the service keeps
    what it has to tell that app, serves the others as usual, and tells it all once it
    reads again; it is not taken for gone."""
    records = SupervisorRecords(tmp_path / "supervised")
    pad = ("x" * 100_000,) * 2  # each end it hears says the command line: this big
    command = PreparedCommand(("true", *pad), None, dict(os.environ))
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        records.client.connect()
        busy.connect(os.fspath(records.client.socket_path))
        started = time.monotonic()
        for i in range(10):  # megabytes the busy app does not read meanwhile
            watcher = ProgramWatcher.spawn(records, f"job{i}", command, tmp_path / f"{i}.log")
            end = watcher.wait(TIMEOUT)
            assert end is not None and end.kind is EndKind.EXITED and end.exit_code == 0
        assert time.monotonic() - started < 5.0  # (it used to wait 5 s for the busy app)
        busy.settimeout(TIMEOUT)
        heard = b""
        lines: list[bytes] = []
        while sum(b'"op": "ended"' in line for line in lines) < 10:
            chunk = busy.recv(1 << 20)
            assert chunk, "the service let go of the app that read slowly"
            heard += chunk
            *lines, _ = heard.split(b"\n")  # the complete ones
        ended = [json.loads(line) for line in lines if b'"op": "ended"' in line]
        assert [m["job_id"] for m in ended] == [f"job{i}" for i in range(10)]
    finally:
        busy.close()
        records.close()


def test_the_programs_started_on_hearing_one_read_are_asked_for_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next programs started as the ends of one read are handled go to the service in
    one write, with the ``forget`` lines of those ends: one wake-up of the service."""
    path = tmp_path / "fake.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(os.fspath(path))
    server.listen(1)
    asked: list[dict[str, Any]] = []
    all_asked = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            ended = [{"op": "ended", "job_id": j, "record": {"job_id": j}} for j in ("a", "b")]
            conn.sendall(b'{"op": "hello", "pid": 1, "start_time": 2.0}\n')
            conn.sendall(b"".join(json.dumps(m).encode() + b"\n" for m in ended))
            heard = b""
            while len(asked) < 4:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                heard += chunk
                *lines, heard = heard.split(b"\n")
                asked.extend(json.loads(line) for line in lines)
            all_asked.set()
            conn.recv(1)  # until the client lets go

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = SupervisorClient(tmp_path, socket_path=path)
    writes: list[bytes] = []
    sendall = socket.socket.sendall

    def counted(sock: socket.socket, data: Any, *args: Any) -> None:
        if sock is client._sock:
            writes.append(bytes(data))
        sendall(sock, data, *args)

    def next_one(job_id: str) -> Callable[[dict[str, Any] | None], None]:
        def on_news(record: dict[str, Any] | None) -> None:
            if record is None:
                return  # (the connection closed at the end)
            client.forget(job_id, later=True)
            client.spawn({"job_id": f"{job_id}2"}, lambda reply: None)
            client.flush()  # (as the executor does: held back too, for the one write)

        return on_news

    monkeypatch.setattr(socket.socket, "sendall", counted)
    for job_id in ("a", "b"):
        client.watch(job_id, next_one(job_id))
    try:
        assert client.connect_if_running()
        assert all_asked.wait(TIMEOUT), asked
        assert [(m["op"], m.get("job_id") or m["record"]["job_id"]) for m in asked] == [
            ("forget", "a"),
            ("forget", "b"),
            ("spawn", "a2"),
            ("spawn", "b2"),
        ]
        assert len(writes) == 1
    finally:
        all_asked.set()
        client.close()
        thread.join(TIMEOUT)
        server.close()


def slow_to_notice_a_lost_connection(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The client's reader, busy (a slow commit, say), notices its connection's end only
    once the event returned is set; and only the client's word makes a program's watcher
    look at its record again (no periodic look meanwhile)."""
    from jobdeck.runtime import program_watcher

    monkeypatch.setattr(program_watcher, "RECORD_LOOK_INTERVAL", 3600.0)
    busy = threading.Event()
    connection_lost = SupervisorClient._connection_lost

    def slow_to_notice(client: SupervisorClient, sock: socket.socket) -> None:
        busy.wait(TIMEOUT)
        connection_lost(client, sock)

    monkeypatch.setattr(SupervisorClient, "_connection_lost", slow_to_notice)
    return busy


def test_a_job_whose_connection_broke_on_a_failed_send_is_not_left_running(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service dies while the client's reader is busy (a slow commit, say); the next
    job's request finds the connection broken first, and connects to a new service. The
    job that ran under the dead one must still end ("lost", its program stopped), not stay
    running forever: the reader that then sees its connection end tells every watcher."""
    busy = slow_to_notice_a_lost_connection(monkeypatch)
    make_runner(tracker=real_tracker)
    try:
        first = real_tracker.enqueue("command", {"argv": ["sleep", "600"]})
        qtbot.waitUntil(lambda: real_tracker.get_job(first.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
        program = real_tracker.get_job(first.id).pid  # type: ignore[union-attr]
        assert program is not None
        service = service_of(program)
        service.kill()
        qtbot.waitUntil(lambda: gone(service.pid), timeout=WAIT_MS)
        second = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", "echo again"]})
        qtbot.waitUntil(lambda: finished(real_tracker, second.id), timeout=WAIT_MS)
        assert real_tracker.get_job(second.id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
        busy.set()  # the old reader sees its connection's end at last
        qtbot.waitUntil(lambda: finished(real_tracker, first.id), timeout=WAIT_MS)
    finally:
        busy.set()
    done = real_tracker.get_job(first.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert str(done.error).startswith(f"lost: the supervisor (pid {service.pid}) stopped")
    qtbot.waitUntil(lambda: gone(program), timeout=WAIT_MS)  # not left running unwatched


def test_a_program_that_ends_while_the_app_is_connecting_again_is_seen_ending(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The service lets go of the app's connection (past its backlog, say) while the
    client's reader is busy; a program ends while no connection is up (only its record
    file says so); the next job's request fails on the old connection and connects again
    (to the same service) before the old reader is done. The first job must still end
    with its program's exit status: its watcher looks at the record once connected again
    (the new connection hears of no end that came before it)."""
    busy = slow_to_notice_a_lost_connection(monkeypatch)
    runner = make_runner(tracker=real_tracker)
    gate = tmp_path / "go"
    script = f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done; exit 3'
    try:
        # (a program that runs on keeps the service there: it leaves when nothing is left)
        keeper = real_tracker.enqueue("command", {"argv": ["sleep", "600"]})
        first = real_tracker.enqueue("command", {"argv": ["sh", "-c", script]})

        def running(job_id: str) -> bool:
            job = real_tracker.get_job(job_id)
            return job is not None and job.pid is not None

        qtbot.waitUntil(lambda: running(keeper.id) and running(first.id), timeout=WAIT_MS)
        service = service_of(real_tracker.get_job(first.id).pid)  # type: ignore[union-attr, arg-type]
        programs = runner.processes._programs
        assert programs is not None
        client = programs.records.client
        sock = client._sock
        assert sock is not None
        sock.sendall(b"not one of ours\n")  # the service lets go of this connection
        record = programs.records.path(first.id)

        def ended() -> bool:
            with contextlib.suppress(OSError, ValueError):
                return json.loads(record.read_text())["state"] == "exited"
            return False

        gate.touch()
        qtbot.waitUntil(ended, timeout=WAIT_MS)  # only its file says so
        second = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", "echo again"]})
        qtbot.waitUntil(lambda: finished(real_tracker, second.id), timeout=WAIT_MS)
        assert real_tracker.get_job(second.id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
        assert client.service_pid == service.pid  # connected again to the same service
        busy.set()  # the old reader sees its connection's end at last
        qtbot.waitUntil(lambda: finished(real_tracker, first.id), timeout=WAIT_MS)
    finally:
        busy.set()
        gate.touch()
    done = real_tracker.get_job(first.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.exit_code == 3 and str(done.error).startswith("exit status 3"), done.error


def test_an_end_sent_into_a_connection_that_broke_is_told_to_the_apps_connected_since(
    tmp_path: Path,
) -> None:
    """A program's end goes to the connection that asked for it. When that connection
    breaks before the app said it stored the end (the app let go of it after a send failed
    and is connected again already: what was sent into it is lost), the connections made
    since the end hear of it; those that heard it already do not hear it twice."""
    records = SupervisorRecords(tmp_path / "supervised")
    records.directory.mkdir(mode=0o700)
    spec = {"job_id": "short", "argv": ["true"], "log_path": os.fspath(tmp_path / "short.log")}

    def connect() -> tuple[socket.socket, list[dict[str, Any]]]:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(TIMEOUT)
        conn.connect(os.fspath(records.client.socket_path))
        return conn, []

    def hear(conn: socket.socket, heard: list[dict[str, Any]], op: str) -> dict[str, Any]:
        buffer = b""
        while not any(m["op"] == op for m in heard):
            chunk = conn.recv(1 << 16)
            assert chunk, f"the connection closed before {op!r} came"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            heard.extend(json.loads(line) for line in lines)
        return next(m for m in heard if m["op"] == op)

    try:
        records.client.connect()  # (it starts the service, and is connected throughout)
        heard_end = threading.Event()
        records.client.watch("short", lambda record: heard_end.set())
        asker, asker_heard = connect()
        hear(asker, asker_heard, "hello")
        asker.sendall(json.dumps({"op": "spawn", "record": spec}).encode() + b"\n")
        assert hear(asker, asker_heard, "ended")["record"]["exit_code"] == 0
        assert heard_end.wait(TIMEOUT)  # connected when it ended: told then
        heard_end.clear()
        since, since_heard = connect()
        hear(since, since_heard, "hello")
        asker.close()  # it never said the end was stored
        ended = hear(since, since_heard, "ended")
        assert ended["job_id"] == "short" and ended["record"]["exit_code"] == 0
        since.close()
        assert not heard_end.wait(0.5)  # (told once is enough)
    finally:
        records.close()
