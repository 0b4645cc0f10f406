"""Group commit: a COMMIT that fails undoes the whole group — in the file, in memory, in the
events — and every member learns of it; the store's trouble is reported and cleared."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import EventKind, JobStatus, JobTracker, StoreWriteError

from .conftest import Recorder, wait_until


class FailingCommits:
    """The writer's connection, with COMMIT failing (an I/O error) while ``failing``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.failing = False
        self.failed = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.failing:
            self.failed += 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def failing(tracker: JobTracker, monkeypatch: pytest.MonkeyPatch) -> FailingCommits:
    wrapper = FailingCommits(tracker.store.conn)
    monkeypatch.setattr(tracker.store.db, "connection", lambda: wrapper)
    return wrapper


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_a_failed_commit_undoes_everything_of_the_group(
    tracker: JobTracker, recorder: Recorder, failing: FailingCommits, db_path: Path
) -> None:
    running = tracker.create_job("running")
    running.log("kept line")
    pending = tracker.enqueue("pending")
    # the line is announced (not written) by the progress pump's thread within ~5 ms;
    # on a loaded machine later: wait for it, so no event of before comes in the group's
    assert wait_until(lambda: EventKind.LOG.value in recorder.kinds(running.job_id))
    recorder.events.clear()
    statuses: list[StoreWriteError | None] = []
    tracker.subscribe_store_status(statuses.append)

    failing.failing = True
    with (
        pytest.raises(StoreWriteError, match=r"I/O error.*check the disk") as info,
        tracker.batch(),
    ):
        new = tracker.create_job("new")
        tracker.complete_job(running.job_id, result={"x": 1})
        tracker.cancel_job(pending.id)
        started = tracker.start_job(tracker.enqueue("other").id)
    assert str(db_path) in str(info.value)
    assert failing.failed == 1

    # memory is as before the group: nothing of it is visible, nothing was announced
    assert recorder.events == []
    assert tracker.get_job(new.job_id) is None and tracker.context(new.job_id) is None
    assert tracker.context(started.job_id) is None
    job = tracker.get_job(running.job_id)
    assert job is not None and job.status is JobStatus.RUNNING
    assert tracker.context(running.job_id) is running
    assert [j.id for j in tracker.pending_jobs()] == [pending.id]
    assert tracker.store_error is not None and "I/O error" in str(tracker.store_error)
    assert len(statuses) == 1 and statuses[0] is not None

    # the log line taken for the failed commit is written with the next one
    failing.failing = False
    tracker.complete_job(running.job_id, result={"x": 2})
    assert tracker.store_error is None and statuses[-1] is None
    assert [e.message for e in tracker.logs(running.job_id)] == ["kept line"]
    other = sqlite3.connect(db_path)
    rows = dict(other.execute("SELECT id, status FROM jobs").fetchall())
    other.close()
    assert rows == {running.job_id: "completed", pending.id: "pending"}
    assert recorder.kinds() == ["completed"]


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_each_waiting_member_raises_its_own_error(
    tracker: JobTracker, failing: FailingCommits
) -> None:
    """Threads queued on the lock share the failed commit; each raises (a fresh
    exception each, so threads never share a traceback)."""
    contexts = [tracker.create_job("t") for _ in range(6)]
    failing.failing = True
    gate = threading.Barrier(6)
    raised: dict[str, BaseException] = {}

    def finish(job_id: str) -> None:
        gate.wait()
        try:
            tracker.complete_job(job_id)
        except StoreWriteError as exc:
            raised[job_id] = exc

    threads = [threading.Thread(target=finish, args=(c.job_id,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(raised) == sorted(c.job_id for c in contexts)
    assert len({id(e) for e in raised.values()}) == 6
    assert all(tracker.get_job(c.job_id).status is JobStatus.RUNNING for c in contexts)  # type: ignore[union-attr]


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_cancel_is_signalled_to_the_code_only_once_stored(
    tracker: JobTracker, failing: FailingCommits
) -> None:
    ctx = tracker.create_job("t")
    failing.failing = True
    with pytest.raises(StoreWriteError):
        tracker.cancel_job(ctx.job_id)
    assert not ctx.cancelled
    failing.failing = False
    assert tracker.cancel_job(ctx.job_id)
    assert ctx.cancelled


def test_a_failing_change_alone_does_not_spoil_the_group(
    tracker: JobTracker, recorder: Recorder
) -> None:
    """A change SQLite refuses by itself (the transaction lives on) fails alone."""
    a = tracker.create_job("a")
    with tracker.batch():
        tracker.complete_job(a.job_id)
        with pytest.raises(StoreWriteError), tracker._lock, tracker._commits.change() as conn:
            conn.execute("INSERT INTO jobs (id) VALUES (NULL)")  # SQLite refuses it
        b = tracker.create_job("b")
    assert tracker.get_job(a.job_id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
    assert tracker.get_job(b.job_id) is not None
    assert EventKind.COMPLETED in [e.kind for e in recorder.events]
