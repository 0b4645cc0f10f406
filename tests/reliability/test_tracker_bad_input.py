"""Issue 9 items 8 and 15: absurd times and other bad input get a clear error naming the
field (nothing is written), and a bad row already in a store fails that one job at open
instead of stopping the app."""

from __future__ import annotations

import math
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker


@pytest.fixture
def tracker(tmp_path: Path) -> Any:
    with JobTracker.open(tmp_path / "jobs.db") as t:
        yield t


def circular() -> dict[str, Any]:
    inner: dict[str, Any] = {"name": "loop"}
    inner["self"] = {"again": inner}
    return inner


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"run_at": math.inf}, r"^run_at must be a time between 1970 and the year 9999"),
        ({"run_at": 1e306}, r"^run_at must be a time"),
        ({"run_at": math.nan}, r"^run_at must be a time"),
        ({"run_at": -math.inf}, r"^run_at must be a time"),
        ({"run_at": 10**400}, r"^run_at must be a time"),
        ({"timeout": math.nan}, r"^timeout must be a positive, finite number"),
        ({"timeout": math.inf}, r"^timeout must be a positive, finite number"),
        ({"timeout": 1e300}, r"^timeout must be at most"),
        ({"timeout": timedelta(days=10_000)}, r"^timeout must be at most"),
        ({"timeout": 0}, r"^timeout must be a positive"),
        ({"priority": 2**63}, r"^priority must be an integer from -2\*\*63 to 2\*\*63 - 1"),
        ({"priority": -(2**63) - 1}, r"^priority must be an integer"),
        ({"max_attempts": 2**63}, r"^max_attempts must be an integer from 1 to"),
        ({"max_attempts": 0}, r"^max_attempts must be an integer from 1 to"),
        (
            {"metadata": circular()},
            r"^metadata\.self\.again(\.self)?: contains itself \(a circular reference\)",
        ),
        ({"params": circular()}, r"^params\.self\.again(\.self)?: contains itself"),
        ({"metadata": {1: "one"}}, r"^metadata\[1\]: keys must be strings"),
        ({"params": {"deep": {2: "two"}}}, r"^params\.deep\[2\]: keys must be strings"),
        ({"title": 5}, r"^title must be a string"),
    ],
)
def test_enqueue_refuses_with_the_field_named(
    tracker: JobTracker, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        tracker.enqueue("t", **kwargs)
    assert tracker.count_jobs() == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"priority": 2**64}, r"^priority must be an integer"),
        (
            {"metadata": circular()},
            r"^metadata\.self\.again(\.self)?: contains itself \(a circular reference\)",
        ),
        ({"metadata": {7: 1}}, r"^metadata\[7\]: keys must be strings"),
    ],
)
def test_create_job_refuses_with_the_field_named(
    tracker: JobTracker, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        tracker.create_job("t", **kwargs)
    assert tracker.count_jobs() == 0


def test_other_entry_points_check_their_times_and_numbers(tracker: JobTracker) -> None:
    ctx = tracker.create_job("t")
    with pytest.raises(ValueError, match=r"^run_at must be a time"):
        tracker.retry_later(ctx.job_id, math.nan, "again")
    with pytest.raises(ValueError, match=r"^completed_ts must be a time"):
        tracker.complete_job(ctx.job_id, completed_ts=math.inf)
    with pytest.raises(ValueError, match=r"^exit_code must be an integer"):
        tracker.complete_job(ctx.job_id, success=False, exit_code=2**70)
    with pytest.raises(ValueError, match=r"^pid must be an integer"):
        tracker.set_process_info(ctx.job_id, pid=2**64)
    with pytest.raises(ValueError, match=r"^peak_rss must be an integer"):
        tracker.set_resource_usage(ctx.job_id, peak_rss=2**64, cpu_seconds=1.0)
    with pytest.raises(ValueError, match=r"^progress cpu_seconds must be a finite"):
        tracker.set_resource_usage(ctx.job_id, peak_rss=1, cpu_seconds=math.nan)
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.pid is None


def test_a_huge_list_limit_is_refused(tracker: JobTracker) -> None:
    with pytest.raises(ValueError, match=r"^limit must be an integer from 0 to 2\*\*63 - 1"):
        tracker.list_jobs(limit=10**20)
    with pytest.raises(ValueError, match=r"^limit must be an integer"):
        tracker.logs("x", limit=10**20)
    assert tracker.list_jobs(limit=2**63 - 1) == []


def test_search_matches_wildcards_literally(tracker: JobTracker) -> None:
    plain = tracker.enqueue("t", title="plain")
    under = tracker.enqueue("t", title="snake_case")
    percent = tracker.enqueue("t", title="50% done")
    slash = tracker.enqueue("t", title="C:\\temp")
    assert [j.id for j in tracker.list_jobs(search="_")] == [under.id]
    assert [j.id for j in tracker.list_jobs(search="%")] == [percent.id]
    assert [j.id for j in tracker.list_jobs(search="\\")] == [slash.id]
    assert tracker.count_jobs(search="_") == 1
    assert {j.id for j in tracker.list_jobs(search="a")} == {plain.id, under.id}
    # three characters and more: the text index, with the same literal meaning
    assert [j.id for j in tracker.list_jobs(search="e_c")] == [under.id]
    assert [j.id for j in tracker.list_jobs(search="0% ")] == [percent.id]
    assert [j.id for j in tracker.list_jobs(search=":\\t")] == [slash.id]
    assert tracker.list_jobs(search="e%c") == []


def test_status_filters_accept_any_case_and_list_the_values(tracker: JobTracker) -> None:
    tracker.create_job("t")
    assert tracker.count_jobs(status="Running") == 1
    assert len(tracker.list_jobs(status=["RUNNING", "pending"])) == 1
    with pytest.raises(ValueError, match="status must be one of pending, running, completed"):
        tracker.list_jobs(status="runing")


@pytest.mark.expected_log("failed at open", "a stored JSON value could not be read")
def test_a_bad_row_in_the_store_fails_that_job_at_open(tmp_path: Path) -> None:
    """An old version wrote run_at = inf (and a NaN timeout, and damaged JSON): opening
    fails just those jobs, with a reason, and everything else carries on."""
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        bad_run_at = tracker.enqueue("t", title="forever").id
        huge_run_at = tracker.enqueue("t", title="far").id
        bad_timeout = tracker.enqueue("t", title="nan timeout").id
        bad_json = tracker.enqueue("t", title="damaged").id
        good = tracker.enqueue("t", title="fine", run_at=tracker.now() + 60).id
    other = sqlite3.connect(db)
    with other:
        other.execute("UPDATE jobs SET run_at_ts = ? WHERE id = ?", (math.inf, bad_run_at))
        other.execute("UPDATE jobs SET run_at_ts = ? WHERE id = ?", (1e306, huge_run_at))
        other.execute("UPDATE jobs SET timeout = ? WHERE id = ?", (-math.inf, bad_timeout))
        other.execute("UPDATE jobs SET params = '{not json' WHERE id = ?", (bad_json,))
    other.close()

    with JobTracker.open(db) as tracker:
        assert [j.id for j in tracker.pending_jobs()] == [good]
        for job_id, words in (
            (bad_run_at, "run_at = inf"),
            (huge_run_at, "run_at = 1e+306"),
            (bad_timeout, "timeout"),
            (bad_json, "params could not be read"),
        ):
            job = tracker.get_job(job_id)
            assert job is not None and job.status is JobStatus.FAILED
            assert job.error is not None and words in job.error.message
            assert job.error.message.startswith("could not be run: ")
        assert len(tracker.list_jobs()) == 5  # listing copes with the damaged row too
