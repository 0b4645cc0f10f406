"""The tracker's events, brought onto the asyncio loop: each job's latest state, numbered.

:class:`EventHub` subscribes to the tracker. Its subscriber runs on whichever thread the
tracker calls it from and only notes the job's latest snapshot (and new log lines) under a
lock, waking the loop at most once until the loop has taken them, so a flood of progress
costs one loop wake-up per batch. On the loop, each changed job gets the next sequence
number and becomes a :class:`Change`; listeners (the event streams, waiters) get the batch.

Sequence numbers are microseconds since the epoch, made strictly increasing, so they also
increase across restarts of the app: an event stream can tell an id from an earlier run
(:attr:`EventHub.start_seq`) and resume from the store instead. The hub keeps the latest
change of up to ``keep`` jobs, enough to replay what a reconnecting client missed
(:meth:`EventHub.changes_since`).

A finished job never changes again, so once the hub has seen a job finish it ignores stale
snapshots of it that arrive later from another thread. No Qt, no aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from jobdeck.core import EventKind, Job, JobEvent, JobTracker, LogEntry

from .jsonify import dumps, job_to_json, log_to_json

__all__ = ["Change", "EventHub", "Listener"]

log = logging.getLogger(__name__)

#: Log lines of one job kept between two loop wake-ups; more are counted, not kept.
MAX_LINES_PER_BATCH = 1000


@dataclass(slots=True, eq=False)
class Change:
    """A job's state after a change, and the log lines that came with it (live only)."""

    seq: int
    kind: str
    job: Job
    logs: tuple[LogEntry, ...] = ()
    dropped_logs: int = 0
    _job_json: str | None = field(default=None, repr=False)

    def job_json(self) -> str:
        """The job as compact JSON text (encoded once however many clients get it)."""
        if self._job_json is None:
            self._job_json = dumps(job_to_json(self.job))
        return self._job_json

    def entry_json(self, logs: list[LogEntry] | None = None, dropped: int = 0) -> str:
        """``{"event": kind, "job": {...}, "logs": [...]}`` as JSON text."""
        text = f'{{"event":"{self.kind}","job":{self.job_json()}'
        if logs:
            text += ',"logs":' + dumps([log_to_json(e) for e in logs])
        if dropped:
            text += f',"logs_dropped":{dropped}'
        return text + "}"


@dataclass(slots=True)
class _Noted:
    kind: str
    job: Job
    logs: list[LogEntry]
    dropped: int = 0


Listener = Callable[[list[Change]], None]


class EventHub:
    """Subscribes to ``tracker`` and hands each batch of changes to its listeners on
    ``loop`` (the running loop by default). Create, use and close it on the loop's thread;
    its tracker subscriber is the only part that runs on other threads."""

    def __init__(
        self,
        tracker: JobTracker,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        keep: int = 5000,
    ) -> None:
        self._loop = loop or asyncio.get_event_loop()
        self._keep = keep
        self._lock = threading.Lock()
        self._noted: dict[str, _Noted] = {}
        self._wake_pending = False
        self._latest: OrderedDict[str, Change] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._listeners: list[Listener] = []
        self.seq = 0
        #: Ids up to this one were given before the hub started (or by an earlier run).
        self.start_seq = self._next_seq()
        self._evicted = self.start_seq
        self._closed = False
        self._unsubscribe = tracker.subscribe(self._on_event)

    # -- any thread ---------------------------------------------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        job = event.job
        with self._lock:
            if self._closed:
                return
            noted = self._noted.get(job.id)
            if noted is None:
                noted = self._noted[job.id] = _Noted(event.kind.value, job, [])
            elif not (noted.job.status.finished and not job.status.finished):
                noted.job = job
                if event.kind is not EventKind.LOG:
                    noted.kind = event.kind.value
            if event.kind is EventKind.LOG and event.log is not None:
                if len(noted.logs) < MAX_LINES_PER_BATCH:
                    noted.logs.append(event.log)
                else:
                    noted.dropped += 1
            if self._wake_pending:
                return
            self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # a closed loop: the app is going away
            self._loop.call_soon_threadsafe(self._dispatch)

    # -- the loop's thread --------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq = max(self.seq + 1, time.time_ns() // 1000)
        return self.seq

    def _dispatch(self) -> None:
        with self._lock:
            noted, self._noted = self._noted, {}
            self._wake_pending = False
        if self._closed:
            return
        changes = []
        for job_id, n in noted.items():
            if job_id in self._finished and not n.job.status.finished:
                continue  # a stale snapshot of a job that has finished
            change = Change(self._next_seq(), n.kind, n.job, tuple(n.logs), n.dropped)
            self._latest.pop(job_id, None)
            self._latest[job_id] = change
            if n.job.status.finished:
                self._finished[job_id] = None
                if len(self._finished) > 4 * self._keep:
                    self._finished.popitem(last=False)
            changes.append(change)
        while len(self._latest) > self._keep:
            _, old = self._latest.popitem(last=False)
            self._evicted = max(self._evicted, old.seq)
        if not changes:
            return
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:
                log.exception("an event listener failed")

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def changes_since(self, seq: int) -> list[Change] | None:
        """The latest change of every job that changed after ``seq``, oldest first; None
        when the hub cannot tell (``seq`` is from an earlier run, too old, or unknown)."""
        if seq < self.start_seq or seq < self._evicted or seq > self.seq:
            return None
        out = []
        for change in reversed(self._latest.values()):
            if change.seq <= seq:
                break
            out.append(change)
        out.reverse()
        return out

    def close(self) -> None:
        """Unsubscribe from the tracker and forget the listeners. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._unsubscribe()
        self._listeners.clear()
