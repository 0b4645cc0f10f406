"""The test side of :mod:`tests.e2e.app_driver`: start the real app on an X session, read
what it shows, ask it to do what a user does, and read its store as another process would.

Every wait polls with a deadline (no sleep-and-hope); a timeout says what was awaited and
what the app showed last.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from jobdeck.core import Job, JobTracker, StoreError

from .xsession import DESKTOP, ROOT, XSession

T = TypeVar("T")

DRIVER = Path(__file__).resolve().parent / "app_driver.py"
#: A program for process jobs: prints its arguments as lines, and for ``wait:NAME`` waits
#: until the file NAME exists in the folder given first (a gate the test opens). It gives
#: up (exit status 3) when the folder goes away with its X session, or after two minutes,
#: so a failed test leaves no program behind.
GATED_PROGRAM = """\
import os, sys, time
folder = sys.argv[1]
give_up = time.monotonic() + 120
for arg in sys.argv[2:]:
    if arg.startswith("wait:"):
        while not os.path.exists(os.path.join(folder, arg[5:])):
            if not os.path.isdir(folder) or time.monotonic() > give_up:
                sys.exit(3)
            time.sleep(0.02)
    else:
        print(arg, flush=True)
"""


def poll(get: Callable[[], T | None], timeout: float, what: str, last: Callable[[], object]) -> T:
    """``get()`` once it returns something other than None/False, polling every 50 ms."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {last()}")
        time.sleep(0.05)


class DrivenApp:
    """One run of the real app (``jobdeck --db DB``) with the test driver attached."""

    def __init__(self, session: XSession, db: Path, *args: str, name: str = "app") -> None:
        self.session = session
        self.db = db
        self.state_path = session.tmp / f"{name}-state.json"
        self.inbox = session.tmp / f"{name}-inbox"
        self.inbox.mkdir(exist_ok=True)
        self.state_path.unlink(missing_ok=True)
        self._numbers = itertools.count(1)
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), "--db", str(db), *args],
            env=session.env(
                JOBDECK_TEST_STATE=str(self.state_path),
                JOBDECK_TEST_INBOX=str(self.inbox),
                PYTHONPATH=os.pathsep.join([str(DESKTOP), str(ROOT)]),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = ""
        self.stderr = ""

    # -- what the user sees -------------------------------------------------------------------

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def rows(self) -> list[dict[str, Any]]:
        state = self.state()
        return [] if state is None else state["taskbar"]["rows"]

    def row(self, job_id: str) -> dict[str, Any] | None:
        return next((r for r in self.rows() if r["job_id"] == job_id), None)

    def describe(self) -> str:
        state = self.state()
        if self.proc.poll() is not None:
            return f"the app exited with status {self.proc.returncode}"
        if state is None:
            return "the app has written no state yet"
        return f"taskbar: {json.dumps(state['taskbar'])}; dialogs: {state['dialogs']}"

    def wait_for(self, get: Callable[[], T | None], what: str, timeout: float = 30) -> T:
        def checked() -> T | None:
            if self.proc.poll() is not None:
                self.finish()
                raise AssertionError(f"the app exited while waiting for {what}: {self.stderr}")
            return get()

        return poll(checked, timeout, what, self.describe)

    def wait_for_row(
        self, job_id: str, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30
    ) -> dict[str, Any]:
        def matching() -> dict[str, Any] | None:
            row = self.row(job_id)
            return row if row is not None and check(row) else None

        return self.wait_for(matching, f"the taskbar row of {job_id} to show {what}", timeout)

    def started(self, timeout: float = 60) -> DrivenApp:
        self.wait_for(self.state, "the app to start", timeout)
        return self

    # -- what the user does -------------------------------------------------------------------

    def request(self, do: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        name = f"{next(self._numbers):04d}-{do}"
        partial = self.inbox / f"{name}.part"
        partial.write_text(json.dumps({"do": do, **fields}))
        partial.rename(self.inbox / f"{name}.json")

        def reply() -> dict[str, Any] | None:
            state = self.state()
            return None if state is None else state["replies"].get(name)

        answer = self.wait_for(reply, f"a reply to {do} {fields}", timeout)
        assert "error" not in answer, answer
        return answer

    def enqueue(self, type: str, params: dict[str, Any], title: str | None = None) -> str:
        return str(self.request("enqueue", type=type, params=params, title=title)["job_id"])

    def gated_job(self, title: str, *steps: str, cwd: Path | None = None) -> str:
        """Queue a process job that prints ``steps`` and waits at each ``wait:NAME``."""
        program = self.session.tmp / "gated.py"
        if not program.exists():
            program.write_text(GATED_PROGRAM)
        gates = self.session.tmp / "gates"
        gates.mkdir(exist_ok=True)
        argv = [sys.executable, str(program), str(gates), *steps]
        return self.enqueue(
            "command", {"argv": argv, "cwd": str(cwd or self.session.tmp)}, title=title
        )

    def open_gate(self, name: str) -> None:
        (self.session.tmp / "gates" / name).touch()

    # -- its end --------------------------------------------------------------------------------

    def finish(self, timeout: float = 30) -> int:
        """Wait for the app to exit by itself; its exit status (output kept)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.stdout, self.stderr = out, err
            raise AssertionError(f"the app did not exit within {timeout} s: {err}") from None
        self.stdout, self.stderr = out, err
        return self.proc.returncode

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (quits without asking, cancelling what runs); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(ValueError):
            self.finish()


@contextlib.contextmanager
def driven_app(session: XSession, db: Path, *args: str, name: str = "app") -> Iterator[DrivenApp]:
    app = DrivenApp(session, db, *args, name=name)
    try:
        yield app.started()
    finally:
        app.kill()


def stored(db: Path, job_id: str) -> Job | None:
    """The job as a read-only reader of the store sees it (None before the store exists)."""
    try:
        with JobTracker.open(db, read_only=True) as reader:
            return reader.get_job(job_id)
    except StoreError:
        return None


def screenshot(session: XSession, name: str) -> Path | None:
    """Save the screen as ``<name>.png`` in ``$JOBDECK_E2E_SHOTS`` to look at; nothing when
    it is unset (a grab costs seconds)."""
    folder = os.environ.get("JOBDECK_E2E_SHOTS")
    return session.grab(Path(folder) / f"{name}.png") if folder else None


def percent_shown(row: dict[str, Any]) -> str | None:
    """The percentage in a running row's time text (``42% · 3s · 2s left`` -> ``42%``)."""
    first = row["time"].split(" \u00b7 ")[0]
    return first if first.endswith("%") else None
