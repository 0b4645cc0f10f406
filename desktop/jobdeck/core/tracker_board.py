"""The shared-board half of :class:`~jobdeck.core.tracker.JobTracker`: other instances' changes.

On a PostgreSQL board (:mod:`.pg_store`) other app instances change jobs too. The board
link (:mod:`.board_link`) hears of their changes and calls :meth:`TrackerBoard.apply_board_changes`
with the ids, coalesced; this brings the tracker's memory in step with the store and
announces each change to the subscribers as if it were local — a job queued elsewhere
becomes pending here (and the scheduler may start it), one started elsewhere leaves the
pending queue, a cancel asked for elsewhere reaches the code running here. It also calls
:meth:`TrackerBoard.take_over_orphans` with running jobs whose instance's lease has expired:
each is re-queued or failed as interrupted, exactly once across the board (the row is
locked). No Qt.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .events import EventKind
from .group_commit import Committer, GroupCommitLock
from .job import Job, JobStatus
from .job_memory import JobMemory
from .recovery import recover_running
from .registry import JobRegistry

if TYPE_CHECKING:
    from .clock import Clock
    from .pg_store import PgStore

log = logging.getLogger(__name__)

__all__ = ["TrackerBoard"]

_FINISHED_KIND = {
    JobStatus.COMPLETED: EventKind.COMPLETED,
    JobStatus.FAILED: EventKind.FAILED,
    JobStatus.CANCELLED: EventKind.CANCELLED,
}


class TrackerBoard:
    """Other instances' changes on a shared board (a base class of the tracker)."""

    store: Any
    now: Clock
    _closed: bool
    _lock: GroupCommitLock
    _commits: Committer
    _memory: JobMemory
    _registry: JobRegistry | None
    #: Jobs run by other instances, as last announced here (to tell what changed).
    _elsewhere: dict[str, Job]
    #: Jobs this instance changed (by a running count, and as written), and that count.
    _changed_here: dict[str, tuple[int, Job]]
    _changes_here: int

    def runs_on(self, job_id: str) -> str | None:
        """The name of the app instance on the board that runs (or last ran) a job; None
        on a SQLite store (one instance) or for a job no instance started."""
        if not self.store.shared:
            return None
        with self.store.reader() as conn:
            found: str | None = self.store.run_by(job_id, conn)
            return found

    def board_job_ids(self) -> set[str]:
        """Ids of the pending and running jobs this tracker knows of."""
        with self._lock:
            return set(self._memory.active) | set(self._elsewhere)

    def board_reachable(self, problem: str | None) -> None:
        """The board link lost the board (``problem``: what to show, naming the host) or
        has it again (None): the store's trouble for the status subscribers (the app shows
        it). Reaching it again clears any trouble, also a commit that failed meanwhile (on
        a board that was the lost connection too; a change that still fails says so
        again). Either way the connections kept for reuse go: lost, they died with the
        server (a read would fail once on one after it is back); back, they may have."""
        from .store_errors import StoreWriteError

        with self._lock:
            self.store.drop_idle_connections()
            self._commits.set_store_error(None if problem is None else StoreWriteError(problem))

    def claim_free(self, job_ids: list[str], limit: int) -> list[str]:
        """On a board, inside :meth:`batch`: lock up to ``limit`` of these pending jobs,
        in the order given, that no other instance is starting or has started; start them
        (:meth:`start_job`) in the same batch, which holds their rows until it commits.
        The ones left out were taken by other instances (or are being taken). On a SQLite
        store (one instance) the first ``limit`` ids."""
        if not self.store.shared:
            return job_ids[:limit]
        with self._lock:
            # Those the board link already told of as taken need no round trip.
            active = self._memory.active
            ids = [i for i in job_ids if (j := active.get(i)) and j.status is JobStatus.PENDING]
            if not ids or limit <= 0:
                return []
            with self._commits.change() as conn:
                free: list[str] = self.store.claim_free(conn, ids, limit)
        return free

    def forget_own_changes(self) -> None:
        """Forget which jobs this instance changed: the board link calls this while it has
        no read to make (they matter only to the next read), so a lone instance does not
        keep every job it ever changed. Nothing to forget takes no lock (the link comes
        here on each idle turn, which its own changes' notifications also wake)."""
        if not self._changed_here:
            return
        with self._lock:
            self._changed_here.clear()

    def apply_board_changes(self, job_ids: list[str]) -> None:
        """Bring memory in step with these jobs as stored, and announce what changed.

        They are read on a connection of their own, not holding the tracker; a row this
        instance changed after the read began is skipped (its own change is newer), and so
        is a row that is exactly what this instance last wrote there (its own change, which
        it announced when it made it: the link's catch-up read after connecting finds such
        rows, e.g. a pending job cancelled here meanwhile, which no instance runs). Raises
        :class:`~jobdeck.core.store_errors.StoreError` when the board cannot be read (the
        link tries again later)."""
        from .pg_store import jobs_by_id

        if self._closed:
            return
        # Read on a connection of its own, not holding the tracker: this instance's own
        # workers keep committing meanwhile (holding it, the link stalled them for its
        # round trip on every batch). A row this instance changed after the read began
        # is left alone: its own change is newer, and it announced that itself.
        with self._lock:
            read_at = self._changes_here
        with self.store.reader() as conn:
            found = jobs_by_id(conn, job_ids)
        with self._lock:
            if self._closed:
                return
            changed = self._changed_here
            newer = {i for i, (at, _) in changed.items() if at > read_at}
            written = {i: job for i, (at, job) in changed.items() if at <= read_at}
            changed.clear()  # the next read begins after this one
            me = self.store.instance
            for job, runner in found:
                if job.id not in newer and written.get(job.id) != job:
                    self._apply_one(job, runner, me)
            gone = set(job_ids) - {job.id for job, _ in found}
            for job_id in gone:
                if job_id not in self._memory.contexts:
                    self._memory.active.pop(job_id, None)
                self._elsewhere.pop(job_id, None)

    def _apply_one(self, job: Job, runner: str | None, me: str) -> None:
        memory = self._memory
        ctx = memory.contexts.get(job.id)
        if ctx is not None:  # running here: only a cancel asked for elsewhere concerns us
            mine = memory.active.get(job.id)
            if job.status is JobStatus.RUNNING and runner == me:
                if job.cancel_requested and mine is not None and not mine.cancel_requested:
                    updated = _with(mine, cancel_requested=True)
                    memory.active[job.id] = updated
                    self._commits.after_commit(ctx.cancel_event.set)
                    self._commits.emit(EventKind.CANCEL_REQUESTED, updated)
                return
            if job.status is JobStatus.PENDING:
                return  # its start here is not committed yet
            # Another instance recovered it (this one had lost its lease): the store wins.
            log.warning(
                "job %s was taken over on the board (it is %s there); this instance stops "
                "tracking it",
                job.id,
                job.status.value,
            )
            memory.forget(job.id)
            self._announce(job, None)
            return
        before = memory.active.get(job.id) or self._elsewhere.get(job.id)
        if before is None and runner == me and job.status.finished:
            return  # this instance ended it, and announced that when it did
        if job.status is JobStatus.PENDING:
            self._elsewhere.pop(job.id, None)
            memory.active[job.id] = job
        elif job.status is JobStatus.RUNNING:
            memory.active.pop(job.id, None)
            self._elsewhere[job.id] = job
        else:
            memory.active.pop(job.id, None)
            self._elsewhere.pop(job.id, None)
        self._announce(job, before)

    def _announce(self, job: Job, before: Job | None) -> None:
        kind = _kind_of_change(before, job)
        if kind is not None:
            self._commits.emit(kind, job)

    def take_over_orphans(self, job_ids: list[str]) -> int:
        """Re-queue or fail as interrupted each running job whose instance's lease has
        expired (each at most once across the board). Returns how many this one took."""
        store: PgStore = self.store
        taken = 0
        for job_id in job_ids:
            with self._lock:
                if self._closed:
                    break
                with self._commits.change() as conn:
                    found = store.lock_orphan(conn, job_id)
                    if found is None:
                        continue
                    job, runner = found
                    job_type = None if self._registry is None else self._registry.get(job.type)
                    reason = (
                        f"interrupted: instance {runner or 'unknown'!s} stopped while this job "
                        "was running (its lease on the board expired)"
                    )
                    changes, recovered = recover_running(job, self.now(), job_type, reason)
                    store.save_fields(conn, recovered, frozenset(changes))
                self._elsewhere.pop(job_id, None)
                if recovered.status is JobStatus.PENDING:
                    self._memory.active[job_id] = recovered
                    self._commits.emit(EventKind.RETRYING, recovered)
                else:
                    self._commits.emit(EventKind.FAILED, recovered)
                taken += 1
                log.warning("job %s of instance %s: %s", job_id, runner, recovered.status.value)
        return taken


def _with(job: Job, **changes: Any) -> Job:
    from .job import evolve

    return evolve(job, changes)


def _kind_of_change(before: Job | None, job: Job) -> EventKind | None:
    """The event that tells subscribers how ``before`` became ``job`` (None: nothing)."""
    status = job.status
    if before is None:
        if status is JobStatus.PENDING:
            return EventKind.CREATED if job.attempts == 0 else EventKind.RETRYING
        if status is JobStatus.RUNNING:
            return EventKind.STARTED
        return _FINISHED_KIND[status]
    if before == job:
        return None
    if status is JobStatus.PENDING:
        return EventKind.RETRYING if before.status is JobStatus.RUNNING else EventKind.UPDATED
    if status is JobStatus.RUNNING:
        if before.status is not JobStatus.RUNNING:
            return EventKind.STARTED
        if job.cancel_requested and not before.cancel_requested:
            return EventKind.CANCEL_REQUESTED
        if job.progress != before.progress:
            return EventKind.PROGRESS
        return EventKind.UPDATED
    return _FINISHED_KIND[status]
