"""A job's log lines and its program's output: paged, or followed while the job runs.

* ``GET /api/jobs/{id}/logs?offset=&limit=`` (or ``?tail=N``): the job's log lines as JSON
  (``{"entries": [...], "offset", "next", "total"}``); with ``follow=1`` an NDJSON stream of
  lines, live ones included, that ends with ``{"finished": <job>}`` once the job has ended.
* ``GET /api/jobs/{id}/output?offset=&limit=``: the bytes of a process job's output file
  (``X-Next-Offset`` and ``X-Output-Size`` say where it stands); with ``follow=1`` the
  output as it grows, ending once the job has ended and everything was sent. The file
  keeps its head and its latest output when it passes its cap; a follower whose position
  was cut away carries on from the new end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from aiohttp import web

from jobdeck.core import LogEntry
from jobdeck.core.validation import MAX_LOG_LINES

from .context import CONTEXT, ApiContext
from .errors import Problem
from .hub import Change
from .jsonify import dumps, job_to_json, log_to_json

__all__ = ["job_logs", "job_output"]

#: Seconds between two looks at a followed output file.
POLL = 0.2
#: Bytes of output read and sent at a time.
CHUNK = 256 * 1024
MAX_PAGE = 4 * 1024 * 1024


def _query_int(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > high:
        raise Problem(400, f"{name} must be a whole number from 0 to {high}, got {raw!r}", name)
    return int(raw)


def _follow(request: web.Request) -> bool:
    return request.query.get("follow", "").lower() in ("1", "true", "yes")


def _job(request: web.Request) -> tuple[ApiContext, str]:
    from .context import resolve_job

    ctx = request.app[CONTEXT]
    return ctx, resolve_job(ctx, request.match_info["job_id"]).id


async def job_logs(request: web.Request) -> web.StreamResponse:
    ctx, job_id = _job(request)
    tail = request.query.get("tail")
    offset = _query_int(request, "offset", 0, MAX_LOG_LINES)
    limit = _query_int(request, "limit", 200, MAX_LOG_LINES)
    if _follow(request):
        return await _follow_logs(request, ctx, job_id, tail)
    entries = ctx.tracker.logs(job_id, limit=MAX_LOG_LINES)
    total = len(entries)
    if tail is not None:
        offset = max(0, total - _query_int(request, "tail", 0, MAX_LOG_LINES))
        limit = total
    page = entries[offset : offset + limit]
    return web.json_response(
        {
            "entries": [log_to_json(e) for e in page],
            "offset": offset,
            "next": offset + len(page),
            "total": total,
        },
        dumps=dumps,
    )


async def _follow_logs(
    request: web.Request, ctx: ApiContext, job_id: str, tail: str | None
) -> web.StreamResponse:
    live: list[LogEntry] = []
    finished = asyncio.Event()
    wake = asyncio.Event()

    def listener(changes: list[Change]) -> None:
        for change in changes:
            if change.job.id == job_id:
                live.extend(change.logs)
                if change.job.status.finished:
                    finished.set()
                wake.set()

    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    ctx.hub.add_listener(listener)
    try:
        await resp.prepare(request)
        earlier = ctx.tracker.logs(job_id, limit=MAX_LOG_LINES)
        if tail is not None:
            earlier = earlier[-_query_int(request, "tail", 0, MAX_LOG_LINES) :] if tail else []
        seen = set(earlier[-MAX_LOG_LINES:])
        await _write_lines(resp, earlier)
        job = ctx.tracker.get_job(job_id)
        while job is not None and not job.status.finished and not ctx.closing.is_set():
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 5.0)
            batch, live[:] = [e for e in live if e not in seen], []
            seen.clear()  # only lines already stored when we started can come twice
            await _write_lines(resp, batch)
            job = ctx.tracker.get_job(job_id)
        if job is not None and job.status.finished:
            await resp.write((dumps({"finished": job_to_json(job)}) + "\n").encode())
        await resp.write_eof()
        return resp
    except ConnectionError:  # the client went away
        return resp
    finally:
        ctx.hub.remove_listener(listener)


async def _write_lines(resp: web.StreamResponse, entries: list[LogEntry]) -> None:
    if entries:
        text = "".join(dumps(log_to_json(e)) + "\n" for e in entries)
        await resp.write(text.encode())


def _read(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """(up to ``limit`` bytes from ``offset``, the file's size); b"" when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return b"", 0
    try:
        size = os.fstat(fd).st_size
        if offset >= size:
            return b"", size
        return os.pread(fd, min(limit, size - offset), offset), size
    finally:
        os.close(fd)


async def job_output(request: web.Request) -> web.StreamResponse:
    ctx, job_id = _job(request)
    job = ctx.tracker.get_job(job_id)
    if job is None:
        raise Problem(404, f"no job with id {job_id!r}")
    if not job.log_path and job.pid is not None and job.finished:
        # its program printed nothing, so it has no file (see ProcessFacts.no_output)
        offset = _query_int(request, "offset", 0, 2**62)
        return web.Response(
            body=b"",
            content_type="application/octet-stream",
            headers={"X-Next-Offset": str(offset), "X-Output-Size": "0"},
        )
    if not job.log_path:
        raise Problem(
            404,
            f"job {job_id} has no output file (only jobs that run a program have one"
            + ("; it has not started yet)" if not job.started_ts else ")"),
            extra={"job": job_to_json(job)},
        )
    offset = _query_int(request, "offset", 0, 2**62)
    if _follow(request):
        return await _follow_output(request, ctx, job_id, job.log_path, offset)
    data, size = _read(job.log_path, offset, _query_int(request, "limit", CHUNK, MAX_PAGE))
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"X-Next-Offset": str(offset + len(data)), "X-Output-Size": str(size)},
    )


async def _follow_output(
    request: web.Request, ctx: ApiContext, job_id: str, path: str, offset: int
) -> web.StreamResponse:
    wake = asyncio.Event()

    def listener(changes: list[Change]) -> None:
        if any(c.job.id == job_id for c in changes):
            wake.set()

    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    ctx.hub.add_listener(listener)
    try:
        await resp.prepare(request)
        while True:
            job = ctx.tracker.get_job(job_id)
            ended = job is None or job.status.finished or ctx.closing.is_set()
            while True:  # send what is there (all of it once the job has ended)
                data, size = _read(path, offset, CHUNK)
                if offset > size:  # the middle was cut out: carry on from the new end
                    offset = size
                if not data:
                    break
                await resp.write(data)
                offset += len(data)
            if ended:
                break
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL)
        await resp.write_eof()
        return resp
    except ConnectionError:  # the client went away
        return resp
    finally:
        ctx.hub.remove_listener(listener)
