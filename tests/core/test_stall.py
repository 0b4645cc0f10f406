"""Stalled jobs (jobdeck.core.stall): no progress and no output for too long."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobdeck.core.job import Job, JobStatus, Progress, new_job_id
from jobdeck.core.stall import StallWatch

T0 = 1_700_000_000.0


def running(type_name: str = "command", current: float = 0, message: str = "") -> Job:
    return Job(
        id=new_job_id(T0),
        type=type_name,
        title="job",
        status=JobStatus.RUNNING,
        created_ts=T0,
        started_ts=T0,
        progress=Progress(current, 100, message),
    )


def test_a_silent_job_stalls_once_and_recovers_with_progress() -> None:
    watch = StallWatch(after_s=600)
    job = running()
    watch.seen(job, T0)
    assert watch.check(T0 + 599).stalled == {}
    first = watch.check(T0 + 601)
    assert first.stalled == {job.id: pytest.approx(601)}
    assert watch.check(T0 + 900).stalled == {}  # said once
    assert watch.silence(job.id, T0 + 720) == pytest.approx(720)
    watch.seen(replace(job, progress=Progress(1, 100)), T0 + 901)
    changes = watch.check(T0 + 902)
    assert changes.recovered == [job.id]
    assert watch.silence(job.id, T0 + 902) is None
    assert watch.check(T0 + 901 + 599).stalled == {}  # a full period again


def test_output_and_log_lines_are_signs_of_life() -> None:
    watch = StallWatch(after_s=60)
    job = running()
    watch.seen(job, T0)
    watch.seen(replace(job, progress=Progress(0, 100, "compiling a.c")), T0 + 50)
    assert watch.check(T0 + 100).stalled == {}
    watch.alive(job.id, T0 + 105)
    assert watch.check(T0 + 160).stalled == {}
    assert job.id in watch.check(T0 + 166).stalled


def test_the_same_snapshot_again_is_no_sign_of_life() -> None:
    watch = StallWatch(after_s=60)
    job = running(current=5, message="same")
    watch.seen(job, T0)
    watch.seen(job, T0 + 50)
    assert job.id in watch.check(T0 + 61).stalled


def test_limits_per_type_and_finished_jobs_are_forgotten() -> None:
    watch = StallWatch(after_s=600, by_type={"backup": 3600})
    backup, build = running("backup"), running("build")
    watch.seen(backup, T0)
    watch.seen(build, T0)
    assert set(watch.check(T0 + 700).stalled) == {build.id}
    watch.seen(replace(build, status=JobStatus.COMPLETED), T0 + 701)
    changes = watch.check(T0 + 3601)
    assert set(changes.stalled) == {backup.id}
    assert changes.recovered == [build.id]  # no longer shown as stalled
    assert not watch.watching or set(watch.stalled(T0 + 3601)) == {backup.id}


def test_bad_limits_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="more than 0"):
        StallWatch(after_s=0)
    with pytest.raises(ValueError, match="backup"):
        StallWatch(by_type={"backup": -1})
