"""Issue 9 item 1: a failed commit (full disk) reaches every caller whose change it lost, and
the tracker's memory never runs ahead of the store.

The disk is made "full" the usual SQLite way: ``PRAGMA max_page_count`` on the writer's
connection, so the file cannot grow past its current size, exactly as on a full disk
(SQLITE_FULL, which also makes SQLite roll back the whole open transaction).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker, StoreWriteError, UnknownJob
from tests.core.conftest import wait_until


def fill_disk(tracker: JobTracker, spare_pages: int = 0) -> None:
    """Let the file grow by at most ``spare_pages`` pages from now on."""
    with tracker.batch():  # the writer's connection is used under the tracker's lock
        conn = tracker.store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def free_disk(tracker: JobTracker) -> None:
    with tracker.batch():
        tracker.store.conn.execute("PRAGMA max_page_count = 1073741823")


def stored_statuses(db: Path) -> dict[str, str]:
    other = sqlite3.connect(db)
    try:
        return dict(other.execute("SELECT id, status FROM jobs").fetchall())
    finally:
        other.close()


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_every_caller_in_a_failed_group_commit_gets_the_error(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    acknowledged: dict[str, str] = {}  # job id -> the status a returned call promised
    failures: list[str] = []
    reported: list[object] = []  # the tracker's store_error right after each failure
    lock = threading.Lock()
    stop = threading.Event()

    def work(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                ctx = tracker.create_job("fill", title=f"thread {n} job {i} " + "x" * 300)
            except StoreWriteError:
                with lock:
                    failures.append("create")
                    reported.append(tracker.store_error)
                continue
            with lock:
                acknowledged[ctx.job_id] = "running"
            try:
                tracker.complete_job(ctx.job_id, result={"n": n, "i": i, "pad": "y" * 200})
            except StoreWriteError:
                with lock:
                    failures.append("complete")
                    reported.append(tracker.store_error)
                continue
            with lock:
                acknowledged[ctx.job_id] = "completed"

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        # let some jobs through, then fill the disk while the threads keep going
        assert wait_until(lambda: len(acknowledged) >= 200, timeout=60)
        fill_disk(tracker, spare_pages=3)
        assert wait_until(lambda: len(failures) >= 200, timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert len(failures) >= 200, "the full disk was never noticed"
    # what the tracker reported while the disk was full (a small commit can still fit
    # now and then, which rightly clears it: so not only its state at the end)
    errors = [str(e) for e in reported if e is not None]
    assert errors, "the tracker never reported the store's trouble"
    assert all("full" in e and str(db) in e for e in errors), errors[:3]

    # memory agrees with the store: no job the store lost is still tracked
    stored = stored_statuses(db)
    active = {j.id for j in tracker.active_jobs()}
    assert active <= {i for i, s in stored.items() if s == "running"}
    assert [job_id for job_id in acknowledged if job_id not in stored] == []

    free_disk(tracker)
    tracker.create_job("after")  # writes work again once space is back
    assert tracker.store_error is None
    tracker.close()

    with JobTracker.open(db) as reopened:
        for job_id, promised in acknowledged.items():
            job = reopened.get_job(job_id)
            assert job is not None, f"acknowledged job {job_id} was lost"
            if promised == "completed":
                assert job.status is JobStatus.COMPLETED, (job_id, job.status)


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_the_committing_thread_and_the_waiting_threads_all_get_the_error(
    tmp_path: Path,
) -> None:
    """Callers that share one group commit: when it fails, each of them raises, and each
    of their jobs is untouched in memory and in the store."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    jobs = [tracker.create_job("t", title=f"job {i}") for i in range(8)]
    fill_disk(tracker)
    barrier = threading.Barrier(8)
    outcomes: dict[str, str] = {}

    def finish(job_id: str) -> None:
        barrier.wait()
        try:
            tracker.complete_job(job_id, result={"big": "z" * 3000})
            outcomes[job_id] = "returned"
        except StoreWriteError as exc:
            outcomes[job_id] = f"raised: {exc}"

    threads = [threading.Thread(target=finish, args=(c.job_id,)) for c in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stored = stored_statuses(db)
    for ctx in jobs:
        outcome = outcomes[ctx.job_id]
        if outcome == "returned":
            assert stored[ctx.job_id] == "completed"
        else:
            assert "is full" in outcome and str(db) in outcome
            assert stored[ctx.job_id] == "running"
            still = tracker.get_job(ctx.job_id)
            assert still is not None and still.status is JobStatus.RUNNING
            assert tracker.context(ctx.job_id) is ctx
    assert any(o != "returned" for o in outcomes.values())
    tracker.close()


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_an_outcome_is_recorded_by_calling_again_once_space_is_back(tmp_path: Path) -> None:
    """What the runtime does: retry recording the outcome (with its real end time) until
    the store accepts it; the store's trouble is reported to status subscribers."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    statuses: list[str | None] = []
    tracker.subscribe_store_status(lambda e: statuses.append(None if e is None else str(e)))
    ctx = tracker.create_job("t")
    ended = tracker.now()
    fill_disk(tracker)
    with pytest.raises(StoreWriteError, match="full"):
        tracker.complete_job(ctx.job_id, result={"pad": "p" * 5000}, completed_ts=ended)
    assert tracker.get_job(ctx.job_id).status is JobStatus.RUNNING  # type: ignore[union-attr]
    free_disk(tracker)
    done = tracker.complete_job(ctx.job_id, result={"pad": "p" * 5000}, completed_ts=ended)
    assert done.status is JobStatus.COMPLETED and done.completed_ts == ended
    assert len(statuses) == 2 and statuses[0] is not None and "full" in statuses[0]
    assert statuses[1] is None
    tracker.close()
    assert stored_statuses(db)[ctx.job_id] == "completed"


@pytest.mark.expected_log(
    "could not save job changes", "the last progress and log lines were not saved"
)
def test_close_with_a_full_disk_closes_anyway(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    ctx = tracker.create_job("t")
    for i in range(200):
        ctx.log("line " + "l" * 200 + str(i))
    fill_disk(tracker)
    tracker.close()  # logs the loss, does not raise
    assert tracker.closed
    with JobTracker.open(db) as again:  # the lock was released, the job is recovered
        job = again.get_job(ctx.job_id)
        assert job is not None and job.status is JobStatus.FAILED


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_calls_on_a_job_whose_creation_was_rolled_back_fail(tmp_path: Path) -> None:
    """The creation of job B shares a group with job A's; the group fails; later calls on B
    raise UnknownJob instead of "succeeding" as UPDATEs of a missing row."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    fill_disk(tracker)
    made: list[str] = []
    with pytest.raises(StoreWriteError), tracker.batch():
        for i in range(50):
            made.append(tracker.create_job("t", title="w" * 2000 + str(i)).job_id)
    assert made, "at least one creation went into the group before the disk filled"
    free_disk(tracker)
    for job_id in made:
        assert tracker.get_job(job_id) is None
        assert tracker.context(job_id) is None
        with pytest.raises(UnknownJob):
            tracker.complete_job(job_id)
        with pytest.raises(UnknownJob):
            tracker.set_process_info(job_id, pid=123)
    assert stored_statuses(db) == {}
    tracker.close()
