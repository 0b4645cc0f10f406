"""Issue 15 item 6: what the first window does not need waits until it is used.

The app is started as users start it (``jobdeck.cli.main``, in a fresh process, on a store
with jobs) and looked at when its main window is first painted: which modules are
imported by then, which widgets are built, how many icon renderings were made. The start
is benchmarked (``python tests/bench/run.py startup``); these hold what it was made of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from jobdeck.cli.before_qt import QT_FREE_AT_START

from ..bench.realistic_store import build_store

#: Imported when first used, not by the first window.
NOT_AT_START = (
    "numpy",
    "pyqtgraph",
    "jobdeck.core.stats",  # the Statistics tab
    "jobdeck.ui.stats_view",
    "jobdeck.ui.timeline_plot",  # the details' Timeline tab
    "jobdeck.ui.settings_dialog",  # Jobdeck > Settings
    "jobdeck.ui.output_view",  # the details of a job
    "jobdeck.runtime.log_tail",
    "aiohttp",  # the local API: once the window is painted
    "jobdeck.api.server",
    "tarfile",  # compressing a folder
    "html",  # a notification's body
)

PROBE = r"""
import json, os, sys
from jobdeck.cli.before_qt import import_before_qt
import_before_qt(sys.argv[1])
qt_before = sorted(m for m in sys.modules if m.startswith("PySide6"))
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget
qapp = QApplication([sys.argv[0]])

class AtFirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget):
            window = watched.window()
            if isinstance(window, QMainWindow):
                qapp.removeEventFilter(self)
                QTimer.singleShot(0, lambda: look(window))  # once the frame is painted
        return False

def look(window):
    from jobdeck.ui import icons
    print(json.dumps({
        "qt_before": qt_before,
        "modules": sorted(sys.modules),
        "details_built": window.details.body_built,
        "forms_built": sorted(window.launch_forms._built),
        "renderings": icons._render.cache_info().currsize,
    }), flush=True)
    os._exit(0)

watcher = AtFirstPaint()
qapp.installEventFilter(watcher)
from jobdeck.cli import main
sys.exit(main(["--db", sys.argv[1]]))
"""


def start_and_look(tmp_path: Path) -> dict:
    db = tmp_path / "jobs.db"
    build_store(db, 200, newest_ts=time.time() - 60, seed=2)  # a history to paint
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for sub in ("config", "data", "cache", "runtime"):
        (tmp_path / sub).mkdir(mode=0o700)
        env[f"XDG_{sub.upper()}_HOME" if sub != "runtime" else "XDG_RUNTIME_DIR"] = str(
            tmp_path / sub
        )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no first paint ({done.returncode}):\n{done.stderr[-3000:]}"
    found: dict = json.loads(lines[-1])
    return found


def test_the_first_window_builds_and_imports_only_what_it_shows(tmp_path: Path) -> None:
    found = start_and_look(tmp_path)
    assert found["qt_before"] == [], "import_before_qt imported Qt"
    modules = set(found["modules"])
    assert set(QT_FREE_AT_START) <= modules
    early = [m for m in NOT_AT_START if m in modules]
    assert early == [], f"imported before the first paint: {early}"
    # No job is selected yet: the details pane is its placeholder; one launch form shows.
    assert found["details_built"] is False
    assert len(found["forms_built"]) == 1
    # Icons render what is drawn (a type list, a few statuses), not 12 sizes of each.
    assert 0 < found["renderings"] <= 30, found["renderings"]
