"""One instance per store: a second ``jobdeck`` on the same store raises the first one's
window and exits 0 (no stderr noise); another store runs side by side. The real app on a
virtual X display (Xvfb)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from jobdeck.api.client import ApiClient, AppUnreachable
from jobdeck.api.paths import ApiPaths, store_key
from tests.api.serving import wait_for
from tests.e2e.xsession import XSession, running_app, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _need_xvfb() -> None:
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing: .ci/run should have installed it")
        pytest.skip("Xvfb is not installed (bash scripts/install-debian-deps.sh)")


def info(session: XSession, db: Path) -> dict[str, Any] | None:
    paths = ApiPaths(session.tmp / "runtime" / "jobdeck", store_key(db))
    try:
        with ApiClient(paths.socket) as client:
            return client.info()
    except AppUnreachable:
        return None


def test_a_second_launch_raises_the_window_and_another_store_runs_beside(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    with XSession() as session, running_app(session, "--db", str(db), "--tray") as first:
        found = wait_for(lambda: info(session, db), 60, "the app's API")
        assert found["gui"] is True and found["window_visible"] is False
        second = session.launch_jobdeck("--db", str(db))
        out, err = second.communicate(timeout=60)
        assert (second.returncode, out, err) == (0, "", "")
        wait_for(lambda: (info(session, db) or {}).get("window_visible"), 30, "the window")
        assert info(session, db)["pid"] == found["pid"]  # type: ignore[index]

        other_db = tmp_path / "other.db"
        with running_app(session, "--db", str(other_db), "--tray") as other:
            beside = wait_for(lambda: info(session, other_db), 60, "the second store's app")
            assert beside["pid"] != found["pid"] and beside["db"] == str(other_db)
            status, _, err = stop(other)
            assert status == 0, err
        status, _, err = stop(first)
        assert status == 0, err
        assert info(session, db) is None  # the socket went with it


def test_a_command_starts_the_app_in_the_tray_when_none_runs(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    db = tmp_path / "jobs.db"
    with XSession() as session:
        result = subprocess.run(
            [sys.executable, "-m", "jobdeck", "--db", str(db), "run", "--wait", "--", "true"],
            env=session.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result
        assert "starting Jobdeck in the tray" in result.stderr
        found = info(session, db)
        assert found is not None and found["gui"] is True and found["window_visible"] is False
        os.kill(found["pid"], signal.SIGTERM)
        wait_for(lambda: info(session, db) is None, 30, "the started app to quit")
