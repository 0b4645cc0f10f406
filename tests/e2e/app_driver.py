"""Run the real Jobdeck app with a test driver attached: what a user sees, dumped to a file,
and what a user does, read from an inbox folder. Test-only: nothing in the package knows it.

Usage (see :mod:`tests.e2e.driven`)::

    JOBDECK_TEST_STATE=state.json JOBDECK_TEST_INBOX=inbox/ python app_driver.py --db jobs.db

This runs ``jobdeck.cli.main`` — the same entry point, object graph and event loop as
``python -m jobdeck`` — after wrapping :meth:`JobdeckApp.start` so that, once the app has
started, a :class:`Driver` runs on its GUI thread. There is no IPC API yet (issue 11), so
this is how an end-to-end test looks at and acts on the app from outside the process:

* Every 100 ms the driver writes ``JOBDECK_TEST_STATE`` (JSON, replaced atomically): the
  taskbar's rows as they are laid out in the panel (job id, title, message, the time text
  with its percentage, status, progress bar), whether the panel is shown, its summary line,
  the message boxes on screen with their buttons, and the replies to the requests below.
* Each ``*.json`` file put into ``JOBDECK_TEST_INBOX`` is one request, handled once in
  name order and then deleted; its reply appears under ``replies[<file stem>]``:

  - ``{"do": "enqueue", "type": ..., "params": {...}, "title": ...}`` queues a job as the
    launch form does (``tracker.enqueue``): reply ``{"job_id": ...}`` or ``{"error": ...}``;
  - ``{"do": "cancel", "job_id": ...}`` clicks that row's cancel button in the taskbar;
  - ``{"do": "quit"}`` asks to quit as the tray menu's Quit does (the real question is
    asked when jobs run: it shows up under ``dialogs``);
  - ``{"do": "click", "button": "<text>"}`` clicks the button with that text in the message
    box on screen (e.g. "Keep running in the background and quit").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from jobdeck import app as app_module
from jobdeck.app import JobdeckApp
from jobdeck.cli import main

STATE_ENV = "JOBDECK_TEST_STATE"
INBOX_ENV = "JOBDECK_TEST_INBOX"
INTERVAL_MS = 100


class Driver(QObject):
    """Dumps what the app shows and carries out requests; lives on the GUI thread."""

    def __init__(self, app: JobdeckApp, state_path: Path, inbox: Path) -> None:
        super().__init__(app)
        self._app = app
        self._state_path = state_path
        self._inbox = inbox
        self._replies: dict[str, Any] = {}
        self._seq = 0
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._tick()

    # -- a tick: requests first, then what the user sees ------------------------------------

    def _tick(self) -> None:
        if self._app.tracker.closed:
            self._timer.stop()
            return
        for path in sorted(self._inbox.glob("*.json")):
            try:
                request = json.loads(path.read_text())
            except ValueError:
                continue  # still being written: next tick
            path.unlink()
            try:
                self._replies[path.stem] = self._handle(request)
            except Exception as exc:  # a reply, not a crash: the test reads it
                self._replies[path.stem] = {"error": f"{type(exc).__name__}: {exc}"}
        self._write_state()

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        action = request.get("do")
        if action == "enqueue":
            job = self._app.tracker.enqueue(
                request["type"], params=request.get("params", {}), title=request.get("title")
            )
            return {"job_id": job.id}
        if action == "cancel":
            row = self._app.taskbar.row_for(request["job_id"])
            if row is None or not row.cancel_button.isVisibleTo(self._app.taskbar):
                return {"error": "no cancel button for that job in the taskbar"}
            QTest.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
            return {"clicked": True}
        if action == "quit":
            # As the tray menu does; deferred, so the question's own event loop does not
            # run inside this tick.
            QTimer.singleShot(0, self._app.request_quit)
            return {"requested": True}
        if action == "click":
            for box in self._message_boxes():
                for button in box.buttons():
                    if button.text() == request["button"]:
                        QTimer.singleShot(
                            0, lambda b=button: QTest.mouseClick(b, Qt.MouseButton.LeftButton)
                        )
                        return {"clicked": True}
            return {"error": f"no button {request['button']!r} on screen"}
        return {"error": f"unknown request {action!r}"}

    @staticmethod
    def _message_boxes() -> list[QMessageBox]:
        return [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        ]

    def _write_state(self) -> None:
        taskbar = self._app.taskbar
        rows = []
        for row in taskbar.rows():
            job = row.job
            if job is None or not row.isVisibleTo(taskbar):
                continue
            rows.append(
                {
                    "job_id": job.id,
                    "title": row.title_label.full_text(),
                    "message": row.message_label.full_text(),
                    "time": row.time_label.text(),
                    "status": job.status.value,
                    "bar": [row.progress_bar.value(), row.progress_bar.maximum()],
                }
            )
        self._seq += 1
        state = {
            "seq": self._seq,
            "pid": os.getpid(),
            "ts": time.time(),
            "taskbar": {"shown": taskbar.isVisible(), "summary": taskbar.summary(), "rows": rows},
            "dialogs": [
                {
                    "title": box.windowTitle(),
                    "text": box.text(),
                    "informative": box.informativeText(),
                    "buttons": [b.text() for b in box.buttons()],
                }
                for box in self._message_boxes()
            ],
            "replies": self._replies,
        }
        partial = self._state_path.with_name(self._state_path.name + ".part")
        partial.write_text(json.dumps(state))
        os.replace(partial, self._state_path)


def _attach_driver_on_start() -> None:
    state_path = Path(os.environ[STATE_ENV])
    inbox = Path(os.environ[INBOX_ENV])
    inbox.mkdir(parents=True, exist_ok=True)
    start = JobdeckApp.start

    def start_and_drive(self: JobdeckApp, *args: Any, **kwargs: Any) -> None:
        start(self, *args, **kwargs)
        self._test_driver = Driver(self, state_path, inbox)  # type: ignore[attr-defined]

    app_module.JobdeckApp.start = start_and_drive  # type: ignore[method-assign]


if __name__ == "__main__":
    _attach_driver_on_start()
    sys.exit(main(sys.argv[1:]))
