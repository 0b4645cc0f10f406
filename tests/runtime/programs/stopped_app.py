"""A stand-in for the Jobdeck app that stops dead at a chosen point, to be SIGKILLed there.

    python stopped_app.py DB POINT JOBS_JSON [WORKERS]

Opens the tracker and a Runner (under a QCoreApplication with a qasync loop), queues each
``command`` job of JOBS_JSON (a list of ``{"params": ..., "max_attempts": ...}``; at most
WORKERS at once, all of them by default), prints
their ids (one line, JSON), and runs until POINT is reached; there it prints ``stopped``
and its thread blocks for good (the test then SIGKILLs the process). POINT:

* ``ends``: the process executor is about to record the program ends it heard (together,
  with the jobs that follow started, in one commit);
* ``start-heard``: the supervisor's answer to a start request (``started``) is heard;
* ``start-asked``: a start request is about to be sent to the supervisor;
* ``running``: every job's program runs (its pid is stored);
* ``full-disk``: once every job's program runs (its pid stored), the store is made full
  (small changes fit, an end does not) and ``go`` (beside the database) is created; once
  the store has refused a change.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "desktop"))

import qasync
from PySide6.QtCore import QCoreApplication, QTimer

from jobdeck.core import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime import Runner
from jobdeck.runtime.executors.processes import ProcessExecutor
from jobdeck.runtime.supervisor_client import SupervisorClient

_said = threading.Lock()


def stop_here() -> None:
    """Say so and block this thread for good (only the first time; later callers block)."""
    if _said.acquire(blocking=False):
        print("stopped", flush=True)
    threading.Event().wait()


def arm(point: str) -> None:
    if point == "ends":
        record_ends = ProcessExecutor._record_ends

        def ends(executor: ProcessExecutor, heard: list[Any]) -> None:
            stop_here()
            record_ends(executor, heard)

        ProcessExecutor._record_ends = ends  # type: ignore[method-assign, assignment]
    elif point == "start-heard":
        dispatch = SupervisorClient._dispatch

        def heard(client: SupervisorClient, message: dict[str, Any]) -> None:
            if message.get("op") == "started":
                stop_here()
            dispatch(client, message)

        SupervisorClient._dispatch = heard  # type: ignore[method-assign, assignment]
    elif point == "start-asked":

        def asked(client: SupervisorClient, record: dict[str, Any], on_reply: Any) -> None:
            stop_here()

        SupervisorClient.spawn = asked  # type: ignore[method-assign, assignment]


def main(db: str, point: str, jobs_json: str, workers: str = "") -> None:
    app = QCoreApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    specs = json.loads(jobs_json)
    arm(point)
    tracker = JobTracker.open(db, registry=builtin_registry(), event_interval=0.005)
    at_once = int(workers) if workers else len(specs)
    runner = Runner(tracker, max_workers=at_once, log_dir=Path(db).parent / "logs", grace=1.0)
    runner.start()
    with tracker.batch():  # (queued together: they start together)
        ids = [
            tracker.enqueue("command", s["params"], max_attempts=s.get("max_attempts", 1)).id
            for s in specs
        ]
    print(json.dumps(ids), flush=True)
    if point == "running":
        timer = QTimer()

        def running() -> None:
            jobs = [tracker.get_job(job_id) for job_id in ids]
            if all(j is not None and j.pid is not None for j in jobs):
                timer.stop()
                stop_here()

        timer.timeout.connect(running)
        timer.start(10)
    if point == "full-disk":
        timer = QTimer()
        filled: list[bool] = []

        def look() -> None:
            if filled:
                if tracker.store_error is not None:
                    timer.stop()
                    stop_here()
                return
            jobs = [tracker.get_job(job_id) for job_id in ids]
            if all(j is not None and j.pid is not None for j in jobs):
                filled.append(True)
                with tracker.batch():
                    conn = tracker.store.conn
                    pages = conn.execute("PRAGMA page_count").fetchone()[0]
                    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
                (Path(db).parent / "go").touch()

        timer.timeout.connect(look)
        timer.start(10)
    with loop:
        loop.run_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
