"""What the screenshot scripts share: the real app run on its qasync loop with a scenario
coroutine that drives it and takes the pictures (:func:`run_scenario`), and :func:`save`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def save(pixmap: object, path: Path) -> None:
    """Write ``pixmap`` (a QPixmap) to ``path``; OSError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not pixmap.save(str(path)):  # type: ignore[attr-defined]
        raise OSError(f"could not save {path}")


def run_scenario(
    theme: str,
    db: str | Path,
    scenario: Callable[[Any], Awaitable[None]],
    *,
    dask: str | None = None,
    setup: Callable[[Any], None] | None = None,
) -> int:
    """Start the real app on ``db`` in ``theme`` (``setup(app)`` first, e.g. to register a
    job type), run ``scenario(app)`` on its loop until it quits, and return its exit code;
    a scenario that raises makes the app quit with 1 and is raised again here."""
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    from jobdeck.app import JobdeckApp
    from jobdeck.settings import AppSettings
    from jobdeck.ui.theme import apply_theme

    qapp = QApplication(sys.argv[:1])
    apply_theme(qapp, theme)
    qapp.setApplicationName("Jobdeck")
    qapp.setOrganizationName("Jobdeck")
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    app = JobdeckApp(qapp, db, settings=AppSettings(), dask=dask)
    if setup is not None:
        setup(app)
    app.start()
    failure: list[BaseException] = []

    def done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            failure.append(task.exception())  # type: ignore[arg-type]
            app.quit(1)

    with loop:
        loop.create_task(scenario(app)).add_done_callback(done)  # type: ignore[arg-type]
        loop.run_forever()
    app.shutdown()
    if failure:
        raise failure[0]
    return app.exit_code
