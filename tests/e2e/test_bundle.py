"""Issue 13, Bundle: the PyInstaller one-folder bundle runs process jobs.

Builds ``packaging/jobdeck.spec`` (skipped only when PyInstaller is not installed), starts
the bundle's ``jobdeck`` on a virtual X display, runs a command job and a "Run a Python
script" job (through its API) to completion and a command through the bundle's own
``jobdeck run --wait`` (its exit status comes back), and quits it with SIGTERM (status 0).
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
