"""Which pending jobs run next: priority, dependencies, ``run_at``, retry backoff, the worker limit.

Pure decisions, no Qt and no threads: :func:`plan_queue` looks at the pending jobs, how many
run already, the state of their dependencies and the time, and says which jobs to start,
which to fail because a dependency failed or was cancelled, and when a delayed job next
becomes due. The runtime acts on the plan. :func:`backoff` gives the delay before a retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .job import Job, JobStatus

__all__ = ["QueuePlan", "backoff", "dependency_problem", "plan_queue"]

#: Finds a job by id (the latest snapshot), or None when no such job exists any more.
JobLookup = Callable[[str], Job | None]


@dataclass(frozen=True, slots=True)
class QueuePlan:
    """What the scheduler should do now.

    ``start``: jobs to start, in order (highest priority first, then oldest).
    ``fail``: ``(job, reason)`` for pending jobs that can never run (a dependency failed).
    ``next_due``: epoch seconds when the earliest delayed job (``run_at`` or a retry backoff)
    whose dependencies are met becomes ready, or None when no job waits only for time.
    """

    start: tuple[Job, ...] = ()
    fail: tuple[tuple[Job, str], ...] = ()
    next_due: float | None = None


def dependency_problem(job: Job, lookup: JobLookup) -> tuple[bool, str | None]:
    """``(ready, reason)`` for ``job``'s dependencies.

    ``ready`` is True once every dependency completed. ``reason`` is set when the job can
    never run: a dependency failed, was cancelled or no longer exists; it names it.
    """
    ready = True
    for dep_id in job.depends_on:
        dep = lookup(dep_id)
        if dep is None:
            return False, f"dependency {dep_id} no longer exists"
        if dep.status is JobStatus.COMPLETED:
            continue
        if dep.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return False, f"dependency {dep.title!r} ({dep_id}) {dep.status.value}"
        ready = False
    return ready, None


def plan_queue(
    pending: Iterable[Job],
    *,
    running: int,
    max_workers: int,
    lookup: JobLookup,
    now: float,
) -> QueuePlan:
    """Decide what to do with ``pending`` jobs when ``running`` jobs already run.

    At most ``max_workers - running`` jobs are started, highest priority first, then oldest
    (ids sort by creation). A job starts only when all of its ``depends_on`` completed and
    its ``run_at`` (also the time a retry waits for) is not in the future. Jobs that are not
    pending are ignored.
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be an integer >= 1, got {max_workers!r}")
    if isinstance(running, bool) or not isinstance(running, int) or running < 0:
        raise ValueError(f"running must be an integer >= 0, got {running!r}")
    slots = max_workers - running
    start: list[Job] = []
    fail: list[tuple[Job, str]] = []
    next_due: float | None = None
    for job in sorted(pending, key=_order):
        if job.status is not JobStatus.PENDING:
            continue
        if job.depends_on:
            ready, reason = dependency_problem(job, lookup)
            if reason is not None:
                fail.append((job, reason))
                continue
            if not ready:
                continue  # a dependency's own transition will trigger the next plan
        if job.run_at_ts is not None and job.run_at_ts > now:
            if next_due is None or job.run_at_ts < next_due:
                next_due = job.run_at_ts
            continue
        if len(start) < slots:
            start.append(job)
    return QueuePlan(tuple(start), tuple(fail), next_due)


def _order(job: Job) -> tuple[int, str]:
    return -job.priority, job.id


def backoff(
    attempt: int,
    base: float = 1.0,
    cap: float = 300.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1 = first).

    Exponential with "equal jitter": the ceiling is ``min(cap, base * 2 ** (attempt - 1))``
    and the delay is uniform in ``[ceiling / 2, ceiling]``, so retries of many jobs spread
    out but each still waits at least half its ceiling.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
    if not base > 0:
        raise ValueError(f"base must be a positive number of seconds, got {base!r}")
    if not cap >= base:
        raise ValueError(f"cap must be at least base ({base}), got {cap!r}")
    # 2 ** 64 is far above any cap; bounding the exponent keeps the float finite.
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    half = ceiling / 2
    return half + (rng or random).uniform(0.0, half)
