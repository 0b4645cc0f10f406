"""Stopping a read that another thread runs: :class:`ReadStop`.

A search's count of a common text takes a while at a million jobs; when the user types on,
the count of the text before is of no use, and would keep a core (and a reader connection)
busy for nothing. The thread that no longer wants it calls :meth:`ReadStop.stop`: a SQLite
statement under way is interrupted (``sqlite3.Connection.interrupt``, which costs the read
nothing until then), and the read raises :class:`ReadStopped`. A PostgreSQL read is only
stopped before it starts. No Qt.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .store_errors import StoreError

if TYPE_CHECKING:
    import sqlite3

__all__ = ["ReadStop", "ReadStopped"]


class ReadStopped(StoreError):
    """A read was stopped by :meth:`ReadStop.stop` before it finished (no error: its caller
    no longer wanted it)."""


class ReadStop:
    """Lets one thread stop the reads given it (any number, on any threads), started or
    not: :meth:`stop` stops those under way and all later ones. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: set[sqlite3.Connection] = set()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop the reads under way (interrupt their statements) and any later one."""
        with self._lock:
            self._stopped = True
            for conn in self._reading:
                conn.interrupt()

    @contextlib.contextmanager
    def reading(self, conn: Any) -> Iterator[None]:
        """Around the statements of one read on ``conn`` (the store uses it): raises
        :class:`ReadStopped` when stopped before or during them."""
        import sqlite3  # (imported by then: not by the first window, which reads nothing)

        sqlite = isinstance(conn, sqlite3.Connection)
        with self._lock:
            if self._stopped:
                raise ReadStopped("the read was stopped before it started")
            if sqlite:
                self._reading.add(conn)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if self._stopped:  # "interrupted": ours
                raise ReadStopped("the read was stopped") from exc
            raise
        finally:
            if sqlite:
                with self._lock:
                    self._reading.discard(conn)
