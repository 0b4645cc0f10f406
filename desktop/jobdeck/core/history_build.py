"""Builds what schema migration 6 left for after open: the sort indexes and the text index
of the jobs a store already had (:mod:`.history_schema`).

A small store (or one in memory) is built at once, while it opens. A big one is built by
:class:`HistoryBuild` on a thread of its own, with a connection of its own, in short
transactions (one index, or :data:`BATCH_ROWS` rows of the text index, each), so the
window appears at once and the tracker's writes wait at most one step; meanwhile sorting
works without the index (slower) and a search scans. No Qt.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

from .history_schema import build_step

__all__ = ["BATCH_ROWS", "INLINE_ROWS", "HistoryBuild"]

log = logging.getLogger(__name__)

#: Rows of the text index each step adds.
BATCH_ROWS = 2000
#: A store with at most this many rows to index is built while it opens.
INLINE_ROWS = 20_000
_PAUSE = 0.005  # seconds between steps: the tracker's writes get their turn
_BUSY_RETRY = 0.2


def _left_to_index(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT below FROM history_pending").fetchone()
    return 0 if row is None else max(0, int(row[0]) - 1)


class HistoryBuild:
    """The build of one store (see the module). :meth:`build_if_small` builds a small store
    at once; :meth:`start` starts the build of a big one on its thread (the tracker does,
    once it has opened and recovered: the build's first index holds the write lock for a
    few seconds); :meth:`stop` ends it (the store closes); ``done`` is set when everything
    is built."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-build", daemon=True)

    @staticmethod
    def build_if_small(conn: sqlite3.Connection, in_memory: bool) -> bool:
        """Build on ``conn`` (the store's writer, no transaction open) when the work is
        small or the store is in memory. Returns whether everything is built."""
        if not in_memory and _left_to_index(conn) > INLINE_ROWS:
            return False
        while not build_step(conn, INLINE_ROWS):
            pass
        return True

    @classmethod
    def start(cls, path: Path) -> HistoryBuild:
        """Build the store at ``path`` on a thread of its own, from now on."""
        build = cls(path)
        build._thread.start()
        return build

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the step under way (what is built stays built)."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(
                f"file:{quote(str(self.path))}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=10,
            )
        except sqlite3.Error as exc:
            log.warning("could not open %s to build its history index: %s", self.path, exc)
            return
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    if build_step(conn, BATCH_ROWS):
                        self.done.set()
                        log.info(
                            "built the history indexes of %s in %.1f s",
                            self.path,
                            time.monotonic() - started,
                        )
                        return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    self._stop.wait(_BUSY_RETRY)
                    continue
                self._stop.wait(_PAUSE)
        except sqlite3.Error as exc:
            log.warning(
                "could not build the history indexes of %s (searches scan instead): %s",
                self.path,
                exc,
            )
        finally:
            conn.close()
