"""Fixtures for widget tests: a fake tracker and signals that follow the real contracts, and
a real tracker (SQLite in a temp dir, on a hand-moved clock) with real signals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core.clock import FakeClock
from jobdeck.core.tracker import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime.signals import JobSignals

from .fakes import FakeSettings, FakeSignals, FakeTracker


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def signals(qtbot, tracker: FakeTracker) -> FakeSignals:
    return FakeSignals(tracker)


@pytest.fixture
def settings() -> FakeSettings:
    return FakeSettings()


@pytest.fixture
def clock() -> FakeClock:
    """The real tracker's clock: time passes only when a test advances it."""
    return FakeClock()


@pytest.fixture
def jobs_db(tmp_path: Path) -> Path:
    """Where the real tracker's store is; a test module overrides this to fill it first
    (as an earlier session of the app would have)."""
    return tmp_path / "jobs.db"


@pytest.fixture
def real_tracker(jobs_db: Path, clock: FakeClock) -> Iterator[JobTracker]:
    """The real JobTracker with the built-in job types, announcing changes every 5 ms."""
    t = JobTracker.open(jobs_db, clock=clock, registry=builtin_registry(), event_interval=0.005)
    yield t
    t.close()


@pytest.fixture
def real_signals(qtbot, real_tracker: JobTracker) -> Iterator[JobSignals]:
    """The real JobSignals over :func:`real_tracker`, polling every 5 ms."""
    s = JobSignals(real_tracker, interval_ms=5)
    yield s
    s.close()
