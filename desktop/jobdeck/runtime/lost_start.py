"""Whether a program whose start request was caught on a broken connection started (no Qt).

The app asks the supervisor service to start a program and waits for the answer. When the
connection breaks first, the answer is lost, not the program: the service may have started
it (and be alive, having let go of this connection), or have started it just before it was
killed. Answering "lost" then would leave a program running unwatched while the store says
it is gone, and a retry would run it twice. :func:`judge_lost_start` looks instead:

* the job's record file: the service writes it for every program of a connection it lets
  go of *before* it closes that connection (and for every program that has run
  :data:`~jobdeck.runtime.supervisor_service.RECORD_DELAY`), so a program that started is
  found there: it is watched (``started``);
* the processes carrying the job's marker (:data:`~jobdeck.runtime.supervisor_service.JOB_MARKER`
  in their environment), for a program whose record could not be written (a service killed
  within ``RECORD_DELAY``, a full disk): it is watched too (the watcher stops it when its
  service is gone, saying so);
* otherwise, when the service that had the connection still runs, it let go of the
  connection without having started the program (it had written its record first): the
  program surely never ran (``start_failed``, saying so);
* otherwise (the service died, or this app closed the connection itself) whether it ran
  cannot be known: ``lost``, saying so.

The answers are :class:`~jobdeck.runtime.supervisor_client.SupervisorClient` replies; a
``started`` one carries ``supervisor`` (the pid and start time of the service that started
it), since the client may be connected to another service by then.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .supervisor import SupervisorRecord, process_start_time, read_record
from .supervisor_service import JOB_MARKER

__all__ = ["judge_lost_start", "processes_of_job"]

Service = tuple[int | None, float | None]


def judge_lost_start(
    records_dir: Path, job_id: str, service: Service, *, closing: bool = False
) -> dict[str, Any]:
    """The answer to give for the start request of ``job_id`` that went on a connection to
    ``service`` (its pid and start time) which broke before the answer came. ``closing``:
    this app closed the connection itself (the service may not have read the request yet).
    """
    pid, start_time = service
    record = _record(records_dir, job_id)
    if record is not None and record.pid is not None:
        supervisor = (record.supervisor_pid, record.supervisor_start_time)
        return _started(job_id, record.pid, record.start_time, supervisor)
    found = processes_of_job(job_id)
    if found:
        program, started_at = found[0]
        return _started(job_id, program, started_at, service)
    alive = pid is not None and process_start_time(pid) == start_time
    if alive and not closing:
        return {
            "op": "start_failed",
            "job_id": job_id,
            "error": (
                f"the supervisor (pid {pid}) let go of Jobdeck's connection before it got "
                "the request: the program did not run"
            ),
        }
    if alive:
        why = "Jobdeck closed its connection to the supervisor before the program's start was told"
    else:
        why = f"the supervisor (pid {pid}) stopped before it told whether the program started"
    return {
        "op": "lost",
        "job_id": job_id,
        "error": f"{why}; no trace of it was found: whether it ran is unknown",
    }


def _started(
    job_id: str, pid: int, start_time: float | None, supervisor: Service
) -> dict[str, Any]:
    return {
        "op": "started",
        "job_id": job_id,
        "pid": pid,
        "start_time": start_time,
        "supervisor": list(supervisor),
    }


def _record(records_dir: Path, job_id: str) -> SupervisorRecord | None:
    path = records_dir / f"{job_id}.json"
    try:
        return read_record(path) if path.is_file() else None
    except ValueError:
        return None  # (a half-written or damaged file: the processes tell)


def processes_of_job(job_id: str) -> list[tuple[int, float | None]]:
    """The live processes of this user that carry ``job_id``'s marker, as (pid, start
    time), the program itself first (the oldest session leader among them)."""
    wanted = f"{JOB_MARKER}={job_id}".encode()
    uid = os.getuid()
    found: list[tuple[bool, float, int]] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if wanted not in environ.split(b"\0"):
            continue
        started_at = process_start_time(pid)
        if started_at is None:
            continue  # a zombie: it ended
        try:
            leader = os.getsid(pid) == pid
        except OSError:
            continue
        found.append((not leader, started_at, pid))
    found.sort()
    return [(pid, started_at) for _, started_at, pid in found]
