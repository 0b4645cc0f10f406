"""Issue 13, Bundle: the PyInstaller one-folder bundle runs process jobs.

Builds ``packaging/jobdeck.spec`` (skipped only when PyInstaller is not installed), starts
the bundle's ``jobdeck`` on a virtual X display, runs a command job and a "Run a Python
script" job (through its API) to completion and a command through the bundle's own
``jobdeck run --wait`` (its exit status comes back), asks its API for statistics (numpy),
opens its Statistics tab with Alt+S and sees the tab's chart drawn (pyqtgraph), and quits
it with SIGTERM (status 0).
Process jobs run under the store's supervisor service, which the bundle starts as
``jobdeck _supervise``; the script runs on the ``python3`` found on ``PATH`` and imports
``jobdeck.worker`` from the bundle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.api.client import ApiClient, job_path
from jobdeck.api.paths import ApiPaths

from .xinput import Pointer, window_info
from .xsession import ROOT, XSession, stop

BUILD_TIMEOUT = 900
WAIT = 120.0

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(BUILD_TIMEOUT + 300)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle's ``jobdeck`` program: ``$JOBDECK_BUNDLE`` when set (CI builds one with
    ``scripts/build-bundle.sh`` before the suite), else built here when
    ``$JOBDECK_BUILD_BUNDLE=1`` asks for it (about a minute of a 2-core machine)."""
    prebuilt = os.environ.get("JOBDECK_BUNDLE")
    if prebuilt:
        return Path(prebuilt)
    if os.environ.get("JOBDECK_BUILD_BUNDLE") != "1":
        pytest.skip(
            "no bundle: build one with scripts/build-bundle.sh and set JOBDECK_BUNDLE to its "
            "program, or set JOBDECK_BUILD_BUNDLE=1 to build it here"
        )
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed")
    work = tmp_path_factory.mktemp("bundle")
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level=WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(ROOT / "packaging" / "jobdeck.spec"),
        ],
        check=True,
        timeout=BUILD_TIMEOUT,
        cwd=work,
    )
    program = work / "dist" / "jobdeck" / "jobdeck"
    size = sum(f.stat().st_size for f in program.parent.rglob("*") if f.is_file())
    print(f"bundle built in {time.monotonic() - started:.0f} s, {size / 1e6:.0f} MB")
    return program


@pytest.fixture
def session() -> Iterator[XSession]:
    with XSession() as s:
        yield s


def _wait_for(client: ApiClient, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        job = client.get(job_path(job_id))
        if job["status"] in ("completed", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish in {WAIT:g} s")


#: The "completed" bars of the Statistics tab's first chart (ui/charts.series_colours: the
#: light and the dark palette's).
COMPLETED_BARS = ((0x2E, 0x85, 0x40), (0x5F, 0xB8, 0x78))


def _pixels_like(shot: Path, colours: tuple[tuple[int, int, int], ...]) -> int:
    """How many pixels of the screenshot ``shot`` have one of ``colours`` (give or take a
    little per channel)."""
    import numpy as np
    from PySide6.QtGui import QImage

    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB32)
    assert not image.isNull(), shot
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    bgra = data.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()]
    found = np.zeros(bgra.shape[:2], bool)
    for r, g, b in colours:
        near = np.abs(bgra[..., :3].astype(int) - (b, g, r)).max(axis=2) <= 8
        found |= near
    return int(found.sum())


def _opens_the_statistics_tab(session: XSession, client: ApiClient, folder: Path) -> None:
    """Raise the main window, press Alt+S as a user does, and wait until the tab's chart
    of jobs ended shows its bars of completed jobs (drawn by the bundle's pyqtgraph)."""
    assert client.post("/api/app/show")["shown"] is True
    deadline = time.monotonic() + WAIT
    while not ((info := window_info(session, "Jobdeck")) and info.mapped):
        assert time.monotonic() < deadline, "the main window never showed"
        time.sleep(0.2)
    before = _pixels_like(session.grab(folder / "jobs-tab.png"), COMPLETED_BARS)
    keys = Pointer(session)
    try:
        keys.chord("Alt_L", "s")
    finally:
        keys.close()
    shot = folder / "statistics-tab.png"
    # a bar, not just the legend's 8x8 square: the day's bar is the chart's full height
    while (after := _pixels_like(session.grab(shot), COMPLETED_BARS)) < before + 1000:
        assert time.monotonic() < deadline, (
            f"no chart drawn in the Statistics tab ({after} pixels of its bars' colour, "
            f"{before} before it opened; see {shot})"
        )
        time.sleep(0.5)


def test_the_bundle_runs_a_command_and_a_python_script_and_quits_on_sigterm(
    bundle: Path, session: XSession, tmp_path: Path
) -> None:
    if shutil.which("python3") is None:
        pytest.skip("no python3 on PATH for the script job")
    db = tmp_path / "jobs.db"
    env = session.env()
    env.pop("PYTHONPATH", None)  # the bundle brings its own Jobdeck
    app = subprocess.Popen(
        [str(bundle), "--db", str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        socket = ApiPaths.for_store(db, Path(env["XDG_RUNTIME_DIR"]) / "jobdeck").socket
        deadline = time.monotonic() + WAIT
        while not socket.exists():
            assert app.poll() is None, app.communicate()
            assert time.monotonic() < deadline, "the bundle never served its API"
            time.sleep(0.2)

        script = tmp_path / "work.py"
        script.write_text(
            "import jobdeck.worker\nprint('50%', flush=True)\nprint('script done', flush=True)\n"
        )
        with ApiClient(socket) as client:
            command = client.post(
                "/api/jobs",
                {"type": "command", "params": {"argv": ["/bin/sh", "-c", "echo 1/2; echo 2/2"]}},
            )
            done = _wait_for(client, str(command["id"]))
            assert done["status"] == "completed", done
            assert done["exit_code"] == 0
            queued = client.post("/api/jobs", {"type": "python", "params": {"script": str(script)}})
            done = _wait_for(client, str(queued["id"]))
            assert done["status"] == "completed", done
            assert done["exit_code"] == 0
            stats = client.get("/api/stats", period="7d")  # numpy, in the bundle
            runs = sorted((t["type"], t["runs"]) for t in stats["types"])
            assert runs == [("command", 1), ("python", 1)], stats
            _opens_the_statistics_tab(session, client, tmp_path)

        # The bundle's own terminal command, as a user types it.
        run = subprocess.run(
            [str(bundle), "--db", str(db), "run", "--wait", "--", "/bin/sh", "-c", "exit 3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert run.returncode == 3, (run.stdout, run.stderr)  # the program's exit status

        status, out, err = stop(app, timeout=60)
        assert status == 0, (out, err)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
