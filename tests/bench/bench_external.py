"""External-job benchmarks: ``python tests/bench/run.py external``.

- Channel throughput: one child process sends progress messages as fast as it can (one
  ``sendall`` per message) to a real Runner's channel; counted as they land in the job's
  context in the tracker (``ctx.seq``). Reported in messages per second.
- Cost in the child: ``job.progress()`` of the stdlib helper (connected to a real channel)
  per call, beside a bare ``print()`` to a pipe, in the same child run. The helper only
  records the latest values (at most 20 messages a second go out), so it should cost less
  than the print. Budget: ``job.progress()`` <= 1x ``print``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench_runtime import app, report, spin_until

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.jobs import COMMAND
from jobdeck.runtime import Runner
from jobdeck.runtime.channel import ChannelServer

MESSAGES = 50_000
CALLS = 200_000
DESKTOP = str(Path(__file__).resolve().parents[2] / "desktop")

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
    from jobdeck.worker import Job
    n = int(sys.argv[1])
    job = Job.from_environment()
    t = time.perf_counter()
    for i in range(n):
        job.progress(current=i, total=n)
    progress_ns = (time.perf_counter() - t) / n * 1e9
    t = time.perf_counter()
    for i in range(n):
        print(i)
    sys.stdout.flush()
    print_ns = (time.perf_counter() - t) / n * 1e9
    job.close()
    print(json.dumps({"progress_ns": progress_ns, "print_ns": print_ns}), file=sys.stderr)
"""


def command_registry() -> JobRegistry:
    registry = JobRegistry()
    registry.add(COMMAND)
    return registry


def channel_messages_per_second(tmp: Path) -> float:
    tracker = JobTracker.open(tmp / "channel.db", registry=command_registry(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp / "logs")
    runner.start()
    try:
        program = tmp / "sender.py"
        program.write_text(textwrap.dedent(SENDER))
        job = tracker.enqueue("command", {"argv": [sys.executable, str(program), str(MESSAGES)]})
        first: list[float] = []

        def seq() -> int:
            ctx = tracker.context(job.id)
            if ctx is not None and ctx.seq and not first:
                first.append(time.perf_counter())
            return ctx.seq if ctx is not None else -1

        spin_until(lambda: seq() >= MESSAGES, timeout=120)
        elapsed = time.perf_counter() - first[0]
        spin_until(lambda: tracker.get_job(job.id).status is JobStatus.COMPLETED, timeout=30)  # type: ignore[union-attr]
        return (MESSAGES - 1) / elapsed
    finally:
        runner.shutdown()
        tracker.close()


def child_cost_ns(tmp: Path) -> tuple[float, float]:
    program = tmp / "caller.py"
    program.write_text(textwrap.dedent(CALLER))
    server = ChannelServer(lambda *_: None, lambda *_: None, directory=tmp / "channel")
    server.start()
    try:
        env = {**os.environ, **server.register("bench-job"), "PYTHONPATH": DESKTOP}
        done = subprocess.run(
            [sys.executable, str(program), str(CALLS)],
            env=env,
            capture_output=True,
            check=True,
            timeout=120,
        )
    finally:
        server.close()
    figures = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return figures["progress_ns"], figures["print_ns"]


def main() -> int:
    app()
    status = 0
    with tempfile.TemporaryDirectory(prefix="jd-bench-", dir="/tmp") as name:
        tmp = Path(name)
        rate = max(channel_messages_per_second(tmp / f"r{i}") for i in range(2))
        report("channel_progress_messages_per_s", rate)
        costs = [child_cost_ns(tmp) for _ in range(3)]
        progress_ns = min(c[0] for c in costs)
        print_ns = min(c[1] for c in costs)
        report("child_ns_per_job_progress_call", progress_ns)
        report("child_ns_per_print_to_pipe", print_ns)
        ratio = progress_ns / print_ns
        status |= report("progress_vs_print_ratio", ratio, "<= 1", ratio <= 1)
    return status
