"""With no session bus (and no system bus) at all, every piece quietly does nothing.

Run in a child process: Qt connects to the session bus once per process, and this one must
never have found one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import logging, sys
from PySide6.QtWidgets import QApplication
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
app = QApplication([])
sys.path.insert(0, sys.argv[1])
from tests.platform.feeds import FakeFeed, make_job, finished
from jobdeck.core.job import JobStatus
from jobdeck.platform.launcher_entry import LauncherProgress
from jobdeck.platform.notifications import Notifier
from jobdeck.platform.sleep_inhibit import SleepInhibitor

feed = FakeFeed()
balloons = []
notifier = Notifier(lambda *a: balloons.append(a))
launcher = LauncherProgress(feed)
inhibitor = SleepInhibitor(feed, policy="any")
job = make_job("a", total=2, current=1)
feed.push(job)
feed.push(finished(job, JobStatus.FAILED))
notifier.notify("Failed: a", "boom", actions=["retry"], job_id=job.id)
app.processEvents()
print(len(balloons), launcher.updates_sent, inhibitor.inhibited, launcher.state.urgent)
for piece in (notifier, launcher, inhibitor):
    piece.close()
"""


def test_no_bus_at_all(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS", "DISPLAY")
    }
    env.update(
        PYTHONPATH=str(ROOT / "desktop"),
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(tmp_path),  # no $XDG_RUNTIME_DIR/bus to fall back on
        DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-system-bus",
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0", "False", "True"]
    assert "DEBUG:jobdeck.platform.dbus_util:no D-Bus session bus" in done.stderr
    assert "Traceback" not in done.stderr and "WARNING" not in done.stderr
