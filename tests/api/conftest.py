"""Fixtures of the API tests: an in-process server (``api``) and a real ``jobdeck serve``
(``served``), each with a private runtime directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.api.paths import ApiPaths
from jobdeck.core import JobTracker
from tests.api.serving import LoopServer, Served, short_dir


@pytest.fixture
def runtime() -> Iterator[Path]:
    with short_dir() as path:
        path.chmod(0o700)
        yield path


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[JobTracker]:
    t = JobTracker.open(tmp_path / "jobs.db", event_interval=0.005)
    yield t
    t.close()


@pytest.fixture
def api(tracker: JobTracker, runtime: Path) -> Iterator[LoopServer]:
    server = LoopServer(tracker, ApiPaths(runtime / "jobdeck", "test"))
    yield server
    server.close()


@pytest.fixture
def served(runtime: Path, tmp_path: Path) -> Iterator[Served]:
    app = Served(runtime, tmp_path / "jobs.db").start()
    yield app
    if app.proc is not None:
        app.stop()
