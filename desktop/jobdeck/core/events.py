"""Event objects the tracker hands to subscribers, and the log entry record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .job import Job

__all__ = ["EventKind", "JobEvent", "LogEntry"]


class EventKind(StrEnum):
    """What happened to a job.

    Transition kinds are sent after the change is committed, in order, by the thread that
    committed it (see :class:`~jobdeck.core.tracker.JobTracker`). ``PROGRESS`` and ``LOG``
    are coalesced and sent from the tracker's pump thread at most ``event_interval`` apart.
    """

    CREATED = "created"
    STARTED = "started"
    PROGRESS = "progress"
    LOG = "log"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CANCEL_REQUESTED = "cancel_requested"
    RETRYING = "retrying"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a job's log. ``ts`` is epoch seconds."""

    job_id: str
    ts: float
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Something happened to ``job`` (the snapshot after the change)."""

    kind: EventKind
    job: Job
    log: LogEntry | None = None
