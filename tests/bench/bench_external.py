"""External-job benchmarks: ``python tests/bench/run.py external``.

Every child runs with the user's normal environment (``honest_env``): no inherited
``PYTHONUNBUFFERED``, so a ``print`` to a pipe is block-buffered as on a desktop.

- Channel throughput: one child process sends progress messages as fast as it can (one
  ``sendall`` per message) to a real Runner's channel; counted as they land in the job's
  context in the tracker (``ctx.seq``). Reported in messages per second.
- Cost in the child of ``job.progress()`` of the stdlib helper (connected to a real
  channel) per call, beside a buffered ``print()`` to a pipe that the parent reads, side by
  side in the same child run (interleaved, best of several rounds). Twice: bare numbers
  (``progress(current=i, total=n)`` vs ``print(i)``), and with a message
  (``message=f"item {i}"`` vs ``print(f"item {i}")``). Budget: <= 1x ``print``.
- The shell helper: ``job_progress "$i/$n"`` per call under ``sh`` (connected to a real
  channel), beside ``printf`` of the same line to a pipe in the same script, for context.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from figures import figure, info
from honest_env import header, honest_env, quick, scrub_environment
from qt_wait import app, spin_until

from jobdeck.core import EventKind, JobEvent, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.jobs import COMMAND
from jobdeck.runtime import Runner
from jobdeck.runtime.channel import ChannelServer

ROOT = Path(__file__).resolve().parents[2]
SHELL_HELPER = ROOT / "resources" / "jobdeck-job.sh"

SENDER = """
    import json, os, socket, sys, time
    n = int(sys.argv[1])
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["JOBDECK_CHANNEL"])
    job = os.environ["JOBDECK_JOB_ID"]
    def line(**m):
        return json.dumps({"jobId": job, "timestamp": time.time(), **m}).encode() + b"\\n"
    s.sendall(line(type="hello", token=os.environ["JOBDECK_TOKEN"]))
    for i in range(1, n + 1):
        s.sendall(line(type="progress", current=i, total=n))
    s.sendall(line(type="completed", result=None))
    s.close()
"""

CALLER = """
    import json, sys, time
    try:
        from jobdeck.worker import RunningJob
    except ImportError:  # a checkout from before the rename (to compare before/after)
        from jobdeck.worker import Job as RunningJob
    n, rounds = int(sys.argv[1]), int(sys.argv[2])
    job = RunningJob.from_environment()
    assert job._channel is not None, "not connected to the channel"
    assert not sys.stdout.line_buffering and not sys.stdout.write_through, "stdout is unbuffered"

    def bare_progress():
        for i in range(n):
            job.progress(current=i, total=n)

    def bare_print():
        for i in range(n):
            print(i)
        sys.stdout.flush()

    def message_progress():
        for i in range(n):
            job.progress(current=i, total=n, message=f"item {i}")

    def message_print():
        for i in range(n):
            print(f"item {i}")
        sys.stdout.flush()

    loops = [bare_progress, bare_print, message_progress, message_print]
    best = {f.__name__: float("inf") for f in loops}
    for _ in range(rounds):  # interleaved, so every loop sees the same machine load
        for f in loops:
            t = time.perf_counter()
            f()
            best[f.__name__] = min(best[f.__name__], (time.perf_counter() - t) / n * 1e9)
    job.close()
    print(json.dumps(best), file=sys.stderr)
"""

SHELL_CALLER = """
n=$1
job_init
i=0
start=$(date +%s%N)
while [ $i -lt $n ]; do i=$((i + 1)); job_progress "$i/$n"; done
mid=$(date +%s%N)
i=0
while [ $i -lt $n ]; do i=$((i + 1)); printf '%s\\n' "$i/$n"; done
end=$(date +%s%N)
job_complete
progress_ns=$(( (mid - start) / n ))
printf_ns=$(( (end - mid) / n ))
echo "{\\"job_progress_ns\\": $progress_ns, \\"printf_ns\\": $printf_ns}" >&2
"""


def command_registry() -> JobRegistry:
    registry = JobRegistry()
    registry.add(COMMAND)
    return registry


def channel_messages_per_second(tmp: Path, messages: int) -> float:
    """From the first progress message landing in the job to the last, as the tracker
    announces them (on its own thread: a late look from the GUI thread could find the job
    already ended, its context gone, and used to wait in vain)."""
    tracker = JobTracker.open(tmp / "channel.db", registry=command_registry(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp / "logs")
    runner.start()
    try:
        program = tmp / "sender.py"
        program.write_text(textwrap.dedent(SENDER))
        first: list[float] = []
        last: list[float] = []
        ended: list[JobStatus] = []
        job_id: list[str] = []

        def on_event(event: JobEvent) -> None:
            job = event.job
            if not job_id or job.id != job_id[0]:
                return
            now = time.perf_counter()
            if event.kind is EventKind.PROGRESS and job.progress.current and not first:
                first.append(now)
            if job.progress.current >= messages and not last:
                last.append(now)
            if job.status.finished:
                ended.append(job.status)

        tracker.subscribe(on_event)
        with tracker.batch():  # its events are heard from the start
            job = tracker.enqueue(
                "command", {"argv": [sys.executable, str(program), str(messages)]}
            )
            job_id.append(job.id)
        if not spin_until(lambda: bool(ended), timeout=90):
            raise RuntimeError("the channel benchmark's job did not end within 90 s")
        if ended[0] is not JobStatus.COMPLETED or not first or not last:
            done = tracker.get_job(job.id)
            raise RuntimeError(f"the channel benchmark's job ended {ended[0]} at {done}")
        return (messages - 1) / (last[0] - first[0])
    finally:
        runner.shutdown()
        tracker.close()


def child_costs_ns(tmp: Path, calls: int, rounds: int) -> dict[str, float]:
    """The per-call costs measured in one child run (see CALLER)."""
    program = tmp / "caller.py"
    program.write_text(textwrap.dedent(CALLER))
    server = ChannelServer(lambda *_: None, lambda *_: None, directory=tmp / "channel")
    server.start()
    try:
        done = subprocess.run(
            [sys.executable, str(program), str(calls), str(rounds)],
            env=honest_env(server.register("bench-job")),
            capture_output=True,  # the prints go to a pipe that is read as they come
            check=True,
            timeout=300,
        )
    finally:
        server.close()
    figures: dict[str, float] = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return figures


def shell_costs_ns(tmp: Path, calls: int) -> dict[str, float]:
    server = ChannelServer(lambda *_: None, lambda *_: None, directory=tmp / "shchannel")
    server.start()
    try:
        done = subprocess.run(
            ["sh", "-c", f'. "{SHELL_HELPER}"\n{SHELL_CALLER}', "bench", str(calls)],
            env=honest_env(server.register("bench-sh")),
            capture_output=True,
            check=True,
            timeout=300,
        )
    finally:
        server.close()
    figures: dict[str, float] = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return figures


def main() -> int:
    header("external", "the progress channel, and what reporting costs a job's own process")
    scrub_environment()  # the Runner's jobs below inherit this process's environment
    app()
    small = quick()
    messages, calls, rounds, shell_calls = (
        (2_000, 20_000, 2, 50) if small else (50_000, 200_000, 5, 2_000)
    )
    status = 0
    with tempfile.TemporaryDirectory(prefix="jd-bench-", dir="/tmp") as name:
        tmp = Path(name)
        rate = max(channel_messages_per_second(tmp / f"r{i}", messages) for i in range(2))
        info("channel_progress_messages_per_s", rate, "msg/s")
        costs = child_costs_ns(tmp, calls, rounds)
        info("child_ns_per_job_progress_call", costs["bare_progress"], "ns")
        info("child_ns_per_print_to_pipe", costs["bare_print"], "ns")
        info("child_ns_per_job_progress_call_with_message", costs["message_progress"], "ns")
        info("child_ns_per_print_of_that_message_to_pipe", costs["message_print"], "ns")
        ratio = costs["bare_progress"] / costs["bare_print"]
        status |= figure("progress_vs_print_ratio", ratio, "x", "<= 1", ratio <= 1)
        ratio = costs["message_progress"] / costs["message_print"]
        status |= figure("progress_with_message_vs_print_ratio", ratio, "x", "<= 1", ratio <= 1)
        shell = shell_costs_ns(tmp, shell_calls)
        info("sh_us_per_job_progress_call", shell["job_progress_ns"] / 1000, "us")
        info("sh_us_per_printf_to_pipe", shell["printf_ns"] / 1000, "us")
        info("sh_job_progress_vs_printf_ratio", shell["job_progress_ns"] / shell["printf_ns"], "x")
    return status
