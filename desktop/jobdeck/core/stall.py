"""Stalled jobs: running, with no progress and no output for too long.

:class:`StallWatch` is told every sign of life of a running job (:meth:`~StallWatch.seen`
with each snapshot: a change of its progress or message counts; :meth:`~StallWatch.alive`
for a log line) and, asked with the time (:meth:`~StallWatch.check`), says which jobs have
just stalled and which have come back. The silence allowed is per job type (``after_s``
by type, :data:`DEFAULT_STALL_AFTER_S` otherwise). One notion for every kind of job:
callables, coroutines and programs alike (a program's output lines are its progress
messages). Times are the tracker's clock (epoch seconds). Not thread-safe: one thread
feeds and asks it. No Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .job import Job, JobStatus

__all__ = ["DEFAULT_STALL_AFTER_S", "StallChanges", "StallWatch"]

#: Silence after which a running job is stalled, unless its type says otherwise.
DEFAULT_STALL_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class StallChanges:
    """What a :meth:`StallWatch.check` found: ``stalled`` (job id -> seconds of silence) of
    the jobs that have just stalled, and the ids of the jobs that have ``recovered``."""

    stalled: dict[str, float]
    recovered: list[str]


class StallWatch:
    """Which running jobs are silent for too long (see the module)."""

    def __init__(
        self, after_s: float = DEFAULT_STALL_AFTER_S, by_type: Mapping[str, float] | None = None
    ) -> None:
        if not after_s > 0:
            raise ValueError(f"the stall time must be more than 0 seconds, got {after_s!r}")
        for name, seconds in (by_type or {}).items():
            if not seconds > 0:
                raise ValueError(f"the stall time of {name} must be more than 0 s, got {seconds!r}")
        self.after_s = float(after_s)
        self.by_type = dict(by_type or {})
        self._last: dict[str, tuple[float, float, str]] = {}  # id -> (when, current, message)
        self._types: dict[str, str] = {}
        self._stalled: set[str] = set()
        self._recovered: list[str] = []

    def set_after(self, seconds: float) -> None:
        """A new default silence: applies to the next :meth:`check`, where a stalled job no
        longer silent that long comes back."""
        if not seconds > 0:
            raise ValueError(f"the stall time must be more than 0 seconds, got {seconds!r}")
        self.after_s = float(seconds)

    def limit(self, type_name: str) -> float:
        """Seconds of silence after which a job of ``type_name`` is stalled."""
        return self.by_type.get(type_name, self.after_s)

    def seen(self, job: Job, now: float) -> None:
        """A snapshot of ``job``: a new progress value or message is a sign of life; a job
        that is no longer running is forgotten."""
        if job.status is not JobStatus.RUNNING:
            self.forget(job.id)
            return
        progress = job.progress
        last = self._last.get(job.id)
        if last is None:
            # first seen now (started, or re-attached after a restart): a full period's grace
            self._last[job.id] = (now, progress.current, progress.message)
            self._types[job.id] = job.type
            return
        if last[1] != progress.current or last[2] != progress.message:
            self._last[job.id] = (now, progress.current, progress.message)
            self._wake(job.id)

    def alive(self, job_id: str, now: float) -> None:
        """A sign of life of a job (a log line)."""
        last = self._last.get(job_id)
        if last is not None:
            self._last[job_id] = (now, last[1], last[2])
            self._wake(job_id)

    @property
    def watching(self) -> bool:
        """True while some running job is watched."""
        return bool(self._last)

    def has_recoveries(self) -> bool:
        """True when a stalled job came back since the last :meth:`check`."""
        return bool(self._recovered)

    def forget(self, job_id: str) -> None:
        self._last.pop(job_id, None)
        self._types.pop(job_id, None)
        if job_id in self._stalled:
            self._stalled.discard(job_id)
            self._recovered.append(job_id)  # a stalled job that ended is no longer stalled

    def _wake(self, job_id: str) -> None:
        if job_id in self._stalled:
            self._stalled.discard(job_id)
            self._recovered.append(job_id)

    def silence(self, job_id: str, now: float) -> float | None:
        """Seconds a stalled job has been silent; None when it is not stalled."""
        if job_id not in self._stalled:
            return None
        return max(0.0, now - self._last[job_id][0])

    def stalled(self, now: float) -> dict[str, float]:
        """Every stalled job: id -> seconds of silence."""
        return {job_id: max(0.0, now - self._last[job_id][0]) for job_id in self._stalled}

    def check(self, now: float) -> StallChanges:
        """Jobs that stalled since the last check, and jobs that came back."""
        newly: dict[str, float] = {}
        for job_id, (when, _current, _message) in self._last.items():
            silence = now - when
            limit = self.limit(self._types[job_id])
            if job_id not in self._stalled and silence >= limit:
                self._stalled.add(job_id)
                newly[job_id] = silence
            elif job_id in self._stalled and silence < limit:  # the limit was raised
                self._stalled.discard(job_id)
                self._recovered.append(job_id)
        recovered, self._recovered = self._recovered, []
        return StallChanges(newly, recovered)
