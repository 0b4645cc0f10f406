"""Relative timeouts: "fail after 3x the usual duration".

A job type (``JobType.timeout_factor``) or a job (``enqueue(timeout_factor=...)``, kept in
its metadata: it survives a restart and a re-run; the job's wins) may say that a run taking
N times its key's usual duration has gone wrong. The usual duration is the **median**
(:attr:`~jobdeck.core.eta.RunHistory.typical`) of the key's recent successful runs, the
same "usually ~4 min" the taskbar shows; a key that never completed has no usual duration,
and then only the absolute ``timeout`` applies. :class:`RelativeTimeouts` gives the
scheduler a run's deadline: the earlier of the absolute and the relative one, and the
message a relative one fails the job with ("took 3.0x its usual 4 min; stopped").

The key's history is read when such a job starts (re-attached after a restart too), from a
:class:`~jobdeck.core.run_history.RunHistories` made on first need and kept current by the
tracker's completions; jobs with no relative timeout cost nothing. GUI thread. No Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobdeck.core.job import Job
from jobdeck.core.registry import JobType
from jobdeck.core.run_history import RunHistories

if TYPE_CHECKING:
    from jobdeck.core.tracker import JobTracker

__all__ = ["RelativeTimeouts", "timeout_factor", "usual_duration_text"]


def timeout_factor(job: Job, job_type: JobType | None) -> float | None:
    """The job's relative timeout: its own, else its type's; None when neither has one."""
    own = job.timeout_factor
    if own is not None:
        return own
    return job_type.timeout_factor if job_type is not None else None


def usual_duration_text(seconds: float) -> str:
    """``0.4 s``, ``40 s``, ``4 min``, ``2.5 h``: a usual duration in a failure message."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f}".rstrip("0").rstrip(".") + " h"


class RelativeTimeouts:
    """Deadlines of runs whose job or type has a relative timeout (see the module)."""

    def __init__(self, tracker: JobTracker) -> None:
        self._tracker = tracker
        self._histories: RunHistories | None = None

    def deadline(
        self, job: Job, job_type: JobType | None, started: float, absolute: float | None
    ) -> tuple[float | None, str | None]:
        """The run's deadline (clock time; None: none) and, when the relative timeout is the
        earlier, the message it fails the job with."""
        factor = timeout_factor(job, job_type)
        if factor is None:
            return absolute, None
        if self._histories is None:
            self._histories = RunHistories(self._tracker)
        history = self._histories.history_now(job)
        if history is None or history.typical <= 0:
            return absolute, None  # no usual duration yet: only the absolute timeout
        relative = started + factor * history.typical
        if absolute is not None and absolute <= relative:
            return absolute, None
        usual = usual_duration_text(history.typical)
        return relative, f"took {factor:.1f}x its usual {usual}; stopped"

    def close(self) -> None:
        if self._histories is not None:
            self._histories.close()
            self._histories = None
