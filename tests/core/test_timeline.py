"""Each job's timeline: bounded and downsampled however long the job runs, written by the
progress pump in batches and at the job's end, read back after a restart, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.timeline import MAX_POINTS, JobTimeline, Timeline

from .conftest import either_store, wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def store_where(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    return either_store(request, db_path)


def test_a_timeline_stays_bounded_keeps_its_start_its_end_and_its_peaks() -> None:
    timeline = Timeline()
    for i in range(10_000):
        rss = 900.0 if i == 4321 else 100.0  # one short peak
        timeline.add(1000.0 + i, rss, i / 10)
    assert MAX_POINTS // 2 <= len(timeline) <= MAX_POINTS
    assert timeline.points[0] == (1000.0, 100.0, 0.0)
    assert timeline.points[-1][0] == 1000.0 + 9999 and timeline.points[-1][2] == 999.9
    assert max(p[1] for p in timeline.points) == 900.0
    times = [p[0] for p in timeline.points]
    assert times == sorted(times) and len(set(times)) == len(times)
    again = Timeline.from_json(timeline.to_json())
    assert again.points == timeline.points
    assert Timeline.from_json("not json").points == []
    with pytest.raises(ValueError, match="finite"):
        timeline.add(20_000.0, math.nan)


def flushed(tracker: JobTracker, job_id: str) -> float:
    """The progress of the last point of a job's timeline (-1: none yet)."""
    progress = tracker.timeline(job_id).progress
    return progress[-1][1] if progress else -1.0


def flushed_to(tracker: JobTracker, job_id: str, current: float) -> bool:
    return flushed(tracker, job_id) >= current


def test_a_jobs_progress_timeline_is_stored_with_it(
    tracker: JobTracker, clock: FakeClock, store_where: str | Path
) -> None:
    ctx = tracker.create_job("work", title="Long")
    started = clock()
    for step in range(1, 601):  # ten minutes of progress, a tick a second
        clock.advance(1)
        ctx.update_progress(step, 600)
        if step % 50 == 0:  # the pump flushes as time passes
            assert wait_until(partial(flushed_to, tracker, ctx.job_id, step - 50))
    live = tracker.timeline(ctx.job_id).progress
    assert live[0] == (started, 0.0, 600.0)  # it starts where the job did
    assert len(live) <= MAX_POINTS
    tracker.complete_job(ctx.job_id)
    done = tracker.timeline(ctx.job_id)
    assert done.progress[-1] == (clock(), 600.0, 600.0)
    assert 2 <= len(done.progress) <= MAX_POINTS
    assert done.resources == ()
    tracker.close()
    with JobTracker.open(store_where, read_only=True) as again:
        assert again.timeline(ctx.job_id) == done  # read from the store after a restart
        assert again.timeline("no-such-job") == JobTimeline()


def test_a_job_that_ends_before_any_flush_still_has_its_start_and_end(
    tracker: JobTracker, clock: FakeClock
) -> None:
    ctx = tracker.create_job("quick")
    clock.advance(2)
    ctx.update_progress(1, 1)
    tracker.complete_job(ctx.job_id)
    progress = tracker.timeline(ctx.job_id).progress
    assert progress[0][1:] == (0.0, 1.0) and progress[-1] == (clock(), 1.0, 1.0)
    assert tracker.get_job(ctx.job_id).status is JobStatus.COMPLETED  # type: ignore[union-attr]


def test_resource_samples_are_stored_bounded(tracker: JobTracker, clock: FakeClock) -> None:
    ctx = tracker.create_job("command")
    samples = [(clock() + i, 1e6 * (1 + i % 7), i * 0.5) for i in range(1000)]
    tracker.set_resource_usage(ctx.job_id, peak_rss=7_000_000, cpu_seconds=499.5, timeline=samples)
    tracker.complete_job(ctx.job_id)
    resources = tracker.timeline(ctx.job_id).resources
    assert 2 <= len(resources) <= MAX_POINTS
    assert max(p[1] for p in resources) == 7e6 and resources[-1][2] == 499.5
    with pytest.raises(ValueError, match="finite"):
        other = tracker.create_job("command")
        tracker.set_resource_usage(
            other.job_id, peak_rss=1, cpu_seconds=1, timeline=[(clock(), math.inf, 0.0)]
        )


def test_an_attempt_without_progress_is_stored_with_its_start_and_end(
    tracker: JobTracker, clock: FakeClock
) -> None:
    """(A first attempt has no stored timeline to read; a retried one reads what is.)"""
    job = tracker.enqueue("work", max_attempts=2)
    for attempt in (1, 2):
        tracker.start_job(job.id)
        started = clock()
        clock.advance(5)
        if attempt == 1:
            tracker.retry_later(job.id, clock(), "flaky")
            clock.advance(1)
        else:
            tracker.complete_job(job.id)
    assert tracker.timeline(job.id).progress == ((started, 0.0, 0.0), (clock(), 0.0, 0.0))
