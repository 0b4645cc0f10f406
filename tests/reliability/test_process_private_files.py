"""Issue 9, item 6 (files): what the runtime writes is private to the user, whatever the
umask: the store's folder, the logs directory and its logs, the supervisor records and
their directory, the channel's directory and socket.

Another local user once read a secret passed in a command job's ``env`` from a 0644 log and
a 0755 logs directory.
"""

from __future__ import annotations

import os
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.supervisor_client import socket_path_for
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

WAIT_MS = 20_000


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


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


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_logs_records_and_the_channel_are_private_whatever_the_umask(
    qtbot: Any, event_loop_qt: Any, umask: int, tracker: JobTracker, tmp_path: Path
) -> None:
    runner = Runner(tracker, grace=1.0)
    runner.start()
    try:
        gate = tmp_path / "go"
        secret = "s3cret-" + uuid.uuid4().hex
        job = tracker.enqueue(
            "command",
            {
                "argv": [
                    sys.executable,
                    "-c",
                    "import os, pathlib, time\n"
                    "print('token is', os.environ['API_TOKEN'], flush=True)\n"
                    "while not pathlib.Path(os.environ['GATE']).exists(): time.sleep(0.01)\n",
                ],
                "env": {"API_TOKEN": secret, "GATE": str(gate)},
            },
        )
        qtbot.waitUntil(
            lambda: tracker.get_job(job.id).progress.message.startswith("token is"),  # type: ignore[union-attr]
            timeout=WAIT_MS,
        )
        store_dir = tmp_path / "jobs.db.d"
        log = store_dir / "logs" / f"{job.id}.log"
        record = store_dir / "supervised" / f"{job.id}.json"
        # The service writes the record once the program has run a moment (RECORD_DELAY).
        qtbot.waitUntil(record.exists, timeout=WAIT_MS)
        assert secret in log.read_text()
        # The record keeps the channel token, not the program's environment.
        assert secret not in record.read_text() and '"token"' in record.read_text()
        assert mode(store_dir) == 0o700
        assert mode(store_dir / "logs") == 0o700
        assert mode(log) == 0o600
        assert mode(store_dir / "supervised") == 0o700
        assert mode(record) == 0o600
        channel = runner.channel_path
        assert channel is not None
        assert mode(channel.parent) == 0o700
        assert mode(channel) == 0o600
        service = socket_path_for(store_dir / "supervised")
        assert mode(service.parent) == 0o700
        assert mode(service) == 0o600
        gate.touch()
        qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
        assert tracker.get_job(job.id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
        assert mode(log) == 0o600
    finally:
        assert runner.shutdown(timeout=10)


def test_an_older_too_open_log_is_made_private_when_a_retry_appends_to_it(
    qtbot: Any, event_loop_qt: Any, umask: int, tracker: JobTracker, tmp_path: Path
) -> None:
    # A log and a logs directory left by an earlier version, readable by everyone.
    old_dir = tmp_path / "logs"
    old_dir.mkdir()
    os.chmod(old_dir, 0o755)
    job = tracker.enqueue("command", {"argv": ["echo", "second attempt"]}, max_attempts=2)
    old_log = old_dir / f"{job.id}.log"
    old_log.write_text("first attempt\n")
    os.chmod(old_log, 0o644)
    with tracker.batch():
        tracker.start_job(job.id)
        tracker.set_process_info(job.id, log_path=str(old_log))
        tracker.retry_later(job.id, tracker.now(), "interrupted")
    runner = Runner(tracker, grace=1.0)
    runner.start()
    try:
        qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
        done = tracker.get_job(job.id)
        assert done is not None
        assert done.status is JobStatus.COMPLETED, done.error
        assert done.log_path == str(old_log)
        assert old_log.read_text() == "first attempt\nsecond attempt\n"
        assert mode(old_log) == 0o600
        assert mode(old_dir) == 0o700
    finally:
        assert runner.shutdown(timeout=10)
