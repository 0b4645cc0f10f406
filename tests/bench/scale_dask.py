"""Jobdeck beyond one machine (issue 14), the Dask part of ``python tests/bench/run.py scale``.

Dask part (:func:`dask_main`): 1,000 trivial jobs through the Dask executor (a Runner told
the scheduler's address: each job is enqueued in the store, started, run on a worker with
its context, its outcome recorded) against plain ``client.map`` of the same function on the
same ``LocalCluster``, side by side and interleaved, so both see the same machine load.
Figure: the overhead ratio (goal <= 2x). The PostgreSQL board is ``scale_board.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import figure, info

#: Trivial jobs per measurement (fewer with JOBDECK_BENCH_QUICK).
DASK_JOBS = 1000
DASK_GOAL = 2.0


def trivial(n: int) -> int:
    """The work of ``client.map``: nothing."""
    return n + 1


def trivial_job(ctx: Any, n: int = 0) -> int:
    """The same work as a Jobdeck job (on a worker, with its context)."""
    return n + 1


def _client_map_seconds(client: Any, jobs: int) -> float:
    t0 = time.perf_counter()
    futures = client.map(trivial, range(jobs), pure=False)
    results = client.gather(futures)
    elapsed = time.perf_counter() - t0
    assert results == [n + 1 for n in range(jobs)]
    client.cancel(futures)
    return elapsed


def _jobdeck_seconds(address: str, jobs: int, db: Path) -> float:
    """Enqueue ``jobs`` trivial Dask jobs at once and run them to the end; seconds."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from jobdeck.core import JobStatus, JobTracker
    from jobdeck.core.registry import JobRegistry
    from jobdeck.runtime import Runner

    app = QCoreApplication.instance() or QCoreApplication([])
    assert app is not None
    registry = JobRegistry()
    registry.register("trivial", trivial_job, executor="dask")
    tracker = JobTracker.open(db, registry=registry)
    # As many at once as client.map has in flight: the cluster, not the queue, is the limit.
    runner = Runner(tracker, max_workers=jobs, dask=address)
    runner.start()
    assert runner.dask is not None
    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if runner.dask.client is not None else None)
    check.start(5)
    loop.exec()  # connected: not part of the measurement, as for client.map
    left = {"n": jobs}

    def on_event(event: Any) -> None:
        if event.job.status.finished:
            left["n"] -= 1

    tracker.subscribe(on_event)
    t0 = time.perf_counter()
    with tracker.batch():
        ids = [tracker.enqueue("trivial", {"n": n}).id for n in range(jobs)]
    check.timeout.disconnect()
    check.timeout.connect(lambda: loop.quit() if left["n"] <= 0 else None)
    check.start(2)
    loop.exec()
    elapsed = time.perf_counter() - t0
    check.stop()
    done = [tracker.get_job(i) for i in ids]
    bad = [j for j in done if j is None or j.status is not JobStatus.COMPLETED]
    assert not bad, f"{len(bad)} job(s) did not complete: {bad[:1]}"
    assert [j.result for j in done if j is not None] == [n + 1 for n in range(jobs)]
    runner.shutdown(timeout=10)
    tracker.close()
    return elapsed


def dask_main() -> int:
    """The Dask figures; 1 when the ratio is over its goal."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        info("dask_skipped", "distributed is not installed (pip install jobdeck[dask])")
        return 0
    jobs = 100 if os.environ.get("JOBDECK_BENCH_QUICK") else DASK_JOBS
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
        tempfile.TemporaryDirectory(prefix="jobdeck-bench-") as tmp,
    ):
        _client_map_seconds(client, jobs)  # warm up both
        _jobdeck_seconds(cluster.scheduler_address, jobs, Path(tmp) / "warm.db")
        plain, ours = [], []
        for i in range(3):  # interleaved
            plain.append(_client_map_seconds(client, jobs))
            ours.append(_jobdeck_seconds(cluster.scheduler_address, jobs, Path(tmp) / f"{i}.db"))
    plain_s, ours_s = statistics.median(plain), statistics.median(ours)
    info("dask_jobs", f"{jobs}")
    info("dask_client_map_seconds", plain_s, "s")
    info("dask_jobdeck_executor_seconds", ours_s, "s")
    info("dask_jobdeck_us_per_job", 1e6 * ours_s / jobs, "us")
    ratio = ours_s / plain_s
    return figure(
        "dask_overhead_ratio_vs_client_map", ratio, "x", f"<= {DASK_GOAL:g}", ratio <= DASK_GOAL
    )


def main() -> int:
    return dask_main()


if __name__ == "__main__":
    sys.exit(main())
