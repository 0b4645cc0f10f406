#!/usr/bin/env python3
"""Example Jobdeck job in Python: counts through some steps, reporting progress and logs.

    python3 progress.py [--steps N] [--delay SECONDS] [--fail-at STEP]

With ``--fail-at`` it raises at that step, so Jobdeck shows a failed job with the traceback.
Parameters may also come from Jobdeck as ``JOBDECK_JOB_DATA`` (``{"steps": 20}``); the
command line wins. Run it by hand and it prints its progress to stderr instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from jobdeck.worker import RunningJob, run_job
except ImportError:  # run from a source checkout: the package lives in desktop/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))
    from jobdeck.worker import RunningJob, run_job


def parse_args(job: RunningJob) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=job.data.get("steps", 10))
    parser.add_argument("--delay", type=float, default=job.data.get("delay", 0.0))
    parser.add_argument("--fail-at", type=int, default=None, metavar="STEP")
    return parser.parse_args()


def main(job: RunningJob) -> dict[str, int]:
    args = parse_args(job)
    job.info(f"counting to {args.steps}")
    for step in range(1, args.steps + 1):
        if job.cancelled:
            job.warn(f"cancelled at step {step}: {job.cancel_reason or 'no reason given'}")
            raise SystemExit(1)
        if step == args.fail_at:
            raise RuntimeError(f"step {step} failed on purpose (--fail-at)")
        time.sleep(args.delay)
        job.progress(current=step, total=args.steps, message=f"step {step} of {args.steps}")
    job.info("all steps done")
    return {"steps": args.steps}


if __name__ == "__main__":
    run_job(main)
