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

:class:`Committer` does the work: it opens the group's transaction in the store, commits or
rolls it back, keeps the store's trouble (a failed commit) for the status subscribers, and
hands the committed events to the event subscribers — in commit order, one thread at a
time, after the lock is released (a subscriber never runs holding the tracker's lock).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator

from .events import EventKind, JobEvent, LogEntry
from .job import Job
from .job_memory import JobMemory, Saved
from .store import Store
from .store_errors import StoreWriteError, describe_sqlite_error, is_storage_trouble

log = logging.getLogger(__name__)

__all__ = ["CommitGroup", "Committer", "GroupCommitLock", "StoreStatusCallback", "Subscriber"]

Subscriber = Callable[[JobEvent], None]
#: ``callback(error)``: the store's trouble (a StoreWriteError), or None once it is over.
StoreStatusCallback = Callable[[StoreWriteError | None], None]


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
        #: job id -> its entries in the tracker's memory before the group changed them.
        self.saved: dict[str, Saved] = {}
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

    The lock asks ``committer`` (a :class:`Committer`) to commit a group, and to announce
    its events once the lock is released.
    """

    MAX_GROUP = 256

    def __init__(self, committer: Committer) -> None:
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
            group: CommitGroup | None = committer.group
            if group is not None:
                member = me in group.members
                crowded = (
                    exc_type is None
                    and committer.announcer != me
                    and not committer.closed
                    and self._waiting > 0
                    and group.changes < self.MAX_GROUP
                )
                if crowded:
                    if member and not self._quiet:
                        wait_for = group
                        done = group.waitable()
                else:
                    error = committer.commit(group)
                    if error is not None and member and exc_type is None:
                        failed = error
        finally:
            self._quiet = False
            self._release()
        if wait_for is None:
            committer.announce()
        if wait_for is not None and done is not None:
            done.wait()
            failed = wait_for.error
        if failed is not None:
            raise committer.error_for_caller(failed)


class Committer:
    """Writes the tracker's changes to ``store`` in commit groups and announces them.

    ``memory`` is the tracker's memory of unfinished jobs, undone with a failed group;
    ``requeue_logs(lines)`` puts the log lines of a failed group back in the queue of lines
    to write. The tracker's lock is :attr:`lock`; every method except :meth:`announce` and
    the subscribing ones is called holding it.
    """

    def __init__(
        self,
        store: Store,
        memory: JobMemory,
        requeue_logs: Callable[[list[LogEntry]], None],
    ) -> None:
        self.store = store
        self.memory = memory
        self._requeue_logs = requeue_logs
        self.lock = GroupCommitLock(self)
        #: The open group (changes not yet committed), if any.
        self.group: CommitGroup | None = None
        #: Bumped after every successful commit (readers use it to merge unstored lines).
        self.commits = 0
        #: Set when the tracker closes: nothing is left to other threads to commit then.
        self.closed = False
        #: The thread handing events to subscribers now, if any.
        self.announcer: int | None = None
        self.subscribers: tuple[Subscriber, ...] = ()
        self.status_subscribers: tuple[StoreStatusCallback, ...] = ()
        self.store_error: StoreWriteError | None = None
        self._unannounced: collections.deque[JobEvent] = collections.deque()
        self._announcing = threading.Lock()

    # -- the group (holding the lock) -----------------------------------------------------------

    def open_group(self) -> CommitGroup:
        group = self.group
        if group is None:
            group = self.group = CommitGroup()
        return group

    def emit(self, kind: EventKind, job: Job, entry: LogEntry | None = None) -> None:
        """Queue an event; it is sent once the change behind it is committed."""
        self.open_group().events.append(JobEvent(kind, job, entry))

    def remember(self, job_id: str) -> None:
        """Save a job's entries in memory before the group first changes them (for undo)."""
        group = self.open_group()
        if job_id not in group.saved:
            group.saved[job_id] = self.memory.save(job_id)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the open group is committed (never if it fails)."""
        self.open_group().after_commit.append(action)

    @contextlib.contextmanager
    def change(self, *, statements: int = 1) -> Iterator[sqlite3.Connection]:
        """One caller's change inside the open group. A failing change is undone alone: a
        single statement by SQLite itself, several (``statements`` > 1, or an executemany)
        through a savepoint. Storage trouble (a full disk) fails the whole group and every
        member gets the error, as when SQLite drops the whole transaction itself. The body
        writes SQL first and changes memory (via :meth:`remember`-guarded updates) after."""
        group = self.open_group()
        store = self.store
        savepoint = statements > 1 or not store.statement_undo_alone
        try:
            if not group.wrote:
                store.begin()
                group.wrote = True
            if savepoint:
                store.mark("change")
        except sqlite3.Error as exc:
            self.fail(group, exc)
            raise self.error_for_caller(exc) from exc
        try:
            yield store.conn
        except BaseException as exc:
            # Storage trouble (a full disk) fails the whole group, whether SQLite dropped
            # the transaction (a lone statement: no statement journal) or undid the
            # statement alone (one with triggers): the group's other changes, committed
            # without this one, would announce a store that "accepts changes again".
            trouble = isinstance(exc, sqlite3.Error) and is_storage_trouble(exc)
            if store.in_transaction and not trouble:
                if savepoint:
                    store.undo("change")
                if isinstance(exc, sqlite3.Error):
                    raise self.error_for_caller(exc) from exc
                raise
            self.fail(group, exc)
            raise self.error_for_caller(exc) from exc
        if savepoint:
            store.keep("change")
        group.changes += 1
        group.members.add(threading.get_ident())

    def error_for_caller(self, error: BaseException) -> StoreWriteError:
        """A fresh exception for one caller (several threads may raise the same failure)."""
        if isinstance(error, StoreWriteError):
            fresh = StoreWriteError(str(error))
        else:
            fresh = StoreWriteError(
                describe_sqlite_error(self.store.location, error, "save job changes to")
            )
        fresh.__cause__ = error
        return fresh

    def commit(self, group: CommitGroup) -> BaseException | None:
        """Commit ``group`` (called by the lock); on failure undo it and return the error."""
        self.group = None
        if group.wrote:
            try:
                self.store.commit()
            except sqlite3.Error as exc:
                self.fail(group, exc, detached=True)
                return exc
            self.commits += 1
            if self.store_error is not None:
                self.set_store_error(None)
        self._unannounced.extend(group.events)
        for hook in group.after_commit:
            try:
                hook()
            except Exception:
                log.exception("an after-commit action failed")
        group.finish()
        return None

    def fail(self, group: CommitGroup, error: BaseException, *, detached: bool = False) -> None:
        """Roll back ``group`` in the store and in memory; wake its waiting members."""
        if not detached and self.group is group:
            self.group = None
        self.store.rollback()
        for job_id, saved in group.saved.items():
            self.memory.restore(job_id, saved)
        if group.logs:
            self._requeue_logs(group.logs)
        group.error = error
        described = self.error_for_caller(error)
        news = self.set_store_error(described)
        (log.error if news else log.debug)("%s (%d changes rolled back)", described, group.changes)
        group.finish()

    def set_store_error(self, error: StoreWriteError | None) -> bool:
        """Record the store's trouble (None: over); tell the status subscribers when that
        is news. Returns whether it was."""
        before = self.store_error
        self.store_error = error
        if str(before) == str(error):  # "None" == "None", or the same trouble again
            return False
        if error is None:
            log.warning("%s accepts changes again", self.store.location)
        for callback in self.status_subscribers:
            try:
                callback(error)
            except Exception:
                log.exception("store status subscriber %r failed", callback)
        return True

    # -- announcing (not holding the lock) --------------------------------------------------------

    def announce(self) -> None:
        """Hand the committed events to the subscribers, in order. One thread does it at a
        time; a thread that finds another doing it leaves its events to that one, which
        looks again before it stops (so no event is left behind)."""
        while self._unannounced:
            if not self._announcing.acquire(blocking=False):
                return  # another thread announces (or this one, from inside a subscriber)
            self.announcer = threading.get_ident()
            try:
                while self._unannounced:
                    event = self._unannounced.popleft()
                    for callback in self.subscribers:
                        try:
                            callback(event)
                        except Exception:
                            log.exception(
                                "job event subscriber %r failed on %s %s",
                                callback,
                                event.kind,
                                event.job.id,
                            )
            finally:
                self.announcer = None
                self._announcing.release()
