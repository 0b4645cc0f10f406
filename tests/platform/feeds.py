"""A job feed that follows JobSignals' contract, driven by hand, and job snapshots."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from jobdeck.core.job import Job, JobError, JobStatus, Progress, new_job_id

T0 = 1_700_000_000.0
_counter = itertools.count()


def make_job(
    title: str = "job",
    status: JobStatus = JobStatus.RUNNING,
    current: float = 0,
    total: float = 0,
    started: float | None = None,
    **kw: Any,
) -> Job:
    created = T0 + next(_counter)
    if started is None and status is not JobStatus.PENDING:
        started = created
    return Job(
        id=new_job_id(created),
        type="command",
        title=title,
        status=status,
        created_ts=created,
        progress=Progress(current, total, ""),
        started_ts=started,
        **kw,
    )


def progressed(job: Job, current: float, total: float | None = None) -> Job:
    return replace(job, progress=Progress(current, job.progress.total if total is None else total))


def finished(job: Job, status: JobStatus = JobStatus.COMPLETED) -> Job:
    error = JobError("boom") if status is JobStatus.FAILED else None
    return replace(job, status=status, completed_ts=(job.started_ts or T0) + 5, error=error)


class FakeFeed(QObject):
    """``push(*jobs)`` emits one batch the way JobSignals does: jobsChanged with every
    snapshot, then jobFinished for each finished one."""

    jobsAdded = Signal(list)
    jobsChanged = Signal(list)
    jobFinished = Signal(object)

    def __init__(self, active: list[Job] | None = None) -> None:
        super().__init__()
        self._active = list(active or [])

    def active_jobs(self) -> list[Job]:
        return list(self._active)

    def add(self, *jobs: Job) -> None:
        self.jobsAdded.emit(list(jobs))

    def push(self, *jobs: Job) -> None:
        self.jobsChanged.emit(list(jobs))
        for job in jobs:
            if job.finished:
                self.jobFinished.emit(job)
