"""Whether a program whose start request was caught on a broken connection started (no Qt).

The app asks the supervisor service to start a program and waits for the answer. When the
connection breaks first, the answer is lost, not the program: the service may have started
it (and be alive, having let go of this connection), or have started it just before it was
killed. Answering "lost" then would leave a program running unwatched while the store says
it is gone, and a retry would run it twice. :func:`judge_lost_starts` looks instead:

* the job's record file: the service writes it for every program of a connection it lets
  go of *before* it closes that connection (and for every program that has run
  :data:`~jobdeck.runtime.supervisor_service.RECORD_DELAY`), so a program that started is
  found there: it is watched (``started``);
* the service's journal of queued starts (:mod:`~jobdeck.runtime.start_journal`), for a
  program it started from this app's queue and was killed before telling (it writes no
  record for that at once): it is watched too, and its record file is written from the
  journal's line, for the next app should this one go before it stored the start;
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

from .start_journal import journaled_starts, keep_as_record
from .supervisor import SupervisorRecord, process_start_time, read_record
from .supervisor_service import JOB_MARKER

__all__ = ["GONE", "judge_lost_starts", "parent_of", "processes_of_job", "processes_of_jobs"]

Service = tuple[int | None, float | None]
#: A start time no process has: the service it stands for is gone.
GONE = -1.0


def judge_lost_starts(
    records_dir: Path, job_ids: list[str], service: Service, *, closing: bool = False
) -> dict[str, dict[str, Any]]:
    """The answer to give for each start request (of ``job_ids``) that went on a
    connection to ``service`` (its pid and start time) which broke before the answer came.
    ``closing``: this app closed the connection itself (the service may not have read the
    requests yet). The processes are looked through once for them all."""
    answers: dict[str, dict[str, Any]] = {}
    for job_id in job_ids:
        record = _record(records_dir, job_id)
        if record is not None and record.pid is not None:
            supervisor = (record.supervisor_pid, record.supervisor_start_time)
            if record.supervisor_pid is None:
                supervisor = service
            answers[job_id] = _started(job_id, record.pid, record.start_time, supervisor)
    unknown = [job_id for job_id in job_ids if job_id not in answers]
    if not unknown:
        return answers
    journaled = journaled_starts(records_dir, service)
    for job_id in unknown:
        record = journaled.get(job_id)
        if record is not None and record.pid is not None:
            keep_as_record(records_dir, record)
            answers[job_id] = _started(job_id, record.pid, record.start_time, service)
    unknown = [job_id for job_id in unknown if job_id not in answers]
    if not unknown:
        return answers
    found = processes_of_jobs(unknown)
    pid, start_time = service
    alive = pid is not None and process_start_time(pid) == start_time
    for job_id in unknown:
        if found.get(job_id):
            program, started_at = found[job_id][0]
            # (a program whose parent is not that service has no service left: it is
            # stopped as such, see ProgramWatcher)
            of = service if parent_of(program) == pid else (pid, GONE)
            answers[job_id] = _started(job_id, program, started_at, of)
        elif alive and not closing:
            answers[job_id] = {
                "op": "start_failed",
                "job_id": job_id,
                "error": (
                    f"the supervisor (pid {pid}) let go of Jobdeck's connection before it got "
                    "the request: the program did not run"
                ),
            }
        else:
            if alive:
                why = (
                    "Jobdeck closed its connection to the supervisor before the program's "
                    "start was told"
                )
            else:
                why = (
                    f"the supervisor (pid {pid}) stopped before it told whether the program started"
                )
            answers[job_id] = {
                "op": "lost",
                "job_id": job_id,
                "error": f"{why}; no trace of it was found: whether it ran is unknown",
            }
    return answers


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
    return processes_of_jobs([job_id]).get(job_id, [])


def processes_of_jobs(job_ids: list[str]) -> dict[str, list[tuple[int, float | None]]]:
    """:func:`processes_of_job` for each of ``job_ids`` (found in one look through the
    processes); jobs without any are left out."""
    prefix = f"{JOB_MARKER}=".encode()
    wanted = {job_id.encode() for job_id in job_ids}
    uid = os.getuid()
    found: dict[str, list[tuple[bool, float, int]]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
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
        marks = [v[len(prefix) :] for v in environ.split(b"\0") if v.startswith(prefix)]
        if not marks or marks[-1] not in wanted:
            continue
        started_at = process_start_time(pid)
        if started_at is None:
            continue  # a zombie: it ended
        try:
            leader = os.getsid(pid) == pid
        except OSError:
            continue
        found.setdefault(marks[-1].decode(), []).append((not leader, started_at, pid))
    return {
        job_id: [(pid, started_at) for _, started_at, pid in sorted(processes)]
        for job_id, processes in found.items()
    }


def parent_of(pid: int) -> int | None:
    """The parent pid of process ``pid`` (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None
