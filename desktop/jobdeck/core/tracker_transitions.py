"""The changing half of :class:`~jobdeck.core.tracker.JobTracker`: moving jobs through their
states (start, complete, cancel, fail, retry) and recording a process job's facts.

Each transition is checked against the transition table, written in one change of the
commit group (see :mod:`.group_commit`), applied to the tracker's memory and queued for
announcing once committed. No Qt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .clock import Clock
from .context import Cancelled, JobContext
from .events import EventKind
from .group_commit import Committer, GroupCommitLock
from .job import (
    InvalidTransition,
    Job,
    JobError,
    JobStatus,
    JobTaken,
    Progress,
    check_transition,
    evolve,
)
from .job_input import as_error, check_text, lookup_id, timestamp
from .job_memory import JobMemory
from .process_spec import ProcessFacts
from .progress_pump import ProgressPump
from .store import Store
from .timeline import Timeline, save_progress_timelines, save_resource_timeline
from .validation import INT64_MAX, check_int, check_json, check_progress_number, check_timestamp

__all__ = ["TrackerTransitions", "UnknownJob"]

#: A running job's live progress goes with each change of it.
_ALWAYS_SAVED = frozenset({"progress"})
#: Job status -> the fields a transition from it writes even when their value in the
#: tracker's memory does not change (the store may hold another: see _fields_to_write).
_WRITTEN_ANYWAY: dict[JobStatus, frozenset[str]] = {
    JobStatus.PENDING: frozenset({"status", "last_seen_ts"}),
    JobStatus.RUNNING: frozenset({"status", "last_seen_ts"}),  # (and progress: see there)
}


class UnknownJob(KeyError):
    """No job has this id."""

    def __str__(self) -> str:
        return f"no job with id {self.args[0]!r}"


class TrackerTransitions:
    """Job transitions (a base class of :class:`~jobdeck.core.tracker.JobTracker`)."""

    store: Store
    now: Clock
    yield_gil_every: float | None
    _closed: bool
    _lock: GroupCommitLock
    _commits: Committer
    _memory: JobMemory
    _pump: ProgressPump
    _elsewhere: dict[str, Job]
    _changed_here: dict[str, tuple[int, Job]]
    _changes_here: int

    def _writable(self) -> None:
        raise NotImplementedError

    def _require(self, job_id: str) -> Job:
        job = self._memory.active.get(job_id)
        if job is not None:
            return self._pump.live(job)
        if lookup_id(job_id) is None:
            raise UnknownJob(job_id)
        with self.store.reader_errors():
            stored = self.store.get(job_id)
        if stored is None:
            raise UnknownJob(job_id)
        return stored

    def _track_running(self, job: Job, *, log_lines: int | None) -> JobContext:
        """Give a running job a context (``log_lines``: how many it has stored; None to
        count them)."""
        if log_lines is None:
            log_lines = self.store.count_logs(self.store.conn, job.id)
        self._commits.remember(job.id)
        p = job.progress
        ctx = JobContext(
            self, job.id, p.current, p.total, p.message, yield_every=self.yield_gil_every
        )
        ctx.log_lines = log_lines
        self._memory.run(job, ctx)
        self._pump.ensure_running()
        self._pump.wake()
        return ctx

    def _transition(self, job: Job, kind: EventKind, **changes: Any) -> Job:
        """Check, write, then (once committed) announce one transition (caller holds the
        lock)."""
        new = evolve(job, changes)
        check_transition(job.id, job.status, new.status)
        fields = self._fields_to_write(job, new, frozenset(changes) | _ALWAYS_SAVED)
        pump = self._pump
        logs = pump.logs.take(pump.known, job.id) if new.status.finished else []
        timeline = pump.end_timeline(new) if job.status is JobStatus.RUNNING else None
        with pump.logs_in_change(logs, statements=2 if timeline else 1) as conn:
            self.store.lock_for_transition(conn, job, new.status)
            self.store.save_fields(conn, new, fields)
            if logs:
                pump.write_logs(conn, logs)
            if timeline is not None:
                save_progress_timelines(conn, [(job.id, timeline)])
        self._commits.remember(job.id)
        if self.store.shared:
            self._changes_here += 1
            self._changed_here[job.id] = (self._changes_here, new)
        if new.status is JobStatus.PENDING:
            self._memory.forget(job.id)
            self._memory.active[job.id] = new
        elif new.status.finished:
            self._memory.forget(job.id)
            pump.announce_logs_of(job)  # its last lines are announced before its end
        else:
            self._memory.active[job.id] = new
        self._commits.emit(kind, new)
        return new

    def _fields_to_write(self, job: Job, new: Job, fields: frozenset[str]) -> frozenset[str]:
        """The ``fields`` of a transition from ``job`` to ``new`` that its UPDATE writes:
        those whose value changes. SQLite rewrites the index entries of every column an
        UPDATE sets, even to the value it has (a start's or an end's ``progress`` touched
        the progress sort index and ran the text index's trigger for nothing). Only where
        the tracker's memory is the row as stored: a pending or running job's is, but for
        the last sign of life of a running one (the heartbeat writes it behind the memory,
        and a job put back in the queue keeps it), always written, and its progress,
        written unless its code has reported none since it started (then the row has the
        progress the start wrote: the pump wrote none). On a shared board another instance
        may have changed the row: everything is written."""
        if self.store.shared or job.status not in _WRITTEN_ANYWAY:
            return fields
        always = _WRITTEN_ANYWAY[job.status]
        if job.status is JobStatus.RUNNING and not self._progress_as_stored(job.id, new):
            always = always | _ALWAYS_SAVED
        kept = frozenset(f for f in fields if f in always or getattr(new, f) != getattr(job, f))
        return kept or fields

    def _progress_as_stored(self, job_id: str, new: Job) -> bool:
        """Whether running ``job_id``'s row already holds ``new.progress``: its code has
        reported no progress since it started (the context's sequence number is where it
        started, and what it holds is what the start stored, the memory's snapshot)."""
        ctx = self._memory.contexts.get(job_id)
        known = self._memory.active.get(job_id)
        return (
            ctx is not None
            and ctx.seq == 0
            and known is not None
            and known.progress == new.progress
        )

    def _changed_elsewhere(self, job_id: str) -> None:
        """Another instance on the board changed (or has) a job this one knew as pending:
        forget that snapshot; the store says what it is now, and the board link announces
        it (caller holds the lock)."""
        if job_id not in self._memory.contexts:
            self._memory.active.pop(job_id, None)

    def _update_fields(self, job: Job, kind: EventKind, changes: dict[str, Any]) -> Job:
        """Write some fields of an active job (no status change), then announce ``kind``."""
        new = evolve(job, changes)
        with self._commits.change() as conn:
            self.store.save_fields(conn, new, frozenset(changes))
        self._commits.remember(job.id)
        self._memory.active[job.id] = new
        self._commits.emit(kind, new)
        return new

    def start_job(self, job_id: str) -> JobContext:
        """Move a pending job to running (counting an attempt); returns its context. On a
        shared board the instance that starts it is also its ``metadata["instance"]``."""
        self._writable()
        with self._lock:
            if job_id in self._elsewhere:  # on a board: it runs on another instance
                raise JobTaken(job_id, JobStatus.PENDING, JobStatus.RUNNING)
            job = self._require(job_id)
            now = self.now()
            changes: dict[str, Any] = {}
            instance = self.store.instance  # a board: which one runs it, for views to show
            if instance is not None and job.metadata.get("instance") != instance:
                changes["metadata"] = {**job.metadata, "instance": instance}
            try:
                new = self._transition(
                    job,
                    EventKind.STARTED,
                    status=JobStatus.RUNNING,
                    started_ts=now,
                    completed_ts=None,
                    attempts=job.attempts + 1,
                    progress=Progress(0, 0, ""),
                    cancel_requested=False,
                    last_seen_ts=now,
                    **changes,
                )
            except JobTaken:
                self._changed_elsewhere(job_id)
                raise
            # a first attempt has no log lines (nor a timeline) yet; a retried one may have
            if job.attempts == 0:
                self._pump.starts_afresh(job_id)
            return self._track_running(new, log_lines=0 if job.attempts == 0 else None)

    def complete_job(
        self,
        job_id: str,
        success: bool = True,
        result: Any = None,
        error: str | BaseException | JobError | None = None,
        *,
        traceback: str | None = None,
        exit_code: int | None = None,
        completed_ts: float | None = None,
        process: ProcessFacts | None = None,
    ) -> Job:
        """Finish a running job as completed (``success``) or failed (with ``error``).

        ``completed_ts`` (epoch seconds) says when it ended if that was before now (a
        process that ended while the app was not running); default: now. ``process``: what
        is known of a process job's program (pid, log file, resource use), written in the
        same commit.

        When the store cannot take the change, this raises :class:`StoreWriteError` and
        nothing changed: the job is still running (in the store and in memory). To record
        the outcome once the store accepts writes again, make the same call again — with
        ``completed_ts`` set to when the job really ended — e.g. on a timer until it
        succeeds, or when :meth:`subscribe_store_status` reports the trouble over.
        """
        self._writable()
        if success:
            check_json(result, "result")
        job_error = None if success else as_error(error, traceback)
        end_ts = None if completed_ts is None else check_timestamp("completed_ts", completed_ts)
        if exit_code is not None:
            exit_code = check_int("exit_code", exit_code)
        facts = _process_changes(process)
        with self._lock:
            job = self._require(job_id)
            if job.status is JobStatus.PENDING:
                if success:
                    raise InvalidTransition(job_id, job.status, JobStatus.COMPLETED)
                why = "it never ran (a job that cannot start is failed with fail_pending)"
                raise InvalidTransition(job_id, job.status, JobStatus.FAILED, why)
            end = self.now() if end_ts is None else end_ts
            changes: dict[str, Any] = {**facts, "completed_ts": end}
            if exit_code is not None:
                changes["exit_code"] = exit_code
            if success:
                return self._transition(
                    job, EventKind.COMPLETED, status=JobStatus.COMPLETED, result=result, **changes
                )
            return self._transition(
                job, EventKind.FAILED, status=JobStatus.FAILED, error=job_error, **changes
            )

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a job. False if it is unknown or already finished.

        A pending job is cancelled at once. A running job is asked to stop: its context's
        ``cancelled`` turns True and its ``cancel_requested`` is stored; it becomes
        ``cancelled`` when its code stops (see :meth:`mark_cancelled`).
        """
        self._writable()
        with self._lock:
            try:
                job = self._require(job_id)
            except UnknownJob:
                return False
            if job.status is JobStatus.PENDING:
                try:
                    self._transition(
                        job,
                        EventKind.CANCELLED,
                        status=JobStatus.CANCELLED,
                        completed_ts=self.now(),
                    )
                    return True
                except JobTaken:  # started elsewhere meanwhile: ask the code there to stop
                    self._changed_elsewhere(job_id)
                    job = self._require(job_id)
            if job.status is not JobStatus.RUNNING:
                return False
            ctx = self._memory.contexts.get(job_id)
            if not job.cancel_requested:
                self._update_fields(job, EventKind.CANCEL_REQUESTED, {"cancel_requested": True})
            if ctx is not None:
                # the code is told once the request is stored (at once if it already was)
                self._commits.after_commit(ctx.cancel_event.set)
            return True

    def mark_cancelled(
        self,
        job_id: str,
        reason: str | None = None,
        *,
        completed_ts: float | None = None,
        process: ProcessFacts | None = None,
    ) -> Job:
        """Finish a running job as cancelled (its code stopped because it was asked to).

        ``completed_ts``: when it stopped, if that was before now (default: now);
        ``process`` as for :meth:`complete_job`. Like :meth:`complete_job`, raises
        :class:`StoreWriteError` with nothing changed when the store cannot take it; call
        again later."""
        self._writable()
        error = None if reason is None else JobError(check_text("reason", reason))
        end_ts = None if completed_ts is None else check_timestamp("completed_ts", completed_ts)
        facts = _process_changes(process)
        with self._lock:
            job = self._require(job_id)
            return self._transition(
                job,
                EventKind.CANCELLED,
                **facts,
                status=JobStatus.CANCELLED,
                completed_ts=self.now() if end_ts is None else end_ts,
                error=error if error is not None else job.error,
            )

    def fail_pending(self, job_id: str, error: str | BaseException | JobError) -> Job:
        """Fail a pending job that can never start (a dependency failed, its type or params
        are no longer valid): ``pending -> failed`` with ``error``, no start, no attempt."""
        self._writable()
        job_error = as_error(error, None)
        with self._lock:
            job = self._require(job_id)
            if job.status is not JobStatus.PENDING:
                raise InvalidTransition(job_id, job.status, JobStatus.FAILED)
            return self._transition(
                job,
                EventKind.FAILED,
                status=JobStatus.FAILED,
                completed_ts=self.now(),
                error=job_error,
            )

    def retry_later(
        self,
        job_id: str,
        run_at: datetime | float | None,
        error: str | BaseException | JobError,
        *,
        process: ProcessFacts | None = None,
    ) -> Job:
        """Put a failed attempt of a running job back in the queue (``running -> pending``);
        ``process`` as for :meth:`complete_job` (its pid is not kept: it is pending again)."""
        self._writable()
        run_at_ts = timestamp(run_at, "run_at")
        job_error = as_error(error, None)
        facts = _process_changes(process)
        facts.pop("pid", None)
        with self._lock:
            job = self._require(job_id)
            if job.status is JobStatus.RUNNING and job.attempts >= job.max_attempts:
                raise ValueError(f"job {job_id} has used all {job.max_attempts} attempts")
            return self._transition(
                job,
                EventKind.RETRYING,
                **facts,
                status=JobStatus.PENDING,
                run_at_ts=run_at_ts,
                error=job_error,
                started_ts=None,
                pid=None,
                cancel_requested=False,
            )

    def set_process_info(
        self,
        job_id: str,
        *,
        pid: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        exit_code: int | None = None,
    ) -> Job:
        """Record a process job's pid, log file or exit code (no status change)."""
        self._writable()
        changes: dict[str, Any] = {}
        if pid is not None:
            changes["pid"] = check_int("pid", pid, 1, INT64_MAX)
        if log_path is not None:
            changes["log_path"] = check_text("log_path", os.fspath(log_path))
        if exit_code is not None:
            changes["exit_code"] = check_int("exit_code", exit_code)
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            return self._update_fields(job, EventKind.UPDATED, changes)

    def save_resource_timeline(self, job_id: str, timeline: Iterable[Sequence[float]]) -> None:
        """Store a running program's (time, RSS bytes, CPU seconds) samples so far (no event:
        its chart reads them); downsampled to at most
        :data:`~jobdeck.core.timeline.MAX_POINTS`. ValueError once the job has ended."""
        self._writable()
        resources = Timeline(timeline)
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            with self._commits.change() as conn:
                save_resource_timeline(conn, job_id, resources)

    def set_resource_usage(
        self,
        job_id: str,
        *,
        peak_rss: int | None,
        cpu_seconds: float | None,
        timeline: Iterable[Sequence[float]] = (),
    ) -> Job:
        """Record a process job's peak RSS (bytes) and CPU seconds (no status change), and
        its ``timeline`` of (time, RSS bytes, CPU seconds) samples (downsampled to at most
        :data:`~jobdeck.core.timeline.MAX_POINTS`)."""
        self._writable()
        resources = Timeline(timeline)
        changes: dict[str, Any] = {
            "peak_rss": None if peak_rss is None else check_int("peak_rss", peak_rss, 0),
            "cpu_seconds": None
            if cpu_seconds is None
            else float(check_progress_number("cpu_seconds", cpu_seconds)),
        }
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            if resources.points:
                with self._commits.change() as conn:
                    save_resource_timeline(conn, job_id, resources)
            return self._update_fields(job, EventKind.UPDATED, changes)

    def set_worker(
        self,
        job_id: str,
        worker: Mapping[str, Any],
        *,
        peak_rss: int | None = None,
        cpu_seconds: float | None = None,
    ) -> Job:
        """Record where a running job runs (a cluster worker: ``worker`` becomes its
        ``metadata["worker"]``, e.g. ``{"host": ..., "address": ...}``) and, when known, its
        resource use there, in one write (no status change)."""
        self._writable()
        if not isinstance(worker, Mapping):
            raise ValueError(f"worker must be a mapping, got {type(worker).__name__}")
        worker = dict(worker)
        check_json(worker, "worker")
        changes: dict[str, Any] = {}
        if peak_rss is not None:
            changes["peak_rss"] = check_int("peak_rss", peak_rss, 0)
        if cpu_seconds is not None:
            changes["cpu_seconds"] = float(check_progress_number("cpu_seconds", cpu_seconds))
        with self._lock:
            job = self._require(job_id)
            if job.finished:
                raise ValueError(f"job {job_id} is {job.status.value}; it can no longer change")
            changes["metadata"] = {**job.metadata, "worker": worker}
            return self._update_fields(job, EventKind.UPDATED, changes)

    def _finish_from_context(self, ctx: JobContext, exc: BaseException | None) -> None:
        """``with ctx:`` exit: finish the job unless its code already did."""
        with self._lock:
            job = self._memory.active.get(ctx.job_id)
            if job is None or job.status is not JobStatus.RUNNING or self._closed:
                return
            if exc is None:
                self.complete_job(ctx.job_id, success=True)
            elif isinstance(exc, Cancelled):
                self.mark_cancelled(ctx.job_id)
            else:
                self.complete_job(ctx.job_id, success=False, error=exc)

    def context(self, job_id: str) -> JobContext | None:
        """The context of a running job, or None."""
        return self._memory.contexts.get(job_id)

    def _append_log(self, ctx: JobContext, message: str, level: str) -> None:
        """A line from a job's code (its context's ``log``)."""
        self._pump.log(ctx, message, level)


def _process_changes(process: ProcessFacts | None) -> dict[str, Any]:
    """The fields ``process`` sets (those it knows), checked like :meth:`set_process_info`
    and :meth:`set_resource_usage` check them."""
    if process is None:
        return {}
    changes: dict[str, Any] = {}
    if process.pid is not None:
        changes["pid"] = check_int("pid", process.pid, 1, INT64_MAX)
    if process.no_output:
        changes["log_path"] = None
    elif process.log_path is not None:
        changes["log_path"] = check_text("log_path", os.fspath(process.log_path))
    if process.peak_rss is not None:
        changes["peak_rss"] = check_int("peak_rss", process.peak_rss, 0)
    if process.cpu_seconds is not None:
        changes["cpu_seconds"] = float(check_progress_number("cpu_seconds", process.cpu_seconds))
    return changes
