"""Issue 9 item 3: values that pass validation but could not be stored made a job unfinishable.

A file name with a non-UTF-8 byte reaches Python as surrogate-escaped text
(``os.fsdecode(b"caf\\xe9.bin") == "caf\\udce9.bin"``); SQLite cannot store it as UTF-8.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.events import LogEntry

NAME = os.fsdecode(b"caf\xe9.bin")  # 'caf\udce9.bin'
SHOWN = "caf\\xe9.bin"  # what is stored and shown: the byte, visibly


def test_surrogate_text_everywhere_still_lets_the_job_finish(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    ctx = tracker.create_job(
        "checksum", title=f"Checksum {NAME}", params={"path": NAME}, metadata={"file": NAME}
    )
    ctx.update_progress(1, 2, f"reading {NAME}")
    ctx.log(f"opened {NAME}")
    tracker.flush()
    failed = tracker.create_job("copy")
    tracker.complete_job(failed.job_id, success=False, error=OSError(f"cannot read {NAME}"))
    done = tracker.complete_job(ctx.job_id, result={"file": NAME, "sum": "ab12"})
    assert done.status is JobStatus.COMPLETED
    pending = tracker.enqueue("copy", {"src": NAME}, title=NAME)
    tracker.cancel_job(pending.id)
    tracker.close()  # closing works too

    with JobTracker.open(db, read_only=True) as reader:
        job = reader.get_job(ctx.job_id)
        assert job is not None and job.status is JobStatus.COMPLETED
        assert job.title == f"Checksum {SHOWN}"
        assert job.progress.message == f"reading {SHOWN}"
        # JSON keeps the exact name (it escapes the surrogate), so a re-run opens the file
        assert job.params == {"path": NAME} and job.result == {"file": NAME, "sum": "ab12"}
        assert [e.message for e in reader.logs(ctx.job_id)] == [f"opened {SHOWN}"]
        bad = reader.get_job(failed.job_id)
        assert bad is not None and bad.error is not None
        assert bad.error.message == f"OSError: cannot read {SHOWN}"
        assert bad.error.traceback is None or "\udce9" not in bad.error.traceback
        cancelled = reader.get_job(pending.id)
        assert cancelled is not None and cancelled.title == SHOWN
        found = {j.id for j in reader.list_jobs(search=SHOWN)}
        assert found == {ctx.job_id, failed.job_id, pending.id}


def test_other_lone_surrogates_are_shown_as_escapes(tmp_path: Path) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        ctx = tracker.create_job("t", title="half a pair \ud83d here")
        job = tracker.get_job(ctx.job_id)
        assert job is not None and job.title == "half a pair \\ud83d here"


def test_live_progress_events_carry_storable_text(tmp_path: Path) -> None:
    with JobTracker.open(tmp_path / "jobs.db", event_interval=0.005) as tracker:
        seen: list[str] = []
        tracker.subscribe(lambda e: seen.append(e.job.progress.message))
        ctx = tracker.create_job("t")
        ctx.update_progress(1, 3, NAME)
        from tests.core.conftest import wait_until

        assert wait_until(lambda: SHOWN in seen)
        assert all("\udce9" not in m for m in seen)


@pytest.mark.parametrize("value", [2**63, 2**64, 10**400])
def test_progress_beyond_64_bits_is_refused_where_it_enters(tmp_path: Path, value: int) -> None:
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        ctx = tracker.create_job("t")
        with pytest.raises(ValueError, match=r"progress current must be"):
            ctx.update_progress(value)
        with pytest.raises(ValueError, match=r"progress total must be"):
            ctx.update_progress(1, value)
        with pytest.raises(ValueError, match=r"total"):
            tracker.create_job("t", total=value)
        ctx.update_progress(2**63 - 1, 2**63 - 1)  # the largest accepted
        tracker.flush()
        assert tracker.complete_job(ctx.job_id).status is JobStatus.COMPLETED


@pytest.mark.expected_log("a log line of job .* could not be stored")
def test_one_job_s_unstorable_log_line_does_not_drop_other_jobs_lines(tmp_path: Path) -> None:
    """Should a line ever be refused by SQLite, only that line is lost, not the flush."""
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, flush_interval=3600)
    a = tracker.create_job("a")
    b = tracker.create_job("b")
    a.log("a before")
    # a line that slipped past every check and that SQLite refuses (a 2**70 timestamp)
    tracker._logs.append(LogEntry(b.job_id, 2**70, "info", "poison"))
    b.log("b after")
    a.log("a after")
    tracker.flush()
    tracker.complete_job(a.job_id)
    tracker.complete_job(b.job_id)
    tracker.close()
    other = sqlite3.connect(db)
    rows = other.execute("SELECT message FROM job_logs ORDER BY id").fetchall()
    other.close()
    assert [r[0] for r in rows] == ["a before", "b after", "a after"]


def test_lookups_with_unstorable_text_answer_instead_of_crashing(tmp_path: Path) -> None:
    """An id, filter or search typed with a non-UTF-8 byte finds nothing or what is shown."""
    from jobdeck.core import UnknownJob

    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        ctx = tracker.create_job("t", title=NAME)
        tracker.complete_job(ctx.job_id)
        assert tracker.get_job(NAME) is None
        assert tracker.logs(NAME) == []
        with pytest.raises(UnknownJob):
            tracker.complete_job(NAME)
        assert tracker.cancel_job(NAME) is False
        with pytest.raises(ValueError, match="depends_on: no job"):
            tracker.enqueue("t", depends_on=[NAME])
        assert [j.id for j in tracker.list_jobs(search=NAME)] == [ctx.job_id]
        assert tracker.count_jobs(type=NAME) == 0
        assert tracker.list_jobs(type=["t", NAME], before=NAME) != []
