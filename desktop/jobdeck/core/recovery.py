"""What the tracker does to a store when it opens it for writing.

1. **Bad rows** — a pending or running job whose stored row cannot be used (a time that is
   not a real time, such as ``run_at = inf`` written by an old version; damaged JSON) is
   failed with a reason; one bad row never stops the app from starting.
2. **Interrupted jobs** — a job still ``running`` is kept running for the runtime to
   re-attach when it can be (a process job: :func:`~jobdeck.core.registry.reattachable`;
   the runtime interrupts one whose program it finds no trace of); otherwise it is
   re-queued when its type allows a retry and it has attempts left
   (:func:`~jobdeck.core.registry.retry_allowed`),
   or failed as interrupted, with its progress in words (``at 6/60``, ``at 10%``) and its
   last sign of life as its end, so its duration does not count the time Jobdeck was not
   running.
3. **Retention** — finished jobs older than the retention period expire, except those an
   unfinished job depends on, and never more than could have aged in real time since the
   last run (:func:`retention_cutoff`). Deleting them, with their log lines and files, is
   :mod:`.retention`'s part (batched, at open or on a thread of its own later); their
   numbers stay in the roll-up tables first (:func:`~jobdeck.core.rollup.roll_up`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .clock import BootReference
from .job import Job, JobError, JobStatus, Progress, evolve
from .job_rows import JOB_ROWS
from .registry import JobRegistry, JobType, reattachable, retry_allowed
from .store import Store
from .validation import MAX_DURATION, MAX_TIMESTAMP

log = logging.getLogger(__name__)

__all__ = [
    "INTERRUPTED",
    "LAST_RUN_KEY",
    "Recovered",
    "format_progress",
    "last_run_record",
    "recover",
    "recover_running",
    "retention_cutoff",
]

INTERRUPTED = "interrupted: Jobdeck stopped while this job was running"
#: A wall clock ahead of real time by more than this since the last run has jumped.
CLOCK_JUMP_TOLERANCE = 3600.0
#: Across a reboot real time is unknown; a gap longer than this is taken as a clock error.
MAX_GAP_ACROSS_BOOTS = 366 * 86_400.0
#: The meta key under which each run remembers when it ran (see :func:`retention_cutoff`).
LAST_RUN_KEY = "last_run"
_COL = JOB_ROWS.index


@dataclass
class Recovered:
    """What recovery found: jobs kept running for the runtime, and pending jobs."""

    kept_running: list[Job] = field(default_factory=list)
    pending: list[Job] = field(default_factory=list)


def format_progress(progress: Progress) -> str:
    """Progress in words for a message: ``at 6/60`` for whole counts, else ``at 10%``;
    empty when the total is unknown."""
    current, total = progress.current, progress.total
    if not total or not math.isfinite(current) or not math.isfinite(total):
        return ""
    whole = float(current).is_integer() and float(total).is_integer()
    if whole and total <= 100_000:
        return f"at {int(current):,}/{int(total):,}"
    percent = 100.0 * current / total
    shown = round(percent)
    if shown >= 100 and current < total:
        shown = 99
    return f"at {max(0, min(shown, 100))}%"


def _bad_times(row: tuple[Any, ...]) -> str | None:
    """Why the row's times cannot be used, or None."""
    run_at = row[_COL["run_at_ts"]]
    if run_at is not None and not (
        isinstance(run_at, int | float) and math.isfinite(run_at) and 0 <= run_at <= MAX_TIMESTAMP
    ):
        return f"its stored start time (run_at = {run_at!r}) is not a real time"
    timeout = row[_COL["timeout"]]
    if timeout is not None and not (
        isinstance(timeout, int | float) and math.isfinite(timeout) and 0 < timeout <= MAX_DURATION
    ):
        return f"its stored timeout ({timeout!r} s) is not a usable duration"
    return None


def _unusable(row: tuple[Any, ...]) -> str | None:
    times = _bad_times(row)
    if times:
        return times
    columns = JOB_ROWS.unreadable(row)
    if columns:
        return f"its stored {', '.join(columns)} could not be read (damaged data)"
    return None


def recover(
    store: Store,
    conn: Any,
    now: float,
    *,
    registry: JobRegistry | None,
) -> Recovered:
    """Apply steps 1-2 (see the module) inside the caller's transaction on ``conn``."""
    out = Recovered()
    for row in store.raw_rows_with_status(JobStatus.PENDING, JobStatus.RUNNING):
        job_id = row[_COL["id"]]
        problem = _unusable(row)
        if problem is not None:
            conn.execute(
                "UPDATE jobs SET status = 'failed', completed_ts = ?, error = ?, "
                "traceback = NULL WHERE id = ?",
                (now, f"could not be run: {problem} (left by an older or damaged store)", job_id),
            )
            log.warning("job %s failed at open: %s", job_id, problem)
            continue
        job = JOB_ROWS.from_row(row)
        if job.status is JobStatus.PENDING:
            out.pending.append(job)
            continue
        job_type = None if registry is None else registry.get(job.type)
        if reattachable(job, job_type):
            out.kept_running.append(job)
            log.info("job %s left running for the runtime to re-attach", job.id)
            continue
        changes, recovered = recover_running(job, now, job_type)
        store.save_fields(conn, recovered, frozenset(changes))
        if recovered.status is JobStatus.PENDING:
            out.pending.append(recovered)
        log.info("recovered job %s as %s", job.id, recovered.status.value)
    return out


def recover_running(
    job: Job, now: float, job_type: JobType | None, reason: str = INTERRUPTED
) -> tuple[dict[str, Any], Job]:
    """The changes that recover a running job whose runner is gone, and the job after them:
    re-queued when its type allows a retry and it has attempts left, else failed with
    ``reason`` (and its progress in words), ended at its last sign of life."""
    changes: dict[str, Any]
    if retry_allowed(job, job_type):
        changes = {
            "status": JobStatus.PENDING,
            "started_ts": None,
            "cancel_requested": False,
            "pid": None,
            "error": JobError(reason),
        }
    else:
        where = format_progress(job.progress)
        start = job.started_ts if job.started_ts is not None else job.created_ts
        last_seen = job.last_seen_ts if job.last_seen_ts is not None else now
        changes = {
            "status": JobStatus.FAILED,
            "completed_ts": max(start, min(last_seen, now)),
            "error": JobError(f"{reason}, {where}" if where else reason),
        }
    return changes, evolve(job, changes)


# -- retention ---------------------------------------------------------------------------------


def retention_cutoff(
    last_run: Any, now: float, reference: BootReference | None, retention: timedelta
) -> tuple[float | None, float]:
    """(delete finished jobs that ended before this, the time to remember as this run's).

    ``last_run`` is what the previous run remembered (``{"wall", "boot_id", "since_boot"}``).
    In the same boot, the real time since then is known (``reference``): if the wall clock
    moved further than that by more than an hour it jumped, and the cutoff follows real
    time instead, so nothing is deleted that could not have aged (a warning is logged).
    Across a reboot real time is unknown; the wall clock is trusted unless it moved more
    than a year, when retention waits for the next start. A cutoff of None deletes nothing.
    """
    span = retention.total_seconds()
    trusted = now
    if isinstance(last_run, Mapping) and _number(last_run.get("wall")):
        wall = float(last_run["wall"])
        then = last_run.get("since_boot")
        then_s = float(then) if then is not None and _number(then) else None
        if (
            reference is not None
            and last_run.get("boot_id") == reference[0]
            and then_s is not None
            and reference[1] >= then_s
        ):
            real_now = wall + (reference[1] - then_s)
            if now - real_now > CLOCK_JUMP_TOLERANCE:
                log.warning(
                    "the clock moved %s further than the time that passed since Jobdeck last "
                    "ran; retention deletes only what aged in real time",
                    timedelta(seconds=round(now - real_now)),
                )
                trusted = real_now
        elif now - wall > MAX_GAP_ACROSS_BOOTS:
            log.warning(
                "the clock says %s passed since Jobdeck last ran; taking that for a clock "
                "error, retention deletes nothing this time",
                timedelta(seconds=round(now - wall)),
            )
            return None, now
    return trusted - span, trusted


def last_run_record(trusted_now: float, reference: BootReference | None) -> dict[str, Any]:
    return {
        "wall": trusted_now,
        "boot_id": None if reference is None else reference[0],
        "since_boot": None if reference is None else reference[1],
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
