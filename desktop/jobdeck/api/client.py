"""The client of the running app's API, over its Unix socket. Standard library only.

The ``jobdeck`` command uses it; it imports neither Qt nor aiohttp, so a command such as
``jobdeck run --wait -- true`` starts in a few milliseconds. One connection is kept alive
for all the requests of a command.

Errors: :class:`AppUnreachable` when nothing answers on the socket, :class:`ApiError`
(with the HTTP status, the message and the field) when the app refuses a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from .http11 import Connection, ProtocolError, Response

__all__ = ["ApiClient", "ApiError", "AppUnreachable", "SseEvent", "sse_events"]


class AppUnreachable(Exception):
    """Nothing answers on the app's socket (it does not run, or it went away)."""


class ApiError(Exception):
    """The app refused a request: ``status`` and the message (and ``field``) it gave."""

    def __init__(self, status: int, message: str, field: str | None, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.body = body


def _path(path: str, query: dict[str, Any] | None) -> str:
    if not query:
        return path
    pairs = []
    for key, value in query.items():
        if value is None or value is False:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, "1" if item is True else str(item)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def job_path(job_id: str, tail: str = "") -> str:
    return f"/api/jobs/{quote(job_id, safe='')}{tail}"


class ApiClient:
    """Requests to the app listening on ``socket_path``."""

    def __init__(self, socket_path: str | os.PathLike[str], timeout: float = 30.0) -> None:
        self.socket_path = os.fspath(socket_path)
        self.timeout = timeout
        self._conn: Connection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        timeout: float | None,
        reuse: bool = True,
    ) -> Response:
        """Send a request (``timeout``: seconds per socket operation, None: no limit)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn if reuse else None
            fresh = conn is None
            if conn is None:
                conn = Connection(self.socket_path, timeout)
            else:
                conn.set_timeout(timeout)
            try:
                response = conn.request(method, path, payload, headers)
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                conn.close()
                raise AppUnreachable(
                    f"nothing answers on {self.socket_path}: {exc.strerror}"
                ) from exc
            except (ProtocolError, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                self._conn = None
                if fresh or attempt == 2:  # a kept connection may have timed out: once more
                    raise AppUnreachable(f"the app closed the connection: {exc}") from exc
                continue
            except OSError as exc:
                conn.close()
                self._conn = None
                raise AppUnreachable(f"cannot reach the app on {self.socket_path}: {exc}") from exc
            if reuse:
                self._conn = conn
            return response
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request and return its JSON answer; :class:`ApiError` for a refusal."""
        wait = self.timeout if timeout is None else timeout
        response = self._send(method, _path(path, query), body, wait)
        try:
            raw = response.read()
        except OSError as exc:
            self.close()
            raise AppUnreachable(f"the app went away while answering: {exc}") from exc
        if response.will_close:
            self.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        if response.status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            field = data.get("field") if isinstance(data, dict) else None
            raise ApiError(response.status, message or f"HTTP {response.status}", field, data)
        return data

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)

    def stream(
        self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Response:
        """Open a streamed response on a connection of its own (read it, then close it);
        ``timeout``: seconds the stream may stay silent (None: for ever)."""
        response = self._send("GET", _path(path, query), None, timeout, reuse=False)
        if response.status >= 400:
            raw = response.read()
            response.close()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            raise ApiError(
                response.status,
                data.get("error") or f"HTTP {response.status}",
                data.get("field"),
                data,
            )
        return response

    def info(self, timeout: float = 5.0) -> dict[str, Any]:
        """``GET /api/info``: raises AppUnreachable when no app answers."""
        data = self.request("GET", "/api/info", timeout=timeout)
        if not isinstance(data, dict) or data.get("app") != "jobdeck":
            raise AppUnreachable(f"something else answers on {self.socket_path}")
        return data


class SseEvent:
    """One Server-Sent Event: its ``event`` name, ``data`` text and ``id``."""

    __slots__ = ("data", "event", "id")

    def __init__(self, event: str, data: str, id: str | None) -> None:
        self.event = event
        self.data = data
        self.id = id

    def __repr__(self) -> str:
        return f"SseEvent({self.event!r}, {self.data[:40]!r}, {self.id!r})"

    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(response: Response) -> Iterator[SseEvent]:
    """The events of a Server-Sent Events response, as they arrive (heartbeats skipped)."""
    event, last_id = "message", None
    data: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
