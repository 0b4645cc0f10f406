"""The supervisor: a tiny process that runs one job's program so the job outlives the app.

``python supervisor.py RECORD`` (run the file itself, not ``-m``, so that the Qt-importing
``jobdeck.runtime`` package is never imported) reads the job's spec from the JSON file
RECORD and detaches: it forks, the parent exits at once (so the app has no long-lived child
to reap) and the child carries on in the session the app started it in. It starts the
program in a session and process group of its own with its output appended to the job's log
file, writes the program's pid and start time into RECORD, then writes ``ok`` to its
standard output and closes it (the app waits for that end-of-file), waits for the program,
and finally writes the exit status, end time and the program tree's resource use
(``getrusage(RUSAGE_CHILDREN)``) into RECORD. Neither the app quitting, crashing nor its
terminal closing stops it.

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
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "STATE_EXITED",
    "STATE_RUNNING",
    "STATE_STARTING",
    "STATE_START_FAILED",
    "SupervisorRecord",
    "main",
    "process_start_time",
    "read_record",
    "write_record",
]

STATE_STARTING = "starting"
STATE_RUNNING = "running"
STATE_EXITED = "exited"
STATE_START_FAILED = "start_failed"

#: Written to the supervisor's stdout once the record names the running program.
READY = b"ok\n"


@dataclass
class SupervisorRecord:
    """What a supervisor knows of its job. Written by the app (spec) and the supervisor."""

    job_id: str
    argv: list[str]
    log_path: str
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # the full environment of the program
    state: str = STATE_STARTING
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

    @property
    def finished(self) -> bool:
        return self.state in (STATE_EXITED, STATE_START_FAILED)


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
        return SupervisorRecord(**{k: v for k, v in data.items() if k in _FIELD_NAMES})
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
    try:
        log = open(record.log_path, "ab", buffering=0)  # noqa: SIM115 - handed to the child
    except OSError as exc:
        return _start_failed(record_path, record, f"cannot open log file: {exc}")
    try:
        child = subprocess.Popen(
            record.argv,
            cwd=record.cwd or None,
            env=record.env or None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            restore_signals=True,
        )
    except OSError as exc:
        return _start_failed(record_path, record, _describe_start_failure(exc, record))
    finally:
        log.close()
    record.state = STATE_RUNNING
    record.pid = child.pid
    # The program may already have exited (a zombie until we wait): its start time still
    # identifies its process group, whose leftovers the app stops.
    record.start_time = process_start_time(child.pid, include_zombie=True)
    record.started_at = time.time()
    write_record(record_path, record)
    _announce_ready()

    # SIGTERM to the supervisor (e.g. a cancel that only knew its pid) goes to the program.
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    status = child.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    record.state = STATE_EXITED
    record.ended_at = time.time()
    record.cpu_seconds = usage.ru_utime + usage.ru_stime
    record.max_rss = usage.ru_maxrss * 1024  # kilobytes on Linux
    if status < 0:
        record.signal = -status
    else:
        record.exit_code = status
    write_record(record_path, record)
    return 0


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
    record.state, record.error, record.ended_at = STATE_START_FAILED, error, time.time()
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
