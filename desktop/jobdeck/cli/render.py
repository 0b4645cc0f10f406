"""Jobs (as the API's JSON) as text for a terminal: one line for ``ls``, a page for ``show``.

The formatting helpers (and ``datetime``) are imported when first needed: ``jobdeck run``
prints only an id and should not pay for them."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

__all__ = ["job_line", "job_page", "percent", "print_json", "say_end"]


def percent(job: dict[str, Any]) -> str:
    from jobdeck.ui.formatting import format_percent  # plain text helpers, no Qt

    return format_percent(job["progress"]["percent"])


def elapsed(job: dict[str, Any], now: float | None = None) -> float | None:
    start = job.get("started_ts")
    if start is None:
        return None
    end = job.get("completed_ts") or (time.time() if now is None else now)
    return max(0.0, end - start)


def say_end(job: dict[str, Any]) -> None:
    """How a job ended, on stderr, with why when it failed (the line the window shows):
    ``jobdeck: job <id> failed: exit status 3: error: cannot open config.yml``."""
    from jobdeck.ui.formatting import error_summary

    how = job["status"]
    if job["status"] == "failed" and job.get("error"):
        how += f": {error_summary(job['error']['message'])}"
    print(f"jobdeck: job {job['id']} {how}", file=sys.stderr)


def job_line(job: dict[str, Any]) -> str:
    """``<id>  <status>  <percent>  <type>  <title>`` (the columns ``ls`` prints)."""
    return f"{job['id']}  {job['status']:<9}  {percent(job):>4}  {job['type']:<10}  {job['title']}"


def _cancelling(job: dict[str, Any]) -> bool:
    """Asked to cancel and not finished yet (a finished job keeps the flag)."""
    return bool(job["cancel_requested"]) and job["status"] in ("pending", "running")


def job_page(job: dict[str, Any], logs: list[dict[str, Any]] | None = None) -> str:
    """What ``show`` prints: the facts a person looks for, then the last log lines."""
    from jobdeck.ui.formatting import EM_DASH, format_duration, format_local_time

    p = job["progress"]
    rows = [
        ("id", job["id"]),
        ("title", job["title"]),
        ("type", job["type"]),
        ("status", job["status"] + (" (cancel requested)" if _cancelling(job) else "")),
        (
            "progress",
            f"{percent(job)}  {p['message']}".rstrip() if p["total"] else p["message"] or EM_DASH,
        ),
        ("created", format_local_time(job["created_ts"])),
        *_starts(job, format_local_time),
        ("started", format_local_time(job["started_ts"])),
        ("ended", format_local_time(job["completed_ts"])),
        ("run time", format_duration(elapsed(job))),
        ("attempts", f"{job['attempts']} of {job['max_attempts']}"),
    ]
    if job["params"].get("argv"):
        rows.append(("command", " ".join(job["params"]["argv"])))
    if job["exit_code"] is not None:
        rows.append(("exit status", str(job["exit_code"])))
    if job["depends_on"]:
        rows.append(("after", ", ".join(job["depends_on"])))
    if job["retry_of"]:
        rows.append(("runs again", job["retry_of"]))
    if job["error"]:
        rows.append(("error", job["error"]["message"]))
    if job["result"] is not None:
        rows.append(("result", json.dumps(job["result"], ensure_ascii=False)))
    if job["log_path"]:
        rows.append(("output", job["log_path"]))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if logs:
        lines.append("")
        lines.extend(log_line(e) for e in logs)
    return "\n".join(lines)


def _starts(job: dict[str, Any], format_local_time: Any) -> list[tuple[str, str]]:
    """A ``starts`` row for a job queued to start later (``run --at``), while it waits."""
    run_at = job.get("run_at_ts")
    if job["status"] != "pending" or run_at is None or run_at <= time.time():
        return []
    return [("starts", format_local_time(run_at))]


def log_line(entry: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry["ts"]))
    return f"{stamp} {entry['level']:<7} {entry['message']}"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
