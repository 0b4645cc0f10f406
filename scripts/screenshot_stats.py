"""Screenshot the Statistics tab of the real Jobdeck under Xvfb:
``python scripts/screenshot_stats.py [--theme dark] [--out shots/stats.png]``.

Builds a store holding a realistic history (``tests/bench/realistic_store``: command jobs
and the other built-in types, about 80 % completed, 12 % failed, 8 % cancelled, over the
last two weeks), starts Jobdeck's own application object on a virtual 1280x800 display,
queues the demo jobs (so some run and wait), opens the Statistics tab, selects the busiest
job key (its trend chart), waits for the numbers and saves a PNG of the screen; then the
Failures table, in a second PNG (``-failures`` added to the name).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from screenshot_app import run_scenario, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "desktop"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "shots" / "stats.png")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--period", default="7d")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def scenario(app: object, args: argparse.Namespace) -> None:
    from PySide6.QtGui import QGuiApplication

    from jobdeck.app import JobdeckApp, queue_demo_jobs
    from jobdeck.core.stats import Period

    assert isinstance(app, JobdeckApp)
    await asyncio.sleep(2.0)
    queue_demo_jobs(app.tracker)
    await asyncio.sleep(3.0)
    view = app.window.show_statistics()
    assert view is not None
    await _until(lambda: view.result is not None, 120, "the statistics did not arrive")
    before = view.result
    view.set_period(Period.parse(args.period))
    await _until(lambda: view.result is not before, 60, "the period's numbers did not arrive")
    view.tables.setCurrentIndex(1)
    first = view.key_table.model().index(0, 0)
    before = view.result
    view.key_table.setCurrentIndex(first)
    await _until(lambda: view.result is not before, 60, "the key's trend did not arrive")
    await asyncio.sleep(1.0)
    screen = QGuiApplication.primaryScreen()
    save(screen.grabWindow(0), args.out)
    view.tables.setCurrentIndex(2)
    await asyncio.sleep(0.8)
    save(screen.grabWindow(0), args.out.with_name(args.out.stem + "-failures.png"))
    app.quit()


def child(args: argparse.Namespace) -> int:
    db = Path(os.environ["XDG_DATA_HOME"]) / "jobs.db"
    return run_scenario(args.theme, db, lambda app: scenario(app, args))


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args)
    from realistic_store import build_store
    from tests.e2e.xsession import XSession

    with XSession(size="1280x800") as session:
        data = session.tmp / "data"
        data.mkdir(exist_ok=True)
        span = 14 * 86400
        # the newest job started six hours ago, so (almost) every duration has ended by now
        build_store(
            data / "jobs.db",
            args.jobs,
            newest_ts=time.time() - 6 * 3600,
            spacing_s=span / args.jobs,
        )
        argv = [sys.executable, __file__, "--child", "--out", str(args.out.resolve())]
        argv += ["--theme", args.theme, "--period", args.period]
        result = subprocess.run(argv, env=session.env(), timeout=300)
    print(f"saved {args.out}; jobdeck exited with {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
