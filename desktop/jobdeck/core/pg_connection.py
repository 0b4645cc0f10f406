"""A psycopg connection that speaks the store's SQL: the PostgreSQL half of the store's seam.

The store, the tracker and the commit group write their SQL once, in the portable subset
SQLite and PostgreSQL share, with ``?`` placeholders, and handle database errors as the
DB-API errors of :mod:`sqlite3` (``sqlite3.Error`` and its subclasses). :class:`PgConnection`
lets that same code run on a psycopg 3 connection:

* ``?`` placeholders become ``%s`` (each statement is translated once, then cached); SQL
  that already uses ``%s`` (built by peewee's PostgreSQL dialect) is passed as is;
* SQLite's ``BEGIN IMMEDIATE`` is PostgreSQL's ``BEGIN``;
* every psycopg error is re-raised as the matching :mod:`sqlite3` exception (the driver's
  error chained), its message naming the board — ``PostgreSQL at host/db: ...`` — and never
  the password, so the store's error handling and its messages work unchanged;
* a lost connection reads as "not in a transaction" and :attr:`PgConnection.broken` is
  True, so the store knows to connect again;
* text with a NUL character, which PostgreSQL's ``text`` cannot hold (SQLite's can: a
  title, a program's output quoted in a failure message), is written with U+FFFD in its
  place rather than refused.

No Qt.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

__all__ = ["PgConnection", "PgCursor", "as_sqlite_error"]

_TRANSLATED: dict[str, str] = {}
_TRANSLATED_MAX = 512


def _translate(sql: str) -> str:
    found = _TRANSLATED.get(sql)
    if found is not None:
        return found
    text = sql.strip()
    if text.upper() == "BEGIN IMMEDIATE":
        out = "BEGIN"
    elif "?" in sql:
        out = sql.replace("%", "%%").replace("?", "%s")
    else:
        out = sql
    if len(_TRANSLATED) < _TRANSLATED_MAX:
        _TRANSLATED[sql] = out
    return out


def _nul_free(params: Sequence[Any]) -> tuple[Any, ...]:
    """``params`` with U+FFFD for each NUL character of its text (see the module)."""
    return tuple(
        p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params
    )


def as_sqlite_error(exc: psycopg.Error, where: str) -> sqlite3.Error:
    """The :mod:`sqlite3` exception that stands for psycopg's ``exc`` (see the module)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = f"PostgreSQL at {where}: {detail}"
    cls: type[sqlite3.Error]
    if isinstance(exc, psycopg.IntegrityError):
        cls = sqlite3.IntegrityError
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        cls = sqlite3.OperationalError
    elif isinstance(exc, psycopg.DataError):
        cls = sqlite3.DataError
    elif isinstance(exc, psycopg.ProgrammingError):
        cls = sqlite3.ProgrammingError
    else:
        cls = sqlite3.DatabaseError
    error = cls(message)
    error.__cause__ = exc
    return error


class PgCursor:
    """The result of one statement: rows, and how many rows it changed."""

    __slots__ = ("_cursor", "_where")

    def __init__(self, cursor: psycopg.Cursor[Any], where: str) -> None:
        self._cursor = cursor
        self._where = where

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone() if self._cursor.description else None
        except psycopg.Error as exc:
            raise as_sqlite_error(exc, self._where) from exc

    def fetchmany(self, size: int) -> list[Any]:
        try:
            return self._cursor.fetchmany(size) if self._cursor.description else []
        except psycopg.Error as exc:
            raise as_sqlite_error(exc, self._where) from exc

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall() if self._cursor.description else []
        except psycopg.Error as exc:
            raise as_sqlite_error(exc, self._where) from exc

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """One psycopg connection (autocommit: transactions are opened with ``BEGIN`` by the
    store) behind the small part of :class:`sqlite3.Connection` the store uses."""

    def __init__(self, raw: psycopg.Connection[Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        try:
            cursor = self.raw.execute(_translate(sql), _nul_free(params) or None)
        except psycopg.Error as exc:
            raise as_sqlite_error(exc, self.where) from exc
        return PgCursor(cursor, self.where)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        try:
            cursor = self.raw.cursor()
            cursor.executemany(_translate(sql), [_nul_free(row) for row in rows])
        except psycopg.Error as exc:
            raise as_sqlite_error(exc, self.where) from exc
        return PgCursor(cursor, self.where)

    @property
    def in_transaction(self) -> bool:
        """True inside a transaction (also one that failed and waits for its ROLLBACK)."""
        if self.raw.closed:
            return False
        return self.raw.pgconn.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
            TransactionStatus.ACTIVE,
        )

    @property
    def broken(self) -> bool:
        """True once the connection is lost (the store connects again)."""
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.raw.close()
