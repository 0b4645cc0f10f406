"""Issue 9, item 11 (log files): a chatty program's failure quotes its real last lines, and
its log is capped, keeping the head and the tail.

The program writes far more than the watcher can parse as it goes, then fails. Its failure
message must quote the lines it really ended with (read from the end of the log), not the
place the parser had got to; the log file must stay under the configured cap and still
show how the program started and how it ended.
"""

from __future__ import annotations

import os
import stat
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

CAP = 1024 * 1024
#: ~120 MB of output as fast as a pipe takes it, then two last lines and a failure.
CHATTY = (
    "echo 'first line of the job'; "
    "yes 'filler line, filler line, filler line, filler line' | head -c 120000000; "
    "echo 'almost done: 99 of 100'; echo 'fatal: the real last line'; exit 3"
)


@pytest.fixture
def runner(event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, grace=1.0, max_log_bytes=CAP)
    runner.start()
    yield runner
    runner.shutdown(timeout=10)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def test_a_chatty_failure_quotes_its_real_last_lines_and_its_log_is_capped(
    qtbot: Any, runner: Runner
) -> None:
    tracker = runner.tracker
    job = tracker.enqueue("command", {"argv": CHATTY, "shell": True})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=120_000)  # type: ignore[union-attr]
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    error = str(done.error)
    assert error.startswith("exit status 3; last output:\n"), error
    assert error.endswith("almost done: 99 of 100\nfatal: the real last line"), error

    log_path = Path(done.log_path or "")
    size = log_path.stat().st_size
    assert size <= CAP
    assert stat.S_IMODE(os.stat(log_path).st_mode) == 0o600
    with open(log_path, "rb") as f:
        head = f.read(4096)
        f.seek(size - 4096)
        tail = f.read()
        f.seek(0)
        text = f.read()
    assert head.startswith(b"first line of the job\nfiller line")
    assert tail.endswith(b"almost done: 99 of 100\nfatal: the real last line\n")
    marker = text[text.index(b"[jobdeck: ") :].split(b"\n", 1)[0].decode()
    omitted = int(marker.split()[1])
    assert 118_000_000 < omitted < 120_000_000, marker
    assert "bytes of output left out here" in marker
