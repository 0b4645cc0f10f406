"""Tests for jobdeck.runtime.channel: a real ChannelServer and real Unix-socket clients."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobdeck.runtime.channel import (
    SOCKET_NAME,
    ChannelError,
    ChannelServer,
    default_channel_dir,
    secure_directory,
)
from jobdeck.runtime.protocol import (
    ENV_CHANNEL,
    ENV_JOB_ID,
    ENV_TOKEN,
    MAX_LINE_BYTES,
    MESSAGE_TYPES,
    CancelMsg,
    Hello,
    LogMsg,
    ProgressMsg,
)

from .channel_helpers import Client, Recorder, running_server, short_tempdir, wait_until


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


def connect(server: ChannelServer, clients: list[Client]) -> Client:
    client = Client(server.path)
    clients.append(client)
    return client


def authed(server: ChannelServer, clients: list[Client], rec: Recorder, job_id: str) -> Client:
    """A client that has said hello as ``job_id`` and been accepted."""
    env = server.register(job_id)
    client = connect(server, clients)
    client.hello(job_id, env[ENV_TOKEN])
    wait_until(lambda: server.connected(job_id))
    return client


# ---------------------------------------------------------------------------- registration


def test_register_gives_the_environment_for_the_process(server: ChannelServer) -> None:
    env = server.register("job-1")
    assert env[ENV_CHANNEL] == str(server.path)
    assert env[ENV_JOB_ID] == "job-1"
    assert len(env[ENV_TOKEN]) >= 32
    assert server.register("job-2")[ENV_TOKEN] != env[ENV_TOKEN]
    assert server.register("job-3", token="kept-from-the-store")[ENV_TOKEN] == "kept-from-the-store"


@pytest.mark.parametrize(
    ("job_id", "token", "match"),
    [("", None, "job_id"), (7, None, "job_id"), ("job", "", "token"), ("job", 5, "token")],
)
def test_register_refuses_bad_arguments(
    server: ChannelServer, job_id: object, token: object, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        server.register(job_id, token=token)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- delivery


def test_messages_after_hello_are_delivered_in_order(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    client = authed(server, clients, rec, "job-1")
    client.send(type="started", jobId="job-1")
    for i in range(50):
        client.send(type="progress", jobId="job-1", current=i, total=50)
    client.send(type="log", jobId="job-1", level="info", message="hello")
    client.send(type="completed", jobId="job-1", result={"n": 50})
    rec.wait_for(lambda: "completed" in rec.types("job-1"))
    messages = rec.of("job-1")
    assert isinstance(messages[0], Hello)
    assert rec.types("job-1")[1:] == ["started"] + ["progress"] * 50 + ["log", "completed"]
    assert [m.current for m in messages if isinstance(m, ProgressMsg)] == list(range(50))
    assert rec.warnings == []


@pytest.mark.expected_log("on_message callback failed")
def test_a_raising_callback_does_not_stop_the_server(
    runtime_dir: Path, rec: Recorder, clients: list[Client]
) -> None:
    def explode(job_id: str, msg: object) -> None:
        rec.on_message(job_id, msg)  # type: ignore[arg-type]
        raise RuntimeError("subscriber bug")

    with ChannelServer(explode, rec.on_warning, directory=runtime_dir) as server:
        client = authed(server, clients, rec, "job-1")
        client.send(type="heartbeat", jobId="job-1")
        rec.wait_for(lambda: rec.types("job-1") == ["hello", "heartbeat"])


# ---------------------------------------------------------------------------- authentication


def test_wrong_token_is_refused_and_closed(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    server.register("job-1")
    client = connect(server, clients)
    client.hello("job-1", "not-the-token")
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed already
        client.send(type="started", jobId="job-1")
    assert client.wait_closed()
    assert rec.wait_for_warning("refused") == (
        "job-1",
        "refused connection: wrong token for job job-1",
    )
    assert rec.messages == []
    assert not server.connected("job-1")


def test_another_jobs_token_is_refused(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    server.register("job-1")
    other = server.register("job-2")
    client = connect(server, clients)
    client.hello("job-1", other[ENV_TOKEN])
    assert client.wait_closed()
    assert rec.wait_for_warning("wrong token")[0] == "job-1"
    assert rec.messages == []


def test_unknown_job_is_refused(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    client = connect(server, clients)
    client.hello("nobody", "whatever")
    assert client.wait_closed()
    assert rec.wait_for_warning("refused") == (None, "refused connection: unknown job nobody")


@pytest.mark.parametrize(
    "first",
    [
        b'{"type":"started","jobId":"job-1","timestamp":1}\n',
        b"not json at all\n",
        b'{"type":"hello","jobId":"job-1","timestamp":1}\n',  # no token
    ],
)
def test_anything_but_a_valid_hello_first_is_refused(
    server: ChannelServer, rec: Recorder, clients: list[Client], first: bytes
) -> None:
    server.register("job-1")
    client = connect(server, clients)
    client.send_raw(first)
    assert client.wait_closed()
    job_id, _ = rec.wait_for_warning("refused connection")
    assert job_id is None
    assert rec.messages == []


def test_a_message_for_another_job_closes_the_connection(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    client = authed(server, clients, rec, "job-1")
    server.register("job-2")
    client.send(type="progress", jobId="job-2", percent=50)
    assert client.wait_closed()
    assert rec.wait_for_warning("job-2") == (
        "job-1",
        "refused connection: job job-1 sent a message for job job-2",
    )
    assert rec.of("job-2") == []
    assert rec.types("job-1") == ["hello"]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (b"{not json\n", "not valid JSON"),
        (b"[1, 2]\n", "must be a JSON object"),
        (b'{"type":"teleport","jobId":"job-1","timestamp":1}\n', "unknown message type"),
        (b'{"type":"progress","jobId":"job-1","timestamp":1,"percent":"half"}\n', "percent"),
        (b'{"type":"progress","jobId":"job-1","timestamp":1,"percent":true}\n', "percent"),
        (b'{"type":"log","jobId":"job-1","timestamp":1,"level":"loud","message":"x"}\n', "level"),
        (b'{"type":"failed","jobId":"job-1","timestamp":1}\n', "failed.error is required"),
        (b'{"type":"heartbeat","jobId":"job-1","timestamp":NaN}\n', "NaN"),
        (b'{"type":"heartbeat","jobId":"job-1","timestamp":-1}\n', "timestamp"),
        (b"\xff\xfe\n", "UTF-8"),
        (b'{"type":"cancel","jobId":"job-1","timestamp":1}\n', "cancel is sent by Jobdeck"),
        (b'{"type":"hello","jobId":"job-1","timestamp":1,"token":"t"}\n', "hello sent again"),
    ],
)
def test_bad_messages_are_dropped_with_a_warning_and_the_connection_stays(
    server: ChannelServer, rec: Recorder, clients: list[Client], line: bytes, match: str
) -> None:
    client = authed(server, clients, rec, "job-1")
    client.send_raw(line)
    client.send(type="progress", jobId="job-1", percent=42)
    progress = rec.wait_for_type("job-1", "progress")
    assert isinstance(progress, ProgressMsg) and progress.current == 42
    assert len(rec.warnings) == 1
    job_id, text = rec.warnings[0]
    assert job_id == "job-1"
    assert match in text
    assert text.startswith("dropped a channel message: ")
    assert server.connected("job-1")


def test_a_line_over_one_mebibyte_is_dropped_and_the_next_one_arrives(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    client = authed(server, clients, rec, "job-1")
    huge = json.dumps(
        {
            "type": "log",
            "jobId": "job-1",
            "timestamp": 1,
            "level": "info",
            "message": "x" * MAX_LINE_BYTES,
        }
    ).encode()
    sender = threading.Thread(target=client.send_raw, args=(huge + b"\n",))
    sender.start()  # the server reads while we write, so a full socket buffer cannot block
    sender.join(TIMEOUT := 10.0)
    client.send(type="log", jobId="job-1", level="info", message="after")
    log = rec.wait_for_type("job-1", "log", timeout=TIMEOUT)
    assert isinstance(log, LogMsg) and log.message == "after"
    assert [j for j, _ in rec.warnings] == ["job-1"]
    assert "longer than" in rec.warnings[0][1]


def test_warnings_from_one_connection_are_capped(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    from jobdeck.runtime.channel import MAX_WARNINGS_PER_CONNECTION as cap

    client = authed(server, clients, rec, "job-1")
    client.send_raw(b"garbage\n" * (cap + 50))
    client.send(type="heartbeat", jobId="job-1")
    rec.wait_for_type("job-1", "heartbeat")
    assert len(rec.warnings) == cap
    assert "further ones dropped silently" in rec.warnings[-1][1]


# ---------------------------------------------------------------------------- app -> job


def test_cancel_is_delivered_to_the_job(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    client = authed(server, clients, rec, "job-1")
    assert server.send_cancel("job-1", reason="user pressed cancel")
    msg = client.read_message()
    assert isinstance(msg, CancelMsg)
    assert (msg.job_id, msg.reason) == ("job-1", "user pressed cancel")
    assert server.send_cancel("job-1")
    msg = client.read_message()
    assert isinstance(msg, CancelMsg) and msg.reason is None


def test_cancel_without_a_live_connection_returns_false(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    server.register("job-1")
    assert not server.send_cancel("job-1")
    assert not server.send_cancel("never-registered")
    client = authed(server, clients, rec, "job-2")
    client.close()
    wait_until(lambda: not server.connected("job-2"))
    assert not server.send_cancel("job-2")


def test_connected_follows_the_connection(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    env = server.register("job-1")
    assert not server.connected("job-1")
    client = connect(server, clients)
    assert not server.connected("job-1")  # not before hello
    client.hello("job-1", env[ENV_TOKEN])
    wait_until(lambda: server.connected("job-1"))
    client.close()
    wait_until(lambda: not server.connected("job-1"))


def test_unregister_closes_connections_and_refuses_the_token(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    env = server.register("job-1")
    client = connect(server, clients)
    client.hello("job-1", env[ENV_TOKEN])
    wait_until(lambda: server.connected("job-1"))
    server.unregister("job-1")
    assert client.wait_closed()
    again = connect(server, clients)
    again.hello("job-1", env[ENV_TOKEN])
    assert again.wait_closed()
    assert rec.wait_for_warning("unknown job job-1")[0] is None


# ---------------------------------------------------------------------------- reconnect


def test_a_job_can_reconnect_with_the_same_token(
    server: ChannelServer, rec: Recorder, clients: list[Client]
) -> None:
    env = server.register("job-1")
    first = connect(server, clients)
    first.hello("job-1", env[ENV_TOKEN])
    first.send(type="progress", jobId="job-1", percent=10)
    rec.wait_for(lambda: "progress" in rec.types("job-1"))
    first.close()
    second = connect(server, clients)
    second.hello("job-1", env[ENV_TOKEN])
    second.send(type="progress", jobId="job-1", percent=20)
    rec.wait_for(lambda: rec.types("job-1") == ["hello", "progress", "hello", "progress"])
    assert server.send_cancel("job-1")
    assert isinstance(second.read_message(), CancelMsg)


def test_a_job_reconnects_to_the_next_app_with_its_stored_token(
    runtime_dir: Path, rec: Recorder, clients: list[Client]
) -> None:
    with running_server(runtime_dir, rec) as first_app:
        env = first_app.register("job-1")
        client = connect(first_app, clients)
        client.hello("job-1", env[ENV_TOKEN])
        wait_until(lambda: first_app.connected("job-1"))
    assert client.wait_closed()  # the app quit
    assert not (runtime_dir / SOCKET_NAME).exists()

    with running_server(runtime_dir, rec) as second_app:
        assert second_app.register("job-1", token=env[ENV_TOKEN]) == env
        client = connect(second_app, clients)
        client.hello("job-1", env[ENV_TOKEN])
        client.send(type="completed", jobId="job-1")
        rec.wait_for(lambda: rec.types("job-1") == ["hello", "hello", "completed"])


def test_a_stale_socket_file_from_a_crashed_app_is_replaced(
    runtime_dir: Path, rec: Recorder, clients: list[Client]
) -> None:
    secure_directory(runtime_dir)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(runtime_dir / SOCKET_NAME))
    stale.close()  # the file stays, nobody listens: as after a crash
    with running_server(runtime_dir, rec) as server:
        authed(server, clients, rec, "job-1")


def test_a_second_live_server_on_the_same_path_is_refused(
    server: ChannelServer, rec: Recorder
) -> None:
    other = ChannelServer(rec.on_message, rec.on_warning, directory=server.directory)
    with pytest.raises(ChannelError, match="already serving"):
        other.start()
    other.close()
    assert server.path.exists()


def test_close_removes_the_socket_and_is_idempotent(runtime_dir: Path, rec: Recorder) -> None:
    server = ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir)
    server.start()
    assert stat.S_ISSOCK(os.lstat(server.path).st_mode)
    server.close()
    server.close()
    assert not server.path.exists()


def test_a_socket_path_too_long_is_refused(rec: Recorder) -> None:
    server = ChannelServer(rec.on_message, rec.on_warning, directory=Path("/tmp") / ("d" * 120))
    with pytest.raises(ChannelError, match="longer than 107 bytes"):
        server.start()


# ---------------------------------------------------------------------------- the directory


def test_default_directory_is_in_the_user_runtime_dir() -> None:
    path = default_channel_dir()
    assert path.name == "jobdeck"
    assert str(os.getuid()) in str(path) or "XDG_RUNTIME_DIR" in os.environ


def test_the_socket_directory_is_private(server: ChannelServer) -> None:
    mode = stat.S_IMODE(os.stat(server.directory).st_mode)
    assert mode == 0o700
    assert mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH) == 0
    assert os.stat(server.directory).st_uid == os.getuid()
    assert stat.S_IMODE(os.stat(server.path).st_mode) & 0o077 == 0


def test_a_too_open_existing_directory_is_narrowed(runtime_dir: Path, rec: Recorder) -> None:
    runtime_dir.mkdir(mode=0o755)
    os.chmod(runtime_dir, 0o777)
    with running_server(runtime_dir, rec):
        assert stat.S_IMODE(os.stat(runtime_dir).st_mode) == 0o700


def test_a_symlinked_directory_is_refused(runtime_dir: Path, rec: Recorder) -> None:
    target = runtime_dir.parent / "elsewhere"
    target.mkdir(mode=0o700)
    runtime_dir.symlink_to(target)
    with pytest.raises(ChannelError, match="symbolic link"):
        ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir).start()


def test_a_file_in_place_of_the_directory_is_refused(runtime_dir: Path, rec: Recorder) -> None:
    runtime_dir.write_text("")
    with pytest.raises(ChannelError, match="not a directory"):
        ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir).start()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand a directory to another user")
def test_a_directory_owned_by_another_user_is_refused(runtime_dir: Path, rec: Recorder) -> None:
    runtime_dir.mkdir(mode=0o700)
    os.chown(runtime_dir, 12345, 12345)
    with pytest.raises(ChannelError, match="belongs to user id 12345"):
        ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir).start()


def test_a_file_in_place_of_the_socket_is_refused(runtime_dir: Path, rec: Recorder) -> None:
    secure_directory(runtime_dir)
    (runtime_dir / SOCKET_NAME).write_text("")
    with pytest.raises(ChannelError, match="not a socket"):
        ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir).start()


# ---------------------------------------------------------------------------- concurrency


def test_many_jobs_report_concurrently_each_in_order(server: ChannelServer, rec: Recorder) -> None:
    jobs = [f"job-{n}" for n in range(8)]
    tokens = {job: server.register(job)[ENV_TOKEN] for job in jobs}
    count = 200
    failures: list[BaseException] = []

    def report(job: str) -> None:
        try:
            client = Client(server.path)
            client.hello(job, tokens[job])
            lines = b"".join(
                json.dumps(
                    {"type": "progress", "jobId": job, "timestamp": 1, "current": i, "total": count}
                ).encode()
                + b"\n"
                for i in range(count)
            )
            for start in range(0, len(lines), 997):  # odd chunks split lines mid-way
                client.send_raw(lines[start : start + 997])
            client.close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=report, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_JOIN := 10.0)
    assert failures == []
    rec.wait_for(lambda: all(len(rec.of(job)) == count + 1 for job in jobs), timeout=TIMEOUT_JOIN)
    for job in jobs:
        progress = [m.current for m in rec.of(job) if isinstance(m, ProgressMsg)]
        assert progress == list(range(count))
    assert rec.warnings == []


# ---------------------------------------------------------------------------- fuzzing

_junk_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
_near_messages = st.fixed_dictionaries(
    {"type": st.sampled_from([t for t in MESSAGE_TYPES if t not in ("hello", "cancel")])},
    optional={
        "jobId": st.just("fuzz-job"),
        "timestamp": _junk_json,
        "percent": _junk_json,
        "current": _junk_json,
        "total": _junk_json,
        "level": st.sampled_from(["info", "loud"]) | _junk_json,
        "message": _junk_json,
        "error": _junk_json,
        "data": _junk_json,
    },
).map(lambda obj: json.dumps(obj).encode())
_garbage_line = (
    st.binary(max_size=200) | _junk_json.map(lambda v: json.dumps(v).encode()) | (_near_messages)
)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ChannelServer, Recorder]]:
    recorder = Recorder()
    with short_tempdir() as base, running_server(base / "jobdeck", recorder) as srv:
        yield srv, recorder


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.lists(_garbage_line, max_size=8), marker=st.uuids())
def test_garbage_never_breaks_the_server_and_later_messages_arrive(
    fuzz_server: tuple[ChannelServer, Recorder], garbage: list[bytes], marker: object
) -> None:
    server, rec = fuzz_server
    token = server.register("fuzz-job")[ENV_TOKEN]
    client = Client(server.path)
    try:
        client.hello("fuzz-job", token)
        client.send_raw(b"\n".join(garbage) + b"\n")
        client.send(type="log", jobId="fuzz-job", level="info", message=str(marker))
        rec.wait_for(
            lambda: any(
                isinstance(m, LogMsg) and m.message == str(marker) for m in rec.of("fuzz-job")
            )
        )
    finally:
        client.close()
    assert all(job == "fuzz-job" for job, _ in rec.warnings)
