"""A real crash (SIGKILL mid-job), and the core working with PySide6 and qasync blocked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from jobdeck.core import JobStatus, JobTracker

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {desktop!r})
    from jobdeck.core import JobTracker
    tracker = JobTracker.open({db!r}, flush_interval=3600)
    for i in range(3):
        ctx = tracker.create_job("done", title=f"finished {{i}}")
        ctx.update_progress(i + 1, 3, f"step {{i}}")
        ctx.log(f"log of {{i}}")
        tracker.complete_job(ctx.job_id, result={{"i": i}})
    failed = tracker.create_job("bad")
    tracker.complete_job(failed.job_id, success=False, error="it broke")
    running = tracker.create_job("long", title="still running")
    running.update_progress(40, 100, "flushed")
    tracker.flush()
    running.update_progress(60, 100, "never flushed")  # lost with the process: that's fine
    print(running.job_id, flush=True)
    time.sleep(120)
    """
)


def test_sigkill_leaves_a_recoverable_store(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(desktop=str(DESKTOP), db=str(db))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        running_id = child.stdout.readline().strip()
        assert running_id, "the child did not get as far as printing its job id"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with JobTracker.open(db) as tracker:
        finished = tracker.list_jobs(type="done")
        assert sorted(j.title for j in finished) == ["finished 0", "finished 1", "finished 2"]
        for job in finished:
            assert job.status is JobStatus.COMPLETED
            assert job.result == {"i": job.progress.current - 1}
            assert [e.message for e in tracker.logs(job.id)] == [f"log of {job.result['i']}"]
        [bad] = tracker.list_jobs(type="bad")
        assert bad.status is JobStatus.FAILED and bad.error is not None
        assert bad.error.message == "it broke"
        interrupted = tracker.get_job(running_id)
        assert interrupted is not None and interrupted.status is JobStatus.FAILED
        assert interrupted.error is not None and "interrupted" in interrupted.error.message
        assert interrupted.progress.current == 40 and interrupted.progress.message == "flushed"


BLOCKED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {desktop!r})

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6"):
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, Blocker())
    import importlib, pkgutil
    import jobdeck.core as core
    for info in pkgutil.iter_modules(core.__path__):
        importlib.import_module(f"jobdeck.core.{{info.name}}")
    with core.JobTracker.open(":memory:") as tracker:
        with tracker.create_job("x") as ctx:
            ctx.update_progress(1, 2, "half")
        job = tracker.get_job(ctx.job_id)
        assert job.status is core.JobStatus.COMPLETED, job
        assert tracker.enqueue("y").status is core.JobStatus.PENDING
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "qasync"))
    print("OK", qt)
    """
)


def test_core_imports_and_works_without_qt() -> None:
    script = BLOCKED.format(desktop=str(DESKTOP))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK []"
