"""Process jobs talking to a real Runner through the progress channel: the Python helper,
the shell helper and the Node example; heartbeats; cancel via the channel, then SIGTERM,
then SIGKILL; leftovers; bad input; tokens and private directories."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from jobdeck.core import EventKind, JobEvent, JobStatus, JobTracker
from jobdeck.runtime import Runner

from .channel_helpers import Client
from .conftest import ProgressRecorder, finished

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
NODE = shutil.which("node")
WAIT_MS = 10_000
ENV = {"PYTHONPATH": str(ROOT / "desktop")}


def example(language: str, *args: str) -> list[str]:
    if language == "python":
        return [sys.executable, str(EXAMPLES / "progress.py"), *args]
    if language == "sh":
        return ["sh", str(EXAMPLES / "progress.sh"), *args]
    assert NODE is not None
    return [NODE, str(EXAMPLES / "progress.js"), *args]


def steps_args(language: str, steps: int, fail_at: int = 0) -> list[str]:
    if language == "sh":
        return [str(steps), str(fail_at)]
    return ["--steps", str(steps)] + (["--fail-at", str(fail_at)] if fail_at else [])


LANGUAGES = [
    "python",
    "sh",
    pytest.param("node", marks=pytest.mark.skipif(NODE is None, reason="node is not installed")),
]


def script(tmp_path: Path, body: str) -> list[str]:
    """A Python program (the worker helper importable) as an argv."""
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def wait_done(qtbot, tracker: JobTracker, job_id: str):
    qtbot.waitUntil(lambda: finished(tracker, job_id), timeout=WAIT_MS)
    job = tracker.get_job(job_id)
    assert job is not None
    return job


def log_lines(tracker: JobTracker, job_id: str) -> list[tuple[str, str]]:
    return [(e.level, e.message) for e in tracker.logs(job_id)]


# -- the helpers and examples, end to end ----------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_reports_progress_logs_and_result_through_the_runner(
    qtbot, runner: Runner, tracker: JobTracker, progress: ProgressRecorder, language: str
) -> None:
    argv = example(language, *steps_args(language, 5))
    job = tracker.enqueue("command", {"argv": argv, "env": ENV})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result == {"steps": 5} and done.exit_code == 0
    assert (progress.max_current[job.id], progress.totals[job.id]) == (5, 5)
    assert done.progress.message == "step 5 of 5"
    logs = log_lines(tracker, job.id)
    assert ("info", "counting to 5") in logs and ("info", "all steps done") in logs
    assert not [m for level, m in logs if level == "warning"], logs
    assert done.peak_rss is not None and done.peak_rss > 0
    assert done.cpu_seconds is not None and done.cpu_seconds >= 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_failure_gives_the_reported_error(
    qtbot, runner: Runner, tracker: JobTracker, language: str
) -> None:
    argv = example(language, *steps_args(language, 5, fail_at=3))
    job = tracker.enqueue("command", {"argv": argv, "env": ENV})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED and done.exit_code == 1
    assert done.error is not None and "step 3 failed on purpose" in done.error.message
    assert not done.error.message.startswith("exit status")  # the job's own words
    if language != "sh":
        assert done.error.traceback is not None and "failed on purpose" in done.error.traceback


def test_job_data_reaches_the_python_helper(qtbot, runner: Runner, tracker: JobTracker) -> None:
    argv = example("python")
    job = tracker.enqueue("command", {"argv": argv, "env": ENV, "data": {"steps": 3}})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED and done.result == {"steps": 3}


def test_exit_0_without_completed_completes_with_a_warning(
    qtbot, runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    argv = script(
        tmp_path,
        """
        from jobdeck.worker import Job
        job = Job.from_environment()
        job.progress(current=1, total=2)
        job.close()
        """,
    )
    job = tracker.enqueue("command", {"argv": argv, "env": ENV})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED and done.result is None
    assert (
        "warning",
        "the program exited with status 0 without reporting completed",
    ) in log_lines(tracker, job.id)


def test_bad_channel_input_is_a_warning_on_that_job(
    qtbot, runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    argv = script(
        tmp_path,
        """
        import json, os, socket, time
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.environ["JOBDECK_CHANNEL"])
        job, now = os.environ["JOBDECK_JOB_ID"], time.time()
        def send(**m):
            s.sendall(json.dumps({"jobId": job, "timestamp": now, **m}).encode() + b"\\n")
        send(type="hello", token=os.environ["JOBDECK_TOKEN"])
        s.sendall(b"{not json\\n")
        send(type="progress", percent=250)
        send(type="completed", result="fine")
        s.close()
        """,
    )
    job = tracker.enqueue("command", {"argv": argv})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED and done.result == "fine"
    warnings = [m for level, m in log_lines(tracker, job.id) if level == "warning"]
    assert len(warnings) == 2, warnings
    assert all(w.startswith("dropped a channel message") for w in warnings)
    assert "percent" in warnings[1]


# -- heartbeats -------------------------------------------------------------------------------

SILENT_AFTER_HELLO = """
    import json, os, socket, time
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["JOBDECK_CHANNEL"])
    job = os.environ["JOBDECK_JOB_ID"]
    for m in ({"type": "hello", "token": os.environ["JOBDECK_TOKEN"]},
              {"type": "progress", "current": 1, "total": 4, "message": "working"}):
        s.sendall(json.dumps({"jobId": job, "timestamp": time.time(), **m}).encode() + b"\\n")
    time.sleep(60)  # hung: no heartbeats from here on
"""


def test_silent_job_goes_stale_then_is_killed(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, clock, tmp_path: Path
) -> None:
    runner = make_runner(heartbeat_timeout=30)
    job = tracker.enqueue("command", {"argv": script(tmp_path, SILENT_AFTER_HELLO)})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).progress.message == "working", timeout=WAIT_MS)  # type: ignore[union-attr]
    assert runner.stale_jobs() == {}
    clock.advance(40)
    runner.poke()
    assert runner.stale_jobs() == {job.id: pytest.approx(40)}
    qtbot.waitUntil(
        lambda: tracker.get_job(job.id).progress.message == "no heartbeat for 40 s",  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    assert status(tracker, job.id) is JobStatus.RUNNING
    clock.advance(20)
    runner.poke()
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED
    assert str(done.error) == "no heartbeat for 60 s: killed"
    assert ("warning", "no heartbeat for 40 s: the job may be stuck") in log_lines(tracker, job.id)
    assert runner.stale_jobs() == {}


def test_heartbeats_keep_a_job_alive_and_real_timers_fire(
    qtbot, make_runner: Callable[..., Runner], real_tracker: JobTracker, tmp_path: Path
) -> None:
    runner = make_runner(tracker=real_tracker, heartbeat_timeout=0.2)
    alive = script(
        tmp_path,
        """
        import time
        from jobdeck.worker import run_job
        def main(job):
            time.sleep(0.6)  # three timeouts; heartbeats every timeout/3
            return "ok"
        run_job(main)
        """,
    )
    good = real_tracker.enqueue("command", {"argv": alive, "env": ENV})
    (tmp_path / "hung").mkdir()
    hung = real_tracker.enqueue("command", {"argv": script(tmp_path / "hung", SILENT_AFTER_HELLO)})
    done = wait_done(qtbot, real_tracker, hung.id)
    assert done.status is JobStatus.FAILED and "no heartbeat for" in str(done.error)
    assert wait_done(qtbot, real_tracker, good.id).status is JobStatus.COMPLETED
    assert runner.stale_jobs() == {}


def status(tracker: JobTracker, job_id: str) -> JobStatus:
    job = tracker.get_job(job_id)
    assert job is not None
    return job.status


# -- cancel: channel, then SIGTERM, then SIGKILL -----------------------------------------------


def test_cooperative_job_stops_on_the_channel_cancel_without_signals(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    make_runner(cancel_delay=5.0, grace=5.0)
    argv = example("python", "--steps", "100000", "--delay", "0.01")
    job = tracker.enqueue("command", {"argv": argv, "env": ENV})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).progress.current >= 2, timeout=WAIT_MS)  # type: ignore[union-attr]
    t0 = time.monotonic()
    tracker.cancel_job(job.id)
    done = wait_done(qtbot, tracker, job.id)
    assert time.monotonic() - t0 < 2.0  # long before the SIGTERM that would follow at 5 s
    assert done.status is JobStatus.CANCELLED
    logs = log_lines(tracker, job.id)
    assert any(m.startswith("cancelled at step") and "cancelled" in m for _, m in logs), logs


def test_stubborn_job_gets_cancel_then_sigterm_then_sigkill(
    qtbot, make_runner: Callable[..., Runner], tracker: JobTracker, tmp_path: Path
) -> None:
    cancel_delay, grace = 0.3, 0.3
    make_runner(cancel_delay=cancel_delay, grace=grace)
    argv = script(
        tmp_path,
        """
        import signal, threading, time
        from jobdeck.worker import Job
        signal.signal(signal.SIGTERM, lambda *_: print("TERM", time.monotonic(), flush=True))
        job = Job.from_environment()
        job.progress(current=1, total=2, message="working")
        job.wait_cancelled()
        print("CANCEL", time.monotonic(), flush=True)
        threading.Event().wait(60)  # ignores both
        """,
    )
    job = tracker.enqueue("command", {"argv": argv, "env": ENV})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).progress.message == "working", timeout=WAIT_MS)  # type: ignore[union-attr]
    t0 = time.monotonic()
    tracker.cancel_job(job.id)
    done = wait_done(qtbot, tracker, job.id)
    elapsed = time.monotonic() - t0
    assert done.status is JobStatus.CANCELLED
    seen = {m.split()[0]: float(m.split()[1]) for _, m in log_lines(tracker, job.id) if " " in m}
    assert seen["CANCEL"] - t0 < cancel_delay  # the channel first...
    assert seen["TERM"] - t0 >= cancel_delay * 0.9  # ...SIGTERM only after the delay...
    assert elapsed >= cancel_delay + grace * 0.9  # ...and SIGKILL after the grace


def test_grandchild_left_behind_is_killed(qtbot, runner: Runner, tracker: JobTracker) -> None:
    job = tracker.enqueue("command", {"argv": ["sh", "-c", "sleep 60 & echo $!"]})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED
    grandchild = int(done.progress.message)
    assert ("warning", "stopped 1 process(es) the program left running") in log_lines(
        tracker, job.id
    )

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    qtbot.waitUntil(gone, timeout=WAIT_MS)


# -- security ---------------------------------------------------------------------------------

WAIT_FOR_CANCEL = """
    from jobdeck.worker import Job
    job = Job.from_environment()
    job.progress(current=1, total=2, message="connected")
    job.wait_cancelled(60)
    job.close()
"""


def test_another_jobs_token_is_refused_and_directories_are_private(
    qtbot, runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    events: list[JobEvent] = []
    tracker.subscribe(lambda e: events.append(e) if e.kind is EventKind.LOG else None)
    argv = script(tmp_path, WAIT_FOR_CANCEL)
    a = tracker.enqueue("command", {"argv": argv, "env": ENV})
    b = tracker.enqueue("command", {"argv": argv, "env": ENV})
    for job in (a, b):
        qtbot.waitUntil(
            lambda job=job: tracker.get_job(job.id).progress.message == "connected",  # type: ignore[union-attr]
            timeout=WAIT_MS,
        )
    records = tmp_path / "jobs.db.d" / "supervised"  # the store's own folder
    for job in (a, b):  # written once the program has run RECORD_DELAY
        qtbot.waitUntil((records / f"{job.id}.json").exists, timeout=WAIT_MS)
    token_of = {
        j.id: json.loads((records / f"{j.id}.json").read_text())["extra"]["token"] for j in (a, b)
    }
    assert token_of[a.id] != token_of[b.id]
    channel = runner.channel_path
    assert channel is not None
    client = Client(channel)
    try:
        client.hello(a.id, token_of[b.id])  # job b's token for job a
        assert client.wait_closed()
    finally:
        client.close()
    qtbot.waitUntil(
        lambda: any("wrong token" in (e.log.message if e.log else "") for e in events),
        timeout=WAIT_MS,
    )
    refused = [e for e in events if e.log and "wrong token" in e.log.message]
    assert refused[0].job.id == a.id and refused[0].log.level == "warning"  # type: ignore[union-attr]
    # Only this user can reach the socket, the records and the tokens in them.
    assert stat.S_IMODE(os.stat(channel.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(records).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(records / f"{a.id}.json").st_mode) == 0o600
    for job in (a, b):
        tracker.cancel_job(job.id)
    for job in (a, b):
        assert wait_done(qtbot, tracker, job.id).status is JobStatus.CANCELLED
    # A finished job's record is removed (just after its end is committed).
    qtbot.waitUntil(lambda: not (records / f"{a.id}.json").exists(), timeout=WAIT_MS)


def test_argv_never_goes_through_a_shell(qtbot, runner: Runner, tracker: JobTracker) -> None:
    job = tracker.enqueue("command", {"argv": ["echo", "$HOME", "*", ";", "false"]})
    done = wait_done(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED and done.progress.message == "$HOME * ; false"
