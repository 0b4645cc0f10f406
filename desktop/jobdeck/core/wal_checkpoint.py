"""Checkpoints of a store's WAL on a thread of its own: :class:`WalCheckpointer`.

In WAL mode every commit appends the pages it changed to the ``-wal`` file; a *checkpoint*
copies them back into the database file, and with ``synchronous=NORMAL`` it syncs both
files to the disk. Left to SQLite, the committing connection checkpoints each time the
WAL reaches 1000 pages: for a store taking a job every millisecond that is one commit in
about 70 (a command job's queueing, start and end write about 30 pages) stalled 20 ms or
more by the disk syncs, on the thread that committed: the GUI thread when it queues or
starts a job, with the tracker's lock held, so every other writer waits too.

A :class:`WalCheckpointer` does the checkpoints on a daemon thread with a connection of
its own, which SQLite allows beside the writer (a ``PASSIVE`` checkpoint takes no write
lock: commits go on while it copies and syncs). The store nudges it every
:data:`NUDGE_COMMITS` commits; the thread starts at the first nudge (a store that is only
read never starts it). The writer keeps SQLite's own checkpoint as a backstop, at
:data:`WRITER_CHECKPOINT_PAGES`: while commits come faster than a checkpoint ends, the WAL
is never wholly copied back and so never starts over; the writer's checkpoint then finds
little left to copy or sync. Nothing stored changes, nor when it is safe: a commit is
in the WAL when it returns, as before. A failed checkpoint (a full disk) is logged and
tried again at the next nudge; the writer's own checkpoint still runs. No Qt.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from .kept_threads import start_thread

__all__ = ["NUDGE_COMMITS", "WRITER_CHECKPOINT_PAGES", "WalCheckpointer"]

log = logging.getLogger(__name__)

#: Commits between two nudges of the checkpointing thread (a few hundred pages).
NUDGE_COMMITS = 32
#: The WAL size (pages) at which the writer checkpoints itself (SQLite's default: 1000).
WRITER_CHECKPOINT_PAGES = 4000
#: How long closing the store waits for a checkpoint under way (seconds).
_STOP_WAIT = 10.0


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` on a daemon thread named
    ``jobdeck-checkpoint``, once per :meth:`nudge` (nudges while one runs make one more).
    :meth:`stop` ends the thread (before the store closes its writer). Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Checkpoints done (for tests and benchmarks).
        self.done = 0
        self._due = threading.Event()
        self._stopped = False
        self._started = False
        self._ended = threading.Event()
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """Ask for a checkpoint soon (starts the thread the first time)."""
        with self._lock:
            if self._stopped:
                return
            if not self._started:
                self._started = True
                start_thread(self._run, "jobdeck-checkpoint", failed=self._ended.set)
        self._due.set()

    def stop(self) -> None:
        """End the thread after the checkpoint under way, if any (waits for it)."""
        with self._lock:
            self._stopped = True
            started = self._started
        self._due.set()
        if started and not self._ended.wait(_STOP_WAIT):
            log.warning("the WAL checkpoint of %s did not end in time", self.path)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._stopped:
                    return
                if conn is None:
                    conn = sqlite3.connect(
                        f"file:{quote(str(self.path))}?mode=rw",
                        uri=True,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                    conn.execute("PRAGMA wal_autocheckpoint = 0")
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.done += 1
                except sqlite3.Error as exc:
                    log.info("could not checkpoint the WAL of %s now: %s", self.path, exc)
        except sqlite3.Error as exc:
            log.warning("could not open %s to checkpoint its WAL: %s", self.path, exc)
        except Exception:
            log.exception("the WAL checkpoints of %s stopped", self.path)
        finally:
            if conn is not None:
                conn.close()
            self._ended.set()
