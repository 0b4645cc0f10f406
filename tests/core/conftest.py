"""Fixtures for core tests: trackers on a temporary file with a fake clock. No Qt here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobEvent, JobTracker


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def store_where(db_path: Path) -> str | Path:
    """Where the ``tracker`` fixture's store is: a SQLite file here; modules that test both
    stores override it with :func:`either_store`."""
    return db_path


def either_store(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """A SQLite file or a new PostgreSQL database (``request.param``). Tests marked
    ``sqlite_only`` (they read the file with sqlite3 themselves) run on SQLite only."""
    if request.param == "sqlite":
        return db_path
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("reads the SQLite file directly")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def tracker(store_where: str | Path, clock: FakeClock) -> Iterator[JobTracker]:
    t = JobTracker.open(store_where, clock=clock, event_interval=0.005, instance="tests")
    yield t
    t.close()


class Recorder:
    """A subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def __call__(self, event: JobEvent) -> None:
        self.events.append(event)

    def kinds(self, job_id: str | None = None) -> list[str]:
        return [e.kind.value for e in self.events if job_id is None or e.job.id == job_id]


@pytest.fixture
def recorder(tracker: JobTracker) -> Recorder:
    rec = Recorder()
    tracker.subscribe(rec)
    return rec


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` every 5 ms until it holds or ``timeout`` passes (core has no qtbot)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()
