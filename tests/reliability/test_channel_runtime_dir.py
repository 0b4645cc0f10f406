"""Issue 9, item 7: with ``XDG_RUNTIME_DIR`` unset, another user who creates
``/tmp/runtime-<uid>`` first must not stop the app nor get hold of its channel.

The fallback runtime directory is created safely (ours, 0700, no symbolic link, checked
after creation); when it was taken, another safe directory is used, and when there is none
the app runs without the channel and says so, in its log and in each job's log.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner, runtime_dir
from tests.registries import with_command
from tests.runtime.channel_helpers import short_tempdir
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 20_000
OTHER_USER = 65534  # nobody
REPORTS = (
    "from jobdeck.worker import run_job\n"
    "run_job(lambda job: (job.progress(current=1, total=1), {'via': 'channel'})[1])\n"
)


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A session without XDG_RUNTIME_DIR whose temp and cache directories are in a fresh
    directory (short, for socket paths); /run/user is not there. (``tmp_path`` is made
    before the temp directory moves.)"""
    with short_tempdir() as base:
        (base / "tmp").mkdir(mode=0o1777)
        os.chmod(base / "tmp", 0o1777)
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        monkeypatch.setattr(tempfile, "tempdir", str(base / "tmp"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
        monkeypatch.setattr(runtime_dir, "RUN_USER", base / "no-run-user")
        yield base


@pytest.fixture
def store_dir() -> Iterator[Path]:
    """Where the store is: a short path, so that the supervisor's socket beside it fits
    (under ``tmp_path`` it may not: the last test below relies on that socket)."""
    with short_tempdir() as base:
        yield base


@pytest.fixture
def tracker(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobTracker]:
    monkeypatch.setenv(MARKER, marker := uuid.uuid4().hex)
    t = JobTracker.open(store_dir / "jobs.db", registry=with_command(), event_interval=0.005)
    yield t
    t.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


@pytest.fixture
def runner(event_loop_qt: Any, tracker: JobTracker) -> Iterator[Runner]:
    made: list[Runner] = []
    yield made  # type: ignore[misc]
    for r in made:
        assert r.shutdown(timeout=10)


def start_runner(made: Any, tracker: JobTracker) -> Runner:
    r = Runner(tracker, grace=1.0)
    made.append(r)
    r.start()  # must not raise, whatever the runtime directory
    return r


def run_reporting_job(qtbot: Any, tracker: JobTracker, tmp_path: Path) -> Any:
    program = tmp_path / "job.py"
    program.write_text(REPORTS)
    job = tracker.enqueue(
        "command",
        {"argv": [sys.executable, str(program)], "env": {"PYTHONPATH": str(ROOT / "desktop")}},
    )
    qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
    done = tracker.get_job(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED, done.error
    return done


def test_a_missing_fallback_is_created_private_and_used(
    qtbot: Any, place: Path, tracker: JobTracker, runner: Any, tmp_path: Path
) -> None:
    os.umask(old := os.umask(0))  # whatever the umask
    try:
        r = start_runner(runner, tracker)
    finally:
        os.umask(old)
    fallback = place / "tmp" / f"runtime-{os.getuid()}"
    # The channel is served from the first time it is needed (here: asked for).
    assert r.channel_path is not None and fallback in r.channel_path.parents
    info = os.lstat(fallback)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()
    assert run_reporting_job(qtbot, tracker, tmp_path).result == {"via": "channel"}


@pytest.mark.expected_log("runtime directory: using")
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to create a directory as another user")
def test_a_fallback_taken_by_another_user_is_refused_and_another_safe_one_used(
    qtbot: Any,
    place: Path,
    tracker: JobTracker,
    runner: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    taken = place / "tmp" / f"runtime-{os.getuid()}"
    taken.mkdir()
    os.chmod(taken, 0o777)
    os.chown(taken, OTHER_USER, OTHER_USER)
    with caplog.at_level(logging.WARNING):
        r = start_runner(runner, tracker)
    assert r.channel_path is not None
    assert taken not in r.channel_path.parents
    assert (place / "cache") in r.channel_path.parents
    assert f"belongs to user id {OTHER_USER}" in caplog.text
    assert os.listdir(taken) == []  # nothing of ours went into the other user's directory
    assert run_reporting_job(qtbot, tracker, tmp_path).result == {"via": "channel"}


@pytest.mark.expected_log("runtime directory: using")
def test_a_symbolic_link_in_place_of_the_fallback_is_not_followed(
    place: Path, tracker: JobTracker, runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    decoy = place / "decoy"
    decoy.mkdir(mode=0o700)
    (place / "tmp" / f"runtime-{os.getuid()}").symlink_to(decoy)
    with caplog.at_level(logging.WARNING):
        r = start_runner(runner, tracker)
    assert r.channel_path is not None and decoy not in r.channel_path.resolve().parents
    assert os.listdir(decoy) == []
    assert "symbolic link" in caplog.text


@pytest.mark.expected_log("run without a progress channel")
def test_without_any_safe_directory_jobs_run_without_the_channel_and_say_so(
    qtbot: Any,
    place: Path,
    tracker: JobTracker,
    runner: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (place / "tmp" / f"runtime-{os.getuid()}").write_text("not a directory")
    (place / "cache").write_text("not a directory either")
    with caplog.at_level(logging.WARNING):
        r = start_runner(runner, tracker)
    assert r.channel_path is None
    assert "without a progress channel" in caplog.text
    assert "no safe runtime directory" in caplog.text
    job = tracker.enqueue("command", {"argv": ["sh", "-c", "echo 1/2; echo 2/2"]})
    qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=WAIT_MS)  # type: ignore[union-attr]
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.progress.current == 2  # read from its output
    warnings = [e.message for e in tracker.logs(job.id) if e.level == "warning"]
    assert any(w.startswith("no progress channel (no safe runtime directory") for w in warnings)
