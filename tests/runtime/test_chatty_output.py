"""Command jobs that print a lot, or little, read at a bounded cost (issue 15, item 1).

The app no longer parses every output line: a look at a job's log returns every line when
there are few and only the latest ones when there are many. These tests run real command
jobs through a Runner and JobSignals, as the app does, and check what users see: a chatty
job ends at its real final progress and message, promptly, having had only a small part of
its output parsed; a failing chatty job quotes its real last lines; a job that prints a line
now and then shows each line live and keeps each in its log; and all of this still holds for
a job started after the app has been idle.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import Job, JobStatus, JobTracker
from jobdeck.runtime import JobSignals, Runner, process_jobs
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

WAIT_MS = 30_000
LINES = 2_000_000
#: Lines of the chatty job that stops half way (enough to be read in jumps).
GATED_LINES = 400_000
#: Idle gaps before later jobs: a short pause and a longer one.
IDLE_GAPS_MS = (300, 1500)

#: Prints ``n`` percentages in big writes (fast whatever the buffering), then its last
#: lines, and writes down when it exited (argv: side file, exit status, n, [gate file]).
CHATTY = """
import os, sys, time
side, status, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
gate = sys.argv[4] if len(sys.argv) > 4 else None
chunk = 100_000
stop = n // 2 if gate else n
for start in range(0, stop, chunk):
    sys.stdout.write("".join(f"{i * 100 // n}%\\n" for i in range(start, start + chunk)))
    sys.stdout.flush()
if gate:
    print("50%", flush=True)
    while not os.path.exists(gate):
        time.sleep(0.02)
    for start in range(stop, n, chunk):
        sys.stdout.write("".join(f"{i * 100 // n}%\\n" for i in range(start, start + chunk)))
print("100%")
print(f"all done: {n} items")
if status:
    sys.stdout.write("".join(f"line {i} of the report\\n" for i in range(n)))
    sys.stdout.flush()
    print("FATAL: disk full while writing part 7", file=sys.stderr)
sys.stdout.flush()
sys.stderr.flush()
with open(side + ".tmp", "w") as f:
    f.write(repr(time.time()))
os.replace(side + ".tmp", side)
sys.exit(status)
"""

#: Prints one step at a time, each once its gate file exists (argv: gate prefix, steps).
SLOW = """
import os, sys, time
prefix, steps = sys.argv[1], int(sys.argv[2])
for k in range(1, steps + 1):
    print(f"compiling part {k}", flush=True)
    print(f"{k * 100 // steps}%", flush=True)
    while not os.path.exists(f"{prefix}{k}"):
        time.sleep(0.02)
print("linked", flush=True)
"""


class Seen:
    """The latest running snapshot of each job that JobSignals handed to widgets."""

    def __init__(self, signals: JobSignals) -> None:
        self.running: dict[str, Job] = {}
        signals.jobsChanged.connect(self._on_changed)

    def _on_changed(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status is JobStatus.RUNNING:
                self.running[job.id] = job

    def state(self, job_id: str) -> tuple[float, float, str] | None:
        job = self.running.get(job_id)
        if job is None:
            return None
        return job.progress.current, job.progress.total, job.progress.message


@dataclass
class Session:
    """One app session as the app wires it: tracker -> Runner -> JobSignals."""

    tracker: JobTracker
    runner: Runner
    seen: Seen
    #: How many output lines the app parsed, all jobs together.
    parsed: list[int]


@pytest.fixture
def session(
    event_loop_qt: asyncio.AbstractEventLoop,
    tmp_path: Path,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Session]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    parsed = [0]
    lock = threading.Lock()
    parse = process_jobs.parse_progress_line

    def counting_parse(line: str, program: Any = None) -> Any:
        with lock:
            parsed[0] += 1
        return parse(line, program)

    monkeypatch.setattr(process_jobs, "parse_progress_line", counting_parse)
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), flush_interval=0.1)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    signals = JobSignals(tracker)
    runner.start()
    yield Session(tracker, runner, Seen(signals), parsed)
    signals.close()
    assert runner.shutdown(timeout=5)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def run_chatty(qtbot: Any, session: Session, tmp_path: Path, status: int) -> tuple[Job, float]:
    """Run the chatty program to its end; the recorded job and when the program exited."""
    side = tmp_path / f"exited-{uuid.uuid4().hex[:6]}"
    argv = [sys.executable, "-c", CHATTY, str(side), str(status), str(LINES)]
    job = session.tracker.enqueue("command", {"argv": argv})
    qtbot.waitUntil(lambda: finished(session.tracker, job.id), timeout=WAIT_MS)
    done = session.tracker.get_job(job.id)
    assert done is not None
    return done, float(side.read_text())


def messages(tracker: JobTracker, job_id: str) -> list[str]:
    return [entry.message for entry in tracker.logs(job_id)]


def test_a_chatty_job_ends_at_its_real_progress_promptly_and_cheaply(
    qtbot: Any, session: Session, tmp_path: Path
) -> None:
    done, exited = run_chatty(qtbot, session, tmp_path, status=0)
    assert done.status is JobStatus.COMPLETED, done.error
    assert (done.progress.current, done.progress.total) == (100, 100)
    assert done.progress.message == f"all done: {LINES} items"  # its real last line
    assert done.completed_ts is not None
    # Recorded within seconds of its exit (it used to be minutes behind with 20 such jobs);
    # generous, because the machine is shared.
    assert done.completed_ts - exited < 10.0
    # Only a small part of its output was parsed: the latest lines of each look.
    assert session.parsed[0] < LINES // 100, session.parsed[0]
    # Its log says where its output is, then quotes its last lines (not the progress ones).
    logged = messages(session.tracker, done.id)
    assert len(logged) == 2, logged
    assert "prints faster than it can be copied here" in logged[0]
    assert done.log_path is not None and done.log_path in logged[0]
    assert logged[1] == f"all done: {LINES} items"


def test_a_failing_chatty_job_reports_its_real_last_lines(
    qtbot: Any, session: Session, tmp_path: Path
) -> None:
    done, exited = run_chatty(qtbot, session, tmp_path, status=3)
    assert done.status is JobStatus.FAILED and done.exit_code == 3
    assert done.error is not None
    head, _, tail = done.error.message.partition("; last output:\n")
    assert head == "exit status 3"
    expected = [f"line {i} of the report" for i in range(LINES - 9, LINES)]
    assert tail.splitlines() == [*expected, "FATAL: disk full while writing part 7"]
    assert done.completed_ts is not None and done.completed_ts - exited < 10.0
    assert session.parsed[0] < LINES // 100, session.parsed[0]
    assert messages(session.tracker, done.id)[-10:] == tail.splitlines()


def check_slow_job(qtbot: Any, session: Session, tmp_path: Path, steps: int = 4) -> None:
    """Each line of a job that prints one now and then shows live, and is kept in its log."""
    tracker = session.tracker
    prefix = tmp_path / f"gate-{uuid.uuid4().hex[:6]}-"
    job = tracker.enqueue(
        "command", {"argv": [sys.executable, "-c", SLOW, str(prefix), str(steps)]}
    )
    for k in range(1, steps + 1):
        percent = k * 100 // steps
        line = f"compiling part {k}"
        qtbot.waitUntil(
            lambda p=percent, m=line: session.seen.state(job.id) == (p, 100, m),
            timeout=WAIT_MS,
        )
        qtbot.waitUntil(
            lambda k=k: (
                messages(tracker, job.id) == [f"compiling part {i}" for i in range(1, k + 1)]
            ),
            timeout=WAIT_MS,
        )
        Path(f"{prefix}{k}").touch()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    assert done.progress.message == "linked"
    lines = [f"compiling part {i}" for i in range(1, steps + 1)]
    assert messages(tracker, job.id) == [*lines, "linked"]


def test_a_job_that_prints_now_and_then_shows_each_line_live(
    qtbot: Any, session: Session, tmp_path: Path
) -> None:
    check_slow_job(qtbot, session, tmp_path)


def check_chatty_job_live(qtbot: Any, session: Session, tmp_path: Path) -> None:
    """A chatty job that stops half way shows 50 % live, in the widgets and the store."""
    tracker = session.tracker
    side, gate = tmp_path / f"exited-{uuid.uuid4().hex[:6]}", tmp_path / "gate"
    gate.unlink(missing_ok=True)
    argv = [sys.executable, "-c", CHATTY, str(side), "0", str(GATED_LINES), str(gate)]
    job = tracker.enqueue("command", {"argv": argv})
    qtbot.waitUntil(lambda: session.seen.state(job.id) == (50, 100, ""), timeout=WAIT_MS)
    with JobTracker.open(tracker.store.path, read_only=True) as reader:
        qtbot.waitUntil(
            lambda: (
                (stored := reader.get_job(job.id)) is not None
                and (stored.status, stored.progress.current) == (JobStatus.RUNNING, 50)
            ),
            timeout=WAIT_MS,
        )
    gate.touch()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    assert (done.progress.current, done.progress.total) == (100, 100)


def test_jobs_started_after_an_idle_gap_show_live_progress(
    qtbot: Any, session: Session, tmp_path: Path
) -> None:
    check_chatty_job_live(qtbot, session, tmp_path)
    for gap_ms in IDLE_GAPS_MS:
        assert not session.tracker.active_jobs()
        qtbot.wait(gap_ms)  # nothing runs: the app is idle
        check_chatty_job_live(qtbot, session, tmp_path)
        qtbot.wait(gap_ms)
        check_slow_job(qtbot, session, tmp_path, steps=2)
