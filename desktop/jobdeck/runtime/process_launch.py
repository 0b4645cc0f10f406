"""What can be checked about a process job's program on this machine before it starts.

:func:`prepare_command` turns a :class:`~jobdeck.core.process_spec.ProcessSpec` (whose shape
is checked when it is made) into exactly what will be executed, raising
:class:`ProcessStartError` with a message a person can act on (missing executable, bad
working directory, not executable) before anything runs. ``argv`` is executed directly,
never through a shell, unless the spec says ``shell``. Running, watching and stopping the
program is
:mod:`jobdeck.runtime.program_watcher`'s job; its process tree is a
:class:`~jobdeck.runtime.process_tree.ProcessTree`.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass

from jobdeck.core.process_spec import ProcessSpec

from .user_environment import user_environment

__all__ = ["PreparedCommand", "ProcessStartError", "prepare_command"]

_SHELL = "/bin/sh"


class ProcessStartError(Exception):
    """The process could not be started; the message says why, in words a person can act on."""


@dataclass(frozen=True)
class PreparedCommand:
    """A checked command: the argv actually executed, its working directory, its full
    environment (``os.environ`` with the job's variables merged over it)."""

    argv: tuple[str, ...]
    cwd: str | None
    env: dict[str, str]


def prepare_command(spec: ProcessSpec) -> PreparedCommand:
    """Check what can only be checked on this machine and return what to execute.

    ``spec`` is already well formed (:class:`~jobdeck.core.process_spec.ProcessSpec`
    checks its shape). A shell command becomes ``/bin/sh -c COMMAND``; the environment is
    ``os.environ`` with ``spec.env`` merged over it. Raises :class:`ProcessStartError` for
    a working directory or a program that is not there or not usable.
    """
    command = [_SHELL, "-c", spec.argv[0]] if spec.shell else list(spec.argv)
    merged_env = {**user_environment(), **spec.env}
    _check_cwd(spec.cwd)
    if not spec.shell:
        _check_executable(command[0], spec.cwd, merged_env)
    return PreparedCommand(tuple(command), spec.cwd, merged_env)


def _mode(path: str | os.PathLike[str]) -> int | None:
    """The mode of ``path`` (followed), or None where ``Path.exists`` says it is not there
    (one ``stat`` for what took three)."""
    try:
        return os.stat(path).st_mode
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return None
        raise
    except ValueError:  # a NUL in it
        return None


def _check_cwd(cwd: str | os.PathLike[str] | None) -> None:
    if cwd is None:
        return
    mode = _mode(cwd)
    if mode is None:
        raise ProcessStartError(f"working directory does not exist: {os.fspath(cwd)}")
    if not stat.S_ISDIR(mode):
        raise ProcessStartError(f"working directory is not a directory: {os.fspath(cwd)}")
    if not os.access(cwd, os.X_OK):
        raise ProcessStartError(
            f"permission denied: cannot enter working directory {os.fspath(cwd)}"
        )


def _check_executable(
    program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> None:
    if os.sep in program:
        # A path: relative ones are resolved in the child's working directory.
        path = program if cwd is None else os.path.join(os.fspath(cwd), program)
        where = "" if os.path.isabs(program) or cwd is None else f" (in {os.fspath(cwd)})"
        mode = _mode(path)
        if mode is None:
            raise ProcessStartError(f"executable not found: {program!r}{where}")
        if stat.S_ISDIR(mode):
            raise ProcessStartError(f"not an executable: {program!r} is a directory{where}")
        if not os.access(path, os.X_OK):
            raise ProcessStartError(f"permission denied: {program!r} is not executable{where}")
        return
    directories = os.get_exec_path(dict(env))
    if cwd is not None:  # relative PATH entries are relative to the child's cwd
        directories = [os.path.join(os.fspath(cwd), d) for d in directories]
    if shutil.which(program, path=os.pathsep.join(directories)) is None:
        raise ProcessStartError(f"executable not found: {program!r} (searched PATH)")
