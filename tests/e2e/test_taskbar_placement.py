"""The real app's floating taskbar on a 1280x800 Xvfb screen, handled with a real pointer:
it keeps out of the way of the active main window, shows ten queued jobs wholly on screen
in its corner, a click on its header leaves it docked (as jobs finish it shrinks into its
corner), a drag moves it (never off the screen) and the next start puts it back where it
was dragged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobTracker

from .xinput import Pointer, WindowInfo, window_info
from .xsession import XSession, running_app, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCREEN_W, SCREEN_H = 1280, 800
TASKBAR = "Jobdeck jobs"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def on_screen(info: WindowInfo) -> bool:
    return info.x >= 0 and info.y >= 0 and info.right <= SCREEN_W and info.bottom <= SCREEN_H


def taskbar(session: XSession) -> WindowInfo | None:
    info = window_info(session, TASKBAR)
    return info if info is not None and info.mapped else None


def settled(session: XSession) -> WindowInfo:
    """The taskbar's geometry once it has stopped changing."""
    last = wait_for(lambda: taskbar(session), 20, "the taskbar to show")
    for _ in range(50):
        time.sleep(0.2)
        now = taskbar(session)
        if now is not None and now == last:
            return now
        last = now
    raise AssertionError("the taskbar kept moving")


def test_taskbar_placement_with_a_real_pointer(tmp_path: Path) -> None:
    with XSession(tray=False, compositor=False) as session:
        db = session.tmp / "jobs.db"
        with JobTracker.open(db) as tracker:  # ten jobs waiting for the app to start
            for i in range(8):
                tracker.enqueue("countdown", {"seconds": 2}, title=f"Short {i + 1}", priority=1)
            for i in range(2):
                tracker.enqueue("countdown", {"seconds": 120}, title=f"Long {i + 1}")
        pointer = Pointer(session)
        try:
            with running_app(session, "--db", str(db)) as app:
                wait_for(lambda: window_info(session, "Jobdeck"), 30, "the main window")
                time.sleep(1.5)
                # the main window is active and fills the screen: the panel stays out of it
                assert taskbar(session) is None
                pointer.focus_elsewhere()  # the user turns to another program
                docked = settled(session)
                assert on_screen(docked), docked
                assert (docked.right, docked.bottom) == (SCREEN_W - 16, SCREEN_H - 16)
                assert docked.height > 6 * 40  # six rows and "+4 more"

                pointer.click(docked.x + 80, docked.y + 14)  # a click on the header
                # the short jobs finish and leave: the panel shrinks into its corner
                small = wait_for(
                    lambda: (t := taskbar(session)) and t.height < docked.height - 150 and t,
                    40,
                    "the finished rows to leave",
                )
                small = settled(session)
                assert (small.right, small.bottom) == (docked.right, docked.bottom), small

                pointer.drag(small.x + 80, small.y + 14, -600, -150)
                dragged = settled(session)
                assert on_screen(dragged), dragged
                assert abs(dragged.x - (small.x - 600)) <= 2, (small, dragged)
                assert abs(dragged.y - (small.y - 150)) <= 2, (small, dragged)

                pointer.drag(dragged.x + 80, dragged.y + 14, 2000, 2000)  # far off the edge
                pushed = settled(session)
                assert on_screen(pushed), pushed
                assert (pushed.right, pushed.bottom) == (SCREEN_W, SCREEN_H)
                pointer.drag(pushed.x + 80, pushed.y + 14, -600, -150)
                placed = settled(session)
                status, _out, err = stop(app)
            assert status == 0, err

            with JobTracker.open(db) as tracker:  # more work for the next start
                for i in range(3):
                    tracker.enqueue("countdown", {"seconds": 120}, title=f"Next {i + 1}")
            with running_app(session, "--db", str(db)) as app:
                wait_for(lambda: window_info(session, "Jobdeck"), 30, "the main window")
                time.sleep(1.5)
                pointer.focus_elsewhere()
                again = settled(session)
                assert (again.right, again.bottom) == (placed.right, placed.bottom), (
                    placed,
                    again,
                )
                shot = session.grab(tmp_path / "taskbar-placement.png")
                assert shot.stat().st_size > 5_000
                status, _out, err = stop(app)
            assert status == 0, err
        finally:
            pointer.close()
