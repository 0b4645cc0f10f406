"""A real program's timeline: its progress (parsed from its output) and its RSS and CPU over
time, stored with the job when it ends."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner

from .conftest import MARKER, _tagged_processes, finished

PROGRAM = (
    "import time\n"
    "block = []\n"
    "for i in range(1, 11):\n"
    "    block.append(bytearray(3_000_000))\n"  # it grows by 3 MB a step
    "    sum(range(200_000))\n"
    "    print(f'{i}/10', flush=True)\n"
    "    time.sleep(0.3)\n"
)


def test_a_program_has_a_progress_and_resource_timeline(
    qtbot,
    event_loop_qt: Any,
    real_tracker: JobTracker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MARKER, marker := uuid.uuid4().hex)
    runner = Runner(real_tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    try:
        job = real_tracker.enqueue("command", {"argv": [sys.executable, "-c", PROGRAM]})
        qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=30_000)
        done = real_tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.COMPLETED
        timeline = real_tracker.timeline(job.id)
        progress = timeline.progress
        assert progress[0][1] == 0.0 and progress[-1][1:] == (10.0, 10.0)
        assert len(progress) >= 3  # steps seen on the way, not only the start and the end
        resources = timeline.resources
        assert len(resources) >= 2
        assert all(rss > 0 for _t, rss, _cpu in resources)
        assert resources[-1][1] > resources[0][1]  # it grew
        assert done.peak_rss is not None and max(r[1] for r in resources) <= done.peak_rss
    finally:
        assert runner.shutdown(timeout=5)
        assert not _tagged_processes(marker)


GATED = (
    "import os, sys, time\n"
    "block = bytearray(20_000_000)\n"
    "print('1/2', flush=True)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.05)\n"
    "print('2/2', flush=True)\n"
)


def test_a_running_programs_memory_is_charted_before_it_ends(
    qtbot,
    event_loop_qt: Any,
    real_tracker: JobTracker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobdeck.runtime import program_watcher

    monkeypatch.setattr(program_watcher, "RESOURCES_SAVE_INTERVAL", 1.0)
    monkeypatch.setenv(MARKER, marker := uuid.uuid4().hex)
    gate = tmp_path / "gate"
    runner = Runner(real_tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    try:
        job = real_tracker.enqueue("command", {"argv": [sys.executable, "-c", GATED, str(gate)]})
        qtbot.waitUntil(lambda: len(real_tracker.timeline(job.id).resources) >= 1, timeout=20_000)
        running = real_tracker.get_job(job.id)
        assert running is not None and running.status is JobStatus.RUNNING
        assert real_tracker.timeline(job.id).resources[-1][1] > 20e6  # its 20 MB block
        gate.touch()
        qtbot.waitUntil(lambda: finished(real_tracker, job.id), timeout=20_000)
        assert real_tracker.get_job(job.id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
    finally:
        assert runner.shutdown(timeout=5)
        assert not _tagged_processes(marker)


def last_progress(tracker: JobTracker, job_id: str) -> float:
    progress = tracker.timeline(job_id).progress
    return progress[-1][1] if progress else -1.0


TWO_HALVES = (
    "import os, sys, time\n"
    "for i in range(1, 5):\n"
    "    print(f'{i}/8', flush=True)\n"
    "    time.sleep(0.3)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.05)\n"
    "for i in range(5, 9):\n"
    "    print(f'{i}/8', flush=True)\n"
    "    time.sleep(0.3)\n"
)


def test_the_timeline_goes_on_across_a_restart(
    qtbot, event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program re-attached by a second app keeps the part of its timeline the first app
    saw, and the rest is added to it."""
    from tests.registries import with_command

    monkeypatch.setenv(MARKER, marker := uuid.uuid4().hex)
    db, gate = tmp_path / "jobs.db", tmp_path / "gate"
    first = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = Runner(first, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    job = first.enqueue("command", {"argv": [sys.executable, "-c", TWO_HALVES, str(gate)]})
    qtbot.waitUntil(lambda: last_progress(first, job.id) >= 4, timeout=20_000)
    runner.shutdown(timeout=5, keep_processes=True)
    first.close()  # its last flush stores the first half
    restarted = time.time()
    second = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = Runner(second, log_dir=tmp_path / "logs", grace=1.0)
    try:
        runner.start()
        gate.touch()
        qtbot.waitUntil(lambda: finished(second, job.id), timeout=20_000)
        progress = second.timeline(job.id).progress
        currents = [p[1] for p in progress]
        assert currents[0] == 0.0 and currents[-1] == 8.0
        seen_by_first = [p for p in progress if p[0] < restarted]
        assert len(seen_by_first) >= 2 and seen_by_first[-1][1] >= 4  # kept, not restarted
        assert currents == sorted(currents)
    finally:
        runner.shutdown(timeout=5)
        second.close()
        assert not _tagged_processes(marker)
