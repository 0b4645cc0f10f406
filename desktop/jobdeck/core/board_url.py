"""Where a shared board lives: a ``postgresql://`` URL, and how to name it without secrets.

A store is either a SQLite file (a path) or a PostgreSQL database shared by several app
instances (a *board*), given as a libpq URL: ``postgresql://user[:password]@host[:port]/db``
(``postgres://`` too; query parameters such as ``?host=/run/postgresql`` for a Unix socket
or ``?sslmode=require`` are passed on to libpq). :class:`BoardUrl` parses one, refuses a
malformed one with a message that names what is wrong, and gives :attr:`BoardUrl.display`:
the URL with any password removed, for every message, log line and window title. No Qt.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .store_errors import StoreError

__all__ = ["BoardUrl", "is_board_url"]

_SCHEMES = ("postgresql", "postgres")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9@._-]+")


def is_board_url(where: str | os.PathLike[str] | None) -> bool:
    """True when ``where`` names a PostgreSQL board rather than a SQLite file."""
    if where is None or not isinstance(where, str):
        return False
    return where.split(":", 1)[0].lower() in _SCHEMES and "://" in where


@dataclass(frozen=True)
class BoardUrl:
    """A parsed ``postgresql://`` URL (see the module). ``conninfo`` (with the password)
    goes to the driver only; everything shown to people uses :attr:`display`."""

    conninfo: str
    user: str | None
    host: str
    port: int | None
    database: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, url: str) -> BoardUrl:
        """Parse ``url``; raises :class:`StoreError` naming the problem (never the password)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise StoreError(f"{_redact(url)} is not a usable PostgreSQL URL: {exc}") from None
        if parts.scheme.lower() not in _SCHEMES:
            raise StoreError(
                f"{_redact(url)} is not a PostgreSQL URL (it should start with postgresql://)"
            )
        params = tuple(parse_qsl(parts.query, keep_blank_values=True))
        socket_dir = dict(params).get("host")
        host = unquote(parts.hostname or "") or socket_dir or "localhost"
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise StoreError(
                f"{_redact(url)} names no database: add it after the host, e.g. "
                "postgresql://user@host/jobdeck"
            )
        if "/" in database:
            raise StoreError(f"{_redact(url)}: {database!r} is not a database name")
        user = unquote(parts.username) if parts.username else None
        return cls(url, user, host, port, database, params)

    @property
    def display(self) -> str:
        """The URL as people see it: no password, ever."""
        return _redact(self.conninfo)

    @property
    def where(self) -> str:
        """``host[:port]/database`` (for short messages)."""
        port = f":{self.port}" if self.port else ""
        return f"{self.host}{port}/{self.database}"

    def folder_name(self) -> str:
        """A file name for this board's local files (process logs, records): the user, host,
        port and database, nothing secret."""
        user = f"{self.user}@" if self.user else ""
        port = f"-{self.port}" if self.port else ""
        raw = f"{user}{self.host}{port}-{self.database}".replace("/", "_")
        return "board-" + _SAFE_NAME.sub("_", raw)


def _redact(url: str) -> str:
    """``url`` without the password in its user part or its query."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the PostgreSQL URL given"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}"
    query = "&".join(
        f"{k}={'***' if k.lower() == 'password' else quote(v, safe='/')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    tail = f"?{query}" if query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{tail}"
