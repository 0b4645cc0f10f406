"""Jobs and log lines as JSON: the one shape the API, the event stream and ``--json`` use.

Times are epoch seconds (``created_ts``, ``started_ts``, ``completed_ts``, ``run_at_ts``,
``last_seen_ts``); ``progress.percent`` is 0-100 or null while the total is unknown. No Qt,
no aiohttp.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobdeck.core import Job, LogEntry

__all__ = ["dumps", "job_to_json", "log_to_json"]


def job_to_json(job: Job) -> dict[str, Any]:
    """Every field of ``job`` as JSON-ready values."""
    p = job.progress
    return {
        "id": job.id,
        "type": job.type,
        "title": job.title,
        "status": job.status.value,
        "priority": job.priority,
        "progress": {
            "current": p.current,
            "total": p.total,
            "message": p.message,
            "percent": p.percent,
        },
        "created_ts": job.created_ts,
        "started_ts": job.started_ts,
        "completed_ts": job.completed_ts,
        "run_at_ts": job.run_at_ts,
        "last_seen_ts": job.last_seen_ts,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "timeout": job.timeout,
        "depends_on": list(job.depends_on),
        "cancel_requested": job.cancel_requested,
        "retry_of": job.retry_of,
        "error": None
        if job.error is None
        else {"message": job.error.message, "traceback": job.error.traceback},
        "result": job.result,
        "params": job.params,
        "metadata": job.metadata,
        "pid": job.pid,
        "exit_code": job.exit_code,
        "log_path": job.log_path,
        "peak_rss": job.peak_rss,
        "cpu_seconds": job.cpu_seconds,
    }


def log_to_json(entry: LogEntry) -> dict[str, Any]:
    return {"ts": entry.ts, "level": entry.level, "message": entry.message}


def dumps(value: Any) -> str:
    """Compact JSON; values JSON cannot hold (stored results are JSON already) as text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
