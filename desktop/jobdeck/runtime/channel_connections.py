"""The channel server's connections: accepting them within limits, reading, authenticating
and answering them, closing them.

The connection half of :class:`~jobdeck.runtime.channel.ChannelServer` (a base class it
builds on); everything here runs on the server's own thread. A connection must open with a
``hello`` carrying a registered job id and its token, and every later message must carry the
same job id; bad input becomes a warning for the job it concerns (see
:mod:`jobdeck.runtime.channel` for the limits). No Qt.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .protocol import CancelMsg, Hello, LineBuffer, Message, ProtocolError, parse_message

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_JOB",
    "MAX_UNAUTHENTICATED",
    "MAX_WARNINGS_PER_CONNECTION",
    "WARNING_INTERVAL",
    "ConnectionHandling",
    "OnMessage",
    "OnWarning",
]

_log = logging.getLogger(__name__)

#: Bad-input warnings reported per connection before the rest are dropped silently.
MAX_WARNINGS_PER_CONNECTION = 100
#: Connections waiting for their ``hello`` at once; a new one closes the oldest.
MAX_UNAUTHENTICATED = 64
#: Open connections of one job (its helper reconnecting, a few sub-processes).
MAX_CONNECTIONS_PER_JOB = 16
#: Open connections in all.
MAX_CONNECTIONS = 512
#: Seconds between two app-log warnings of one kind about unidentified connections.
WARNING_INTERVAL = 10.0

_RECV_CHUNK = 64 * 1024
_MAX_OUTBOX_BYTES = 64 * 1024  # what we queue for a job that does not read its socket
_ACCEPT_PAUSE = 0.25  # seconds without accepting after the process ran out of descriptors

OnMessage = Callable[[str, Message], None]
OnWarning = Callable[[str | None, str], None]


@dataclass(eq=False)
class _Connection:
    """One accepted socket: its line framing, who it is once authenticated, what to send."""

    sock: socket.socket
    lines: LineBuffer = field(default_factory=LineBuffer)
    job_id: str | None = None
    outbox: bytearray = field(default_factory=bytearray)
    warnings: int = 0
    closing: bool = False  # close once the outbox is written
    hello_deadline: float = 0.0  # monotonic; only while job_id is None


@dataclass(eq=False)
class _Drain:
    """A caller waiting until a job's connections have nothing left to read."""

    job_id: str
    done: threading.Event = field(default_factory=threading.Event)


class _RateLimitedLog:
    """App-log warnings of one kind at most once per ``interval`` s, with a count of the
    ones held back meanwhile. Server thread only."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, kind: str, now: float) -> tuple[bool, int]:
        """(log it now?, how many of this kind were held back before it)."""
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False, 0
        self._last[kind] = now
        return True, self._held.pop(kind, 0)


class ConnectionHandling:
    """Accepting, reading, authenticating, answering and closing connections (see the
    module). Server thread only, except where a method says otherwise."""

    _on_message: OnMessage
    _on_warning: OnWarning
    _hello_timeout: float
    _max_unauthenticated: int
    _max_per_job: int
    _max_connections: int
    _lock: threading.Lock
    _in_accept: int
    _tokens: dict[str, str]
    _connections: set[_Connection]
    _unauthenticated: dict[_Connection, None]
    _per_job: dict[str, int]
    _listener: socket.socket | None
    _accepting: bool
    _accept_resumes: float
    _spare_fd: int | None
    _selector: selectors.BaseSelector
    _app_log: _RateLimitedLog

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            # A connection between the backlog and the connections is in flight: a drain's
            # quick look (see ChannelServer.drain) must not miss it.
            with self._lock:
                self._in_accept += 1
            try:
                if not self._accept_one():
                    return
            finally:
                with self._lock:
                    self._in_accept -= 1

    def _accept_one(self) -> bool:
        """Accept one connection from the backlog; False when there is none to take now."""
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                self._shed_one_connection()
            else:
                self._app_warning("accept", f"cannot accept a channel connection: {exc}")
            self._pause_accepting()  # never spin on a listener we cannot serve
            return False
        if len(self._connections) >= self._max_connections and not self._unauthenticated:
            sock.close()
            self._app_warning(
                "full",
                f"refused a channel connection: {self._max_connections} are open already",
            )
            return True
        if len(self._unauthenticated) >= self._max_unauthenticated or (
            len(self._connections) >= self._max_connections
        ):
            oldest = next(iter(self._unauthenticated))
            self._drop(oldest)
            self._app_warning(
                "crowded",
                f"closed a channel connection that had not said hello: more than "
                f"{self._max_unauthenticated} were waiting",
            )
        sock.setblocking(False)
        conn = _Connection(sock, hello_deadline=time.monotonic() + self._hello_timeout)
        with self._lock:
            self._connections.add(conn)
        self._unauthenticated[conn] = None
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self._read(conn)  # its hello is usually there already
        return True

    def _shed_one_connection(self) -> None:
        """Out of descriptors: accept the next connection on the spare one and close it."""
        assert self._listener is not None
        if self._spare_fd is not None:
            os.close(self._spare_fd)
            self._spare_fd = None
            with contextlib.suppress(OSError):
                sock, _ = self._listener.accept()
                sock.close()
            self._spare_fd = _open_spare_fd()
        self._app_warning(
            "emfile", "refused a channel connection: the app has run out of file descriptors"
        )

    def _pause_accepting(self) -> None:
        assert self._listener is not None
        if self._accepting:
            self._accepting = False
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._listener)
        self._accept_resumes = time.monotonic() + _ACCEPT_PAUSE

    def _resume_accepting(self) -> None:
        assert self._listener is not None
        self._accepting = True
        if self._spare_fd is None:
            self._spare_fd = _open_spare_fd()
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")

    def _expire_hellos(self, now: float) -> None:
        while self._unauthenticated:
            conn = next(iter(self._unauthenticated))
            if conn.hello_deadline > now:
                return
            self._drop(conn)
            self._app_warning(
                "silent",
                f"closed a channel connection that did not say hello within "
                f"{self._hello_timeout:g} s",
            )

    def _app_warning(self, kind: str, text: str) -> None:
        """A rate-limited warning about connections that never said who they are."""
        allowed, held = self._app_log.allow(kind, time.monotonic())
        if allowed:
            if held:
                text += f" ({held} more like this in the last {WARNING_INTERVAL:g} s)"
            self._warn(None, text)

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
        elif self._per_job.get(msg.job_id, 0) >= self._max_per_job:
            self._refuse(
                conn,
                msg.job_id,
                f"refused connection: job {msg.job_id} has {self._max_per_job} channel "
                "connections open already",
            )
        else:
            self._unauthenticated.pop(conn, None)
            self._per_job[msg.job_id] = self._per_job.get(msg.job_id, 0) + 1
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
        if job_id is None:
            self._app_warning("refused", text)
        else:
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
            if conn.closing and conn not in self._connections:
                return
            conn.closing = True
            self._connections.discard(conn)
        self._unauthenticated.pop(conn, None)
        if conn.job_id is not None:
            left = self._per_job.get(conn.job_id, 0) - 1
            if left > 0:
                self._per_job[conn.job_id] = left
            else:
                self._per_job.pop(conn.job_id, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)
        conn.sock.close()


def _open_spare_fd() -> int | None:
    """A descriptor kept in reserve to accept (and close) a connection when none is left."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _readable(socks: list[socket.socket]) -> bool:
    """True when any of ``socks`` has data (or an end of file) waiting; never blocks."""
    if not socks:
        return False
    poller = select.poll()
    for sock in socks:
        with contextlib.suppress(OSError, ValueError):
            poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
