"""Jobdeck's Qt-free core: jobs, their store, the tracker and the context running code sees.

Nothing in this package imports PySide6 or qasync.
"""

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
    "StoreReadOnly",
    "StoreTooNew",
    "StoreWriteError",
    "UnknownJob",
    "default_db_path",
    "new_job_id",
    "system_clock",
]
