"""Exit statuses of the ``jobdeck`` command, and the error that carries one."""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CliError",
]

EXIT_OK = 0
#: A job failed or was cancelled, or what was asked could not be done.
EXIT_FAILED = 1
#: Bad arguments, or input the app refused.
EXIT_USAGE = 2
#: The app cannot be reached (and could not be started).
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Stop the command: print ``jobdeck: <message>`` on stderr and exit with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
