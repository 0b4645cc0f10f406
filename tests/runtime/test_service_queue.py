"""Issue 15, item 5: the supervisor service starts the programs an app queued as its programs end.

An app hands over the programs that start next (``queue``); the moment one of its
programs ends, the service starts the first of them itself, in the same write as that end,
and writes its record at once (the app's store still says queued: the next app must find
it). ``withdraw`` takes a queued one back and says whether it had started already; an app
that goes takes its queued programs with it (they never start).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.runtime.supervisor import read_record
from jobdeck.runtime.supervisor_records import SupervisorRecords

TIMEOUT = 30.0


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
    app.send(op="spawn", record=spec(tmp_path, "a", "/bin/sh", "-c", "echo a"))
    app.send(op="queue", record=spec(tmp_path, "b", "/bin/sh", "-c", "echo b", attempt=1))
    app.send(op="queue", record=spec(tmp_path, "c", "/bin/sh", "-c", "exit 3"))
    # b's start came with a's end (it took a's place)
    started_b = app.hear("ended", "a")["then"][0]
    assert started_b["op"] == "started" and started_b["job_id"] == "b"
    assert started_b["queued"] is True and isinstance(started_b["pid"], int)
    assert app.hear("ended", "c")["record"]["exit_code"] == 3
    assert app.hear("ended", "b")["record"]["exit_code"] == 0
    assert (tmp_path / "b.log").read_text() == "b\n"
    # b's and c's records were written when they started (their app had not stored that)
    record = read_record(records.directory / "b.json")
    assert record.extra == {"attempt": 1, "queued": True} and record.exit_code == 0
    assert read_record(records.directory / "c.json").extra["queued"] is True
    assert not (records.directory / "a.json").exists()  # asked for: its app knows it runs
    # nothing more is queued: the next end starts nothing
    app.send(op="spawn", record=spec(tmp_path, "d", "true"))
    assert "then" not in app.hear("ended", "d")


def test_a_queued_program_that_cannot_start_is_answered_and_the_next_one_starts(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    app = RawApp(records.client.socket_path)
    app.send(op="spawn", record=spec(tmp_path, "a", "true"))
    app.send(op="queue", record=spec(tmp_path, "bad", os.fspath(tmp_path / "missing")))
    app.send(op="queue", record=spec(tmp_path, "good", "true"))
    failed, started = app.hear("ended", "a")["then"]
    assert failed["op"] == "start_failed" and failed["job_id"] == "bad"
    assert failed["queued"] is True and "executable not found" in failed["error"]
    assert started["op"] == "started" and started["job_id"] == "good"
    assert app.hear("ended", "good")["record"]["exit_code"] == 0


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
