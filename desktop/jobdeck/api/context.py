"""What every handler of the API reaches: the tracker, the job types, the hub, the app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from jobdeck.core import Job, JobTracker
from jobdeck.core.registry import JobRegistry

from .errors import Problem
from .hub import EventHub
from .lookup import AmbiguousId, JobNotFound, find_job
from .sse import Streams

__all__ = ["CONTEXT", "ApiContext", "json_body", "resolve_job"]


@dataclass
class ApiContext:
    """The app as the API's handlers see it (one per server; loop thread only)."""

    tracker: JobTracker
    registry: JobRegistry
    hub: EventHub
    streams: Streams
    #: ``version``, ``pid``, ``db``, ``gui``: facts about the app for ``GET /api/info``.
    info: dict[str, Any]
    #: Raise and focus the main window; None without a GUI.
    show_window: Callable[[], None] | None = None
    window_visible: Callable[[], bool] | None = None
    #: ``http://127.0.0.1:<port>`` while the TCP listener is on.
    listen_url: str | None = None
    #: Set when the server closes, so long waits end at once.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    #: A thread for reads that may take long (statistics of a large store).
    reader: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="jobdeck-api")
    )


CONTEXT: web.AppKey[ApiContext] = web.AppKey("jobdeck_api", ApiContext)


def resolve_job(ctx: ApiContext, text: str, field_name: str | None = None) -> Job:
    """The job with id ``text`` or the one whose id starts with it: 404 if none, 400 if
    several do."""
    try:
        return find_job(ctx.tracker, text)
    except JobNotFound as exc:
        raise Problem(404, str(exc), field_name) from None
    except AmbiguousId as exc:
        raise Problem(400, str(exc), field_name, {"candidates": exc.candidates}) from None


async def json_body(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when not ``required``)."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise Problem(400, "the request needs a JSON object as its body")
        return {}
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream") and not ctype.endswith(
        "+json"
    ):
        raise Problem(415, f"send the body as application/json, not {ctype}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Problem(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise Problem(
            400, f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise Problem(400, "the body's JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise Problem(400, f"the body must be a JSON object, not {type(data).__name__}")
    return data
