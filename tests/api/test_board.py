"""The browser board in a real headless Chromium against a real ``jobdeck serve``: it
connects, a job's progress moves, its cancel button cancels it, and after the app restarts
the page reconnects by itself and carries on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.api.chromium import CHROMIUM, Browser, Page
from tests.api.serving import Served, wait_for

pytestmark = pytest.mark.slow

STEPS = "for i in $(seq 1 200); do echo $i/200; sleep 0.1; done"
#: Where the screenshot of the board goes (the test writes it; open it to look).
SCREENSHOT = os.environ.get("JOBDECK_BOARD_SCREENSHOT")


@pytest.fixture(autouse=True)
def _need_chromium() -> None:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/install-debian-deps.sh installs it")
        pytest.skip("chromium is not installed (bash scripts/install-debian-deps.sh)")


def row(job_id: str, part: str = "") -> str:
    return f"document.querySelector('li.job[data-job-id=\"{job_id}\"] {part}')"


def percent(page: Page, job_id: str) -> str:
    return str(page.evaluate(f"{row(job_id, '[data-role=percent]')}?.textContent ?? ''"))


def test_the_board_shows_live_progress_cancels_and_survives_a_restart(
    runtime: Path, tmp_path: Path
) -> None:
    app = Served(runtime, tmp_path / "jobs.db", "--listen", "0").start()
    try:
        done = app.jobdeck("run", "--wait", "--title", "Warm-up", "--", "true")
        assert done.returncode == 0, done
        started = app.jobdeck("run", "--title", "Count to 200", "--", "sh", "-c", STEPS)
        job_id = started.stdout.strip()
        board = app.jobdeck("board")
        assert board.returncode == 0, board
        url = board.stdout.strip()
        port = url.split(":")[2].split("/")[0]
        with Browser() as browser:
            page = browser.page()
            page.goto(url)  # ?token= sets the cookie and redirects to /
            page.wait_for("document.getElementById('conn')?.dataset.state === 'live'")
            assert page.evaluate("location.pathname + location.search") == "/"
            page.wait_for(f"!!{row(job_id)}")
            first = page.wait_for(f"{row(job_id, '[data-role=percent]')}.textContent.endsWith('%')")
            assert first
            start = percent(page, job_id)
            page.wait_for(
                f"{row(job_id, '[data-role=percent]')}.textContent !== {start!r}", timeout=30
            )
            assert "Warm-up" in page.evaluate("document.getElementById('recent').innerText")
            assert page.evaluate(f"{row(job_id, '.times')}.textContent").strip()
            if SCREENSHOT:
                page.screenshot(Path(SCREENSHOT))
            page.click(f'li.job[data-job-id="{job_id}"] [data-role=cancel]')
            wait_for(lambda: _status(app, job_id) == "cancelled", 30, "the job to be cancelled")
            page.wait_for(f"!{row(job_id)}")  # gone from the running jobs...
            page.wait_for(  # ...and in the history as cancelled
                f"document.querySelector('#recent tr[data-job-id=\"{job_id}\"] .badge')"
                "?.textContent === 'cancelled'"
            )

            # A restart: the page notices, reconnects by itself and resumes.
            second = app.jobdeck("run", "--title", "Across the restart", "--", "sh", "-c", STEPS)
            second_id = second.stdout.strip()
            page.wait_for(f"!!{row(second_id)}")
            app.stop()
            page.wait_for("document.getElementById('conn').dataset.state === 'lost'")
            app.serve_args = ("--listen", port)
            app.start()
            third = app.jobdeck("run", "--title", "After the restart", "--", "sh", "-c", STEPS)
            third_id = third.stdout.strip()
            page.wait_for("document.getElementById('conn').dataset.state === 'live'", 60)
            page.wait_for(f"!!{row(third_id)}", 60)
            page.wait_for(f"{row(third_id, '[data-role=percent]')}.textContent.endsWith('%')")
            # The job that was running when the app stopped ended then: not missed.
            page.wait_for(
                f"!{row(second_id)} && !!document.querySelector("
                f"'#recent tr[data-job-id=\"{second_id}\"]')",
                30,
            )
    finally:
        if app.proc is not None:
            app.stop()


def _status(app: Served, job_id: str) -> str:
    with app.client() as client:
        return str(client.get(f"/api/jobs/{job_id}")["status"])
