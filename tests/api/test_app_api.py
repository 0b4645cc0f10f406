"""The API wired into the desktop app (JobdeckApp) and into ``jobdeck serve``'s
JobdeckService, in this process on the qasync loop: requests come from another thread, as
from another program, while the GUI thread serves them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QSettings

from jobdeck.api.client import ApiClient
from jobdeck.api.paths import ApiPaths
from jobdeck.api.server import ApiOptions
from jobdeck.app import JobdeckApp, JobdeckService, QuitChoice
from jobdeck.settings import AppSettings

T = TypeVar("T")


@pytest.fixture
def loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop driven by the Qt event loop that ``qtbot.wait*`` spins."""
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    for task in asyncio.all_tasks(event_loop):
        task.cancel()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    event_loop._QEventLoop__is_running = False
    event_loop.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))


def answer(qtbot: Any, pool: ThreadPoolExecutor, call: Callable[[], T]) -> T:
    """Run a (blocking) client call on a thread while the GUI thread keeps serving."""
    done: Future[T] = pool.submit(call)
    qtbot.waitUntil(done.done, timeout=30_000)
    return done.result()


def app_serving(qapp: Any, tmp_path: Path, paths: ApiPaths) -> JobdeckApp:
    """The desktop app on a store in ``tmp_path``, serving its API at ``paths`` (not started)."""
    return JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings(tmp_path),
        confirm_quit=lambda *_: QuitChoice.STAY,
        on_quit=lambda: None,
        session_bus=None,
        api=ApiOptions(paths),
    )


def test_the_desktop_app_serves_its_api_and_raises_its_window(
    qapp: Any, qtbot: Any, loop: Any, pool: ThreadPoolExecutor, tmp_path: Path, runtime: Path
) -> None:
    paths = ApiPaths(runtime / "jobdeck", "app")
    app = app_serving(qapp, tmp_path, paths)
    try:
        app.start(show_window=False)
        client = ApiClient(paths.socket)
        info = answer(qtbot, pool, client.info)
        assert info["gui"] is True and info["window_visible"] is False
        job = answer(
            qtbot,
            pool,
            lambda: client.post("/api/jobs", {"type": "countdown", "params": {"seconds": 0.2}}),
        )
        done = answer(
            qtbot,
            pool,
            lambda: client.request("GET", "/api/jobs/wait", query={"id": job["id"], "timeout": 20}),
        )
        assert done["done"] and done["jobs"][0]["status"] == "completed"
        assert job["id"] in app.taskbar.job_ids() or app.tracker.get_job(job["id"])
        assert answer(qtbot, pool, lambda: client.post("/api/app/show"))["shown"] is True
        qtbot.waitUntil(app.window.isVisible, timeout=10_000)  # raised on the GUI thread
        assert answer(qtbot, pool, client.info)["window_visible"] is True
        client.close()
    finally:
        app.shutdown()
    assert not paths.socket.exists()  # gone with the app


def test_the_statistics_tab_and_the_api_share_one_copy_of_the_history(
    qapp: Any, qtbot: Any, loop: Any, pool: ThreadPoolExecutor, tmp_path: Path, runtime: Path
) -> None:
    """The Statistics tab and ``GET /api/stats?period=`` read the store's whole history into
    columns (~84 MB at a million jobs): they share the tracker's one copy, so the second
    reader reads no job row again."""
    paths = ApiPaths(runtime / "jobdeck", "stats")
    app = app_serving(qapp, tmp_path, paths)
    try:
        app.start(show_window=True)
        for seconds in (1, 2, 3):
            ctx = app.tracker.create_job("command", params={"argv": ["sleep", str(seconds)]})
            app.tracker.complete_job(ctx.job_id)
        view = app.window.show_statistics()
        assert view is not None
        qtbot.waitUntil(lambda: "3 jobs ended" in view.summary.text(), timeout=20_000)
        shared = app.tracker.stats()
        assert view.loader.stats is shared
        read_by_the_tab = shared.data.rows_read
        assert read_by_the_tab == 3

        qtbot.waitUntil(paths.socket.exists, timeout=20_000)  # served once the window shows
        client = ApiClient(paths.socket)
        stats = answer(qtbot, pool, lambda: client.get("/api/stats", period="7d"))
        client.close()
        assert stats["types"][0]["runs"] == 3
        assert app.tracker.stats() is shared
        assert shared.data.rows_read == read_by_the_tab  # the tab's columns, not a copy
    finally:
        app.shutdown()


def test_the_service_runs_jobs_without_widgets(
    qapp: Any, qtbot: Any, loop: Any, pool: ThreadPoolExecutor, tmp_path: Path, runtime: Path
) -> None:
    paths = ApiPaths(runtime / "jobdeck", "svc")
    quits: list[int] = []
    service = JobdeckService(
        qapp,
        tmp_path / "jobs.db",
        settings=settings(tmp_path),
        api=ApiOptions(paths),
        on_quit=lambda: quits.append(1),
    )
    service.start()
    client = ApiClient(paths.socket)
    job = answer(
        qtbot,
        pool,
        lambda: client.post("/api/jobs", {"params": {"argv": ["sh", "-c", "echo 50%"]}}),
    )
    done = answer(
        qtbot,
        pool,
        lambda: client.request("GET", "/api/jobs/wait", query={"id": job["id"], "timeout": 20}),
    )
    assert done["jobs"][0]["status"] == "completed"
    error = pool.submit(lambda: client.post("/api/app/show"))
    qtbot.waitUntil(error.done, timeout=30_000)
    assert "without a window" in str(error.exception())
    client.close()
    service.quit()
    assert quits == [1] and service.tracker.closed and not paths.socket.exists()
