"""Checks of what callers hand the tracker: types, titles, params, times, errors.

Bad input is refused where it enters, with a ValueError naming the field; text is made
storable (see :mod:`.validation`). Used by :class:`~jobdeck.core.tracker.JobTracker`. No Qt.
"""

from __future__ import annotations

import traceback as traceback_module
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .context import Cancelled
from .job import JobError
from .validation import (
    MAX_TEXT,
    check_duration,
    check_int,
    check_json,
    check_timestamp,
    storable_text,
    storable_traceback,
)

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_TYPE_LENGTH",
    "as_error",
    "check_text",
    "check_type",
    "common_fields",
    "lookup_id",
    "seconds",
    "timestamp",
]

#: Bounds of what a caller may ask for.
MAX_ATTEMPTS = 1_000_000
MAX_TYPE_LENGTH = 200


def seconds(value: float | timedelta | None, name: str) -> float | None:
    """A duration in seconds (None stays None)."""
    if value is None:
        return None
    number = value.total_seconds() if isinstance(value, timedelta) else value
    return check_duration(name, number)


def timestamp(value: datetime | float | None, name: str) -> float | None:
    """A time as epoch seconds (None stays None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return check_timestamp(name, value.timestamp())
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{name} must be a time between 1970 and the year 9999") from None
    return check_timestamp(name, value)


def lookup_id(job_id: object) -> str | None:
    """``job_id`` if it could be an id in the store (text SQLite can take), else None."""
    if isinstance(job_id, str) and storable_text(job_id) == job_id:
        return job_id
    return None


def check_type(type: object) -> str:
    if not isinstance(type, str) or not type.strip():
        raise ValueError(f"job type must be a non-empty string, got {type!r}")
    if len(type) > MAX_TYPE_LENGTH:
        raise ValueError(f"job type must be at most {MAX_TYPE_LENGTH} characters")
    if storable_text(type) != type:
        raise ValueError(f"job type must be valid UTF-8 text, got {type!r}")
    return type


def check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return storable_text(value, MAX_TEXT)


def common_fields(
    title: str | None,
    metadata: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    priority: int,
) -> dict[str, Any]:
    """The title, priority, metadata and params of a new job, checked."""
    out: dict[str, Any] = {
        "title": None if title is None else check_text("title", title),
        "priority": check_int("priority", priority),
    }
    for name, value in (("metadata", metadata), ("params", params)):
        if value is None:
            out[name] = {}
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
        value = dict(value)
        check_json(value, name)
        out[name] = value
    return out


def as_error(error: str | BaseException | JobError | None, tb: str | None) -> JobError:
    """Why a job failed, as a storable :class:`JobError` (an exception's type and text,
    with its traceback)."""
    if isinstance(error, JobError):
        return JobError(
            storable_text(str(error.message), MAX_TEXT), storable_traceback(error.traceback)
        )
    if isinstance(error, BaseException):
        try:
            message = str(error) or type(error).__name__
        except Exception:
            message = type(error).__name__
        if not isinstance(error, Cancelled) and type(error).__name__ not in message:
            message = f"{type(error).__name__}: {message}"
        if tb is None and error.__traceback__ is not None:
            tb = "".join(traceback_module.format_exception(error))
        return JobError(storable_text(message, MAX_TEXT), storable_traceback(tb))
    message = error if error else "failed"
    if not isinstance(message, str):
        message = str(message)
    return JobError(storable_text(message, MAX_TEXT), storable_traceback(tb))
