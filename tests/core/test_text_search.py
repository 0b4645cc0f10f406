"""The text search: substrings as SQLite's LIKE finds them, answered by the trigram index
(kept in step by the store, built after open for the jobs a store already had) or by a
scan, the same in memory as in SQL (what the history's live updates rely on)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobTracker, history_build
from jobdeck.core import store as store_module
from jobdeck.core.filters import JobFilter
from jobdeck.core.history_order import HistorySort
from jobdeck.core.history_schema import SORT_INDEXES
from jobdeck.core.text_search import fts_query
from tests.core.conftest import wait_until


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[JobTracker]:
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=FakeClock(), retention=None)
    rsync = tracker.create_job(
        "command",
        title="Back up photos",
        params={"argv": ["rsync", "-a", "/home/ana/Photos/IMG_0042.jpg", "/mnt/Ünïcode"]},
    )
    tracker.complete_job(rsync.job_id, success=False, error='exit 23: "Permission denied"')
    tracker.create_job("copy", title="Copy résumé-2024 *final*", message="50% done")
    tracker.create_job("hash", title='He said "hi" AND left', params={"argv": "not a list"})
    yield tracker
    tracker.close()


def titles(tracker: JobTracker, search: str) -> list[str]:
    found = tracker.list_jobs(search=search, limit=10_000)
    everything = tracker.list_jobs(limit=10_000)
    where = JobFilter.of(search=search)
    assert {j.id for j in everything if where.matches(j)} == {j.id for j in found}, search
    assert tracker.count_jobs(search=search) == len(found)
    return sorted(j.title for j in found)


def test_a_search_finds_substrings_in_every_searched_text(jobs: JobTracker) -> None:
    assert titles(jobs, "sync") == ["Back up photos"]  # inside a word: "rsync"
    assert titles(jobs, "IMG_0042.jpg") == ["Back up photos"]  # in the command
    assert titles(jobs, "permission DEN") == ["Back up photos"]  # in the error, any case
    assert titles(jobs, "ash") == ['He said "hi" AND left']  # the type
    assert titles(jobs, "a list") == ['He said "hi" AND left']  # a string argv
    assert titles(jobs, "sumé-20") == ["Copy résumé-2024 *final*"]
    assert titles(jobs, "resume") == []  # diacritics count
    assert titles(jobs, "RÉSUMÉ") == []  # non-ASCII letters in their case, as LIKE
    assert titles(jobs, "photos copy") == []  # one text contains it, or none


def test_query_syntax_in_a_search_is_plain_text(jobs: JobTracker) -> None:
    assert titles(jobs, '"hi"') == ['He said "hi" AND left']
    assert titles(jobs, 'said "hi') == ['He said "hi" AND left']
    assert titles(jobs, "AND l") == ['He said "hi" AND left']
    assert titles(jobs, "*final*") == ["Copy résumé-2024 *final*"]
    assert titles(jobs, "title:copy") == []
    assert titles(jobs, "50%") == ["Copy résumé-2024 *final*"]  # % is no wildcard
    assert titles(jobs, "_0042") == ["Back up photos"]  # nor is _
    assert fts_query('a"b') == '"a""b"'


def test_short_searches_scan(jobs: JobTracker) -> None:
    assert fts_query("hi") is None
    assert titles(jobs, "hI") == ['He said "hi" AND left']
    assert titles(jobs, '"') == ["Back up photos", 'He said "hi" AND left']  # the error
    assert titles(jobs, "%") == ["Copy résumé-2024 *final*"]


def test_the_index_follows_changes_and_deletes(jobs: JobTracker) -> None:
    ctx = jobs.create_job("copy", title="Nightly", message="starting")
    assert titles(jobs, "starting") == ["Nightly"]
    ctx.update_progress(1, 2, "halfway there")
    jobs.complete_job(ctx.job_id, success=False, error="disk on fire")
    assert titles(jobs, "fire") == ["Nightly"]
    with jobs.store.transaction() as conn:
        conn.execute("DELETE FROM jobs WHERE id = ?", (ctx.job_id,))
    assert titles(jobs, "fire") == []
    jobs.store.conn.execute("INSERT INTO jobs_text (jobs_text, rank) VALUES ('integrity-check', 0)")


def _as_just_migrated(db: Path) -> None:
    """Leave a store as migration 6 leaves one with jobs: none of them in the text index
    or the counts, no sort indexes."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("INSERT INTO jobs_text (jobs_text) VALUES ('delete-all')")
        conn.execute("DELETE FROM job_counts")
        conn.execute("UPDATE history_pending SET below = (SELECT MAX(rowid) + 1 FROM jobs)")
        for sql in SORT_INDEXES:
            conn.execute(f"DROP INDEX {sql.split(' IF NOT EXISTS ')[1].split(' ')[0]}")
    finally:
        conn.close()


def test_a_big_store_is_indexed_after_open_and_searches_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db, retention=None) as tracker:
        for i in range(300):
            ctx = tracker.create_job("cmd", title=f"rsync batch {i}", params={"argv": ["x", i]})
            tracker.complete_job(ctx.job_id)
    _as_just_migrated(db)
    monkeypatch.setattr(history_build, "INLINE_ROWS", 10)
    monkeypatch.setattr(history_build, "BATCH_ROWS", 7)
    with JobTracker.open(db, retention=None) as tracker:
        build = tracker.store._history_build
        assert build is not None  # too big to build while opening
        # while it builds: searches scan, and old rows change and go
        assert len(titles(tracker, "sync batch 29")) == 11  # 29, 290..299
        assert tracker.count_jobs() == 300 and tracker.count_jobs(status="completed") == 300
        old = tracker.list_jobs(search="batch 5", limit=20)
        with tracker.store.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE id = ?", (old[0].id,))
            conn.execute("UPDATE jobs SET title = 'renamed' WHERE id = ?", (old[1].id,))
        tracker.create_job("cmd", title="new rsync batch 29x")
        assert wait_until(build.done.is_set, timeout=60)
        assert tracker.store._text_index_ready()
        assert len(titles(tracker, "sync batch 29")) == 12
        assert titles(tracker, "renamed") == ["renamed"]
        assert tracker.count_jobs() == 300  # 300 - 1 deleted + 1 new
        assert tracker.count_jobs(status="completed") == 299
        assert tracker.count_jobs(status="running", type="cmd") == 1
        assert titles(tracker, old[0].title) == []
        conn = tracker.store.conn
        conn.execute("INSERT INTO jobs_text (jobs_text, rank) VALUES ('integrity-check', 0)")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"jobs_title_sort", "jobs_message_sort"} <= names
    with JobTracker.open(db, retention=None) as again:  # built: nothing left to do
        assert again.store._history_build is None


@pytest.mark.parametrize("sort", list(HistorySort))
def test_few_some_and_many_matches_list_the_same_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sort: HistorySort
) -> None:
    """A listing is planned by how many jobs match (read them, check each row against
    them, or test each row's texts): each plan pages alike, in every order."""
    monkeypatch.setattr(store_module, "_SOME_MATCHES", 5)
    monkeypatch.setattr(store_module, "_MANY_MATCHES", 20)
    with JobTracker.open(tmp_path / "jobs.db", clock=FakeClock(), retention=None) as tracker:
        for i in range(60):
            word = "rare" if i % 20 == 0 else "some" if i % 4 == 0 else "many"
            ctx = tracker.create_job("t", title=f"{word} job {i:02d}", total=60)
            ctx.update_progress(i, 60, f"Step {59 - i}")
            tracker.complete_job(ctx.job_id, success=i % 3 != 0, error=f"E{i % 7}")
        for text, expected in (("rare", 3), ("some", 12), ("many", 45), ("job", 60)):
            where = JobFilter.of(search=text)
            pages: list[str] = []
            after = None
            while True:
                page = tracker.history_page(where, sort, True, after, 7)
                pages += [job.id for job, _key in page]
                if len(page) < 7:
                    break
                after = page[-1][1]
            everything = tracker.history_page(JobFilter(), sort, True, None, 100)
            assert pages == [job.id for job, _key in everything if where.matches(job)], text
            assert len(pages) == tracker.count_jobs(search=text) == expected
