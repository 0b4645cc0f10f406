"""Jobs on a Dask cluster (issue 14): a ``distributed.LocalCluster`` with worker processes,
one per module, and a Runner told its scheduler's address.

Progress and logs come back through Dask's events; cancel reaches the worker; a raising task
fails the job with the worker's traceback; a worker killed mid-job fails the job (then
retries it per its policy); a scheduler that goes away fails the running job with the
reason. Without an address, the same types run on local threads.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner
from jobdeck.runtime.executors import DaskExecutor

from . import dask_jobs
from .conftest import finished, status_of

distributed = pytest.importorskip("distributed")

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes (nannies restart a killed one)."""
    c = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    yield c
    # A busy machine makes a nanny kill its worker at the end, with a warning: Dask's own
    # business, after the last test.
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        c.close()
    finally:
        nanny.setLevel(level)


@pytest.fixture
def dask_registry(registry: JobRegistry) -> JobRegistry:
    registry.register("count", dask_jobs.count, executor="dask")
    registry.register("until-cancelled", dask_jobs.until_cancelled, executor="dask")
    registry.register("explode", dask_jobs.explode, executor="dask")
    registry.register("count-retry", dask_jobs.count, executor="dask", retryable=True)
    return registry


@pytest.fixture
def make_runner(
    event_loop_qt: Any, tracker: JobTracker, tmp_path: Path
) -> Iterator[Callable[..., Runner]]:
    """Started Runners on the test's tracker, shut down after it. Unlike the runtime tests'
    fixture, it marks no processes: a worker a nanny restarts during a test is the
    cluster's, not a process the test left behind."""
    runners: list[Runner] = []

    def make(*, start: bool = True, **kwargs: Any) -> Runner:
        runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0, **kwargs)
        runners.append(runner)
        if start:
            runner.start()
        return runner

    yield make
    for runner in runners:
        assert runner.shutdown(timeout=10), "a job was still running at shutdown"


@pytest.fixture
def dask_runner(
    cluster: Any, dask_registry: JobRegistry, make_runner: Callable[..., Runner]
) -> Runner:
    return make_runner(dask=cluster.scheduler_address)


def executor_of(runner: Runner) -> DaskExecutor:
    assert runner.dask is not None
    return runner.dask


def worker_tasks(runner: Runner) -> list[str]:
    """Keys of the Jobdeck tasks the cluster's workers run now."""
    from jobdeck.core.dask_task import running_tasks

    client = executor_of(runner).client
    assert client is not None
    return [key for keys in client.run(running_tasks).values() for key in keys]


def test_progress_logs_result_and_worker_come_back(
    qtbot: Any, dask_runner: Runner, tracker: JobTracker, cluster: Any
) -> None:
    seen: list[float] = []
    tracker.subscribe(
        lambda e: seen.append(e.job.progress.current) if e.job.type == "count" else None
    )
    job = tracker.enqueue("count", {"steps": 6, "delay": 0.15})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)

    done = tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result == {"steps": 6}
    assert done.progress.current == 6 and done.progress.message == "step 6 of 6"
    # Progress arrived while it ran, coalesced: some steps, but not one event per line.
    assert any(0 < value < 6 for value in seen), seen
    lines = [entry.message for entry in tracker.logs(job.id)]
    assert len([line for line in lines if line.startswith("step ")]) == 6, lines
    worker = done.metadata["worker"]
    assert worker["address"] in cluster.scheduler_info["workers"]
    assert worker["pid"] != os.getpid() and f"pid {worker['pid']}" in lines[0]
    assert worker["host"]
    assert done.peak_rss and done.peak_rss > 1_000_000
    assert done.cpu_seconds is not None


def test_cancel_stops_the_running_task_within_a_second(
    qtbot: Any, dask_runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    stamp = tmp_path / "stopped-at"
    job = tracker.enqueue("until-cancelled", {"stamp": str(stamp)})
    qtbot.waitUntil(lambda: status_of(tracker, job.id) is JobStatus.RUNNING, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tracker.get_job(job.id).progress.current > 2, timeout=WAIT_MS)  # type: ignore[union-attr]
    handle = tracker.get_job(job.id)
    assert handle is not None and "worker" in handle.metadata
    key = next(k for k in worker_tasks(dask_runner) if job.id in k)
    future = executor_of(dask_runner).future_of(job.id)
    assert future is not None and future.key == key

    asked = time.time()
    assert tracker.cancel_job(job.id)
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    assert status_of(tracker, job.id) is JobStatus.CANCELLED
    qtbot.waitUntil(stamp.exists, timeout=WAIT_MS)
    assert float(stamp.read_text()) - asked < 1.0
    qtbot.waitUntil(lambda: key not in worker_tasks(dask_runner), timeout=WAIT_MS)
    assert future.cancelled()


def test_a_raising_task_fails_the_job_with_the_workers_traceback(
    qtbot: Any, dask_runner: Runner, tracker: JobTracker
) -> None:
    job = tracker.enqueue("explode", {"what": "no disk"})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    failed = tracker.get_job(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.message == "ValueError: the worker says no disk"
    assert failed.error.traceback is not None
    assert "_inner" in failed.error.traceback and "dask_jobs.py" in failed.error.traceback
    assert failed.progress.message == "about to fail"


def test_without_a_scheduler_dask_types_run_on_local_threads(
    qtbot: Any, dask_registry: JobRegistry, make_runner: Callable[..., Runner], tracker: JobTracker
) -> None:
    runner = make_runner()
    assert runner.dask is None
    job = tracker.enqueue("count", {"steps": 2, "delay": 0})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert "worker" not in done.metadata
    assert f"pid {os.getpid()}" in tracker.logs(job.id)[0].message


def test_dask_is_not_imported_by_the_app_without_a_scheduler() -> None:
    code = (
        "import sys; import jobdeck.app, jobdeck.runtime;"
        "from jobdeck.runtime import Runner;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_a_bad_scheduler_address_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="tcp://host:8786"):
        DaskExecutor("  ")


@pytest.mark.slow
def test_a_killed_worker_fails_the_job_then_it_retries_per_its_policy(
    qtbot: Any,
    dask_runner: Runner,
    tracker: JobTracker,
    clock: FakeClock,
    cluster: Any,
    expected_log: Any,
) -> None:
    expected_log.allow(r"Restarting worker", logging.WARNING)
    job = tracker.enqueue("count-retry", {"steps": 40, "delay": 0.1}, max_attempts=2)
    qtbot.waitUntil(
        lambda: "worker" in tracker.get_job(job.id).metadata,  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    first = tracker.get_job(job.id)
    assert first is not None
    victim = first.metadata["worker"]
    os.kill(victim["pid"], signal.SIGKILL)

    qtbot.waitUntil(lambda: status_of(tracker, job.id) is not JobStatus.RUNNING, timeout=WAIT_MS)
    retried = tracker.get_job(job.id)
    assert retried is not None and retried.status is JobStatus.PENDING
    assert retried.error is not None
    assert retried.error.message.startswith(f"the Dask worker {victim['address']}")
    assert "went away" in retried.error.message

    clock.advance(3600)
    dask_runner.poke()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.attempts == 2
    assert done.metadata["worker"]["pid"] != victim["pid"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_scheduler(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Dask scheduler and one worker as programs of their own (so the test can kill the
    scheduler): its address and its process."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "desktop")])}
    cli = [sys.executable, "-m"]
    scheduler = subprocess.Popen(
        [*cli, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
         address.rsplit(":", 1)[1], "--no-dashboard"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [*cli, "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
         "--no-dashboard", "--death-timeout", "5"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address, scheduler
    finally:
        for process in (scheduler, worker):
            process.kill()
            process.wait(timeout=30)


@pytest.mark.slow
def test_a_scheduler_that_goes_away_fails_the_running_job_with_the_reason(
    qtbot: Any,
    dask_registry: JobRegistry,
    make_runner: Callable[..., Runner],
    tracker: JobTracker,
    own_scheduler: tuple[str, subprocess.Popen[bytes]],
    expected_log: Any,
) -> None:
    expected_log.allow(r"[Rr]econnect|closing client|connect|lost the connection")
    expected_log.allow(r"^$")  # distributed's log_errors: a failed reconnect, traceback only
    address, scheduler = own_scheduler
    runner = make_runner(dask=address, start=False)
    assert runner.dask is not None
    runner.dask.connect_timeout = 3
    runner.start()
    job = tracker.enqueue("count", {"steps": 2000, "delay": 0.05})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).progress.current > 0, timeout=WAIT_MS)  # type: ignore[union-attr]
    scheduler.send_signal(signal.SIGKILL)

    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    failed = tracker.get_job(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.message.startswith(
        f"lost the connection to the Dask scheduler at {address} while it ran"
    )

    # A job started while the scheduler is gone fails, naming it.
    late = tracker.enqueue("count", {"steps": 1})
    qtbot.waitUntil(lambda: finished(tracker, late.id), timeout=WAIT_MS)
    refused = tracker.get_job(late.id)
    assert refused is not None and refused.status is JobStatus.FAILED
    assert refused.error is not None
    assert refused.error.message.startswith(f"cannot reach the Dask scheduler at {address}")


def test_the_app_uses_the_setting_or_the_dask_option(tmp_path: Path, qapp: Any) -> None:
    from PySide6.QtCore import QSettings

    from jobdeck.app import open_runtime
    from jobdeck.cli.parser import build_parser
    from jobdeck.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp_path / "j.ini"), QSettings.Format.IniFormat))
    assert settings.dask_scheduler == ""
    for given, stored, expected in (
        (None, "", None),
        (None, " tcp://set:8786 ", "tcp://set:8786"),
        ("tcp://flag:8786", "tcp://set:8786", "tcp://flag:8786"),
    ):
        settings.dask_scheduler = stored
        tracker, runner = open_runtime(tmp_path / "j.db", JobRegistry(), settings, given)
        try:
            assert (runner.dask.address if runner.dask else None) == expected
        finally:
            tracker.close()
    parser = build_parser()
    assert parser.parse_args(["serve", "--dask", "tcp://s:8786"]).dask == "tcp://s:8786"
    assert parser.parse_args(["--dask", "tcp://s:8786"]).dask == "tcp://s:8786"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dask", "scheduler"])


def test_without_dask_installed_the_error_names_the_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The desktop bundle leaves Dask out: a job for the cluster fails saying what to
    install, not with a bare ModuleNotFoundError."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    executor = DaskExecutor("tcp://127.0.0.1:1")
    with pytest.raises(RuntimeError, match=r"tcp://127\.0\.0\.1:1.*pip install 'jobdeck\[dask\]'"):
        executor._connect()
