"""Find the app running on a store, or start one. Standard library only (no Qt).

* A second ``jobdeck`` on the same store asks the first to raise its window
  (:func:`show_running_app`) and exits 0. While the first is still starting, it waits for
  it (:func:`wait_for_starting_app`) as long as the first shows signs of life, up to
  :data:`START_LIMIT`; one that is hung, stopped or does nothing is named to the user
  (:class:`NotAnswering`: its pid, what to do) instead of being waited for for ever.
* A command that needs the app when none runs starts one (:func:`start_app`): in the tray
  when there is a display, else ``jobdeck serve``; detached from the terminal, its output
  going to the store's ``api-<key>.log`` beside the socket. While a Jobdeck is starting on
  the store (:func:`start_lock_held`), the command waits for it instead
  (:func:`wait_for_starting_app` with ``claim=False``) and hands it its request; so does
  ``jobdeck serve``: never two Jobdecks on one store.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .lock_holder import holder_pid, signs_of_life, write_pid
from .paths import ApiPaths

if TYPE_CHECKING:
    from .client import ApiClient

__all__ = [
    "NotAnswering",
    "StartFailed",
    "claim_start",
    "show_running_app",
    "silent_app",
    "start_app",
    "start_lock_held",
    "wait_and_show_running_app",
    "wait_for_starting_app",
]

#: For tests only (never set by users): the limits below are shortened in a Jobdeck or a
#: command that a test starts as a process, e.g. ``JOBDECK_TEST_LIMITS="IDLE_LIMIT=1
#: STOPPED_LIMIT=0.5"`` (names of this module's limits, seconds), so that its hang tests take
#: seconds, not tens of seconds. Read here only, once, as the module is imported; a test in
#: the same process sets the module's constants instead (monkeypatch).
TEST_LIMITS_ENV = "JOBDECK_TEST_LIMITS"
_SETTABLE_LIMITS = (
    "ANSWER_TIMEOUT",
    "SILENT_LIMIT",
    "SAY_WAITING_AFTER",
    "IDLE_LIMIT",
    "STOPPED_LIMIT",
)


def _limit(name: str, default: float) -> float:
    """``default`` (the production value), or the seconds :data:`TEST_LIMITS_ENV` gives
    ``name``. A name that is not one of the limits fails the start, as a test's typo must."""
    for item in os.environ.get(TEST_LIMITS_ENV, "").split():
        key, _, seconds = item.partition("=")
        if key not in _SETTABLE_LIMITS:
            raise ValueError(f"{TEST_LIMITS_ENV}: {key!r} is not one of {_SETTABLE_LIMITS}")
        if key == name:
            return float(seconds)
    return default


#: Seconds a started app has to answer.
START_TIMEOUT = 30.0
#: Seconds a request may go unanswered by a Jobdeck that accepted the connection.
ANSWER_TIMEOUT = _limit("ANSWER_TIMEOUT", 5.0)
#: Seconds a Jobdeck that accepts connections may leave them unanswered before a second
#: launch says it does not answer (it has started: something holds its event loop).
SILENT_LIMIT = _limit("SILENT_LIMIT", 5.0)
#: What a command (``jobdeck run``...) tells the user to do once the Jobdeck that does not
#: answer is sorted out (a second launch: "start jobdeck again").
COMMAND_AGAIN = "run the command again"


class StartFailed(Exception):
    """The app could not be started; the message says why (its last output lines)."""


class NotAnswering(Exception):
    """The Jobdeck that holds this store does not answer and will not soon: hung, stopped,
    doing nothing, or still busy after :data:`START_LIMIT`. The message says which process
    (``pid``, None when unknown) and what to do."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


#: Returned by :func:`show_running_app` (when asked to) for a Jobdeck that accepts the
#: connection but does not answer within the timeout.
SILENT = -1


def show_running_app(
    paths: ApiPaths,
    *,
    raise_window: bool = True,
    timeout: float | None = None,
    silent: int | None = None,
) -> int | None:
    """When Jobdeck already runs on this store, raise its window (if ``raise_window``) and
    return this launch's exit status: 0, or 1 when it runs without a window, saying so on
    stderr. None when no Jobdeck answers; ``silent`` when one accepts the connection but
    does not answer within ``timeout`` seconds (default :data:`ANSWER_TIMEOUT`).

    With no socket file, none can: the client (and the socket module) is not imported, as
    the desktop app's start asks this before its first window."""
    if not os.path.exists(paths.socket):
        return None
    from .client import ApiClient, ApiError, AppUnreachable

    timeout = ANSWER_TIMEOUT if timeout is None else timeout
    with ApiClient(paths.socket, timeout=timeout) as client:
        try:
            if not raise_window:
                found = client.info(timeout=timeout)
                print(
                    f"jobdeck: Jobdeck already runs on this store (pid {found.get('pid')}); "
                    "quit it first",
                    file=sys.stderr,
                )
                return 1
            client.post("/api/app/show")
            return 0
        except AppUnreachable as exc:
            return silent if timed_out(exc) else None
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
    write_pid(fd)  # (named to a second launch if this one hangs while starting)
    return True


def start_lock_held(paths: ApiPaths) -> bool:
    """Whether another process holds this store's start lock (a Jobdeck that runs, or is
    starting and does not answer yet), found without keeping the lock: for a command, which
    waits for that Jobdeck but must not hold the lock itself (the Jobdeck it may start
    takes it). False when this process holds it, or when it cannot be known."""
    if paths in _claimed:
        return False
    try:
        import errno
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        fd = os.open(paths.start_lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # (none was ever taken there)
        return False
    try:
        # Shared: two commands that look at once do not see each other.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


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
SAY_WAITING_AFTER = _limit("SAY_WAITING_AFTER", 10.0)
#: Seconds a starting Jobdeck may go without any sign of life (no CPU used, nothing read or
#: written) before a second launch says so; a stopped one (Ctrl+Z): :data:`STOPPED_LIMIT`.
IDLE_LIMIT = _limit("IDLE_LIMIT", 10.0)
STOPPED_LIMIT = _limit("STOPPED_LIMIT", 3.0)
#: Seconds a second launch waits at most for a starting Jobdeck that keeps busy.
START_LIMIT = 120.0


def wait_for_starting_app(
    paths: ApiPaths,
    *,
    raise_window: bool = True,
    say_after: float = SAY_WAITING_AFTER,
    poll: float = 0.1,
    claim: bool = True,
    again: str = "start jobdeck again",
) -> int | None:
    """Another process holds this store's start lock (:func:`claim_start` said False): a
    Jobdeck that is starting and does not answer yet. Wait until it answers, then raise its
    window (unless ``raise_window`` is False) and return this launch's exit status, as
    :func:`show_running_app` does. None when it went away without answering: its lock is
    free and now this process's (see :func:`claim_start`), so this launch starts Jobdeck.
    ``claim=False`` (a command, which starts no Jobdeck in its own process): the lock is
    looked at (:func:`start_lock_held`), never taken. ``again``: what the message says to do
    once the one that does not answer is sorted out.

    It waits as long as the starting one keeps busy (a slow disk, a big store to open or
    migrate), up to :data:`START_LIMIT`, saying once on stderr after ``say_after`` seconds
    what it waits for. It raises :class:`NotAnswering` (naming the process and what to do)
    for one that was stopped (Ctrl+Z) for :data:`STOPPED_LIMIT`, that did nothing for
    :data:`IDLE_LIMIT`, that accepts connections but left them unanswered for
    :data:`SILENT_LIMIT`, or that is still not answering after :data:`START_LIMIT` (it
    waited for ever for a hung one)."""
    waited_since = time.monotonic()
    said = False
    pid: int | None = None
    activity: int | None = None
    lively_at = waited_since  # when it last used the CPU or read or wrote anything
    stopped_since: float | None = None
    silent_since: float | None = None
    while True:
        asked_at = time.monotonic()
        if raise_window:
            status = show_running_app(paths, timeout=ANSWER_TIMEOUT, silent=SILENT)
        else:
            status = _answers(paths, timeout=ANSWER_TIMEOUT, silent=SILENT)
        if status is not None and status != SILENT:
            return status
        if claim_start(paths) if claim else not start_lock_held(paths):
            return None  # the starting one is gone
        now = time.monotonic()
        if pid is None:
            pid = holder_pid(paths.start_lock)
        life = signs_of_life(pid) if pid is not None else None
        if life is not None:
            if life[1] != activity:
                activity, lively_at = life[1], now
            stopped = life[0] in ("T", "t")
            stopped_since = (stopped_since or now) if stopped else None
        if status == SILENT:
            silent_since = asked_at if silent_since is None else silent_since
        else:
            silent_since = None
        why = _why_not_waiting(
            pid,
            waited=now - waited_since,
            idle=now - lively_at if life is not None else 0.0,
            stopped=now - stopped_since if stopped_since is not None else None,
            silent=now - silent_since if silent_since is not None else None,
            again=again,
        )
        if why is not None:
            raise NotAnswering(why, pid)
        if not said and now - waited_since > say_after:
            said = True
            print(
                "jobdeck: waiting for the Jobdeck that is starting on this store to answer"
                + (f" (pid {pid})" if pid is not None else ""),
                file=sys.stderr,
            )
        time.sleep(poll)


def silent_app(paths: ApiPaths, waited: float) -> NotAnswering:
    """The error for a command that found a Jobdeck accepting connections on this store but
    not answering for ``waited`` seconds (it was sent nothing)."""
    pid = holder_pid(paths.start_lock)
    why = _why_not_waiting(
        pid,
        waited=waited,
        idle=0.0,
        stopped=None,
        silent=max(waited, SILENT_LIMIT),
        again=COMMAND_AGAIN,
    )
    assert why is not None
    return NotAnswering(why, pid)


def _why_not_waiting(
    pid: int | None,
    *,
    waited: float,
    idle: float,
    stopped: float | None,
    silent: float | None,
    again: str = "start jobdeck again",
) -> str | None:
    """What to tell the user about the Jobdeck holding the store, when it is no use waiting
    for it any longer (``again``: what to do once it is sorted out); None while it is."""
    who = "Jobdeck" if pid is None else f"Jobdeck (pid {pid})"
    end = "end it" if pid is None else f"end it (kill {pid})"
    if silent is not None and silent >= SILENT_LIMIT:
        return (
            f"{who} runs on this store but has not answered for {silent:.0f} s: it seems "
            f"hung. Wait for it, or {end}, then {again}"
        )
    if stopped is not None and stopped >= STOPPED_LIMIT:
        resume = "" if pid is None else f" (kill -CONT {pid}, or fg in its terminal)"
        return (
            f"{who} is starting on this store but is stopped (Ctrl+Z in its terminal, or a "
            f"debugger). Resume it{resume} or {end}, then {again}"
        )
    if idle >= IDLE_LIMIT:
        return (
            f"{who} has been starting on this store for {waited:.0f} s and has done nothing "
            f"for {idle:.0f} s (no CPU used, nothing read or written): it may be waiting in a "
            f"dialog of its own, or be hung. Look for its window; "
            f"otherwise {end} and {again}"
        )
    if waited >= START_LIMIT:
        return (
            f"{who} has been starting on this store for {waited:.0f} s and does not answer "
            "yet, though it is busy (opening or upgrading a large store takes a while). "
            f"Try again later, or {end} if it stays so"
        )
    return None


def timed_out(exc: BaseException) -> bool:
    """True when ``exc`` (an AppUnreachable) means the app accepted the connection but did
    not answer in time, rather than that nothing listens."""
    return isinstance(exc.__cause__, TimeoutError)


def _answers(paths: ApiPaths, *, timeout: float = 10.0, silent: int | None = None) -> int | None:
    """0 when a Jobdeck answers on this store's socket, ``silent`` when one accepts the
    connection but does not answer within ``timeout`` seconds, else None."""
    if not os.path.exists(paths.socket):
        return None
    from .client import ApiClient, AppUnreachable

    with ApiClient(paths.socket, timeout=timeout) as client:
        try:
            client.info(timeout=timeout)
            return 0
        except AppUnreachable as exc:
            return silent if timed_out(exc) else None


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start_app(
    paths: ApiPaths, db: str | None, *, gui: bool | None = None, timeout: float = START_TIMEOUT
) -> ApiClient:
    """Start Jobdeck on store ``db`` (in the tray with a display, else ``jobdeck serve``),
    wait until it answers, and return a client of it. Raises :class:`StartFailed`.

    Another Jobdeck may take the store's start lock first (a desktop launch at the same
    moment): the one started here then waits for that one (up to :data:`START_LIMIT`,
    beyond ``timeout``) and goes once it answers, and the client is of that one. Should it
    give up on that one (hung, stopped), :class:`NotAnswering` says so, in a command's
    words (it is judged here again)."""
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
                pass
            if start_lock_held(paths):
                # It found another Jobdeck starting on the store and gave up on it: that
                # one is judged here again, to be said in a command's words.
                answered = wait_for_starting_app(
                    paths,
                    raise_window=False,
                    claim=False,
                    again=COMMAND_AGAIN,
                    say_after=float("inf"),
                )
                if answered is not None:
                    return client
            raise StartFailed(_why(command, status, log_path))
        if time.monotonic() > deadline and not _waits_for_another(paths, process.pid, deadline):
            raise StartFailed(
                f"started {' '.join(command)} (pid {process.pid}), but it did not answer "
                f"within {timeout:.0f} s; see {log_path}"
            )
        time.sleep(0.05)


def _waits_for_another(paths: ApiPaths, started: int, deadline: float) -> bool:
    """Whether the Jobdeck ``started`` (pid) by :func:`start_app`, past its ``deadline``,
    waits for another one that holds the store's start lock (it judges that one itself, up
    to :data:`START_LIMIT`)."""
    if time.monotonic() > deadline + START_LIMIT + START_TIMEOUT:
        return False
    holder = holder_pid(paths.start_lock)
    return holder is not None and holder != started and start_lock_held(paths)


def _why(command: list[str], status: int, log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    except OSError:
        lines = []
    told = ("; it said: " + " / ".join(lines)) if lines else ""
    return f"{' '.join(command)} exited with status {status}{told}"
