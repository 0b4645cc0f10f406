"""Small fakes that follow the tracker, JobSignals and registry contracts the widgets use.

They are in-memory and synchronous: ``FakeSignals.push_*`` emit the Qt signals directly, as
the real JobSignals does on the GUI thread after batching.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from jobdeck.core.events import LogEntry
from jobdeck.core.filters import JobFilter, StatusArg, TypeArg
from jobdeck.core.history_order import HistorySort, SortKey, sort_key
from jobdeck.core.job import Job, JobError, JobStatus, Progress, new_job_id
from jobdeck.core.read_stop import ReadStop, ReadStopped
from jobdeck.core.registry import JobKind, JobRegistry, JobType, ParamKind, ParamSpec

T0 = 1_700_000_000.0
_counter = itertools.count()


def make_job(
    title: str = "job",
    status: JobStatus = JobStatus.RUNNING,
    current: float = 0,
    total: float = 0,
    message: str = "",
    type: str = "command",
    created: float | None = None,
    started: float | None = None,
    completed: float | None = None,
    error: str | None = None,
    **kw: Any,
) -> Job:
    """A Job snapshot with sensible times (ids increase with each call)."""
    n = next(_counter)
    created_ts = T0 + n if created is None else created
    if started is None and status is not JobStatus.PENDING:
        started = created_ts + 1
    if completed is None and status.finished:
        completed = (started or created_ts) + 5
    return Job(
        id=new_job_id(created_ts),
        type=type,
        title=title,
        status=status,
        created_ts=created_ts,
        progress=Progress(current, total, message),
        started_ts=started,
        completed_ts=completed,
        error=JobError(error, "Traceback (most recent call last):\n  boom") if error else None,
        **kw,
    )


class FakeSettings:
    """QSettings-compatible ``value``/``setValue`` over a dict."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def value(self, key: str, default: Any = None, type: Any = None) -> Any:
        return self.values.get(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self.values[key] = value


class FakeTracker:
    """A :class:`~jobdeck.core.job_source.JobSource` over a dict of jobs, as the UI uses
    the tracker. Records calls for assertions."""

    closed = False

    def __init__(self, now: float = T0 + 100_000) -> None:
        self.jobs: dict[str, Job] = {}
        self.log_entries: list[LogEntry] = []
        #: job id -> the app instance on a board that runs it (none: a SQLite store).
        self.instances: dict[str, str] = {}
        self.cancelled: list[str] = []
        self.enqueued: list[dict[str, Any]] = []
        self.list_calls: list[dict[str, Any]] = []
        self.count_calls = 0
        self.page_calls: list[dict[str, Any]] = []
        self.clock = now
        self.registry: JobRegistry | None = None

    def now(self) -> float:
        return self.clock

    def add(self, *jobs: Job) -> list[Job]:
        for job in jobs:
            self.jobs[job.id] = job
        return list(jobs)

    def _match(
        self, job: Job, status: StatusArg = None, type: TypeArg = None, search: str | None = None
    ) -> bool:
        return JobFilter.of(status, type, search).matches(job)

    def list_jobs(
        self,
        status: StatusArg = None,
        type: TypeArg = None,
        search: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]:
        self.list_calls.append(
            {"status": status, "type": type, "search": search, "limit": limit, "before": before}
        )
        ids = sorted(self.jobs, reverse=True)
        out = []
        for job_id in ids:
            if before is not None and job_id >= before:
                continue
            job = self.jobs[job_id]
            if self._match(job, status, type, search):
                out.append(job)
                if len(out) >= limit:
                    break
        return out

    def history_page(
        self,
        where: JobFilter,
        sort: HistorySort = HistorySort.CREATED,
        descending: bool = True,
        after: SortKey | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        stop: ReadStop | None = None,
    ) -> list[tuple[Job, SortKey]]:
        """The store's keyset paging, over the dict (same keys, same order)."""
        if stop is not None and stop.stopped:
            raise ReadStopped("the read was stopped before it started")
        self.page_calls.append({"where": where, "sort": sort, "after": after, "offset": offset})
        rows = sorted(
            ((j, sort_key(sort, j)) for j in self.jobs.values() if where.matches(j)),
            key=lambda pair: pair[1],
            reverse=descending,
        )
        if after is not None:
            rows = [r for r in rows if (r[1] < after if descending else r[1] > after)]
        return rows[offset : offset + limit]

    def count_jobs_before(
        self, where: JobFilter, sort: HistorySort, descending: bool, key: SortKey
    ) -> int:
        keys = [sort_key(sort, j) for j in self.jobs.values() if where.matches(j)]
        return sum((k > key) if descending else (k < key) for k in keys)

    def count_jobs(
        self,
        status: StatusArg = None,
        type: TypeArg = None,
        search: str | None = None,
        *,
        stop: ReadStop | None = None,
    ) -> int:
        if stop is not None and stop.stopped:
            raise ReadStopped("the read was stopped before it started")
        self.count_calls += 1
        return sum(self._match(j, status, type, search) for j in self.jobs.values())

    def counts_by_type(self) -> dict[str, dict[str, int]]:
        by_type: dict[str, dict[str, int]] = {}
        for job in self.jobs.values():
            counts = by_type.setdefault(job.type, {s.value: 0 for s in JobStatus})
            counts[job.status.value] += 1
        return by_type

    def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def cancel_job(self, job_id: str) -> bool:
        self.cancelled.append(job_id)
        job = self.jobs.get(job_id)
        if job is None or job.finished:
            return False
        self.jobs[job_id] = replace(job, cancel_requested=True)
        return True

    def enqueue(
        self,
        type: str,
        params: Mapping[str, Any] | None = None,
        title: str | None = None,
        **kw: Any,
    ) -> Job:
        params = dict(params or {})
        if self.registry is not None:
            params = self.registry[type].validate(params)
        self.enqueued.append({"type": type, "params": params, "title": title, **kw})
        job = make_job(title or type, JobStatus.PENDING, type=type, params=params)
        self.jobs[job.id] = job
        return job

    def runs_on(self, job_id: str) -> str | None:
        return self.instances.get(job_id)

    def rerun(self, job_id: str) -> Job:
        old = self.jobs[job_id]
        return self.enqueue(old.type, old.params, title=old.title, retry_of=old.id)

    def logs(self, job_id: str, limit: int = 200) -> list[LogEntry]:
        return [e for e in self.log_entries if e.job_id == job_id][-limit:]


class FakeSignals(QObject):
    """Same signals and methods as runtime.signals.JobSignals; ``push_*`` emit them."""

    jobsAdded = Signal(list)
    jobsChanged = Signal(list)
    jobFinished = Signal(object)
    logAppended = Signal(list)
    storeTroubleChanged = Signal(str)

    def __init__(self, tracker: FakeTracker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tracker = tracker
        self.store_trouble = ""

    def push_trouble(self, message: str) -> None:
        self.store_trouble = message
        self.storeTroubleChanged.emit(message)

    @property
    def tracker(self) -> FakeTracker:
        return self._tracker

    def active_jobs(self) -> list[Job]:
        return sorted(
            (j for j in self._tracker.jobs.values() if j.status.active), key=lambda j: j.id
        )

    def push_added(self, *jobs: Job) -> None:
        self._tracker.add(*jobs)
        self.jobsAdded.emit(list(jobs))

    def push_changed(self, *jobs: Job) -> None:
        self._tracker.add(*jobs)
        self.jobsChanged.emit(list(jobs))
        for job in jobs:
            if job.finished:
                self.jobFinished.emit(job)

    def push_log(self, *entries: LogEntry) -> None:
        self._tracker.log_entries.extend(entries)
        self.logAppended.emit(list(entries))


# --- registry (the real one: core/registry.py exists) ------------------------------------


def _noop(ctx: Any, **params: Any) -> None:
    return None


def _job_type(name: str, title: str, description: str, icon: str, *params: ParamSpec) -> JobType:
    return JobType(name, title, description, icon, tuple(params), False, _noop, JobKind.CALLABLE)


COMMAND = _job_type(
    "command",
    "Command",
    "Run a program with arguments",
    "command",
    ParamSpec("argv", ParamKind.LIST, "Command", item_kind=ParamKind.STR),
    ParamSpec("cwd", ParamKind.PATH, "Working directory", default="."),
    ParamSpec("env", ParamKind.MAPPING, "Environment", default={}),
    ParamSpec("shell", ParamKind.BOOL, "Run in a shell", default=False),
)

HASH = _job_type(
    "hash",
    "Hash files",
    "Compute checksums of every file in a folder",
    "hash",
    ParamSpec("folder", ParamKind.PATH, "Folder"),
    ParamSpec(
        "algorithm",
        ParamKind.ENUM,
        "Algorithm",
        default="sha256",
        choices=("md5", "sha1", "sha256"),
    ),
    ParamSpec("workers", ParamKind.INT, "Workers", default=2, minimum=1, maximum=16),
    ParamSpec("ratio", ParamKind.FLOAT, "Sample ratio", default=1.0, minimum=0, maximum=1),
    ParamSpec("label", ParamKind.STR, "Label", default=""),
    ParamSpec("sizes", ParamKind.LIST, "Sizes", item_kind=ParamKind.INT, default=[]),
)


def field(form: Any, name: str) -> Any:
    """A launch form's editor of parameter ``name``, for reaching into its widgets."""
    return form.fields[name]


def fake_registry() -> JobRegistry:
    """A real JobRegistry holding a command type and a type using every other kind."""
    registry = JobRegistry()
    registry.add(COMMAND)
    registry.add(HASH)
    return registry
