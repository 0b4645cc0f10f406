"""Test helpers for the progress channel: a recorder for the server's callbacks, a raw client.

Shared by test_channel.py and test_examples.py. Everything waits on conditions with
timeouts; nothing sleeps.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.protocol import Message, parse_message

TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` (state with no callback to wait on) until true; fail at the deadline."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        pause.wait(0.005)


class Recorder:
    """Collects what a ChannelServer delivers, and lets a test wait for it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Message]] = []
        self.warnings: list[tuple[str | None, str]] = []
        self._changed = threading.Condition()

    def on_message(self, job_id: str, msg: Message) -> None:
        with self._changed:
            self.messages.append((job_id, msg))
            self._changed.notify_all()

    def on_warning(self, job_id: str | None, text: str) -> None:
        with self._changed:
            self.warnings.append((job_id, text))
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(
                    f"timed out; messages={self.messages[-10:]!r} warnings={self.warnings[-10:]!r}"
                )

    def of(self, job_id: str) -> list[Message]:
        with self._changed:
            return [m for j, m in self.messages if j == job_id]

    def types(self, job_id: str) -> list[str]:
        return [m.TYPE for m in self.of(job_id)]

    def wait_for_type(self, job_id: str, kind: str, timeout: float = TIMEOUT) -> Message:
        self.wait_for(lambda: kind in self.types(job_id), timeout)
        return next(m for m in self.of(job_id) if kind == m.TYPE)

    def wait_for_warning(self, match: str, timeout: float = TIMEOUT) -> tuple[str | None, str]:
        self.wait_for(lambda: any(match in text for _, text in self.warnings), timeout)
        return next(w for w in self.warnings if match in w[1])


@contextmanager
def short_tempdir() -> Iterator[Path]:
    """A fresh directory with a short path (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="jd-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def running_server(directory: Path, recorder: Recorder) -> Iterator[ChannelServer]:
    server = ChannelServer(recorder.on_message, recorder.on_warning, directory=directory)
    server.start()
    try:
        yield server
    finally:
        server.close()


class Client:
    """A raw channel client: sends bytes or JSON objects, reads lines back."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(str(path))
        self._pending = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, **obj: Any) -> None:
        obj.setdefault("timestamp", time.time())
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def hello(self, job_id: str, token: str) -> None:
        self.send(type="hello", jobId=job_id, token=token)

    def read_message(self) -> Message:
        while b"\n" not in self._pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed while waiting for a line")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return parse_message(line)

    def wait_closed(self) -> bool:
        """True when the server closed the connection (EOF) within the timeout."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()
