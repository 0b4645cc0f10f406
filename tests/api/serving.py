"""Servers for the API tests: an ApiServer on an asyncio loop in a thread (fast, Qt-free),
and the real ``jobdeck serve`` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobdeck.api.client import ApiClient, AppUnreachable
from jobdeck.api.paths import ApiPaths, store_key
from jobdeck.api.server import ApiServer, Listen
from jobdeck.api.sse import StreamOptions
from jobdeck.core import JobTracker
from jobdeck.jobs import builtin_registry

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "it") -> Any:
    """Poll ``condition`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def short_dir(prefix: str = "jd") -> Iterator[Path]:
    """A private directory with a short path (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class LoopServer:
    """An :class:`ApiServer` for ``tracker`` (it serves from a thread of its own)."""

    tracker: JobTracker
    paths: ApiPaths
    listen: Listen | None = None
    stream: StreamOptions = field(default_factory=StreamOptions)
    server: ApiServer | None = None

    def __post_init__(self) -> None:
        self.server = ApiServer(
            self.tracker,
            builtin_registry(),
            self.paths,
            db=str(self.tracker.store.path),
            listen=self.listen,
            stream_options=self.stream,
        )
        self.server.start()
        assert self.server.wait_serving(30)

    def client(self) -> ApiClient:
        return ApiClient(self.paths.socket, timeout=30)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def serve_env(runtime: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``jobdeck`` subprocess: this checkout, a private runtime and
    config directory, no display (a started app is ``jobdeck serve``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(DESKTOP), env.get("PYTHONPATH")])),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(runtime / "config"),
        QT_QPA_PLATFORM="offscreen",
    )
    env.pop("JOBDECK_DB", None)
    env.pop("JOBDECK_NO_AUTOSTART", None)
    env.update(extra)
    return env


class Served:
    """``jobdeck --db DB serve`` in a subprocess, and ``jobdeck`` commands against it."""

    def __init__(self, runtime: Path, db: Path, *serve_args: str) -> None:
        self.runtime = runtime
        self.db = db
        self.env = serve_env(runtime)
        self.serve_args = serve_args
        self.proc: subprocess.Popen[str] | None = None
        self.paths = ApiPaths(runtime / "jobdeck", store_key(db))

    def start(self) -> Served:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobdeck", "--db", str(self.db), "serve", *self.serve_args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(self.answers, 60, "jobdeck serve to answer")
        return self

    def answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"jobdeck serve exited: {self.proc.communicate()}")
        try:
            with self.client() as client:
                client.info(timeout=5)
            return True
        except AppUnreachable:
            return False

    def client(self) -> ApiClient:
        return ApiClient(self.paths.socket, timeout=60)

    def jobdeck(
        self, *args: str, timeout: float = 60, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``jobdeck --db DB ARGS`` as a user would, to the end."""
        return subprocess.run(
            [sys.executable, "-m", "jobdeck", "--db", str(self.db), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def stop(self) -> tuple[int, str, str]:
        assert self.proc is not None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return proc.returncode, out, err
