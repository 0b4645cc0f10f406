"""The PostgreSQL part of ``run.py scale``: several app instances on one board.

* **Draining**: 10,000 queued no-op jobs (400 with ``--quick``) drained by four instances —
  four processes, each a tracker with the real Runner (Scheduler, thread executor) on a
  QCoreApplication — then by one instance, side by side on the same server: jobs/s, and the
  checks that no job ran twice (every job has exactly one attempt, one instance named) and
  none was lost (all completed).
* **Live updates**: a job queued on one instance until the other's subscriber hears of it,
  200 times: p50 / p99 (goal p99 <= 250 ms).

A PostgreSQL server is started for the run in a temporary directory (tests/pg_server.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (str(ROOT), str(ROOT / "desktop"), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from figures import figure, info, percentile  # noqa: E402

QUICK = bool(os.environ.get("JOBDECK_BENCH_QUICK"))
JOBS = 400 if QUICK else 10_000
LATENCY_SAMPLES = 40 if QUICK else 200
INSTANCES = 4


def _instance(url: str, name: str) -> int:
    """One app instance (run in its own process): drain the board, print what it ran."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from jobdeck.core import JobTracker
    from jobdeck.core.job import JobTaken
    from jobdeck.core.pg_store import PgStore
    from jobdeck.core.registry import JobRegistry
    from jobdeck.runtime.runner import Runner

    taken, ran = [0], [0]
    original = PgStore.lock_for_transition

    def counting(self: PgStore, conn: Any, job: Any, new: Any) -> None:
        try:
            original(self, conn, job, new)
        except JobTaken:
            taken[0] += 1
            raise
        ran[0] += 1

    PgStore.lock_for_transition = counting  # type: ignore[method-assign]
    app = QCoreApplication.instance() or QCoreApplication([])
    registry = JobRegistry()
    registry.register("noop", lambda ctx: None)
    tracker = JobTracker.open(url, registry=registry, instance=name)
    runner = Runner(tracker, max_workers=4)
    print("ready", flush=True)
    sys.stdin.readline()  # go: every instance is up, with the queue in memory
    runner.start()
    loop = QEventLoop()

    def check() -> None:
        if tracker.count_jobs(status=["pending", "running"]) == 0:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(200)
    t0 = time.perf_counter()
    loop.exec()
    timer.stop()
    if os.environ.get("JOBDECK_BENCH_DEBUG"):
        print(
            name, "taken", taken[0], "ran", ran[0], "s", time.perf_counter() - t0,
            "cpu", time.process_time(), file=sys.stderr,
        )  # fmt: skip
    runner.shutdown()
    tracker.close()
    del app
    return 0


def _queue(url: str, n: int) -> None:
    from jobdeck.core import JobTracker

    with JobTracker.open(url, instance="queuer") as tracker:
        for start in range(0, n, 500):
            with tracker.batch():
                for _ in range(min(500, n - start)):
                    tracker.enqueue("noop")


def _drain(url: str, instances: int, n: int) -> tuple[float, int]:
    """Seconds from when all ``instances`` processes are up until the ``n`` queued jobs
    are completed on the board."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED",)}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--instance", url, f"i{n}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(instances)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while (
            conn.execute("SELECT count(*) FROM jobs WHERE status = 'completed'").fetchone() or (0,)
        )[0] < n and all(p.poll() is None for p in procs):
            time.sleep(0.02)
    seconds = time.perf_counter() - t0
    failures = sum(1 for p in procs if p.wait(timeout=1800) != 0)
    return seconds, failures


def _check(url: str, n: int, label: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, attempts, run_by FROM jobs").fetchall()
    statuses = Counter(r[0] for r in rows)
    twice = sum(1 for r in rows if r[1] != 1)
    by = Counter(r[2] for r in rows)
    info(f"{label}_per_instance", " ".join(f"{k}={v}" for k, v in sorted(by.items(), key=str)))
    ok = statuses.get("completed", 0) == n and twice == 0 and len(rows) == n
    return figure(f"{label}_lost_or_twice", float(n - statuses.get("completed", 0) + twice), "jobs",
                  "0", ok)  # fmt: skip


def _latency(url: str) -> tuple[float, float]:
    from jobdeck.core import EventKind, JobEvent, JobTracker

    samples: list[float] = []
    sent: dict[str, float] = {}
    heard = threading.Event()

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.CREATED and event.job.id in sent:
            samples.append(time.perf_counter() - sent[event.job.id])
            heard.set()

    with (
        JobTracker.open(url, instance="writer") as writer,
        JobTracker.open(url, instance="watcher") as watcher,
    ):
        watcher.subscribe(on_event)
        time.sleep(0.5)  # both links listening
        for _ in range(LATENCY_SAMPLES):
            heard.clear()
            t = time.perf_counter()
            job = writer.enqueue("noop")
            sent[job.id] = t
            if not heard.wait(10):
                raise RuntimeError("the other instance never heard of a job")
            time.sleep(0.02)
    return percentile(samples, 0.5), percentile(samples, 0.99)


def main() -> int:
    from tests.pg_server import PgServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        print("postgresql: skipped (initdb/pg_ctl/postgres not installed)")
        return 0
    server = PgServer(bin_dir)
    server.start()
    status = 0
    try:
        rates = {}
        for instances in (INSTANCES, 1):
            url = server.new_database()
            _queue(url, JOBS)
            seconds, failures = _drain(url, instances, JOBS)
            label = f"board_{instances}_instances"
            rates[instances] = JOBS / seconds
            info(f"{label}_drain_{JOBS}_jobs", seconds, "s")
            info(f"{label}_jobs_per_s", rates[instances], "jobs/s")
            status |= _check(url, JOBS, label)
            status |= figure(f"{label}_failed_processes", float(failures), "", "0", failures == 0)
        info("board_4_vs_1_instance_speedup", rates[INSTANCES] / rates[1], "x")
        p50, p99 = _latency(server.new_database())
        info("board_live_update_p50", p50 * 1000, "ms")
        status |= figure("board_live_update_p99", p99 * 1000, "ms", "<= 250", p99 <= 0.25)
    finally:
        server.close()
    return status


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--instance":
        sys.exit(_instance(sys.argv[2], sys.argv[3]))
    sys.exit(main())
