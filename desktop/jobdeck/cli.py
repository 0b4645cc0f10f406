"""The ``jobdeck`` command: open the desktop app, or look at the job store from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from jobdeck import __version__

__all__ = ["main"]


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
    list_cmd.add_argument("--status", help="only jobs with this status")
    list_cmd.add_argument("--type", help="only jobs of this type")
    list_cmd.add_argument("--search", help="only jobs whose title/message/error contains this")
    list_cmd.add_argument("-n", "--limit", type=int, default=20)
    show_cmd = sub.add_parser("show", help="show one job as JSON (read-only)")
    show_cmd.add_argument("job_id")
    return parser


def _list(args: argparse.Namespace) -> int:
    from jobdeck.core import JobTracker, StoreError

    try:
        with JobTracker.open(args.db, read_only=True) as tracker:
            jobs = tracker.list_jobs(
                status=args.status, type=args.type, search=args.search, limit=args.limit
            )
    except (StoreError, ValueError) as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1
    for job in jobs:
        percent = job.progress.percent
        progress = f"{percent:5.1f}%" if percent is not None else "     -"
        print(f"{job.id}  {job.status.value:<9}  {progress}  {job.type:<10}  {job.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    import dataclasses

    from jobdeck.core import JobTracker, StoreError

    try:
        with JobTracker.open(args.db, read_only=True) as tracker:
            job = tracker.get_job(args.job_id)
            logs = tracker.logs(args.job_id, limit=20) if job else []
    except StoreError as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1
    if job is None:
        print(f"jobdeck: no job with id {args.job_id!r}", file=sys.stderr)
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
    from jobdeck.core import StoreError

    try:
        from jobdeck.app import run_app

        return run_app(args.db, demo=args.demo)
    except StoreError as exc:
        print(f"jobdeck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
