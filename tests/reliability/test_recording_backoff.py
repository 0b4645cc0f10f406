"""An outcome the store refused is written as soon as the store takes changes again, however
long the backoff it was waiting out (QA on a shared board: a job that ended while the
board was away showed "running" for up to half a minute after the board was back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.runtime.executors.base import Outcome, Run
from jobdeck.runtime.recording import RETRY_MAX, OutcomeRecorder
from tests.reliability.test_tracker_full_disk import fill_disk, free_disk


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_a_waiting_outcome_is_written_once_the_store_is_back_not_after_its_backoff(
    qtbot: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=clock, flush_interval=3600)
    written: list[str] = []
    recorder = OutcomeRecorder(tracker, clock, lambda run: written.append(run.job_id))
    try:
        job = tracker.enqueue("x", title="ends while the store is away")
        ctx = tracker.start_job(job.id)
        run = Run(job, None, ctx, None, deadline=None, reattached=False, report=lambda *_: None)  # type: ignore[arg-type]
        fill_disk(tracker)
        recorder.record(run, Outcome(JobStatus.COMPLETED, result={"names": "n" * 20_000}))
        assert recorder.waiting() == 1
        # The store stays away for long: the retries have backed off to their longest.
        for _ in range(8):
            recorder.record_waiting()
        assert recorder.waiting() == 1 and recorder._delay == RETRY_MAX
        free_disk(tracker)
        tracker.enqueue("x", title="another write: the store takes changes again")
        assert tracker.store_error is None
        qtbot.waitUntil(lambda: written == [job.id], timeout=5000)  # not RETRY_MAX (30 s)
        done = tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.COMPLETED
    finally:
        recorder.close()
        tracker.close()
