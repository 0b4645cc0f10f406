"""Retention's clean-up: deleting the finished jobs that aged past the retention period, in
small batches, with their log files, and giving the space back.

The tracker works out at open *which* jobs have expired (a cutoff: see
:func:`.recovery.retention_cutoff`); :class:`ExpiredJobsCleanup` deletes them, either at
open or later on a thread of its own (:meth:`JobTracker.start_cleanup
<jobdeck.core.tracker.JobTracker.start_cleanup>`: the app starts it once its window shows).

- **Batches.** Each batch is one short change under the tracker's lock: at most
  :data:`BATCH_JOBS` jobs, chosen by :meth:`Store.expired_batch
  <jobdeck.core.store.Store.expired_batch>` and deleted by
  :meth:`ExpiredJobsCleanup.delete_batch` (the one place that deletes; a statistics roll-up
  is fed there first, through ``before_delete``). Between batches the lock is free, so live
  jobs keep being recorded. A crash loses nothing else: the batch in flight is rolled back
  and the next start deletes it again; finished batches stay deleted.
- **Log files** of the deleted jobs go once their batch is committed: the file a row names
  (``<db>.d/logs/<job id>.log``), and parts ``<file>.*`` left by earlier versions, found in
  one listing of each folder (:class:`LogFileDeleter`), never a glob per job. Only files
  named after their job are deleted, so a damaged or crafted row cannot delete anything
  else.
- **Space.** New stores use ``auto_vacuum=INCREMENTAL``: the pages a batch frees go back to
  the file system a few hundred at a time (``PRAGMA incremental_vacuum``), each step a
  short change. A store made by an earlier version (``auto_vacuum=NONE``) is converted with
  one ``VACUUM`` after a clean-up when what it still holds is small
  (:data:`CONVERT_MAX_LIVE_BYTES`, a fraction of a second); a larger one keeps its free
  pages for new jobs (a VACUUM would hold the writer for seconds). At the end the WAL is
  checkpointed and truncated, so it does not stay large.

No Qt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .group_commit import Committer

log = logging.getLogger(__name__)

__all__ = [
    "BATCH_JOBS",
    "BeforeDelete",
    "CleanupResult",
    "CleanupThread",
    "ExpiredJobsCleanup",
    "LogFileDeleter",
]

#: Jobs deleted per batch (one short transaction: a few tens of milliseconds).
BATCH_JOBS = 500
#: Free pages given back to the file system per step (``PRAGMA incremental_vacuum``).
VACUUM_PAGES_PER_STEP = 256
#: A pause between batches, so that the GUI thread and the recording of live jobs get their
#: turns even on a busy machine.
PAUSE_S = 0.005
#: A store without incremental auto-vacuum is converted (one VACUUM) when what it still
#: holds after a clean-up is at most this big.
CONVERT_MAX_LIVE_BYTES = 32 * 1024 * 1024
#: How long the final checkpoint waits for readers before leaving the WAL as it is.
CHECKPOINT_WAIT_MS = 200
_INCREMENTAL = 2

#: ``before_delete(conn, job_ids)``: called in the batch's transaction before the jobs are
#: deleted (e.g. to roll them up into statistics); raising rolls the batch back.
BeforeDelete = Callable[[sqlite3.Connection, list[str]], None]


@dataclass
class CleanupResult:
    """What a clean-up did: jobs and log files deleted, pages given back, and whether it was
    stopped before it was done (the tracker closed)."""

    cutoff: float
    jobs: int = 0
    batches: int = 0
    log_files: int = 0
    pages_freed: int = 0
    stopped: bool = False


class LogFileDeleter:
    """Deletes the log files of deleted jobs: the file each row names, and the parts
    ``<file>.*`` that earlier versions' rotation left beside it.

    Each folder is listed once (the first time a file in it is deleted) and only the names
    that could be such parts (not ``*.log``) are kept, so deleting many files costs one
    ``unlink`` each, not a folder scan each."""

    def __init__(self) -> None:
        self._parts: dict[Path, dict[str, list[str]]] = {}

    def delete(self, files: Iterable[tuple[str, str | None]]) -> int:
        """Delete the files of ``(job id, log path)`` pairs; how many files were deleted."""
        deleted = 0
        for job_id, path in files:
            if not path:
                continue
            target = Path(path)
            if not target.name.startswith(job_id):
                log.warning("not deleting %s: it is not named after job %s", target, job_id)
                continue
            names = [target.name, *self._parts_of(target.parent).get(target.name, ())]
            for name in names:
                candidate = target.parent / name
                try:
                    os.unlink(candidate)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning("could not delete the log file %s: %s", candidate, exc)
                    continue
                deleted += 1
        return deleted

    def _parts_of(self, folder: Path) -> dict[str, list[str]]:
        """``{file name: [its parts]}`` for the parts in ``folder`` (listed once)."""
        found = self._parts.get(folder)
        if found is not None:
            return found
        found = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    name = entry.name
                    if name.endswith(".log") or "." not in name:
                        continue
                    with contextlib.suppress(OSError):
                        if not entry.is_file(follow_symlinks=False):
                            continue
                    dot = name.find(".")
                    while dot > 0:  # "a.log.1" is a part of "a" and of "a.log"
                        found.setdefault(name[:dot], []).append(name)
                        dot = name.find(".", dot + 1)
        except OSError:
            pass  # no such folder (a row from another machine): nothing to find there
        self._parts[folder] = found
        return found


class ExpiredJobsCleanup:
    """Deletes the jobs that finished before ``cutoff`` (and that no unfinished job depends
    on) from the store behind ``commits``, in batches of ``batch_jobs`` (default
    :data:`BATCH_JOBS`) with a pause of ``pause_s`` (default :data:`PAUSE_S`) between them;
    see the module.

    Every batch takes the tracker's lock (``commits.lock``) for one short change, so this
    may run on any thread beside the tracker's other users. ``stop`` (an Event) ends it
    between batches.
    """

    def __init__(
        self,
        commits: Committer,
        cutoff: float,
        *,
        batch_jobs: int | None = None,
        before_delete: BeforeDelete | None = None,
        pause_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        batch_jobs = BATCH_JOBS if batch_jobs is None else batch_jobs
        if batch_jobs < 1:
            raise ValueError(f"batch_jobs must be positive, got {batch_jobs!r}")
        self._commits = commits
        self._store = commits.store
        self.cutoff = cutoff
        self.batch_jobs = batch_jobs
        self.before_delete = before_delete
        self.pause_s = PAUSE_S if pause_s is None else pause_s
        self.stop = stop or threading.Event()
        self._log_files = LogFileDeleter()

    def run(self) -> CleanupResult:
        """Delete every expired job, batch by batch, then give the space back. Raises
        :class:`~jobdeck.core.store_errors.StoreWriteError` when the store refuses a batch
        (what was deleted before stays deleted)."""
        result = CleanupResult(self.cutoff)
        started = time.monotonic()
        file_store = not self._store.shared  # a board's server manages its own space
        with self._commits.lock:
            incremental = file_store and self._store.pragma_int("auto_vacuum") == _INCREMENTAL
        while not self._stopping():
            files = self.delete_batch()
            if files is None:
                break
            result.batches += 1
            result.jobs += len(files)
            result.log_files += self._log_files.delete(files)
            if incremental:
                result.pages_freed += self._give_back_free_pages()
            if self.pause_s:
                time.sleep(self.pause_s)
        result.stopped = self._stopping()
        if result.jobs and not result.stopped and file_store:
            if not incremental:
                result.pages_freed += self._convert_if_small()
            self._truncate_wal()
        if result.jobs:
            log.info(
                "deleted %d finished jobs that ended before %s (%d log files, %d pages given "
                "back) in %.1f s%s",
                result.jobs,
                time.strftime("%Y-%m-%d %H:%M", time.localtime(self.cutoff)),
                result.log_files,
                result.pages_freed,
                time.monotonic() - started,
                ", stopped early" if result.stopped else "",
            )
        return result

    def delete_batch(self) -> list[tuple[str, str | None]] | None:
        """Delete the next batch of expired jobs in one change; their (id, log path), or
        None when none is left. Raises StoreWriteError when the store refuses it."""
        with self._commits.lock, self._commits.change(statements=2) as conn:
            batch = self._store.expired_batch(conn, self.cutoff, self.batch_jobs)
            if not batch:
                return None
            ids = [job_id for job_id, _ in batch]
            if self.before_delete is not None:
                self.before_delete(conn, ids)
            self._store.delete_jobs(conn, ids)
        return batch

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._commits.closed

    def _give_back_free_pages(self) -> int:
        """Give the free pages back to the file system, a step at a time."""
        freed = 0
        while not self._stopping():
            with self._commits.lock:
                free = self._store.pragma_int("freelist_count")
                if not free:
                    break
                step = min(free, VACUUM_PAGES_PER_STEP)
                with self._commits.change(statements=2) as conn:
                    for _ in range(step):  # each step of the statement frees one page
                        conn.execute("PRAGMA incremental_vacuum(1)")
                freed += step
        return freed

    def _without_transaction(self, action: Callable[[sqlite3.Connection], int]) -> int | None:
        """Run ``action`` on the writer holding the lock when no change is pending (VACUUM
        and checkpoints need that); None when one was."""
        with self._commits.lock:
            if self._store.in_transaction or self._commits.closed:
                return None
            return action(self._store.conn)

    def _convert_if_small(self) -> int:
        """Turn on incremental auto-vacuum with one VACUUM when the store is small enough;
        the pages that gave back."""

        def convert(conn: sqlite3.Connection) -> int:
            pages = self._store.pragma_int("page_count", conn)
            free = self._store.pragma_int("freelist_count", conn)
            size = self._store.pragma_int("page_size", conn)
            if (pages - free) * size > CONVERT_MAX_LIVE_BYTES:
                log.info(
                    "%s keeps %d free pages for new jobs (too big to compact now)",
                    self._store.path,
                    free,
                )
                return 0
            conn.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
            conn.execute("VACUUM")
            return max(0, pages - self._store.pragma_int("page_count", conn))

        try:
            return self._without_transaction(convert) or 0
        except sqlite3.Error as exc:  # e.g. no room for the copy VACUUM makes
            log.warning("could not compact %s: %s", self._store.path, exc)
            return 0

    def _truncate_wal(self) -> None:
        """Checkpoint and truncate the WAL, waiting briefly for readers (else leave it)."""

        def checkpoint(conn: sqlite3.Connection) -> int:
            conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                conn.execute("PRAGMA busy_timeout = 10000")
            return int(busy)

        try:
            self._without_transaction(checkpoint)
        except sqlite3.Error as exc:
            log.info("the WAL of %s stays as it is for now: %s", self._store.path, exc)


class CleanupThread:
    """Runs an :class:`ExpiredJobsCleanup` on a daemon thread of its own, then calls
    ``on_done(result)`` on that thread (also when the store refused a batch: the result
    then says how far it got, and the error is logged)."""

    def __init__(
        self, cleanup: ExpiredJobsCleanup, on_done: Callable[[CleanupResult], None]
    ) -> None:
        self.cleanup = cleanup
        self._on_done = on_done
        self._thread = threading.Thread(target=self._run, name="jobdeck-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask it to stop between two batches and wait for it (a batch is short)."""
        self.cleanup.stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self.cleanup.run()
        except Exception as exc:  # the store refused a batch (a full disk): next start again
            log.warning("retention stopped: %s; the next start carries on", exc)
            result = CleanupResult(self.cleanup.cutoff, stopped=True)
        try:
            self._on_done(result)
        except Exception:
            log.exception("the clean-up's on_done callback failed")
