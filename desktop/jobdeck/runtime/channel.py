"""The app side of the progress channel: one Unix-domain socket that every process job talks to.

:class:`ChannelServer` listens on ``<runtime dir>/channel.sock``, where the runtime dir is
``platformdirs.user_runtime_dir() / "jobdeck"``, private to the user (mode 0700). The path is
the same every time the app starts, so a job that outlived the app reconnects to the next one.

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

No Qt here; the Runner wraps it.
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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .protocol import (
    ENV_CHANNEL,
    ENV_JOB_ID,
    ENV_TOKEN,
    CancelMsg,
    Hello,
    LineBuffer,
    Message,
    ProtocolError,
    encode_message,
    parse_message,
)

__all__ = [
    "MAX_WARNINGS_PER_CONNECTION",
    "SOCKET_NAME",
    "ChannelError",
    "ChannelServer",
    "default_channel_dir",
    "secure_directory",
]

_log = logging.getLogger(__name__)

SOCKET_NAME = "channel.sock"

#: Bad-input warnings reported per connection before the rest are dropped silently.
MAX_WARNINGS_PER_CONNECTION = 100

_RECV_CHUNK = 64 * 1024
_MAX_OUTBOX_BYTES = 64 * 1024  # what we queue for a job that does not read its socket
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, NUL included

OnMessage = Callable[[str, Message], None]
OnWarning = Callable[[str | None, str], None]


class ChannelError(Exception):
    """The channel cannot be set up (unsafe directory, path too long, already served, ...)."""


# ---------------------------------------------------------------------------------------
# The private runtime directory
# ---------------------------------------------------------------------------------------


def default_channel_dir() -> Path:
    """``<user runtime dir>/jobdeck``; falls back to ``/tmp/runtime-<uid>`` like platformdirs."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir()) / "jobdeck"


def secure_directory(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) private to this user, or make it so.

    An existing directory with wider permissions is narrowed to 0700. Raises
    :class:`ChannelError` when it is a symlink or not a directory, or when it or its parent
    belongs to another user (a parent owned by root is fine).
    """
    missing = [p for p in (directory, *directory.parents) if not os.path.lexists(p)]
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # created meanwhile by someone else: checked below
        except OSError as exc:
            raise ChannelError(f"cannot create {path}: {exc.strerror or exc}") from exc
    uid = os.getuid()
    try:
        info = os.lstat(directory)
        parent = os.stat(directory.parent)
    except OSError as exc:
        raise ChannelError(f"cannot inspect {directory}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise ChannelError(f"refusing to use {directory}: it is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise ChannelError(f"refusing to use {directory}: it is not a directory")
    if info.st_uid != uid:
        raise ChannelError(
            f"refusing to use {directory}: it belongs to user id {info.st_uid}, not to you ({uid})"
        )
    if parent.st_uid not in (uid, 0):
        raise ChannelError(
            f"refusing to use {directory}: its parent belongs to user id {parent.st_uid}"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        try:
            os.chmod(directory, 0o700)
        except OSError as exc:
            raise ChannelError(f"cannot make {directory} private: {exc.strerror or exc}") from exc
    return directory


# ---------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Connection:
    """One accepted socket: its line framing, who it is once authenticated, what to send."""

    sock: socket.socket
    lines: LineBuffer = field(default_factory=LineBuffer)
    job_id: str | None = None
    outbox: bytearray = field(default_factory=bytearray)
    warnings: int = 0
    closing: bool = False  # close once the outbox is written


class ChannelServer:
    """Serves the progress channel of every process job on one Unix socket.

    ``on_message(job_id, message)`` and ``on_warning(job_id, text)`` are called on the
    server's own thread (never the caller's), one at a time. The authenticated ``hello`` of
    each connection is delivered to ``on_message`` too, so the caller learns that a job has
    (re)connected. ``on_warning`` gets ``job_id=None`` for a connection that never proved
    which job it is. A callback that raises is logged; the server carries on.

    All public methods are thread-safe. Use: ``start()``, ``register()`` each job before its
    process starts, ``unregister()`` it when it is finished, ``close()`` at the end.
    """

    def __init__(
        self,
        on_message: OnMessage,
        on_warning: OnWarning,
        directory: Path | None = None,
    ) -> None:
        self._on_message = on_message
        self._on_warning = on_warning
        self.directory: Path = Path(directory) if directory is not None else default_channel_dir()
        self.path: Path = self.directory / SOCKET_NAME
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._connections: set[_Connection] = set()
        self._commands: list[Callable[[], None]] = []
        self._listener: socket.socket | None = None
        self._socket_inode: tuple[int, int] | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._thread: threading.Thread | None = None
        self._stopping = False

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
            listener.listen(64)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise ChannelError(f"cannot listen on {self.path}: {exc.strerror or exc}") from exc
        info = os.stat(self.path)
        self._socket_inode = (info.st_dev, info.st_ino)
        self._listener = listener
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
        if self._listener is not None:
            self._listener.close()
            self._unlink_own_socket()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def __enter__(self) -> ChannelServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        self._run_on_server_thread(lambda: self._close_job_connections(job_id))

    def connected(self, job_id: str) -> bool:
        """True while ``job_id`` has at least one authenticated, open connection."""
        with self._lock:
            return any(c.job_id == job_id and not c.closing for c in self._connections)

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
                events = self._selector.select()
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

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the others
                _log.warning("cannot accept a channel connection: %s", exc)
                return
            sock.setblocking(False)
            conn = _Connection(sock)
            with self._lock:
                self._connections.add(conn)
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(_RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        items = conn.lines.feed(data) if data else conn.lines.flush()
        for item in items:
            if conn.sock.fileno() < 0 or conn.closing:
                break
            self._handle(conn, item)
        if not data:
            self._drop(conn)

    def _handle(self, conn: _Connection, item: bytes | ProtocolError) -> None:
        if isinstance(item, ProtocolError):
            self._bad_input(conn, str(item))
            return
        try:
            msg = parse_message(item)
        except ProtocolError as exc:
            self._bad_input(conn, str(exc))
            return
        if conn.job_id is None:
            self._authenticate(conn, msg)
            return
        if msg.job_id != conn.job_id:
            self._refuse(
                conn,
                conn.job_id,
                f"refused connection: job {conn.job_id} sent a message for job {msg.job_id}",
            )
        elif isinstance(msg, Hello):
            self._bad_input(conn, "hello sent again on an authenticated connection; ignored")
        elif isinstance(msg, CancelMsg):
            self._bad_input(conn, "cancel is sent by Jobdeck to the job, not the other way")
        else:
            self._deliver(conn.job_id, msg)

    def _authenticate(self, conn: _Connection, msg: Message) -> None:
        if not isinstance(msg, Hello):
            self._refuse(
                conn, None, f"refused connection: first message must be hello, got {msg.TYPE}"
            )
            return
        with self._lock:
            expected = self._tokens.get(msg.job_id)
        if expected is None:
            self._refuse(conn, None, f"refused connection: unknown job {msg.job_id}")
        elif not secrets.compare_digest(msg.token.encode(), expected.encode()):
            self._refuse(conn, msg.job_id, f"refused connection: wrong token for job {msg.job_id}")
        else:
            with self._lock:
                conn.job_id = msg.job_id
            self._deliver(msg.job_id, msg)

    def _bad_input(self, conn: _Connection, text: str) -> None:
        if conn.job_id is None:  # an unauthenticated peer gets no second chance
            self._refuse(conn, None, f"refused connection: {text}")
            return
        conn.warnings += 1
        if conn.warnings < MAX_WARNINGS_PER_CONNECTION:
            self._warn(conn.job_id, f"dropped a channel message: {text}")
        elif conn.warnings == MAX_WARNINGS_PER_CONNECTION:
            self._warn(
                conn.job_id,
                f"dropped a channel message: {text} "
                f"({MAX_WARNINGS_PER_CONNECTION} bad messages; further ones dropped silently)",
            )

    def _refuse(self, conn: _Connection, job_id: str | None, text: str) -> None:
        self._warn(job_id, text)
        self._drop(conn)

    def _deliver(self, job_id: str, msg: Message) -> None:
        try:
            self._on_message(job_id, msg)
        except Exception:
            _log.exception("on_message callback failed for job %s", job_id)

    def _warn(self, job_id: str | None, text: str) -> None:
        try:
            self._on_warning(job_id, text)
        except Exception:
            _log.exception("on_warning callback failed for job %s", job_id)

    def _queue_send(self, targets: list[_Connection], line: bytes) -> None:
        for conn in targets:
            if conn not in self._connections or conn.closing:
                continue
            if len(conn.outbox) + len(line) > _MAX_OUTBOX_BYTES:
                self._warn(conn.job_id, "job does not read its channel; a cancel was not sent")
                continue
            conn.outbox += line
            self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        try:
            sent = conn.sock.send(conn.outbox)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(conn)
            return
        del conn.outbox[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(conn.sock, events, conn)

    def _close_job_connections(self, job_id: str) -> None:
        for conn in [c for c in self._connections if c.job_id == job_id]:
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        with self._lock:
            conn.closing = True
            self._connections.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

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
