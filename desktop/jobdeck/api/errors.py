"""Every refusal as JSON: ``{"error": "<what is wrong>", "field": "<which input>"?}``.

Handlers raise :class:`Problem`; :func:`error_middleware` turns it — and aiohttp's own
refusals (unknown path, wrong method, a body over the size limit) — into a JSON response
with the right status, and anything unexpected into a 500 that is logged once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from jobdeck.core import StoreError

__all__ = ["MAX_BODY", "Problem", "error_middleware", "json_error"]

#: The largest request body accepted (bytes); a larger one gets 413.
MAX_BODY = 1024 * 1024

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """A request the API refuses: HTTP ``status``, a readable ``message``, the ``field``."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra or {}


def json_error(
    status: int, message: str, field: str | None = None, extra: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    body.update(extra or {})
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_REASONS = {
    404: "no such endpoint: {path}",
    405: "{method} is not allowed on {path}",
    413: "the request body is too large (at most {limit} bytes)",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return json_error(exc.status, exc.message, exc.field, exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        template = _REASONS.get(exc.status)
        message = (
            template.format(path=request.path, method=request.method, limit=MAX_BODY)
            if template
            else exc.reason
        )
        response = json_error(exc.status, message)
        for name in ("Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except StoreError as exc:
        return json_error(503, f"the job store cannot be used: {exc}")
    except (ConnectionError, TimeoutError):
        raise
    except Exception:
        log.exception("API request %s %s failed", request.method, request.path)
        return json_error(500, "internal error in Jobdeck (see its log)")
