"""The supervisor: a tiny process that runs one job's program so the job outlives the app.

``python -m jobdeck.runtime.supervisor RECORD`` reads the job's spec from the JSON file
RECORD, starts the program in its own session and process group with its output appended
to the job's log file, writes the program's pid and start time into RECORD, waits for it,
and finally writes the exit status and end time into RECORD. It runs in a session of its
own too, so neither the app quitting, crashing nor its terminal closing stops it.

The record is the contract between the supervisor and any later Jobdeck (see
:class:`SupervisorRecord`). It is replaced atomically on every write (write + rename), so a
reader never sees half a file. Standard library only: it must start fast and never break
because of the app's dependencies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SupervisorRecord", "main", "process_start_time", "read_record", "write_record"]

STATE_STARTING = "starting"
STATE_RUNNING = "running"
STATE_EXITED = "exited"
STATE_START_FAILED = "start_failed"


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
    pid: int | None = None
    #: The program's start time as the kernel reports it (see :func:`process_start_time`),
    #: so a reused pid is never mistaken for the job.
    start_time: float | None = None
    started_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    ended_at: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in (STATE_EXITED, STATE_START_FAILED)


def write_record(path: Path, record: SupervisorRecord) -> None:
    """Replace ``path`` with ``record`` atomically; the file is private to the user (0600)."""
    fd, tmp = tempfile.mkstemp(prefix=".rec-", dir=path.parent)
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
    """Load a record; ValueError naming the file if it is not one."""
    try:
        data = json.loads(path.read_text())
        return SupervisorRecord(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a readable supervisor record: {exc}") from exc


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if gone.

    Compared with the recorded value, it tells a live job from a new process that got the
    same pid. Uses psutil's ``create_time`` where /proc is not available.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # the command name is in parentheses and may contain spaces: split after the last ')'
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":
            return None  # a zombie has finished
        return float(fields[19])
    except FileNotFoundError:
        return None
    except OSError:  # pragma: no cover - no /proc
        try:
            import psutil

            return float(psutil.Process(pid).create_time())
        except Exception:
            return None


def _run(record_path: Path) -> int:
    record = read_record(record_path)
    record.supervisor_pid = os.getpid()
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    try:
        log = open(record.log_path, "ab", buffering=0)  # noqa: SIM115 - handed to the child
    except OSError as exc:
        record.state, record.error, record.ended_at = STATE_START_FAILED, str(exc), time.time()
        write_record(record_path, record)
        return 1
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
        record.state, record.error, record.ended_at = STATE_START_FAILED, str(exc), time.time()
        write_record(record_path, record)
        return 1
    finally:
        log.close()
    record.state = STATE_RUNNING
    record.pid = child.pid
    record.start_time = process_start_time(child.pid)
    record.started_at = time.time()
    write_record(record_path, record)

    # SIGTERM to the supervisor (e.g. a cancel that only knew its pid) goes to the program.
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    status = child.wait()
    record.state = STATE_EXITED
    record.ended_at = time.time()
    if status < 0:
        record.signal = -status
    else:
        record.exit_code = status
    write_record(record_path, record)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jobdeck.runtime.supervisor RECORD.json", file=sys.stderr)
        return 2
    return _run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
