"""A process job for the restart tests, moved on by files the test creates in GATE_DIR.

    python gated_job.py GATE_DIR [EXIT_STATUS]

1. reports progress 1/4 through the channel, then waits for GATE_DIR/go1;
2. prints ``3/4`` (progress through output parsing), then waits for GATE_DIR/go2;
3. logs "after the restart" and reports 4/4 through the channel, completes with
   ``{"ok": true}`` and exits with EXIT_STATUS (default 0).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from jobdeck.worker import Job, run_and_report

GATE = Path(sys.argv[1])
STATUS = int(sys.argv[2]) if len(sys.argv) > 2 else 0


def wait_for(name: str) -> None:
    pause = threading.Event()
    while not (GATE / name).exists():
        pause.wait(0.01)


def main(job: Job) -> dict[str, bool]:
    job.progress(current=1, total=4, message="phase 1")
    wait_for("go1")
    print("3/4", flush=True)
    wait_for("go2")
    job.info("after the restart")
    job.progress(current=4, total=4, message="phase 2")
    return {"ok": True}


if __name__ == "__main__":
    code = run_and_report(main)
    sys.exit(code or STATUS)
