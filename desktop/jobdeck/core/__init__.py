"""Jobdeck's Qt-free core: jobs, their store, the tracker and the context running code sees.

Nothing in this package imports PySide6 or qasync. The names below are imported when first
used (PEP 562): importing ``jobdeck.core.job`` does not import the store (peewee), so the
desktop app paints its window before it imports the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import Clock, FakeClock, system_clock
    from .context import Cancelled, JobContext
    from .events import EventKind, JobEvent, LogEntry
    from .job import InvalidTransition, Job, JobError, JobStatus, Progress, new_job_id
    from .params import Param, ParamError
    from .process_spec import ProcessFacts, ProcessSpec
    from .registry import JobKind, JobRegistry, JobType
    from .store import default_db_path
    from .store_errors import (
        StoreCorrupt,
        StoreError,
        StoreLocked,
        StoreNotOpen,
        StoreReadOnly,
        StoreTooNew,
        StoreWriteError,
    )
    from .tracker import JobTracker, UnknownJob

__all__ = [
    "Cancelled",
    "Clock",
    "EventKind",
    "FakeClock",
    "InvalidTransition",
    "Job",
    "JobContext",
    "JobError",
    "JobEvent",
    "JobKind",
    "JobRegistry",
    "JobStatus",
    "JobTracker",
    "JobType",
    "LogEntry",
    "Param",
    "ParamError",
    "ProcessFacts",
    "ProcessSpec",
    "Progress",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreNotOpen",
    "StoreReadOnly",
    "StoreTooNew",
    "StoreWriteError",
    "UnknownJob",
    "default_db_path",
    "new_job_id",
    "system_clock",
]

#: Where each public name lives (imported on first use).
_WHERE = {
    "Cancelled": "context",
    "Clock": "clock",
    "EventKind": "events",
    "FakeClock": "clock",
    "InvalidTransition": "job",
    "Job": "job",
    "JobContext": "context",
    "JobError": "job",
    "JobEvent": "events",
    "JobKind": "registry",
    "JobRegistry": "registry",
    "JobStatus": "job_status",
    "JobTracker": "tracker",
    "JobType": "registry",
    "LogEntry": "events",
    "Param": "params",
    "ParamError": "params",
    "ProcessFacts": "process_spec",
    "ProcessSpec": "process_spec",
    "Progress": "job",
    "StoreCorrupt": "store_errors",
    "StoreError": "store_errors",
    "StoreLocked": "store_errors",
    "StoreNotOpen": "store_errors",
    "StoreReadOnly": "store_errors",
    "StoreTooNew": "store_errors",
    "StoreWriteError": "store_errors",
    "UnknownJob": "tracker",
    "default_db_path": "store",
    "new_job_id": "job",
    "system_clock": "clock",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:  # a submodule, e.g. ``jobdeck.core.store``
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value
