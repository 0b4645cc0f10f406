"""A real program's timeline: its progress (parsed from its output) and its RSS and CPU over
time, stored with the job when it ends."""

from __future__ import annotations

import sys
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
