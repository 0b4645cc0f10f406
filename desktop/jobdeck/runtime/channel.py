"""The app side of the progress channel: one Unix-domain socket that every process job talks to.

:class:`ChannelServer` listens on ``<directory>/channel.sock``; by default the directory is
``<runtime dir>/jobdeck`` (see :func:`default_channel_dir`), private to the user (mode 0700,
the socket 0600). The path is the same every time the app starts, so a job that outlived the
app reconnects to the next one.

Each process job is :meth:`~ChannelServer.register`-ed with a random token and gets the path,
its job id and the token in its environment (see :mod:`jobdeck.runtime.protocol`). A
connection must open with a ``hello`` carrying a registered job id and its token; after that
every message must carry the same job id. One thread multiplexes all connections with
:mod:`selectors`; messages are parsed with :func:`~jobdeck.runtime.protocol.parse_message`
and handed to ``on_message`` in the order they arrived on their connection.

What goes wrong is reported through ``on_warning(job_id, text)`` and never raises:

* refused ``hello`` (unknown job, wrong token), a message before ``hello``, or a message
  naming another job: warning, and the connection is closed;
* bad JSON, wrong field types, unknown types, lines over
  :data:`~jobdeck.runtime.protocol.MAX_LINE_BYTES`: warning, the message is dropped and the
  connection stays open. After :data:`MAX_WARNINGS_PER_CONNECTION` warnings a connection's
  further bad input is dropped silently (one last warning says so), so a job spewing garbage
  cannot flood its log.

Limits, so that a buggy or hostile local program cannot exhaust the app: a connection must
say ``hello`` within ``hello_timeout`` seconds or it is closed; at most
:data:`MAX_UNAUTHENTICATED` connections may wait for their ``hello`` (a new one closes the
oldest), at most :data:`MAX_CONNECTIONS_PER_JOB` per job and :data:`MAX_CONNECTIONS` in
all (excess ones are closed at once). Warnings about connections that never said who they
are go to the app's log at most once per :data:`WARNING_INTERVAL` seconds per kind, with a
count of the ones held back. The server thread sleeps in the kernel (epoll) while nothing
happens; when the process runs out of file descriptors it closes the excess connection with
a spare descriptor and pauses accepting, never spinning.

:meth:`ChannelServer.drain` lets the caller wait until everything a finished job sent has
been read and delivered, so a ``completed`` result is never lost to the race with the job's
exit.

Connections are :mod:`jobdeck.runtime.channel_connections`'s part. No Qt here; the process
executor wraps it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .channel_connections import (
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_JOB,
    MAX_UNAUTHENTICATED,
    MAX_WARNINGS_PER_CONNECTION,
    WARNING_INTERVAL,
    ConnectionHandling,
    OnMessage,
    OnWarning,
    _Connection,
    _Drain,
    _open_spare_fd,
    _RateLimitedLog,
    _readable,
)
from .private_files import UnsafePathError, private_directory
from .protocol import ENV_CHANNEL, ENV_JOB_ID, ENV_TOKEN, CancelMsg, encode_message
from .runtime_dir import RuntimeDirError, find_runtime_dir

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_JOB",
    "MAX_UNAUTHENTICATED",
    "MAX_WARNINGS_PER_CONNECTION",
    "SOCKET_NAME",
    "ChannelError",
    "ChannelServer",
    "OnMessage",
    "OnWarning",
    "default_channel_dir",
    "secure_directory",
]

_log = logging.getLogger(__name__)

SOCKET_NAME = "channel.sock"

#: Seconds a new connection has to send its ``hello``.
HELLO_TIMEOUT = 5.0
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, NUL included


class ChannelError(Exception):
    """The channel cannot be set up (unsafe directory, path too long, already served, ...)."""


# ---------------------------------------------------------------------------------------
# The private runtime directory
# ---------------------------------------------------------------------------------------


def default_channel_dir() -> Path:
    """``<user runtime dir>/jobdeck`` (see :func:`~jobdeck.runtime.runtime_dir.find_runtime_dir`).

    A refused candidate (``/tmp/runtime-<uid>`` created by another user, for example) is
    logged as a warning. Raises :class:`ChannelError` when no safe directory exists.
    """
    try:
        found = find_runtime_dir()
    except RuntimeDirError as exc:
        raise ChannelError(str(exc)) from exc
    serious = [r for r in found.refused if not r.startswith("XDG_RUNTIME_DIR is not set")]
    if serious:
        _log.warning("runtime directory: using %s (%s)", found.path, "; ".join(found.refused))
    return found.path / "jobdeck"


def secure_directory(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) private to this user, or make it so.

    An existing directory with wider permissions is narrowed to 0700. Raises
    :class:`ChannelError` when it is a symlink or not a directory, or when it or its parent
    belongs to another user (a parent owned by root is fine).
    """
    try:
        return private_directory(directory)
    except UnsafePathError as exc:
        raise ChannelError(str(exc)) from exc


class ChannelServer(ConnectionHandling):
    """Serves the progress channel of every process job on one Unix socket.

    ``on_message(job_id, message)`` and ``on_warning(job_id, text)`` are called on the
    server's own thread (never the caller's), one at a time. The authenticated ``hello`` of
    each connection is delivered to ``on_message`` too, so the caller learns that a job has
    (re)connected. ``on_warning`` gets ``job_id=None`` for a connection that never proved
    which job it is (rate-limited, see the module docstring). A callback that raises is
    logged; the server carries on.

    All public methods are thread-safe. Use: ``start()``, ``register()`` each job before its
    process starts, ``drain()`` once it has ended, ``unregister()`` it when it is finished,
    ``close()`` at the end. ``hello_timeout`` and the ``max_*`` limits are there for tests;
    the defaults are the module's constants.
    """

    def __init__(
        self,
        on_message: OnMessage,
        on_warning: OnWarning,
        directory: Path | None = None,
        *,
        hello_timeout: float = HELLO_TIMEOUT,
        max_unauthenticated: int = MAX_UNAUTHENTICATED,
        max_per_job: int = MAX_CONNECTIONS_PER_JOB,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._on_message = on_message
        self._on_warning = on_warning
        self.directory: Path = Path(directory) if directory is not None else default_channel_dir()
        self.path: Path = self.directory / SOCKET_NAME
        self._hello_timeout = hello_timeout
        self._max_unauthenticated = max_unauthenticated
        self._max_per_job = max_per_job
        self._max_connections = max_connections
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._connections: set[_Connection] = set()
        self._in_accept = 0  # connections being accepted (guarded by _lock)
        #: Connections still waiting for their hello, oldest first (server thread only).
        self._unauthenticated: dict[_Connection, None] = {}
        self._per_job: dict[str, int] = {}  # server thread only
        self._commands: list[Callable[[], None]] = []
        self._drains: list[_Drain] = []  # server thread only
        self._listener: socket.socket | None = None
        self._accepting = True
        self._accept_resumes = 0.0
        self._spare_fd: int | None = None
        self._socket_inode: tuple[int, int] | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._app_log = _RateLimitedLog(WARNING_INTERVAL)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Create the private directory, bind the socket and start serving.

        Raises :class:`ChannelError` if the directory is unsafe, the path is too long for a
        Unix socket, or another live server already listens on it. A stale socket file left
        by a crashed app is replaced.
        """
        if self._thread is not None:
            raise RuntimeError("ChannelServer.start() called twice")
        if len(os.fsencode(self.path)) > _SUN_PATH_MAX:
            raise ChannelError(
                f"socket path {self.path} is longer than {_SUN_PATH_MAX} bytes, "
                "the limit for a Unix socket; use a shorter directory"
            )
        secure_directory(self.directory)
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fspath(self.path))
            os.chmod(self.path, 0o600)
            listener.listen(128)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise ChannelError(f"cannot listen on {self.path}: {exc.strerror or exc}") from exc
        info = os.stat(self.path)
        self._socket_inode = (info.st_dev, info.st_ino)
        self._listener = listener
        self._spare_fd = _open_spare_fd()
        self._wake_read.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="jobdeck-channel", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving, close every connection and remove the socket file. Idempotent."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        thread = self._thread
        if thread is not None:
            self._wake()
            if thread is not threading.current_thread():
                thread.join(5.0)
        for conn in list(self._connections):
            self._drop(conn)
        for drain in self._drains:
            drain.done.set()
        if self._listener is not None:
            self._listener.close()
            self._unlink_own_socket()
        if self._spare_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._spare_fd)
            self._spare_fd = None
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def __enter__(self) -> ChannelServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def native_thread_id(self) -> int | None:
        """The OS id of the server thread while it runs (to measure its CPU time)."""
        thread = self._thread
        return None if thread is None else thread.native_id

    # ------------------------------------------------------------------ jobs

    def register(self, job_id: str, token: str | None = None) -> dict[str, str]:
        """Allow ``job_id`` to connect; return the environment variables for its process.

        A new random token is made unless ``token`` is given (re-registering a job recovered
        after a restart, whose process already holds its token). Registering again replaces
        the token. Returns ``{JOBDECK_CHANNEL, JOBDECK_JOB_ID, JOBDECK_TOKEN}``.
        """
        if not isinstance(job_id, str) or not job_id:
            raise ValueError(f"job_id must be a non-empty string, got {job_id!r}")
        if token is None:
            token = secrets.token_urlsafe(32)
        elif not isinstance(token, str) or not token:
            raise ValueError(f"token must be a non-empty string, got {token!r}")
        with self._lock:
            self._tokens[job_id] = token
        return {ENV_CHANNEL: os.fspath(self.path), ENV_JOB_ID: job_id, ENV_TOKEN: token}

    def unregister(self, job_id: str) -> None:
        """Forget ``job_id``: its token stops working and its open connections are closed."""
        with self._lock:
            self._tokens.pop(job_id, None)
            if not any(c.job_id == job_id for c in self._connections):
                return  # nothing to close; a connection yet to say hello will be refused
        self._run_on_server_thread(lambda: self._close_job_connections(job_id))

    def connected(self, job_id: str) -> bool:
        """True while ``job_id`` has at least one authenticated, open connection."""
        with self._lock:
            return any(c.job_id == job_id and not c.closing for c in self._connections)

    def connection_count(self) -> int:
        """How many connections are open (authenticated or not)."""
        with self._lock:
            return len(self._connections)

    def drain(self, job_id: str, timeout: float) -> bool:
        """Wait until nothing ``job_id`` may have sent is left unread; True when so.

        Call it once the job's process has ended, before judging its outcome: it returns
        when the server has accepted every connection waiting in the socket's backlog and
        read and delivered everything readable on the job's connections and on connections
        that have not yet said who they are (one of them may be the job's). Connections that
        merely stay open and silent (a descendant holding the socket) do not hold it up.
        False after ``timeout`` seconds (something kept sending) or when not serving.
        """
        waiter = _Drain(job_id)
        with self._lock:
            if self._thread is None or self._stopping:
                return False
            if self._nothing_to_drain(job_id):
                return True
            self._commands.append(lambda: self._drains.append(waiter))
        self._wake()
        if waiter.done.wait(timeout):
            return not self._stopping
        self._run_on_server_thread(lambda: self._forget_drain(waiter))
        return False

    def _nothing_to_drain(self, job_id: str) -> bool:
        """A quick look (caller holds the lock) that spares a job that never used the
        channel a round trip through the server thread: no connection of the job's, none
        that has not said who it is, none being accepted and none in the backlog."""
        if self._in_accept or any(c.job_id in (job_id, None) for c in self._connections):
            return False
        listener = self._listener
        return listener is None or not self._accepting or not _readable([listener])

    def send_cancel(self, job_id: str, reason: str | None = None) -> bool:
        """Ask ``job_id`` to stop, on every connection it has open.

        Returns False (sending nothing) when the job has no live connection, so the caller
        can go straight to signals.
        """
        line = encode_message(CancelMsg(job_id, time.time(), reason))
        with self._lock:
            targets = [c for c in self._connections if c.job_id == job_id and not c.closing]
        if not targets:
            return False
        self._run_on_server_thread(lambda: self._queue_send(targets, line))
        return True

    # ------------------------------------------------------------------ server thread

    def _run_on_server_thread(self, command: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or self._stopping:
                return
            self._commands.append(command)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_write.send(b"x")

    def _serve(self) -> None:
        while not self._stopping:
            try:
                events = self._selector.select(self._next_timeout())
            except OSError:
                if self._stopping:
                    return
                raise
            for key, mask in events:
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        self._wake_read.recv(4096)
                    self._run_commands()
                else:
                    self._service(key.data, mask)
            now = time.monotonic()
            self._expire_hellos(now)
            if not self._accepting and now >= self._accept_resumes:
                self._resume_accepting()
            if self._drains:
                self._check_drains()

    def _next_timeout(self) -> float | None:
        """Seconds until the next hello deadline or accept resumption; None: none pending."""
        due: list[float] = []
        if self._unauthenticated:
            due.append(next(iter(self._unauthenticated)).hello_deadline)
        if not self._accepting:
            due.append(self._accept_resumes)
        if not due:
            return None
        return max(0.0, min(due) - time.monotonic())

    def _service(self, conn: _Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ and conn.sock.fileno() >= 0:
                self._read(conn)
            if mask & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                self._flush(conn)
        except Exception:  # a bug here must cost one connection, never the whole channel
            _log.exception("channel connection of job %s failed; closing it", conn.job_id)
            self._drop(conn)

    def _run_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for command in commands:
            try:
                command()
            except Exception:
                _log.exception("channel server command failed")

    # -- draining

    def _check_drains(self) -> None:
        """Finish the drains whose job has nothing left to read (see :meth:`drain`)."""
        if self._listener is not None and self._accepting and _readable([self._listener]):
            return  # accept the backlog first: one of them may be a drained job's
        if _readable([c.sock for c in self._unauthenticated]):
            return
        waiting = []
        for drain in self._drains:
            socks = [c.sock for c in self._connections if c.job_id == drain.job_id]
            if socks and _readable(socks):
                waiting.append(drain)
            else:
                drain.done.set()
        self._drains = waiting

    def _forget_drain(self, drain: _Drain) -> None:
        if drain in self._drains:
            self._drains.remove(drain)

    # ------------------------------------------------------------------ socket file

    def _remove_stale_socket(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ChannelError(f"{self.path} exists and is not a socket; remove it first")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(os.fspath(self.path))
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise ChannelError(f"cannot check {self.path}: {exc.strerror or exc}") from exc
        else:
            raise ChannelError(f"another Jobdeck is already serving the channel at {self.path}")
        finally:
            probe.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _unlink_own_socket(self) -> None:
        """Remove the socket file, unless another server has replaced it meanwhile."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == self._socket_inode:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
