"""The ``jobdeck`` command: the desktop app, ``jobdeck serve``, and the terminal commands.

The terminal commands are clients of the running app's API (:mod:`jobdeck.api.client`,
standard library only: no Qt is imported, so they start fast). Commands that change or
wait for jobs start the app (in the tray, or ``serve`` without a display) when none runs;
read-only ones (``ls``, ``show``, ``logs``) read the store directly instead.

Exit statuses (also in ``jobdeck --help``):

* 0 -- done;
* 1 -- a job failed or was cancelled (``run --wait``, ``wait``: a program's own exit status
  when it has one), or what was asked could not be done (unknown id, store trouble);
* 2 -- usage: bad arguments, or input the app refused (the message names the field);
* 3 -- the app cannot be reached (and could not be started);
* 130 -- interrupted (Ctrl+C).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .desktop_args import read_desktop_args
from .errors import EXIT_INTERRUPTED, EXIT_OK, CliError

__all__ = ["SUPERVISE", "main"]

#: The hidden sub-command that runs a store's supervisor service
#: (:mod:`jobdeck.runtime.supervisor_service`); a frozen bundle re-invokes itself with it.
SUPERVISE = "_supervise"


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == [SUPERVISE]:  # hidden: how a frozen bundle runs its supervisor service
        from jobdeck.runtime.supervisor import main as supervise

        return supervise(raw[1:])
    # (the desktop app's usual options are read without building argparse's parser)
    args: Any = read_desktop_args(raw)
    if args is None:
        from .parser import build_parser

        args = build_parser(raw).parse_args(raw)
    if args.verbose or args.command in (None, "serve"):  # the client itself logs nothing
        import logging

        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        if args.command is None:
            return _gui(args)
        status: int = args.handler(args)
        return status
    except CliError as exc:
        if exc.message:
            print(f"jobdeck: {exc.message}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `jobdeck ls | head`
        sys.stderr.close()
        return EXIT_OK


def _gui(args: object) -> int:
    import functools

    from .before_qt import import_before_qt, import_qt, import_store

    # What can come before PySide6; the store (peewee) once the window is painted, before
    # anything else imports it.
    import_before_qt()
    import_qt()
    from jobdeck.core.store_errors import StoreError

    try:
        from jobdeck.app import run_app

        return run_app(
            args.db,  # type: ignore[attr-defined]
            demo=args.demo,  # type: ignore[attr-defined]
            tray=args.tray,  # type: ignore[attr-defined]
            listen=args.listen,  # type: ignore[attr-defined]
            listen_host=args.listen_address,  # type: ignore[attr-defined]
            dask=args.dask,  # type: ignore[attr-defined]
            before_store=functools.partial(import_store, getattr(args, "db", None)),
        )
    except StoreError as exc:
        raise CliError(1, str(exc)) from None
    finally:
        from jobdeck.runtime.tuning import resume_gc

        resume_gc()  # (import_before_qt paused it; the app resumes it once it is painted)
