"""Reach the app for a command: connect to it, start it, or read the store without it."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from jobdeck.api.client import ApiClient, ApiError, AppUnreachable
from jobdeck.api.paths import MEMORY, ApiPaths, store_path

from .errors import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from .sqlite_only import import_peewee_for_sqlite

if TYPE_CHECKING:
    from jobdeck.core import JobTracker

__all__ = ["api_failure", "app_paths", "connect", "read_only_store"]

#: Set to 1 to never start the app from a command (like --no-start).
NO_START_ENV = "JOBDECK_NO_AUTOSTART"


def app_paths(args: argparse.Namespace) -> ApiPaths:
    try:
        return ApiPaths.for_store(args.db)
    except Exception as exc:  # RuntimeDirError
        raise CliError(EXIT_UNREACHABLE, f"cannot reach Jobdeck: {exc}") from None


def connect(args: argparse.Namespace, *, start: bool) -> ApiClient | None:
    """A client of the app running on the store of ``args.db``. When none runs: start one
    if ``start`` (CliError with status 3 when that is not allowed or fails), else None."""
    from jobdeck.api.launch import ANSWER_TIMEOUT

    paths = app_paths(args)
    client = ApiClient(paths.socket)
    try:
        client.info(timeout=ANSWER_TIMEOUT)
        return client
    except AppUnreachable as exc:
        client.close()
        if isinstance(exc.__cause__, TimeoutError):
            # One runs there but does not answer: name it rather than start another (which
            # would wait for it) or let the request vanish.
            from jobdeck.api.launch import silent_app

            raise CliError(EXIT_UNREACHABLE, str(silent_app(paths, ANSWER_TIMEOUT))) from None
    if not start:
        return None
    where = args.db or os.environ.get("JOBDECK_DB") or "the default store"
    from jobdeck.api.launch import NotAnswering

    try:
        starting = _starting_app(paths, where)
        if starting is not None:
            return starting
        if args.no_start or os.environ.get(NO_START_ENV, "") not in ("", "0"):
            raise CliError(EXIT_UNREACHABLE, f"Jobdeck is not running on {where}")
        from jobdeck.api.launch import StartFailed, has_display, start_app

        print(
            f"jobdeck: starting Jobdeck {'in the tray' if has_display() else '(jobdeck serve)'} "
            f"on {where}",
            file=sys.stderr,
        )
        try:
            return start_app(paths, args.db)
        except StartFailed as exc:
            raise CliError(EXIT_UNREACHABLE, f"could not start Jobdeck: {exc}") from None
    except NotAnswering as exc:
        # The Jobdeck starting on the store hangs (or is stopped): nothing was sent to it.
        raise CliError(EXIT_UNREACHABLE, str(exc)) from None


def _starting_app(paths: ApiPaths, where: str) -> ApiClient | None:
    """When a Jobdeck is starting on the store (it holds the start lock but does not answer
    yet: a desktop launch opening the store), wait for it as a second launch does and
    return a client of it once it answers; None when none is starting (or it went without
    answering): the command starts one. Starting one meanwhile (``jobdeck serve`` without
    a display) put a second Jobdeck on the store. Raises
    :class:`~jobdeck.api.launch.NotAnswering` for one that hangs, is stopped or does
    nothing (its pid, what to do)."""
    from jobdeck.api.launch import COMMAND_AGAIN, start_lock_held, wait_for_starting_app
    from jobdeck.api.lock_holder import holder_pid

    if not start_lock_held(paths):
        return None
    pid = holder_pid(paths.start_lock)
    print(
        f"jobdeck: Jobdeck is starting on {where}"
        + (f" (pid {pid})" if pid is not None else "")
        + ": waiting for it",
        file=sys.stderr,
    )
    answered = wait_for_starting_app(
        paths, raise_window=False, claim=False, again=COMMAND_AGAIN, say_after=float("inf")
    )
    return None if answered is None else ApiClient(paths.socket)


@contextlib.contextmanager
def read_only_store(args: argparse.Namespace) -> Iterator[JobTracker]:
    """The store opened read-only (the app does not run); CliError 1 when it cannot be.

    The default store before Jobdeck first ran (no ``--db``, no ``$JOBDECK_DB``, no file
    yet) has no jobs: an empty store in memory stands for it, and nothing is created. A
    store that is named must exist (a typo in a path is not an empty history)."""
    import_peewee_for_sqlite(args.db)
    from jobdeck.core import JobTracker, StoreError

    where = args.db
    if where is None and not os.environ.get("JOBDECK_DB"):
        default = store_path(None)
        if default is not None and not os.path.lexists(default):
            where = MEMORY
    try:
        tracker = JobTracker.open(where, read_only=where != MEMORY)
    except StoreError as exc:
        raise CliError(EXIT_FAILED, str(exc)) from None
    with tracker:
        yield tracker


#: The API's input fields as the options of ``jobdeck run`` (and the ids of ``cancel`` and
#: ``retry``, which the message names already: "").
CLI_NAMES = {
    "depends_on": "--after",
    "params.cwd": "--cwd",
    "params.env": "--env",
    "params.argv": "PROGRAM",
    "params.shell": "--shell",
    "run_at": "--at",
    "timeout": "--timeout",
    "priority": "--priority",
    "max_attempts": "--retries",
    "title": "--title",
    "ids": "",
}


def api_failure(exc: ApiError | AppUnreachable) -> CliError:
    """What to tell the user about a refused request (or an app that went away); the input
    it names is named as the user gave it (:data:`CLI_NAMES`)."""
    if isinstance(exc, AppUnreachable):
        return CliError(EXIT_UNREACHABLE, f"lost Jobdeck: {exc}")
    field = CLI_NAMES.get(exc.field, exc.field) if exc.field else exc.field
    where = f" ({field})" if field and field not in exc.message else ""
    status = EXIT_USAGE if exc.status in (400, 415, 422) else EXIT_FAILED
    return CliError(status, f"{exc.message}{where}")
