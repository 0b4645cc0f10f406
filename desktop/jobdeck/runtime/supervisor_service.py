"""The supervisor service: one long-lived process per store that starts and watches programs.

One file of more than 500 lines on purpose: it runs as a program of its own (standard
library only, started by path or as ``jobdeck _supervise``), so it imports nothing else of
Jobdeck's but :mod:`.supervisor`.

A process job must outlive the app that started it (quit with "keep running", a crash,
SIGKILL), so its program is not the app's child: the store's supervisor service starts it.
One service serves every job of a store (a Python process per job cost >= 45 ms of CPU
each; this one costs a fork and a few writes per job). Standard library only, single
threaded, one ``selectors`` loop:

* **Clients** (apps, see :mod:`jobdeck.runtime.supervisor_client`) connect to a Unix
  socket (in a private 0700 directory; a peer of another user id is refused) and talk
  newline-delimited JSON. The service says ``hello`` (its pid and start time, and the
  ``features`` it has: :data:`FEATURES`); a client may send an environment once
  (``env``), which its requests then give only their programs' differences from; a client
  asks ``spawn`` (a :class:`~jobdeck.runtime.supervisor.SupervisorRecord`'s fields) and is
  answered ``started`` (pid, start time) or ``start_failed`` (a readable reason). The
  ``started`` answer waits :data:`REPLY_DELAY`: a program that ends sooner has it sent
  with its ``ended``, in one write (one wake-up of the app instead of two); every
  client hears ``ended`` (job id and the record) once a program's end is known, and says
  ``forget`` (job id) once it has stored that end (when the connection of the client
  that asked breaks before that, the clients connected since hear the end too). All that
  one wake-up of the loop has for a client goes in one write at its end (the ends of
  programs that ended together: one read, one wake-up and one commit of the app). What a
  client does not read at once
  (it is busy: a short job's end is recorded on its reading thread, and a commit may be
  slow) waits in its backlog: the service never waits for one client, and never drops
  one that is merely slow (only past :data:`MAX_BACKLOG`).
* **Queued programs**: a client may also hand over the programs that start next,
  ``queue`` (a record's fields, like ``spawn``). The service keeps them in order, per
  client, and starts the first one the moment a program that client asked for ends, in
  the same message as that end (its ``then``: the answers to the queued ones it tried,
  ``started`` or ``start_failed``, each with ``queued``: true; after a failure the next
  one is tried): a queue of short jobs does not wait for the app between one program and
  the next, and the app hears which program took the slot with the end that freed it.
  Such a start is not in the app's store yet (the store still says queued). Writing its
  record file at once cost 0.77 ms a job, so it is written as any other's (when the app
  goes, or after :data:`RECORD_DELAY`; ``extra["queued"]``: an app that goes before it
  stored the start leaves it for the next one to adopt), and until then one line in the
  service's *journal of queued starts* says it started (see :class:`_Journal`: one
  appending write, a few microseconds): if the service itself is killed before the app
  heard of the start, the app (:func:`~jobdeck.runtime.lost_start.judge_lost_starts`) or
  the next one (:mod:`~jobdeck.runtime.start_journal`) finds the program there instead of
  taking the job for queued still and running it again. ``start_queued`` starts the
  first queued one now (the client saw one of its programs end with no queued one to take
  its place): answered as above, one message each, the ``started`` one marked
  ``nudged``, or ending with ``queue_empty``.
  ``withdraw`` (job id) takes a queued one back: answered ``withdrawn`` with ``started``
  false (it will not start) or true (it started already: its ``started`` or
  ``start_failed`` went first). A client that goes takes its queued programs with it.
* **Programs** run in a session and process group of their own, their standard output and
  error going into a pipe the service copies into the job's log
  (:class:`~jobdeck.runtime.supervisor.LogWriter`: private, capped). Each is watched
  through a pidfd (polled where there is none) and reaped with ``wait4``, which also gives
  its resource use. Its peak memory is its own (see :meth:`SupervisorService._peak_of`):
  Linux counts the service's memory in the ``ru_maxrss`` of a program it spawned.
* **Records**: what the service knows of each program (pid, start time; then exit status,
  end time, resource use, where this attempt's output starts in the log) goes into the
  job's record file whenever no connected app holds it: when the program has run for
  :data:`RECORD_DELAY`, when the app that asked for it disconnects (quit, crash, SIGKILL)
  before it stored the end, and at the end of a program whose file exists. Written
  without fsync (see :func:`~jobdeck.runtime.supervisor.write_record`): a short job with
  its app connected costs no file at all.
* **Leftovers**: the service is the *child subreaper* of what it starts (Linux
  ``PR_SET_CHILD_SUBREAPER``), so a descendant that double-forks and calls ``setsid()``
  is re-parented to it instead of init. Every program's environment carries
  :data:`JOB_MARKER` (its job id), so an adopted orphan is told apart by job. When a
  program ends, what it left running (its session, its orphans and their descendants) gets
  SIGTERM, SIGKILL ``grace`` seconds later; the job's end is recorded after that.
* **Life**: started by the first app that needs it (``--serve`` forks and the parent exits,
  so no app has it as a child; a lock file keeps it to one per store), it exits when it
  has no program left to watch and no app connected. SIGTERM stops every program (SIGTERM
  to each group, SIGKILL after its grace), records their ends and exits. Neither the app
  quitting, crashing nor its terminal closing stops it.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import functools
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
from dataclasses import fields
from pathlib import Path

from .supervisor import (
    JOURNAL_PREFIX,
    LogWriter,
    RecordState,
    SupervisorRecord,
    process_start_time,
    record_fields,
    write_record,
)

#: ``typing`` is not imported (it is for annotations only): it was a fifth of what the
#: service imports before it can answer its first app (the bench's first job waits).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["JOB_MARKER", "JOURNAL_PREFIX", "LOCK_NAME", "journal_name", "serve"]

#: In every program's environment: its job id, so that the service can tell whose orphan
#: an adopted process is.
JOB_MARKER = "JOBDECK_SUPERVISED_JOB"
#: The lock file (in the records directory) that keeps the service to one per store.
LOCK_NAME = ".supervisor.lock"
#: Bytes past which the journal is rewritten with only the lines still needed.
JOURNAL_COMPACT_AT = 64 * 1024

#: Seconds the service waits for its first client before it gives up (the app that started
#: it died in between).
FIRST_CLIENT_TIMEOUT = 30.0
_PR_SET_CHILD_SUBREAPER = 36
_PF_EXITING = 0x4  # a process's flag (/proc/PID/stat) from the start of its exit
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 256 * 1024
_READ_SIZE = 256 * 1024
#: Seconds a program runs before its record file is written while the app that asked for
#: it is connected (that app knows it runs; most short programs are over by then, and
#: their file is never written). When that app goes, every record is written at once.
RECORD_DELAY = 0.2
#: Seconds the ``started`` answer waits for the program's end to go with it (see above).
REPLY_DELAY = 0.02
_TICK = 0.05  # seconds between looks at programs being stopped or watched without a pidfd
_REAP_INTERVAL = 1.0  # seconds between collecting adopted orphans that ended
_LEFTOVER_PATIENCE = 10.0  # seconds after SIGKILL before leftovers are given up on
#: Seconds the processes an ended program leaves get to end by themselves before they are
#: taken for left running: a cancel signals the program's whole group at once, and its
#: shell goes at once while the child it waited for ends a moment later (it tidies up).
_LEFTOVER_SETTLE = 0.2
#: Seconds an ended program's end waits, at most, for an exiting process the service cannot
#: tell (it may be the program's, and its children, which may be too, are on their way to
#: the service). Exits take milliseconds; giving back much memory, a fraction of a second.
_TRANSIT_PATIENCE = 1.0
_DRAIN_TIMEOUT = 1.0  # seconds to read output a process outside the tree keeps open
#: Bytes by which a program's ``ru_maxrss`` must pass the service's own peak to be taken
#: for the program's (the kernel's memory counters are approximate by a few pages per CPU).
_RSS_SLACK = 1 << 20
#: Bytes of messages a client has not read yet that the service keeps for it; past them
#: the client is taken for hung and let go (its programs' records are written, as when it
#: disconnects). A client that is merely slow (a long commit) is never dropped sooner.
MAX_BACKLOG = 32 * 1024 * 1024
_FIELDS = frozenset(f.name for f in fields(SupervisorRecord))
#: What this service can do beyond the first protocol, said in its hello: ``env_base``,
#: a program's environment given as its differences from one sent once per connection
#: (``env``; see :meth:`SupervisorService._resolve_env`).
FEATURES = ("env_base",)


def serve(records_dir: Path, socket_path: Path) -> int:
    """Run the service of ``records_dir`` on ``socket_path``; the exit status.

    Prints ``ok`` on standard output once the socket accepts connections (``busy`` when
    another service already serves this store) and closes it; by then the process that
    printed it is a detached child of the one that was started.
    """
    for sig in (signal.SIGINT, signal.SIGHUP):
        # A handler, not SIG_IGN: ignored signals would stay ignored in the programs.
        signal.signal(sig, _ignore)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    lock = os.open(records_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _say(b"busy\n")
        return 0
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()  # a stale socket of a service that died: we hold the lock
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(os.fspath(socket_path))
    finally:
        os.umask(old_umask)
    listener.listen(64)
    if os.fork() != 0:  # the app reaps the parent at once; the child is re-parented
        os._exit(0)
    service = SupervisorService(records_dir, socket_path, listener)
    _say(b"ok\n")
    try:
        service.run()
    finally:
        with contextlib.suppress(OSError):
            if os.stat(socket_path).st_ino == service.socket_inode:
                socket_path.unlink()
        os.close(lock)
    return 0


def journal_name(pid: int, start_time: float | None) -> str:
    """The file name (in the records directory) of the journal of queued starts of the
    service with this pid and start time (see :class:`_Journal`)."""
    return f"{JOURNAL_PREFIX}{pid}-{start_time or 0:.0f}"


def _ignore(_signum: int, _frame: object) -> None:
    return None


def _say(what: bytes) -> None:
    """Tell the app that started us how it went, then close standard output for good."""
    with contextlib.suppress(OSError):
        os.write(1, what)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 0)
    os.close(devnull)


class _Program:
    """One job's program: its record, its output pipe, and how far its end has got."""

    __slots__ = (
        "drain_until",
        "give_up_at",
        "kill_at",
        "owner",
        "peak",
        "pid",
        "pidfd",
        "pipe",
        "record",
        "record_due",
        "record_path",
        "recorded",
        "reply",
        "reply_due",
        "rusage",
        "seen",
        "settle_until",
        "status",
        "told",
        "transit_until",
        "writer",
    )

    def __init__(
        self,
        record: SupervisorRecord,
        record_path: Path,
        writer: LogWriter,
        pid: int,
        pipe: int,
    ) -> None:
        self.record = record
        self.record_path = record_path
        self.writer = writer
        self.pid = pid
        self.pipe: int | None = pipe
        self.pidfd: int | None = None
        self.status: int | None = None  # the wait status, once reaped
        self.rusage: Any = None
        #: Its own peak memory (bytes, /proc VmHWM) when it had run RECORD_DELAY s; 0: not
        #: measured (yet).
        self.peak = 0
        #: The leftovers signalled so far: {pid: start time}. They stay leftovers until
        #: they are gone: one that is exiting can no longer be told by its environment.
        self.seen: dict[int, float] = {}
        #: Until when what it left may still end by itself (see _LEFTOVER_SETTLE).
        self.settle_until: float | None = None
        #: Until when an exiting process that may be its own is waited for (see above).
        self.transit_until: float | None = None
        self.kill_at: float | None = None
        self.give_up_at: float | None = None
        self.drain_until: float | None = None
        #: The client that asked for it, while it is connected: it hears of the end first.
        self.owner: socket.socket | None = None
        #: True once the record file says it runs (see :meth:`SupervisorService._flush`).
        self.recorded = False
        self.record_due = time.monotonic() + RECORD_DELAY
        #: The ``started`` answer for ``owner``, until it is sent (see REPLY_DELAY).
        self.reply: dict[str, Any] | None = None
        self.reply_due = 0.0
        #: The clients connected when it ended (each was sent its ``ended``).
        self.told: frozenset[socket.socket] = frozenset()


class _Journal:
    """The service's journal of the programs it started from a client's queue: one line
    (a JSON object of the record's fields that find the program again) per start, written
    with one appending ``os.write`` right after the spawn. No fsync: a SIGKILLed service's
    writes are in the page cache, which every later reader sees (only a crash of the whole
    machine loses them, and the program with them).

    A line is needed until the program's record file is written (it says more) or its
    client said it stored the program's end (``forget``): then it is dropped. Dropped
    lines stay in the file until it passes :data:`JOURNAL_COMPACT_AT` bytes, when it is
    rewritten with the lines still needed (emptying it at each drop cost 10 us a job): a
    reader takes a record file over a line, and adopts a line's start only for a job its
    store has queued with that attempt next. A request for a job whose dropped line is
    still in the file has the file rewritten first: the line of a job the service was asked
    to start is always that request's start. Removed when the service exits (every record
    is written by then).
    """

    __slots__ = ("dropped", "fd", "lines", "path", "size")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1  # opened with the first line
        #: The lines still needed, by job id.
        self.lines: dict[str, bytes] = {}
        #: Jobs whose line was dropped but is still in the file.
        self.dropped: set[str] = set()
        self.size = 0

    def add(self, record: SupervisorRecord) -> None:
        """The program of ``record`` started from a client's queue."""
        line = (
            json.dumps(
                {
                    "job_id": record.job_id,
                    "pid": record.pid,
                    "start_time": record.start_time,
                    "started_at": record.started_at,
                    "log_path": record.log_path,
                    "output_start": record.output_start,
                    "grace": record.grace,
                    "extra": record.extra,
                }
            ).encode()
            + b"\n"
        )
        try:
            if self.fd < 0:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                self.fd = os.open(self.path, flags, 0o600)
            os.write(self.fd, line)
        except OSError:
            return  # (a full disk: its record, written later, is all there will be)
        self.lines[record.job_id] = line
        self.size += len(line)

    def drop(self, job_id: str) -> None:
        """The line of ``job_id`` is not needed any more (see the class)."""
        if self.lines.pop(job_id, None) is None:
            return
        self.dropped.add(job_id)
        if self.size > JOURNAL_COMPACT_AT:
            self._rewrite()

    def retire(self, job_id: Any) -> None:
        """A start of ``job_id`` is asked for: no earlier line of it may speak for it."""
        if job_id in self.dropped:
            self._rewrite()

    def _rewrite(self) -> None:
        """Replace the file with the lines still needed (atomically: a kill in between
        leaves the old file, whose extra lines are all of dropped jobs)."""
        data = b"".join(self.lines.values())
        tmp = self.path.with_name(self.path.name + ".new")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
            )
            try:
                os.write(fd, data)
                os.replace(tmp, self.path)
            except OSError:
                os.close(fd)
                raise
        except OSError:
            return
        os.close(self.fd)
        self.fd, self.size = fd, len(data)
        self.dropped.clear()

    def close(self) -> None:
        """The service exits having written every record: the journal goes."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            with contextlib.suppress(OSError):
                self.path.unlink()


class SupervisorService:
    """The service's state and event loop (see the module). Single-threaded."""

    def __init__(self, records_dir: Path, socket_path: Path, listener: socket.socket) -> None:
        self.records_dir = records_dir
        self.socket_inode = os.stat(socket_path).st_ino
        self.pid = os.getpid()
        self.start_time = process_start_time(self.pid)
        self.subreaper = _become_subreaper()
        #: The service's own peak memory (VmHWM bytes) when last read: see :meth:`_peak_of`.
        self.own_peak = 0
        self.selector = selectors.DefaultSelector()
        self.listener = listener
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, ("listen", None))
        self.clients: dict[socket.socket, bytearray] = {}
        #: What each client has not read yet (sent as it reads; see :meth:`_send`).
        self.backlog: dict[socket.socket, bytearray] = {}
        #: What each client is sent at the end of this wake-up (see :meth:`_send`).
        self.outbox: dict[socket.socket, list[bytes]] = {}
        self.programs: dict[str, _Program] = {}
        self.by_pid: dict[int, _Program] = {}
        self.unwatched: list[_Program] = []  # running, no pidfd: polled
        #: Ended programs whose end only their owner heard (no file): until it says
        #: ``forget`` or goes, when the file is written after all.
        self.unacknowledged: dict[str, _Program] = {}
        self.ending: list[_Program] = []  # reaped; leftovers or output still to finish
        self.replying: list[_Program] = []  # their ``started`` answer is not sent yet
        #: The environment each client sent (``env``: its number and the values), which
        #: its requests give their differences from (see :meth:`_resolve_env`).
        self.env_bases: dict[socket.socket, tuple[int, dict[str, str]]] = {}
        #: The programs each client handed over to start next (``queue``), in order.
        self.queued: dict[socket.socket, collections.deque[dict[str, Any]]] = {}
        #: The starts from clients' queues whose records are not written yet.
        self.journal = _Journal(records_dir / journal_name(self.pid, self.start_time))
        self.had_client = False
        self.started = time.monotonic()
        self.next_reap = 0.0
        self.quitting = False
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake_read = wake_read
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.selector.register(wake_read, selectors.EVENT_READ, ("wake", None))

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        while not self._done():
            busy = self.unwatched or self.ending or self._unrecorded()
            timeout = _TICK if busy else 1.0
            if self.replying:
                timeout = min(timeout, max(0.0, self.replying[0].reply_due - time.monotonic()))
            for key, mask in self.selector.select(timeout):
                kind, item = key.data
                if kind == "listen":
                    self._accept()
                elif kind == "client":
                    if mask & selectors.EVENT_WRITE:
                        self._write_backlog(item)
                    if mask & selectors.EVENT_READ:
                        self._read_client(item)
                elif kind == "output":
                    self._copy_output(item)
                elif kind == "exit":
                    self._reap(item)
                elif kind == "wake":
                    with contextlib.suppress(OSError):
                        os.read(self.wake_read, 512)
            self._tick()
            self._send_outbox()
        for program in self.unacknowledged.values():
            self._flush(program)  # quitting: nobody said it stored these ends
        self.journal.close()

    def _unrecorded(self) -> bool:
        return any(not p.recorded for p in self.programs.values())

    def _done(self) -> bool:
        if self.programs:
            return False
        if self.quitting:
            return True
        if self.clients:
            return False
        return self.had_client or time.monotonic() - self.started > FIRST_CLIENT_TIMEOUT

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        """Stop every program (SIGTERM to its group, SIGKILL after its grace), then exit."""
        self.quitting = True
        now = time.monotonic()
        for program in self.programs.values():
            if program.status is None:
                _signal_group(program.pid, signal.SIGTERM)
                _signal_group(program.pid, signal.SIGCONT)
                program.kill_at = now + program.record.grace

    def _tick(self) -> None:
        now = time.monotonic()
        while self.replying and self.replying[0].reply_due <= now:
            self._send_reply(self.replying[0])
        for program in list(self.unwatched):
            self._reap(program, block=False)
        for program in list(self.programs.values()):
            if program.status is None and program.kill_at is not None and now >= program.kill_at:
                _signal_group(program.pid, signal.SIGKILL)
                program.kill_at = None
        for program in list(self.programs.values()):
            if program.status is None and now >= program.record_due:
                if not program.peak:
                    program.peak = _vm_peak(program.pid) or -1
                if not program.recorded:
                    self._flush(program)
        if self.ending or now >= self.next_reap:
            self.next_reap = now + _REAP_INTERVAL
            self._reap_orphans()
        for program in list(self.ending):
            self._continue_ending(program, now)

    # -- clients ----------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():  # the directory is private; this is a second lock
            conn.close()
            return
        conn.setblocking(False)  # a client that reads slowly never holds up the service
        self.clients[conn] = bytearray()
        self.had_client = True
        self.selector.register(conn, selectors.EVENT_READ, ("client", conn))
        hello = {"op": "hello", "pid": self.pid, "start_time": self.start_time}
        self._send(conn, {**hello, "features": list(FEATURES)})

    def _read_client(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(1 << 16)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer = self.clients.get(conn)
        if buffer is None:
            return
        buffer += data
        while conn in self.clients:  # (not past a line that made it let go of the client)
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            self._handle(conn, line)

    def _handle(self, conn: socket.socket, line: bytes) -> None:
        try:
            message = json.loads(line)
            op = message["op"]
        except (ValueError, KeyError, TypeError):
            self._drop(conn)  # not one of ours
            return
        if op in ("spawn", "queue"):
            spec = message.get("record")
            if isinstance(spec, dict) and "env_base" in spec:
                spec = message["record"] = self._resolve_env(conn, spec)
            if self.journal.dropped:
                self.journal.retire(spec.get("job_id") if isinstance(spec, dict) else None)
        if op == "spawn":
            answer = self._spawn(message.get("record"), conn)
            if answer is not None:
                self._send(conn, answer)
        elif op == "forget":
            job_id = str(message.get("job_id"))
            self.unacknowledged.pop(job_id, None)
            self.journal.drop(job_id)
        elif op == "queue":
            spec = message.get("record")
            if isinstance(spec, dict):
                self.queued.setdefault(conn, collections.deque()).append(spec)
        elif op == "start_queued":  # a program of its ended before it queued the next
            answers = self._start_queued(conn)
            if answers and answers[-1]["op"] == "started":
                answers[-1]["nudged"] = True  # (the one that took the slot asked for)
            else:
                answers.append({"op": "queue_empty"})
            self._send(conn, *answers)
        elif op == "env":
            number, env = message.get("number"), message.get("env")
            if isinstance(number, int) and isinstance(env, dict):
                self.env_bases[conn] = (number, env)
        elif op == "withdraw":
            job_id = message.get("job_id")
            queued = self.queued.get(conn, collections.deque())
            spec = next((s for s in queued if s.get("job_id") == job_id), None)
            if spec is not None:
                queued.remove(spec)
            self._send(conn, {"op": "withdrawn", "job_id": job_id, "started": spec is None})

    def _resolve_env(self, conn: socket.socket, spec: dict[str, Any]) -> dict[str, Any]:
        """``spec`` with the whole environment of its program: the one ``conn`` sent
        (``env``) that it names (``env_base``), with its own variables (``env``) over it
        and those it leaves out (``env_unset``) taken out. Made as the request comes in:
        a program started later gets the environment it was asked with. One that names
        an environment this connection did not send fails to start (``refused``)."""
        base = self.env_bases.get(conn)
        number = spec.get("env_base")
        own, unset = spec.get("env"), spec.get("env_unset") or []
        if base is None or base[0] != number:
            problem = f"it names environment {number!r}, which this connection did not send"
            return {"job_id": spec.get("job_id"), "refused": problem}
        if not isinstance(own, dict) or not isinstance(unset, list):
            return {"job_id": spec.get("job_id"), "refused": "env or env_unset is malformed"}
        env = {**base[1], **own}
        for name in unset:
            env.pop(name, None)
        return {**spec, "env": env}

    def _send(self, conn: socket.socket, *messages: dict[str, Any]) -> None:
        """Send ``messages`` to ``conn`` at the end of this wake-up of the loop, with all
        the others for it (see :meth:`_send_outbox`)."""
        data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
        pending = self.outbox.get(conn)
        if pending is None:
            self.outbox[conn] = [data]
        else:
            pending.append(data)

    def _send_outbox(self) -> None:
        """Send each client, in one write, what this wake-up of the loop has for it: the
        ends of the programs that ended together reach an app in one read (one wake-up of
        it, one commit for them all) and cost one system call."""
        while self.outbox:
            outbox, self.outbox = self.outbox, {}
            for conn, parts in outbox.items():
                if conn in self.clients:
                    self._write(conn, b"".join(parts))

    def _write(self, conn: socket.socket, data: bytes) -> None:
        """Write ``data`` to ``conn``: what its socket cannot take now waits in its
        backlog, sent as the client reads (the service never waits for one client)."""
        waiting = self.backlog.get(conn)
        if waiting is not None:
            waiting += data
            if len(waiting) > MAX_BACKLOG:
                self._drop(conn)
            return
        try:
            sent = conn.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(conn)
            return
        if sent < len(data) and conn in self.clients:
            self.backlog[conn] = bytearray(data[sent:])
            both = selectors.EVENT_READ | selectors.EVENT_WRITE
            self.selector.modify(conn, both, ("client", conn))

    def _write_backlog(self, conn: socket.socket) -> None:
        """``conn`` can take more: send what waits for it."""
        waiting = self.backlog.get(conn)
        if waiting is None:
            return
        try:
            sent = conn.send(waiting)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        del waiting[:sent]
        if not waiting:
            del self.backlog[conn]
            self.selector.modify(conn, selectors.EVENT_READ, ("client", conn))

    def _send_reply(self, program: _Program, *then: dict[str, Any]) -> None:
        """Send the program's owner its ``started`` answer (and ``then``, in one write)."""
        reply, program.reply = program.reply, None
        if program in self.replying:
            self.replying.remove(program)
        messages = then if reply is None else (reply, *then)
        if messages and program.owner is not None and program.owner in self.clients:
            self._send(program.owner, *messages)

    def _drop(self, conn: socket.socket) -> None:
        pending = self.outbox.pop(conn, None)
        if pending is not None and conn in self.clients and conn not in self.backlog:
            with contextlib.suppress(OSError):  # (what it was told before it went, if it can)
                conn.send(b"".join(pending))
        self.backlog.pop(conn, None)
        self.env_bases.pop(conn, None)
        self.queued.pop(conn, None)  # never started: still queued in that app's store
        if self.clients.pop(conn, None) is not None:
            self.selector.unregister(conn)
        # Whatever only that app knew goes into the files, for the next app to find, and
        # before the connection closes: an app that sees it close with a start request
        # unanswered finds the program's record if it started (see lost_start).
        # The ends it did not say it stored are also told to the clients that connected
        # since: that app may not have heard them (it let go of this connection after a
        # send failed, and is connected again already).
        untold = [p for p in self.unacknowledged.values() if p.owner is conn]
        for program in [*self.programs.values(), *self.unacknowledged.values()]:
            if program.owner is conn:
                program.owner = None
                program.reply = None
                if program in self.replying:
                    self.replying.remove(program)
                if not program.recorded:
                    self._flush(program)
        self.unacknowledged = {
            job_id: p for job_id, p in self.unacknowledged.items() if p.owner is not None
        }
        conn.close()
        for program in untold:
            record = program.record
            ended = {"op": "ended", "job_id": record.job_id, "record": record_fields(record)}
            for other in list(self.clients):
                if other not in program.told:
                    self._send(other, ended)

    def _flush(self, program: _Program) -> None:
        """Write the program's record file as it stands (running, or ended)."""
        with contextlib.suppress(OSError):  # a full disk: the next app finds no record
            write_record(program.record_path, program.record, sync=False)
            program.recorded = True
            self.journal.drop(program.record.job_id)

    # -- starting ---------------------------------------------------------------------------

    def _spawn(
        self, spec: Any, owner: socket.socket | None = None, *, queued: bool = False
    ) -> dict[str, Any] | None:
        """Start the program ``spec`` describes; the answer for the client, or None when
        it goes later (``started``: see :data:`REPLY_DELAY`). ``queued``: one the client
        handed over, started as one of its programs ended: its start goes into the journal
        and its answer goes now (see the module)."""
        if not isinstance(spec, dict):
            return {"op": "start_failed", "job_id": None, "error": "no record in the request"}
        job_id = spec.get("job_id")
        if "refused" in spec:
            return {
                "op": "start_failed",
                "job_id": job_id,
                "error": f"bad request: {spec['refused']}",
            }
        try:
            record = SupervisorRecord(**{k: v for k, v in spec.items() if k in _FIELDS})
            if not isinstance(job_id, str) or not job_id or "/" in job_id or job_id[0] == ".":
                raise ValueError(f"not a usable job id: {job_id!r}")
        except (TypeError, ValueError) as exc:
            return {"op": "start_failed", "job_id": job_id, "error": f"bad request: {exc}"}
        if job_id in self.programs:
            return {"op": "start_failed", "job_id": job_id, "error": "it is already running"}
        record.state = RecordState.STARTING
        record.shared = True
        record.supervisor_pid = self.pid
        record.supervisor_start_time = self.start_time
        record.subreaper = self.subreaper
        path = self.records_dir / f"{job_id}.json"
        try:
            writer = LogWriter(record.log_path, record.max_log_bytes, record.output_start)
        except OSError as exc:
            return self._start_failed(path, record, f"cannot open log file: {exc}")
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(read_end, _F_SETPIPE_SZ, _PIPE_SIZE)  # room for bursts of output
        env = record.env or dict(os.environ)  # (the request's own dict: nobody else has it)
        env[JOB_MARKER] = job_id
        record.env = {}  # the record keeps no copy of the environment: nobody reads it back
        try:
            pid = _start_program(record.argv, record.cwd, env, write_end)
        except (OSError, ValueError, TypeError, IndexError) as exc:
            writer.close()
            os.close(read_end)
            return self._start_failed(path, record, _describe_start_failure(exc, record))
        finally:
            os.close(write_end)
        program = _Program(record, path, writer, pid, read_end)
        record.state = RecordState.RUNNING
        record.pid = pid
        # It may already have exited (a zombie until we wait): its start time still
        # identifies its process group, whose leftovers the app stops.
        record.start_time = process_start_time(pid, include_zombie=True)
        record.started_at = time.time()
        program.owner = owner
        if queued:
            record.extra = {**record.extra, "queued": True}
            self.journal.add(record)
        if owner is None:
            self._flush(program)
        self.programs[job_id] = program
        self.by_pid[pid] = program
        os.set_blocking(read_end, False)
        self.selector.register(read_end, selectors.EVENT_READ, ("output", program))
        try:
            program.pidfd = os.pidfd_open(pid)
            self.selector.register(program.pidfd, selectors.EVENT_READ, ("exit", program))
        except (AttributeError, OSError):
            self.unwatched.append(program)
        started = {"op": "started", "job_id": job_id, "pid": pid, "start_time": record.start_time}
        if owner is None or queued:
            return started
        program.reply = started
        program.reply_due = time.monotonic() + REPLY_DELAY
        self.replying.append(program)
        return None

    def _start_queued(self, owner: socket.socket) -> list[dict[str, Any]]:
        """A program of ``owner`` ended: start the first program it queued (those that fail
        to start are answered and the next one tried); the answers, for ``owner``."""
        queued = self.queued.get(owner)
        answers: list[dict[str, Any]] = []
        while queued and not self.quitting:
            spec = queued.popleft()
            answer = self._spawn(spec, owner, queued=True)
            if answer is None:  # (never for a queued one)
                break
            answers.append({**answer, "queued": True})
            if answer["op"] == "started":
                break
        return answers

    def _start_failed(self, path: Path, record: SupervisorRecord, error: str) -> dict[str, Any]:
        """The answer for a program that did not start (its owner hears it: no file)."""
        record.state, record.error, record.ended_at = RecordState.START_FAILED, error, time.time()
        return {"op": "start_failed", "job_id": record.job_id, "error": error}

    # -- output -----------------------------------------------------------------------------

    def _copy_output(self, program: _Program) -> None:
        """Copy what the program's pipe holds into its log; close it at its end."""
        fd = program.pipe
        if fd is None:
            return
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self.selector.unregister(fd)
                os.close(fd)
                program.pipe = None
                return
            program.writer.write(data)
            if len(data) < _READ_SIZE:
                return

    # -- ending -----------------------------------------------------------------------------

    def _reap(self, program: _Program, *, block: bool = True) -> None:
        """The program exited (its pidfd says so): collect its status and resource use."""
        try:
            pid, status, rusage = os.wait4(program.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid, status, rusage = program.pid, 255 << 8, None
        if pid == 0:
            return  # still running (polled without a pidfd)
        program.status = os.waitstatus_to_exitcode(status)
        program.rusage = rusage
        program.kill_at = None
        if program.pidfd is not None:
            self.selector.unregister(program.pidfd)
            os.close(program.pidfd)
            program.pidfd = None
        if program in self.unwatched:
            self.unwatched.remove(program)
        self.by_pid.pop(program.pid, None)
        self.ending.append(program)
        self._continue_ending(program, time.monotonic())

    def _continue_ending(self, program: _Program, now: float) -> None:
        """Stop what the ended program left running, read its last output, record its end."""
        if program.give_up_at is None or now < program.give_up_at:
            alive, in_transit = self._leftovers_of(program)
            if in_transit and not alive:
                # A process that is exiting is not told by its environment any more and
                # its children (what the program left, maybe) are on their way to the
                # service, listed under neither: look again at the next tick.
                if program.transit_until is None:
                    program.transit_until = now + _TRANSIT_PATIENCE
                if now < program.transit_until:
                    return
            if alive:
                if program.settle_until is None:
                    program.settle_until = now + _LEFTOVER_SETTLE
                if now < program.settle_until:
                    return
                fresh = [pid for pid in alive if pid not in program.seen]
                for pid in fresh:
                    start = process_start_time(pid)
                    if start is not None:
                        program.seen[pid] = start
                if program.give_up_at is None:
                    program.kill_at = now + program.record.grace
                    program.give_up_at = program.kill_at + _LEFTOVER_PATIENCE
                if program.kill_at is not None and now >= program.kill_at:
                    _signal_all(alive, signal.SIGKILL)
                elif fresh:
                    _signal_all(fresh, signal.SIGTERM)
                    _signal_all(fresh, signal.SIGCONT)
                return
        if program.pipe is not None:
            if program.drain_until is None:
                program.drain_until = now + _DRAIN_TIMEOUT
                self._copy_output(program)
            if program.pipe is not None and now < program.drain_until:
                return
            if program.pipe is not None:  # held open by a process outside the tree
                self._copy_output(program)
                if program.pipe is not None:
                    self.selector.unregister(program.pipe)
                    os.close(program.pipe)
                    program.pipe = None
        self._record_end(program)

    def _record_end(self, program: _Program) -> None:
        self.ending.remove(program)
        program.writer.close()
        record = program.record
        record.state = RecordState.EXITED
        record.ended_at = time.time()
        if program.rusage is not None:
            record.cpu_seconds = program.rusage.ru_utime + program.rusage.ru_stime
        record.max_rss = self._peak_of(program)
        record.output_start = program.writer.output_start
        record.log_omitted = program.writer.omitted
        record.log_lost = program.writer.lost
        record.log_lost_error = program.writer.lost_error
        record.leftovers = len(program.seen)
        status = program.status if program.status is not None else 255
        if status < 0:
            record.signal = -status
        else:
            record.exit_code = status
        self.programs.pop(record.job_id, None)
        if program.recorded or program.owner is None:
            self._flush(program)
        else:
            self.unacknowledged[record.job_id] = program
        ended: dict[str, Any] = {
            "op": "ended",
            "job_id": record.job_id,
            "record": record_fields(record),
        }
        program.told = frozenset(self.clients)
        owner = program.owner if program.owner in self.clients else None
        if owner is not None:
            then = self._start_queued(owner)  # (the next queued one takes its place)
            if then:
                ended["then"] = then
            self._send_reply(program, ended)  # one write: its start (if untold) and its end
        for conn in list(self.clients):
            if conn is not owner:
                self._send(conn, ended)

    def _peak_of(self, program: _Program) -> int | None:
        """The program's peak memory in bytes (with the children it waited for), or None.

        ``posix_spawn`` execs the program from a vfork of the service, and Linux keeps the
        peak of the image an exec replaces in the ``ru_maxrss`` that ``wait4`` reports: it
        is never below the service's own peak. Above that (plus :data:`_RSS_SLACK`) it is
        the program's; else the program's peak is what /proc said it was while it ran
        (:attr:`_Program.peak`), or unknown (None: a program over too soon to look at).
        """
        rusage = program.rusage
        if rusage is not None:
            maxrss = rusage.ru_maxrss * 1024  # kilobytes on Linux
            if maxrss > self.own_peak + _RSS_SLACK:  # (it only grows: read it only then)
                self.own_peak = _vm_peak(self.pid) or maxrss
                if maxrss > self.own_peak + _RSS_SLACK:
                    return maxrss
        return program.peak if program.peak > 0 else None

    def _leftovers_of(self, program: _Program) -> tuple[list[int], bool]:
        """Live processes the ended program left: adopted orphans that carry its job id or
        its session, their descendants, and those signalled already that are not gone; and
        whether an adopted orphan that cannot be told is exiting (its children, which may be
        the program's, are being handed to the service: /proc lists them under neither)."""
        job_id = program.record.job_id
        roots = []
        in_transit = False
        for pid in _children_of(self.pid):
            if pid in self.by_pid:
                continue
            fields_ = _stat_fields(pid)
            if fields_ is None:
                continue
            if int(fields_[3]) == program.pid or _job_of(pid) == job_id:
                roots.append(pid)
            elif fields_[0] not in (b"Z", b"X") and int(fields_[6]) & _PF_EXITING:
                in_transit = True
        # A signalled leftover that is exiting has no environment left to be told by (and
        # its session is its own): it is one until it is gone, the same process (start time).
        roots.extend(pid for pid, start in program.seen.items() if process_start_time(pid) == start)
        found: list[int] = []
        queue = list(roots)
        while queue:
            pid = queue.pop()
            if pid in found:
                continue
            found.append(pid)
            queue.extend(_children_of(pid))
        return [pid for pid in found if process_start_time(pid) is not None], in_transit

    def _reap_orphans(self) -> None:
        """Collect the exit status of adopted orphans that ended (not the programs')."""
        for pid in _children_of(self.pid):
            if pid in self.by_pid:
                continue
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


# -- processes --------------------------------------------------------------------------------


def _start_program(argv: list[str], cwd: str | None, env: dict[str, str], output: int) -> int:
    """Start ``argv`` in a session of its own, in ``cwd``, output into ``output``; its pid.

    ``posix_spawn`` (a vfork and an exec: cheaper than :class:`subprocess.Popen`, whose
    setup in Python cost the service about half a millisecond per program). It has no
    working directory of its own in Python, so the service, single-threaded, steps into
    ``cwd`` for the spawn and back out (a relative program or PATH entry is then looked
    for in ``cwd``, as the program itself would). The service waits for the program itself
    (``wait4``); exec errors come back as OSError (a working directory that cannot be
    entered: with that directory as its ``filename``).
    """
    back = _own_directory() if cwd else -1
    if cwd:
        os.chdir(cwd)
    try:
        program = argv[0]
        if os.sep not in program:  # looked for in PATH only, never in the directory
            found = shutil.which(program, path=env.get("PATH", os.defpath))
            if found is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
            program = found
        return os.posix_spawn(
            program,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, output, 1),
                (os.POSIX_SPAWN_DUP2, output, 2),
            ],
            setsid=True,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        if cwd:
            os.fchdir(back)


@functools.cache
def _own_directory() -> int:
    """A descriptor of the directory the service started in (opened once), to step back
    into after starting a program elsewhere."""
    try:
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # it was removed: any directory will do, the service uses none
        return os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``); False if impossible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _children_of(pid: int) -> list[int]:
    """The children of ``pid`` (from /proc; from every process's parent where the kernel
    does not list children)."""
    try:
        return [int(p) for p in _read_proc(f"/proc/{pid}/task/{pid}/children").split()]
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return []
    except (OSError, ValueError):
        pass
    return _parents_from_proc().get(pid, [])


def _parents_from_proc() -> dict[int, list[int]]:
    """``{ppid: [pid, ...]}`` of every process, read from /proc/*/stat."""
    by_parent: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            fields_ = _stat_fields(int(entry))
            if fields_ is not None:
                by_parent.setdefault(int(fields_[1]), []).append(int(entry))
    return by_parent


def _read_proc(path: str) -> bytes:
    """The whole of a /proc file (``os`` calls: a third of the cost of ``open``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _vm_peak(pid: int | str) -> int | None:
    """Process ``pid``'s peak resident memory in bytes since its exec (VmHWM), or None
    (it has ended: a zombie has no memory left to tell of)."""
    try:
        status = _read_proc(f"/proc/{pid}/status")
    except OSError:
        return None
    start = status.find(b"\nVmHWM:")
    if start < 0:
        return None
    return int(status[start + 8 : status.index(b"\n", start + 1)].split()[0]) * 1024


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, session...)."""
    try:
        stat_ = _read_proc(f"/proc/{pid}/stat")
        return stat_[stat_.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None


def _job_of(pid: int) -> str | None:
    """The job id in the environment ``pid`` started with (:data:`JOB_MARKER`)."""
    prefix = JOB_MARKER.encode() + b"="
    try:
        environ = _read_proc(f"/proc/{pid}/environ")
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _describe_start_failure(exc: Exception, record: SupervisorRecord) -> str:
    """A readable reason for an exec failure the app's checks did not predict."""
    program = record.argv[0] if record.argv else "?"
    if not isinstance(exc, OSError):
        return f"cannot start {program!r}: {exc}"
    if record.cwd and exc.filename is not None and exc.filename == record.cwd:
        return f"cannot use working directory {record.cwd}: {exc.strerror or exc}"
    if exc.errno == errno.ENOENT:
        return f"executable not found: {program!r}"
    if exc.errno == errno.EACCES:
        return f"permission denied: {program!r} is not executable"
    if exc.errno == errno.ENOEXEC:
        return f"cannot execute {program!r}: not a program, and a script needs a '#!' line"
    return f"cannot start {program!r}: {exc.strerror or exc}"
