"""A stand-in for the Jobdeck app that dies the moment it would store a start the
supervisor service made from its queue (the crash case of the service-held queue).

    python app_dies_storing_a_start.py DB GATE MARKER [--at-broken-connection]

Runs one job at a time: job A waits for the file GATE, job B appends a line to MARKER.
Prints A's and B's ids once A's pid is stored (B is then handed over to the service, to start the
moment A ends); when the service has started B in A's place, the app SIGKILLs itself
just before it would record that start (and A's end) in the store. With
``--at-broken-connection`` it dies instead the moment it finds its connection to the
service broken, before it looks for what the requests on it became.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "desktop"))

import qasync
from PySide6.QtCore import QCoreApplication

from jobdeck.core import JobEvent, JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime import Runner, lost_start
from jobdeck.runtime.scheduler import Scheduler


def die(*_args: object, **_kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(db: str, gate: str, marker: str, *, at_broken_connection: bool = False) -> None:
    app = QCoreApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tracker = JobTracker.open(db, registry=builtin_registry(), event_interval=0.005)
    if at_broken_connection:
        lost_start.judge_lost_starts = die  # type: ignore[assignment]
    else:
        Scheduler.adopt = die  # type: ignore[method-assign,assignment]
    runner = Runner(tracker, max_workers=1, log_dir=Path(db).parent / "logs")
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    a = tracker.enqueue("command", {"argv": ["/bin/sh", "-c", wait]})
    b = tracker.enqueue("command", {"argv": ["/bin/sh", "-c", f"echo ran >> {marker}"]})

    told: list[bool] = []

    def tell(event: JobEvent) -> None:  # once A's pid is stored (the next app finds A)
        if event.job.id == a.id and event.job.pid and not told:
            told.append(True)
            print(a.id, b.id, flush=True)

    tracker.subscribe(tell)
    runner.start()
    with loop:
        loop.run_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4], at_broken_connection="--at-broken-connection" in sys.argv[4:])
