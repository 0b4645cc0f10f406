"""The supervisor: a tiny process that runs one job's program so the job outlives the app.

``python -I -S supervisor.py RECORD`` (run the file itself, not ``-m``, so that the
Qt-importing ``jobdeck.runtime`` package is never imported; ``-S`` skips ``site`` and its
``.pth`` files, which would only slow every job's start) reads the job's spec from the JSON file
RECORD and detaches: it forks, the parent exits at once (so the app has no long-lived child
to reap) and the child carries on in the session the app started it in. It makes itself the
*child subreaper* of everything it starts (Linux ``PR_SET_CHILD_SUBREAPER``), so a
descendant that double-forks and calls ``setsid()`` to escape is re-parented to the
supervisor instead of init, and can still be found and stopped.

It starts the program in a session and process group of its own, its standard output and
error going into a pipe the supervisor copies into the job's log file (private, 0600),
writes the program's pid and start time into RECORD, then writes ``ok`` to its standard
output and closes it (the app waits for that end-of-file). The log is capped: past
``max_log_bytes`` it keeps its first quarter and its most recent output, with one line in
between saying how much was left out (see :class:`LogWriter`). When the program has ended,
the supervisor stops whatever it left running (SIGTERM, SIGKILL ``grace`` seconds later):
the orphans re-parented to it and their descendants. Finally it writes the exit status, end time,
the number of processes it had to stop, where this attempt's output starts in the log and
the program tree's resource use (``getrusage(RUSAGE_CHILDREN)``) into RECORD. Neither the
app quitting, crashing nor its terminal closing stops it.

Why this is one file of more than 500 lines: it runs as a program of its own, by path, with
the interpreter's isolated mode and no ``site``, so it can import nothing but the standard
library — not even a sibling module.

The record is the contract between the supervisor and any later Jobdeck (see
:class:`SupervisorRecord`). It is replaced atomically on every write (write + rename), so a
reader never sees half a file, and it is private to the user (0600): it holds the program's
environment, channel token included. Standard library only: it must start fast and never
break because of the app's dependencies.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "MIN_MAX_LOG_BYTES",
    "LogWriter",
    "RecordState",
    "SupervisorRecord",
    "main",
    "process_start_time",
    "read_record",
    "write_record",
]


class RecordState(StrEnum):
    """Where a supervised program is, as its record says (stored as the plain string)."""

    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"
    START_FAILED = "start_failed"


#: Written to the supervisor's stdout once the record names the running program.
READY = b"ok\n"

#: A job's log is capped at this size by default (bytes); see :class:`LogWriter`.
DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024
#: The smallest cap accepted (a smaller one would keep too little to read).
MIN_MAX_LOG_BYTES = 64 * 1024

_PR_SET_CHILD_SUBREAPER = 36
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 1024 * 1024
_READ_SIZE = 256 * 1024
_LEFTOVER_POLL = 0.05
_LEFTOVER_PATIENCE = 10.0  # seconds after SIGKILL before leftovers are given up on


@dataclass
class SupervisorRecord:
    """What a supervisor knows of its job. Written by the app (spec) and the supervisor."""

    job_id: str
    argv: list[str]
    log_path: str
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # the full environment of the program
    state: RecordState = RecordState.STARTING
    supervisor_pid: int | None = None
    supervisor_start_time: float | None = None
    pid: int | None = None
    #: The program's start time as the kernel reports it (see :func:`process_start_time`),
    #: so a reused pid is never mistaken for the job.
    start_time: float | None = None
    started_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    ended_at: float | None = None
    error: str | None = None
    #: CPU seconds (user + system) and the largest RSS in bytes of the program and every
    #: descendant it waited for, once it has exited.
    cpu_seconds: float | None = None
    max_rss: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Seconds between SIGTERM and SIGKILL when stopping what the program left running.
    grace: float = 5.0
    #: The log's cap in bytes (see :class:`LogWriter`); None: no cap.
    max_log_bytes: int | None = None
    #: Where this attempt's output starts in the log file (its size when the attempt was
    #: spawned; moved when the log is cut), so the last lines read are this attempt's.
    output_start: int = 0
    #: Bytes of output left out of the log so far (see :class:`LogWriter`).
    log_omitted: int = 0
    #: Processes the program left running that the supervisor had to stop.
    leftovers: int = 0
    #: True when the supervisor could make itself the child subreaper.
    subreaper: bool | None = None

    @property
    def finished(self) -> bool:
        return self.state in (RecordState.EXITED, RecordState.START_FAILED)


_FIELD_NAMES = frozenset(f.name for f in fields(SupervisorRecord))


def write_record(path: Path, record: SupervisorRecord) -> None:
    """Replace ``path`` with ``record`` atomically; the file is private to the user (0600)."""
    fd, tmp = tempfile.mkstemp(prefix=".rec-", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(record), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_record(path: Path) -> SupervisorRecord:
    """Load a record; ValueError naming the file if it is not one (unknown keys are ignored)."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        record = SupervisorRecord(**{k: v for k, v in data.items() if k in _FIELD_NAMES})
        record.state = RecordState(record.state)
        return record
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a readable supervisor record: {exc}") from exc


def process_start_time(pid: int, *, include_zombie: bool = False) -> float | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if gone.

    Compared with the recorded value, it tells a live job from a new process that got the
    same pid. A zombie counts as gone unless ``include_zombie`` (the supervisor recording a
    program that exited at once). Uses psutil's ``create_time`` where /proc is missing.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # the command name is in parentheses and may contain spaces: split after the last ')'
        fields_ = stat[stat.rindex(b")") + 2 :].split()
        if fields_[0] in (b"Z", b"X") and not include_zombie:
            return None  # a zombie has finished
        return float(fields_[19])
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:  # pragma: no cover - no /proc
        try:
            import psutil

            return float(psutil.Process(pid).create_time())
        except Exception:
            return None


def _detach() -> None:
    """Fork; the parent exits at once so the app reaps it, the child is re-parented."""
    if os.fork() != 0:
        os._exit(0)


def _announce_ready() -> None:
    """Tell the app the record is complete: write READY, then close stdout for good."""
    with contextlib.suppress(OSError):
        os.write(1, READY)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _run(record_path: Path) -> int:
    record = read_record(record_path)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    _detach()
    record.supervisor_pid = os.getpid()
    record.supervisor_start_time = process_start_time(record.supervisor_pid)
    record.subreaper = _become_subreaper()
    try:
        writer = LogWriter(record.log_path, record.max_log_bytes, record.output_start)
    except OSError as exc:
        return _start_failed(record_path, record, f"cannot open log file: {exc}")
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError):
        import fcntl

        fcntl.fcntl(read_end, _F_SETPIPE_SZ, _PIPE_SIZE)  # room for bursts of output
    try:
        child = subprocess.Popen(
            record.argv,
            cwd=record.cwd or None,
            env=record.env or None,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            restore_signals=True,
        )
    except OSError as exc:
        writer.close()
        return _start_failed(record_path, record, _describe_start_failure(exc, record))
    finally:
        os.close(write_end)
    record.state = RecordState.RUNNING
    record.pid = child.pid
    # The program may already have exited (a zombie until we wait): its start time still
    # identifies its process group, whose leftovers the app stops.
    record.start_time = process_start_time(child.pid, include_zombie=True)
    record.started_at = time.time()
    write_record(record_path, record)
    _announce_ready()

    running = [True]

    # SIGTERM to the supervisor (e.g. a cancel that only knew its pid) goes to the program.
    def forward(signum: int, _frame: object) -> None:
        if running[0]:  # once reaped, its pid may belong to someone else
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    pipe = _OutputPipe(read_end, writer)
    status = pipe.copy_until_exit(child)
    running[0] = False
    record.leftovers = _stop_leftovers(record.grace, pipe)
    pipe.finish()
    writer.close()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    record.state = RecordState.EXITED
    record.ended_at = time.time()
    record.cpu_seconds = usage.ru_utime + usage.ru_stime
    record.max_rss = usage.ru_maxrss * 1024  # kilobytes on Linux
    record.output_start = writer.output_start
    record.log_omitted = writer.omitted
    if status < 0:
        record.signal = -status
    else:
        record.exit_code = status
    write_record(record_path, record)
    return 0


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


class _OutputPipe:
    """The read end of the program's output pipe, copied into the log as it comes."""

    def __init__(self, fd: int, writer: LogWriter) -> None:
        self.fd = fd
        self.writer = writer
        self.open = True

    def copy_until_exit(self, child: subprocess.Popen[bytes]) -> int:
        """Copy output until the program ends; its wait status (``-N`` for signal N)."""
        pidfd = None
        with contextlib.suppress(AttributeError, OSError):
            pidfd = os.pidfd_open(child.pid)
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        last_reap = time.monotonic()
        try:
            while True:
                # Without a pidfd (or once the pipe is closed) look at the program often.
                timeout = 1000 if pidfd is not None else 100
                for fd, _event in poller.poll(timeout):
                    if fd == self.fd and not self.copy():
                        poller.unregister(self.fd)
                status = child.poll()
                if status is not None:
                    return status
                if time.monotonic() - last_reap >= 1.0:
                    last_reap = time.monotonic()
                    _reap_children(exclude=child.pid)  # re-parented orphans that ended
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def copy(self) -> bool:
        """Copy one chunk (blocks until there is one); False at the end of the output
        (every writer closed it)."""
        if not self.open:
            return False
        try:
            data = os.read(self.fd, _READ_SIZE)
        except InterruptedError:
            return True
        if not data:
            self.open = False
            return False
        self.writer.write(data)
        return True

    def finish(self, timeout: float = 1.0) -> None:
        """Copy what is left: up to the end of the output, or what is there now after
        ``timeout`` (a process outside the tree may hold the pipe open)."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while self.open:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(int(left * 1000)):
                break
            self.copy()
        os.close(self.fd)


def _stop_leftovers(grace: float, pipe: _OutputPipe) -> int:
    """Stop every process the program left running; how many there were.

    They are the supervisor's children now (orphans re-parented to it, the child subreaper) and
    their descendants. Each gets SIGTERM (and SIGCONT) when first seen and SIGKILL once
    ``grace`` seconds have passed since the first SIGTERM; output keeps being copied
    meanwhile, so none of them blocks on a full pipe. A process that survives SIGKILL for
    a while (stuck in the kernel) is given up on after :data:`_LEFTOVER_PATIENCE` s.
    """
    seen: set[int] = set()
    kill_at: float | None = None
    give_up = time.monotonic() + grace + _LEFTOVER_PATIENCE
    while True:
        _reap_children()
        alive = _descendants()
        now = time.monotonic()
        if not alive or now >= give_up:  # one stuck in the kernel cannot hold the job up
            return len(seen)
        fresh = [pid for pid in alive if pid not in seen]
        seen.update(fresh)
        if kill_at is None:
            kill_at = now + grace
        if now >= kill_at:
            _signal_all(alive, signal.SIGKILL)
        elif fresh:
            _signal_all(fresh, signal.SIGTERM)
            _signal_all(fresh, signal.SIGCONT)
        end = time.monotonic() + _LEFTOVER_POLL
        while time.monotonic() < end:
            if not pipe.open:
                time.sleep(max(0.0, end - time.monotonic()))
            elif _pipe_has_data(pipe.fd, end):
                pipe.copy()


def _pipe_has_data(fd: int, until: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int((until - time.monotonic()) * 1000))))


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _children_of(pid: int) -> list[int] | None:
    """The children of ``pid`` from /proc (None when the kernel does not list them)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return None


def _descendants() -> list[int]:
    """Every live (non-zombie) descendant of this process."""
    me = os.getpid()
    found: list[int] = []
    queue = [me]
    by_parent: dict[int, list[int]] | None = None
    while queue:
        pid = queue.pop()
        children = _children_of(pid)
        if children is None:
            if by_parent is None:
                by_parent = _parents_from_proc()
            children = by_parent.get(pid, [])
        for child in children:
            if child not in found and child != me:
                found.append(child)
                queue.append(child)
    return [pid for pid in found if process_start_time(pid) is not None]


def _parents_from_proc() -> dict[int, list[int]]:
    """``{ppid: [pid, ...]}`` of every process, read from /proc/*/stat."""
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat_ = f.read()
            ppid = int(stat_[stat_.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        by_parent.setdefault(ppid, []).append(int(entry))
    return by_parent


def _reap_children(exclude: int | None = None) -> None:
    """Collect the exit status of ended children (re-parented orphans), except ``exclude``."""
    children = _children_of(os.getpid())
    if children is None:
        children = _parents_from_proc().get(os.getpid(), [])
    for pid in children:
        if pid == exclude:
            continue
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


class LogWriter:
    """Appends a job's output to its log file (0600), keeping the file under a cap.

    Once the file grows past ``max_bytes`` it is cut: its first quarter (up to a line
    break) stays, then one line ``[jobdeck: N bytes of output left out here ...]``, then
    the most recent output (at least the last quarter of the cap, from a line start). The
    file therefore always holds how the program started and how it ended, and never grows
    much past ``max_bytes``. ``output_start`` follows this attempt's first byte through the
    cuts. Not thread-safe; the supervisor is its only user.
    """

    def __init__(self, path: str, max_bytes: int | None, output_start: int = 0) -> None:
        if max_bytes is not None and max_bytes < MIN_MAX_LOG_BYTES:
            max_bytes = MIN_MAX_LOG_BYTES
        self.path = path
        self.max_bytes = max_bytes
        self.output_start = output_start
        self.omitted = 0
        flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self._append = os.open(path, os.O_WRONLY | os.O_APPEND | flags, 0o600)
        try:
            info = os.fstat(self._append)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", path)
            if stat.S_IMODE(info.st_mode) != 0o600:
                os.fchmod(self._append, 0o600)
            self._edit = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except BaseException:
            os.close(self._append)
            raise
        self._size = info.st_size
        self._head_end: int | None = None
        self._marker_len = 0
        self.write_errors = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._append, view)
                view = view[written:]
                self._size += written
        except OSError:  # disk full, say: drop the output rather than block the program
            self.write_errors += 1
            return
        if self.max_bytes is not None and self._size > self.max_bytes:
            try:
                self._cut()
            except OSError:
                self.write_errors += 1

    def _cut(self) -> None:
        assert self.max_bytes is not None
        size = os.fstat(self._edit).st_size
        quarter = self.max_bytes // 4
        if self._head_end is None:
            head = os.pread(self._edit, quarter, 0)
            newline = head.rfind(b"\n")
            self._head_end = newline + 1 if newline >= 0 else len(head)
            self._marker_len = 0
        head_end = self._head_end
        tail_start = size - quarter
        newline = os.pread(self._edit, 4096, tail_start).find(b"\n")
        if 0 <= newline < 4095:
            tail_start += newline + 1
        dropped_from = head_end + self._marker_len
        if tail_start <= dropped_from:
            return
        self.omitted += tail_start - dropped_from
        marker = (
            f"[jobdeck: {self.omitted} bytes of output left out here; the log keeps its "
            f"first {head_end} bytes and its latest output]\n"
        ).encode()
        if head_end and os.pread(self._edit, 1, head_end - 1) != b"\n":
            marker = b"\n" + marker
        os.pwrite(self._edit, marker, head_end)
        destination = head_end + len(marker)
        source = tail_start
        while source < size:
            chunk = os.pread(self._edit, min(_READ_SIZE * 4, size - source), source)
            if not chunk:
                break
            os.pwrite(self._edit, chunk, destination)
            source += len(chunk)
            destination += len(chunk)
        os.ftruncate(self._edit, destination)
        shift = tail_start - (head_end + len(marker))
        if self.output_start >= tail_start:
            self.output_start -= shift
        elif self.output_start > head_end:
            self.output_start = head_end + len(marker)  # its start was left out
        self._marker_len = len(marker)
        self._size = destination

    def close(self) -> None:
        for fd in (self._append, self._edit):
            with contextlib.suppress(OSError):
                os.close(fd)


def _describe_start_failure(exc: OSError, record: SupervisorRecord) -> str:
    """A readable reason for an exec failure the app's checks did not predict."""
    program = record.argv[0] if record.argv else "?"
    if record.cwd and exc.filename is not None and exc.filename == record.cwd:
        return f"cannot use working directory {record.cwd}: {exc.strerror or exc}"
    if exc.errno == errno.ENOENT:
        return f"executable not found: {program!r}"
    if exc.errno == errno.EACCES:
        return f"permission denied: {program!r} is not executable"
    if exc.errno == errno.ENOEXEC:
        return f"cannot execute {program!r}: not a program, and a script needs a '#!' line"
    return f"cannot start {program!r}: {exc.strerror or exc}"


def _start_failed(record_path: Path, record: SupervisorRecord, error: str) -> int:
    record.state, record.error, record.ended_at = RecordState.START_FAILED, error, time.time()
    write_record(record_path, record)
    _announce_ready()
    return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python supervisor.py RECORD.json", file=sys.stderr)
        return 2
    return _run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
