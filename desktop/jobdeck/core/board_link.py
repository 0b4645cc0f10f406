"""The link between one tracker and its shared board: live changes, the lease, orphans.

:class:`BoardLink` runs one daemon thread with a PostgreSQL connection of its own. It
``LISTEN``s on the board's channel (a trigger announces every change of a job row, with the
name of the instance that made it: :mod:`.pg_schema`), collects the ids other instances
changed and hands them to the tracker in batches at most ``coalesce`` seconds apart
(:meth:`~jobdeck.core.tracker_board.TrackerBoard.apply_board_changes`), as local events are
coalesced. Every third of the lease it renews this instance's lease and looks for running
jobs whose instance's lease has expired, which the tracker then takes over
(:meth:`~jobdeck.core.tracker_board.TrackerBoard.take_over_orphans`), but only once it has
been connected for a whole lease: after an outage of the board (a server restart), every
instance's lease may have run out, and the others need that long to come back and renew.

When the connection is lost (the server restarts) the thread connects again, with a growing
pause, and then reads every pending and running job afresh, so nothing announced while it
was away is missed. Meanwhile the tracker's store trouble says the board cannot be reached
(:meth:`~jobdeck.core.tracker_board.TrackerBoard.board_reachable`: the app's banner and
tray tooltip show it, naming the host, never the password), until it can again. No Qt;
the tracker's subscribers are called from this thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import psycopg

from .pg_connection import PgConnection
from .pg_schema import NOTIFY_CHANNEL
from .store_errors import StoreError

if TYPE_CHECKING:
    from .pg_store import PgStore
    from .tracker import JobTracker

log = logging.getLogger(__name__)

__all__ = ["BoardLink"]

_IDLE_WAIT = 0.2
_MAX_PAUSE = 5.0


class BoardLink:
    """Keeps ``tracker`` in step with its board (see the module). :meth:`start` once,
    :meth:`stop` before the store closes."""

    def __init__(self, tracker: JobTracker, store: PgStore, *, coalesce: float) -> None:
        self._tracker = tracker
        self._store = store
        self.coalesce = coalesce
        self.renew_every = store.lease / 3
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set while the board cannot be reached (for the app to show); None when fine.
        self.problem: str | None = None
        #: The last time (monotonic) ids were handed to the tracker (tests, benchmarks).
        self.batches = 0
        #: How many times this link renewed the lease (tests).
        self.renewals = 0

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"jobdeck-board-{self._store.instance}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def restart(self) -> None:
        """Start again after :meth:`stop` (tests: a link that comes back late)."""
        self.stop()
        self._stop.clear()
        self.start()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        pause = 0.2
        while not self._stop.is_set():
            try:
                conn = self._store._raw_connect()
            except StoreError as exc:
                self._trouble(str(exc), _said(exc))
                self._stop.wait(pause)
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            pause = 0.2
            try:
                with conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if self.problem is not None:
                        log.warning("%s can be reached again", self._store.location)
                        self.problem = None
                        self._tracker.board_reachable(None)
                    self._serve(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                detail = " ".join(str(exc).split())
                self._trouble(
                    f"lost the connection to {self._store.location} ({detail}); connecting again",
                    detail,
                )
                self._stop.wait(pause)

    def _trouble(self, problem: str, detail: str) -> None:
        if problem != self.problem:
            log.warning("%s", problem)
            self._tracker.board_reachable(self._unreachable(detail))
        self.problem = problem

    def _unreachable(self, detail: str) -> str:
        """What the app shows while the board cannot be reached: the board and its host,
        never the password."""
        url = self._store.url
        password = _password_of(self._store)
        if password:
            detail = detail.replace(password, "***")
        port = f", port {url.port}" if url.port else ""
        return (
            f"cannot reach the board {url.database!r} on PostgreSQL at {url.host}{port}: "
            f"{detail}; it connects again by itself, and changes wait until then"
        )

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        """Listen, hand over changes, renew the lease, until stopped or disconnected."""
        me = self._store.instance
        # Anything may have changed while this link was away (or before it started).
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM jobs WHERE status IN ('pending', 'running')")
            dirty: set[str] = {r[0] for r in cur.fetchall()}
        dirty |= self._tracker.board_job_ids()
        first_dirty = time.monotonic() if dirty else None
        next_renew = 0.0
        # While this link was away, the other instances may have been cut off from the board
        # as well (it restarted): their leases ran out with no fault of theirs. Take none of
        # their jobs over before they had a whole lease to come back and renew.
        sweep_from = time.monotonic() + self._store.lease
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_renew:
                self._renew_and_sweep(conn, sweep=now >= sweep_from)
                next_renew = now + self.renew_every
            if first_dirty is not None:
                wait = max(0.0, first_dirty + self.coalesce - now)
                stop_after = None
            else:
                wait, stop_after = _IDLE_WAIT, 1
                # No read waiting: this instance's own changes so far matter to none.
                self._tracker.forget_own_changes()
            if wait > 0:
                for note in conn.notifies(timeout=wait, stop_after=stop_after):
                    job_id, _, author = note.payload.partition(" ")
                    if author != me and job_id:
                        dirty.add(job_id)
                        if first_dirty is None:
                            first_dirty = time.monotonic()
            if first_dirty is not None and time.monotonic() >= first_dirty + self.coalesce:
                batch, dirty, first_dirty = sorted(dirty), set(), None
                if batch:
                    self._hand_over(batch)

    def _hand_over(self, batch: list[str]) -> None:
        try:
            self._tracker.apply_board_changes(batch)
            self.batches += 1
        except StoreError as exc:
            log.warning("could not read board changes (%s); they are read again later", exc)
            raise psycopg.OperationalError(str(exc)) from exc

    def _renew_and_sweep(self, raw: psycopg.Connection[Any], *, sweep: bool) -> None:
        store = self._store
        conn = cast(sqlite3.Connection, PgConnection(raw, store.url.where))
        try:
            if not store.renew_lease(conn):
                log.warning("%s: this instance's lease had expired; renewed", store.location)
            self.renewals += 1
            orphans = store.orphaned_jobs(conn) if sweep else []
        except sqlite3.Error as exc:
            raise psycopg.OperationalError(str(exc)) from exc
        if orphans:
            try:
                self._tracker.take_over_orphans(orphans)
            except StoreError as exc:
                log.warning("could not take over jobs of a lost instance: %s", exc)


def _said(exc: StoreError) -> str:
    """The server's (or driver's) words in a connect failure's message."""
    text = str(exc)
    _, found, said = text.partition(" said: ")
    return said.split("; check that")[0] if found else text


def _password_of(store: PgStore) -> str | None:
    from .pg_store import _password

    return _password(store.url.conninfo)
