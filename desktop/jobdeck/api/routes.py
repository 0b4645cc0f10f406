"""The JSON endpoints of the API (see the README's "API" section for the full list).

Jobs: list/count/search, get, enqueue (checked like the launch form: 422 naming the field,
nothing queued), cancel, retry (a new run), wait for one or several, statistics, the job
types, and facts about the app. A job id in a path may be the start of an id when that is
unique. Handlers run on the app's loop; reads that may take long (statistics) run on a
worker thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp import web

from jobdeck import __version__
from jobdeck.core import JobStatus
from jobdeck.core.job import queued_first
from jobdeck.core.registry import ParamError

from .context import CONTEXT, ApiContext, json_body, resolve_job
from .errors import Problem
from .jsonify import dumps, job_to_json
from .sse import StreamFilter, stream_jobs

__all__ = ["add_routes"]

STATUSES = [s.value for s in JobStatus]
FINISHED = [s.value for s in JobStatus if s.finished]
ACTIVE = [s.value for s in JobStatus if s.active]
#: What ``POST /api/jobs`` accepts.
ENQUEUE_FIELDS = (
    "type",
    "params",
    "title",
    "priority",
    "depends_on",
    "run_at",
    "max_attempts",
    "timeout",
    "metadata",
)
MAX_LIST = 1000
#: Recent jobs looked through for failed jobs not yet run again (``retry --failed``).
RETRY_SCAN = 1000
DEFAULT_WAIT = 30.0
MAX_WAIT = 300.0


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


# -- query parameters ---------------------------------------------------------------------------


def _values(request: web.Request, name: str) -> list[str]:
    """A repeatable, comma-separable query parameter."""
    out: list[str] = []
    for raw in request.query.getall(name, []):
        out.extend(part.strip() for part in raw.split(",") if part.strip())
    return out


def _statuses(request: web.Request) -> list[str] | None:
    given = [s.lower() for s in _values(request, "status")]
    for status in given:
        if status not in STATUSES:
            raise Problem(
                400, f"unknown status {status!r}; valid statuses: {', '.join(STATUSES)}", "status"
            )
    return given or None


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, f"{name} must be a whole number, got {raw!r}", name) from None
    if not low <= value <= high:
        raise Problem(400, f"{name} must be between {low} and {high}, got {value}", name)
    return value


def _float_query(request: web.Request, name: str, default: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise Problem(400, f"{name} must be a number of seconds, got {raw!r}", name) from None
    if not 0 <= value <= high:
        raise Problem(400, f"{name} must be between 0 and {high:g} seconds, got {raw}", name)
    return value


def _filters(request: web.Request) -> dict[str, Any]:
    return {
        "status": _statuses(request),
        "type": _values(request, "type") or None,
        "search": request.query.get("search") or None,
    }


# -- reading ------------------------------------------------------------------------------------


async def list_jobs(request: web.Request) -> web.Response:
    """``GET /api/jobs?status=&type=&search=&limit=&before=``: newest first."""
    ctx = _ctx(request)
    limit = _int_query(request, "limit", 100, 0, MAX_LIST)
    before = request.query.get("before") or None
    jobs = ctx.tracker.list_jobs(**_filters(request), limit=limit, before=before)
    return ok(
        {
            "jobs": [job_to_json(j) for j in jobs],
            "next_before": jobs[-1].id if limit and len(jobs) == limit else None,
        }
    )


async def count_jobs(request: web.Request) -> web.Response:
    """``GET /api/jobs/count?status=&type=&search=``."""
    return ok({"count": _ctx(request).tracker.count_jobs(**_filters(request))})


async def get_job(request: web.Request) -> web.Response:
    """``GET /api/jobs/{id}``."""
    job = resolve_job(_ctx(request), request.match_info["job_id"])
    return ok(job_to_json(job))


async def stats(request: web.Request) -> web.Response:
    """``GET /api/stats``: how many jobs there are per status, and per type and status.

    With ``?period=24h|7d|30d|all`` also the statistics of that period (see
    :mod:`jobdeck.core.stats`): ``types`` and the ``keys`` busiest job ``keys`` (default
    50, at most 500) with runs, success rate, durations and resource use, ``failures``
    grouped by first line, and ``throughput`` (jobs ended per hour or day)."""
    ctx = _ctx(request)
    types = sorted({t.name for t in ctx.registry} | {j.type for j in ctx.tracker.active_jobs()})
    period_text = request.query.get("period")
    keys = _int_query(request, "keys", 50, 0, 500)
    period = None
    if period_text is not None:
        from jobdeck.core.stats import Period

        try:
            period = Period.parse(period_text)
        except ValueError as exc:
            raise Problem(400, str(exc), "period") from None

    def count() -> dict[str, Any]:
        tracker = ctx.tracker
        by_status = {s: tracker.count_jobs(status=s) for s in STATUSES}
        held = tracker.counts_by_type()
        by_type = {name: held[name] for name in types if name in held}
        out = {"total": sum(by_status.values()), "by_status": by_status, "by_type": by_type}
        if period is not None:
            out.update(_period_stats(ctx, period, keys))
        return out

    return ok(await asyncio.get_running_loop().run_in_executor(ctx.reader, count))


def _period_stats(ctx: ApiContext, period: Any, keys: int) -> dict[str, Any]:
    """The statistics of ``period`` as JSON (on the reader thread)."""
    report = ctx.tracker.stats().report(period, keys=keys)
    t = report.throughput
    return {
        "period": report.period.value,
        "since": report.since,
        "now": report.now,
        "types": [s.as_json() for s in report.by_type],
        "keys": [s.as_json() for s in report.by_key],
        "keys_total": report.keys_total,
        "failures": [f.as_json() for f in report.failures],
        "throughput": {
            "bucket_s": t.bucket_s,
            "starts": t.starts,
            "completed": t.completed,
            "failed": t.failed,
            "cancelled": t.cancelled,
        },
    }


async def job_types(request: web.Request) -> web.Response:
    """``GET /api/types``: the job types this app runs, with their parameter schemas."""
    out = []
    for t in _ctx(request).registry:
        params = [
            {
                "name": p.name,
                "kind": p.kind.value,
                "label": p.label,
                "help": p.help,
                "required": p.required,
                "default": None if p.required else p.default,
                "choices": list(p.choices),
                "item_kind": None if p.item_kind is None else p.item_kind.value,
                "minimum": p.minimum,
                "maximum": p.maximum,
            }
            for p in t.params
        ]
        out.append(
            {"name": t.name, "title": t.title, "description": t.description, "params": params}
        )
    return ok({"types": out})


async def info(request: web.Request) -> web.Response:
    """``GET /api/info``: which app this is, and its event streams."""
    ctx = _ctx(request)
    streams = ctx.streams
    return ok(
        {
            **ctx.info,
            "window_visible": ctx.window_visible() if ctx.window_visible else None,
            "listen": ctx.listen_url,
            "streams": {
                "open": len(streams.open),
                "served": streams.served,
                "dropped": streams.dropped,
            },
        }
    )


async def show_window(request: web.Request) -> web.Response:
    """``POST /api/app/show``: raise and focus the main window (a second launch does it)."""
    ctx = _ctx(request)
    if ctx.show_window is None:
        raise Problem(
            409, "this Jobdeck runs without a window (jobdeck serve)", None, {"gui": False}
        )
    ctx.show_window()
    return ok({"shown": True})


# -- changing -----------------------------------------------------------------------------------


def _field_of(message: str, fields: Iterable[str]) -> str | None:
    """The input a tracker error names (its messages start with the field's name)."""
    for name in sorted(fields, key=len, reverse=True):
        if message.startswith(name):
            return name
    return None


def _run_at(value: Any) -> datetime | float:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise Problem(
                422, f"not a date and time: {value!r} (ISO 8601 or epoch seconds)", "run_at"
            ) from None
        return moment if moment.tzinfo else moment.astimezone()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(422, "give ISO 8601 text or epoch seconds", "run_at")
    return value


async def enqueue(request: web.Request) -> web.Response:
    """``POST /api/jobs``: queue a job; 201 with it, or 422 naming the field."""
    ctx = _ctx(request)
    body = await json_body(request)
    for key in body:
        if key not in ENQUEUE_FIELDS:
            raise Problem(
                422, f"unknown field {key!r}; known fields: {', '.join(ENQUEUE_FIELDS)}", key
            )
    type_name = body.get("type", "command")
    if not isinstance(type_name, str):
        raise Problem(422, "type must be the name of a job type (a string)", "type")
    job_type = ctx.registry.get(type_name)
    if job_type is None:
        known = ", ".join(t.name for t in ctx.registry)
        raise Problem(422, f"unknown job type {type_name!r}; known types: {known}", "type")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise Problem(422, "params must be a JSON object", "params")
    try:
        params = job_type.validate(params)
    except ParamError as exc:
        raise Problem(422, exc.problem, f"params.{exc.field}") from None
    except ValueError as exc:
        raise Problem(422, str(exc), "params") from None
    kwargs: dict[str, Any] = {}
    for name in ("title", "priority", "max_attempts", "timeout", "metadata"):
        if body.get(name) is not None:
            kwargs[name] = body[name]
    if "title" in kwargs and not isinstance(kwargs["title"], str):
        raise Problem(422, "title must be text", "title")
    if not kwargs.get("title"):
        kwargs["title"] = job_type.default_title(params)
    if body.get("run_at") is not None:
        kwargs["run_at"] = _run_at(body["run_at"])
    deps = body.get("depends_on") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise Problem(422, "depends_on must be a list of job ids", "depends_on")
    try:
        kwargs["depends_on"] = [resolve_job(ctx, d, "depends_on").id for d in deps]
    except Problem as exc:  # an unknown id in the body is bad input, not a missing page
        raise Problem(422, exc.message, exc.field, exc.extra) from None
    try:
        job = ctx.tracker.enqueue(type_name, params, **kwargs)
    except ParamError as exc:
        raise Problem(422, exc.problem, f"params.{exc.field}") from None
    except ValueError as exc:
        message = str(exc)
        raise Problem(422, message, _field_of(message, ENQUEUE_FIELDS)) from None
    return ok(job_to_json(job), status=201)


def _cancel_one(ctx: ApiContext, job_id: str) -> tuple[bool, bool, str]:
    """(cancel accepted, still stopping, why not): a queued job is cancelled at once; a
    running one is only asked to stop (it may take seconds, or be killed after the grace
    period), so it is said to be stopping while it still runs."""
    if ctx.tracker.cancel_job(job_id):
        job = ctx.tracker.get_job(job_id)
        return True, job is not None and job.status is JobStatus.RUNNING, ""
    job = ctx.tracker.get_job(job_id)
    status = job.status.value if job is not None else "gone"
    return False, False, f"job {job_id} is already {status}"


async def cancel_job(request: web.Request) -> web.Response:
    """``POST /api/jobs/{id}/cancel``: a pending job is cancelled at once, a running one is
    asked to stop; 409 when it has finished."""
    ctx = _ctx(request)
    job = resolve_job(ctx, request.match_info["job_id"])
    cancelled, stopping, why = _cancel_one(ctx, job.id)
    if not cancelled:
        raise Problem(409, why, None, {"job": job_to_json(ctx.tracker.get_job(job.id) or job)})
    job_json = job_to_json(ctx.tracker.get_job(job.id) or job)
    return ok({"cancelled": True, "stopping": stopping, "job": job_json})


async def cancel_many(request: web.Request) -> web.Response:
    """``POST /api/jobs/cancel`` with ``{"ids": [...]}`` or ``{"all": true}``: ``cancelled``
    lists every job the cancel was accepted for, ``stopping`` those of them that still run
    (asked to stop), ``not_cancelled`` the refused ones with why."""
    ctx = _ctx(request)
    body = await json_body(request)
    for key in body:
        if key not in ("ids", "all"):
            raise Problem(422, f"unknown field {key!r}; give ids or all", key)
    if body.get("all") is True:
        jobs = ctx.tracker.active_jobs()
    elif isinstance(body.get("ids"), list) and body["ids"]:
        if not all(isinstance(i, str) for i in body["ids"]):
            raise Problem(422, "ids must be a list of job ids", "ids")
        jobs = [resolve_job(ctx, i, "ids") for i in body["ids"]]
    else:
        raise Problem(422, 'give "ids": [job ids] or "all": true', "ids")
    cancelled, stopping, refused = [], [], []
    for job_id in [job.id for job in queued_first(jobs)]:  # (see queued_first)
        done, still_running, why = _cancel_one(ctx, job_id)
        if done:
            cancelled.append(job_id)
            if still_running:
                stopping.append(job_id)
        else:
            refused.append({"id": job_id, "reason": why})
    return ok({"cancelled": cancelled, "stopping": stopping, "not_cancelled": refused})


async def retry_job(request: web.Request) -> web.Response:
    """``POST /api/jobs/{id}/retry``: run a finished job again as a new job (201)."""
    ctx = _ctx(request)
    job = resolve_job(ctx, request.match_info["job_id"])
    if not job.status.finished:
        raise Problem(
            409, f"job {job.id} is still {job.status.value}; it can run again once it has finished"
        )
    new = ctx.tracker.rerun(job.id)
    return ok(job_to_json(new), status=201)


async def retry_many(request: web.Request) -> web.Response:
    """``POST /api/jobs/retry`` with ``{"ids": [...]}`` or ``{"failed": true}`` (every
    failed job among the recent ones that has not been run again yet)."""
    ctx = _ctx(request)
    body = await json_body(request)
    for key in body:
        if key not in ("ids", "failed"):
            raise Problem(422, f"unknown field {key!r}; give ids or failed", key)
    if body.get("failed") is True:
        recent = ctx.tracker.list_jobs(limit=RETRY_SCAN)
        rerun = {j.retry_of for j in recent if j.retry_of}
        targets = [
            j for j in reversed(recent) if j.status is JobStatus.FAILED and j.id not in rerun
        ]
    elif isinstance(body.get("ids"), list) and body["ids"]:
        if not all(isinstance(i, str) for i in body["ids"]):
            raise Problem(422, "ids must be a list of job ids", "ids")
        targets = [resolve_job(ctx, i, "ids") for i in body["ids"]]
        busy = [j.id for j in targets if not j.status.finished]
        if busy:
            raise Problem(409, f"still active, cannot run again yet: {', '.join(busy)}", "ids")
    else:
        raise Problem(422, 'give "ids": [job ids] or "failed": true', "ids")
    new = [ctx.tracker.rerun(j.id) for j in targets]
    return ok({"jobs": [job_to_json(j) for j in new]}, status=201)


# -- waiting and streaming ---------------------------------------------------------------------


async def wait_jobs(request: web.Request) -> web.Response:
    """``GET /api/jobs/wait?id=A&id=B[&any=1][&timeout=S]``: returns once all (or any) of
    the jobs have finished, or after ``timeout`` seconds (30; at most 300) with
    ``"done": false`` (ask again)."""
    ctx = _ctx(request)
    texts = _values(request, "id")
    if not texts:
        raise Problem(400, "give the jobs to wait for: ?id=JOB (repeatable)", "id")
    ids = list(dict.fromkeys(resolve_job(ctx, t, "id").id for t in texts))
    want_any = request.query.get("any", "").lower() in ("1", "true", "yes")
    timeout = _float_query(request, "timeout", DEFAULT_WAIT, MAX_WAIT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    changed = asyncio.Event()
    watched = set(ids)

    def listener(changes: list[Any]) -> None:
        if any(c.job.id in watched and c.job.status.finished for c in changes):
            changed.set()

    ctx.hub.add_listener(listener)
    try:
        while True:
            jobs = [ctx.tracker.get_job(i) for i in ids]
            present = [j for j in jobs if j is not None]
            finished = [j for j in present if j.status.finished]
            done = bool(finished) if want_any else len(finished) == len(present)
            remaining = deadline - loop.time()
            if done or remaining <= 0 or ctx.closing.is_set():
                return ok({"done": done, "jobs": [job_to_json(j) for j in present]})
            changed.clear()
            closing = asyncio.ensure_future(ctx.closing.wait())
            change = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait(
                    {closing, change}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in (closing, change):
                    task.cancel()
    finally:
        ctx.hub.remove_listener(listener)


async def stream(request: web.Request) -> web.StreamResponse:
    """``GET /api/jobs/stream[?job=ID][&type=T]``: see :mod:`.sse`."""
    ctx = _ctx(request)
    ids = frozenset(resolve_job(ctx, t, "job").id for t in _values(request, "job"))
    flt = StreamFilter(ids, frozenset(_values(request, "type")))
    return await stream_jobs(request, ctx.tracker, ctx.hub, ctx.streams, flt)


def add_routes(app: web.Application) -> None:
    from . import logs

    r = app.router
    r.add_get("/api/info", info)
    r.add_get("/api/stats", stats)
    r.add_get("/api/types", job_types)
    r.add_post("/api/app/show", show_window)
    r.add_get("/api/jobs", list_jobs)
    r.add_post("/api/jobs", enqueue)
    r.add_get("/api/jobs/count", count_jobs)
    r.add_get("/api/jobs/stream", stream)
    r.add_get("/api/jobs/wait", wait_jobs)
    r.add_post("/api/jobs/cancel", cancel_many)
    r.add_post("/api/jobs/retry", retry_many)
    r.add_get("/api/jobs/{job_id}", get_job)
    r.add_post("/api/jobs/{job_id}/cancel", cancel_job)
    r.add_post("/api/jobs/{job_id}/retry", retry_job)
    r.add_get("/api/jobs/{job_id}/logs", logs.job_logs)
    r.add_get("/api/jobs/{job_id}/output", logs.job_output)


def app_info(db: str | None, gui: bool) -> dict[str, Any]:
    """The facts ``GET /api/info`` starts from."""
    return {"app": "jobdeck", "version": __version__, "pid": os.getpid(), "db": db, "gui": gui}
