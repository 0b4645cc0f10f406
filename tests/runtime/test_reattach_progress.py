"""What a re-attached process job shows for progress it made while the app was closed.

Found by driving the real app (tests/e2e/test_day_e2e.py): a program kept running at quit
printed ``60/100`` while Jobdeck was closed; after the restart the taskbar and the history
still showed 25 % until the program printed its next line, because a re-attached job's log
was read from its end. A user expects the progress the program has reached: at re-attach
the runtime reads the log's last lines (a bounded tail) for the latest progress.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import Job, JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command

from .conftest import MARKER, _tagged_processes, finished

WAIT_MS = 15_000

PROGRAM = (
    "import os, sys, time\n"
    "gates = sys.argv[1]\n"
    "def wait(name):\n"
    "    while not os.path.exists(os.path.join(gates, name)):\n"
    "        time.sleep(0.02)\n"
    "print('25/100', flush=True)\n"
    "wait('one')\n"
    "print('60/100', flush=True)\n"
    "wait('two')\n"
    "print('100/100', flush=True)\n"
)


class Session:
    """One app session: a tracker opened with the app's job types and a started Runner."""

    def __init__(self, db: Path) -> None:
        self.tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
        self.runner = Runner(self.tracker, log_dir=db.parent / "logs", grace=1.0)
        self.runner.start()

    def close(self, *, keep_processes: bool = False) -> None:
        if not self.tracker.closed:
            self.runner.shutdown(timeout=5, keep_processes=keep_processes)
            self.tracker.close()


@pytest.fixture
def sessions(
    event_loop_qt: asyncio.AbstractEventLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Session]]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    opened: list[Session] = []
    yield opened
    (tmp_path / "gates" / "one").touch()
    (tmp_path / "gates" / "two").touch()
    for session in opened:
        session.close()
    for process in _tagged_processes(marker):
        process.kill()


def _run_to_a_quarter(
    qtbot: Any, sessions: list[Session], tmp_path: Path, program: str
) -> tuple[Session, Job]:
    """A first app runs ``program`` (waiting on the gates folder) until it reports 25."""
    (tmp_path / "gates").mkdir()
    first = Session(tmp_path / "jobs.db")
    sessions.append(first)
    job = first.tracker.enqueue(
        "command",
        {"argv": [sys.executable, "-c", program, str(tmp_path / "gates")], "cwd": str(tmp_path)},
    )
    qtbot.waitUntil(
        lambda: first.tracker.get_job(job.id).progress.current == 25,  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    return first, job


def test_progress_made_while_the_app_was_closed_shows_at_re_attach(
    qtbot, sessions: list[Session], tmp_path: Path
) -> None:
    db, gates = tmp_path / "jobs.db", tmp_path / "gates"
    first, job = _run_to_a_quarter(qtbot, sessions, tmp_path, PROGRAM)
    # A program's log file is recorded with its pid once it has run a moment (0.2 s).
    qtbot.waitUntil(
        lambda: first.tracker.get_job(job.id).log_path is not None,  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    log_path = first.tracker.get_job(job.id).log_path  # type: ignore[union-attr]
    assert log_path is not None
    first.close(keep_processes=True)

    (gates / "one").touch()  # the program goes on while the app is closed
    qtbot.waitUntil(lambda: "60/100" in Path(log_path).read_text(), timeout=WAIT_MS)

    second = Session(db)
    sessions.append(second)
    assert second.tracker.get_job(job.id).status is JobStatus.RUNNING  # type: ignore[union-attr]
    qtbot.waitUntil(
        lambda: second.tracker.get_job(job.id).progress.current == 60,  # type: ignore[union-attr]
        timeout=3000,
    )
    (gates / "two").touch()
    qtbot.waitUntil(lambda: finished(second.tracker, job.id), timeout=WAIT_MS)


CHATTY = (
    "import os, sys, time\n"
    "gates = sys.argv[1]\n"
    "def wait(name):\n"
    "    while not os.path.exists(os.path.join(gates, name)):\n"
    "        time.sleep(0.02)\n"
    "print('25/100', flush=True)\n"
    "wait('one')\n"
    "filler = 'x' * 1000\n"
    "for i in range(20000):\n"  # 20 MB of output while no app watches
    "    print(filler, i)\n"
    "print('60/100', flush=True)\n"
    "for i in range(30):\n"
    "    print('checking file', i)\n"
    "sys.stdout.flush()\n"
    "open(os.path.join(gates, 'written'), 'w').close()\n"
    "wait('two')\n"
)


def test_progress_behind_chatter_in_a_large_log_shows_at_re_attach(
    qtbot, sessions: list[Session], tmp_path: Path
) -> None:
    """The latest progress line is found at the end of the log (a bounded read, however
    large the log), even when the program said more after it; its last line is the
    message."""
    db, gates = tmp_path / "jobs.db", tmp_path / "gates"
    first, job = _run_to_a_quarter(qtbot, sessions, tmp_path, CHATTY)
    first.close(keep_processes=True)
    (gates / "one").touch()
    qtbot.waitUntil(lambda: (gates / "written").exists(), timeout=WAIT_MS)

    second = Session(db)
    sessions.append(second)
    qtbot.waitUntil(
        lambda: second.tracker.get_job(job.id).progress.current == 60,  # type: ignore[union-attr]
        timeout=3000,
    )
    shown = second.tracker.get_job(job.id)
    assert shown is not None and shown.progress.message == "checking file 29"
    (gates / "two").touch()
    qtbot.waitUntil(lambda: finished(second.tracker, job.id), timeout=WAIT_MS)
