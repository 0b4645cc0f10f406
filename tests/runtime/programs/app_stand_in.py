"""A stand-in for the Jobdeck app, for the restart test that SIGKILLs it.

    python app_stand_in.py DB PARAMS_JSON

Opens the tracker and a Runner under a QCoreApplication with a qasync loop, queues one
``command`` job with PARAMS_JSON, prints the job's id once its program runs and has
reported progress, then runs until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "desktop"))

import qasync
from PySide6.QtCore import QCoreApplication

from jobdeck.core import JobEvent, JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime import Runner


def main(db: str, params: str) -> None:
    app = QCoreApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tracker = JobTracker.open(db, registry=builtin_registry(), event_interval=0.005)
    runner = Runner(tracker, log_dir=Path(db).parent / "logs")
    runner.start()
    job = tracker.enqueue("command", json.loads(params))
    told: list[bool] = []

    def tell(event: JobEvent) -> None:
        seen = event.job
        if seen.id == job.id and not told and seen.pid and seen.progress.current >= 1:
            told.append(True)
            print(job.id, flush=True)

    tracker.subscribe(tell)
    with loop:
        loop.run_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
