"""Runtime benchmarks: ``python tests/bench/run.py runtime``.

- Overhead per no-op job through the Runner with persistence (enqueue, start, complete on a
  file store), beside ThreadPoolExecutor on the same number of no-op tasks in the same run.
  Budget: <= 10x ThreadPoolExecutor.
- GUI-thread responsiveness: 8 CPU-bound jobs call ``update_progress`` in a tight loop for
  3 s while a 1 ms QTimer on the GUI thread records its gaps; beside it, the same load with
  one queued Qt signal per update. Budgets: p99 gap <= 50 ms, max gap <= 150 ms, and a max
  gap at least 10x smaller than the per-update-signal baseline.
- Many busy jobs: 200 CPU-bound callables queued at once with ``max_workers=200`` (the
  "200 flat-out jobs" of issue 9): the GUI's gaps are measured from the enqueue for 3 s
  while they run (each spins until told to stop), then all are let go. Budget: p99 gap
  <= 50 ms, as for 8 jobs.

The GUI figures are measured as the Jobdeck app runs: with its opt-ins for sharing the
interpreter lock (:mod:`jobdeck.runtime.tuning`: the switch interval and the tight-loop
yield); the ``*_untuned`` figures, measured right after, show what they buy (a library
user who opts in to neither).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QTimer, Signal, Slot
from qt_wait import GapMeter

from jobdeck.core import JobContext, JobEvent, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import JobSignals, Runner
from jobdeck.runtime.tuning import GUI_SWITCH_INTERVAL, GUI_YIELD_EVERY, SwitchInterval

DEFAULT_SWITCH_INTERVAL = GUI_SWITCH_INTERVAL

NOOP_JOBS = 3000
SPIN_JOBS = 8
SPIN_SECONDS = 3.0
MANY_JOBS = 200


def report(name: str, value: float, budget: str = "", ok: bool = True) -> int:
    suffix = f" (budget {budget}){'' if ok else ' OVER BUDGET'}" if budget else ""
    print(f"{name} {value:.1f}{suffix}", flush=True)
    return 0 if ok else 1


def app() -> QCoreApplication:
    instance = QCoreApplication.instance()
    return instance if instance is not None else QCoreApplication([])


def spin_until(done: Callable[[], bool], timeout: float) -> None:
    """Run the Qt event loop until ``done()`` (checked every 5 ms) or ``timeout`` seconds."""
    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if done() else None)
    check.start(5)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    if not done():
        loop.exec()
    check.stop()
    if not done():
        raise RuntimeError(f"benchmark did not finish within {timeout} s")


# -- overhead per job ---------------------------------------------------------------------------


def runner_us_per_job(n: int, db: Path, batched: bool = False) -> float:
    """No-op jobs through the Runner on a file store, queued one call at a time, or (with
    ``batched``) in one ``tracker.batch()`` block as a program queueing many jobs would."""
    registry = JobRegistry()
    registry.register("noop", lambda ctx: None)
    tracker = JobTracker.open(db, registry=registry)
    finished = [0]

    def count(event: JobEvent) -> None:
        if event.job.status is JobStatus.COMPLETED:
            finished[0] += 1

    tracker.subscribe(count)
    runner = Runner(tracker, max_workers=4, log_dir=db.parent)
    runner.start()
    t0 = time.perf_counter()
    if batched:
        with tracker.batch():
            for _ in range(n):
                tracker.enqueue("noop")
    else:
        for _ in range(n):
            tracker.enqueue("noop")
    spin_until(lambda: finished[0] >= n, timeout=120)
    elapsed = time.perf_counter() - t0
    runner.shutdown()
    tracker.close()
    return elapsed / n * 1e6


def tracker_us_per_job(n: int, db: Path) -> float:
    """The persistence alone: enqueue, start and complete through the tracker, no Runner."""
    with JobTracker.open(db) as tracker:
        t0 = time.perf_counter()
        for _ in range(n):
            job_id = tracker.enqueue("noop").id
            tracker.start_job(job_id)
            tracker.complete_job(job_id)
        return (time.perf_counter() - t0) / n * 1e6


def executor_us_per_job(n: int) -> float:
    with ThreadPoolExecutor(max_workers=4) as pool:
        t0 = time.perf_counter()
        futures = [pool.submit(lambda: None) for _ in range(n)]
        wait(futures)
        elapsed = time.perf_counter() - t0
    return elapsed / n * 1e6


# -- GUI responsiveness ---------------------------------------------------------------------------


def spin(ctx: JobContext, seconds: float) -> int:
    """CPU-bound: report progress as fast as possible for ``seconds``."""
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        i += 1
        ctx.update_progress(i)
    return i


def tuned_tracker(db: Path, registry: JobRegistry, tuned: bool) -> JobTracker:
    """A tracker as the app opens it (``tuned``: the app's GIL yield), or with defaults."""
    return JobTracker.open(
        db, registry=registry, yield_gil_every=GUI_YIELD_EVERY if tuned else None
    )


def runner_gaps(db: Path, tuned: bool = True) -> tuple[float, float, int]:
    """GUI gaps while SPIN_JOBS callables report progress flat out: (p99 ms, max ms,
    updates); ``tuned``: with the app's opt-ins (see the module)."""
    if tuned:
        with SwitchInterval(GUI_SWITCH_INTERVAL):
            return _runner_gaps(db, True)
    return _runner_gaps(db, False)


def _runner_gaps(db: Path, tuned: bool) -> tuple[float, float, int]:
    registry = JobRegistry()
    registry.register("spin", spin)
    tracker = tuned_tracker(db, registry, tuned)
    runner = Runner(tracker, max_workers=SPIN_JOBS, log_dir=db.parent)
    signals = JobSignals(tracker)
    seen = [0]
    signals.jobsChanged.connect(lambda jobs: seen.__setitem__(0, seen[0] + len(jobs)))
    finished: list[int] = []
    signals.jobFinished.connect(lambda job: finished.append(job.result or 0))
    meter = GapMeter()
    runner.start()
    meter.start()
    for _ in range(SPIN_JOBS):
        tracker.enqueue("spin", {"seconds": SPIN_SECONDS})
    spin_until(lambda: len(finished) >= SPIN_JOBS, timeout=SPIN_SECONDS + 30)
    meter.stop()
    runner.shutdown()
    signals.close()
    tracker.close()
    p99, worst = meter.figures()
    return p99, worst, sum(finished)


def many_jobs_gaps(db: Path, tuned: bool = True) -> tuple[float, float, int]:
    """GUI gaps while MANY_JOBS CPU-bound callables run with max_workers=MANY_JOBS:
    (p99 ms, max ms, jobs that were running at the end of the window); ``tuned``: with the
    app's opt-ins (see the module)."""
    if tuned:
        with SwitchInterval(GUI_SWITCH_INTERVAL):
            return _many_jobs_gaps(db, True)
    return _many_jobs_gaps(db, False)


def _many_jobs_gaps(db: Path, tuned: bool) -> tuple[float, float, int]:
    stop = threading.Event()

    def busy(ctx: JobContext) -> int:
        i = 0
        while not stop.is_set():
            i += 1
            if not i & 1023:
                ctx.update_progress(i)
        return i

    registry = JobRegistry()
    registry.register("busy", busy)
    tracker = tuned_tracker(db, registry, tuned)
    runner = Runner(tracker, max_workers=MANY_JOBS, log_dir=db.parent)
    finished: list[int] = []
    tracker.subscribe(lambda e: finished.append(1) if e.job.status is JobStatus.COMPLETED else None)
    meter = GapMeter()
    runner.start()
    meter.start()
    with tracker.batch():
        for _ in range(MANY_JOBS):
            tracker.enqueue("busy")
    window = QEventLoop()
    QTimer.singleShot(int(SPIN_SECONDS * 1000), window.quit)
    window.exec()
    meter.stop()
    running = len(runner.running_job_ids())
    stop.set()
    spin_until(lambda: len(finished) >= MANY_JOBS, timeout=120)
    runner.shutdown()
    tracker.close()
    p99, worst = meter.figures()
    return p99, worst, running


class Emitter(QObject):
    progressed = Signal(int)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(int)
    def on_progress(self, value: int) -> None:
        self.count += 1


def baseline_gaps(db: Path) -> tuple[float, float, int]:
    """Same load, but each update also emits one queued Qt signal to the GUI thread.

    Runs with the switch interval a Runner sets, so only the signals differ.
    """
    saved = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT_SWITCH_INTERVAL)
    try:
        return _baseline_gaps(db)
    finally:
        sys.setswitchinterval(saved)


def _baseline_gaps(db: Path) -> tuple[float, float, int]:
    tracker = JobTracker.open(db)
    emitter, receiver = Emitter(), Receiver()
    emitter.progressed.connect(receiver.on_progress, Qt.ConnectionType.QueuedConnection)
    emitted = [0] * SPIN_JOBS

    def work(slot: int) -> None:
        ctx = tracker.create_job("spin")
        end = time.perf_counter() + SPIN_SECONDS
        i = 0
        while time.perf_counter() < end:
            i += 1
            ctx.update_progress(i)
            emitter.progressed.emit(i)
        emitted[slot] = i
        tracker.complete_job(ctx.job_id, result=i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(SPIN_JOBS)]
    meter = GapMeter()
    meter.start()
    for thread in threads:
        thread.start()
    spin_until(
        lambda: not any(t.is_alive() for t in threads) and receiver.count >= sum(emitted),
        timeout=SPIN_SECONDS + 120,
    )
    meter.stop()
    tracker.close()
    p99, worst = meter.figures()
    return p99, worst, sum(emitted)


def main() -> int:
    app()
    status = 0
    with tempfile.TemporaryDirectory(prefix="jobdeck-bench-") as tmp:
        tmp_path = Path(tmp)
        executor_us_per_job(NOOP_JOBS)  # warm up
        runs, batched_runs, executor_runs = [], [], []
        for i in range(3):  # interleaved, so all three see the same machine load
            runs.append(runner_us_per_job(NOOP_JOBS, tmp_path / f"noop{i}.db"))
            batched_runs.append(
                runner_us_per_job(NOOP_JOBS, tmp_path / f"batch{i}.db", batched=True)
            )
            executor_runs.append(executor_us_per_job(NOOP_JOBS))
        runner_us = statistics.median(runs)
        batched_us = statistics.median(batched_runs)
        executor_us = statistics.median(executor_runs)
        tracker_us = statistics.median(
            tracker_us_per_job(NOOP_JOBS, tmp_path / f"plain{i}.db") for i in range(3)
        )
        report("runner_overhead_us_per_job_enqueued_one_by_one", runner_us)
        report("runner_overhead_us_per_job_enqueued_in_a_batch", batched_us)
        report("tracker_alone_enqueue_start_complete_us_per_job", tracker_us)
        report("threadpoolexecutor_us_per_job", executor_us)
        report("ratio_vs_threadpoolexecutor_enqueued_one_by_one", runner_us / executor_us)
        ratio = batched_us / executor_us
        status |= report("ratio_vs_threadpoolexecutor", ratio, "<= 10", ratio <= 10)

        p99, worst, updates = runner_gaps(tmp_path / "spin.db")
        report("runner_progress_updates_per_s", updates / SPIN_SECONDS)
        status |= report("gui_gap_p99_ms", p99, "<= 50", p99 <= 50)
        status |= report("gui_gap_max_ms", worst, "<= 150", worst <= 150)
        many_p99, many_worst, many_running = many_jobs_gaps(tmp_path / "many.db")
        report(f"{MANY_JOBS}_busy_jobs_running_at_once", many_running)
        status |= report(f"{MANY_JOBS}_busy_jobs_gui_gap_p99_ms", many_p99, "<= 50", many_p99 <= 50)
        report(f"{MANY_JOBS}_busy_jobs_gui_gap_max_ms", many_worst)
        raw_p99, raw_worst, _ = runner_gaps(tmp_path / "spin-untuned.db", tuned=False)
        report("gui_gap_p99_ms_untuned", raw_p99)
        report("gui_gap_max_ms_untuned", raw_worst)
        raw_many_p99, _, _ = many_jobs_gaps(tmp_path / "many-untuned.db", tuned=False)
        report(f"{MANY_JOBS}_busy_jobs_gui_gap_p99_ms_untuned", raw_many_p99)
        base_p99, base_worst, base_updates = baseline_gaps(tmp_path / "baseline.db")
        report("baseline_progress_updates_per_s", base_updates / SPIN_SECONDS)
        report("baseline_gui_gap_p99_ms", base_p99)
        report("baseline_gui_gap_max_ms", base_worst)
        gap_ratio = base_worst / worst
        status |= report("max_gap_ratio_vs_signal_per_update", gap_ratio, ">= 10", gap_ratio >= 10)
    return status
