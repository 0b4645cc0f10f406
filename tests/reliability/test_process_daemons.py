"""Issue 9, item 10: a job that daemonizes leaves nothing behind.

A grandchild that double-forks and calls ``setsid()`` leaves the job's process group and,
orphaned, would be re-parented to init. The supervisor is the job's child subreaper, so it
inherits such a process: it is stopped when the job ends and when the job is cancelled, even
when it ignores SIGTERM. The job's end is recorded once it is gone, even when it takes its time
exiting (its environment, by which the supervisor knows it, goes first).
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

WAIT_MS = 20_000

DAEMONIZE = """
    import os, signal, sys, time
    pidfile, how, then = sys.argv[1], sys.argv[2], sys.argv[3]

    def detach():  # as daemons do: output elsewhere (the job's output then ends with it)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)

    def exiting(pid):  # PF_EXITING, in the flags of /proc/PID/stat
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[6]) & 4

    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            if how == "ignore-term":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if how == "detached":
                detach()
                # Memory to give back makes its exit last longer than the service's tick.
                ballast = b"x" * (512 << 20)
            if how == "slow-parent":
                # Its pidfile (and with it the job's end) comes while its parent exits: it
                # is still that parent's child, on its way to the service.
                detach()
                parent = os.getppid()
                while os.getppid() == parent and not exiting(parent):
                    time.sleep(0.001)
            with open(pidfile + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(pidfile + ".tmp", pidfile)
            # One write per line (a print writes the newline apart when unbuffered, and
            # the lines of the two processes then mix): it keeps the job's output open.
            os.write(1, b"daemon running\\n")
            time.sleep(120)
            os._exit(0)
        if how == "slow-parent":
            detach()
            ballast = b"x" * (512 << 20)  # to give back as it exits: that takes a while
        os._exit(0)
    while not os.path.exists(pidfile):
        time.sleep(0.01)
    os.write(1, b"1/2 daemon started\\n")
    if then == "stay":
        time.sleep(120)
"""


@pytest.fixture
def runner(event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0, cancel_delay=0.2)
    runner.start()
    yield runner
    runner.shutdown(timeout=10)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def daemonizing_job(runner: Runner, tmp_path: Path, how: str, then: str) -> tuple[str, Path]:
    program = tmp_path / "daemonize.py"
    program.write_text(textwrap.dedent(DAEMONIZE))
    pidfile = tmp_path / f"daemon-{how}-{then}.pid"
    job = runner.tracker.enqueue(
        "command", {"argv": [sys.executable, str(program), str(pidfile), how, then]}
    )
    return job.id, pidfile


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def log_messages(runner: Runner, job_id: str) -> list[str]:
    return [entry.message for entry in runner.tracker.logs(job_id)]


@pytest.mark.parametrize("how", ["plain", "ignore-term", "detached", "slow-parent"])
def test_a_daemon_left_by_a_finished_job_is_stopped(
    qtbot: Any, runner: Runner, tmp_path: Path, how: str
) -> None:
    job_id, pidfile = daemonizing_job(runner, tmp_path, how, then="exit")
    tracker = runner.tracker
    qtbot.waitUntil(lambda: tracker.get_job(job_id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
    daemon = int(pidfile.read_text())
    assert gone(daemon)
    done = tracker.get_job(job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    # (the daemon's parent, exiting slowly, may be caught exiting and stopped too)
    counts = (1, 2) if how == "slow-parent" else (1,)
    stopped = {f"stopped {n} process(es) the program left running" for n in counts}
    assert stopped & set(log_messages(runner, job_id)), log_messages(runner, job_id)


def test_a_daemon_of_a_cancelled_job_is_stopped(qtbot: Any, runner: Runner, tmp_path: Path) -> None:
    job_id, pidfile = daemonizing_job(runner, tmp_path, "ignore-term", then="stay")
    tracker = runner.tracker
    qtbot.waitUntil(lambda: tracker.get_job(job_id).progress.current == 1, timeout=WAIT_MS)  # type: ignore[union-attr]
    daemon = int(pidfile.read_text())
    assert not gone(daemon)
    tracker.cancel_job(job_id)
    qtbot.waitUntil(lambda: tracker.get_job(job_id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert tracker.get_job(job_id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: gone(daemon), timeout=WAIT_MS)
