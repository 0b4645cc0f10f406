"""rsync as a command job: its progress and its own rate and time-left text reach the job."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner

from .conftest import ProgressRecorder, finished

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")

RATE = re.compile(r"^[0-9]+\.[0-9]{2}[kMGT]B/s(, ([0-9]+ files? transferred|[0-9:]+ left))?$")


def test_rsync_progress2_reports_percent_and_its_rate_as_the_message(
    qtbot, runner: Runner, tracker: JobTracker, progress: ProgressRecorder, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for i in range(4):
        (source / f"f{i}").write_bytes(bytes([i]) * 400_000)
    argv = ["rsync", "-a", "--info=progress2", "--bwlimit=2000", f"{source}/", str(tmp_path / "d")]
    job = tracker.enqueue("command", {"argv": argv})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=20_000)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    assert (tmp_path / "d" / "f3").read_bytes() == bytes([3]) * 400_000
    running = [e.job for e in progress.events if e.job.id == job.id and e.job.progress.total]
    assert {j.progress.total for j in running} == {100}
    assert progress.max_current[job.id] == 100
    messages = {j.progress.message for j in running}
    assert messages and all(RATE.match(m) for m in messages), messages
    assert any("transferred" in m for m in messages), messages
