"""Issue 9 item 2: when a transition call returns, its change is committed; readers never
delay a commit (they read on connections of their own)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker


def test_a_reader_stuck_in_its_query_does_not_hold_up_transitions(tmp_path: Path) -> None:
    """A history query that takes long (here: held in the middle of its SQL until the test
    lets it go) runs beside transitions; each returns committed meanwhile."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db)
    for i in range(20):
        tracker.create_job("t", title=f"job {i}")
    in_query = threading.Event()
    release = threading.Event()
    store = tracker.store
    original = store.select_jobs

    def slow_select(*args: Any, **kwargs: Any) -> Any:
        conn: sqlite3.Connection | None = kwargs.get("conn")
        if conn is not None:
            conn.create_function("wait_for_test", 0, lambda: release.wait(60) and 1)
            in_query.set()
            conn.execute("SELECT wait_for_test() FROM jobs LIMIT 1").fetchall()
        else:  # reading on the writer's own connection holds the writer up
            in_query.set()
            release.wait(60)
        return original(*args, **kwargs)

    store.select_jobs = slow_select  # type: ignore[method-assign]
    listed: list[int] = []
    reader = threading.Thread(target=lambda: listed.append(len(tracker.list_jobs())))
    reader.start()
    assert in_query.wait(30)

    other = sqlite3.connect(db, check_same_thread=False)
    finished: list[str] = []

    def writer() -> None:
        for ctx in [tracker.create_job("w") for _ in range(5)]:
            tracker.complete_job(ctx.job_id)
            row = other.execute("SELECT status FROM jobs WHERE id = ?", (ctx.job_id,)).fetchone()
            finished.append(row[0] if row else "missing")

    w = threading.Thread(target=writer)
    w.start()
    w.join(timeout=30)
    still_reading = reader.is_alive()
    release.set()
    reader.join(timeout=30)
    other.close()
    tracker.close()
    assert still_reading, "the reader finished early: the test proves nothing"
    assert not w.is_alive(), "transitions waited for a reader's query"
    assert finished == ["completed"] * 5
    assert listed == [25]


def test_every_call_returns_after_its_commit_under_contention(tmp_path: Path) -> None:
    """Four threads create and complete jobs while two threads run the history's kind of
    query in a loop; the moment each call returns, another connection sees its change."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    with tracker.batch():
        for i in range(3000):
            tracker.enqueue("history", title=f"old job {i} " + "h" * 100)
    stop = threading.Event()
    queries = 0

    def read() -> None:
        nonlocal queries
        while not stop.is_set():
            tracker.list_jobs(search="zz-not-there", limit=100)
            tracker.count_jobs(status="pending")
            queries += 1

    early: list[tuple[str, str, str | None]] = []
    calls = 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal calls
        other = sqlite3.connect(db)
        try:
            for _ in range(60):
                ctx = tracker.create_job("t")
                row = other.execute("SELECT status FROM jobs WHERE id = ?", (ctx.job_id,))
                seen = row.fetchone()
                if seen is None:
                    early.append(("create", ctx.job_id, None))
                tracker.complete_job(ctx.job_id)
                seen = other.execute(
                    "SELECT status FROM jobs WHERE id = ?", (ctx.job_id,)
                ).fetchone()
                if seen is None or seen[0] != "completed":
                    early.append(("complete", ctx.job_id, seen and seen[0]))
                with lock:
                    calls += 2
        finally:
            other.close()

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write) for _ in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    tracker.close()
    assert calls == 480
    assert queries > 0
    assert early == [], f"{len(early)} of {calls} calls returned before their commit"


@pytest.mark.parametrize("kind", ["list", "count", "logs", "get"])
def test_reads_inside_a_batch_see_the_batch_s_own_changes(tmp_path: Path, kind: str) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        ctx = tracker.create_job("t")
        ctx.log("a line")
        with tracker.batch():
            tracker.complete_job(ctx.job_id)
            if kind == "list":
                [job] = tracker.list_jobs()
                assert job.status is JobStatus.COMPLETED
            elif kind == "count":
                assert tracker.count_jobs(status="completed") == 1
            elif kind == "logs":
                assert [e.message for e in tracker.logs(ctx.job_id)] == ["a line"]
            else:
                found = tracker.get_job(ctx.job_id)
                assert found is not None and found.status is JobStatus.COMPLETED


def test_logs_merge_stored_and_unstored_lines_without_doubles(tmp_path: Path) -> None:
    """Lines move from memory to the file while a reader reads; it sees each once."""
    with JobTracker.open(tmp_path / "jobs.db", flush_interval=0.01) as tracker:
        ctx = tracker.create_job("t")
        stop = threading.Event()

        def chatter() -> None:
            i = 0
            while not stop.is_set():
                ctx.log(f"line {i}")
                i += 1
                time.sleep(0.0005)

        t = threading.Thread(target=chatter)
        t.start()
        try:
            for _ in range(200):
                lines = [e.message for e in tracker.logs(ctx.job_id, limit=100_000)]
                numbers = [int(m.split()[1]) for m in lines]
                assert numbers == list(range(len(numbers))), "a line was doubled or skipped"
        finally:
            stop.set()
            t.join()
