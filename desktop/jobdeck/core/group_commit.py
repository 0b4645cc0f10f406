"""Group commit: many threads' changes share one SQLite commit, and each waits for it.

The tracker's lock is a :class:`GroupCommitLock`. Every change runs inside it and writes
into one open transaction, the *group* (:class:`CommitGroup`), which also collects what the
change did to the tracker's memory (to undo it) and the events announcing it (to send them
once the change is committed). When the outermost holder releases the lock and no other
thread is queued for it, it commits; when threads are queued, it leaves the commit to the
last of them (at most :data:`GroupCommitLock.MAX_GROUP` changes share one) and **waits for
that commit** before its call returns. So when a call returns, its change is committed; if
the commit fails, every caller whose change was in the group gets the error, and the memory
changes of the whole group are undone, so memory never runs ahead of the store.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import JobContext
    from .events import JobEvent, LogEntry
    from .job import Job

__all__ = ["MISSING", "CommitGroup", "GroupCommitLock"]

#: Marks "no entry" in the saved copies of the tracker's dictionaries.
MISSING: Any = object()


class CommitGroup:
    """The changes that share one commit, and how to undo them in memory if it fails."""

    __slots__ = (
        "after_commit",
        "changes",
        "done",
        "error",
        "events",
        "logs",
        "members",
        "saved",
        "wrote",
    )

    def __init__(self) -> None:
        #: Events to send once committed (in order).
        self.events: list[JobEvent] = []
        #: job id -> (active job, context, event seq, flushed seq) before the group began.
        self.saved: dict[str, tuple[Job, JobContext, int, int]] = {}
        #: Log lines written in the group: queued again if it fails.
        self.logs: list[LogEntry] = []
        #: Side effects to run only once the group is committed (e.g. setting a cancel event).
        self.after_commit: list[Callable[[], None]] = []
        #: Threads whose calls changed something in the group.
        self.members: set[int] = set()
        self.changes = 0
        #: True once a transaction is open on the writer connection.
        self.wrote = False
        #: Set once the group is committed or failed; made only when a caller waits.
        self.done: threading.Event | None = None
        self.error: BaseException | None = None

    def waitable(self) -> threading.Event:
        """The event a caller waits on (create it while holding the lock)."""
        if self.done is None:
            self.done = threading.Event()
        return self.done

    def finish(self) -> None:
        """Wake the waiting callers (called holding the lock)."""
        if self.done is not None:
            self.done.set()


class GroupCommitLock:
    """The tracker's re-entrant lock, which also commits changes in groups (see the module).

    ``committer`` is the tracker: the lock calls its ``_commit_group(group)`` (returns the
    error or None) and ``_announce()``, and reads its ``_group``, ``_announcing`` and
    ``_closed``.
    """

    MAX_GROUP = 256

    def __init__(self, committer: Any) -> None:
        self._committer = committer
        self._rlock = threading.RLock()
        self._count_lock = threading.Lock()
        self._waiting = 0
        self._depth = 0
        self._owner: int | None = None
        self._holds = 0
        self._quiet = False

    def held_by_me(self) -> bool:
        """True when the calling thread holds the lock (e.g. inside ``batch()`` or a
        subscriber called by the committing thread)."""
        return self._owner == threading.get_ident()

    def _acquire(self) -> None:
        self._rlock.acquire()
        self._holds += 1
        self._owner = threading.get_ident()

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0:
            self._owner = None
        self._rlock.release()

    def __enter__(self) -> GroupCommitLock:
        with self._count_lock:
            self._waiting += 1
        try:
            self._acquire()
        finally:
            with self._count_lock:
                self._waiting -= 1
        self._depth += 1
        return self

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """Take the lock without counting as a waiter and without waiting for a commit the
        holder leaves to others: the tracker's own pump thread uses this, so no caller is
        left waiting on the pump, and the pump never waits on callers."""
        self._acquire()
        if self._depth == 0:
            self._quiet = True
        self._depth += 1
        try:
            yield
        finally:
            self.__exit__(None, None, None)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._depth -= 1
        if self._depth > 0:
            self._release()
            return
        committer = self._committer
        me = threading.get_ident()
        wait_for: CommitGroup | None = None
        done: threading.Event | None = None
        failed: BaseException | None = None
        try:
            group: CommitGroup | None = committer._group
            if group is not None:
                member = me in group.members
                crowded = (
                    exc_type is None
                    and not committer._announcing
                    and not committer._closed
                    and self._waiting > 0
                    and group.changes < self.MAX_GROUP
                )
                if crowded:
                    if member and not self._quiet:
                        wait_for = group
                        done = group.waitable()
                else:
                    error = committer._commit_group(group)
                    if error is not None and member and exc_type is None:
                        failed = error
            if wait_for is None and not committer._announcing:
                committer._announce()
        finally:
            self._quiet = False
            self._release()
        if wait_for is not None and done is not None:
            done.wait()
            failed = wait_for.error
        if failed is not None:
            raise committer._error_for_caller(failed)
