"""The ``jobdeck`` command line: options and subcommands (their code is imported on use)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from jobdeck import __version__

__all__ = ["build_parser"]

EPILOG = """\
exit status: 0 done; 1 a job failed or was cancelled (a program's own exit status with
run --wait), or the request could not be done; 2 usage or input the app refused;
3 the app cannot be reached; 130 interrupted (Ctrl+C).

Commands that change or wait for jobs start Jobdeck (in the tray; `jobdeck serve` without
a display) when it does not run, unless --no-start is given. ls, show and logs read the
store directly when it does not run.
"""


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        func = getattr(importlib.import_module(f"jobdeck.cli.{module}"), name)
        status: int = func(args)
        return status

    return handler


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0: any free one), not {port}")
    return port


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _listen_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument(
        "--listen",
        metavar="PORT",
        type=_port,
        default=default,
        help="also serve the API and the browser board on 127.0.0.1:PORT (0: a free port), "
        "with a bearer token (default: the Settings' port, normally off)",
    )
    parser.add_argument(
        "--listen-address",
        metavar="ADDR",
        default=default,
        help="bind the --listen port to ADDR instead of 127.0.0.1; other machines can then "
        "reach the API (the token still guards it): only on networks you trust",
    )


def _dask_option(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument(
        "--dask",
        metavar="ADDR",
        type=_dask_address,
        default=default,
        help="run the job types that ask for Dask on the cluster of this Dask scheduler "
        "(e.g. tcp://scheduler:8786; default: the Settings' one, normally none: they run here)",
    )


def _dask_address(text: str) -> str:
    address = text.strip()
    if "://" not in address or address.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"a Dask scheduler address is like tcp://host:8786, not {text!r}"
        )
    return address


#: The top-level options that take a value (the token after them is not a command).
_VALUE_OPTIONS = frozenset(("--db", "--listen", "--listen-address", "--dask"))


def names_a_command(argv: Sequence[str]) -> bool:
    """Whether ``argv`` may name a subcommand or ask for help: False for the desktop app's
    own options only (``jobdeck --db PATH``), whose parse needs no subcommand built."""
    value_next = False
    for token in argv:
        if value_next:
            value_next = False
        elif token in ("-", "--") or not token.startswith("-"):
            return True  # (a positional: maybe a command, else argparse says it is not one)
        elif token in ("-h", "--help") or (not token.startswith("--") and "h" in token):
            return True
        else:
            value_next = token in _VALUE_OPTIONS
    return False


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``jobdeck`` command's parser; with ``argv`` that names no subcommand
    (:func:`names_a_command`), one without the subcommands' parsers (the desktop app's
    start does not wait for them: ~10 ms), which parses it the same."""
    parser = argparse.ArgumentParser(
        prog="jobdeck",
        description="A desktop job monitor: launch long-running work and watch it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jobdeck {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    for p, default in ((parser, None), (common, argparse.SUPPRESS)):
        p.add_argument(
            "--db",
            metavar="PATH|URL",
            default=default,
            help="the job store to use: a SQLite file, or postgresql://user@host/db for a "
            "board that several instances share (default: $JOBDECK_DB or the user-data "
            "directory)",
        )
        p.add_argument(
            "--no-start",
            action="store_true",
            default=default if default is argparse.SUPPRESS else False,
            help="do not start Jobdeck when it does not run (exit status 3 instead)",
        )
        p.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=default if default is argparse.SUPPRESS else False,
            help="log more",
        )
    parser.add_argument(
        "--demo", action="store_true", help="queue a few built-in jobs so progress shows at once"
    )
    parser.add_argument(
        "--tray", action="store_true", help="start in the tray, with the window hidden"
    )
    _listen_options(parser)
    _dask_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if argv is not None and not names_a_command(argv):
        return parser

    def command(name: str, help: str, module: str, func: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common], **kw)
        p.set_defaults(handler=_lazy(module, func))
        return p

    serve = command(
        "serve", "run Jobdeck without a window: jobs and the API only", "commands", "cmd_serve"
    )
    _listen_options(serve, argparse.SUPPRESS)
    _dask_option(serve, argparse.SUPPRESS)

    run = command(
        "run",
        "queue a program as a job and print its id",
        "commands",
        "cmd_run",
        usage="jobdeck run [options] [--wait | --follow] -- PROGRAM [ARGS...]",
    )
    run.add_argument("--title", "-t", help="the job's title (default: the command line)")
    run.add_argument("--priority", "-p", type=int, default=0, help="higher runs first (default 0)")
    run.add_argument(
        "--after",
        metavar="ID",
        action="append",
        default=[],
        help="start only after this job has completed (repeatable)",
    )
    run.add_argument("--cwd", metavar="DIR", help="where it runs (default: this directory)")
    run.add_argument(
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="set an environment variable for it (repeatable)",
    )
    run.add_argument("--timeout", type=_seconds, metavar="S", help="fail it after S seconds")
    run.add_argument(
        "--retries",
        type=_positive_int,
        default=0,
        metavar="N",
        help="run it again up to N times if it fails",
    )
    run.add_argument(
        "--at",
        metavar="TIME",
        help="start it at TIME: HH:MM[:SS] (the next one), an ISO date and time, or +30s/+5m/+2h",
    )
    run.add_argument("--shell", action="store_true", help="run one command line through /bin/sh")
    how = run.add_mutually_exclusive_group()
    how.add_argument(
        "--wait", "-w", action="store_true", help="wait for it; exit with its exit status"
    )
    how.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="show its output and progress until it ends (Ctrl+C asks whether to cancel it)",
    )
    run.add_argument("--json", action="store_true", help="print the job as JSON")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="PROGRAM ARGS", help="what to run")

    for name in ("ls", "list"):
        ls = command(name, "list jobs, newest first", "commands", "cmd_ls")
        ls.add_argument(
            "--status",
            action="append",
            help="only jobs with this status (pending, running, completed, failed, "
            "cancelled; any case; repeatable)",
        )
        ls.add_argument("--type", action="append", help="only jobs of this type (repeatable)")
        ls.add_argument("--search", help="only jobs whose title/type/message/error contains this")
        ls.add_argument(
            "-n", "--limit", type=_positive_int, default=20, help="at most this many (20)"
        )
        ls.add_argument("--json", action="store_true", help="one JSON array of jobs")

    show = command("show", "show one job", "commands", "cmd_show")
    show.add_argument(
        "job_id", metavar="ID", help="the job's id, or the start of it if that is unique"
    )
    show.add_argument("--json", action="store_true", help="as JSON (with its last log lines)")

    cancel = command(
        "cancel", "cancel jobs (running ones are asked to stop)", "commands", "cmd_cancel"
    )
    cancel.add_argument("job_ids", nargs="*", metavar="ID")
    cancel.add_argument("--all", action="store_true", help="every pending and running job")
    cancel.add_argument("--json", action="store_true")

    retry = command("retry", "run a finished job again (as a new job)", "commands", "cmd_retry")
    retry.add_argument("job_ids", nargs="*", metavar="ID")
    retry.add_argument(
        "--failed", action="store_true", help="every failed job not run again yet (recent ones)"
    )
    retry.add_argument("--json", action="store_true")

    logs = command("logs", "print a job's output (or its log lines)", "follow", "cmd_logs")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    logs.add_argument(
        "--tail",
        type=_positive_int,
        metavar="N",
        help="only the last N lines (of the output, or the log)",
    )
    logs.add_argument(
        "--json", action="store_true", help="log lines as NDJSON (ts, level, message)"
    )

    wait = command("wait", "wait until jobs have finished", "commands", "cmd_wait")
    wait.add_argument("job_ids", nargs="+", metavar="ID")
    wait.add_argument("--any", action="store_true", help="until any one has finished")
    wait.add_argument(
        "--timeout", type=_seconds, metavar="S", help="give up after S seconds (exit 1)"
    )
    wait.add_argument("--json", action="store_true")

    watch = command("watch", "a live view of running jobs", "watch", "cmd_watch")
    watch.add_argument("--json", action="store_true", help="one JSON event a line (NDJSON)")
    watch.add_argument("--type", action="append", help="only jobs of this type (repeatable)")
    watch.add_argument("--job", action="append", metavar="ID", help="only this job (repeatable)")

    stats = command(
        "stats", "how many jobs there are, per status and type", "commands", "cmd_stats"
    )
    stats.add_argument("--json", action="store_true")
    stats.add_argument(
        "--period",
        choices=("24h", "7d", "30d", "all"),
        help="also runs, success rate and durations per type over this period",
    )

    board = command(
        "board", "print (or open) the address of the browser board", "commands", "cmd_board"
    )
    board.add_argument("--open", action="store_true", help="open it in the web browser")

    install = command(
        "install-desktop",
        "add Jobdeck to the application menu (the .desktop file and icon, for this user)",
        "commands",
        "cmd_install_desktop",
    )
    install.add_argument(
        "--uninstall", action="store_true", help="remove the menu entry and icon again"
    )
    return parser
