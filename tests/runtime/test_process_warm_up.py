"""The process machinery warms up once, however many threads queue the first process jobs
at the same moment."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from jobdeck.core import JobTracker
from jobdeck.core.clock import system_clock
from jobdeck.runtime.executors.processes import ProcessExecutor
from jobdeck.runtime.process_jobs import ProcessJobs
from jobdeck.runtime.supervisor_client import SupervisorClient

TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


class _Racing(ProcessExecutor):
    """Two threads that look whether it is warming up both look before either says so
    (a look at the flag waits, a while at most, for a second look before it answers)."""

    looked = threading.Barrier(2)

    @property
    def _warming(self) -> bool:
        seen = bool(self.__dict__.get("_warming_flag", False))
        with contextlib.suppress(threading.BrokenBarrierError):
            self.looked.wait(0.5)
        return seen

    @_warming.setter
    def _warming(self, value: bool) -> None:
        self.__dict__["_warming_flag"] = value


def test_two_threads_expecting_the_first_process_jobs_start_one_warm_up(qtbot) -> None:
    executor = _Racing()
    executor._closed = False  # (opened: nothing else of it is used)
    warm_ups: list[str] = []
    executor._warm_up = lambda: warm_ups.append(threading.current_thread().name)  # type: ignore[method-assign]
    # (which job type it is does not matter for this)
    queueing = [threading.Thread(target=executor.expect, args=(None,)) for _ in range(2)]
    for thread in queueing:
        thread.start()
    for thread in queueing:
        thread.join(TIMEOUT)
    for thread in threading.enumerate():  # the warm-ups started, done
        if thread.name == "jobdeck-process-warm-up":
            thread.join(TIMEOUT)
    assert warm_ups == ["jobdeck-process-warm-up"]


def test_the_service_starts_while_the_process_machinery_is_opened(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first process job waits for the longer of the two (about 0.1 s each), not for
    both: the warm-up connects to (here: starts) the store's supervisor service while it
    imports and opens the rest. The machinery opened here goes on only once the service
    is connected; done one after the other, this warm-up would never finish."""
    tracker = JobTracker.open(tmp_path / "jobs.db")
    executor = ProcessExecutor(log_dir=tmp_path / "logs")
    executor.open(tracker, system_clock)
    connected = threading.Event()
    real_connect = SupervisorClient.connect

    def connect(client: SupervisorClient) -> None:
        real_connect(client)
        connected.set()

    real_new = ProcessExecutor._new_programs

    def new_programs(self: ProcessExecutor) -> ProcessJobs:
        assert connected.wait(TIMEOUT), "the service was not started meanwhile"
        return real_new(self)

    monkeypatch.setattr(SupervisorClient, "connect", connect)
    monkeypatch.setattr(ProcessExecutor, "_new_programs", new_programs)
    try:
        executor._warm_up()
        assert connected.is_set() and executor._programs is not None
        assert executor._programs.records.client.connected
        assert executor._records is executor._programs.records  # one client, not two
    finally:
        executor.close(0.0)
        tracker.close()
    assert not executor._programs.records.client.connected  # let go: the service may exit


def test_closing_while_warming_up_lets_go_of_the_service(qtbot, tmp_path: Path) -> None:
    """Closed after the warm-up connected but before it opened the rest: the connection
    is let go all the same (else the service would wait for this app forever)."""
    tracker = JobTracker.open(tmp_path / "jobs.db")
    executor = ProcessExecutor(log_dir=tmp_path / "logs")
    executor.open(tracker, system_clock)
    with executor._open_lock:
        records = executor._supervisor_records()
    records.client.connect()
    try:
        assert records.client.connected
        executor.close(0.0)
        assert not records.client.connected
        executor._warm_up()  # (closed: it opens nothing)
        assert executor._programs is None
    finally:
        tracker.close()
