"""A job's status: :class:`JobStatus` (also named by :mod:`jobdeck.core.job`).

A module of its own so that what shows statuses without showing jobs — the desktop app's
first window: its status filter, its colours — does not make the job record's dataclasses
(:class:`~jobdeck.core.job.Job` and its parts, ~3-4 ms at import). No Qt.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["JobStatus"]


class JobStatus(StrEnum):
    """Where a job is in its life. ``COMPLETED``, ``FAILED`` and ``CANCELLED`` are final."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in _FINAL

    @property
    def active(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.RUNNING)


_FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
