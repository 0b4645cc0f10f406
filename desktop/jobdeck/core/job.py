"""The job record: :class:`Job`, :class:`JobStatus`, :class:`Progress` and the transition table.

Everything here is plain data. A :class:`Job` is a frozen snapshot: the tracker hands out a
new one whenever something changes, so a snapshot can be passed between threads freely.
"""

from __future__ import annotations

import operator
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from .job_status import JobStatus

__all__ = [
    "TIMEOUT_FACTOR_KEY",
    "InvalidTransition",
    "Job",
    "JobError",
    "JobStatus",
    "Progress",
    "check_transition",
    "evolve",
    "new_job_id",
    "queued_first",
    "to_datetime",
]


#: The only moves a job may make. ``RUNNING -> PENDING`` is an automatic retry;
#: ``PENDING -> FAILED`` a job that can never start (a dependency failed, its type is
#: unknown, its params became invalid): it fails without a start or an attempt.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class InvalidTransition(Exception):
    """A job was asked to move between two states the transition table does not connect."""

    def __init__(self, job_id: str, old: JobStatus, new: JobStatus, why: str | None = None) -> None:
        if why is None and old.finished:
            why = f"it is already {old.value} and finished jobs never change"
        elif why is None:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "nothing"
            why = f"a {old.value} job can only become {allowed}"
        super().__init__(f"job {job_id} cannot go from {old.value} to {new.value}: {why}")
        self.job_id = job_id
        self.old = old
        self.new = new


class JobTaken(InvalidTransition):
    """Another app instance on a shared board has started (or is starting) this job."""

    def __init__(self, job_id: str, old: JobStatus, now: JobStatus) -> None:
        Exception.__init__(
            self,
            f"job {job_id} is not {old.value} any more: another instance on the board "
            + ("is starting it" if now is old else f"made it {now.value}"),
        )
        self.job_id = job_id
        self.old = old
        self.new = JobStatus.RUNNING


def check_transition(job_id: str, old: JobStatus, new: JobStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``old -> new`` is in :data:`TRANSITIONS`."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(job_id, old, new)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a job has got. ``total == 0`` means the total is unknown."""

    current: float = 0
    total: float = 0
    message: str = ""

    @property
    def percent(self) -> float | None:
        """0-100, or None while the total is unknown."""
        if not self.total:
            return None
        return max(0.0, min(100.0, 100.0 * self.current / self.total))


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job failed: a message a person can read, and the traceback when there is one."""

    message: str
    traceback: str | None = None

    def __str__(self) -> str:
        return self.message


def to_datetime(ts: float | None) -> datetime | None:
    """An epoch timestamp as an aware UTC datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class Job:
    """A frozen snapshot of one job as the store knows it.

    Times are epoch seconds in the ``*_ts`` fields; the datetime properties convert them.
    """

    id: str
    type: str
    title: str
    status: JobStatus
    created_ts: float
    priority: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    progress: Progress = Progress()
    started_ts: float | None = None
    completed_ts: float | None = None
    attempts: int = 0
    max_attempts: int = 1
    run_at_ts: float | None = None
    timeout: float | None = None
    depends_on: tuple[str, ...] = ()
    error: JobError | None = None
    result: Any = None
    cancel_requested: bool = False
    retry_of: str | None = None
    # Process jobs
    pid: int | None = None
    exit_code: int | None = None
    log_path: str | None = None
    #: Peak resident memory of the whole process tree (bytes) and its CPU time (seconds).
    peak_rss: int | None = None
    cpu_seconds: float | None = None
    #: The last time the store knew the job was alive while running (a progress flush, a
    #: log line, the tracker's periodic heartbeat); an interrupted job ended then.
    last_seen_ts: float | None = None

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ts, UTC)

    @property
    def started_at(self) -> datetime | None:
        return to_datetime(self.started_ts)

    @property
    def completed_at(self) -> datetime | None:
        return to_datetime(self.completed_ts)

    @property
    def run_at(self) -> datetime | None:
        return to_datetime(self.run_at_ts)

    @property
    def duration(self) -> timedelta | None:
        """Run time of a finished job that started; None otherwise (see :meth:`elapsed`)."""
        if self.started_ts is None or self.completed_ts is None:
            return None
        return timedelta(seconds=max(0.0, self.completed_ts - self.started_ts))

    def elapsed(self, now: float) -> timedelta | None:
        """Run time so far: up to ``now`` (epoch seconds) while running, else the duration."""
        if self.started_ts is None:
            return None
        end = self.completed_ts if self.completed_ts is not None else now
        return timedelta(seconds=max(0.0, end - self.started_ts))

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def timeout_factor(self) -> float | None:
        """This job's relative timeout ("fail after N x the usual duration"), kept in its
        metadata under :data:`TIMEOUT_FACTOR_KEY` (set by ``enqueue(timeout_factor=...)``);
        None: its type's, if any."""
        value = self.metadata.get(TIMEOUT_FACTOR_KEY)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
            return float(value)
        return None


#: The metadata key of a job's relative timeout (see :attr:`Job.timeout_factor`).
TIMEOUT_FACTOR_KEY = "timeout_factor"

_JOB_FIELDS = tuple(f.name for f in fields(Job))
_JOB_FIELD_SET = frozenset(_JOB_FIELDS)


_job_values = operator.attrgetter(*_JOB_FIELDS)
_JOB_INDEX = {name: i for i, name in enumerate(_JOB_FIELDS)}
#: The slots' own setters, in field order (what a frozen dataclass's ``__init__`` does
#: through ``object.__setattr__``, one Python-level call per field, at half the cost).
_JOB_SETTERS = tuple(getattr(Job, name).__set__ for name in _JOB_FIELDS)


def queued_first(jobs: Iterable[Job]) -> list[Job]:
    """``jobs`` in the order to cancel them together: the queued ones first, then the
    others (each in their order). Cancelling a running job frees its slot at once, and a
    queued job already handed over to the supervisor service would start in that slot
    before its own cancel came: it ran, if only for a moment, though it was cancelled."""
    listed = list(jobs)
    queued = [job for job in listed if job.status is JobStatus.PENDING]
    return queued + [job for job in listed if job.status is not JobStatus.PENDING]


def evolve(job: Job, changes: Mapping[str, Any]) -> Job:
    """A copy of ``job`` with ``changes``: ``dataclasses.replace`` without its per-call
    overhead (this is on every transition: ~5 µs instead of ~11 µs through ``Job(...)``;
    a Job has no ``__post_init__`` to skip)."""
    if not changes:
        return job
    unknown = changes.keys() - _JOB_FIELD_SET
    if unknown:
        raise TypeError(f"Job has no field(s) {sorted(unknown)}")
    values = list(_job_values(job))
    for name, value in changes.items():
        values[_JOB_INDEX[name]] = value
    new = object.__new__(Job)
    for setter, value in zip(_JOB_SETTERS, values, strict=True):
        setter(new, value)
    return new


# --- ids -------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_ms = -1
_last_rand = 0
_RAND_BITS = 80
_RAND_MAX = (1 << _RAND_BITS) - 1


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_job_id(now: float | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits.

    Ids made in the same millisecond by this process increase monotonically (the random part
    is incremented), so ids sort by creation even when thousands are made per millisecond.
    ``now`` (epoch seconds) lets an injected clock set the time part.
    """
    global _last_ms, _last_rand
    ms = int((time.time() if now is None else now) * 1000)
    with _id_lock:
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand += 1
            if _last_rand > _RAND_MAX:  # 2**80 ids in one ms: borrow the next millisecond
                ms += 1
                _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            # Leave headroom so increments within the millisecond do not overflow.
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms = ms
        return _encode(ms, 10) + _encode(_last_rand, 16)
