"""Crash loop: ``python tests/bench/run.py crash`` (issue 9, "nothing acknowledged is lost").

Each trial starts a child process in which several threads create, complete and cancel jobs
(and queue and cancel pending ones) on one store as fast as they can, beside a thread that
runs the history window's queries. After each call
returns, the child appends what the call acknowledged to a side file and fsyncs it. The
parent SIGKILLs the child at a random moment, reopens the store (recovery runs, as at an
app start) and checks every acknowledged change of the trial: a created or queued job
exists, a completed job is completed, a cancelled one cancelled. The store is reused from
trial to trial, so recovery and retention run on a growing history; at the end every
acknowledgement of every trial is checked again, and SQLite's integrity check must pass.

Figures: ``crash_trials``, ``crash_acknowledged_checked``, ``crash_lost`` (budget 0).
``CRASH_TRIALS`` (default 30) sets the number of trials.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobdeck.core import JobStatus, JobTracker

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"

CHILD = textwrap.dedent(
    """
    import os, random, sys, threading
    sys.path.insert(0, {desktop!r})
    from jobdeck.core import JobTracker

    tracker = JobTracker.open({db!r}, flush_interval=0.05)

    def worker(n):
        rng = random.Random(n * 7919 + os.getpid())
        fd = os.open(os.path.join({acks!r}, f"acks-{{n}}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)

        def ack(text):
            os.write(fd, (text + "\\n").encode())
            os.fsync(fd)

        while True:
            roll = rng.random()
            if roll < 0.2:
                title = "queued " + "q" * rng.randrange(200)
                job = tracker.enqueue("queued", {{"n": n}}, title=title)
                ack(f"created {{job.id}}")
                if rng.random() < 0.5:
                    tracker.cancel_job(job.id)
                    ack(f"cancelled {{job.id}}")
                continue
            ctx = tracker.create_job("work", title="work " + "w" * rng.randrange(300))
            ack(f"created {{ctx.job_id}}")
            for i in range(rng.randrange(4)):
                ctx.update_progress(i, 3, f"step {{i}}")
                ctx.log(f"line {{i}}")
            if roll < 0.8:
                tracker.complete_job(ctx.job_id, result={{"n": n, "pad": "r" * rng.randrange(200)}})
                ack(f"completed {{ctx.job_id}}")
            else:
                tracker.cancel_job(ctx.job_id)
                tracker.mark_cancelled(ctx.job_id)
                ack(f"cancelled {{ctx.job_id}}")

    def reader():
        while True:  # the history's kind of query, as the app's window makes
            tracker.list_jobs(search="w", limit=200)
            tracker.count_jobs(status="completed")

    for n in range({threads}):
        threading.Thread(target=worker, args=(n,), daemon=True).start()
    threading.Thread(target=reader, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
    """
)

_EXPECTED = {
    "completed": JobStatus.COMPLETED,
    "cancelled": JobStatus.CANCELLED,
}


@dataclass
class CrashReport:
    trials: int = 0
    #: acknowledged changes checked after their own trial
    checked: int = 0
    #: all of them checked again after the last trial
    rechecked: int = 0
    lost: list[str] = field(default_factory=list)
    integrity_problems: list[str] = field(default_factory=list)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def read_acks(folder: Path) -> list[tuple[str, str]]:
    """(what, job id) acknowledged, in order per thread; a torn last line is skipped."""
    acks = []
    for path in sorted(folder.glob("acks-*")):
        text = path.read_text()
        for line in text.split("\n")[:-1]:  # only whole lines (each ends in "\n")
            what, _, job_id = line.partition(" ")
            if job_id:
                acks.append((what, job_id))
    return acks


def check(db: Path, acks: list[tuple[str, str]], report: CrashReport) -> None:
    """Reopen the store (recovery runs) and check every acknowledged change (a job's last
    acknowledged state implies the earlier ones: a completed job was created)."""
    report.checked += len(acks)
    final: dict[str, str] = {}
    for what, job_id in acks:
        if what == "created":
            final.setdefault(job_id, what)
        else:
            final[job_id] = what
    with JobTracker.open(db, retention=None) as tracker:
        for job_id, what in final.items():
            job = tracker.get_job(job_id)
            if job is None:
                report.lost.append(f"{what} {job_id}: missing")
            elif what in _EXPECTED and job.status is not _EXPECTED[what]:
                report.lost.append(f"{what} {job_id}: {job.status.value}")
        problem = tracker.verify_store()
        if problem:
            report.integrity_problems.append(problem)


def run_trials(
    folder: Path,
    trials: int,
    *,
    threads: int = 4,
    min_run: float = 0.3,
    max_run: float = 1.5,
    seed: int = 1,
) -> CrashReport:
    """Run ``trials`` crash trials on one store in ``folder``; returns what was checked."""
    rng = random.Random(seed)
    db = folder / "jobs.db"
    report = CrashReport()
    every_ack: list[tuple[str, str]] = []
    for trial in range(trials):
        acks_dir = folder / f"trial-{trial}"
        acks_dir.mkdir()
        script = CHILD.format(desktop=str(DESKTOP), db=str(db), acks=str(acks_dir), threads=threads)
        child = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        try:
            assert child.stdout is not None
            ready = child.stdout.readline().strip()
            if ready != "ready":
                raise RuntimeError(f"crash trial {trial}: the child did not start ({ready!r})")
            time.sleep(rng.uniform(min_run, max_run))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
            if child.stdout is not None:
                child.stdout.close()
        acks = read_acks(acks_dir)
        every_ack += acks
        check(db, acks, report)
        report.trials += 1
    final = CrashReport()
    check(db, every_ack, final)  # nothing acknowledged in an earlier trial went missing later
    report.rechecked = final.checked
    report.lost += [f"(at the end) {line}" for line in final.lost]
    report.integrity_problems += final.integrity_problems
    return report


def main() -> int:
    trials = int(os.environ.get("CRASH_TRIALS", "30"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = run_trials(Path(tmp), trials)
        elapsed = time.perf_counter() - start
    print(f"crash_trials {report.trials}")
    print(f"crash_acknowledged_checked {report.checked}")
    print(f"crash_acknowledged_rechecked_at_end {report.rechecked}")
    print(f"crash_seconds {elapsed:.1f}")
    for line in report.lost[:20]:
        print(f"#   lost: {line}")
    for line in report.integrity_problems[:5]:
        print(f"#   integrity: {line}")
    lost = len(report.lost)
    verdict = "ok" if lost == 0 and not report.integrity_problems else "OVER BUDGET"
    print(f"crash_lost {lost} (budget 0) {verdict}")
    print(f"crash_integrity_problems {len(report.integrity_problems)} (budget 0)")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.path.insert(0, str(DESKTOP))
    sys.exit(main())
