"""Issue 9, item 9: process jobs work whatever the number of files the app has open, and
whatever idle connections crowd the channel.

``select()`` cannot watch a descriptor numbered 1024 or above; an app with more open files
than that (many connections, many logs) made every process job fail. The supervisor's and
the channel's waits use poll/epoll instead. 1,074 idle connections once put the app in a
busy loop where new process jobs failed; now the silent ones are capped and closed, and a
job's own connection gets through.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

ROOT = Path(__file__).resolve().parents[2]

REPORTS = """
    from jobdeck.worker import run_job

    def main(job):
        for i in range(1, 4):
            job.progress(current=i, total=3)
        print("3/3 done")
        return {"ok": True}

    run_job(main)
"""


@pytest.fixture
def many_open_files() -> Iterator[int]:
    """Over 1,100 descriptors open in this process; the highest one's number."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"the hard limit of open files ({hard}) is too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield max(held)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobTracker]:
    monkeypatch.setenv(MARKER, marker := uuid.uuid4().hex)
    t = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    yield t
    t.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


@pytest.mark.expected_log("had not said hello")
def test_a_process_job_works_with_over_1024_files_and_1100_idle_connections(
    qtbot: Any, event_loop_qt: Any, tracker: JobTracker, tmp_path: Path, many_open_files: int
) -> None:
    assert many_open_files > 1024
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    idle: list[socket.socket] = []
    try:
        channel = runner.channel_path
        assert channel is not None
        for _ in range(1100):  # silent connections, as from a buggy or hostile program
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.append(sock)
            sock.connect(str(channel))
        program = tmp_path / "job.py"
        program.write_text(textwrap.dedent(REPORTS))
        job = tracker.enqueue(
            "command",
            {"argv": [sys.executable, str(program)], "env": {"PYTHONPATH": str(ROOT / "desktop")}},
        )
        qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=20_000)  # type: ignore[union-attr]
        done = tracker.get_job(job.id)
        assert done is not None
        assert done.status is JobStatus.COMPLETED, done.error
        assert done.result == {"ok": True}
        assert done.progress.current == 3
    finally:
        for sock in idle:
            sock.close()
        assert runner.shutdown(timeout=10)
