"""The unfinished jobs of a job feed, kept current, for the desktop-integration pieces.

The feed's interface is :class:`~jobdeck.runtime.feed.JobFeed` (``runtime.signals.JobSignals``
satisfies it, and so does a test fake); :class:`ActiveJobs` keeps the latest snapshot of
every unfinished job from it.
"""

from __future__ import annotations

from collections.abc import Callable

from jobdeck.core.job import Job, JobStatus
from jobdeck.runtime.feed import JobFeed

__all__ = ["ActiveJobs", "JobFeed", "overall_fraction"]


class ActiveJobs:
    """The unfinished jobs of a :class:`JobFeed`, kept current; calls ``on_change()`` after
    every batch and ``on_finished(job)`` for every job that ended. GUI thread only."""

    def __init__(
        self,
        feed: JobFeed,
        on_change: Callable[[], None],
        on_finished: Callable[[Job], None] | None = None,
    ) -> None:
        self._feed = feed
        self._on_change = on_change
        self._on_finished = on_finished
        self.jobs: dict[str, Job] = {j.id: j for j in feed.active_jobs() if j.status.active}
        feed.jobsAdded.connect(self._on_jobs)
        feed.jobsChanged.connect(self._on_jobs)
        feed.jobFinished.connect(self._on_job_finished)
        self._connected = True

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.status is JobStatus.RUNNING]

    def disconnect(self) -> None:
        """Stop following the feed. Idempotent."""
        if self._connected:
            self._connected = False
            self._feed.jobsAdded.disconnect(self._on_jobs)
            self._feed.jobsChanged.disconnect(self._on_jobs)
            self._feed.jobFinished.disconnect(self._on_job_finished)

    def _on_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status.active:
                self.jobs[job.id] = job
            else:
                self.jobs.pop(job.id, None)
        self._on_change()

    def _on_job_finished(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        if self._on_finished is not None:
            self._on_finished(job)
        self._on_change()


def overall_fraction(jobs: list[Job]) -> float | None:
    """0..1 over the summed known totals of ``jobs``; None when no job knows its total."""
    known = [j for j in jobs if j.progress.total > 0]
    if not known:
        return None
    total = sum(j.progress.total for j in known)
    done = sum(min(max(j.progress.current, 0), j.progress.total) for j in known)
    return done / total
