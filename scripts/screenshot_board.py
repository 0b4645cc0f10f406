"""Screenshot the real Jobdeck on a shared PostgreSQL board with a Dask job, under Xvfb:
``python scripts/screenshot_board.py [--theme dark] [--out-dir shots]``.

Starts a PostgreSQL server in a temporary directory (tests/pg_server.py), a Dask
``LocalCluster`` with one worker process, and a second app instance (``render@node2``, no
window) that runs "render" jobs the desktop instance has no type for. Then Jobdeck itself
runs as ``ana@desk`` on a virtual 1280x800 display (tests/e2e/xsession.py) on that board,
with the Dask scheduler set: it queues a countdown and a Dask job, and once the other
instance's jobs and the Dask job show progress it saves the whole screen (main window, the
Dask job's details) and the floating taskbar alone.
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

OTHER = "render@node2"
ME = "ana@desk"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "shots")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--other", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--board", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dask", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def render(ctx: object, frames: int = 400) -> dict[str, int]:
    """The other instance's job: a frame every 0.15 s."""
    for i in range(frames):
        ctx.checkpoint()  # type: ignore[attr-defined]
        ctx.update_progress(i + 1, frames, f"frame {i + 1} of {frames}")  # type: ignore[attr-defined]
        time.sleep(0.15)
    return {"frames": frames}


# --- the other instance (a process with no window) -----------------------------------------


def other_instance(url: str) -> int:
    from PySide6.QtCore import QCoreApplication, QTimer

    from jobdeck.core import JobTracker
    from jobdeck.core.registry import JobRegistry
    from jobdeck.runtime import Runner

    app = QCoreApplication([])
    registry = JobRegistry()
    registry.register("render", render)
    tracker = JobTracker.open(url, registry=registry, instance=OTHER)
    runner = Runner(tracker, max_workers=2)
    for shot in ("Render: shot 12", "Render: shot 13"):
        tracker.enqueue("render", {"frames": 400}, title=shot)
    runner.start()
    print("ready", flush=True)
    stop = QTimer()
    stop.timeout.connect(lambda: app.quit() if Path(os.environ["STOP_FILE"]).exists() else None)
    stop.start(200)
    app.exec()
    runner.shutdown(timeout=5)
    tracker.close()
    return 0


# --- the desktop instance on the virtual display --------------------------------------------


async def scenario(app: object, args: argparse.Namespace) -> None:
    from PySide6.QtGui import QGuiApplication

    from jobdeck.app import JobdeckApp

    assert isinstance(app, JobdeckApp)
    await asyncio.sleep(2)
    app.tracker.enqueue("countdown", {"seconds": 60, "message": ""}, title="Countdown 60 s")
    sim = app.tracker.enqueue(
        "simulate", {"steps": 600, "delay": 0.1}, title="Simulate: Monte Carlo on Dask"
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        running = app.tracker.list_jobs(status="running")
        others = [j for j in running if j.metadata.get("instance") == OTHER]
        dask_job = app.tracker.get_job(sim.id)
        if (
            len(others) >= 2
            and all((j.progress.percent or 0) > 2 for j in others)
            and dask_job is not None
            and "worker" in dask_job.metadata
            and (dask_job.progress.percent or 0) > 2
        ):
            break
        await asyncio.sleep(0.3)
    else:
        raise TimeoutError("the other instance's jobs or the Dask job showed no progress")
    await asyncio.sleep(2)
    app.show_job(sim.id)
    details = app.window.details
    details.tabs.setCurrentWidget(details.info_view)  # which instance, which Dask worker
    await asyncio.sleep(1.5)
    screen = QGuiApplication.primaryScreen()
    suffix = "" if args.theme == "light" else f"-{args.theme}"
    save(screen.grabWindow(0), args.out_dir / f"board-window{suffix}.png")
    app.window.clearFocus()
    app.window.hide()
    await asyncio.sleep(1.5)
    bar = app.taskbar.frameGeometry()
    margin = 24
    crop = bar.adjusted(-margin, -margin, margin, margin).intersected(screen.geometry())
    save(
        screen.grabWindow(0, crop.x(), crop.y(), crop.width(), crop.height()),
        args.out_dir / f"board-taskbar{suffix}.png",
    )
    app.quit()


def child(args: argparse.Namespace) -> int:
    from tests.runtime.dask_jobs import count

    def register(app: object) -> None:
        app.registry.register("simulate", count, executor="dask", title="Simulate")  # type: ignore[attr-defined]

    return run_scenario(
        args.theme, args.board, lambda app: scenario(app, args), dask=args.dask, setup=register
    )


# --- the parent: server, cluster, other instance, display ------------------------------------


def main() -> int:
    args = parse_args()
    if args.other:
        return other_instance(args.board)
    if args.child:
        return child(args)
    import tempfile

    from distributed import LocalCluster
    from tests.e2e.xsession import XSession
    from tests.pg_server import PgServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (scripts/install-debian-deps.sh)")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "desktop"), str(ROOT)])
    server = PgServer(bin_dir)
    server.start()
    tmp = Path(tempfile.mkdtemp(prefix="jobdeck-shot-"))
    stop_file = tmp / "stop"
    try:
        url = server.new_database()
        with LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster:
            env = dict(os.environ, JOBDECK_BOARD_FILES=str(tmp / "files"), STOP_FILE=str(stop_file))
            other = subprocess.Popen(
                [sys.executable, __file__, "--other", "--board", url],
                env=dict(env, JOBDECK_INSTANCE=OTHER),
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert other.stdout is not None and other.stdout.readline().strip() == "ready"
                with XSession() as session:
                    (session.tmp / "data").mkdir(exist_ok=True)
                    argv = [sys.executable, __file__, "--child", "--board", url]
                    argv += ["--dask", cluster.scheduler_address, "--theme", args.theme]
                    argv += ["--out-dir", str(args.out_dir.resolve())]
                    result = subprocess.run(
                        argv,
                        env=session.env(
                            JOBDECK_INSTANCE=ME,
                            JOBDECK_BOARD_FILES=str(tmp / "files"),
                            PYTHONPATH=os.environ["PYTHONPATH"],
                        ),
                        timeout=240,
                    )
            finally:
                stop_file.touch()
                other.wait(timeout=30)
    finally:
        server.close()
    print(f"saved into {args.out_dir}; jobdeck exited with {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
