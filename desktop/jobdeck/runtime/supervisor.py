"""Supervisor records, the capped log writer, and the supervisor service's entry point.

Process jobs run under the store's *supervisor service*
(:mod:`jobdeck.runtime.supervisor_service`): one long-lived process per store that starts
and watches many programs, so that a job outlives the app (quit with "keep running", a
crash, SIGKILL) without a Python process of its own. This module holds what the service
and the app share, standard library only (the service imports nothing else):

* :class:`SupervisorRecord`: what the service knows of one job's program, kept in a JSON
  file per job (the contract with any later Jobdeck that re-attaches the job). It is
  replaced atomically on every write (write + rename), so a reader never sees half a file,
  and it is private to the user (0600): it holds the program's channel token;
* :class:`LogWriter`: appends a program's output to its log file under a cap;
* :func:`process_start_time`: tells a live process from a new one that got the same pid;
* :func:`main`: ``supervise --serve RECORDS_DIR SOCKET`` runs the service. The app starts it
  as ``python -I -S -c <boot> ...`` from a source tree or wheel (see
  :func:`jobdeck.runtime.supervisor_client.service_command`), and as
  ``jobdeck _supervise ...`` from a frozen bundle.

Records written by an older Jobdeck's per-job supervisors (one process per job, which
exited with its program) are still read: such a job is re-attached by watching that
supervisor's pid (``shared`` is False in its record).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # (annotations only: see supervisor_service's imports)
    from typing import Any

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "JOURNAL_PREFIX",
    "MIN_MAX_LOG_BYTES",
    "LogWriter",
    "RecordState",
    "SupervisorRecord",
    "main",
    "process_start_time",
    "read_record",
    "record_fields",
    "record_from_fields",
    "write_record",
]


class RecordState(StrEnum):
    """Where a supervised program is, as its record says (stored as the plain string)."""

    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"
    START_FAILED = "start_failed"


#: How the file name of a supervisor service's journal of queued starts begins (in the
#: records directory; see ``_Journal`` in :mod:`~jobdeck.runtime.supervisor_service`).
JOURNAL_PREFIX = ".queued-starts-"

#: A job's log is capped at this size by default (bytes); see :class:`LogWriter`.
DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024
#: The smallest cap accepted (a smaller one would keep too little to read).
MIN_MAX_LOG_BYTES = 64 * 1024

_READ_SIZE = 256 * 1024


@dataclass
class SupervisorRecord:
    """What a supervisor knows of its job. Written by the app (spec) and the supervisor."""

    job_id: str
    argv: list[str]
    log_path: str
    cwd: str | None = None
    #: The full environment of the program, in the request to start it (the service does
    #: not keep it in the record file).
    env: dict[str, str] = field(default_factory=dict)
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
    #: descendant it waited for, once it has exited (``max_rss`` None: not known; never the
    #: service's own, see ``SupervisorService._peak_of``).
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
    #: Bytes of output that could not be written to the log (a full disk), and why.
    log_lost: int = 0
    log_lost_error: str | None = None
    #: Processes the program left running that the supervisor had to stop.
    leftovers: int = 0
    #: True when the supervisor could make itself the child subreaper.
    subreaper: bool | None = None
    #: True when the supervisor is the store's shared service (it watches other jobs'
    #: programs too and outlives this one); False for an older per-job supervisor.
    shared: bool = False

    @property
    def finished(self) -> bool:
        return self.state in (RecordState.EXITED, RecordState.START_FAILED)


_FIELD_NAMES = frozenset(f.name for f in fields(SupervisorRecord))


def record_fields(record: SupervisorRecord) -> dict[str, Any]:
    """The record as a plain dict for JSON (a shallow copy: ``asdict`` deep-copies the
    environment, which costs more than the rest of a program's start)."""
    return {name: getattr(record, name) for name in _FIELD_NAMES}


def write_record(path: Path, record: SupervisorRecord, *, sync: bool = True) -> None:
    """Replace ``path`` with ``record`` atomically; the file is private to the user (0600).

    ``sync=False`` skips the fsync (about 4 ms on an ordinary disk): the rename alone makes
    the new record whole and visible to every other process at once, which is what an app
    that crashed or was killed needs; only a crash of the whole machine can lose it, and
    then the program is gone too.
    """
    fd, tmp = tempfile.mkstemp(prefix=".rec-", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record_fields(record), f)
            if sync:
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
        return record_from_fields(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable supervisor record: {exc}") from exc


def record_from_fields(data: Any) -> SupervisorRecord:
    """A record from its JSON fields (unknown keys are ignored); ValueError if it is none."""
    try:
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        record = SupervisorRecord(**{k: v for k, v in data.items() if k in _FIELD_NAMES})
        record.state = RecordState(record.state)
        return record
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from exc


def process_start_time(pid: int, *, include_zombie: bool = False) -> float | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if gone.

    Compared with the recorded value, it tells a live job from a new process that got the
    same pid. A zombie counts as gone unless ``include_zombie`` (the supervisor recording a
    program that exited at once). Uses psutil's ``create_time`` where /proc is missing.
    """
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)  # (half of open()'s cost)
        try:
            stat = os.read(fd, 4096)  # (a few hundred bytes, read whole at once)
        finally:
            os.close(fd)
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


class LogWriter:
    """Appends a job's output to its log file (0600), keeping the file under a cap.

    Once the file grows past ``max_bytes`` it is cut: its first quarter (up to a line
    break) stays, then one line ``[jobdeck: N bytes of output left out here ...]``, then
    the most recent output (at least the last quarter of the cap, from a line start). The
    file therefore always holds how the program started and how it ended, and never grows
    much past ``max_bytes``. ``output_start`` follows this attempt's first byte through the
    cuts. Not thread-safe; the supervisor is its only user.

    Output that cannot be written (a full disk) is dropped, never waited for: ``lost``
    counts its bytes and ``lost_error`` says why; once writing works again (or at
    :meth:`close`) a line ``[jobdeck: N bytes of output lost here: ...]`` marks the gap.
    """

    def __init__(self, path: str, max_bytes: int | None, output_start: int = 0) -> None:
        if max_bytes is not None and max_bytes < MIN_MAX_LOG_BYTES:
            max_bytes = MIN_MAX_LOG_BYTES
        self.path = path
        self.max_bytes = max_bytes
        self.output_start = output_start
        self.omitted = 0
        #: The appending descriptor, opened (and the file created) with the first output:
        #: a program that prints nothing leaves no file (creating one costs the service
        #: 0.3-1 ms of CPU on a busy ext4).
        self._append = -1
        self._size = 0
        self._edit_fd: int | None = None
        self._head_end: int | None = None
        self._marker_len = 0
        self.write_errors = 0
        self.lost = 0
        self.lost_error: str | None = None
        self._unmarked = 0  # bytes lost since the last marker written
        self._check_can_open()

    def _check_can_open(self) -> None:
        """Refuse now, while the start can still fail saying why, what would make the
        first write fail later: a path that is not a regular file (a link, a folder) or a
        folder the service cannot create files in (a few microseconds: nothing is made)."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            folder = os.path.dirname(self.path) or "."
            if not os.path.isdir(folder):
                raise FileNotFoundError(errno.ENOENT, "no such log folder", folder) from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "cannot create files in", folder) from None
            return
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", self.path)

    @property
    def opened(self) -> bool:
        """True once the log file was opened (the program wrote something)."""
        return self._append >= 0

    def _open(self) -> None:
        flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | flags, 0o600)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", self.path)
            if stat.S_IMODE(info.st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        self._append = fd
        self._size = info.st_size

    def write(self, data: bytes) -> None:
        if not data:
            return
        view = memoryview(data)
        try:
            if self._append < 0:
                self._open()
            if self._unmarked:
                self._mark_lost()
            while view:
                written = os.write(self._append, view)
                view = view[written:]
                self._size += written
        except OSError as exc:  # disk full, say: drop the output rather than block the program
            self.write_errors += 1
            self.lost += len(view)
            self._unmarked += len(view)
            self.lost_error = exc.strerror or str(exc)
            return
        if self.max_bytes is not None and self._size > self.max_bytes:
            try:
                self._cut()
            except OSError:
                self.write_errors += 1

    @property
    def _edit(self) -> int:
        """A read-write descriptor of the file, opened on the first cut (most logs are never
        cut: one open fewer per program)."""
        if self._edit_fd is None:
            self._edit_fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        return self._edit_fd

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

    def _mark_lost(self) -> None:
        """Write the line that says where output was lost (OSError when it cannot be)."""
        marker = f"[jobdeck: {self._unmarked} bytes of output lost here: {self.lost_error}]\n"
        data = marker.encode()
        if self._size and os.pread(self._edit, 1, self._size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(self._append, data)
        self._size += written
        if written < len(data):
            raise OSError(errno.ENOSPC, "the marker of lost output was cut short")
        self._unmarked = 0

    def close(self) -> None:
        if self._unmarked and self._append >= 0:
            with contextlib.suppress(OSError):
                self._mark_lost()
        for fd in (self._append, self._edit_fd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._append = -1
        self._edit_fd = None


def main(argv: list[str] | None = None) -> int:
    """``--serve RECORDS_DIR SOCKET``: run the store's supervisor service (see
    :mod:`jobdeck.runtime.supervisor_service`)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "--serve":
        print("usage: jobdeck _supervise --serve RECORDS_DIR SOCKET", file=sys.stderr)
        return 2
    from .supervisor_service import serve

    return serve(Path(args[1]), Path(args[2]))
