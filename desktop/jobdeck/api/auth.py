"""Who may use the API.

**The Unix socket** lives in a directory only the user can enter (0700): nobody else can
connect. As a second wall, a connection whose peer is another user (``SO_PEERCRED``) —
root excepted — is refused, and so is a request that carries an ``Origin`` header (no web
page has any business here).

**The TCP listener** (off unless asked for) checks every request:

1. the ``Host`` header must name this listener (``localhost``, ``127.0.0.1`` or ``[::1]``,
   or the address it was explicitly bound to, with its port): a guard against DNS
   rebinding, where a web page's own host name is pointed at 127.0.0.1;
2. a cross-origin request is refused: an ``Origin`` (or ``Sec-Fetch-Site``) naming another
   site than this listener;
3. it must carry the token: ``Authorization: Bearer <token>``, or the board's cookie. The
   board is opened once as ``/?token=<token>``: that sets an HttpOnly, SameSite=Strict
   cookie and redirects to ``/`` so the token leaves the address bar.

Refusals are JSON (401 without or with a wrong token, 403 for a foreign host or origin).
"""

from __future__ import annotations

import hmac
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from .errors import json_error

__all__ = ["TcpGuard", "guard_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_CRED = struct.Struct("3i")


@dataclass(frozen=True)
class TcpGuard:
    """What the TCP listener accepts: its token, port and host names."""

    token: str
    port: int
    extra_hosts: frozenset[str] = frozenset()

    @property
    def cookie(self) -> str:
        return f"jobdeck_{self.port}"

    def host_ok(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        parts = urlsplit("//" + host_header.strip())
        try:
            port = parts.port
        except ValueError:
            return False
        name = (parts.hostname or "").lower()
        if ":" in name:
            name = f"[{name}]"
        return (name in LOCAL_NAMES or name in self.extra_hosts) and port in (None, self.port)

    def origin_ok(self, origin: str | None) -> bool:
        if origin is None:
            return True
        parts = urlsplit(origin.strip())
        return parts.scheme == "http" and self.host_ok(parts.netloc) and parts.port == self.port

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(
            given.encode("utf-8", "replace"), self.token.encode()
        )


def _peer_uid(request: web.Request) -> int | None:
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    try:
        _pid, uid, _gid = _CRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
        )
    except OSError:
        return None
    return int(uid)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def guard_middleware(
    tcp: Callable[[], TcpGuard | None],
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware that applies the rules above (``tcp()`` is the TCP listener's guard
    while it is on)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        if isinstance(sockname, tuple):  # TCP
            rules = tcp()
            if rules is None:
                return json_error(403, "this listener is closed")
            refusal = _check_tcp(request, rules)
            if refusal is not None:
                return refusal
            token = request.query.get("token")
            if request.method == "GET" and request.path == "/" and token is not None:
                if not rules.token_ok(token):
                    return json_error(401, "wrong token: open the board with `jobdeck board`")
                login = web.HTTPSeeOther("/")
                login.set_cookie(rules.cookie, token, httponly=True, samesite="Strict", path="/")
                raise login
            given = _bearer(request) or request.cookies.get(rules.cookie)
            if given is None:
                response = json_error(
                    401,
                    "a token is required: send Authorization: Bearer <token> (the token is in "
                    "the app's token file; `jobdeck board` prints the board's address)",
                )
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
            if not rules.token_ok(given):
                response = json_error(401, "wrong token")
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
        else:  # the Unix socket
            uid = _peer_uid(request)
            if uid is not None and uid not in (os.getuid(), 0):
                return json_error(403, f"user id {uid} may not use this Jobdeck")
            if "Origin" in request.headers:
                return json_error(403, "cross-origin requests are refused")
        return await handler(request)

    return guard


def _check_tcp(request: web.Request, rules: TcpGuard) -> web.Response | None:
    host = request.headers.get("Host")
    if not rules.host_ok(host):
        return json_error(
            403,
            f"Host {host!r} is not this app's address; use http://127.0.0.1:{rules.port}/ "
            "(requests for other host names are refused against DNS rebinding)",
        )
    if not rules.origin_ok(request.headers.get("Origin")):
        return json_error(403, "cross-origin requests are refused")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return json_error(403, "cross-origin requests are refused")
    return None
