"""Screenshot the real Jobdeck under Xvfb: ``python scripts/screenshot.py [--theme dark]``.

Starts a virtual display (with a tray host and compositor when installed), runs
``jobdeck --demo`` on a fresh store, waits until several jobs show progress, saves a PNG of
the screen and quits the app with SIGTERM (which must exit 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "desktop"))

from tests.e2e.xsession import XSession, running_app, stop  # noqa: E402


def wait_for_progress(db: Path, running: int, timeout: float) -> None:
    from jobdeck.core import JobTracker, StoreError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with JobTracker.open(db, read_only=True) as reader:
                jobs = reader.list_jobs(status="running")
                moving = [j for j in jobs if (j.progress.percent or 0) > 5]
                if len(moving) >= running:
                    return
        except StoreError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"fewer than {running} jobs showed progress within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--running", type=int, default=3, help="jobs with progress to wait for")
    args = parser.parse_args()
    with XSession(size=args.size) as session:
        db = session.tmp / "jobs.db"
        with running_app(session, "--db", str(db), "--demo", JOBDECK_THEME=args.theme) as app:
            wait_for_progress(db, args.running, timeout=40)
            time.sleep(0.5)  # let the taskbar's next repaint land before the grab
            session.grab(args.out)
            status, _out, err = stop(app)
    print(f"saved {args.out}; jobdeck exited with status {status}")
    if err.strip():
        print("jobdeck stderr:\n" + err)
    return status


if __name__ == "__main__":
    sys.exit(main())
