"""The WAL's checkpoints on a thread of their own (core/wal_checkpoint.py)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.wal_checkpoint import NUDGE_COMMITS, WRITER_CHECKPOINT_PAGES


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jobdeck-checkpoint"]


def test_commits_reach_the_database_file_without_the_writer_checkpointing(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Far fewer pages than the writer's own checkpoint waits for: the jobs are copied into
    the database file anyway (by the checkpointing thread), so the file alone has them."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    try:
        writer = tracker.store.conn
        assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WRITER_CHECKPOINT_PAGES
        checkpoints = tracker.store._checkpoints
        assert checkpoints is not None
        ids: list[str] = []
        before_nudge: list[str] = []  # the jobs committed when the first nudge came
        nudge = checkpoints.nudge

        def nudge_noted() -> None:
            if not before_nudge:
                before_nudge.extend(ids)
            nudge()

        checkpoints.nudge = nudge_noted  # type: ignore[method-assign]
        for i in range(2 * NUDGE_COMMITS):
            ids.append(tracker.enqueue("t", title=f"job {i}").id)
        _wait_until(lambda: checkpoints.done >= 1)
        copy = tmp_path / "copy.db"  # the database file alone, without its WAL
        shutil.copy(db, copy)
        with sqlite3.connect(copy) as conn:
            stored = {row[0] for row in conn.execute("SELECT id FROM jobs")}
        # (the store's opening commits count too: the nudge comes a job or so early)
        assert len(before_nudge) >= NUDGE_COMMITS - 2
        assert set(before_nudge) <= stored
    finally:
        tracker.close()


def test_closing_the_store_ends_the_thread_and_leaves_no_wal(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, clock=clock)
    for i in range(NUDGE_COMMITS + 1):
        tracker.enqueue("t", title=f"job {i}")
    checkpoints = tracker.store._checkpoints
    assert checkpoints is not None
    _wait_until(lambda: checkpoints.done >= 1)
    tracker.close()
    assert _checkpoint_threads() == []
    assert not (tmp_path / "jobs.db-wal").exists()  # the last connection closed cleanly
    reopened = JobTracker.open(db, clock=clock)
    try:
        assert reopened.count_jobs(status=JobStatus.PENDING) == NUDGE_COMMITS + 1
    finally:
        reopened.close()


def test_a_read_only_store_starts_no_thread(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "jobs.db"
    JobTracker.open(db, clock=clock).close()
    reader = JobTracker.open(db, clock=clock, read_only=True)
    try:
        assert reader.store._checkpoints is None
    finally:
        reader.close()
