"""Issue 15 item 6: what the first window does not need waits until it is used.

The app is started as users start it (``jobdeck.cli.main``, in a fresh process, on a store
with jobs) and looked at when its main window is first painted: which modules are
imported by then (not the store, peewee, asyncio or the runner: the window is painted
before the store is opened), which widgets are built, how many icon renderings were made;
and then once it has filled with the store's jobs. The start
is benchmarked (``python tests/bench/run.py startup``); these hold what it was made of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    "jobdeck.ui.quit_dialog",  # quitting while jobs run (its Qt classes' enums: ~8)
    "jobdeck.runtime.log_tail",
    "aiohttp",  # the local API: once the window is painted
    "jobdeck.api.server",
    "tarfile",  # compressing a folder
    "html",  # a notification's body
    # The store and the runner: imported and opened once the window is painted.
    "peewee",
    "sqlite3",
    "asyncio",
    "qasync",
    "ssl",
    "jobdeck.core.tracker",
    "jobdeck.core.store",
    "jobdeck.runtime.runner",
    "jobdeck.runtime.signals",
    "jobdeck.ui.taskbar",
    "jobdeck.ui.tray",
    "jobdeck.ui.job_row",  # the taskbar's rows, ETAs and warnings: with the store
    "jobdeck.core.eta",
    "jobdeck.core.run_history",
    "jobdeck.ui.elided_label",  # the details of a job
    "PySide6.QtDBus",  # desktop integration: with the store
    # Is Jobdeck already running on this store? Not without its socket file.
    "jobdeck.api.client",
    "socket",
    # The terminal commands: their parsers are built only when one is named; the desktop
    # app's usual options (here --db PATH) are read without a parser (argparse itself is
    # imported by PySide6's signature support).
    "jobdeck.cli.commands",
    "jobdeck.cli.parser",
    # The runtime directory is $XDG_RUNTIME_DIR: platformdirs only for the last candidate.
    "platformdirs",
    # The job record's dataclasses (~1 ms each to make), its events, a board's URL, a
    # process job's spec: with the first job, not the window (which needs JobStatus alone).
    "jobdeck.core.job",
    "jobdeck.core.events",
    "jobdeck.core.board_url",
    "jobdeck.core.process_spec",
    "datetime",  # times are formatted for jobs shown
    # Standard modules imported when first used (each ~1-4M instructions at the start):
    "locale",
    "signal",  # SIGTERM and Ctrl+C: handled once the store is open
    "shlex",  # a command line split or joined
    "numbers",  # a number other than an int or a float checked
    "importlib.abc",  # peewee without the drivers a SQLite store does not use
    "jobdeck.cli.sqlite_only",
    "json",  # parameters, keys and details of jobs
)

PROBE = r"""
import gc, os, sys, time  # (not json: the app's own imports are looked at)
from jobdeck.cli.before_qt import import_before_qt
import_before_qt()
qt_before = sorted(m for m in sys.modules if m.startswith("PySide6"))
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6 import QtWidgets
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget
qapp = QApplication([sys.argv[0]])

class AtFirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, lambda: look(watched))  # once the frame is painted
        return False

found = {}

def look(window):
    from jobdeck.ui import icons
    found.update({
        "qt_before": qt_before,
        "modules": sorted(sys.modules),
        "qt_widgets_classes": sorted(k for k in vars(QtWidgets) if k.startswith("Q")),
        "qt_core_classes": sorted(k for k in vars(sys.modules["PySide6.QtCore"]) if k[0] == "Q"),
        "qt_gui_classes": sorted(k for k in vars(sys.modules["PySide6.QtGui"]) if k[0] == "Q"),
        "menu_items_at_first_paint": sum(
            len(a.menu().actions()) for a in window.menuBar().actions() if a.menu()
        ),
        "hook_ignores": sorted(
            name
            for name, answer in getattr(
                sys.modules.get("shibokensupport.feature"), "pyside_feature_dict", {}
            ).items()
            if answer == -1
        ),
        "hook_answers": {
            name: answer
            for name, answer in getattr(
                sys.modules.get("shibokensupport.feature"), "pyside_feature_dict", {}
            ).items()
            if name.startswith("jobdeck")
        },
        "dataclasses_at_first_paint": sorted(
            f"{name}.{value.__qualname__}"
            for name, module in list(sys.modules.items())
            if name.startswith("jobdeck") and "dataclasses" in sys.modules
            for value in list(vars(module).values())
            if isinstance(value, type)
            and value.__module__ == name
            and "__dataclass_fields__" in value.__dict__
        ),
        "gc_on_at_first_paint": gc.isenabled(),
        "threads_at_first_paint": sorted(
            open(f"/proc/self/task/{task}/comm").read().strip()
            for task in os.listdir("/proc/self/task")
        ),
        "no_gui_threadpool_in_environ": "QT_NO_GUI_THREADPOOL" in os.environ,
        "clear_button_at_first_paint": window.search_edit.isClearButtonEnabled(),
        "details_built": window.details.body_built,
        "forms_built": sorted(window.launch_forms._built),
        "renderings": icons._render.cache_info().currsize,
        "rows_at_first_paint": window.model.rowCount(),
        "status_at_first_paint": window.statusBar().currentMessage(),
        "start_enabled_at_first_paint": window.launch_forms.show(0).start_button.isEnabled(),
    })
    deadline = time.monotonic() + 60
    poll = QTimer(window)

    def filled():  # wait until the store's jobs show (or give up), then report
        if window.model.rowCount() == 0 and time.monotonic() < deadline:
            return
        poll.stop()
        found["rows_after"] = window.model.rowCount()
        found["status_after"] = window.statusBar().currentMessage()
        found["start_enabled_after"] = window.launch_forms.show(0).start_button.isEnabled()
        found["gc_on_after"] = gc.isenabled()
        found["clear_button_after"] = window.search_edit.isClearButtonEnabled()
        found["menu_items_after"] = [
            a.text() for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()
        ]
        import json

        print(json.dumps(found), flush=True)
        os._exit(0)

    poll.timeout.connect(filled)
    poll.start(10)

# Only the main window is watched: an application-wide filter would make PySide6 wrap the
# objects of every event (finding their Python classes), which the app itself does not.
watcher = AtFirstPaint()
show = QWidget.show

def show_and_watch(widget):
    if isinstance(widget, QMainWindow):
        QWidget.show = show
        widget.installEventFilter(watcher)
    show(widget)

QWidget.show = show_and_watch
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


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One start of the app, looked at when first painted and once filled."""
    return start_and_look(tmp_path_factory.mktemp("start"))


def test_the_first_window_builds_and_imports_only_what_it_shows(found: dict) -> None:
    assert found["qt_before"] == [], "import_before_qt imported Qt"
    modules = set(found["modules"])
    assert set(QT_FREE_AT_START) <= modules
    early = [m for m in NOT_AT_START if m in modules]
    assert early == [], f"imported before the first paint: {early}"
    # No job is selected yet: the details pane is its placeholder; one launch form shows.
    assert found["details_built"] is False
    assert len(found["forms_built"]) == 1
    # A widget's Python class found among all of QtWidgets' (by a method returning a plain
    # QWidget, e.g. viewport()) creates every class and its enums: ~15 ms.
    assert "QWizard" not in found["qt_widgets_classes"], "PySide6 looked up a widget's class"
    # Nor QStyle's (the default theme keeps the platform's style; a disabled icon is Qt's).
    assert "QStyle" not in found["qt_widgets_classes"], "QStyle (~9 ms of enums) at start"
    # Nor the classes of what comes later (each made with its enums when first named,
    # ~0.3-0.6 ms): the tray, Ctrl+C's notifier, the clear button.
    made = {*found["qt_widgets_classes"], *found["qt_core_classes"], *found["qt_gui_classes"]}
    later = {"QSystemTrayIcon", "QSocketNotifier", "QToolButton", "QKeySequence", "QShortcut"}
    # ... nor the editors the first form (a command's) has none of: number boxes, a text box.
    later |= {"QAbstractSpinBox", "QSpinBox", "QDoubleSpinBox", "QPlainTextEdit"}
    later.add("QTableWidgetItem")  # (its tables' rows: none yet)
    # ... nor QFont (its 8 enums, ~7M instructions): the headings are made bold without it.
    later.add("QFont")
    assert made & later == set(), made & later
    # PySide6's import hook was told the modules imported before it do not use it (else it
    # reads each one's source when an import names it: ~8 ms).
    assert {"jobdeck.core.job_status", "typing", "os"} <= set(found["hook_ignores"])
    # ... and that Jobdeck's own modules use PySide6 without features (the answer it would
    # find), so it reads none of their sources either (~5-10 ms).
    answers = found["hook_answers"]
    assert answers["jobdeck.ui.main_window"] == 0
    assert answers["jobdeck.core.tracker"] == 0  # (not imported yet: told in advance)
    assert all(answers.get(m) in (-1, 0) for m in modules if m.startswith("jobdeck")), answers
    # ``@dataclass`` compiles each class's methods (~3-4M instructions a class): the first
    # window makes only the public ones its job types are made of (users may ``replace``
    # them); the internal value classes it needs are plain (jobdeck.core.value).
    public = ["jobdeck.core.params.Param", "jobdeck.core.params.ParamSpec"]
    public.append("jobdeck.core.registry.JobType")
    assert found["dataclasses_at_first_paint"] == public
    # Icons render what is drawn (a type list, a few statuses), not 12 sizes of each.
    assert 0 < found["renderings"] <= 30, found["renderings"]


def test_the_first_window_says_it_is_opening_the_store_then_fills_with_its_jobs(
    found: dict,
) -> None:
    assert found["rows_at_first_paint"] == 0
    assert found["status_at_first_paint"] == "Opening history\u2026"
    assert found["start_enabled_at_first_paint"] is False  # nothing queues yet
    assert found["rows_after"] == 200
    assert found["status_after"] == "Ready"
    assert found["start_enabled_after"] is True
    # The menus' items (and shortcuts), out of sight at first, right after the first paint.
    assert found["menu_items_at_first_paint"] == 0
    assert "&Quit" in found["menu_items_after"]
    # The empty search field's clear button (hidden while it is empty) comes with the store.
    assert found["clear_button_at_first_paint"] is False
    assert found["clear_button_after"] is True


def test_the_collector_is_paused_until_the_first_paint_then_runs_again(found: dict) -> None:
    # Its passes walked the start's objects over and over (~15-25 ms before the paint).
    assert found["gc_on_at_first_paint"] is False
    assert found["gc_on_after"] is True


def test_the_first_window_is_painted_on_the_gui_thread_alone(found: dict) -> None:
    # Qt's raster engine split tall fills (scroll bars) among a thread pool and waited for
    # them, ~200-300 times: late whenever jobs keep the cores busy.
    assert "Thread (pooled)" not in found["threads_at_first_paint"], found
    # (told to Qt only: the jobs' programs inherit os.environ as it was)
    assert found["no_gui_threadpool_in_environ"] is False
