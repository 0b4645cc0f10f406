"""Relative timeouts ("fail after 3x the usual duration") with real short jobs on the real
clock: per job and per type, only once the key has a usual duration, the absolute timeout
when it comes first, and across a restart (the job's factor is stored with it).

The jobs run ``sh -c 'sleep $(cat FILE)'``: the same command (the same job key) each time,
whose run takes as long as the file says; a hang is the file saying 30 s."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.jobs.command import COMMAND
from jobdeck.runtime import Runner
from jobdeck.runtime.relative_timeout import usual_duration_text
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

WAIT_MS = 20_000
USUAL_MESSAGE = r"took 3\.0x its usual \d+\.\d s; stopped"


def run_to_end(qtbot, tracker: JobTracker, job_id: str):
    qtbot.waitUntil(lambda: finished(tracker, job_id), timeout=WAIT_MS)
    job = tracker.get_job(job_id)
    assert job is not None
    return job


class Sleeper:
    """A command that sleeps as long as its file says."""

    def __init__(self, tmp_path: Path) -> None:
        self.file = tmp_path / "duration"
        self.params = {"argv": ["sh", "-c", f"sleep $(cat {self.file})"]}

    def lasts(self, seconds: float) -> Sleeper:
        self.file.write_text(str(seconds))
        return self

    def history(self, qtbot, tracker: JobTracker, runs: int = 3) -> None:
        """Run it ``runs`` times to completion (its key's usual duration)."""
        for _ in range(runs):
            job = tracker.enqueue("command", self.params)
            assert run_to_end(qtbot, tracker, job.id).status is JobStatus.COMPLETED


@pytest.fixture
def start_runner(
    event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """``start_runner(tracker)``: a started Runner; all are shut down at the end and no
    program they started may outlive the test."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    runners: list[Runner] = []

    def start(tracker: JobTracker) -> Runner:
        runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
        runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.shutdown(timeout=5)
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def test_a_job_fails_after_three_times_its_usual_duration(
    qtbot, tmp_path: Path, real_tracker: JobTracker, start_runner: Any
) -> None:
    start_runner(real_tracker)
    sleeper = Sleeper(tmp_path).lasts(0.3)
    sleeper.history(qtbot, real_tracker)
    usual = real_tracker.enqueue("command", sleeper.params, timeout_factor=3)
    assert run_to_end(qtbot, real_tracker, usual.id).status is JobStatus.COMPLETED
    sleeper.lasts(30)  # now it hangs
    started = time.monotonic()
    hung = real_tracker.enqueue("command", sleeper.params, timeout_factor=3)
    failed = run_to_end(qtbot, real_tracker, hung.id)
    assert time.monotonic() - started < 20  # stopped long before its 30 s
    assert failed.status is JobStatus.FAILED and failed.error is not None
    assert re.fullmatch(USUAL_MESSAGE, failed.error.message), failed.error.message
    assert failed.metadata == {"timeout_factor": 3.0}


def test_no_history_means_only_the_absolute_timeout(
    qtbot, tmp_path: Path, real_tracker: JobTracker, start_runner: Any
) -> None:
    start_runner(real_tracker)
    sleeper = Sleeper(tmp_path).lasts(1.5)
    first = real_tracker.enqueue("command", sleeper.params, timeout_factor=1)
    assert run_to_end(qtbot, real_tracker, first.id).status is JobStatus.COMPLETED
    sleeper.lasts(30)
    other = real_tracker.enqueue(
        "command", {"argv": ["sleep", "30"]}, timeout_factor=1, timeout=1.0
    )
    failed = run_to_end(qtbot, real_tracker, other.id)
    assert failed.error is not None and failed.error.message == "timed out after 1 s"


def test_a_type_sets_it_and_a_job_overrides_it(qtbot, tmp_path: Path, start_runner: Any) -> None:
    registry = JobRegistry()
    registry.add(dataclasses.replace(COMMAND, timeout_factor=3.0))
    with JobTracker.open(tmp_path / "t.db", registry=registry, event_interval=0.005) as tracker:
        start_runner(tracker)
        sleeper = Sleeper(tmp_path).lasts(0.3)
        sleeper.history(qtbot, tracker)
        sleeper.lasts(30)
        by_type = tracker.enqueue("command", sleeper.params)
        failed = run_to_end(qtbot, tracker, by_type.id)
        assert failed.error is not None
        assert re.fullmatch(USUAL_MESSAGE, failed.error.message), failed.error.message
        sleeper.lasts(1.5)  # 5x the usual: inside the job's own 100x
        generous = tracker.enqueue("command", sleeper.params, timeout_factor=100)
        assert run_to_end(qtbot, tracker, generous.id).status is JobStatus.COMPLETED


def test_the_factor_survives_a_restart(
    qtbot, tmp_path: Path, start_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "jobs.db"
    first = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = start_runner(first)
    sleeper = Sleeper(tmp_path).lasts(1.0)
    sleeper.history(qtbot, first)
    sleeper.lasts(30)
    hung = first.enqueue("command", sleeper.params, timeout_factor=3)
    qtbot.waitUntil(lambda: first.get_job(hung.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    runner.shutdown(timeout=5, keep_processes=True)  # the app quits; the program runs on
    first.close()
    second = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    try:
        start_runner(second)  # re-attaches the job, with its relative deadline
        failed = run_to_end(qtbot, second, hung.id)
        assert failed.status is JobStatus.FAILED and failed.error is not None
        assert re.fullmatch(USUAL_MESSAGE, failed.error.message), failed.error.message
        assert failed.duration is not None and failed.duration.total_seconds() < 20
    finally:
        second.close()


def test_bad_factors_are_refused_naming_the_field(real_tracker: JobTracker) -> None:
    for bad in (0.5, 0, -1, float("nan"), "3", True):
        with pytest.raises(ValueError, match="timeout_factor"):
            real_tracker.enqueue("command", {"argv": ["true"]}, timeout_factor=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_factor"):
        real_tracker.enqueue("command", {"argv": ["true"]}, metadata={"timeout_factor": "x"})
    assert real_tracker.list_jobs() == []  # nothing was written
    with pytest.raises(ValueError, match="'command': timeout_factor"):
        dataclasses.replace(COMMAND, timeout_factor=0.1)


def test_usual_durations_read_as_people_say_them() -> None:
    assert usual_duration_text(0.34) == "0.3 s"
    assert usual_duration_text(42) == "42 s"
    assert usual_duration_text(240) == "4 min"
    assert usual_duration_text(9000) == "2.5 h"
