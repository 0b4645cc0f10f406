"""Running jobs' progress and log lines, on their way to subscribers and to the store.

Running code writes progress into its :class:`~jobdeck.core.context.JobContext` (no lock,
no SQL) and log lines into :class:`JobLogs`. The :class:`ProgressPump` thread forwards the
latest values to subscribers at most every ``event_interval`` seconds (PROGRESS and LOG
events) and writes them to the store about every ``flush_interval`` seconds, many jobs in
one change of the tracker's commit group, with a heartbeat that records when each running
job was last alive. It sleeps without a timeout while nothing runs. No Qt.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator

from .clock import Clock
from .context import JobContext
from .events import EventKind, LogEntry
from .group_commit import Committer
from .job import Job, Progress, evolve
from .job_memory import JobMemory
from .store_errors import StoreWriteError
from .timeline import Timeline, load_timeline, save_progress_timelines
from .validation import LOG_CAP_MARKER, MAX_LOG_LINES, MAX_TEXT, storable_text

log = logging.getLogger(__name__)

__all__ = ["JobLogs", "ProgressPump"]


class JobLogs:
    """Log lines of running jobs not yet stored (:attr:`lines`) and not yet announced
    (:attr:`events`). Appending is lock-free (deque operations are atomic)."""

    def __init__(self) -> None:
        self.lines: collections.deque[LogEntry] = collections.deque()
        self.events: collections.deque[LogEntry] = collections.deque()

    def add(self, entry: LogEntry) -> None:
        self.lines.append(entry)
        self.events.append(entry)

    def put_back(self, entries: list[LogEntry]) -> None:
        """Lines whose write failed go back to the front of the queue, in order."""
        self.lines.extendleft(reversed(entries))

    def take(self, known: Callable[[str], bool], job_id: str | None = None) -> list[LogEntry]:
        """Remove and return the lines to write (of one job, or all) whose job ``known``
        says exists."""
        lines = self.lines
        if not lines:
            return []
        # popleft is atomic: lines other threads append meanwhile stay queued
        taken = [lines.popleft() for _ in range(len(lines))]
        if job_id is not None:
            keep = [e for e in taken if e.job_id != job_id]
            taken = [e for e in taken if e.job_id == job_id]
            lines.extendleft(reversed(keep))
        return [e for e in taken if known(e.job_id)]

    def unannounced_of(self, job_id: str) -> list[LogEntry]:
        """Remove and return the lines of ``job_id`` not announced yet."""
        events = self.events
        if not events:
            return []
        taken = [events.popleft() for _ in range(len(events))]
        events.extendleft(reversed([e for e in taken if e.job_id != job_id]))
        return [e for e in taken if e.job_id == job_id]


#: Seconds between writes of the running jobs' progress timelines (and at their end).
TIMELINE_SAVE_INTERVAL = 5.0


class ProgressPump:
    """The thread that forwards and stores running jobs' progress and log lines.

    It shares the tracker's ``committer`` (and its lock, taken *quietly*: no caller waits on
    the pump, and the pump waits on no caller), ``memory`` and ``logs``. ``closed()`` says
    when to stop. Progress and log events are announced from this thread.
    """

    def __init__(
        self,
        committer: Committer,
        memory: JobMemory,
        logs: JobLogs,
        *,
        clock: Clock,
        event_interval: float,
        flush_interval: float,
        closed: Callable[[], bool],
    ) -> None:
        self._committer = committer
        self._lock = committer.lock
        self._store = committer.store
        self._memory = memory
        self.logs = logs
        self._now = clock
        self.event_interval = event_interval
        self.flush_interval = flush_interval
        self._closed = closed
        self._wake = threading.Event()
        #: True while the thread sleeps with no timeout (nothing runs); see :meth:`wake`.
        self._asleep = False
        self._thread: threading.Thread | None = None
        self._last_alive = 0.0
        #: Running jobs' progress timelines (a point per stored progress change), the ones
        #: changed since they were last written, and when that was (see flush()).
        self.timelines: dict[str, Timeline] = {}
        self._timelines_changed: set[str] = set()
        self._timelines_saved = 0.0
        #: Running jobs known to have no stored timeline (a first attempt started here):
        #: their end reads none (see :meth:`starts_afresh`).
        self._afresh: set[str] = set()

    # -- any thread -------------------------------------------------------------------------

    def log(self, ctx: JobContext, message: str, level: str) -> None:
        """A line from a job's code: capped per job (see :mod:`.validation`), made storable."""
        count = ctx.log_lines
        ctx.log_lines = count + 1
        if count >= MAX_LOG_LINES:
            if count > MAX_LOG_LINES:
                return
            message, level = LOG_CAP_MARKER, "warning"
        self.logs.add(LogEntry(ctx.job_id, self._now(), level, storable_text(message, MAX_TEXT)))
        self.ensure_running()
        self.wake()

    def wake(self) -> None:
        """Wake the thread if it sleeps because nothing ran: new work has arrived (a job
        started, a log line). Call it after adding the work, so the thread either sees the
        work when it looks before sleeping, or is woken here."""
        if self._asleep:
            self._wake.set()

    def ensure_running(self) -> None:
        if self._thread is None and not self._closed() and not self._store.read_only:
            with self._lock.quietly():
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="jobdeck-progress", daemon=True
                    )
                    self._thread.start()

    def is_alive(self) -> bool:
        """True while the thread runs (it starts with the first running job or log line)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Wake the thread to stop (the tracker says it is closed) and wait for it."""
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def live(self, job: Job) -> Job:
        """``job`` with the latest progress its code reported (holding the lock)."""
        ctx = self._memory.contexts.get(job.id)
        if ctx is None:
            return job
        current, total, message, _seq = ctx.snapshot()
        p = job.progress
        if p.current == current and p.total == total and p.message == message:
            return job
        message = storable_text(message, MAX_TEXT)
        return evolve(job, {"progress": Progress(current, total, message)})

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        last_flush = self._now()
        memory = self._memory
        while not self._closed():
            # Announce the sleep before looking for work: a job that starts meanwhile
            # either is seen here or sees the flag and wakes us (see wake()).
            self._asleep = True
            idle = not memory.contexts and not self.logs.events
            if not idle:
                self._asleep = False
            self._wake.wait(None if idle else self.event_interval)
            self._asleep = False
            self._wake.clear()
            if self._closed():
                return
            try:
                self._forward()
                now = self._now()
                if now - last_flush >= self.flush_interval or now < last_flush:
                    last_flush = now
                    with self._lock.quietly():
                        if not self._closed():
                            self.flush()
            except StoreWriteError as exc:
                log.debug("progress pump: %s", exc)  # logged once by the failed commit
            except Exception:
                log.exception("progress pump failed; it keeps running")

    def _forward(self) -> None:
        """Send PROGRESS events for contexts that changed, and LOG events for new lines."""
        memory, committer = self._memory, self._committer
        with self._lock.quietly():
            if self._closed():
                return
            for job_id, ctx in list(memory.contexts.items()):
                seq = ctx.seq
                if seq == memory.event_seq.get(job_id):
                    continue
                memory.event_seq[job_id] = seq
                job = memory.active[job_id]
                new = self.live(job)
                if new is not job:
                    memory.active[job_id] = new
                    committer.emit(EventKind.PROGRESS, new)
            events = self.logs.events
            while events:
                entry = events.popleft()
                owner = memory.active.get(entry.job_id) or self._store.get(entry.job_id)
                if owner is not None:
                    committer.emit(EventKind.LOG, owner, entry)

    # -- writing (holding the lock) ---------------------------------------------------------------

    def announce_logs_of(self, job: Job) -> None:
        """Queue LOG events for ``job``'s lines not announced yet (before its end)."""
        for entry in self.logs.unannounced_of(job.id):
            self._committer.emit(EventKind.LOG, job, entry)

    def known(self, job_id: str) -> bool:
        return job_id in self._memory.active or self._store.exists(job_id)

    def flush(self, *, final: bool = False) -> None:
        """Write changed progress, pending log lines and (about every ``flush_interval``)
        the running jobs' heartbeat, in one change of the open group."""
        memory = self._memory
        now = self._now()
        rows = []
        for job_id, ctx in memory.contexts.items():
            seq = ctx.seq
            if seq != memory.flushed_seq.get(job_id):
                rows.append((job_id, seq, (ctx.current, ctx.total, ctx.message, job_id)))
        alive = bool(memory.contexts) and (
            final or now - self._last_alive >= self.flush_interval or now < self._last_alive
        )
        if not rows and not self.logs.lines and not alive:
            return
        logs = self.logs.take(self.known)
        for job_id, _seq, (current, total, _message, _id) in rows:
            self._timeline_point(job_id, now, current, total)
        save_timelines = bool(self._timelines_changed) and (
            final
            or now - self._timelines_saved >= TIMELINE_SAVE_INTERVAL
            or now < self._timelines_saved
        )
        with self.logs_in_change(logs, statements=3) as conn:
            if rows:
                self._store.save_progress(conn, [r for _, _, r in rows], now)
            if alive:
                self._store.mark_alive(conn, now)
            if logs:
                self.write_logs(conn, logs)
            if save_timelines:
                changed = [(j, self.timelines[j]) for j in self._timelines_changed]
                save_progress_timelines(conn, changed)
        if save_timelines:
            self._timelines_changed.clear()
            self._timelines_saved = now
        for job_id, seq, _row in rows:
            self._committer.remember(job_id)
            memory.flushed_seq[job_id] = seq
        if alive:
            self._last_alive = now

    def _timeline_point(self, job_id: str, now: float, current: float, total: float) -> None:
        timeline = self.timelines.get(job_id)
        if timeline is None:
            timeline = self.timelines[job_id] = self._stored_timeline(job_id)
            job = self._memory.active.get(job_id)
            if job is not None and job.started_ts is not None and job.started_ts < now:
                timeline.add(job.started_ts, 0.0, total)  # where it began
        timeline.add(now, current, total)
        self._timelines_changed.add(job_id)

    def end_timeline(self, job: Job) -> Timeline | None:
        """The progress timeline of ``job``, which has just ended, with its last point, to
        be written with its end (and forgotten here); None when it never ran."""
        timeline = self.timelines.pop(job.id, None)
        self._timelines_changed.discard(job.id)
        if job.started_ts is None:
            self._afresh.discard(job.id)
            return None
        if timeline is None:
            timeline = self._stored_timeline(job.id)
            timeline.add(job.started_ts, 0.0, job.progress.total)
        end = job.completed_ts if job.completed_ts is not None else self._now()
        timeline.add(max(end, job.started_ts), job.progress.current, job.progress.total)
        return timeline

    def starts_afresh(self, job_id: str) -> None:
        """``job_id`` starts its first attempt: nothing of its timeline is stored, so none
        is read for it (one read less per job of a queue of short ones). Holding the lock."""
        self._afresh.add(job_id)

    def _stored_timeline(self, job_id: str) -> Timeline:
        """What an earlier app (or attempt) stored of the job's progress timeline, to go on
        from (a re-attached job keeps its first part); one read per job and run."""
        if job_id in self._afresh:
            self._afresh.discard(job_id)
            return Timeline()
        try:
            return Timeline(load_timeline(self._store.conn, job_id).progress)
        except Exception:  # the store may be unreadable just now: start afresh
            log.debug("the stored timeline of job %s could not be read", job_id, exc_info=True)
            return Timeline()

    @contextlib.contextmanager
    def logs_in_change(
        self, logs: list[LogEntry], *, statements: int = 1
    ) -> Iterator[sqlite3.Connection]:
        """A :meth:`~jobdeck.core.group_commit.Committer.change` that writes the taken log
        lines ``logs``: they belong to the group (queued again, in order, if the group
        fails), or go back to the queue if this change alone fails."""
        committer = self._committer
        group = committer.open_group()
        mark = len(group.logs)
        group.logs.extend(logs)
        try:
            with committer.change(statements=statements + (1 if logs else 0)) as conn:
                yield conn
        except BaseException:
            if committer.group is group:  # only this change failed; the group lives on
                del group.logs[mark:]
                self.logs.put_back(logs)
            raise

    def write_logs(self, conn: sqlite3.Connection, logs: list[LogEntry]) -> None:
        """Write log lines; should one be refused, the others are still written (one bad
        line never drops other jobs' lines)."""
        store = self._store
        try:
            with store.savepoint("logs"):
                store.add_logs(conn, logs)
            return
        except (sqlite3.Error, ValueError, OverflowError):
            if not store.in_transaction:
                raise
        for entry in logs:
            try:
                with store.savepoint("line"):
                    store.add_logs(conn, [entry])
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                if not store.in_transaction:
                    raise
                log.error("a log line of job %s could not be stored: %s", entry.job_id, exc)
