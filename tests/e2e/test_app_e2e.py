"""The real ``jobdeck`` process on a virtual X display: it shows queued work in the taskbar,
can be screenshotted, and quits cleanly on SIGTERM."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker, StoreError

from .driven import driven_app, percent_shown, screenshot, stored
from .xsession import XSession, running_app, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_with_progress(db: Path) -> int:
    try:
        with JobTracker.open(db, read_only=True) as reader:
            return sum(
                1 for j in reader.list_jobs(status="running") if (j.progress.percent or 0) > 0
            )
    except StoreError:
        return 0  # not created yet


def test_app_shows_jobs_screenshots_and_quits_cleanly(tmp_path: Path) -> None:
    with XSession() as session:
        db = session.tmp / "jobs.db"
        with running_app(session, "--db", str(db), "--demo") as app:
            wait_for(lambda: running_with_progress(db) >= 2, 40, "jobs to report progress")
            wait_for(
                lambda: {"Jobdeck", "Jobdeck jobs"} <= set(session.window_names()),
                20,
                "the main window and the taskbar to be mapped",
            )
            shot = session.grab(tmp_path / "jobdeck-e2e.png")
            assert shot.stat().st_size > 10_000  # a real picture, not an empty screen
            status, _out, err = stop(app)
        assert status == 0, err
        assert "QObject" not in err and "QThread" not in err and "Traceback" not in err, err
        with JobTracker.open(db, read_only=True) as reader:
            assert reader.count_jobs(status=JobStatus.RUNNING) == 0
            assert reader.count_jobs(status=JobStatus.CANCELLED) >= 2


def test_a_job_started_after_an_idle_spell_shows_its_percentage() -> None:
    """Issue 8, section 1: the real app runs a job, stays idle, runs another; the second
    job's taskbar row shows its percentage while it runs, and the store has its progress."""
    with XSession() as session, driven_app(session, session.tmp / "jobs.db") as app:
        first = app.gated_job("First job", "30%", "wait:first", "100%")
        app.wait_for_row(first, lambda r: percent_shown(r) == "30%", "30%")
        app.open_gate("first")
        app.wait_for(lambda: not app.rows(), "the finished row to leave the taskbar")
        assert stored(app.db, first).status is JobStatus.COMPLETED  # type: ignore[union-attr]

        idle_until = time.monotonic() + 3  # nothing runs for a few seconds
        while time.monotonic() < idle_until:
            assert app.proc.poll() is None and not app.rows()
            time.sleep(0.2)

        second = app.gated_job("After the idle spell", "45%", "wait:second", "100%")
        row = app.wait_for_row(second, lambda r: percent_shown(r) == "45%", "45%")
        assert row["title"] == "After the idle spell" and row["status"] == "running"
        assert row["bar"] == [450, 1000]
        app.wait_for(
            lambda: (job := stored(app.db, second)) is not None and job.progress.percent == 45,
            "the store to hold the second job's progress while it runs",
        )
        screenshot(session, "after-idle")
        app.open_gate("second")
        app.wait_for_row(second, lambda r: r["status"] == "completed", "the outcome")
        assert app.terminate() == 0, app.stderr
    assert "Traceback" not in app.stderr, app.stderr
