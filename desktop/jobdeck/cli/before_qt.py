"""The desktop app's start imports what it can before PySide6: each module imported after
PySide6 pays its import hook.

Once PySide6 is imported, every further import goes through PySide6's ``__feature__``
hook, which reads the new module's whole source to see whether it uses PySide6 (~0.5 ms
a module; 100+ Qt-free modules at a start: 50-70 ms of CPU before the first window).
:func:`import_before_qt` imports the Qt-free modules the window's start needs first (it
imports none of Qt: ``tests/ui/test_start_up_imports.py`` holds that). The ``jobdeck``
command calls it before it imports the app, and so does the start-up benchmark, which
starts the app as the command does. The store's modules (peewee, asyncio) come later, once
the window is painted (:func:`import_store`, which the command gives the app to call).
"""

from __future__ import annotations

import importlib
import sys

from .sqlite_only import import_peewee_for_sqlite

__all__ = [
    "QT_FREE_AT_START",
    "STORE_MODULES",
    "import_before_qt",
    "import_qt",
    "import_store",
]

#: Qt-free modules that the desktop app imports before its first window, by way of modules
#: that use Qt (a module of them importing Qt is a bug: the test says which). Only those
#: the window needs: each one here delays its first paint.
QT_FREE_AT_START = (
    "jobdeck.core",
    "jobdeck.core.board_url",
    "jobdeck.core.kept_threads",  # the history's background searches
    "jobdeck.core.job_source",
    "jobdeck.core.registry",
    "jobdeck.core.unopened",  # the store the window is painted on
    "jobdeck.api.launch",  # is Jobdeck already running on this store?
    "jobdeck.api.options",
    "jobdeck.runtime.runtime_dir",
    "jobdeck.runtime.tuning",
    "jobdeck.ui.settings_store",
    "jobdeck.ui.wayland",
    "locale",  # jobdeck.i18n
    "platformdirs",
    "shlex",  # jobdeck.jobs.command
    "signal",  # jobdeck.app
)


#: Qt-free modules that opening the store and running its jobs import, once the window is
#: painted (:func:`import_store`): none of them is needed to paint it, and imported together
#: here most are imported before anything that imports them pays PySide6's import hook.
STORE_MODULES = (
    "asyncio",  # qasync's event loop, the runner
    "concurrent.futures.thread",  # the runner's threads
    "ctypes",  # jobdeck.platform.dbus_util
    "jobdeck.core.dask_task",
    "jobdeck.core.queue",
    "jobdeck.core.retention",
    "jobdeck.core.run_history",
    "jobdeck.core.stall",
    "jobdeck.core.tracker",  # the store (peewee)
    "jobdeck.platform.desktop_entry",
    "jobdeck.runtime.ready_queue",
    "jobdeck.runtime.relative_timeout",
    "jobdeck.runtime.store_folder",
    "jobdeck.runtime.supervisor",  # process jobs' supervisor (its client side)
)


def import_before_qt() -> None:
    """Import :data:`QT_FREE_AT_START` (not the store: see :func:`import_store`)."""
    for name in QT_FREE_AT_START:
        importlib.import_module(name)


def import_qt() -> None:
    """Import PySide6 (QtCore), telling its import hook that the modules imported so far
    do not use it: the hook otherwise reads the source of each module that an import names
    after PySide6 (``os``, ``typing``, ``logging``, the core's: ~8 ms at the desktop app's
    start) to find out whether it uses ``__feature__``.

    The hook keeps that answer per module name in ``shibokensupport.feature``'s
    ``pyside_feature_dict`` (-1: "ignore this module"), which is PySide6's own and may
    change: when it is not there, nothing is told (the start is only slower). Modules
    imported before PySide6 cannot have imported it, and Jobdeck uses no ``__feature__``.
    """
    before = [name for name in sys.modules if not name.startswith(("PySide6", "shiboken"))]
    importlib.import_module("PySide6.QtCore")
    feature = sys.modules.get("shibokensupport.feature")
    answers = getattr(feature, "pyside_feature_dict", None)
    if isinstance(answers, dict):
        for name in before:
            answers.setdefault(name, -1)


def import_store(db: str | None = None) -> None:
    """Import peewee for the store ``db`` (without drivers a SQLite store does not use:
    :func:`~jobdeck.cli.sqlite_only.import_peewee_for_sqlite`), then :data:`STORE_MODULES`.
    The app calls it once its window is painted, before it opens the store."""
    import_peewee_for_sqlite(db)
    for name in STORE_MODULES:
        importlib.import_module(name)
