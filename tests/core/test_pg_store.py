"""The store on PostgreSQL: opening a board by URL, its schema, clear errors, recovery."""

from __future__ import annotations

import contextlib

import psycopg
import pytest

from jobdeck.core import JobStatus, JobTracker, StoreError, StoreLocked
from jobdeck.core.board_url import BoardUrl, is_board_url
from jobdeck.core.pg_store import PgStore
from jobdeck.core.schema import SCHEMA_VERSION, JobRecord
from tests.pg_server import PASSWORD, PgServer


def test_urls_are_told_from_paths_and_shown_without_password() -> None:
    assert is_board_url("postgresql://u@h/db")
    assert is_board_url("postgres://h/db")
    assert not is_board_url("/home/me/jobs.db")
    assert not is_board_url("postgresql.db")
    url = BoardUrl.parse("postgresql://alice:hunter2@db.example:5433/jobs?sslmode=require")
    assert url.display == "postgresql://alice@db.example:5433/jobs?sslmode=require"
    assert url.host == "db.example" and url.port == 5433 and url.database == "jobs"
    assert "hunter2" not in url.folder_name()
    hidden = BoardUrl.parse("postgresql://h/jobs?password=hunter2")
    assert "hunter2" not in hidden.display


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("postgresql://alice:hunter2@db.example:99999/jobs", "not a usable PostgreSQL URL"),
        ("postgresql://alice:hunter2@db.example/", "names no database"),
        ("postgresql://alice:hunter2@db.example/a/b", "is not a database name"),
    ],
)
def test_a_malformed_url_is_refused_without_its_password(url: str, match: str) -> None:
    with pytest.raises(StoreError, match=match) as info:
        JobTracker.open(url)
    assert "hunter2" not in str(info.value)


def test_wrong_credentials_name_the_host_never_the_password(pg_server: PgServer) -> None:
    pg_server.new_database()
    url = pg_server.url("postgres", password="not-" + PASSWORD)
    with pytest.raises(StoreError) as info:
        JobTracker.open(url)
    message = str(info.value)
    assert "127.0.0.1" in message and f"port {pg_server.port}" in message
    assert "password authentication failed" in message
    assert PASSWORD not in message and "not-" not in message


def test_an_unreachable_server_names_the_host(pg_server: PgServer) -> None:
    url = f"postgresql://jobdeck:{PASSWORD}@127.0.0.1:1/jobs"
    with pytest.raises(StoreError, match=r"127\.0\.0\.1, port 1") as info:
        JobTracker.open(url)
    assert PASSWORD not in str(info.value)


def test_the_right_password_over_tcp_opens_the_board(pg_server: PgServer, pg_url: str) -> None:
    database = BoardUrl.parse(pg_url).database
    with JobTracker.open(pg_server.url(database, password=PASSWORD), instance="a") as tracker:
        job = tracker.enqueue("x")
        assert tracker.get_job(job.id) == job
        assert PASSWORD not in tracker.store.location


def test_migrations_build_the_model_in_postgresql_types(pg_url: str) -> None:
    store = PgStore(pg_url, instance="a")
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.reader() as conn:
            rows = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'jobs' ORDER BY ordinal_position"
            ).fetchall()
    finally:
        store.close()
    types = dict(rows)
    model = [f.column_name for f in JobRecord._meta.sorted_fields]
    assert [name for name, _ in rows if name != "run_by"] == model
    assert types["created_ts"] == "double precision"  # never 4-byte REAL: timestamps
    assert types["peak_rss"] == "bigint"


def test_a_newer_schema_is_refused_and_left_untouched(pg_url: str) -> None:
    PgStore(pg_url, instance="a").close()
    with contextlib.closing(psycopg.connect(pg_url, autocommit=True)) as conn:
        conn.execute("UPDATE jobdeck_schema SET version = 999")
    with pytest.raises(StoreError, match="schema version 999, newer"):
        JobTracker.open(pg_url)


def test_jobs_survive_a_reopen_and_searches_ignore_case(pg_url: str) -> None:
    with JobTracker.open(pg_url, instance="a") as tracker:
        job = tracker.enqueue("Backup", title="Nightly BACKUP")
        ctx = tracker.start_job(job.id)
        ctx.log("copied")
        tracker.complete_job(job.id, result={"files": 3})
    with JobTracker.open(pg_url, instance="a") as tracker:
        again = tracker.get_job(job.id)
        assert again is not None and again.status is JobStatus.COMPLETED
        assert again.result == {"files": 3}
        assert [j.id for j in tracker.list_jobs(search="nightly backup")] == [job.id]
        assert tracker.count_jobs(search="NIGHTLY") == 1
        assert [e.message for e in tracker.logs(job.id)] == ["copied"]


def test_an_instance_name_in_use_on_the_board_is_refused(pg_url: str) -> None:
    with JobTracker.open(pg_url, instance="desk"):
        with pytest.raises(StoreLocked, match="desk"):
            JobTracker.open(pg_url, instance="desk")
        with JobTracker.open(pg_url, instance="other"):
            pass


def test_opening_never_recovers_another_instances_running_job(pg_url: str) -> None:
    """Recovery at open touches only the opener's own jobs: another instance's running job
    belongs to it while its lease lasts."""
    first = JobTracker.open(pg_url, instance="first")
    try:
        job = first.enqueue("x")
        first.start_job(job.id)
        with JobTracker.open(pg_url, instance="second") as second:
            seen = second.get_job(job.id)
            assert seen is not None and seen.status is JobStatus.RUNNING
            assert second.runs_on(job.id) == "first"
    finally:
        first.close()
    # the same instance coming back recovers its own job (nothing can re-attach it)
    with JobTracker.open(pg_url, instance="first") as again:
        back = again.get_job(job.id)
        assert back is not None and back.status is JobStatus.FAILED
        assert back.error is not None and "interrupted" in back.error.message


def test_a_board_pages_the_history_in_every_order_and_searches_substrings(pg_url: str) -> None:
    """Schema 6 (counts, text index, sort indexes) is SQLite's: a board counts, searches
    (ILIKE) and sorts (lower() for NOCASE) by plain queries, with the same pages."""
    from jobdeck.core.filters import JobFilter
    from jobdeck.core.history_order import HistorySort

    with JobTracker.open(pg_url, instance="a") as tracker:
        assert tracker.store.schema_version() == SCHEMA_VERSION
        for i, title in enumerate(["rsync b", "Tar a", "rsync C", "zip d", "RSYNC e"]):
            ctx = tracker.create_job("cmd", title=title, total=5)
            ctx.update_progress(i, 5, f"step {i}")
            tracker.complete_job(ctx.job_id, success=i != 3, error="Disk full")
        assert tracker.count_jobs() == 5 and tracker.count_jobs(status="failed") == 1
        assert tracker.counts_by_type() == {
            "cmd": {"pending": 0, "running": 0, "completed": 4, "failed": 1, "cancelled": 0}
        }
        assert tracker.count_jobs(search="SYNC") == 3  # inside a word, any ASCII case
        where = JobFilter.of(search="sync")
        for sort in HistorySort:
            for descending in (True, False):
                pages, after = [], None
                while page := tracker.history_page(where, sort, descending, after, 2):
                    pages += [job.title for job, _key in page]
                    after = page[-1][1]
                assert sorted(pages) == ["RSYNC e", "rsync C", "rsync b"], sort
        titles = tracker.history_page(JobFilter(), HistorySort.TITLE, False, None, 10)
        assert [job.title for job, _key in titles] == ["rsync b", "rsync C", "RSYNC e",
                                                       "Tar a", "zip d"]  # fmt: skip


def test_text_with_a_nul_character_is_stored_on_a_board(pg_url: str) -> None:
    """PostgreSQL's text holds no NUL character (SQLite's does): a title, a progress message,
    a log line or an error with one (a program's output quoted in its failure message) is
    stored with U+FFFD in its place. Seen as a user: a job titled so was refused as "the job
    store cannot be used" (503), and a program that printed a NUL before it failed stayed
    "running" on the board for ever."""
    with JobTracker.open(pg_url, instance="nul") as tracker:
        job = tracker.enqueue("x", title="a\x00b")
        ctx = tracker.start_job(job.id)
        ctx.update_progress(1, 2, "half\x00way")
        ctx.log("line\x00one")
        tracker.flush()
        tracker.complete_job(
            job.id, success=False, error="exit status 1; last output:\nbad\x00byte"
        )
        tracker.flush()
        assert tracker.store_error is None
    with JobTracker.open(pg_url, instance="reader") as reader:
        ended = reader.get_job(job.id)
        assert ended is not None and ended.status is JobStatus.FAILED
        assert ended.title == "a\ufffdb" and ended.progress.message == "half\ufffdway"
        assert ended.error is not None and ended.error.message.endswith("bad\ufffdbyte")
