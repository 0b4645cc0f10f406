"""Issue 15 item 3: with many expired jobs the app shows its window first, then cleans up in
batches on a thread of its own; the window stays usable and new jobs run and are recorded
meanwhile."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from jobdeck.app import JobdeckApp, QuitChoice
from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core import retention as retention_module
from jobdeck.settings import AppSettings

OLD_JOBS = 600


def expired_store(db: Path) -> tuple[list[str], str]:
    """``OLD_JOBS`` jobs that finished eight days ago (their log files beside the store),
    and one from yesterday."""
    clock = FakeClock(time.time() - 8 * 86_400)
    logs = db.parent / f"{db.name}.d" / "logs"
    logs.mkdir(parents=True)
    old = []
    with JobTracker.open(db, clock=clock) as tracker:
        for i in range(OLD_JOBS):
            ctx = tracker.create_job("command", title=f"old {i}")
            log_file = logs / f"{ctx.job_id}.log"
            log_file.write_text("done\n")
            tracker.set_process_info(ctx.job_id, log_path=str(log_file))
            tracker.complete_job(ctx.job_id)
            old.append(ctx.job_id)
        clock.advance(timedelta(days=7))
        recent = tracker.create_job("command", title="yesterday")
        tracker.complete_job(recent.job_id)
    return old, recent.job_id


def test_the_window_comes_first_and_jobs_run_while_old_ones_are_cleaned_up(
    qapp: QApplication, tmp_path: Path, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "jobs.db"
    old, recent = expired_store(db)
    # Small, slow batches, so the clean-up is still going when the job below is queued.
    monkeypatch.setattr(retention_module, "BATCH_JOBS", 10)
    monkeypatch.setattr(retention_module, "PAUSE_S", 0.03)
    settings = AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))
    app = JobdeckApp(
        qapp, db, settings=settings, confirm_quit=lambda r, p: QuitChoice.CANCEL_AND_QUIT
    )
    try:
        assert app.tracker.count_jobs() == OLD_JOBS + 1  # the window opens on the full store
        with qtbot.waitSignal(app.cleanupFinished, timeout=60_000) as finished:
            app.start()
            qtbot.waitUntil(lambda: app.tracker.cleanup_running, timeout=10_000)
            assert app.window.isVisible()
            job = app.tracker.enqueue("countdown", {"seconds": 0.1})
            qtbot.waitUntil(
                lambda: app.tracker.get_job(job.id).status is JobStatus.COMPLETED,  # type: ignore[union-attr]
                timeout=15_000,
            )
            assert app.tracker.cleanup_running, "the job waited for the whole clean-up"
            assert app.window.model.row_of(job.id) is not None
        result = finished.args[0]
        assert result.jobs == OLD_JOBS and not result.stopped
        assert all(app.tracker.get_job(i) is None for i in old)
        assert app.tracker.get_job(recent) is not None
        assert app.tracker.count_jobs() == 2
        assert not list((tmp_path / "jobs.db.d" / "logs").glob("*.log"))
        # the history no longer lists the deleted jobs
        model = app.window.model
        assert {model.job_at(r).id for r in range(model.rowCount())} == {recent, job.id}
    finally:
        app.shutdown()
