"""The tracker's memory of unfinished jobs: :class:`JobMemory`.

Every pending and running job's latest snapshot, and each running job's context with the
sequence numbers of the progress last announced and last stored. The tracker's lock guards
it; a commit group saves a job's entries before it first changes them
(:meth:`JobMemory.save`) so that a failed commit puts them back (:meth:`JobMemory.restore`):
memory never runs ahead of the store. No Qt.
"""

from __future__ import annotations

from typing import Any

from .context import JobContext
from .job import Job

__all__ = ["MISSING", "JobMemory", "Saved"]

#: Marks "no entry" in a saved copy.
MISSING: Any = object()

#: A job's saved entries: (snapshot, context, announced seq, stored seq), MISSING for none.
Saved = tuple[Any, Any, Any, Any]


class JobMemory:
    """Unfinished jobs in memory (see the module). Not thread-safe: hold the tracker's lock."""

    __slots__ = ("active", "contexts", "event_seq", "flushed_seq")

    def __init__(self) -> None:
        #: Every pending or running job, latest snapshot (progress as last announced).
        self.active: dict[str, Job] = {}
        #: The context of every running job.
        self.contexts: dict[str, JobContext] = {}
        #: The context sequence number last announced (PROGRESS) and last stored, per job.
        self.event_seq: dict[str, int] = {}
        self.flushed_seq: dict[str, int] = {}

    def save(self, job_id: str) -> Saved:
        return (
            self.active.get(job_id, MISSING),
            self.contexts.get(job_id, MISSING),
            self.event_seq.get(job_id, MISSING),
            self.flushed_seq.get(job_id, MISSING),
        )

    def restore(self, job_id: str, saved: Saved) -> None:
        mappings: tuple[dict[str, Any], ...] = (
            self.active,
            self.contexts,
            self.event_seq,
            self.flushed_seq,
        )
        for mapping, value in zip(mappings, saved, strict=True):
            if value is MISSING:
                mapping.pop(job_id, None)
            else:
                mapping[job_id] = value

    def run(self, job: Job, ctx: JobContext) -> None:
        """``job`` runs with ``ctx`` (nothing announced or stored of its progress yet)."""
        self.active[job.id] = job
        self.contexts[job.id] = ctx
        self.event_seq[job.id] = 0
        self.flushed_seq[job.id] = 0

    def forget(self, job_id: str) -> None:
        """``job_id`` is no longer running (finished, or pending again)."""
        self.active.pop(job_id, None)
        self.contexts.pop(job_id, None)
        self.event_seq.pop(job_id, None)
        self.flushed_seq.pop(job_id, None)
