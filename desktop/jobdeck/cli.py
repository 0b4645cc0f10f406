"""The ``jobdeck`` command: open the desktop app, or look at the job store from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobdeck import __version__

if TYPE_CHECKING:
    from jobdeck.core import Job, JobTracker

__all__ = ["main"]

#: Jobs read per query while looking for the jobs whose id starts with a prefix.
_PREFIX_PAGE = 500
#: How many of the jobs an ambiguous id prefix matches are named in the error.
_SHOWN_CANDIDATES = 5


class _UserError(Exception):
    """Bad input from the command line: printed as ``jobdeck: <message>``, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobdeck",
        description="A desktop job monitor: launch long-running work and watch it.",
    )
    parser.add_argument("--version", action="version", version=f"jobdeck {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="the job store to use (default: $JOBDECK_DB or the user-data directory)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument(
        "--demo", action="store_true", help="queue a few built-in jobs so progress shows at once"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    list_cmd = sub.add_parser("list", help="list jobs in the store (read-only)")
    list_cmd.add_argument(
        "--status",
        help="only jobs with this status: pending, running, completed, failed or cancelled "
        "(any case)",
    )
    list_cmd.add_argument("--type", help="only jobs of this type")
    list_cmd.add_argument("--search", help="only jobs whose title/message/error contains this")
    list_cmd.add_argument("-n", "--limit", type=int, default=20)
    show_cmd = sub.add_parser("show", help="show one job as JSON (read-only)")
    show_cmd.add_argument("job_id", help="the job's id, or the start of it if that is unique")
    install_cmd = sub.add_parser(
        "install-desktop",
        help="add Jobdeck to the application menu (the .desktop file and icon, for this user)",
    )
    install_cmd.add_argument(
        "--uninstall", action="store_true", help="remove the menu entry and icon again"
    )
    return parser


def _install_desktop(args: argparse.Namespace) -> int:
    from jobdeck.platform.desktop_entry import install_desktop_entry  # no Qt

    try:
        paths = install_desktop_entry(uninstall=args.uninstall)
    except OSError as exc:
        print(
            f"jobdeck: could not {'remove' if args.uninstall else 'install'} the menu entry: {exc}",
            file=sys.stderr,
        )
        return 1
    verb = "removed" if args.uninstall else "installed"
    if not paths:
        print("nothing to remove: the menu entry was not installed")
    for path in paths:
        print(f"{verb} {path}")
    return 0


def _status(text: str | None) -> str | None:
    """``--status`` in any case, as the stored value; _UserError listing the valid ones."""
    from jobdeck.core import JobStatus

    if text is None:
        return None
    valid = [s.value for s in JobStatus]
    if text.strip().lower() in valid:
        return text.strip().lower()
    raise _UserError(f"unknown status {text!r}; valid statuses: {', '.join(valid)}")


def _percent_column(job: Job) -> str:
    """The job's progress as the UI shows it (``42%``, ``4.5%``; ``—`` when unknown)."""
    from jobdeck.ui.formatting import format_percent  # plain text helpers, no Qt

    return f"{format_percent(job.progress.percent):>4}"


def _list(args: argparse.Namespace) -> int:
    from jobdeck.core import JobTracker, StoreError

    try:
        status = _status(args.status)
        with JobTracker.open(args.db, read_only=True) as tracker:
            jobs = tracker.list_jobs(
                status=status, type=args.type, search=args.search, limit=args.limit
            )
    except (StoreError, ValueError, _UserError) as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1
    for job in jobs:
        progress = _percent_column(job)
        print(f"{job.id}  {job.status.value:<9}  {progress}  {job.type:<10}  {job.title}")
    return 0


def _jobs_with_prefix(tracker: JobTracker, prefix: str) -> list[Job]:
    """Every job whose id starts with ``prefix``, newest first (ids sort by creation)."""
    found: list[Job] = []
    before = prefix + "\U0010ffff"  # sorts after every id that starts with the prefix
    while True:
        page = tracker.list_jobs(limit=_PREFIX_PAGE, before=before)
        matching = [job for job in page if job.id.startswith(prefix)]
        found.extend(matching)
        if len(matching) < len(page) or len(page) < _PREFIX_PAGE:
            return found  # newest first: past the last match, nothing else can match
        before = page[-1].id


def _find_job(tracker: JobTracker, text: str) -> Job:
    """The job with id ``text``, or the one job whose id starts with it (ids are upper
    case; a lower-case prefix works too). _UserError when none or several match."""
    job = tracker.get_job(text)
    if job is not None:
        return job
    if not text:
        raise _UserError("give a job id (or the start of one)")
    candidates = {
        j.id: j for p in dict.fromkeys([text, text.upper()]) for j in _jobs_with_prefix(tracker, p)
    }
    if not candidates:
        raise _UserError(f"no job with id {text!r} (nor an id starting with it)")
    if len(candidates) > 1:
        shown = ", ".join(sorted(candidates, reverse=True)[:_SHOWN_CANDIDATES])
        more = ", ..." if len(candidates) > _SHOWN_CANDIDATES else ""
        raise _UserError(
            f"id prefix {text!r} matches {len(candidates)} jobs ({shown}{more}); "
            "give more of the id"
        )
    return next(iter(candidates.values()))


def _show(args: argparse.Namespace) -> int:
    import dataclasses

    from jobdeck.core import JobTracker, StoreError

    try:
        with JobTracker.open(args.db, read_only=True) as tracker:
            job = _find_job(tracker, args.job_id)
            logs = tracker.logs(job.id, limit=20)
    except (StoreError, _UserError) as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1
    data = dataclasses.asdict(job)
    data["status"] = job.status.value
    data["logs"] = [f"{e.level}: {e.message}" for e in logs]
    print(json.dumps(data, indent=2, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "list":
        return _list(args)
    if args.command == "show":
        return _show(args)
    if args.command == "install-desktop":
        return _install_desktop(args)
    from jobdeck.core import StoreError

    try:
        from jobdeck.app import run_app

        return run_app(args.db, demo=args.demo)
    except StoreError as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
