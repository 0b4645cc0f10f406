"""Core benchmarks: ``python tests/bench/run.py core``.

- ``update_progress`` beside ``tqdm.update(1)`` in the same run (budget <= 1.0x tqdm).
- create + complete of 10,000 tracked jobs on a file store (budget >= 3,000 jobs/s).
- ``list_jobs(limit=100)`` and ``count_jobs()`` among 1,000,000 stored jobs
  (budgets <= 5 ms and <= 100 ms). The script builds that store itself in a few seconds.
- opening that store for writing, with its integrity check and recovery (budget <= 200 ms:
  the file is too large for SQLite's full ``quick_check`` at open, which is timed beside it
  as ``quick_check_1m_store_s`` — what ``JobTracker.verify_store()`` costs).
"""

from __future__ import annotations

import io
import json
import sqlite3
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from tqdm import tqdm

from jobdeck.core import JobStatus, JobTracker, new_job_id
from jobdeck.core.job_rows import JOB_ROWS


def report(name: str, value: float, unit: str, budget: str, ok: bool) -> int:
    verdict = "ok" if ok else "OVER BUDGET"
    print(f"{name} {value:.3f} {unit} (budget {budget}) {verdict}")
    return 0 if ok else 1


def bench_update_progress() -> int:
    with JobTracker.open(":memory:") as tracker:
        ctx = tracker.create_job("bench")
        bar = tqdm(total=10**12, file=io.StringIO(), mininterval=0.1)
        n = 1_000_000
        ours, theirs = [], []
        scope = {"ctx": ctx, "bar": bar}
        for _ in range(5):  # interleaved, so both see the same machine load
            theirs.append(timeit.timeit("bar.update(1)", globals=scope, number=n) / n * 1e9)
            ours.append(
                timeit.timeit(
                    "ctx.update_progress(12345, 1000000, 'working')", globals=scope, number=n
                )
                / n
                * 1e9
            )
        bar.close()
    t = min(theirs)
    o = min(ours)
    print(f"tqdm_update_ns {t:.1f}")
    print(f"update_progress_ns {o:.1f}")
    return report("update_progress_vs_tqdm_ratio", o / t, "x", "<= 1.0", o / t <= 1.0)


def bench_create_complete(folder: Path) -> int:
    n = 10_000
    with JobTracker.open(folder / "durable.db", retention=None) as tracker:
        start = time.perf_counter()
        for i in range(n):
            ctx = tracker.create_job("bench", title=f"job {i}", metadata={"i": i})
            tracker.complete_job(ctx.job_id, success=True, result={"i": i})
        elapsed = time.perf_counter() - start
        assert tracker.count_jobs(status=JobStatus.COMPLETED) == n
    rate = n / elapsed
    return report("create_complete_jobs_per_s", rate, "jobs/s", ">= 3000", rate >= 3000)


def build_million(path: Path, n: int = 1_000_000) -> None:
    """Fill a store with ``n`` finished jobs using plain executemany (fast)."""
    JobTracker.open(path, retention=None).close()  # create the schema
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    cols = ", ".join(JOB_ROWS.columns)
    marks = ", ".join("?" * len(JOB_ROWS.columns))
    base = time.time() - 3 * 86400
    statuses = ("completed", "completed", "completed", "failed", "cancelled")
    types = ("command", "checksum", "copy", "scrape")
    empty = json.dumps({})

    def rows(start: int, stop: int):
        for i in range(start, stop):
            ts = base + i * 0.2
            values = {
                "id": new_job_id(ts),
                "type": types[i % 4],
                "title": f"job number {i}",
                "status": statuses[i % 5],
                "priority": 0,
                "params": empty,
                "metadata": empty,
                "progress_current": 100,
                "progress_total": 100,
                "progress_message": "done",
                "created_ts": ts,
                "started_ts": ts,
                "completed_ts": ts + 1,
                "error": "boom" if i % 5 == 3 else None,
                "traceback": None,
                "result": None,
                "attempts": 1,
                "max_attempts": 1,
                "run_at_ts": None,
                "timeout": None,
                "depends_on": "[]",
                "cancel_requested": 0,
                "retry_of": None,
                "pid": None,
                "exit_code": None,
                "log_path": None,
            }
            yield tuple(values.get(c) for c in JOB_ROWS.columns)  # newer nullable columns: NULL

    step = 100_000
    for start in range(0, n, step):
        with conn:
            conn.executemany(
                f"INSERT INTO jobs ({cols}) VALUES ({marks})", rows(start, start + step)
            )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn, repeat: int = 20) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def bench_million(folder: Path) -> int:
    path = folder / "million.db"
    start = time.perf_counter()
    build_million(path)
    print(f"build_1m_store_s {time.perf_counter() - start:.1f}")
    status = 0
    JobTracker.open(path, retention=None).close()  # migrate the freshly built file once
    open_ms = timed(lambda: JobTracker.open(path).close(), repeat=5)
    status |= report("open_1m_store_ms", open_ms, "ms", "<= 200", open_ms <= 200)
    with JobTracker.open(path, retention=None) as tracker:
        start = time.perf_counter()
        problem = tracker.verify_store()
        print(f"quick_check_1m_store_s {time.perf_counter() - start:.2f} ({problem or 'ok'})")
        list_ms = timed(lambda: tracker.list_jobs(limit=100))
        status |= report("list_jobs_100_of_1m_ms", list_ms, "ms", "<= 5", list_ms <= 5)
        failed_ms = timed(lambda: tracker.list_jobs(status="failed", limit=100))
        print(f"list_jobs_failed_100_of_1m_ms {failed_ms:.3f}")
        count_ms = timed(tracker.count_jobs, repeat=10)
        status |= report("count_jobs_1m_ms", count_ms, "ms", "<= 100", count_ms <= 100)
        count_failed_ms = timed(lambda: tracker.count_jobs(status="failed"), repeat=10)
        print(f"count_jobs_failed_1m_ms {count_failed_ms:.3f}")
    return status


def main() -> int:
    status = bench_update_progress()
    with tempfile.TemporaryDirectory() as tmp:
        status |= bench_create_complete(Path(tmp))
        status |= bench_million(Path(tmp))
    return status
