"""The terminal commands that ask or tell the app something: run, ls, show, cancel, retry,
wait, stats, board, serve, install-desktop (``logs`` and ``watch`` stream: see
:mod:`.follow` and :mod:`.watch`)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from jobdeck.api.client import ApiClient, ApiError, AppUnreachable, job_path
from jobdeck.api.jsonify import job_to_json, log_to_json

from .connect import api_failure, app_paths, connect, read_only_store
from .errors import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from .render import job_line, job_page, print_json, say_end
from .sqlite_only import import_peewee_for_sqlite

__all__ = [
    "cmd_board",
    "cmd_cancel",
    "cmd_install_desktop",
    "cmd_ls",
    "cmd_retry",
    "cmd_run",
    "cmd_serve",
    "cmd_show",
    "cmd_stats",
    "cmd_wait",
    "exit_status",
    "wait_for",
]

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
#: Seconds one wait request may last before the client asks again.
WAIT_SLICE = 30.0


def _call(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except (ApiError, AppUnreachable) as exc:
        raise api_failure(exc) from None


def exit_status(job: dict[str, Any]) -> int:
    """A finished job as an exit status: 0 completed; the program's own status when it
    failed with one (1-255); else 1."""
    if job["status"] == "completed":
        return EXIT_OK
    code = job.get("exit_code")
    if job["status"] == "failed" and isinstance(code, int) and 0 < code < 256:
        return code
    return EXIT_FAILED


# -- serve / install ---------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import_peewee_for_sqlite(args.db)
    from jobdeck.api.launch import NotAnswering
    from jobdeck.app import run_service
    from jobdeck.core import StoreError

    try:
        return run_service(
            args.db, listen=args.listen, listen_host=args.listen_address, dask=args.dask
        )
    except StoreError as exc:
        raise CliError(EXIT_FAILED, str(exc)) from None
    except NotAnswering as exc:  # the Jobdeck starting on the store hangs: named
        raise CliError(EXIT_UNREACHABLE, str(exc)) from None


def cmd_install_desktop(args: argparse.Namespace) -> int:
    from jobdeck.platform.desktop_entry import install_desktop_entry  # no Qt

    try:
        paths = install_desktop_entry(uninstall=args.uninstall)
    except OSError as exc:
        verb = "remove" if args.uninstall else "install"
        raise CliError(EXIT_FAILED, f"could not {verb} the menu entry: {exc}") from None
    verb = "removed" if args.uninstall else "installed"
    if not paths:
        print("nothing to remove: the menu entry was not installed")
    for path in paths:
        print(f"{verb} {path}")
    return EXIT_OK


# -- run ---------------------------------------------------------------------------------------


def _environment(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or "\0" in pair:
            raise CliError(EXIT_USAGE, f"--env takes NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def run_request(args: argparse.Namespace) -> dict[str, Any]:
    """The ``POST /api/jobs`` body for ``jobdeck run``."""
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise CliError(
            EXIT_USAGE, "give the program to run: jobdeck run [options] -- PROGRAM ARGS..."
        )
    if args.shell:
        argv = [" ".join(argv)]
    elif os.sep not in argv[0]:
        found = shutil.which(argv[0])  # this terminal's PATH, not the app's
        if found:
            argv[0] = found
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()
    body: dict[str, Any] = {
        "type": "command",
        "params": {"argv": argv, "cwd": cwd, "env": _environment(args.env), "shell": args.shell},
        "priority": args.priority,
        "max_attempts": args.retries + 1,
    }
    if args.title:
        body["title"] = args.title
    if args.after:
        body["depends_on"] = args.after
    if args.timeout:
        body["timeout"] = args.timeout
    if args.at:
        from .times import parse_start_time

        try:
            body["run_at"] = parse_start_time(args.at)
        except ValueError as exc:
            raise CliError(EXIT_USAGE, f"--at: {exc}") from None
    return body


def cmd_run(args: argparse.Namespace) -> int:
    body = run_request(args)
    client = connect(args, start=True)
    assert client is not None
    with client:
        job = _call(client.post, "/api/jobs", body)
        if args.follow:
            from .follow import follow_job

            if args.json:
                print_json(job)
            else:
                print(job["id"], file=sys.stderr)
            return follow_job(client, job["id"])
        if not args.wait:
            if args.json:
                print_json(job)
            else:
                print(job["id"])
            return EXIT_OK
        (final,) = wait_for(client, [job["id"]])
        if args.json:
            print_json(final)
        else:
            print(job["id"])
            if final["status"] != "completed":
                say_end(final)  # why it failed (a program's status alone says little)
        return exit_status(final)


def wait_for(
    client: ApiClient, ids: list[str], *, any_of: bool = False, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Ask the app until the jobs have finished (all, or one with ``any_of``); their last
    states. CliError 1 when ``timeout`` passes first, 3 when the app goes away."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
        query = {"id": ids, "any": any_of, "timeout": f"{max(0.0, left):.3f}"}
        answer = _call(
            lambda q=query, t=left: client.request("GET", "/api/jobs/wait", query=q, timeout=t + 30)
        )
        if answer["done"]:
            jobs: list[dict[str, Any]] = answer["jobs"]
            return jobs
        if deadline is not None and time.monotonic() >= deadline:
            raise CliError(EXIT_FAILED, f"still not finished after {timeout:g} s")


# -- reading -----------------------------------------------------------------------------------


def _statuses(given: list[str] | None) -> list[str] | None:
    if not given:
        return None
    out = []
    for text in given:
        for part in text.split(","):
            status = part.strip().lower()
            if status not in STATUSES:
                raise CliError(
                    EXIT_USAGE, f"unknown status {part!r}; valid statuses: {', '.join(STATUSES)}"
                )
            out.append(status)
    return out


def cmd_ls(args: argparse.Namespace) -> int:
    statuses = _statuses(args.status)
    client = connect(args, start=False)
    if client is None:
        with read_only_store(args) as tracker:
            found = tracker.list_jobs(
                status=statuses, type=args.type, search=args.search, limit=args.limit
            )
            jobs = [job_to_json(j) for j in found]
    else:
        with client:
            query = {"status": statuses, "type": args.type, "search": args.search}
            query["limit"] = args.limit
            jobs = _call(lambda: client.request("GET", "/api/jobs", query=query))["jobs"]
    if args.json:
        print_json(jobs)
    else:
        for job in jobs:
            print(job_line(job))
    return EXIT_OK


def find_offline(tracker: Any, text: str) -> Any:
    from jobdeck.api.lookup import AmbiguousId, JobNotFound, find_job

    try:
        return find_job(tracker, text)
    except JobNotFound as exc:
        raise CliError(EXIT_FAILED, str(exc)) from None
    except AmbiguousId as exc:
        raise CliError(EXIT_USAGE, str(exc)) from None


def cmd_show(args: argparse.Namespace) -> int:
    client = connect(args, start=False)
    if client is None:
        with read_only_store(args) as tracker:
            found = find_offline(tracker, args.job_id)
            job = job_to_json(found)
            logs = [log_to_json(e) for e in tracker.logs(found.id, limit=20)]
    else:
        with client:
            job = _call(client.get, job_path(args.job_id))
            logs = _call(lambda: client.get(job_path(job["id"], "/logs"), tail=20))["entries"]
    if args.json:
        print_json({**job, "logs": logs})
    else:
        print(job_page(job, logs))
    return EXIT_OK


def cmd_wait(args: argparse.Namespace) -> int:
    client = connect(args, start=False)
    if client is None:  # finished jobs need no app; others do
        with read_only_store(args) as tracker:
            jobs = [job_to_json(find_offline(tracker, t)) for t in args.job_ids]
        finished = [j for j in jobs if j["status"] in STATUSES[2:]]
        if finished and (args.any or len(finished) == len(jobs)):
            return _report_waited(args, jobs)
        client = connect(args, start=True)
        assert client is not None
    with client:
        return _report_waited(
            args, wait_for(client, args.job_ids, any_of=args.any, timeout=args.timeout)
        )


def _report_waited(args: argparse.Namespace, jobs: list[dict[str, Any]]) -> int:
    if args.json:
        print_json(jobs)
    else:
        for job in jobs:
            print(job_line(job))
    finished = [j for j in jobs if j["status"] in STATUSES[2:]]
    return max((exit_status(j) for j in finished), default=EXIT_OK)


def cmd_stats(args: argparse.Namespace) -> int:
    period = getattr(args, "period", None)
    client = connect(args, start=False)
    if client is None:
        with read_only_store(args) as tracker:
            by_status = {s: tracker.count_jobs(status=s) for s in STATUSES}
            stats: dict[str, Any] = {
                "total": sum(by_status.values()),
                "by_status": by_status,
                "by_type": tracker.counts_by_type(),
            }
            if period is not None:
                report = tracker.stats().report(period, keys=50)
                stats["period"] = period
                stats["types"] = [s.as_json() for s in report.by_type]
                stats["keys"] = [s.as_json() for s in report.by_key]
                stats["failures"] = [f.as_json() for f in report.failures]
    else:
        with client:
            path = "/api/stats" if period is None else f"/api/stats?period={period}"
            stats = _call(client.get, path)
    if args.json:
        print_json(stats)
        return EXIT_OK
    print(f"{'':<12}" + "".join(f"{s:>11}" for s in STATUSES))
    print(f"{'all':<12}" + "".join(f"{stats['by_status'][s]:>11}" for s in STATUSES))
    for name, counts in stats["by_type"].items():
        print(f"{name:<12}" + "".join(f"{counts[s]:>11}" for s in STATUSES))
    if period is not None:
        _print_period(period, stats)
    return EXIT_OK


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.0f}s"
    if value < 3600:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _print_period(period: str, stats: dict[str, Any]) -> None:
    print(f"\nlast {period}" if period != "all" else "\nall time")
    heads = ("runs", "success", "failed", "p50", "p90", "max")
    print(f"{'type':<12}" + "".join(f"{h:>9}" for h in heads))
    for row in stats["types"]:
        rate = row["success_rate"]
        cells = (
            str(row["runs"]),
            "-" if rate is None else f"{100 * rate:.0f}%",
            str(row["failed"]),
            _seconds(row["p50_s"]),
            _seconds(row["p90_s"]),
            _seconds(row["max_s"]),
        )
        print(f"{row['type']:<12}" + "".join(f"{c:>9}" for c in cells))
    if stats["failures"]:
        print("\nfailures")
        for failure in stats["failures"][:10]:
            print(f"{failure['runs']:>7}  {failure['type']:<10} {failure['first_line']}")


# -- changing ----------------------------------------------------------------------------------


def cmd_cancel(args: argparse.Namespace) -> int:
    if bool(args.job_ids) == bool(args.all):
        raise CliError(EXIT_USAGE, "give the jobs to cancel (IDs), or --all")
    client = connect(args, start=False)
    if client is None and args.all and not _active_offline(args):
        answer: dict[str, Any] = {"cancelled": [], "stopping": [], "not_cancelled": []}
    else:  # (a job queued or running needs the app to stop it: it is started if need be)
        client = client or connect(args, start=True)
        assert client is not None
        with client:
            body = {"all": True} if args.all else {"ids": args.job_ids}
            answer = _call(client.post, "/api/jobs/cancel", body)
    if args.json:
        print_json(answer)
    else:
        stopping = set(answer.get("stopping", ()))  # (an older app does not say)
        for job_id in answer["cancelled"]:
            if job_id in stopping:  # running: only asked to stop, it may take a while
                print(f"asked {job_id} to stop (running)")
            else:
                print(f"cancelled {job_id}")
        for refused in answer["not_cancelled"]:
            print(f"jobdeck: {refused['reason']}", file=sys.stderr)
        if args.all and not answer["cancelled"] and not answer["not_cancelled"]:
            print("nothing to cancel: no job is pending or running")
    return EXIT_FAILED if answer["not_cancelled"] else EXIT_OK


def _active_offline(args: argparse.Namespace) -> int:
    """How many jobs the store holds queued or running (read with no app running): with
    none, ``cancel --all`` has nothing to do and starts no app to say so."""
    with read_only_store(args) as tracker:
        return int(tracker.count_jobs(status=list(STATUSES[:2])))


def cmd_retry(args: argparse.Namespace) -> int:
    if bool(args.job_ids) == bool(args.failed):
        raise CliError(EXIT_USAGE, "give the jobs to run again (IDs), or --failed")
    client = connect(args, start=True)
    assert client is not None
    with client:
        body = {"failed": True} if args.failed else {"ids": args.job_ids}
        jobs = _call(client.post, "/api/jobs/retry", body)["jobs"]
    if args.json:
        print_json(jobs)
    elif not jobs:
        print("no failed job to run again")
    else:
        for job in jobs:
            print(f"{job['retry_of']} -> {job['id']}  {job['title']}")
    return EXIT_OK


def cmd_board(args: argparse.Namespace) -> int:
    from jobdeck.api.token_file import read_token

    client = connect(args, start=False)
    if client is None:
        raise CliError(EXIT_UNREACHABLE, "Jobdeck is not running; the board is served by it")
    with client:
        url = _call(client.info).get("listen")
    token = read_token(app_paths(args).token)
    if not url or not token:
        raise CliError(
            EXIT_FAILED,
            "the board needs the app's TCP listener: start it with --listen PORT "
            "(e.g. jobdeck serve --listen 8765), or set a port in Settings",
        )
    address = f"{url}/?token={token}"
    if args.open:
        import webbrowser

        webbrowser.open(address)
    print(address)
    return EXIT_OK
