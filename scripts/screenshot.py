"""Screenshot the real Jobdeck under Xvfb: ``python scripts/screenshot.py [--theme dark]``.

Starts a virtual 1280x800 display (with a tray host and compositor when installed) and runs
Jobdeck's own application object in a child process on it, on a fresh store. The app first
stays idle for ``--idle`` seconds (so the picture shows jobs started after an idle spell,
as a user meets them), then queues the demo jobs, waits until several report progress,
shows a running job's details, and saves a PNG of the whole screen.

Two pictures: the main window at its default size, active (the floating taskbar keeps out
of its way then), and, with the focus moved to another program, the taskbar alone
(``--taskbar-out``, cropped from the screen).
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--taskbar-out", type=Path, default=None)
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--idle", type=float, default=3.0, help="idle seconds before the jobs")
    parser.add_argument("--running", type=int, default=3, help="jobs with progress to wait for")
    parser.add_argument(
        "--timeline-out",
        type=Path,
        default=None,
        help="instead of the taskbar picture: a finished program's details on its Timeline tab",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    suffix = "" if args.theme == "light" else f"-{args.theme}"
    if args.out is None:
        args.out = ROOT / "docs" / f"screenshot{suffix}.png"
    if args.taskbar_out is None:
        args.taskbar_out = ROOT / "docs" / f"screenshot-taskbar{suffix}.png"
    return args


# --- the child: Jobdeck itself on the virtual display -------------------------------------

#: A command job with a readable log: a line of output and a progress line per module.
BUILD_SCRIPT = """
import time
for i in range(1, 61):
    print(f"cc -O2 -c src/module_{i:02d}.c -o build/module_{i:02d}.o", flush=True)
    print(f"{i}/60", flush=True)
    time.sleep(0.25)
"""


#: A program for the Timeline picture: it works in bursts, its memory grows, then it frees
#: half of it.
TIMELINE_SCRIPT = """
import hashlib, time
blocks = []
for i in range(1, 41):
    blocks.append(bytearray(2_500_000))
    if i == 30:
        del blocks[::2]
    end = time.monotonic() + (0.25 if i % 8 < 5 else 0.05)
    while time.monotonic() < end:
        hashlib.sha256(b"x" * 65536).digest()
    time.sleep(0.1 if i % 8 < 5 else 0.35)
    print(f"{i}/40", flush=True)
"""


async def timeline_scenario(app: object, args: argparse.Namespace) -> None:
    from PySide6.QtGui import QGuiApplication

    from jobdeck.app import JobdeckApp

    assert isinstance(app, JobdeckApp)
    await asyncio.sleep(args.idle)  # nothing runs: the tracker goes idle
    job = app.tracker.enqueue(
        "command", {"argv": [sys.executable, "-c", TIMELINE_SCRIPT]}, title="Index the photos"
    )
    deadline = time.monotonic() + 90
    while not app.tracker.get_job(job.id).finished:  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise TimeoutError("the program did not finish")
        await asyncio.sleep(0.2)
    app.show_job(job.id)
    details = app.window.details
    details.tabs.setCurrentWidget(details.timeline_tab)
    await asyncio.sleep(1.5)
    save(QGuiApplication.primaryScreen().grabWindow(0), args.timeline_out)
    app.quit()


async def scenario(app: object, args: argparse.Namespace) -> None:
    if args.timeline_out is not None:
        await timeline_scenario(app, args)
        return
    from PySide6.QtGui import QGuiApplication

    from jobdeck.app import JobdeckApp, queue_demo_jobs

    assert isinstance(app, JobdeckApp)
    await asyncio.sleep(args.idle)  # nothing runs: the tracker goes idle
    build = app.tracker.enqueue(
        "command",
        {"argv": [sys.executable, "-c", BUILD_SCRIPT]},
        title="Build: compile 60 modules",
        priority=1,
    )
    queue_demo_jobs(app.tracker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        moving = [
            j for j in app.tracker.list_jobs(status="running") if (j.progress.percent or 0) > 5
        ]
        if len(moving) >= args.running and len(app.tracker.logs(build.id, limit=20)) >= 14:
            break
        await asyncio.sleep(0.2)
    else:
        raise TimeoutError(f"fewer than {args.running} jobs showed progress")
    app.show_job(build.id)  # a running job with a live log
    await asyncio.sleep(1.5)  # a few live updates and repaints land
    screen = QGuiApplication.primaryScreen()
    save(screen.grabWindow(0), args.out)

    app.window.clearFocus()
    app.window.hide()  # the user turns to another program: the taskbar shows
    await asyncio.sleep(1.5)
    bar = app.taskbar.frameGeometry()
    if not app.taskbar.isVisible():
        raise RuntimeError("the taskbar did not show with the window out of the way")
    margin = 24
    crop = bar.adjusted(-margin, -margin, margin, margin).intersected(screen.geometry())
    save(screen.grabWindow(0, crop.x(), crop.y(), crop.width(), crop.height()), args.taskbar_out)
    app.quit()


def child(args: argparse.Namespace) -> int:
    db = Path(os.environ["XDG_DATA_HOME"]) / "jobs.db"
    return run_scenario(args.theme, db, lambda app: scenario(app, args))


# --- the parent: the virtual display ------------------------------------------------------


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args)
    from tests.e2e.xsession import XSession

    with XSession(size=args.size) as session:
        (session.tmp / "data").mkdir(exist_ok=True)
        argv = [sys.executable, __file__, "--child", "--out", str(args.out.resolve())]
        argv += ["--taskbar-out", str(args.taskbar_out.resolve())]
        argv += ["--theme", args.theme, "--idle", str(args.idle), "--running", str(args.running)]
        if args.timeline_out is not None:
            argv += ["--timeline-out", str(args.timeline_out.resolve())]
        result = subprocess.run(argv, env=session.env(), timeout=180)
    saved = args.timeline_out or f"{args.out} and {args.taskbar_out}"
    print(f"saved {saved}; jobdeck exited with {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
