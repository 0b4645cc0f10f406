"""Live progress keeps flowing after the tracker has been idle (no job running).

Regression: the pump thread waited with no timeout once nothing ran, and a job started
later never woke it, so every job after the first idle moment showed no progress at all.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from jobdeck.core import EventKind, JobEvent, JobTracker

from .conftest import wait_until


def _idle_until_the_pump_sleeps(tracker: JobTracker) -> None:
    """Let the pump notice that nothing runs and go to sleep (it waits ~event_interval)."""
    pump = tracker._pump
    assert pump.is_alive()
    time.sleep(max(0.2, tracker.event_interval * 20))  # an idle gap, as a user has


def test_progress_events_and_stored_progress_after_idle(db_path: Path) -> None:
    tracker = JobTracker.open(db_path, flush_interval=0.05, event_interval=0.01)
    progress: list[JobEvent] = []
    got = threading.Event()

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            progress.append(event)
            if event.job.progress.message == "step 9":
                got.set()

    tracker.subscribe(on_event)
    first = tracker.create_job("first")
    first.update_progress(1, 10)
    assert wait_until(lambda: any(e.job.id == first.job_id for e in progress))
    tracker.complete_job(first.job_id, success=True)
    _idle_until_the_pump_sleeps(tracker)

    second = tracker.create_job("second")
    for i in range(10):
        second.update_progress(i, 10, f"step {i}")
    assert got.wait(5), "no progress event for a job started after an idle gap"
    assert {e.job.id for e in progress} >= {second.job_id}

    reader = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:

        def stored() -> tuple[float, float, str]:
            return reader.execute(
                "SELECT progress_current, progress_total, progress_message FROM jobs WHERE id = ?",
                (second.job_id,),
            ).fetchone()

        assert wait_until(lambda: stored() == (9, 10, "step 9")), stored()
    finally:
        reader.close()
        tracker.close()


def test_log_lines_after_idle_reach_subscribers(db_path: Path) -> None:
    tracker = JobTracker.open(db_path, event_interval=0.01)
    lines: list[str] = []
    tracker.subscribe(
        lambda e: lines.append(e.log.message) if e.kind is EventKind.LOG and e.log else None
    )
    first = tracker.create_job("first")
    first.log("one")
    assert wait_until(lambda: lines == ["one"])
    tracker.complete_job(first.job_id, success=True)
    _idle_until_the_pump_sleeps(tracker)
    second = tracker.create_job("second")
    second.log("two")
    assert wait_until(lambda: lines == ["one", "two"]), lines
    tracker.close()


def test_several_idle_gaps_in_a_session(db_path: Path) -> None:
    """A day has many idle moments: each job after each gap still reports."""
    tracker = JobTracker.open(db_path, event_interval=0.01)
    seen: dict[str, float] = {}
    tracker.subscribe(
        lambda e: (
            seen.__setitem__(e.job.id, e.job.progress.current)
            if e.kind is EventKind.PROGRESS
            else None
        )
    )
    for round_ in range(3):
        ctx = tracker.create_job(f"round {round_}")
        ctx.update_progress(5, 10)
        assert wait_until(lambda ctx=ctx: seen.get(ctx.job_id) == 5), f"round {round_}"  # type: ignore[misc]
        tracker.complete_job(ctx.job_id, success=True)
        _idle_until_the_pump_sleeps(tracker)
    tracker.close()
