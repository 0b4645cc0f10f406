"""Create + complete on a big store: ``python tests/bench/run.py store`` (issue 15,
"Honest benchmarks").

``bench_core`` measures create + complete of tracked jobs on an empty store. A user's store
is not empty: here the same loop -- ``create_job`` of a command-like job (title, argv and
working folder as params) and ``complete_job`` with a small result -- runs on an empty
file store and on a copy of a store of 1,000,000 realistic finished jobs
(``realistic_store``), side by side (interleaved rounds, the best of each counts).

Budgets: >= 3,000 jobs/s on the 1M store (bench_core's budget for the empty one), and the
1M store at least 0.8x the empty store's rate in the same run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import figure, info  # noqa: E402
from honest_env import header, quick  # noqa: E402

from jobdeck.core import JobStatus, JobTracker  # noqa: E402

STORE_JOBS = 1_000_000
JOBS = 10_000
ROUNDS = 2
BUDGET_RATE = 3_000.0
BUDGET_RATIO = 0.8


def create_complete_rate(db: Path, n: int) -> float:
    """Jobs per second through create_job + complete_job on the store at ``db``."""
    with JobTracker.open(db, retention=None) as tracker:
        before = tracker.count_jobs(status=JobStatus.COMPLETED)
        started = time.perf_counter()
        for i in range(n):
            folder = f"/home/ana/Photos/{2015 + i % 10}/"
            argv = ["rsync", "-a", "--info=progress2", folder, f"/mnt/backup{folder}"]
            ctx = tracker.create_job(
                "command",
                title=" ".join(argv),
                params={"argv": argv, "cwd": "/home/ana"},
                total=100,
            )
            tracker.complete_job(ctx.job_id, success=True, result={"files": i % 700})
        elapsed = time.perf_counter() - started
        done = tracker.count_jobs(status=JobStatus.COMPLETED) - before
    if done != n:
        raise RuntimeError(f"{done} of {n} jobs were recorded completed")
    return n / elapsed


def main() -> int:
    from realistic_store import cached_store

    small = quick()
    store_jobs, n, rounds = (2_000, 300, 1) if small else (STORE_JOBS, JOBS, ROUNDS)
    header("store", f"create + complete on an empty store and on {store_jobs:,} realistic jobs")
    rates: dict[str, list[float]] = {"empty": [], "big": []}
    with tempfile.TemporaryDirectory(prefix="jd-store-") as name:
        tmp = Path(name)
        template = cached_store(tmp / "template.db", store_jobs)
        for i in range(rounds):  # interleaved, so both see the same machine load
            rates["empty"].append(create_complete_rate(tmp / f"empty{i}.db", n))
            big_db = tmp / f"big{i}.db"
            shutil.copyfile(template, big_db)
            rates["big"].append(create_complete_rate(big_db, n))
    empty, big = max(rates["empty"]), max(rates["big"])
    label = f"{store_jobs // 1000}k" if store_jobs < 1_000_000 else f"{store_jobs // 10**6}m"
    info("create_complete_empty_store_jobs_per_s", empty, "jobs/s")
    status = figure(
        f"create_complete_{label}_store_jobs_per_s",
        big,
        "jobs/s",
        f">= {BUDGET_RATE:,.0f}",
        big >= BUDGET_RATE,
    )
    ratio = big / empty
    status |= figure(
        f"create_complete_{label}_vs_empty_ratio",
        ratio,
        "x",
        f">= {BUDGET_RATIO:g}",
        ratio >= BUDGET_RATIO,
    )
    return status
