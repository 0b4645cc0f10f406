"""Built-in job types that are useful on a desktop; each reports real progress and honours cancel.

The app registers them (:func:`register_builtin_jobs`) like an embedder registers its own:
``command`` and ``python`` are process job types (they build the program to run), the rest
run Python code. Nothing below the app imports this package.
"""

from __future__ import annotations

from jobdeck.core.registry import JobKind, JobRegistry
from jobdeck.i18n import QT_TRANSLATE_NOOP

from .archive import compress_folder
from .checksum import checksum_folder
from .command import COMMAND
from .countdown import countdown
from .files import copy_files
from .python_script import python_script

__all__ = ["COMMAND", "builtin_registry", "register_builtin_jobs"]


def register_builtin_jobs(registry: JobRegistry) -> JobRegistry:
    """Add the built-in job types (command, python, copy, checksum, compress, countdown)."""
    if registry.get(COMMAND.name) is not COMMAND:
        registry.add(COMMAND)
    registry.register(
        "python",
        python_script,
        title=QT_TRANSLATE_NOOP("JobType", "Run a Python script"),
        icon="python",
        kind=JobKind.PROCESS,
    )
    registry.register(
        "copy", copy_files, title=QT_TRANSLATE_NOOP("JobType", "Copy files"), icon="copy"
    )
    registry.register(
        "checksum",
        checksum_folder,
        title=QT_TRANSLATE_NOOP("JobType", "Checksum a folder"),
        icon="hash",
    )
    registry.register(
        "compress",
        compress_folder,
        title=QT_TRANSLATE_NOOP("JobType", "Compress a folder"),
        icon="archive",
    )
    registry.register(
        "countdown", countdown, title=QT_TRANSLATE_NOOP("JobType", "Wait / countdown"), icon="timer"
    )
    return registry


def builtin_registry() -> JobRegistry:
    """A new registry holding the built-in job types."""
    return register_builtin_jobs(JobRegistry())
