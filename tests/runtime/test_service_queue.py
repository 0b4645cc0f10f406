"""Issue 15, item 5: the supervisor service starts the programs an app queued as its programs end.

An app hands over the programs that start next (``queue``); the moment one of its
programs ends, the service starts the first of them itself and tells it with that end
(the app's store still says queued: if the app goes before it stored the start, the
record the service writes then lets the next app adopt it). ``withdraw`` takes a queued
one back and says whether it had started already; an app that goes takes its queued
programs with it (they never start). In the app: a job cancelled while handed over never
runs, and one queued later with a higher priority is not overtaken.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import EventKind, JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.supervisor import read_record
from jobdeck.runtime.supervisor_records import SupervisorRecords
from tests.registries import with_command

from .conftest import MARKER, finished, status_of

TIMEOUT = 30.0
WAIT_MS = 30_000
PROGRAMS = Path(__file__).resolve().parent / "programs"


class RawApp:
    """A connection to the service speaking its protocol directly."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(os.fspath(path))
        self.buffer = b""
        self.heard: list[dict[str, Any]] = []

    def send(self, **message: Any) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def send_together(self, *messages: dict[str, Any]) -> None:
        """Send ``messages`` in one write, so that the service reads them in one go: a
        program spawned by the first cannot end before the others are heard."""
        self.sock.sendall(b"".join(json.dumps(m).encode() + b"\n" for m in messages))

    def hear(self, op: str, job_id: str | None = None) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (m for m in self.heard if m["op"] == op and job_id in (None, m.get("job_id"))),
                None,
            )

        while (message := found()) is None:
            chunk = self.sock.recv(1 << 16)
            assert chunk, f"the connection closed before {op!r} {job_id} came"
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            for message in map(json.loads, lines):
                self.heard.append(message)
                self.heard.extend(message.get("then", ()))  # (what took an end's place)
        return message


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SupervisorRecords]:
    records = SupervisorRecords(tmp_path / "supervised")
    records.client.connect()  # starts the service (and stays connected: it stays up)
    yield records
    records.close()


def spec(tmp_path: Path, job_id: str, *argv: str, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "argv": list(argv),
        "log_path": os.fspath(tmp_path / f"{job_id}.log"),
        "env": dict(os.environ),
        "extra": extra,
    }


def test_the_programs_queued_start_one_by_one_as_programs_end(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    app = RawApp(records.client.socket_path)
    app.hear("hello")
    app.send_together(
        {"op": "spawn", "record": spec(tmp_path, "a", "/bin/sh", "-c", "echo a")},
        {"op": "queue", "record": spec(tmp_path, "b", "/bin/sh", "-c", "echo b", attempt=1)},
        {"op": "queue", "record": spec(tmp_path, "c", "/bin/sh", "-c", "exit 3")},
    )
    # b's start came with a's end (it took a's place)
    started_b = app.hear("ended", "a")["then"][0]
    assert started_b["op"] == "started" and started_b["job_id"] == "b"
    assert started_b["queued"] is True and isinstance(started_b["pid"], int)
    assert app.hear("ended", "c")["record"]["exit_code"] == 3
    assert app.hear("ended", "b")["record"]["exit_code"] == 0
    assert (tmp_path / "b.log").read_text() == "b\n"
    # nothing more is queued: the next end starts nothing
    app.send(op="spawn", record=spec(tmp_path, "d", "true"))
    assert "then" not in app.hear("ended", "d")
    app.sock.close()  # gone before it said it stored their ends: they go into their records
    deadline = time.monotonic() + TIMEOUT
    while not (records.directory / "c.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    record = read_record(records.directory / "b.json")  # with what the next app adopts by
    assert record.extra == {"attempt": 1, "queued": True} and record.exit_code == 0
    assert read_record(records.directory / "c.json").extra["queued"] is True


def test_a_queued_program_that_cannot_start_is_answered_and_the_next_one_starts(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    app = RawApp(records.client.socket_path)
    app.send_together(
        {"op": "spawn", "record": spec(tmp_path, "a", "true")},
        {"op": "queue", "record": spec(tmp_path, "bad", os.fspath(tmp_path / "missing"))},
        {"op": "queue", "record": spec(tmp_path, "good", "true")},
    )
    failed, started = app.hear("ended", "a")["then"]
    assert failed["op"] == "start_failed" and failed["job_id"] == "bad"
    assert failed["queued"] is True and "executable not found" in failed["error"]
    assert started["op"] == "started" and started["job_id"] == "good"
    assert app.hear("ended", "good")["record"]["exit_code"] == 0


def test_what_one_wake_up_of_the_service_says_reaches_the_app_in_one_write(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """The answers to the requests of one read (as the ends of programs that end together)
    are sent in one write: the app reads them at once, one wake-up (and one commit) for
    all, instead of one each."""
    app = RawApp(records.client.socket_path)
    app.hear("hello")
    missing = os.fspath(tmp_path / "missing")
    lines: list[dict[str, Any]] = [{"op": "withdraw", "job_id": f"w{i}"} for i in range(10)]
    lines += [
        {"op": "spawn", "record": {**spec(tmp_path, f"bad{i}", missing), "env": {}}}
        for i in range(5)
    ]
    app.sock.sendall(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    first_read = app.sock.recv(1 << 20)  # (as soon as anything came)
    answers = [json.loads(line) for line in first_read.splitlines()]
    assert [a["op"] for a in answers] == ["withdrawn"] * 10 + ["start_failed"] * 5


def test_programs_that_end_together_are_replaced_in_queue_order(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """Three programs end while the service is stopped (SIGSTOP): it hears the three ends
    in one wake-up and starts the next queued programs in their places, in queue order.
    Each end carries the start that took its place; the one that cannot start is answered
    and the next one queued takes that place; each queued program runs once."""
    gate = tmp_path / "gate"
    app = RawApp(records.client.socket_path)
    service = app.hear("hello")["pid"]
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    for name in "abc":
        app.send(op="spawn", record=spec(tmp_path, name, "/bin/sh", "-c", wait))
    pids = [app.hear("started", name)["pid"] for name in "abc"]
    app.send(op="queue", record=spec(tmp_path, "bad", os.fspath(tmp_path / "missing")))
    for name in "def":
        app.send(op="queue", record=spec(tmp_path, name, "/bin/sh", "-c", f"echo {name}"))
    app.send(op="withdraw", job_id="nothing")  # (answered once the queue above is read)
    app.hear("withdrawn", "nothing")
    os.kill(service, signal.SIGSTOP)
    try:
        gate.touch()
        deadline = time.monotonic() + TIMEOUT
        while not all(ended(pid) for pid in pids):  # (zombies: the stopped service reaps none)
            assert time.monotonic() < deadline, "the three programs did not end"
            time.sleep(0.01)
    finally:
        os.kill(service, signal.SIGCONT)
    ends = [app.hear("ended", name) for name in "abc"]
    thens = sorted([(t["op"], t["job_id"]) for t in m["then"]] for m in ends)
    assert thens == [
        [("start_failed", "bad"), ("started", "d")],  # (the first one handled)
        [("started", "e")],
        [("started", "f")],
    ], thens
    for name in "def":
        assert app.hear("ended", name)["record"]["exit_code"] == 0
        assert (tmp_path / f"{name}.log").read_text() == f"{name}\n"  # (each ran once)


def test_programs_that_take_the_places_of_programs_ended_together_run_as_asked(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """Four programs end in one wake-up of the service (SIGSTOP), and the programs queued
    to take their places start in that wake-up: each runs in a session of its own,
    SIGPIPE at its default, its output in its log, a bare name found in PATH, one with a
    working directory there; a missing program fails saying so and the next one queued
    takes its place, in queue order."""
    gate = tmp_path / "gate"
    work = tmp_path / "work"
    work.mkdir()
    app = RawApp(records.client.socket_path)
    service = app.hear("hello")["pid"]
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    for name in "abcd":
        app.send(op="spawn", record=spec(tmp_path, name, "/bin/sh", "-c", wait))
    pids = [app.hear("started", name)["pid"] for name in "abcd"]
    # its session, and SIGPIPE's disposition (a bitmask: 0 where nothing is ignored)
    look = "echo $(ps -o sid= -p $$) $$; grep SigIgn /proc/$$/status; pwd"
    app.send(op="queue", record=spec(tmp_path, "e", "sh", "-c", look))
    missing = "no-such-program-" + uuid.uuid4().hex
    app.send(op="queue", record=spec(tmp_path, "f", missing))
    app.send(op="queue", record={**spec(tmp_path, "g", "sh", "-c", look), "cwd": str(work)})
    app.send(op="queue", record=spec(tmp_path, "h", "/bin/sh", "-c", look))
    app.send(op="queue", record=spec(tmp_path, "i", "/bin/sh", "-c", "echo i"))
    app.send(op="withdraw", job_id="nothing")
    app.hear("withdrawn", "nothing")
    os.kill(service, signal.SIGSTOP)
    try:
        gate.touch()
        deadline = time.monotonic() + TIMEOUT
        while not all(ended(pid) for pid in pids):
            assert time.monotonic() < deadline, "the four programs did not end"
            time.sleep(0.01)
    finally:
        os.kill(service, signal.SIGCONT)
    ends = [app.hear("ended", name) for name in "abcd"]
    thens = sorted([(t["op"], t["job_id"]) for t in m["then"]] for m in ends)
    assert thens == [
        [("start_failed", "f"), ("started", "g")],
        [("started", "e")],
        [("started", "h")],
        [("started", "i")],
    ], thens
    failed = app.hear("start_failed", "f")
    assert failed["error"] == f"executable not found: {missing!r}"
    for name in "eghi":
        assert app.hear("ended", name)["record"]["exit_code"] == 0
    for name, where in (("e", None), ("g", work), ("h", None)):
        session_line, sig_ign, pwd = (tmp_path / f"{name}.log").read_text().splitlines()
        session, pid = session_line.split()
        assert session == pid == str(app.hear("started", name)["pid"])
        assert int(sig_ign.split()[1], 16) & (1 << (signal.SIGPIPE - 1)) == 0, sig_ign
        if where is not None:
            assert pwd == str(where)
    assert (tmp_path / "i.log").read_text() == "i\n"
    assert not (tmp_path / "f.log").exists() or (tmp_path / "f.log").read_text() == ""


def ended(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_withdrawn_program_never_starts_and_one_started_says_so(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    gate = tmp_path / "gate"
    app = RawApp(records.client.socket_path)
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    app.send(op="spawn", record=spec(tmp_path, "a", "/bin/sh", "-c", wait))
    app.send(op="queue", record=spec(tmp_path, "b", "true"))
    app.send(op="queue", record=spec(tmp_path, "c", "true"))
    app.send(op="withdraw", job_id="b")
    assert app.hear("withdrawn", "b")["started"] is False
    gate.touch()
    app.hear("ended", "a")
    assert app.hear("started", "c")["queued"] is True  # the next one took a's place
    app.send(op="withdraw", job_id="c")
    assert app.hear("withdrawn", "c")["started"] is True  # too late: it ran
    assert not any(m.get("job_id") == "b" and m["op"] != "withdrawn" for m in app.heard)
    assert not (tmp_path / "b.log").exists()


def test_an_app_that_goes_takes_its_queued_programs_with_it(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """The queued ones are still queued in that app's store: the next app runs them, so
    the service must never start them once their app is gone."""
    gate = tmp_path / "gate"
    app = RawApp(records.client.socket_path)
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    app.send(op="spawn", record=spec(tmp_path, "a", "/bin/sh", "-c", wait))
    app.send(op="queue", record=spec(tmp_path, "b", "true"))
    app.hear("started", "a")
    app.sock.close()  # gone (quit or killed) while a runs
    heard: list[dict[str, Any]] = []
    records.client.watch("a", lambda record: heard.append(record or {}))
    gate.touch()
    deadline = time.monotonic() + TIMEOUT
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert heard and heard[0]["exit_code"] == 0  # a ended (the other app heard it)
    assert read_record(records.directory / "a.json").exit_code == 0  # written for the next app
    assert not (tmp_path / "b.log").exists() and not (records.directory / "b.json").exists()


def test_a_start_the_app_did_not_store_is_adopted_by_the_next_app_never_run_twice(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app is killed after the service started a queued job in an ended one's place
    and before the app stored that start: the store still says the job is queued. The
    next app finds the service's record of it and adopts it (running, then finished,
    with its one attempt): its program never runs a second time."""
    db, gate, marker = tmp_path / "jobs.db", tmp_path / "gate", tmp_path / "ran"
    monkeypatch.setenv(MARKER, uuid.uuid4().hex)
    first = subprocess.Popen(
        [
            sys.executable,
            str(PROGRAMS / "app_dies_storing_a_start.py"),
            *map(str, (db, gate, marker)),
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        assert first.stdout is not None
        ready, _, _ = select.select([first.stdout], [], [], TIMEOUT)
        assert ready, "the stand-in app never started its first job"
        a, b = first.stdout.readline().decode().split()
        gate.touch()  # a ends, the service starts b in its place, the app dies storing it
        assert first.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stdout is not None:
            first.stdout.close()
    tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    assert tracker.get_job(b).status is JobStatus.PENDING  # type: ignore[union-attr]
    runner = Runner(tracker, log_dir=tmp_path / "logs")
    try:
        runner.start()
        qtbot.waitUntil(lambda: finished(tracker, a) and finished(tracker, b), timeout=WAIT_MS)
        for job_id in (a, b):
            job = tracker.get_job(job_id)
            assert job is not None
            assert job.status is JobStatus.COMPLETED, job.error
            assert job.attempts == 1
        qtbot.wait(300)  # (a second run of b would have written its line by now)
        assert marker.read_text() == "ran\n"
    finally:
        runner.shutdown(timeout=10)
        tracker.close()


def handed_over(runner: Runner, job_id: str) -> bool:
    """Whether ``job_id`` waits in the service's queue (handed over, not started)."""
    handed = runner.processes._handed.get(job_id)
    return handed is not None and handed.program is not None and not handed.started


def test_a_job_cancelled_while_handed_over_never_runs(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    gate, marker = tmp_path / "gate", tmp_path / "ran"
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    runner = make_runner(tracker=real_tracker, max_workers=1)
    real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", wait]})
    b = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", f"echo ran >> {marker}"]})
    c = real_tracker.enqueue("command", {"argv": ["true"]})
    qtbot.waitUntil(lambda: handed_over(runner, b.id), timeout=WAIT_MS)
    assert real_tracker.cancel_job(b.id)
    qtbot.waitUntil(lambda: b.id not in runner.processes._handed, timeout=WAIT_MS)  # taken back
    gate.touch()
    qtbot.waitUntil(lambda: finished(real_tracker, c.id), timeout=WAIT_MS)
    assert status_of(real_tracker, b.id) is JobStatus.CANCELLED
    assert status_of(real_tracker, c.id) is JobStatus.COMPLETED  # the next one took its turn
    assert not marker.exists()


def test_a_job_queued_ahead_of_those_handed_over_starts_first(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    """Handing jobs over never lets them overtake a job of higher priority queued later:
    they are taken back and start after it."""
    gate = tmp_path / "gate"
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    order: list[str] = []
    real_tracker.subscribe(
        lambda e: order.append(e.job.id) if e.kind is EventKind.STARTED else None
    )
    runner = make_runner(tracker=real_tracker, max_workers=1)
    a = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", wait]})
    low = real_tracker.enqueue("command", {"argv": ["true"]})
    qtbot.waitUntil(lambda: handed_over(runner, low.id), timeout=WAIT_MS)
    high = real_tracker.enqueue("command", {"argv": ["true"]}, priority=5)
    # low is taken back, and both are handed over again, high first
    qtbot.waitUntil(
        lambda: handed_over(runner, high.id) and handed_over(runner, low.id), timeout=WAIT_MS
    )
    gate.touch()
    qtbot.waitUntil(lambda: finished(real_tracker, low.id), timeout=WAIT_MS)
    assert order == [a.id, high.id, low.id]


@pytest.mark.parametrize("in_one_batch", [True, False])
def test_free_slots_start_queued_jobs_at_once_none_waits_in_the_service(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
    in_one_batch: bool,
) -> None:
    """Jobs queued while slots are free all start, up to the limit: none is handed over
    to wait for a program to end while a slot stays empty (two jobs queued together on
    two slots ran one after the other)."""
    gate = tmp_path / "gate"
    wait = ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.01; done"]
    runner = make_runner(tracker=real_tracker, max_workers=3)
    with real_tracker.batch() if in_one_batch else contextlib.nullcontext():
        ids = [real_tracker.enqueue("command", {"argv": wait}).id for _ in range(5)]

    def running() -> list[str]:
        return [i for i in ids if status_of(real_tracker, i) is JobStatus.RUNNING]

    try:
        qtbot.waitUntil(lambda: len(running()) == 3, timeout=WAIT_MS)
        assert running() == ids[:3]  # (in queue order)
        assert all(status_of(real_tracker, i) is JobStatus.PENDING for i in ids[3:])
    finally:
        gate.touch()
    qtbot.waitUntil(lambda: all(finished(real_tracker, i) for i in ids), timeout=WAIT_MS)
    assert runner.processes is not None


def test_a_lower_limit_holds_for_the_jobs_handed_over(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    """Lowering the limit (Settings ▸ Jobs at once) while jobs are handed over: a program
    that ends is not replaced while as many run as the new limit allows."""
    gates = {name: tmp_path / name for name in ("a", "b", "rest")}
    waits = {name: f"while [ ! -e {gate} ]; do sleep 0.01; done" for name, gate in gates.items()}
    runner = make_runner(tracker=real_tracker, max_workers=2)
    a = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", waits["a"]]})
    b = real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", waits["b"]]})
    rest = [
        real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", waits["rest"]]}).id
        for _ in range(4)
    ]
    qtbot.waitUntil(lambda: all(handed_over(runner, i) for i in rest), timeout=WAIT_MS)
    runner.max_workers = 1
    # taken back (the service would start them as programs end)
    qtbot.waitUntil(lambda: not any(handed_over(runner, i) for i in rest), timeout=WAIT_MS)
    try:
        gates["a"].touch()
        qtbot.waitUntil(lambda: finished(real_tracker, a.id), timeout=WAIT_MS)
        # (a start that took a's place is stored in the commit of a's end)
        running = [i for i in rest if status_of(real_tracker, i) is JobStatus.RUNNING]
        assert running == [], "a job started although the limit (1) was reached"
    finally:
        for gate in gates.values():
            gate.touch()
    qtbot.waitUntil(lambda: all(finished(real_tracker, i) for i in [b.id, *rest]), timeout=WAIT_MS)


@pytest.mark.parametrize("queued", [4, 12])
def test_a_higher_limit_starts_more_at_once_also_those_handed_over(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
    queued: int,
) -> None:
    """Raising the limit (Settings ▸ Jobs at once, 2 -> 4) while jobs wait starts more of
    them at once, in queue order, whether they were handed over to the service or not
    (they waited there for a program to end: 2 kept running at a time)."""
    gate = tmp_path / "gate"
    wait = ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.01; done"]
    runner = make_runner(tracker=real_tracker, max_workers=2)
    ids = [real_tracker.enqueue("command", {"argv": wait}).id for _ in range(2 + queued)]

    def running() -> list[str]:
        return [i for i in ids if status_of(real_tracker, i) is JobStatus.RUNNING]

    try:
        qtbot.waitUntil(lambda: handed_over(runner, ids[2]), timeout=WAIT_MS)
        runner.max_workers = 4
        qtbot.waitUntil(lambda: len(running()) == 4, timeout=WAIT_MS)
        assert running() == ids[:4]  # (in queue order)
    finally:
        gate.touch()
    qtbot.waitUntil(lambda: all(finished(real_tracker, i) for i in ids), timeout=WAIT_MS)


def most_at_once(tracker: JobTracker, ids: list[str]) -> int:
    """The most jobs of ``ids`` running at once by their stored start and end times (as
    Statistics ▸ Most at once counts them)."""
    points: list[tuple[float, int]] = []
    for job_id in ids:
        job = tracker.get_job(job_id)
        assert job is not None and job.started_ts is not None and job.completed_ts is not None
        points += [(job.started_ts, 1), (job.completed_ts, -1)]
    running = most = 0
    for _, step in sorted(points):  # (an end and a start at the same time: the end first)
        running += step
        most = max(most, running)
    return most


def test_the_stored_times_of_a_queue_never_show_more_running_than_the_limit(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
) -> None:
    """A job the service started in an ended program's place starts, in the store, after
    that program's end: Statistics ▸ Most at once showed 6 running for a limit of 3 (each
    end was stored when the app recorded it, after the start that took its place)."""
    make_runner(tracker=real_tracker, max_workers=2)
    ids = [
        real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", "sleep 0.2"]}).id
        for _ in range(10)
    ]
    qtbot.waitUntil(lambda: all(finished(real_tracker, i) for i in ids), timeout=WAIT_MS)
    assert all(status_of(real_tracker, i) is JobStatus.COMPLETED for i in ids)
    assert most_at_once(real_tracker, ids) <= 2


def test_a_program_that_ends_while_the_next_jobs_are_handed_over_keeps_the_queue_order(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A short program that ends while the jobs after it are being handed over (taken
    from the queue, not yet queued in the service): the next job by priority starts next.
    The end found none handed over to start, and started the first job still in the
    queue, which comes after those (a job of priority 1 overtook three of priority 2)."""
    from jobdeck.runtime.executors.processes import ProcessExecutor

    queue_program = ProcessExecutor._queue_program
    ended = threading.Event()

    def slow_queue_program(self: ProcessExecutor, job: Any, prepared: Any) -> None:
        ended.wait(1)  # (the first program, `true`, ends meanwhile, unless it waits)
        queue_program(self, job, prepared)

    monkeypatch.setattr(ProcessExecutor, "_queue_program", slow_queue_program)
    events: list[str] = []
    real_tracker.subscribe(
        lambda e: events.append(e.job.id) if e.kind is EventKind.STARTED else None
    )
    real_tracker.subscribe(lambda e: ended.set() if e.kind is EventKind.COMPLETED else None)
    jobs = [real_tracker.enqueue("command", {"argv": ["true"]}, priority=i % 3) for i in range(8)]
    make_runner(tracker=real_tracker, max_workers=1)
    qtbot.waitUntil(lambda: all(finished(real_tracker, j.id) for j in jobs), timeout=WAIT_MS)
    assert events == [j.id for j in sorted(jobs, key=lambda j: (-j.priority, j.id))]


def test_a_log_path_the_service_could_not_write_fails_the_start_saying_why(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """The log file is made with the program's first output, but what would stop that (a
    link or a folder in its place, a log folder that is not there) still fails the start
    at once, saying why, and the program does not run."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    (tmp_path / "linked.log").symlink_to(target)
    (tmp_path / "folder.log").mkdir()
    ran = tmp_path / "ran"
    app = RawApp(records.client.socket_path)
    for job_id, log_path in (
        ("linked", tmp_path / "linked.log"),
        ("folder", tmp_path / "folder.log"),
        ("nowhere", tmp_path / "missing" / "nowhere.log"),
    ):
        record = spec(tmp_path, job_id, "/bin/sh", "-c", f"echo ran >> {ran}")
        record["log_path"] = os.fspath(log_path)
        app.send(op="spawn", record=record)
        failed = app.hear("start_failed", job_id)
        assert failed["error"].startswith("cannot open log file:"), failed
        assert os.fspath(log_path.parent if job_id == "nowhere" else log_path) in failed["error"]
    app.sock.close()
    assert not ran.exists() and target.read_text() == ""


def test_cancel_all_in_the_tray_starts_none_of_the_jobs_handed_over(
    qtbot: Any,
    real_tracker: JobTracker,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    """Found driving the app: the tray's "Cancel all" cancelled the running jobs first; a
    queued job already handed over to the service started in the slot each one freed
    (here it would leave a file), before its own cancel came. Cancelled together, the
    queued ones go first (``queued_first``; the API's cancel of many does the same)."""
    from jobdeck.runtime import JobSignals
    from jobdeck.ui.tray import TrayController

    running = [real_tracker.enqueue("command", {"argv": ["sleep", "30"]}) for _ in range(2)]
    marks = [tmp_path / f"started{i}" for i in range(3)]
    queued = [
        real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", f"touch '{m}'; sleep 30"]})
        for m in marks
    ]
    runner = make_runner(tracker=real_tracker, max_workers=2)

    def all_set() -> bool:  # (the two run their programs; the three wait in the service)
        started = [real_tracker.get_job(j.id) for j in running]
        return all(job is not None and job.pid for job in started) and all(
            handed_over(runner, j.id) for j in queued
        )

    qtbot.waitUntil(all_set, timeout=WAIT_MS)
    signals = JobSignals(real_tracker)
    tray = TrayController(real_tracker, signals, confirm_cancel_all=lambda jobs: True)
    qtbot.addWidget(tray.menu)
    qtbot.waitUntil(lambda: len(signals.active_jobs()) == 5, timeout=WAIT_MS)
    tray.cancel_all_action.trigger()
    tray.dispose()
    everything = running + queued
    qtbot.waitUntil(lambda: all(finished(real_tracker, j.id) for j in everything), timeout=WAIT_MS)
    assert [status_of(real_tracker, j.id) for j in everything] == [JobStatus.CANCELLED] * 5
    assert [m.exists() for m in marks] == [False] * 3
