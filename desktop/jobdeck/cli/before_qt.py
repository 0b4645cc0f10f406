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

The start also pauses the garbage collector's automatic passes until the window is painted
(:func:`~jobdeck.runtime.tuning.pause_gc`; the app resumes them): the start allocates
hundreds of thousands of objects (modules, classes, Qt's wrappers and enums), nearly all
for good, and the passes it triggered walked them again, ~15-25 ms before the first paint.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

__all__ = [
    "QT_FREE_AT_START",
    "STORE_MODULES",
    "import_before_qt",
    "import_qt",
    "import_store",
    "jobdeck_modules",
    "tell_feature_hook",
]

#: Qt-free modules that the desktop app imports before its first window, by way of modules
#: that use Qt (a module of them importing Qt is a bug: the test says which). Only those
#: the window needs: each one here delays its first paint.
QT_FREE_AT_START = (
    "jobdeck.core",
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
    "signal",  # the app's SIGTERM and SIGINT handlers
)


def import_before_qt() -> None:
    """Pause the garbage collector's automatic passes until the first paint (the app
    resumes them: :func:`~jobdeck.runtime.tuning.resume_gc`), and import
    :data:`QT_FREE_AT_START` (not the store: see :func:`import_store`)."""
    from jobdeck.runtime.tuning import pause_gc

    pause_gc()
    for name in QT_FREE_AT_START:
        importlib.import_module(name)


def import_qt() -> None:
    """Import PySide6 (QtCore), and tell its import hook what it would find out about the
    modules imported so far and Jobdeck's own: the hook otherwise reads the source of each
    module that an import names after PySide6 (``os``, ``typing``, ``logging``, the core's,
    then each of Jobdeck's widget modules: ~8 ms, then ~5-10 ms more at the desktop app's
    start) to find out whether it uses PySide6 (see :func:`tell_feature_hook`).

    Modules imported before PySide6 cannot have imported it: "ignore this module" (-1).
    Jobdeck's modules (:func:`jobdeck_modules`): "uses PySide6, without features" (0), the
    hook's answer for the ones that import PySide6; as no module of the app selects a
    ``__feature__``, it changes nothing for those that do not.
    """
    before = [name for name in sys.modules if not name.startswith(("PySide6", "shiboken"))]
    importlib.import_module("PySide6.QtCore")
    if tell_feature_hook(before, -1):
        tell_feature_hook(jobdeck_modules(), 0)


def tell_feature_hook(names: Iterable[str], answer: int) -> bool:
    """Give PySide6's import hook ``answer`` for the modules ``names`` it has none for yet:
    whether it was told.

    The hook keeps its answer per module name in ``shibokensupport.feature``'s
    ``pyside_feature_dict`` (-1: "ignore this module"; 0: "uses PySide6, no feature"),
    which is PySide6's own and may change: when it is not there, nothing is told (the
    start is only slower). Jobdeck uses no ``__feature__``."""
    feature = sys.modules.get("shibokensupport.feature")
    answers = getattr(feature, "pyside_feature_dict", None)
    if not isinstance(answers, dict):
        return False
    for name in names:
        answers.setdefault(name, answer)
    return True


def jobdeck_modules() -> list[str]:
    """The dotted names of every module and package of Jobdeck that has a source file (from
    the package's folders: none in a bundle without them)."""
    import jobdeck

    found: list[str] = []
    folders = [(folder, "jobdeck") for folder in jobdeck.__path__]
    while folders:
        folder, package = folders.pop()
        found.append(package)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.endswith(".py") and name != "__init__.py":
                found.append(f"{package}.{name[:-3]}")
            elif (
                entry.is_dir()
                and name.isidentifier()
                and os.path.isfile(os.path.join(entry.path, "__init__.py"))
            ):
                folders.append((entry.path, f"{package}.{name}"))
    return found


def import_store(db: str | None = None) -> None:
    """Import peewee for the store ``db`` (without drivers a SQLite store does not use:
    :func:`~jobdeck.cli.sqlite_only.import_peewee_for_sqlite`), then :data:`STORE_MODULES`.
    The app calls it once its window is painted, before it opens the store."""
    from .sqlite_only import import_peewee_for_sqlite  # (importlib.abc: not for the window)

    import_peewee_for_sqlite(db)
    for name in STORE_MODULES:
        importlib.import_module(name)
