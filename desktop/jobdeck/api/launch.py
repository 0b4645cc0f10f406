"""Find the app running on a store, or start one. Standard library only (no Qt).

* A second ``jobdeck`` on the same store asks the first to raise its window
  (:func:`show_running_app`) and exits 0.
* A command that needs the app when none runs starts one (:func:`start_app`): in the tray
  when there is a display, else ``jobdeck serve``; detached from the terminal, its output
  going to the store's ``api-<key>.log`` beside the socket.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .paths import ApiPaths

if TYPE_CHECKING:
    from .client import ApiClient

__all__ = [
    "StartFailed",
    "claim_start",
    "show_running_app",
    "start_app",
    "wait_and_show_running_app",
    "wait_for_starting_app",
]

#: Seconds a started app has to answer.
START_TIMEOUT = 30.0


class StartFailed(Exception):
    """The app could not be started; the message says why (its last output lines)."""


def show_running_app(paths: ApiPaths, *, raise_window: bool = True) -> int | None:
    """When Jobdeck already runs on this store, raise its window (if ``raise_window``) and
    return this launch's exit status: 0, or 1 when it runs without a window, saying so on
    stderr. None when no Jobdeck answers.

    With no socket file, none can: the client (and the socket module) is not imported, as
    the desktop app's start asks this before its first window."""
    if not os.path.exists(paths.socket):
        return None
    from .client import ApiClient, ApiError, AppUnreachable

    with ApiClient(paths.socket, timeout=10) as client:
        try:
            if not raise_window:
                found = client.info()
                print(
                    f"jobdeck: Jobdeck already runs on this store (pid {found.get('pid')}); "
                    "quit it first",
                    file=sys.stderr,
                )
                return 1
            client.post("/api/app/show")
            return 0
        except AppUnreachable:
            return None
        except ApiError as exc:
            if exc.status == 409:
                pid = client.info().get("pid")
                print(
                    f"jobdeck: Jobdeck already runs on this store without a window "
                    f"(jobdeck serve, pid {pid}); use `jobdeck watch`, `jobdeck ls` or "
                    "the board (`jobdeck board`)",
                    file=sys.stderr,
                )
                return 1
            raise


#: The start locks this process holds (their descriptors stay open until it exits).
_claimed: dict[ApiPaths, int] = {}


def claim_start(paths: ApiPaths) -> bool:
    """Take the desktop app's start lock of this store, held until this process exits:
    False when another process holds it (a Jobdeck that runs, or is still starting and does
    not answer yet). Taken before the window shows, so that of two launches at once only one
    paints a window. True as well when the lock cannot be taken at all (no ``fcntl``, an
    unusable directory): the store's own lock still keeps a second app out."""
    if paths in _claimed:
        return True
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        paths.make_directory()
        fd = os.open(paths.start_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _claimed[paths] = fd
    return True


def wait_and_show_running_app(
    paths: ApiPaths, timeout: float = 10.0, *, raise_window: bool = True
) -> int | None:
    """Like :func:`show_running_app`, waiting up to ``timeout`` seconds for an app that
    holds the store but is still starting. ``raise_window=False`` (a launch in the tray,
    e.g. by a command that needs the app): only wait until it answers (0), showing nothing."""
    deadline = time.monotonic() + timeout
    while True:
        status = show_running_app(paths) if raise_window else _answers(paths)
        if status is not None or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


#: Seconds a second launch waits for a starting Jobdeck before it says on stderr that it waits.
SAY_WAITING_AFTER = 10.0


def wait_for_starting_app(
    paths: ApiPaths,
    *,
    raise_window: bool = True,
    say_after: float = SAY_WAITING_AFTER,
    poll: float = 0.1,
) -> int | None:
    """Another process holds this store's start lock (:func:`claim_start` said False): a
    Jobdeck that is starting and does not answer yet. Wait until it answers, however long
    its start takes (a slow disk, a big store to open or migrate), then raise its window
    (unless ``raise_window`` is False) and return this launch's exit status, as
    :func:`show_running_app` does. None when it went away without answering: its lock is
    free and now this process's (see :func:`claim_start`), so this launch starts Jobdeck.

    It said nothing while it waited ten seconds and then painted a window of its own that
    took the store from the first (whose window vanished). Waiting longer than
    ``say_after`` seconds, it says once on stderr what it waits for."""
    waited_since = time.monotonic()
    said = False
    while True:
        status = show_running_app(paths) if raise_window else _answers(paths)
        if status is not None:
            return status
        if claim_start(paths):  # the starting one is gone
            return None
        if not said and time.monotonic() - waited_since > say_after:
            said = True
            print(
                "jobdeck: waiting for the Jobdeck that is starting on this store to answer",
                file=sys.stderr,
            )
        time.sleep(poll)


def _answers(paths: ApiPaths) -> int | None:
    """0 when a Jobdeck answers on this store's socket, else None."""
    if not os.path.exists(paths.socket):
        return None
    from .client import ApiClient, AppUnreachable

    with ApiClient(paths.socket, timeout=10) as client:
        try:
            client.info()
            return 0
        except AppUnreachable:
            return None


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start_app(
    paths: ApiPaths, db: str | None, *, gui: bool | None = None, timeout: float = START_TIMEOUT
) -> ApiClient:
    """Start Jobdeck on store ``db`` (in the tray with a display, else ``jobdeck serve``),
    wait until it answers, and return a client of it. Raises :class:`StartFailed`."""
    from .client import ApiClient, AppUnreachable

    gui = has_display() if gui is None else gui
    # A frozen bundle's program is jobdeck itself; otherwise run this Jobdeck's package.
    command = (
        [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "jobdeck"]
    )
    if db is not None:
        command += ["--db", db]
    command += ["--tray"] if gui else ["serve"]
    paths.make_directory()
    log_path = paths.start_log
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    log_fd = os.open(log_path, flags, 0o600)
    import subprocess  # (not for the usual case: raising a running app's window)

    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,  # not stopped by the terminal's Ctrl+C or hang-up
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    client = ApiClient(paths.socket)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.info(timeout=5)
            return client
        except AppUnreachable:
            pass
        status = process.poll()
        if status is not None:
            # It may have lost a race with another start, which now answers.
            try:
                client.info(timeout=5)
                return client
            except AppUnreachable:
                raise StartFailed(_why(command, status, log_path)) from None
        if time.monotonic() > deadline:
            raise StartFailed(
                f"started {' '.join(command)} (pid {process.pid}), but it did not answer "
                f"within {timeout:.0f} s; see {log_path}"
            )
        time.sleep(0.05)


def _why(command: list[str], status: int, log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    except OSError:
        lines = []
    told = ("; it said: " + " / ".join(lines)) if lines else ""
    return f"{' '.join(command)} exited with status {status}{told}"
