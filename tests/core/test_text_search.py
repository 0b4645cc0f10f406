"""The full-text search: kept in step by the store, safe with any input, and the same in
memory as in SQL (what the history's live updates rely on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobTracker
from jobdeck.core.filters import JobFilter
from jobdeck.core.schema import _COMMAND
from jobdeck.core.text_search import COMMAND_SQL, fts_query, tokens, words


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
    found = tracker.list_jobs(search=search)
    everything = tracker.list_jobs()
    where = JobFilter.of(search=search)
    assert {j.id for j in everything if where.matches(j)} == {j.id for j in found}, search
    assert tracker.count_jobs(search=search) == len(found)
    return sorted(j.title for j in found)


def test_fts_syntax_in_a_search_is_plain_text(jobs: JobTracker) -> None:
    assert titles(jobs, '"hi"') == ['He said "hi" AND left']
    assert titles(jobs, 'said "hi') == ['He said "hi" AND left']
    assert titles(jobs, "AND") == ['He said "hi" AND left']
    assert titles(jobs, "-a -mnt") == ["Back up photos"]  # "-" is no NOT: tokens a, mnt
    assert titles(jobs, "*final*") == ["Copy résumé-2024 *final*"]
    assert titles(jobs, "title:copy") == []  # no column filter: the phrase "title copy"
    assert titles(jobs, "NOT") == ['He said "hi" AND left']  # a word (argv 'not a list')
    assert titles(jobs, "50%") == ["Copy résumé-2024 *final*"]
    assert len(titles(jobs, '- * "')) == 3  # no word at all: every job


def test_words_are_found_in_every_searched_text_by_prefix(jobs: JobTracker) -> None:
    assert titles(jobs, "IMG_0042.jpg") == ["Back up photos"]  # in the command
    assert titles(jobs, "img_00") == ["Back up photos"]
    assert titles(jobs, "permission DEN") == ["Back up photos"]  # in the error
    assert titles(jobs, "ÜNÏCODE") == ["Back up photos"]  # non-ASCII in any case
    assert titles(jobs, "RÉSUMÉ") == ["Copy résumé-2024 *final*"]
    assert titles(jobs, "resume") == []  # diacritics count
    assert titles(jobs, "sync") == []  # inside a word: no
    assert titles(jobs, "hash") == ['He said "hi" AND left']  # the type
    assert titles(jobs, "list") == ['He said "hi" AND left']  # a string argv


def test_the_index_follows_changes_and_deletes(jobs: JobTracker) -> None:
    ctx = jobs.create_job("copy", title="Nightly", message="starting")
    assert titles(jobs, "starting") == ["Nightly"]
    ctx.update_progress(1, 2, "halfway there")
    jobs.complete_job(ctx.job_id, success=False, error="disk on fire")
    assert titles(jobs, "fire") == ["Nightly"]
    with jobs.store.transaction() as conn:
        conn.execute("DELETE FROM jobs WHERE id = ?", (ctx.job_id,))
    assert titles(jobs, "fire") == []
    # the index holds exactly the texts of the rows (FTS5 raises when it does not)
    jobs.store.conn.execute("INSERT INTO jobs_text (jobs_text, rank) VALUES ('integrity-check', 0)")


def test_queries_hold_only_quoted_tokens() -> None:
    assert fts_query('a"b c*') == '"a b"* AND "c"*'
    assert fts_query("- * :") is None
    assert words("IMG_0042.jpg") == (("img", "0042", "jpg"),)
    assert tokens("Ünï-CODE ß") == ["ünï", "code", "ß"]


def test_the_command_expression_is_the_migration_s() -> None:
    assert COMMAND_SQL == _COMMAND
