"""The app's connection to its store's supervisor service (no Qt).

:class:`SupervisorClient` finds the store's :mod:`~jobdeck.runtime.supervisor_service` on
its Unix socket, starts it when none runs (:func:`service_command`: ``jobdeck _supervise``
in a frozen bundle, the interpreter in isolated mode otherwise), asks it to start programs
and hears when their ends are recorded. One reader thread per connection calls back:
``on_reply(message)`` once per :meth:`~SupervisorClient.spawn` (``started`` or
``start_failed``; when the connection broke first, what
:func:`~jobdeck.runtime.lost_start.judge_lost_starts` finds: ``started``, ``start_failed``,
or ``lost`` when it cannot be known) and ``on_news(record)``
for a watched job that ended (the fields of its final record), or ``on_news(None)`` when
the connection broke (the watcher then looks at the record file and the service's pid).
A callback may take a while (a short job's end is judged and recorded, and the next job
started, from ``on_news``); it must never wait for another message of this connection.
:meth:`~SupervisorClient.forget` tells the service the app has stored an end.

:meth:`~SupervisorClient.queue` hands over a program that starts next, the moment one of
this connection's programs ends (see the service): its ``on_reply`` gets the ``started``
(or ``start_failed``) answer, marked ``queued``, when it took an ended program's place,
which comes in that end's message (``then``) and is handled right after it, in the same
block; messages of that program in the same read are handled in a block of their own,
after the one that heard it start. :meth:`~SupervisorClient.withdraw` takes a queued
program back.

A service that says so in its hello (:data:`ENV_BASE`) is sent an environment once per
connection, and each request only its program's differences from it (see
:meth:`~SupervisorClient._encode_locked`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import jobdeck

from .private_files import open_private_append, private_directory
from .runtime_dir import RuntimeDirError, find_runtime_dir

__all__ = ["SupervisorClient", "service_command", "socket_path_for"]

_log = logging.getLogger(__name__)

#: Seconds a freshly started service may take to accept connections.
LAUNCH_TIMEOUT = 30.0
#: Seconds :meth:`SupervisorClient.close` waits for the service to let go of the connection.
CLOSE_TIMEOUT = 3.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere
#: Bytes the reader thread asks the socket for at once.
READ_SIZE = 65536

#: The feature (in the ``features`` of a service's hello) of taking a program's
#: environment as its differences from one sent once per connection (``env``, see
#: :meth:`SupervisorClient._encode_locked`).
ENV_BASE = "env_base"
#: A program's environment that differs from its connection's in more variables than
#: this is sent whole, as the connection's environment from then on.
ENV_REBASE_AT = 16

OnReply = Callable[[dict[str, Any]], None]
#: A request not sent yet: its op and the record it is about.
_Request = tuple[str, dict[str, Any]]
OnNews = Callable[[dict[str, Any] | None], None]


def socket_path_for(records_dir: Path) -> Path:
    """Where the service of ``records_dir`` listens: ``<runtime dir>/jobdeck/`` (private),
    named after the records directory, so each store has its own. The records directory
    itself when no runtime directory is safe and its path is short enough. OSError when
    neither will do."""
    digest = hashlib.sha256(os.fsencode(records_dir.resolve())).hexdigest()[:16]
    problem = ""
    try:
        folder = private_directory(find_runtime_dir().path / "jobdeck")
        path = folder / f"supervisor-{digest}.sock"
        if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
            return path
        problem = f"{path} is too long for a socket"
    except (RuntimeDirError, OSError) as exc:
        problem = str(exc)
    path = records_dir / "supervisor.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    raise OSError(f"no place for the supervisor's socket: {problem}; {path} is too long")


def service_command(records_dir: Path, socket_path: Path) -> list[str]:
    """The command that runs the supervisor service of ``records_dir``.

    A frozen bundle re-invokes its own program (``jobdeck _supervise ...``); otherwise the
    interpreter runs in isolated mode without ``site`` (quick to start, and immune to the
    user's environment), importing only the standard library and Jobdeck's Qt-free
    supervisor modules from where this Jobdeck is.
    """
    args = ["--serve", os.fspath(records_dir), os.fspath(socket_path)]
    if getattr(sys, "frozen", False):
        return [sys.executable, "_supervise", *args]
    source_root = os.fspath(Path(jobdeck.__file__).resolve().parent.parent)
    boot = (
        f"import sys; sys.path.append({source_root!r}); "
        "from jobdeck.runtime.supervisor import main; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-I", "-S", "-c", boot, *args]


class SupervisorClient:
    """A connection to the supervisor service of one records directory. Thread-safe.

    Connects (starting the service if needed) on the first :meth:`spawn`, or on
    :meth:`connect_if_running` without starting one. ``service_pid`` and
    ``service_start_time`` say which process the service is, once connected.
    """

    def __init__(self, records_dir: Path, socket_path: Path | None = None) -> None:
        self.records_dir = records_dir
        self._socket_path = socket_path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        #: The spawn requests waiting for their answer: the connection each went on (None:
        #: held back, not sent yet) and who gets the answer.
        self._pending: dict[str, tuple[socket.socket | None, OnReply]] = {}
        self._watchers: dict[str, OnNews] = {}
        #: The service (pid, start time) at the other end of each connection, while it is up.
        self._service_of: dict[socket.socket, tuple[int | None, float | None]] = {}
        #: The withdraw requests waiting for their answer (see :meth:`withdraw`).
        self._withdrawing: dict[str, Callable[[bool], None]] = {}
        #: ``forget`` lines held back to go with the next request (see :meth:`forget`).
        self._forgotten: list[bytes] = []
        #: What the service at the other end of each connection can do beyond the first
        #: protocol (the ``features`` of its hello, see :data:`ENV_BASE`).
        self._features: dict[socket.socket, frozenset[str]] = {}
        #: The environment sent once on each connection (its number and the values) that
        #: the requests on it give only their differences from (see :meth:`_encode_locked`).
        self._env_bases: dict[socket.socket, tuple[int, dict[str, str]]] = {}
        self._closed = False
        self.service_pid: int | None = None
        self.service_start_time: float | None = None
        #: How many connections were made so far. A watcher that last looked at its record
        #: on an earlier one looks again: an end told while none was up is only in the file.
        self.connections = 0
        self._reader: threading.Thread | None = None
        #: Wraps the handling of the messages that came in one read (None: nothing does):
        #: the process executor records the ends among them, and starts the jobs that
        #: follow, in one commit as the block ends (see ``ProcessExecutor``).
        self.read_together: Callable[[], AbstractContextManager[object]] | None = None
        #: Called (reader thread) with the job id of an ended program whose place a queued
        #: one took (see :meth:`queue`) and the ids of those started in its place, before
        #: that end is told to its watcher.
        self.on_replaced: Callable[[str, list[str]], None] | None = None
        #: Called (reader thread) once per :meth:`start_queued` that started nothing (the
        #: service said ``queue_empty``, or the connection broke before it answered).
        self.on_queue_empty: Callable[[], None] | None = None
        #: start_queued requests sent and not answered yet (see :meth:`_connection_lost`).
        self._nudges = 0
        #: ``held``: on the reader thread while it handles one read, the spawn requests
        #: made meanwhile, sent together once it is done (see :meth:`_send_held`).
        self._local = threading.local()

    @property
    def socket_path(self) -> Path:
        if self._socket_path is None:
            self._socket_path = socket_path_for(self.records_dir)
        return self._socket_path

    # -- connecting -------------------------------------------------------------------------

    def connect_if_running(self) -> bool:
        """Connect to the service if one runs (never start one); True when connected."""
        with self._lock:
            if self._sock is not None:
                return True
            try:
                self._connect_locked()
            except OSError:
                return False
            return True

    def connect(self) -> None:
        """Connect to the service, starting it when none runs. OSError if it can't."""
        with self._lock:
            self._ensure_connected_locked()

    def _ensure_connected_locked(self) -> None:
        if self._sock is not None:
            return
        try:
            self._connect_locked()
            return
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
            pass  # none runs, or the one there was exiting as we connected: start one
        self._launch()
        self._connect_locked()

    def _connect_locked(self) -> None:
        if self._closed:
            raise OSError("the connection to the supervisor is closed")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(LAUNCH_TIMEOUT)
            sock.connect(os.fspath(self.socket_path))
            first, rest = _read_line(sock)
            hello = json.loads(first or b"null")
            if not isinstance(hello, dict) or hello.get("op") != "hello":
                raise ConnectionRefusedError("the supervisor did not say hello")
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self.service_pid = hello.get("pid")
        self.service_start_time = hello.get("start_time")
        self._service_of[sock] = (self.service_pid, self.service_start_time)
        features = hello.get("features")
        self._features[sock] = frozenset(
            f for f in (features if isinstance(features, list) else ()) if isinstance(f, str)
        )
        self._sock = sock
        self.connections += 1
        self._reader = threading.Thread(
            target=self._read, args=(sock, rest), name="jobdeck-supervisor-client", daemon=True
        )
        self._reader.start()

    def _launch(self) -> None:
        """Start the service and wait until it accepts connections. OSError if it can't."""
        private_directory(self.records_dir)
        command = service_command(self.records_dir, self.socket_path)
        with open_private_append(self.records_dir / "supervisor.log") as errors:
            launcher = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
                close_fds=True,
                env=_service_environment(),
            )
        assert launcher.stdout is not None
        said = b""
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        with launcher.stdout:
            poller = select.poll()
            poller.register(launcher.stdout.fileno(), select.POLLIN)
            while time.monotonic() < deadline:
                if poller.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
                    chunk = os.read(launcher.stdout.fileno(), 64)
                    if not chunk:
                        break
                    said += chunk
        try:
            status = launcher.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
            raise OSError(f"the supervisor did not start within {LAUNCH_TIMEOUT:g} s") from None
        if said.strip() not in (b"ok", b"busy"):
            raise OSError(
                f"the supervisor did not start (exit status {status}; its errors are in "
                f"{self.records_dir / 'supervisor.log'})"
            )

    # -- requests ---------------------------------------------------------------------------

    def spawn(self, record: dict[str, Any], on_reply: OnReply) -> None:
        """Ask the service to start the program ``record`` describes (the fields of a
        :class:`~jobdeck.runtime.supervisor.SupervisorRecord`). Returns at once;
        ``on_reply`` gets the answer on the reader thread. OSError when the service cannot
        be reached or started."""
        self._ask("spawn", record, on_reply)

    def queue(self, record: dict[str, Any], on_reply: OnReply) -> None:
        """Hand over the program ``record`` describes, to start the moment one of this
        connection's programs ends (after those queued before it). ``on_reply`` gets its
        answer (``queued``: true) once it started or failed to; ``lost`` if the
        connection breaks first (the service let go of it, unless it had started). OSError
        when the service cannot be reached or started."""
        self._ask("queue", record, on_reply)

    def withdraw(self, job_id: str, on_answer: Callable[[bool], None]) -> None:
        """Take back the program of ``job_id`` handed over by :meth:`queue`: ``on_answer``
        gets False (it will not start; its ``on_reply`` is never called) or True (it had
        started: its answer came first), on the reader thread. Nothing when the
        connection is down (its ``on_reply`` gets ``lost`` then)."""
        line = json.dumps({"op": "withdraw", "job_id": job_id}).encode() + b"\n"
        with self._lock:
            sock = self._sock
            if sock is None:
                return
            self._withdrawing[job_id] = on_answer
            try:
                sock.sendall(line)
            except OSError:
                self._withdrawing.pop(job_id, None)
                self._forget_locked(sock)

    def start_queued(self, count: int = 1) -> None:
        """Ask the service to start the first ``count`` programs queued by this connection
        now (one of ours ended before the next was queued): each answer goes to its
        ``on_reply`` as if it had taken an ended program's place. Nothing when the
        connection is down."""
        if getattr(self._local, "held", None) is not None:  # after the requests held back
            self._local.nudges = getattr(self._local, "nudges", 0) + count
            return
        with self._lock:
            sock = self._sock
            if sock is not None:
                self._nudges += count
                try:
                    sock.sendall(_START_QUEUED * count)
                    return
                except OSError:
                    self._forget_locked(sock)  # (its reader tells them, see _connection_lost)
                    return
        for _ in range(count):
            self._queue_was_empty()

    def _queue_was_empty(self) -> None:
        if self.on_queue_empty is not None:
            _call(self.on_queue_empty)

    def _ask(self, op: str, record: dict[str, Any], on_reply: OnReply) -> None:
        job_id = record["job_id"]
        request = (op, record)
        held: list[tuple[str, _Request, OnReply]] | None = getattr(self._local, "held", None)
        if held is not None:  # the reader thread, handling what one read brought
            with self._lock:
                self._pending[job_id] = (None, on_reply)
            held.append((job_id, request, on_reply))
            return
        self._request(job_id, request, on_reply)

    def _request(self, job_id: str, request: _Request, on_reply: OnReply) -> None:
        """Send a spawn request (with the ``forget`` lines held back), connecting first
        (or again, once) if need be. OSError when the service cannot be reached."""
        with self._lock:
            forgotten = b""
            for attempt in (1, 2):
                self._ensure_connected_locked()
                sock = self._sock
                assert sock is not None
                line = self._encode_locked(sock, *request)  # (TypeError: not JSON)
                if attempt == 1:
                    forgotten, self._forgotten = b"".join(self._forgotten), []
                line = forgotten + line
                self._pending[job_id] = (sock, on_reply)
                try:
                    sock.sendall(line)
                    return
                except OSError:
                    self._pending.pop(job_id, None)
                    self._forget_locked(sock)
                    if attempt == 2:
                        raise

    def _encode_locked(self, sock: socket.socket, op: str, record: dict[str, Any]) -> bytes:
        """The line asking ``sock``'s service to ``op`` the program of ``record``.

        A service that says it can (:data:`ENV_BASE`) is sent an environment once (the
        first program's, again when one differs from it in more than
        :data:`ENV_REBASE_AT` variables), each request on that connection giving only the
        variables its program's environment adds, changes or leaves out: a program's
        environment (1-10 KB) is neither encoded by the app nor decoded by the service
        for each program, only its few variables of its own (the job's id, its channel
        token...). The service makes each program's whole environment from them as the
        request comes in. An older service is sent the whole environment each time."""
        env = record.get("env")
        if not env or ENV_BASE not in self._features.get(sock, ()):
            return _line({"op": op, "record": record})
        base = self._env_bases.get(sock)
        overlay: dict[str, str] = {}
        unset: list[str] = []
        if base is not None:
            values = base[1]
            overlay = {name: value for name, value in env.items() if values.get(name) != value}
            # It leaves out some of the connection's variables only when it has fewer of
            # them than the connection has (counted from the few it adds: no set made).
            shared = len(env) - sum(1 for name in overlay if name not in values)
            if shared < len(values):
                unset = [name for name in values if name not in env]
        rebased = base is None or len(overlay) + len(unset) > ENV_REBASE_AT
        if rebased:
            base = (1 if base is None else base[0] + 1, dict(env))
            overlay, unset = {}, []
        assert base is not None
        request = {**record, "env": overlay, "env_base": base[0]}
        if unset:
            request["env_unset"] = unset
        line = _line({"op": op, "record": request})
        if rebased:  # (taken for sent only once both lines are made: see _send_held)
            line = _line({"op": "env", "number": base[0], "env": base[1]}) + line
            self._env_bases[sock] = base
        return line

    def watch(self, job_id: str, on_news: OnNews) -> None:
        """Call ``on_news`` when the end of ``job_id`` is recorded (or the connection breaks)."""
        with self._lock:
            self._watchers[job_id] = on_news

    def unwatch(self, job_id: str) -> None:
        with self._lock:
            self._watchers.pop(job_id, None)

    def forget(self, job_id: str, *, later: bool = False) -> None:
        """Tell the service the end of ``job_id`` is stored (it need not write it down).

        ``later``: with the next request (a job starting next: one message, one wake-up of
        the service, for both) or :meth:`flush`. Until then the service keeps the end in
        memory, and writes it down if this app goes; nothing is lost either way."""
        line = b'{"op": "forget", "job_id": ' + json.dumps(job_id).encode() + b"}\n"
        with self._lock:
            self._forgotten.append(line)
            if not later:
                self._flush_locked()

    def flush(self) -> None:
        """Send the ``forget`` lines held back (see :meth:`forget`)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if getattr(self._local, "held", None) is not None:
            return  # they go with the requests held back (see _dispatch_all)
        lines, self._forgotten = self._forgotten, []
        sock = self._sock
        if sock is None or not lines:
            return
        try:
            sock.sendall(b"".join(lines))
        except OSError:
            self._forget_locked(sock)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # -- the reader thread ------------------------------------------------------------------

    def _read(self, sock: socket.socket, buffer: bytes) -> None:
        """The reader thread: the messages of one read from the socket are handled
        together, inside :attr:`read_together` (several ends: one commit for them all)."""
        try:
            while True:
                *lines, buffer = buffer.split(b"\n")
                if lines:
                    self._dispatch_all(lines)
                chunk = sock.recv(READ_SIZE)
                if not chunk:
                    break
                buffer += chunk
        except (OSError, ValueError):
            pass
        finally:
            self._connection_lost(sock)

    def _dispatch_all(self, lines: list[bytes]) -> None:
        messages = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                _log.warning("supervisor: unreadable message %r", line[:200])
                continue
            if isinstance(message, dict):
                messages.append(message)
        for block in _blocks(messages):
            self._dispatch_block(block)

    def _dispatch_block(self, messages: list[dict[str, Any]]) -> None:
        together = self.read_together
        self._local.held = []
        try:
            if together is None:
                for message in messages:
                    self._dispatch(message)
            else:
                with together():
                    for message in messages:
                        self._dispatch(message)
        except Exception:
            _log.exception("supervisor client: handling the messages read together failed")
        finally:
            held, self._local.held = self._local.held, None
            nudges, self._local.nudges = getattr(self._local, "nudges", 0), 0
            self._send_held(held, nudges)

    def _send_held(self, held: list[tuple[str, _Request, OnReply]], nudges: int = 0) -> None:
        """Send the requests (and ``forget`` lines) made while handling one read, in one
        write: one wake-up of the service for all the programs that start next. If the
        connection broke meanwhile, each goes the usual way (connecting again).
        ``nudges``: how many ``start_queued`` go after them (see :meth:`start_queued`)."""
        unsendable: list[tuple[str, OnReply, Exception]] = []
        try:
            self._send_held_now(held, nudges, unsendable)
        finally:  # (a request that is not JSON fails to start; the reader thread goes on)
            for job_id, on_reply, exc in unsendable:
                with self._lock:
                    self._pending.pop(job_id, None)
                error = f"its request could not be encoded: {exc}"
                _call(on_reply, {"op": "start_failed", "job_id": job_id, "error": error})

    def _send_held_now(
        self,
        held: list[tuple[str, _Request, OnReply]],
        nudges: int,
        unsendable: list[tuple[str, OnReply, Exception]],
    ) -> None:
        with self._lock:
            lines, self._forgotten = self._forgotten, []
            sock = self._sock
            if not (lines or held or nudges):
                return
            if sock is not None:
                sendable = []
                for job_id, request, on_reply in held:
                    try:
                        lines.append(self._encode_locked(sock, *request))
                    except (TypeError, ValueError) as exc:
                        unsendable.append((job_id, on_reply, exc))
                        continue
                    sendable.append((job_id, request, on_reply))
                    self._pending[job_id] = (sock, on_reply)
                held = sendable
                lines.append(_START_QUEUED * nudges)
                self._nudges += nudges
                try:
                    sock.sendall(b"".join(lines))
                    return
                except OSError:
                    self._forget_locked(sock)
                    nudges = 0  # (its reader tells them, see _connection_lost)
            for job_id, _, _ in held:
                self._pending.pop(job_id, None)
        for _ in range(nudges):
            self._queue_was_empty()
        for job_id, request, on_reply in held:
            try:
                self._request(job_id, request, on_reply)
            except OSError as exc:
                error = f"the supervisor could not be reached: {exc}"
                _call(on_reply, {"op": "start_failed", "job_id": job_id, "error": error})
            except (TypeError, ValueError) as exc:
                unsendable.append((job_id, on_reply, exc))

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        job_id = message.get("job_id")
        if message.get("nudged") or op == "queue_empty":  # a start_queued is answered
            with self._lock:
                self._nudges -= 1
            if op == "queue_empty":
                self._queue_was_empty()
        if not isinstance(job_id, str):
            return
        if op in ("started", "start_failed"):
            with self._lock:
                waiting = self._pending.pop(job_id, None)
            if waiting is not None:
                _call(waiting[1], message)
        elif op == "ended":
            # First the queued programs tried in its place: the one that took it is
            # counted as running before this end frees the slot it took.
            then = _then(message)
            for answer in then:
                self._dispatch(answer)
            on_replaced = self.on_replaced
            took = [a["job_id"] for a in then if a.get("op") == "started"]
            if on_replaced is not None and took:
                _call(on_replaced, job_id, took)
            with self._lock:
                on_news = self._watchers.get(job_id)
            record = message.get("record")
            if on_news is not None:
                _call(on_news, record if isinstance(record, dict) else None)
        elif op == "withdrawn":
            started = message.get("started") is not False
            with self._lock:
                on_answer = self._withdrawing.pop(job_id, None)
                if not started:
                    self._pending.pop(job_id, None)
            if on_answer is not None:
                _call(on_answer, started)

    def _connection_lost(self, sock: socket.socket) -> None:
        """The reader of ``sock`` stopped: what was asked on it gets the answer
        :func:`~jobdeck.runtime.lost_start.judge_lost_starts` finds (``started`` when the
        program did start after all, ``start_failed`` when it surely did not, else
        ``lost``), and every watcher ``on_news(None)`` (what it would have told is lost:
        they look at the records), also when ``sock`` was let go already (a send on it
        failed, and the next request may have connected again meanwhile)."""
        from .lost_start import judge_lost_starts

        with self._lock:
            self._forget_locked(sock)
            service = self._service_of.pop(sock, (None, None))
            self._features.pop(sock, None)
            self._env_bases.pop(sock, None)
            closing = self._closed
            self._withdrawing.clear()  # (what was queued hears ``lost``, unless it started)
            nudges, self._nudges = self._nudges, 0
            pending = [job_id for job_id, (on, _) in self._pending.items() if on is sock]
            replies = [(job_id, self._pending.pop(job_id)[1]) for job_id in pending]
            watchers = list(self._watchers.values())
        answers: dict[str, dict[str, Any]] = {}
        if replies:
            try:
                job_ids = [job_id for job_id, _ in replies]
                answers = judge_lost_starts(self.records_dir, job_ids, service, closing=closing)
            except Exception:  # (never leave a start unanswered)
                _log.exception("supervisor client: judging the starts on a lost connection failed")
        for job_id, on_reply in replies:
            unknown = {"op": "lost", "job_id": job_id, "error": "its start could not be judged"}
            answer = answers.get(job_id, unknown)
            _log.info("job %s: its start request met a broken connection: %s", job_id, answer)
            _call(on_reply, answer)
        for _ in range(nudges):
            self._queue_was_empty()
        for on_news in watchers:
            _call(on_news, None)

    def _forget_locked(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self._sock = None
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    # -- closing ----------------------------------------------------------------------------

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Let go of the service: it exits once it has no program left and no app connected.
        Waits (up to ``timeout`` s) until it has read our goodbye."""
        with self._lock:
            self._flush_locked()
            self._closed = True
            sock, reader = self._sock, self._reader
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the service sees our end and lets go
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
        with self._lock:
            self._forget_locked(sock)
        sock.close()


#: What the service keeps of the app's environment: each program gets its full environment
#: in its request, so the service needs none of the rest (and keeps nothing of it).
_SERVICE_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "XDG_RUNTIME_DIR")


def _service_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in _SERVICE_ENV if name in os.environ}


_START_QUEUED = b'{"op": "start_queued"}\n'


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _then(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers an ``ended`` message carries for the queued programs tried in its place."""
    then = message.get("then")
    if not isinstance(then, list):
        return []
    return [a for a in then if isinstance(a, dict) and isinstance(a.get("job_id"), str)]


def _blocks(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages of one read, cut into blocks handled one after the other: a message
    of a program whose queued start an earlier message of the block told (``then``) begins
    a new block, so that the block that heard it start (and records that start) is done
    before anything else of it is handled."""
    blocks: list[list[dict[str, Any]]] = [[]]
    started: set[str] = set()
    for message in messages:
        if message.get("job_id") in started:
            blocks.append([])
            started = set()
        blocks[-1].append(message)
        started.update(a["job_id"] for a in _then(message))
    return blocks


def _read_line(sock: socket.socket) -> tuple[bytes, bytes]:
    """The first line the socket says (without its newline), and what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(READ_SIZE)
        if not chunk:
            return data, b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


def _call(callback: Callable[..., None], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        _log.exception("supervisor client callback failed")
