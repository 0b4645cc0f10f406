"""``jobdeck watch``: the running jobs, live, with progress bars (rich); or ``--json``: one
NDJSON event a line (``{"event": kind, "job": {...}}``, a snapshot's jobs as ``"snapshot"``).

Fed by the app's event stream; when the app restarts, it reconnects and resumes. Ctrl+C
ends it (exit status 130).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from jobdeck.api.client import ApiClient, ApiError, AppUnreachable, job_path, sse_events

from .connect import api_failure, app_paths, connect
from .errors import EXIT_INTERRUPTED
from .render import elapsed

__all__ = ["cmd_watch"]

FINISHED = ("completed", "failed", "cancelled")
#: Seconds a finished job stays in the live view.
KEEP_FINISHED = 5.0


def cmd_watch(args: argparse.Namespace) -> int:
    client = connect(args, start=True)
    assert client is not None
    for text in args.job or ():  # a typo is said at once, before any table is drawn
        try:
            client.get(job_path(text))
        except (ApiError, AppUnreachable) as exc:
            client.close()
            raise api_failure(exc) from None
    query = {"type": args.type, "job": args.job}
    view = None if args.json else _LiveView()
    try:
        if view is not None:
            view.start()
        _follow(args, client, query, view)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        if view is not None:
            view.stop()
        client.close()
    return EXIT_INTERRUPTED


def _follow(
    args: argparse.Namespace, client: ApiClient, query: dict[str, Any], view: _LiveView | None
) -> None:
    last_id: str | None = None
    while True:
        try:
            response = client.stream(
                "/api/jobs/stream", {**query, "lastEventId": last_id}, timeout=60
            )
        except AppUnreachable:
            if view is not None:
                view.note("Jobdeck is not running; waiting for it to come back...")
            time.sleep(1.0)
            client = ApiClient(app_paths(args).socket)
            continue
        except ApiError as exc:
            raise api_failure(exc) from None
        if view is not None:
            view.note("")
        try:
            with response:
                for event in sse_events(response):
                    last_id = event.id or last_id
                    data = event.json()
                    if event.event == "snapshot":
                        _emit_snapshot(data["jobs"], view)
                    else:
                        for item in data["jobs"]:
                            _emit(item["event"], item["job"], view, item.get("logs"))
        except OSError:
            pass  # the app went away: reconnect and resume


def _emit_snapshot(jobs: list[dict[str, Any]], view: _LiveView | None) -> None:
    if view is not None:
        view.replace(jobs)
        return
    for job in jobs:
        _emit("snapshot", job, None)


def _emit(event: str, job: dict[str, Any], view: _LiveView | None, logs: Any = None) -> None:
    if view is not None:
        view.update(job)
        return
    line: dict[str, Any] = {"event": event, "job": job}
    if logs:
        line["logs"] = logs
    print(json.dumps(line, ensure_ascii=False), flush=True)


class _LiveView:
    """The running (and just finished) jobs as a table of progress bars, redrawn by rich."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=False)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.finished_at: dict[str, float] = {}
        self.message = ""
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self.render)

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        self.live.stop()

    def note(self, message: str) -> None:
        self.message = message

    def replace(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = {j["id"]: j for j in jobs if j["status"] not in FINISHED}

    def update(self, job: dict[str, Any]) -> None:
        self.jobs[job["id"]] = job
        if job["status"] in FINISHED:
            self.finished_at.setdefault(job["id"], time.monotonic())

    def render(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        from jobdeck.ui.formatting import format_duration, format_percent

        now = time.monotonic()
        for job_id, when in list(self.finished_at.items()):
            if now - when > KEEP_FINISHED:
                self.jobs.pop(job_id, None)
                del self.finished_at[job_id]
        table = Table(expand=True, box=None, pad_edge=False)
        table.add_column("job", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("progress", ratio=2)
        table.add_column("%", justify="right", width=5)
        table.add_column("time", justify="right", width=8)
        table.add_column("ETA", justify="right", width=8)
        table.add_column("status", width=10)
        running = sorted(self.jobs.values(), key=lambda j: j["id"])
        for job in running:
            p = job["progress"]
            pct = p["percent"]
            bar = ProgressBar(
                total=100.0 if pct is not None else None,
                completed=pct or 0.0,
                pulse=pct is None and job["status"] == "running",
            )
            spent = elapsed(job)
            eta = None
            if pct and spent and 0 < pct < 100 and job["status"] == "running":
                eta = spent * (100 - pct) / pct
            title = job["title"] + (f" — {p['message']}" if p["message"] else "")
            table.add_row(
                title,
                bar,
                format_percent(pct),
                format_duration(spent),
                format_duration(eta) if eta is not None else "",
                job["status"],
            )
        if not running:
            table.add_row("[dim]no job is running[/dim]", "", "", "", "", "")
        if self.message:
            table.caption = self.message
        return table
