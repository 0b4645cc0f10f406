"""Issue 9, item 9: the channel cannot be exhausted by connections.

A connection must say hello within a few seconds; connections waiting for their hello, per
job and in total are capped; refusals are logged at a bounded rate; a flood of idle
connections costs no CPU and does not keep a real job from connecting; running out of file
descriptors does not make the server spin.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.protocol import ENV_TOKEN
from tests.runtime.channel_helpers import Client, Recorder, wait_until

IDLE_CONNECTIONS = 1100


class ThreadCpu:
    """CPU time of the server's thread, read from /proc through a descriptor opened up
    front (so it can be read while the process has no descriptor left)."""

    def __init__(self, server: ChannelServer) -> None:
        tid = server.native_thread_id
        assert tid is not None, "the channel thread is not running"
        self._fd = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
        self._tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        stat = os.pread(self._fd, 4096, 0)
        fields = stat[stat.rindex(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def while_idle(self, seconds: float = 1.5) -> float:
        before = self.seconds()
        threading.Event().wait(seconds)  # measuring what happens while nothing is done
        return self.seconds() - before

    def close(self) -> None:
        os.close(self._fd)


@contextlib.contextmanager
def file_limit_at_least(count: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.skip(f"the hard limit of open files ({hard}) is below {count}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def idle_clients() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def open_idle(path: Path, count: int, into: list[socket.socket]) -> None:
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        into.append(sock)
        sock.connect(str(path))  # blocking: waits while the backlog is full


def test_a_connection_that_never_says_hello_is_closed(runtime_dir: Path, rec: Recorder) -> None:
    server = ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir, hello_timeout=0.3)
    with server:
        client = Client(server.path)
        try:
            assert client.wait_closed()  # within the client's 5 s timeout
        finally:
            client.close()
        rec.wait_for_warning("did not say hello within 0.3 s")
        wait_until(lambda: server.connection_count() == 0)


def test_idle_connections_cost_no_cpu_are_capped_and_a_job_still_connects(
    runtime_dir: Path, rec: Recorder, idle_clients: list[socket.socket]
) -> None:
    with (
        file_limit_at_least(4 * IDLE_CONNECTIONS),
        ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir) as server,
    ):
        open_idle(server.path, IDLE_CONNECTIONS, idle_clients)
        wait_until(lambda: server.connection_count() <= 64, timeout=10)
        cpu = ThreadCpu(server)
        try:
            assert cpu.while_idle() < 0.2
        finally:
            cpu.close()
        # The excess was closed, the warnings about it are few lines, not megabytes.
        assert len(rec.warnings) <= 5, rec.warnings
        assert all(job_id is None for job_id, _ in rec.warnings)
        # A real job connects at once despite the crowd of silent ones.
        token = server.register("job-1")[ENV_TOKEN]
        job = Client(server.path)
        try:
            job.hello("job-1", token)
            job.send(type="completed", jobId="job-1", result={"ok": True})
            rec.wait_for(lambda: rec.types("job-1") == ["hello", "completed"])
        finally:
            job.close()


def _heard(rec: Recorder, types: list[str]) -> bool:
    return rec.types("job-1") == types


def test_connections_per_job_are_capped(runtime_dir: Path, rec: Recorder) -> None:
    server = ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir, max_per_job=3)
    clients: list[Client] = []
    with server:
        token = server.register("job-1")[ENV_TOKEN]
        try:
            for opened in range(1, 5):
                client = Client(server.path)
                clients.append(client)
                client.hello("job-1", token)
                # (each heard before the next connects: the fourth is the one refused)
                rec.wait_for(partial(_heard, rec, ["hello"] * min(opened, 3)))
            assert rec.wait_for_warning("has 3 channel connections open already")[0] == "job-1"
            assert clients[3].wait_closed()
        finally:
            for client in clients:
                client.close()


def test_connections_in_total_are_capped(
    runtime_dir: Path, rec: Recorder, idle_clients: list[socket.socket]
) -> None:
    server = ChannelServer(
        rec.on_message, rec.on_warning, directory=runtime_dir, max_connections=10
    )
    with server:
        open_idle(server.path, 25, idle_clients)
        wait_until(lambda: server.connection_count() <= 10)
        threading.Event().wait(0.2)
        assert server.connection_count() <= 10


FLOOD = """
    import socket, sys, time
    path, count = sys.argv[1], int(sys.argv[2])
    held = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        held.append(s)
    print("connected", flush=True)
    sys.stdin.read()
"""


def test_running_out_of_file_descriptors_does_not_make_the_server_spin(
    runtime_dir: Path, rec: Recorder, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    flood = tmp_path / "flood.py"
    flood.write_text(textwrap.dedent(FLOOD))
    with ChannelServer(
        rec.on_message, rec.on_warning, directory=runtime_dir, max_unauthenticated=10_000
    ) as server:
        cpu = ThreadCpu(server)
        # Leave the app a few descriptors only, then let another process connect en masse.
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free_fd() + 30, hard))
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(flood), str(server.path), "400"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)),
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == b"connected\n"
            rec.wait_for_warning("run out of file descriptors", timeout=10)
            assert cpu.while_idle() < 0.3
            shed = [text for _, text in rec.warnings if "file descriptors" in text]
            assert len(shed) <= 2, shed  # rate-limited
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            with contextlib.suppress(OSError):
                process.communicate(b"", timeout=10)
            process.kill()
            process.wait()
            cpu.close()


def lowest_free_fd() -> int:
    """New descriptors take the lowest free numbers; a limit this much higher leaves that
    many (existing higher ones stay valid)."""
    in_use = {int(name) for name in os.listdir("/proc/self/fd")}
    return next(n for n in range(len(in_use) + 1) if n not in in_use)
