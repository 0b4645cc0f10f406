"""JobFilter: one definition that answers the store's query and matches jobs in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.filters import JobFilter

WORDS = ["disk", "DISK", "Full", "é", "É", "50%", "a_b", "copy", "x\\y", "ß", "SS"]


def test_of_checks_and_normalises_the_arguments() -> None:
    assert JobFilter.of() == JobFilter() and JobFilter().empty
    f = JobFilter.of(status=" Failed ", type="copy", search="disk")
    assert f == JobFilter((JobStatus.FAILED,), ("copy",), "disk")
    assert JobFilter.of(status=["pending", JobStatus.RUNNING]).statuses == (
        JobStatus.PENDING,
        JobStatus.RUNNING,
    )
    assert JobFilter.of(search="").search is None
    assert JobFilter.of(search="caf\udce9").search == "caf\\xe9"  # as stored
    with pytest.raises(ValueError, match=r"status must be one of pending, running, .*'done'"):
        JobFilter.of(status="done")
    with pytest.raises(ValueError, match="search must be a string, got int"):
        JobFilter.of(search=3)
    with pytest.raises(ValueError, match="type must be a string, got int"):
        JobFilter.of(type=[3])  # type: ignore[list-item]
    assert f.query() == {"status": JobStatus.FAILED, "type": "copy", "search": "disk"}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobTracker]:
    """Jobs whose texts mix the words above in title, message and error."""
    tracker = JobTracker.open(Path(tmp_path_factory.mktemp("filters")) / "jobs.db")
    for i, word in enumerate(WORDS):
        a = tracker.create_job("copy", title=f"job {i} {word}")
        tracker.complete_job(a.job_id)
        b = tracker.create_job("sum", title=f"other {i}", message=f"at {word}")
        tracker.complete_job(b.job_id, success=False, error=f"OSError: {word} trouble")
        tracker.enqueue(word if word.isascii() and word.isalpha() else "misc", title="waiting")
    yield tracker
    tracker.close()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    search=st.one_of(st.none(), st.sampled_from(WORDS), st.text(max_size=3)),
    statuses=st.lists(st.sampled_from(list(JobStatus)), max_size=2, unique=True),
    types=st.lists(st.sampled_from(["copy", "sum", "disk", "misc"]), max_size=2, unique=True),
)
def test_memory_matching_agrees_with_the_store_s_query(
    stored: JobTracker, search: str | None, statuses: list[JobStatus], types: list[str]
) -> None:
    where = JobFilter.of(statuses or None, types or None, search)
    everything = stored.list_jobs(limit=1000)
    queried = {j.id for j in stored.list_jobs(**where.query(), limit=1000)}
    assert {j.id for j in everything if where.matches(j)} == queried
    assert stored.count_jobs(**where.query()) == len(queried)


def test_a_search_finds_a_job_by_its_error_as_by_its_title(stored: JobTracker) -> None:
    where = JobFilter.of(search="disk TROUBLE")
    found = stored.list_jobs(search="disk TROUBLE")
    assert sorted(j.error.message for j in found if j.error) == [
        "OSError: DISK trouble",
        "OSError: disk trouble",
    ]
    assert all(where.matches(j) for j in found)
    # as SQLite's LIKE: ASCII letters in any case, other letters as written
    assert JobFilter.of(search="É").matches(found[0]) is False
    assert [j.title for j in stored.list_jobs(search="job 3 é")] == ["job 3 é"]
    assert stored.list_jobs(search="job 3 É") == []
    assert JobFilter.of(search="rouble").matches(found[0]) is True  # inside a word too
