"""Reading the supervisor service's journal of queued starts (no Qt).

The service starts a job the app handed over the moment one of the app's programs ends,
and writes no record file for it then (that cost more than it saved): one line in its
journal (``<records>/.queued-starts-<pid>-<start time>``, see ``_Journal`` in
:mod:`~jobdeck.runtime.supervisor_service`) says it started, until its record is written or
the app stored its end. When the service is SIGKILLed before the app heard of such a start,
the store still says the job is queued; these lines are how the program is found again:

* the app that had the connection looks here when it breaks
  (:func:`~jobdeck.runtime.lost_start.judge_lost_starts`);
* the next app (its service gone too) when it starts
  (:meth:`~jobdeck.runtime.executors.processes.ProcessExecutor.started_unstored`).

Either writes each start it takes up as the record file the service would have written
(``extra["queued"]`` and the attempt it is), which is what the adoption of a start an app
did not store (``Scheduler._adopt_started``) and the program's watcher read: the job is
then running in the store and its program is watched (stopped, saying so, while its service
is gone), never started a second time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .supervisor import (
    JOURNAL_PREFIX,
    RecordState,
    SupervisorRecord,
    process_start_time,
    write_record,
)
from .supervisor_service import journal_name

if TYPE_CHECKING:  # (the app's side imports this module where no store is open)
    from jobdeck.core.tracker import JobTracker

__all__ = ["journaled_starts", "keep_as_record", "take_up_journals"]

Service = tuple[int | None, float | None]

log = logging.getLogger(__name__)


def journaled_starts(records_dir: Path, service: Service) -> dict[str, SupervisorRecord]:
    """The starts the journal of ``service`` (its pid and start time) holds, by job id,
    each as the record the service would have written (its latest line for a job)."""
    pid, start_time = service
    if pid is None:
        return {}
    return _read(records_dir / journal_name(pid, start_time), pid, start_time)


def keep_as_record(records_dir: Path, record: SupervisorRecord) -> bool:
    """Write ``record`` (a journaled start) as its job's record file, unless one is there
    (the service wrote it: it knows more); True when a record file is there now."""
    path = records_dir / f"{record.job_id}.json"
    if path.exists():
        return True
    try:
        write_record(path, record, sync=False)
    except OSError:
        return False
    return True


def take_up_journals(records_dir: Path, tracker: JobTracker) -> list[str]:
    """Write the record files of the starts that the journals of services that are gone
    hold for jobs ``tracker``'s store has pending with that attempt next (a line of an
    earlier attempt, or of a job whose start or end is stored, is not taken up), then
    remove those journals; the ids of the jobs whose records are there now. The journal of
    a service that runs is left alone (it writes every record when its app goes)."""

    from jobdeck.core.job import JobStatus

    def wanted(job_id: str, attempt: int | None) -> bool:
        job = tracker.get_job(job_id)
        if job is None or job.status is not JobStatus.PENDING:
            return False
        return attempt == job.attempts + 1

    try:
        names = [n for n in os.listdir(records_dir) if n.startswith(JOURNAL_PREFIX)]
    except OSError:
        return []
    kept: list[str] = []
    for name in names:
        service = _service_of(name.removesuffix(".new"))
        if service is None:
            continue
        pid, start_time = service
        if process_start_time(pid) == start_time:
            continue
        path = records_dir / name
        if name.endswith(".new"):  # (a rewrite the service was killed in: the old one holds)
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        for job_id, record in _read(path, pid, start_time).items():
            attempt = record.extra.get("attempt")
            attempt = attempt if isinstance(attempt, int) else None
            if wanted(job_id, attempt) and keep_as_record(records_dir, record):
                kept.append(job_id)
        with contextlib.suppress(OSError):
            path.unlink()
    if kept:
        log.info("found %d program(s) started before their service was killed", len(kept))
    return kept


def _service_of(name: str) -> tuple[int, float] | None:
    """The service (pid, start time) a journal's file name names; None if not one."""
    pid, _, start = name.removeprefix(JOURNAL_PREFIX).partition("-")
    try:
        return int(pid), float(start)
    except ValueError:
        return None


def _read(path: Path, pid: int, start_time: float | None) -> dict[str, SupervisorRecord]:
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    found: dict[str, SupervisorRecord] = {}
    for line in data.splitlines():
        try:
            fields = json.loads(line)
            job_id = fields["job_id"]
            extra = fields.get("extra") or {}
            record = SupervisorRecord(
                job_id=job_id,
                argv=[],
                log_path=str(fields["log_path"]),
                state=RecordState.RUNNING,
                supervisor_pid=pid,
                supervisor_start_time=start_time,
                pid=int(fields["pid"]),
                start_time=fields.get("start_time"),
                started_at=fields.get("started_at"),
                extra=dict(extra),
                grace=float(fields.get("grace", 5.0)),
                output_start=int(fields.get("output_start") or 0),
                shared=True,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # (a line cut short by a full disk)
        if isinstance(job_id, str) and job_id and "/" not in job_id and job_id[0] != ".":
            found[job_id] = record
    return found
