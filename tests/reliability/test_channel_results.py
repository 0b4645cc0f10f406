"""Issue 9, item 4: a job's reported result never races its exit.

Many short process jobs each report ``completed`` with a result through the channel and
exit at once, while another job floods the channel with progress messages. The exit of
each job must be judged only after its connection was read to the end: every result is
kept.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import Job, JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

REPORTER = """
    import json, os, socket, sys, time
    job = os.environ["JOBDECK_JOB_ID"]
    def line(**m):
        return json.dumps({"jobId": job, "timestamp": time.time(), **m}).encode() + b"\\n"
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["JOBDECK_CHANNEL"])
    s.sendall(line(type="hello", token=os.environ["JOBDECK_TOKEN"])
              + line(type="completed", result={"n": int(sys.argv[1])}))
    s.close()
"""

FLOODER = """
    import json, os, socket, sys, time
    job = os.environ["JOBDECK_JOB_ID"]
    def line(**m):
        return json.dumps({"jobId": job, "timestamp": time.time(), **m}).encode() + b"\\n"
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["JOBDECK_CHANNEL"])
    s.sendall(line(type="hello", token=os.environ["JOBDECK_TOKEN"]))
    stop = sys.argv[1]
    i = 0
    while not os.path.exists(stop):
        batch = b"".join(line(type="progress", current=i + k, total=0) for k in range(500))
        i += 500
        s.sendall(batch)
    s.sendall(line(type="completed", result={"sent": i}))
    s.close()
"""


def job_of(tracker: JobTracker, job_id: str) -> Job:
    job = tracker.get_job(job_id)
    assert job is not None, job_id
    return job


@pytest.fixture
def app(event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, max_workers=9, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    yield runner
    runner.shutdown(timeout=10)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def program(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


@pytest.mark.slow
def test_every_reported_result_is_kept_while_the_channel_is_busy(
    qtbot: Any, app: Runner, tmp_path: Path
) -> None:
    tracker = app.tracker
    stop = tmp_path / "stop-flooding"
    flooder = tracker.enqueue(
        "command",
        {"argv": [sys.executable, "-I", "-S", program(tmp_path, "flood.py", FLOODER), str(stop)]},
        priority=10,
    )
    qtbot.waitUntil(lambda: job_of(tracker, flooder.id).progress.current > 1000, timeout=20_000)
    reporter = program(tmp_path, "report.py", REPORTER)
    count = 200
    with tracker.batch():
        ids = [
            tracker.enqueue("command", {"argv": [sys.executable, "-I", "-S", reporter, str(n)]}).id
            for n in range(count)
        ]

    def all_done() -> bool:
        return all(job_of(tracker, job_id).finished for job_id in ids)

    try:
        qtbot.waitUntil(all_done, timeout=240_000)
    finally:
        stop.touch()
    jobs = [job_of(tracker, job_id) for job_id in ids]
    failed = [(j.id, j.status, j.error) for j in jobs if j.status is not JobStatus.COMPLETED]
    assert not failed
    lost = [n for n, job in enumerate(jobs) if job.result != {"n": n}]
    assert not lost, f"{len(lost)}/{count} results lost: {lost[:20]}"
    qtbot.waitUntil(lambda: job_of(tracker, flooder.id).finished, timeout=20_000)
    flood = job_of(tracker, flooder.id)
    assert flood.status is JobStatus.COMPLETED and flood.result["sent"] > 1000
