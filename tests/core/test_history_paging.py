"""Keyset paging of the history over the store's sort indexes, and the counts the store keeps.

Each order is checked against the same jobs sorted in Python by ``sort_key`` (the model's
definition), page by page in both directions, with ties (same titles, same progress),
ASCII case and non-ASCII text at the page boundaries.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.filters import JobFilter
from jobdeck.core.history_order import HistorySort, SortKey, sort_key
from jobdeck.core.job import Job, JobError, Progress, new_job_id
from jobdeck.core.job_rows import JOB_ROWS
from jobdeck.core.store import Store

TITLES = ["beta", "Alpha", "alpha", "Éclair", "éclair", "zeta", "Beta", "ß"]


def make_jobs(n: int, t0: float = 1_700_000_000.0) -> list[Job]:
    jobs = []
    for i in range(n):
        status = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RUNNING)[
            i % 4
        ]
        created = t0 + i
        finished = status.finished
        jobs.append(
            Job(
                id=new_job_id(created),
                type=("copy", "command", "hash")[i % 3],
                title=TITLES[i % len(TITLES)],
                status=status,
                created_ts=created,
                progress=Progress(i % 5, (i % 3) * 4, f"Step {i % 6}"),
                started_ts=created + 1 if i % 9 else None,
                completed_ts=created + 1 + (i % 7) if finished else None,
                error=JobError(f"Err {i % 4}", None) if status is JobStatus.FAILED else None,
                attempts=1,
            )
        )
    return jobs


@pytest.fixture(scope="module")
def store_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Job]]]:
    path = tmp_path_factory.mktemp("paging") / "jobs.db"
    JobTracker.open(path, clock=FakeClock()).close()
    store = Store(path)
    jobs = make_jobs(230)
    with store.transaction() as conn:
        for job in jobs:
            store.insert(conn, job)
    yield store, jobs
    store.close()


def walk(store: Store, where: JobFilter, sort: HistorySort, descending: bool, size: int):
    out, after = [], None
    while True:
        page = store.history_page(where, sort, descending, after, size)
        out += page
        if len(page) < size:
            return out
        after = page[-1][1]


@pytest.mark.parametrize("sort", list(HistorySort))
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_follow_the_python_order(store_jobs, sort, descending) -> None:
    store, jobs = store_jobs
    expected = sorted(jobs, key=lambda j: sort_key(sort, j), reverse=descending)
    for size in (1, 7, 50):
        pages = walk(store, JobFilter(), sort, descending, size)
        assert [j.id for j, _ in pages] == [j.id for j in expected]
        assert all(key == sort_key(sort, job) for job, key in pages)
    # offsets land where a walk does, from either end
    for offset in (0, 1, 49, 50, 229, 230):
        page = store.history_page(JobFilter(), sort, descending, None, 3, offset)
        assert [j.id for j, _ in page] == [j.id for j in expected[offset : offset + 3]]
    # a job's position is the count of those before it
    for i in (0, 13, 229):
        key = sort_key(sort, expected[i])
        assert store.count_before(JobFilter(), sort, descending, key) == i


@pytest.mark.parametrize("sort", [HistorySort.CREATED, HistorySort.TITLE, HistorySort.DURATION])
def test_paging_under_a_filter(store_jobs, sort) -> None:
    store, jobs = store_jobs
    where = JobFilter.of([JobStatus.FAILED, JobStatus.RUNNING], "copy")
    expected = sorted(
        (j for j in jobs if where.matches(j)), key=lambda j: sort_key(sort, j), reverse=True
    )
    assert [j.id for j, _ in walk(store, where, sort, True, 4)] == [j.id for j in expected]
    assert store.count_jobs(where) == len(expected)


def test_the_sort_orders_use_their_indexes(store_jobs) -> None:
    store, _jobs = store_jobs
    for sort in HistorySort:
        for descending in (True, False):
            sql, params = store._history_query(
                JobFilter(), sort, descending, (("x", "y") if sort.sql else ("y",)), 5, 0,
                keys=False,
            )  # fmt: skip
            plan = " ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "USING INDEX" in plan or "PRIMARY KEY" in plan, (sort, plan)
            assert "TEMP B-TREE" not in plan, (sort, plan)


def test_counts_kept_by_the_store_follow_inserts_changes_and_deletes(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=clock)
    try:
        a = tracker.create_job("copy", title="a")
        tracker.create_job("hash", title="b")
        assert tracker.count_jobs() == 2
        assert tracker.count_jobs(status="running", type="copy") == 1
        tracker.complete_job(a.job_id)
        assert tracker.count_jobs(status="running") == 1
        assert tracker.count_jobs(status=["completed", "completed"]) == 1  # no double count
        assert tracker.count_jobs(status="completed", type=["copy", "hash"]) == 1
        with tracker.store.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE id = ?", (a.job_id,))
        assert tracker.count_jobs() == 1
        counted = dict(
            ((s, t), n)
            for s, t, n in tracker.store.conn.execute("SELECT status, type, n FROM job_counts")
        )
        real = dict(
            ((s, t), n)
            for s, t, n in tracker.store.conn.execute(
                "SELECT status, type, COUNT(*) FROM jobs GROUP BY status, type"
            )
        )
        assert {k: v for k, v in counted.items() if v} == real
    finally:
        tracker.close()


def test_a_version_5_store_is_migrated_with_its_counts(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    JobTracker.open(path, clock=FakeClock()).close()
    # Take the file back to version 5: what a store written by the previous release holds.
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TABLE job_counts; DROP TRIGGER job_counts_insert; DROP TRIGGER job_counts_delete;"
        "DROP TRIGGER job_counts_update; DROP INDEX jobs_title_sort; DROP INDEX "
        "jobs_progress_sort; DROP INDEX jobs_duration_sort; DROP INDEX jobs_message_sort;"
        "DROP TRIGGER jobs_text_insert; DROP TRIGGER jobs_text_delete;"
        "DROP TRIGGER jobs_text_update; DROP TABLE jobs_text; DROP TABLE history_pending;"
        "PRAGMA user_version = 5;"
    )
    with conn:
        conn.executemany(JOB_ROWS.insert_sql, [JOB_ROWS.to_row(j) for j in make_jobs(20)])
    conn.close()
    tracker = JobTracker.open(path, clock=FakeClock(), retention=None)
    try:
        assert tracker.store.schema_version() >= 6
        assert tracker.count_jobs() == 20
        conn = tracker.store.conn
        real = {
            (s, t): n
            for s, t, n in conn.execute("SELECT status, type, COUNT(*) FROM jobs GROUP BY 1, 2")
        }
        counted = {(s, t): n for s, t, n in conn.execute("SELECT * FROM job_counts") if n}
        assert counted == real
        failed = sum(n for (status, _type), n in real.items() if status == "failed")
        assert tracker.count_jobs(status="failed") == failed
        # the full-text index was built from the rows already there
        assert tracker.count_jobs(search="clair") == 5  # Éclair and éclair, 20 jobs
        assert tracker.count_jobs(search="éclair") == 2  # non-ASCII letters as written
        conn.execute("INSERT INTO jobs_text (jobs_text, rank) VALUES ('integrity-check', 0)")
    finally:
        tracker.close()


def test_a_page_shows_running_jobs_live_and_needs_the_lock_only_for_them(tmp_path: Path) -> None:
    """A running job in a page comes with the progress its code reported last (from the
    tracker's memory, under its lock); a page of finished jobs alone is read while another
    thread holds the lock (a change being committed), without waiting for it."""
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=FakeClock())
    try:
        done = tracker.create_job("copy", title="done")
        tracker.complete_job(done.job_id)
        live = tracker.create_job("copy", title="live", total=10)
        live.update_progress(4, message="four of ten")
        shown = {job.title: job for job, _ in tracker.history_page(JobFilter())}
        assert shown["live"].progress.current == 4
        assert shown["live"].progress.message == "four of ten"
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with tracker._lock:
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert held.wait(5)
            pages: list[list[tuple[Job, SortKey]]] = []
            reader = threading.Thread(
                target=lambda: pages.append(tracker.history_page(JobFilter.of("completed")))
            )
            reader.start()
            reader.join(5)
            assert pages and [job.title for job, _ in pages[0]] == ["done"]
        finally:
            release.set()
            holder.join()
            reader.join()
    finally:
        tracker.close()
