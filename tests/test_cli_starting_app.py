"""A command (``jobdeck run``) while the desktop Jobdeck on the store is still starting:
it holds the store's start lock, its window is painted, but it has not opened the store
(nor its API) yet.

Without a display the command started ``jobdeck serve``, which ignored the start lock: it
took the store and ran the job, and the desktop Jobdeck, once it came to open the store,
found it taken and went (its window with it). Now the command waits for the starting
Jobdeck as a second launch does and hands it the job once it answers; one that hangs while
starting is named (its pid, what to do: run the command again), exit 3, the job queued
nowhere. ``jobdeck serve`` itself respects the start lock too.

The desktop Jobdeck here is the real one (``run_app``, offscreen), held in its start by the
``before_store`` hook until the test lets it go: busy meanwhile (reading, as a start on a
slow disk does) or idle (hung).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.api.client import ApiClient, AppUnreachable
from jobdeck.api.lock_holder import Life
from jobdeck.api.paths import ApiPaths

from .bench.realistic_store import build_store
from .runtime.channel_helpers import short_tempdir

JOBS = 5
#: Seconds a step may take on a loaded machine.
SLOW = 60

#: Run by the desktop Jobdeck's process: the real app, held before it opens the store until
#: a line comes on stdin (argv: store, "busy" or "idle").
_DESKTOP = """
import select, sys
from jobdeck.app import run_app

def held():
    print("held", flush=True)
    if sys.argv[2] == "idle":
        sys.stdin.readline()  # hung: no CPU used, nothing read or written
        return
    while not select.select([sys.stdin], [], [], 0.02)[0]:
        with open("/proc/self/stat", "rb") as f:  # busy: it keeps reading
            f.read()
    sys.stdin.readline()

sys.exit(run_app(sys.argv[1], before_store=held))
"""


@pytest.fixture
def home() -> Iterator[Path]:
    """The user's folders and the store: a short path, so that the sockets made there (the
    API's, the supervisor's) fit, wherever ``tmp_path`` is."""
    with short_tempdir() as base:
        yield base


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A user's environment with no display (the command starts ``jobdeck serve``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    for sub in ("config", "data", "cache", "runtime"):
        (home / sub).mkdir(mode=0o700)
        key = "XDG_RUNTIME_DIR" if sub == "runtime" else f"XDG_{sub.upper()}_HOME"
        env[key] = str(home / sub)
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    return env


@pytest.fixture
def db(home: Path) -> Path:
    path = home / "jobs.db"
    build_store(path, JOBS, newest_ts=time.time() - 60, seed=5)
    return path


def _jobs_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


class Desktop:
    """The desktop Jobdeck, started and held before it opens the store."""

    def __init__(self, db: Path, env: dict[str, str], how: str) -> None:
        self.log = db.with_name("desktop.log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _DESKTOP, str(db), how],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()  # (its window is painted by then)
        assert line == "held", self.said()

    def said(self) -> str:
        """What it printed on stderr so far."""
        return self.log.read_text()

    @property
    def pid(self) -> int:
        return self.process.pid

    def let_go(self) -> None:
        """Let it open the store and go on starting."""
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SLOW)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def desktop(request: pytest.FixtureRequest, db: Path, env: dict[str, str]) -> Iterator[Desktop]:
    app = Desktop(db, env, request.param)
    try:
        yield app
    finally:
        app.stop()


def _command(db: Path, env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "jobdeck", "--db", str(db), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("desktop", ["busy"], indirect=True)
def test_a_command_hands_its_job_to_the_desktop_jobdeck_still_starting(
    desktop: Desktop, db: Path, env: dict[str, str], tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    command = _command(db, env, "run", "--wait", "--", "sh", "-c", f'echo once >> "{ran}"')
    try:
        assert command.stderr is not None
        said = command.stderr.readline().strip()  # its first word: what it does
        desktop.let_go()
        _out, err = command.communicate(timeout=SLOW)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 0, said + err
    assert ran.read_text() == "once\n"  # run once...
    paths = ApiPaths.for_store(str(db))
    with ApiClient(paths.socket) as client:  # ...by the desktop one, which runs on
        assert client.info()["pid"] == desktop.pid, said + err
    assert desktop.process.poll() is None, desktop.said()
    assert not paths.start_log.exists()  # (where a Jobdeck started by a command writes)
    assert _jobs_in(db) == JOBS + 1
    assert said == f"jobdeck: Jobdeck is starting on {db} (pid {desktop.pid}): waiting for it"


@pytest.mark.parametrize("desktop", ["idle"], indirect=True)
def test_a_command_names_the_desktop_jobdeck_that_hangs_while_starting(
    desktop: Desktop, db: Path, env: dict[str, str]
) -> None:
    from jobdeck.api.launch import TEST_LIMITS_ENV

    idle_limit = 1.0  # (10 s by default)
    started = time.monotonic()
    command = _command(
        db, {**env, TEST_LIMITS_ENV: f"IDLE_LIMIT={idle_limit}"}, "run", "--", "true"
    )
    try:
        _out, err = command.communicate(timeout=idle_limit + SLOW)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert idle_limit <= time.monotonic() - started < idle_limit + 20
    assert command.returncode == 3, err
    assert "Traceback" not in err, err
    said = err.strip().splitlines()[-1]
    assert said.startswith(
        f"jobdeck: Jobdeck (pid {desktop.pid}) has been starting on this store for"
    ), said
    assert "has done nothing" in said and f"kill {desktop.pid}" in said, said
    assert said.endswith("run the command again"), said
    paths = ApiPaths.for_store(str(db))
    assert not paths.start_log.exists()  # no other Jobdeck was started
    assert desktop.process.poll() is None  # left as it was, holding the store
    desktop.let_go()  # it goes on: opens the store, with no job queued meanwhile
    with ApiClient(paths.socket) as client:
        deadline = time.monotonic() + SLOW
        while True:
            try:
                info = client.info()
                break
            except AppUnreachable:
                assert time.monotonic() < deadline, "the desktop Jobdeck never answered"
                assert desktop.process.poll() is None, desktop.said()
                time.sleep(0.1)
        assert info["pid"] == desktop.pid
    assert _jobs_in(db) == JOBS


def _no_service(*args: object, **kwargs: object) -> None:
    raise AssertionError("jobdeck serve took the store of the Jobdeck starting on it")


@pytest.mark.parametrize("desktop", ["busy"], indirect=True)
def test_serve_waits_for_the_desktop_jobdeck_starting_and_leaves_it_the_store(
    desktop: Desktop,
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``jobdeck serve`` while the desktop Jobdeck is starting: it waits for that one (let
    go once ``serve`` looks at how it is doing) and, once it answers, says it runs there
    and exits 1, leaving it the store."""
    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.cli import main

    looked = launch.signs_of_life

    def let_go_once_it_waits(pid: int) -> Life | None:
        assert pid == desktop.pid  # (the pid the desktop Jobdeck wrote in the start lock)
        if desktop.process.stdin is not None and not desktop.process.stdin.closed:
            desktop.let_go()
            desktop.process.stdin.close()
        return looked(pid)

    monkeypatch.setattr(launch, "signs_of_life", let_go_once_it_waits)
    monkeypatch.setattr(app_module, "JobdeckService", _no_service)
    assert main(["--db", str(db), "serve"]) == 1
    err = capsys.readouterr().err
    assert f"jobdeck: Jobdeck already runs on this store (pid {desktop.pid}); quit it first" in err
    assert desktop.process.poll() is None, desktop.said()


@pytest.mark.parametrize("desktop", ["idle"], indirect=True)
def test_serve_names_the_desktop_jobdeck_that_hangs_while_starting_and_exits_3(
    desktop: Desktop,
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.cli import main

    now = [0.0]  # time passes only when it sleeps (a second a nap): IDLE_LIMIT in no time

    def nap(seconds: float) -> None:
        now[0] += 1.0
        assert now[0] < 1000, "jobdeck serve waited for ever"

    monkeypatch.setattr(app_module, "JobdeckService", _no_service)
    with monkeypatch.context() as clock:  # (the time module's: undone before the teardown)
        clock.setattr(launch.time, "monotonic", lambda: now[0])
        clock.setattr(launch.time, "sleep", nap)
        assert main(["--db", str(db), "serve"]) == 3
    assert launch.IDLE_LIMIT <= now[0] <= launch.IDLE_LIMIT + 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.startswith(
        f"jobdeck: Jobdeck (pid {desktop.pid}) has been starting on this store"
    ), said
    assert f"kill {desktop.pid}" in said and said.endswith("run jobdeck serve again"), said
    assert desktop.process.poll() is None


@pytest.mark.parametrize("desktop", ["busy"], indirect=True)
def test_a_serve_started_as_a_desktop_jobdeck_starts_waits_for_it_past_the_timeout(
    desktop: Desktop, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the command's own wait cannot see: the desktop Jobdeck took the start lock
    just after the command found it free, and the command started ``jobdeck serve``. That
    one waits for the desktop one (saying so in its log), and the command waits with it,
    past its own timeout, then talks to the desktop one (let go only then)."""
    from jobdeck.api.launch import TEST_LIMITS_ENV, start_app

    # serve says that it waits at once (after 10 s by default).
    monkeypatch.setenv(TEST_LIMITS_ENV, "SAY_WAITING_AFTER=0")
    timeout = 1.0
    paths = ApiPaths.for_store(str(db))
    started = time.monotonic()
    let_go = threading.Thread(
        target=_let_go_once_serve_waits, args=(desktop, paths, started + timeout)
    )
    let_go.start()
    try:
        with start_app(paths, str(db), gui=False, timeout=timeout) as client:
            assert time.monotonic() - started > timeout  # (past the timeout: serve waited)
            assert client.info()["pid"] == desktop.pid
    finally:
        let_go.join()
    # Then it goes, saying that the desktop one runs (it was left serving the store once the
    # desktop one was stopped, had the test not waited for it to go).
    deadline = time.monotonic() + SLOW
    while _serves(db):
        assert time.monotonic() < deadline, paths.start_log.read_text()
        time.sleep(0.05)
    assert desktop.process.poll() is None, desktop.said()
    said = paths.start_log.read_text()
    assert f"starting on this store to answer (pid {desktop.pid})" in said, said
    assert f"Jobdeck already runs on this store (pid {desktop.pid})" in said, said
    assert "serving" not in said, said


def _serves(db: Path) -> bool:
    """Whether a ``jobdeck serve`` of store ``db`` runs."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and str(db) in cmdline:
            return True
    return False


def _let_go_once_serve_waits(desktop: Desktop, paths: ApiPaths, not_before: float) -> None:
    """Let the desktop Jobdeck go once ``jobdeck serve`` says it waits for it and the
    monotonic clock is past ``not_before``."""
    waiting = f"Jobdeck that is starting on this store to answer (pid {desktop.pid})"
    deadline = time.monotonic() + SLOW
    while time.monotonic() < deadline:
        if (
            time.monotonic() > not_before
            and paths.start_log.exists()
            and waiting in paths.start_log.read_text()
        ):
            break
        time.sleep(0.05)
    desktop.let_go()


def test_a_serve_started_as_a_jobdeck_that_then_stops_starts_says_so_in_a_commands_words(
    db: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the Jobdeck that took the start lock is stopped (Ctrl+Z) while
    starting: the ``jobdeck serve`` started gives up on it, and the command says which
    process it is and to run the command again (its ``serve`` said "run jobdeck serve
    again"); no Jobdeck took the store."""
    import jobdeck.api.launch as launch
    from jobdeck.api.launch import TEST_LIMITS_ENV, NotAnswering, start_app
    from jobdeck.api.lock_holder import signs_of_life

    # Stopped for half a second is enough (3 s by default), in serve and in the command.
    monkeypatch.setenv(TEST_LIMITS_ENV, "STOPPED_LIMIT=0.5")
    monkeypatch.setattr(launch, "STOPPED_LIMIT", 0.5)
    paths = ApiPaths.for_store(str(db))
    paths.make_directory()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.write(f'{os.getpid()}\\n'); f.flush()\n"
            "print('locked', flush=True); time.sleep(120)",
            str(paths.start_lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holder.send_signal(signal.SIGSTOP)
        while (signs_of_life(holder.pid) or ("T",))[0] not in ("T", "t"):
            threading.Event().wait(0.01)  # (the signal is delivered)
        with pytest.raises(NotAnswering) as raised:
            start_app(paths, str(db), gui=False, timeout=5)
        said = str(raised.value)
        assert raised.value.pid == holder.pid
        assert said.startswith(f"Jobdeck (pid {holder.pid}) is starting on this store"), said
        assert said.endswith("run the command again"), said
        assert "run jobdeck serve again" in paths.start_log.read_text()
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()
    assert not paths.socket.exists()
    assert _jobs_in(db) == JOBS


def test_the_waiting_limits_are_the_production_ones_unless_a_test_shortens_them_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang tests above shorten the limits of the processes they start
    (``JOBDECK_TEST_LIMITS``); without it a Jobdeck waits as long as ever, and a name that
    is not a limit fails rather than being ignored."""
    import jobdeck.api.launch as launch

    assert launch.TEST_LIMITS_ENV not in os.environ
    defaults = {
        "ANSWER_TIMEOUT": 5.0,
        "SILENT_LIMIT": 5.0,
        "SAY_WAITING_AFTER": 10.0,
        "IDLE_LIMIT": 10.0,
        "STOPPED_LIMIT": 3.0,
    }
    assert {name: getattr(launch, name) for name in defaults} == defaults
    assert all(launch._limit(name, value) == value for name, value in defaults.items())
    monkeypatch.setenv(launch.TEST_LIMITS_ENV, "IDLE_LIMIT=1 STOPPED_LIMIT=0.5")
    assert launch._limit("IDLE_LIMIT", 10.0) == 1.0
    assert launch._limit("STOPPED_LIMIT", 3.0) == 0.5
    assert launch._limit("SILENT_LIMIT", 5.0) == 5.0
    monkeypatch.setenv(launch.TEST_LIMITS_ENV, "IDLE_LIMT=1")
    with pytest.raises(ValueError, match="IDLE_LIMT"):
        launch._limit("IDLE_LIMIT", 10.0)
