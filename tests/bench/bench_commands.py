"""Cheap command jobs: ``python tests/bench/run.py commands`` (issue 15, item 5).

300 jobs running ``true``, 4 at a time, side by side in one run (interleaved rounds, the
best round of each counts), from the first job queued to the last one finished:

- Jobdeck: a real Runner with the built-in job types on a file store, in a child process
  with the user's normal environment (``honest_env``) and the settings the app applies to
  its own process (``runtime/tuning.py``: the switch interval, and the objects of its
  start-up frozen out of the garbage collector's passes, as the app does once started);
  the jobs are queued one by one, as the launch form does, and each is counted when the
  store has it completed (the event of the last one stops the clock: the measuring does
  not wake the app's GUI thread every millisecond, as polling did, which cost the app a
  millisecond of CPU per job); one job runs to its end before the clock starts, so the
  supervisor service it starts is up, as task-spooler's server is (``tsp -S``);
- task-spooler (``tsp``, Debian package ``task-spooler``) with 4 slots and its own socket:
  one ``tsp true`` per job, then its job list polled until none is queued or running;
- a ``ThreadPoolExecutor`` of 4 threads, each job one ``subprocess.run(["true"])``.

Shown for context, per job, median over Jobdeck's rounds: the app's CPU (all its threads),
that of its supervisor client's reader thread and of its GUI thread (``MainThread``: the
enqueues), and the supervisor service's (from ``/proc``, in clock ticks: coarse). The app's
threads share one interpreter lock, so its CPU per job bounds its rate on a busy machine.

Budget: Jobdeck's rate >= task-spooler's (ratio >= 1).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import figure, info  # noqa: E402
from honest_env import header, honest_env, quick, run_json_child  # noqa: E402

JOBS = 300
SLOTS = 4
ROUNDS = 2
TIMEOUT_S = 600.0


def jobdeck_child(workdir: str, jobs: int) -> int:
    """Queue ``jobs`` command jobs running ``true``; print the seconds until all completed."""
    from PySide6.QtCore import QEventLoop, QMetaObject, Qt, QTimer
    from qt_wait import app

    from jobdeck.core import JobStatus, JobTracker
    from jobdeck.jobs import builtin_registry
    from jobdeck.runtime import Runner
    from jobdeck.runtime.tuning import (
        GUI_SWITCH_INTERVAL,
        SwitchInterval,
        freeze_startup_objects,
    )

    work = Path(workdir)
    app()
    tracker = JobTracker.open(work / "jobs.db", registry=builtin_registry())
    runner = Runner(tracker, max_workers=SLOTS, log_dir=work / "logs")
    completed: set[str] = set()
    failed: list[str] = []
    loop = QEventLoop()
    all_ended = threading.Event()

    def on_event(event: object) -> None:  # on the thread that committed the change
        job = event.job  # type: ignore[attr-defined]
        if job.status is JobStatus.COMPLETED:
            completed.add(job.id)
        elif job.status.finished:
            failed.append(job.id)
        else:
            return
        if len(completed) + len(failed) >= jobs and not all_ended.is_set():
            all_ended.set()
            QMetaObject.invokeMethod(loop, "quit", Qt.ConnectionType.QueuedConnection)

    SwitchInterval(GUI_SWITCH_INTERVAL).apply()  # as the app runs (runtime/tuning.py)
    runner.start()
    freeze_startup_objects()
    true = shutil.which("true") or "true"
    # Both start with their server up, as a user's do once the first job has run:
    # task-spooler's is started (`tsp -S`) before its clock; Jobdeck's supervisor service
    # starts with the first command job, so one job runs to its end before the clock.
    warm_up = tracker.enqueue("command", {"argv": [true]}, title="warm-up")
    deadline = time.monotonic() + 60
    while not (job := tracker.get_job(warm_up.id)) or not job.status.finished:
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up job did not end within 60 s")
        app().processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    tracker.subscribe(on_event)
    records = work / "jobs.db.d" / "supervised"
    service_before = _service_cpu(records)
    threads_before = _thread_cpu()
    cpu_before = time.process_time()
    started = time.perf_counter()
    for _ in range(jobs):
        tracker.enqueue("command", {"argv": [true]}, title="true")
    if not all_ended.is_set():
        QTimer.singleShot(int(TIMEOUT_S * 1000), loop.quit)
        loop.exec()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    threads = _thread_cpu()
    service = _service_cpu(records)
    finished = all_ended.is_set()
    runner.shutdown()
    tracker.close()
    per_job = {
        "app": cpu / jobs,
        "reader": (threads.get(READER, 0.0) - threads_before.get(READER, 0.0)) / jobs,
        "gui": (threads.get("MainThread", 0.0) - threads_before.get("MainThread", 0.0)) / jobs,
    }
    if service is not None and service_before is not None:
        per_job["service"] = (service - service_before) / jobs
    print(
        json.dumps(
            {"seconds": elapsed, "completed": len(completed), "all": finished, "cpu": per_job}
        )
    )
    return 0


#: The name of the supervisor client's reader thread (runtime/supervisor_client.py).
READER = "jobdeck-supervisor-client"


def _thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, by name."""
    found: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, AttributeError):
            continue
        found[thread.name] = found.get(thread.name, 0.0) + seconds
    return found


def _service_cpu(records: Path) -> float | None:
    """CPU seconds so far of the supervisor service serving ``records`` (Linux /proc; None
    when it is not found)."""
    tick = os.sysconf("SC_CLK_TCK")
    marker = os.fsencode(records)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if marker not in Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0"):
                continue
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        return (int(fields[11]) + int(fields[12])) / tick
    return None


def jobdeck_rate(tmp: Path, jobs: int, round_no: int, cpu: list[dict[str, float]]) -> float:
    """Jobdeck's rate in one round; its CPU per job (see the module) goes into ``cpu``."""
    work = tmp / f"jobdeck{round_no}"
    work.mkdir()
    r = run_json_child(Path(__file__), ["jobdeck", str(work), str(jobs)], timeout=TIMEOUT_S + 60)
    if not r["all"] or r["completed"] != jobs:
        raise RuntimeError(f"Jobdeck completed {r['completed']} of {jobs} jobs")
    cpu.append(r["cpu"])
    return jobs / float(r["seconds"])


def tsp_rate(tmp: Path, jobs: int, round_no: int) -> float:
    work = tmp / f"tsp{round_no}"
    (work / "out").mkdir(parents=True)
    env = honest_env(
        {
            "TS_SOCKET": str(work / "ts.sock"),
            "TMPDIR": str(work / "out"),
            "TS_SLOTS": str(SLOTS),
            "TS_MAXFINISHED": str(jobs + 10),
        }
    )

    def tsp(*args: str) -> str:
        return subprocess.run(
            ["tsp", *args], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout

    tsp("-S", str(SLOTS))  # starts its server
    try:
        started = time.perf_counter()
        for _ in range(jobs):
            tsp("true")
        deadline = started + TIMEOUT_S
        while True:
            listing = tsp("-l").splitlines()[1:]
            if not any(" running " in line or " queued " in line for line in listing):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("task-spooler did not finish in time")
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        finished = sum(1 for line in listing if " finished " in line)
        if finished != jobs:
            raise RuntimeError(f"task-spooler finished {finished} of {jobs} jobs")
    finally:
        subprocess.run(["tsp", "-K"], env=env, capture_output=True, check=False, timeout=60)
    return jobs / elapsed


def pool_rate(jobs: int) -> float:
    true = shutil.which("true") or "true"
    env = honest_env()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SLOTS) as pool:
        codes = list(pool.map(lambda _: subprocess.run([true], env=env).returncode, range(jobs)))
    elapsed = time.perf_counter() - started
    if any(codes):
        raise RuntimeError("a `true` failed in the thread pool")
    return jobs / elapsed


def main() -> int:
    header("commands", f"{JOBS} command jobs running `true`, {SLOTS} at a time")
    jobs, rounds = (10, 1) if quick() else (JOBS, ROUNDS)
    have_tsp = shutil.which("tsp") is not None
    if not have_tsp:
        print("# task-spooler (tsp) is not installed: scripts/install-debian-deps.sh adds it")
    rates: dict[str, list[float]] = {"jobdeck": [], "tsp": [], "pool": []}
    cpu: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="jd-commands-") as name:
        tmp = Path(name)
        for round_no in range(rounds):  # interleaved, so all three see the same load
            rates["pool"].append(pool_rate(jobs))
            if have_tsp:
                rates["tsp"].append(tsp_rate(tmp, jobs, round_no))
            rates["jobdeck"].append(jobdeck_rate(tmp, jobs, round_no, cpu))
    best = {name: max(values) for name, values in rates.items() if values}
    info("threadpool_subprocess_jobs_per_s", best["pool"], "jobs/s")
    info("jobdeck_jobs_per_s", best["jobdeck"], "jobs/s")
    for part in ("app", "reader", "gui", "service"):
        values = [round_cpu[part] for round_cpu in cpu if part in round_cpu]
        if values:
            info(f"jobdeck_{part}_cpu_ms_per_job", statistics.median(values) * 1000, "ms")
    info("jobdeck_vs_threadpool_ratio", best["jobdeck"] / best["pool"], "x")
    if not have_tsp:
        return 1
    info("task_spooler_jobs_per_s", best["tsp"], "jobs/s")
    ratio = best["jobdeck"] / best["tsp"]
    return figure("jobdeck_vs_task_spooler_ratio", ratio, "x", ">= 1", ratio >= 1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "jobdeck":
        sys.path.insert(0, str(HERE.parents[1] / "desktop"))
        sys.exit(jobdeck_child(sys.argv[2], int(sys.argv[3])))
    print("usage: run the benchmark with `python tests/bench/run.py commands`")
    sys.exit(2)
