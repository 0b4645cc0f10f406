"""Issue 15, item 5: a program's environment goes to the supervisor service once per connection.

Each program still runs with its whole environment (the app's, with its job's variables
over it and without those its job leaves out), but the app sends that environment once
per connection to the service (``env``) and each request gives only what differs from it:
a queue of short jobs does not encode and decode kilobytes of the same variables per job.
A request naming an environment its connection never sent fails to start, saying why; a
service that does not say it takes environments so (an older one) gets them whole.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.supervisor_client import ENV_REBASE_AT, SupervisorClient
from jobdeck.runtime.supervisor_records import SupervisorRecords

from .conftest import finished
from .test_service_queue import RawApp

TIMEOUT = 30.0
WAIT_MS = 30_000
#: A variable too big to miss in what the app sends (a desktop's environment is 2-10 KB).
BIG = "x" * 4000
SHOW = 'echo "$SHARED|$OWN|${GONE-unset}|${#BIG}"'


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SupervisorRecords]:
    records = SupervisorRecords(tmp_path / "supervised")
    records.client.connect()
    yield records
    records.close()


def sent_by(client: SupervisorClient, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What ``client`` writes to the service from now on, write by write."""
    writes: list[bytes] = []
    sendall = socket.socket.sendall

    def counted(sock: socket.socket, data: Any, *args: Any) -> None:
        if sock is client._sock:
            writes.append(bytes(data))
        sendall(sock, data, *args)

    monkeypatch.setattr(socket.socket, "sendall", counted)
    return writes


def start_and_wait(
    client: SupervisorClient, tmp_path: Path, job_id: str, env: dict[str, str]
) -> dict[str, Any]:
    """Start ``sh -c SHOW`` under ``env``; the record of its end."""
    ended: list[dict[str, Any]] = []
    done = threading.Event()

    def on_news(record: dict[str, Any] | None) -> None:
        if record is not None and record.get("state") == "exited":
            ended.append(record)
            done.set()

    client.watch(job_id, on_news)
    record = {
        "job_id": job_id,
        "argv": ["/bin/sh", "-c", SHOW],
        "log_path": os.fspath(tmp_path / f"{job_id}.log"),
        "env": env,
    }
    client.spawn(record, lambda reply: None)
    assert done.wait(TIMEOUT), f"{job_id} did not end"
    client.unwatch(job_id)
    return ended[0]


def test_each_program_gets_its_whole_environment_which_is_sent_once(
    tmp_path: Path, records: SupervisorRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = records.client
    writes = sent_by(client, monkeypatch)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SHARED": "s", "BIG": BIG}
    envs = [
        {**base, "OWN": "first", "GONE": "here"},
        {**base, "OWN": "second", "GONE": "here"},
        {k: v for k, v in base.items() if k != "SHARED"} | {"OWN": "third"},  # one left out
        {**base, "OWN": "fourth", "GONE": "back"},
    ]
    for i, env in enumerate(envs):
        assert start_and_wait(client, tmp_path, f"job{i}", env)["exit_code"] == 0
    logs = [(tmp_path / f"job{i}.log").read_text() for i in range(len(envs))]
    assert logs == [
        f"s|first|here|{len(BIG)}\n",
        f"s|second|here|{len(BIG)}\n",
        f"|third|unset|{len(BIG)}\n",
        f"s|fourth|back|{len(BIG)}\n",
    ]
    sent = b"".join(writes)
    assert sent.count(BIG.encode()) == 1, "the environment went more than once"


def test_an_environment_far_from_the_one_sent_is_sent_whole_once_more(
    tmp_path: Path, records: SupervisorRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = records.client
    writes = sent_by(client, monkeypatch)
    first = {"BIG": BIG, "OWN": "a"}
    other = {"BIG": BIG, "OWN": "b"} | {f"NEW{i}": str(i) for i in range(ENV_REBASE_AT + 1)}
    for job_id, env in (("a", first), ("b", other), ("c", {**other, "OWN": "c"})):
        assert start_and_wait(client, tmp_path, job_id, env)["exit_code"] == 0
    assert (tmp_path / "b.log").read_text() == f"|b|unset|{len(BIG)}\n"
    assert (tmp_path / "c.log").read_text() == f"|c|unset|{len(BIG)}\n"
    sent = b"".join(writes)
    assert sent.count(BIG.encode()) == 2  # a's, then b's (which c's request differs from)


def test_a_request_naming_an_environment_never_sent_fails_to_start_saying_why(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    app = RawApp(records.client.socket_path)
    assert "env_base" in app.hear("hello")["features"]
    log = os.fspath(tmp_path / "x.log")
    spec = {"job_id": "x", "argv": ["true"], "log_path": log, "env": {}, "env_base": 7}
    app.send(op="spawn", record=spec)
    answer = app.hear("start_failed", "x")
    assert answer["error"] == (
        "bad request: it names environment 7, which this connection did not send"
    )
    assert not (tmp_path / "x.log").exists()
    # another connection's environment is not this one's either
    other = RawApp(records.client.socket_path)
    other.send(op="env", number=7, env={"PATH": "/usr/bin:/bin"})
    app.send(op="spawn", record={**spec, "job_id": "y"})
    assert app.hear("start_failed", "y")["error"].startswith("bad request:")


def test_a_service_that_does_not_take_environments_so_gets_each_whole(
    tmp_path: Path,
) -> None:
    """An older service (its hello names no features) still runs: the app sends it each
    program's whole environment, as before."""
    path = tmp_path / "old.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(os.fspath(path))
    server.listen(1)
    asked: list[dict[str, Any]] = []
    heard_two = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b'{"op": "hello", "pid": 1, "start_time": 2.0}\n')
            buffer = b""
            while len(asked) < 2 and (chunk := conn.recv(1 << 16)):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                asked.extend(json.loads(line) for line in lines)
            heard_two.set()
            conn.recv(1)  # until the client lets go

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = SupervisorClient(tmp_path, socket_path=path)
    try:
        for job_id in ("a", "b"):
            env = {"BIG": BIG, "OWN": job_id}
            client.spawn({"job_id": job_id, "env": env}, lambda reply: None)
        assert heard_two.wait(TIMEOUT)
        assert [m["op"] for m in asked] == ["spawn", "spawn"]
        assert [m["record"]["env"] for m in asked] == [
            {"BIG": BIG, "OWN": "a"},
            {"BIG": BIG, "OWN": "b"},
        ]
        assert all("env_base" not in m["record"] for m in asked)
    finally:
        heard_two.set()
        client.close()
        thread.join(TIMEOUT)
        server.close()


def test_queued_command_jobs_each_see_their_own_variables(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    """Through the app: command jobs handed over to the service ahead of time each run
    with their own job id and variables, over the app's environment."""
    runner = make_runner(tracker=real_tracker, max_workers=2)
    show = 'echo "$JOBDECK_JOB_ID|$MINE|${HOME:+home}"'
    jobs = [
        real_tracker.enqueue("command", {"argv": ["/bin/sh", "-c", show], "env": {"MINE": f"m{i}"}})
        for i in range(12)
    ]
    qtbot.waitUntil(lambda: all(finished(real_tracker, j.id) for j in jobs), timeout=WAIT_MS)
    for i, queued in enumerate(jobs):
        job = real_tracker.get_job(queued.id)
        assert job is not None and job.status is JobStatus.COMPLETED, job
        assert job.log_path is not None
        home = "home" if os.environ.get("HOME") else ""
        assert Path(job.log_path).read_text() == f"{job.id}|m{i}|{home}\n"
    assert runner.shutdown(timeout=10)


def test_a_request_that_is_not_json_fails_to_start_and_the_next_ones_still_run(
    tmp_path: Path, records: SupervisorRecords
) -> None:
    """Asked for while the reader thread handles an end (as the app hands over the next
    programs): the one whose request cannot be encoded fails to start, saying why; the
    reader goes on, and the next program gets its whole environment (the one the failed
    request would have sent instead was never taken for sent)."""
    client = records.client
    answers: dict[str, dict[str, Any]] = {}
    ended = threading.Event()
    env = {"BIG": BIG, "SHARED": "s"}

    def request(job_id: str, **fields: Any) -> dict[str, Any]:
        log = os.fspath(tmp_path / f"{job_id}.log")
        return {"job_id": job_id, "argv": ["/bin/sh", "-c", SHOW], "log_path": log} | fields

    def on_reply(reply: dict[str, Any]) -> None:
        answers[reply["job_id"]] = reply

    def after_first(record: dict[str, Any] | None) -> None:  # (the reader thread)
        if record is None or "bad" in answers:
            return
        far = {f"NEW{i}": str(i) for i in range(ENV_REBASE_AT + 1)}
        client.spawn(request("bad", env={**env, **far}, extra={"not": {"json"}}), on_reply)
        client.spawn(request("next", env={**env, "OWN": "n"}), on_reply)

    def on_next(record: dict[str, Any] | None) -> None:
        if record is not None and record.get("state") == "exited":
            ended.set()

    client.watch("first", after_first)
    client.watch("next", on_next)
    client.spawn(request("first", env=env), on_reply)
    assert ended.wait(TIMEOUT), answers
    assert answers["bad"]["op"] == "start_failed"
    assert answers["bad"]["error"].startswith("its request could not be encoded:")
    assert (tmp_path / "next.log").read_text() == f"s|n|unset|{len(BIG)}\n"
    assert client.connected and client._reader is not None and client._reader.is_alive()
