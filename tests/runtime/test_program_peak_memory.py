"""A program's peak memory is its own, never its supervisor's.

The supervisor service starts programs with ``posix_spawn`` (a vfork): Linux counts the
memory of the image before the exec (the service's) in the child's ``ru_maxrss``, so that
alone would report the service's size for every small program.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import psutil

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner

from .conftest import finished

WAIT_MS = 30_000


def test_a_small_program_reports_its_own_peak_not_the_supervisors(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    runner = make_runner(tracker=real_tracker)
    job = real_tracker.enqueue("command", {"argv": ["sleep", "1.5"]})
    qtbot.waitUntil(lambda: real_tracker.get_job(job.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    pid = real_tracker.get_job(job.id).pid  # type: ignore[union-attr]
    assert pid is not None
    service = psutil.Process(pid).parent()
    assert service is not None
    service_rss = service.memory_info().rss
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.peak_rss is not None
    assert done.peak_rss < service_rss / 2, (done.peak_rss, service_rss)
    assert runner.shutdown(timeout=10)


def test_a_program_that_allocates_50_mb_reports_at_least_that(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    runner = make_runner(tracker=real_tracker)
    code = "x = bytearray(50_000_000)\nx[::4096] = b'1' * len(x[::4096])\n"
    job = real_tracker.enqueue("command", {"argv": [sys.executable, "-c", code]})
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.peak_rss is not None and done.peak_rss >= 50_000_000, done.peak_rss
    assert runner.shutdown(timeout=10)


def test_a_program_over_too_soon_to_measure_reports_no_peak_rather_than_a_wrong_one(
    qtbot: Any, real_tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    runner = make_runner(tracker=real_tracker)
    job = real_tracker.enqueue("command", {"argv": ["true"]})
    qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=WAIT_MS)
    done = real_tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    # The service's ~15 MB is never shown; a slow machine may have measured `true` itself.
    assert done.peak_rss is None or done.peak_rss < 8_000_000, done.peak_rss
    assert done.cpu_seconds is not None
    assert runner.shutdown(timeout=10)
