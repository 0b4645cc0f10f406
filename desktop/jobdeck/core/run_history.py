"""Past runs per job key, looked up when a job starts and kept in memory while it runs.

:class:`RunHistories` subscribes to a tracker. When a job starts it looks up, on its own
background thread, the recent successful runs of the job's key (:mod:`.job_key`) and caches
them per key; when a job completes its duration joins its key's cached history. Widgets ask
:meth:`RunHistories.for_job` on every refresh: a dictionary look-up, never SQL. A job seen
for the first time some other way (re-attached, shown before the lookup ran) starts the
lookup then and gets its history on a later refresh. No Qt.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .eta import RunHistory
from .events import EventKind, JobEvent
from .job import Job
from .job_key import key_in

if TYPE_CHECKING:
    from .tracker import JobTracker

__all__ = ["RUNS_KEPT", "RunHistories"]

log = logging.getLogger(__name__)

#: The recent successful runs a key's history keeps.
RUNS_KEPT = 20
#: Completed jobs of a type looked at to find its key's recent runs.
RUNS_SCANNED = 500


class RunHistories:
    """Recent successful runs per job key for a tracker's jobs (see the module).

    Thread-safe. ``runs_kept``: runs per key; ``scan``: completed jobs of the type read at a
    lookup. :meth:`close` unsubscribes and stops the lookup thread.
    """

    def __init__(
        self, tracker: JobTracker, *, runs_kept: int = RUNS_KEPT, scan: int = RUNS_SCANNED
    ) -> None:
        self._tracker = tracker
        self._runs_kept = runs_kept
        self._scan = scan
        self._lock = threading.Lock()
        self._by_key: dict[str, RunHistory | None] = {}  # None: looked up, no runs
        self._key_of: dict[str, str] = {}  # job id -> key, for the jobs asked about
        self._looking: set[str] = set()
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="jobdeck-run-history"
        )
        self._unsubscribe = tracker.subscribe(self._on_event)
        self.lookups = 0  # how many store lookups ran (for tests)

    def key(self, job: Job) -> str:
        """The key of ``job`` (its type's ``key_params`` decide which params count)."""
        return key_in(self._tracker.registry, job.type, job.params)

    def for_job(self, job: Job) -> RunHistory | None:
        """The cached history of ``job``'s key; None while unknown (a lookup starts) or
        when the key never completed before. No SQL."""
        with self._lock:
            key = self._key_of.get(job.id)
            if key is not None and key in self._by_key:
                return self._by_key[key]
        if key is None:
            key = self.key(job)
            with self._lock:
                if len(self._key_of) > 10_000:  # bounded: only running jobs matter
                    self._key_of.clear()
                self._key_of[job.id] = key
                if key in self._by_key:
                    return self._by_key[key]
        self._look_up(job.type, key)
        return None

    def history_now(self, job: Job) -> RunHistory | None:
        """The history of ``job``'s key, read from the store at once (on the calling
        thread) when it is not cached yet; None when the key never completed before. For
        the rare caller that cannot wait for :meth:`for_job`'s lookup (a relative timeout
        when its job starts)."""
        key = self.key(job)
        with self._lock:
            self._key_of[job.id] = key
            if key in self._by_key:
                return self._by_key[key]
        history = self._read(job.type, key)
        with self._lock:
            return self._by_key.setdefault(key, history)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._key_of.pop(job_id, None)

    def close(self) -> None:
        """Stop listening and finish the lookup thread (waits for a lookup under way)."""
        self._unsubscribe()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- events (on the thread that committed them) -----------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        job = event.job
        if event.kind is EventKind.STARTED:
            key = self.key(job)
            with self._lock:
                self._key_of[job.id] = key
                known = key in self._by_key
            if not known:
                self._look_up(job.type, key)
        elif event.kind is EventKind.COMPLETED:
            self._add_run(job)
        elif event.kind in (EventKind.FAILED, EventKind.CANCELLED):
            self.forget(job.id)

    def _add_run(self, job: Job) -> None:
        with self._lock:
            key = self._key_of.pop(job.id, None)
        if key is None:
            key = self.key(job)
        if job.started_ts is None or job.completed_ts is None:
            return
        duration = job.completed_ts - job.started_ts
        with self._lock:
            if key not in self._by_key:
                return  # never looked up: the lookup will find this run in the store
            history = self._by_key[key]
            if history is None:
                self._by_key[key] = RunHistory.of([duration])
            else:
                self._by_key[key] = history.with_run(duration, self._runs_kept)

    # -- lookups (on the lookup thread) -----------------------------------------------------

    def _look_up(self, type_name: str, key: str) -> None:
        with self._lock:
            if key in self._looking or self._pool is None:
                return
            self._looking.add(key)
            pool = self._pool
        try:
            pool.submit(self._load, type_name, key)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._looking.discard(key)

    def _load(self, type_name: str, key: str) -> None:
        try:
            history = self._read(type_name, key)
        except Exception:  # the store may be closing; the next start asks again
            log.info("the past runs of %s could not be read", type_name, exc_info=True)
            with self._lock:
                self._looking.discard(key)
            return
        with self._lock:
            self._looking.discard(key)
            self.lookups += 1
            if key not in self._by_key:  # a completion meanwhile already started it
                self._by_key[key] = history

    def _read(self, type_name: str, key: str) -> RunHistory | None:
        if self._tracker.closed:
            return None
        registry = self._tracker.registry
        durations: list[float] = []
        for params_json, duration in self._tracker.recent_successes(type_name, self._scan):
            try:
                params = json.loads(params_json)
            except ValueError:
                continue
            if isinstance(params, dict) and key_in(registry, type_name, params) == key:
                durations.append(duration)
                if len(durations) >= self._runs_kept:
                    break
        return RunHistory.of(durations)
