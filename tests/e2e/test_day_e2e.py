"""A day of use in under a minute, in the real app on a 1280x800 X display (issue 8).

Bursts of jobs, a cancel from the taskbar, idle spells, quitting with a program kept
running in the background (the real quit question, answered by clicking its button), a
restart that re-attaches it, and a second burst. At each step the test checks what a user
sees — the taskbar's rows (title, percentage, outcome) and the quit question — and what
the history holds, read from the store by another process.

Process jobs run :data:`~tests.e2e.driven.GATED_PROGRAM`: they print progress and wait at
gates the test opens, so every check happens while the job is known to be at that point.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import JobStatus, JobTracker

from .driven import DrivenApp, driven_app, percent_shown, screenshot, stored
from .xsession import XSession

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEEP = "Keep running in the background and quit"


def status_of(db: Path, job_id: str) -> JobStatus | None:
    job = stored(db, job_id)
    return None if job is None else job.status


def has_percent(row: dict[str, Any]) -> bool:
    return percent_shown(row) is not None


def idle(app: DrivenApp, seconds: float) -> None:
    """All rows gone; nothing happens for ``seconds`` (the app stays up and shows nothing)."""
    app.wait_for(lambda: not app.rows(), "the finished rows to leave the taskbar")
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        assert app.proc.poll() is None and not app.rows(), app.describe()
        time.sleep(0.2)


def test_a_day_of_use() -> None:
    with XSession() as session:
        db = session.tmp / "jobs.db"

        # -- morning: a burst of three jobs, one of them cancelled from the taskbar ----------
        with driven_app(session, db, name="morning") as app:
            gated = app.gated_job("Morning: gated", "20%", "wait:morning", "100%")
            to_cancel = app.enqueue("countdown", {"seconds": 60}, title="Morning: to cancel")
            short = app.enqueue("countdown", {"seconds": 1}, title="Morning: short")

            row = app.wait_for_row(gated, lambda r: percent_shown(r) == "20%", "20%")
            assert row["title"] == "Morning: gated" and row["status"] == "running"
            app.wait_for_row(to_cancel, has_percent, "a percentage")
            app.request("cancel", job_id=to_cancel)
            row = app.wait_for_row(to_cancel, lambda r: r["status"] == "cancelled", "cancelled")
            assert row["message"] == "Cancelled"
            app.wait_for(lambda: status_of(db, short) is JobStatus.COMPLETED, "the short job")
            app.open_gate("morning")
            app.wait_for_row(gated, lambda r: r["status"] == "completed", "its outcome")
            done = stored(db, gated)
            assert done is not None and done.status is JobStatus.COMPLETED
            assert (done.progress.current, done.progress.total) == (100, 100)
            assert status_of(db, to_cancel) is JobStatus.CANCELLED

            # -- an idle spell, then a second burst: live progress again --------------------
            idle(app, 2)
            kept = app.gated_job(
                "Kept across a restart", "25/100", "wait:kept-1", "60/100", "wait:kept-2", "100/100"
            )
            cancelled_at_quit = app.enqueue("countdown", {"seconds": 60}, title="Cancelled at quit")
            app.wait_for_row(kept, lambda r: percent_shown(r) == "25%", "25%")
            app.wait_for_row(cancelled_at_quit, has_percent, "a percentage")
            app.wait_for(
                lambda: (job := stored(db, kept)) is not None and job.progress.current == 25,
                "the store to hold the kept job's progress",
            )
            screenshot(session, "day-1-before-quit")

            # -- quit, keeping the program running: the real question, its real button ------
            app.request("quit")
            dialog = app.wait_for(
                lambda: next(iter(app.state()["dialogs"]), None),  # type: ignore[index]
                "the quit question",
            )
            assert dialog["text"] == "2 jobs are still running."
            assert KEEP in dialog["buttons"] and "Stay" in dialog["buttons"]
            app.request("click", button=KEEP)
            assert app.finish() == 0, app.stderr
            assert "Traceback" not in app.stderr, app.stderr

        kept_job = stored(db, kept)
        assert kept_job is not None and kept_job.status is JobStatus.RUNNING
        assert kept_job.pid is not None and psutil.pid_exists(kept_job.pid)
        assert status_of(db, cancelled_at_quit) is JobStatus.CANCELLED

        # -- while Jobdeck is closed the program goes on ----------------------------------
        (session.tmp / "gates" / "kept-1").touch()
        assert kept_job.log_path is not None
        log = Path(kept_job.log_path)
        deadline = time.monotonic() + 30
        while "60/100" not in log.read_text():
            assert time.monotonic() < deadline, "the kept program did not go on"
            time.sleep(0.05)

        # -- afternoon: a restart re-attaches it; it finishes; another burst --------------
        with driven_app(session, db, name="afternoon") as app:
            row = app.wait_for_row(kept, lambda r: r["status"] == "running", "it running")
            assert row["title"] == "Kept across a restart"
            app.wait_for_row(kept, has_percent, "a percentage")
            screenshot(session, "day-2-after-restart")
            app.open_gate("kept-2")
            row = app.wait_for_row(kept, lambda r: r["status"] == "completed", "its outcome")
            assert row["message"].startswith("Done")
            done = stored(db, kept)
            assert done is not None and done.status is JobStatus.COMPLETED
            assert (done.progress.current, done.progress.total, done.exit_code) == (100, 100, 0)

            idle(app, 1)
            late = app.gated_job("Afternoon: gated", "70%", "wait:afternoon", "100%")
            quick = app.enqueue("countdown", {"seconds": 1}, title="Afternoon: short")
            app.wait_for_row(late, lambda r: percent_shown(r) == "70%", "70%")
            app.wait_for(
                lambda: (job := stored(db, late)) is not None and job.progress.current == 70,
                "the store to hold the afternoon job's progress",
            )
            app.wait_for(lambda: status_of(db, quick) is JobStatus.COMPLETED, "the short job")
            app.open_gate("afternoon")
            app.wait_for_row(late, lambda r: r["status"] == "completed", "its outcome")
            assert app.terminate() == 0, app.stderr
            assert "Traceback" not in app.stderr, app.stderr

        # -- the day's history --------------------------------------------------------------
        with JobTracker.open(db, read_only=True) as reader:
            history = {job.title: job.status for job in reader.list_jobs()}
        assert history == {
            "Morning: gated": JobStatus.COMPLETED,
            "Morning: to cancel": JobStatus.CANCELLED,
            "Morning: short": JobStatus.COMPLETED,
            "Kept across a restart": JobStatus.COMPLETED,
            "Cancelled at quit": JobStatus.CANCELLED,
            "Afternoon: gated": JobStatus.COMPLETED,
            "Afternoon: short": JobStatus.COMPLETED,
        }
