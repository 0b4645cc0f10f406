"""The real ``jobdeck`` process on a virtual X display: it shows queued work in the taskbar,
can be screenshotted, and quits cleanly on SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker, StoreError

from .xsession import XSession, running_app, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
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
