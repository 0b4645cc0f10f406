"""Issue 8: a store's own files live in one folder named after it (``jobs.db.d/``), not in
generic ``logs/`` and ``supervised/`` folders beside the user's file; stores from earlier
versions keep working (their logs, and jobs left running with records in the old place)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from jobdeck.runtime.store_folder import StoreFolder
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

PROGRAMS = Path(__file__).resolve().parent / "programs"
ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 10_000


class Session:
    """A tracker opened with the reattach hook and a started Runner."""

    def __init__(self, db: Path, **runner_args: Any) -> None:
        self.tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
        self.runner = Runner(self.tracker, grace=1.0, **runner_args)
        self.runner.start()

    def close(self, *, keep_processes: bool = False) -> None:
        if not self.tracker.closed:
            self.runner.shutdown(timeout=5, keep_processes=keep_processes)
            self.tracker.close()


@pytest.fixture
def open_session(
    event_loop_qt: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Session]]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    sessions: list[Session] = []

    def open_(db: Path, **runner_args: Any) -> Session:
        session = Session(db, **runner_args)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def test_the_store_folder_is_named_after_the_database() -> None:
    files = StoreFolder(Path("/home/ann/jobs.db"))
    assert files.root == Path("/home/ann/jobs.db.d")
    assert files.logs == Path("/home/ann/jobs.db.d/logs")
    assert files.records == Path("/home/ann/jobs.db.d/supervised")


def test_a_store_in_the_users_folder_adds_one_folder_named_after_it(
    qtbot, open_session: Callable[..., Session], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("the user's own file\n")
    session = open_session(home / "jobs.db")
    job = session.tracker.enqueue("command", {"argv": ["echo", "hello"]})
    qtbot.waitUntil(lambda: finished(session.tracker, job.id), timeout=WAIT_MS)
    done = session.tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.log_path == str(home / "jobs.db.d" / "logs" / f"{job.id}.log")
    assert Path(done.log_path).read_text() == "hello\n"
    assert "logs" not in os.listdir(home) and "supervised" not in os.listdir(home)
    assert {"notes.txt", "jobs.db", "jobs.db.d"} <= set(os.listdir(home))
    assert all(name.startswith("jobs.db") or name == "notes.txt" for name in os.listdir(home))


def test_a_job_left_running_by_an_older_version_is_re_attached_and_keeps_its_log(
    qtbot, open_session: Callable[..., Session], tmp_path: Path
) -> None:
    db = tmp_path / "jobs.db"
    gate = tmp_path / "gate"
    gate.mkdir()
    argv = [sys.executable, str(PROGRAMS / "gated_job.py"), str(gate)]
    # An older version kept logs/ and supervised/ straight beside the database.
    old = open_session(db, log_dir=tmp_path / "logs", records_dir=tmp_path / "supervised")
    job = old.tracker.enqueue(
        "command", {"argv": argv, "env": {"PYTHONPATH": str(ROOT / "desktop")}}
    )
    qtbot.waitUntil(
        lambda: old.tracker.get_job(job.id).progress.current == 1,  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    old_log = tmp_path / "logs" / f"{job.id}.log"
    record = tmp_path / "supervised" / f"{job.id}.json"
    qtbot.waitUntil(record.exists, timeout=WAIT_MS)  # once it has run RECORD_DELAY
    old.close(keep_processes=True)

    new = open_session(db)  # the new layout by default
    assert job.id in new.runner.running_job_ids()
    (gate / "go1").touch()
    qtbot.waitUntil(
        lambda: new.tracker.get_job(job.id).progress.current == 3,  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    (gate / "go2").touch()
    qtbot.waitUntil(lambda: finished(new.tracker, job.id), timeout=WAIT_MS)
    done = new.tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result == {"ok": True}
    assert done.log_path == str(old_log) and "3/4" in old_log.read_text()
    qtbot.waitUntil(
        lambda: not (tmp_path / "supervised" / f"{job.id}.json").exists(), timeout=WAIT_MS
    )


@pytest.mark.expected_log("could not start: refusing to use")
def test_a_shared_log_directory_is_refused_with_a_clear_message(
    qtbot, open_session: Callable[..., Session], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: Jobdeck must not make it private
    session = open_session(tmp_path / "jobs.db", log_dir=shared)
    job = session.tracker.enqueue("command", {"argv": ["echo", "hello"]})
    qtbot.waitUntil(lambda: finished(session.tracker, job.id), timeout=WAIT_MS)
    done = session.tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert str(done.error) == (
        f"could not start: refusing to use {shared}: it is a shared directory (sticky bit); "
        "use a directory of your own inside it"
    )
    assert os.stat(shared).st_mode & 0o7777 == 0o1777
