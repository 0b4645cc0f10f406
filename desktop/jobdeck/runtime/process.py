"""Everything about an external program that can be checked before it is started.

:func:`prepare_command` turns a command job's argv, working directory, environment and
``shell`` flag into exactly what will be executed, raising :class:`ProcessStartError` with
a message a person can act on (missing executable, bad working directory, not executable,
malformed argv) before anything runs. ``argv`` is executed directly, never through a shell,
unless ``shell=True``. Running, watching and stopping the program is
:mod:`jobdeck.runtime.supervised`'s job; its process tree is a
:class:`~jobdeck.runtime.process_tree.ProcessTree`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def prepare_command(
    argv: Sequence[str] | str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
) -> PreparedCommand:
    """Check everything that can be checked and return what to execute.

    ``argv`` is executed directly, never through a shell, unless ``shell=True``: then it must
    be one command string (or a one-element list) run by ``/bin/sh -c``. ``env`` is merged
    over ``os.environ``. Raises :class:`ProcessStartError`.
    """
    command = _command_line(argv, shell)
    merged_env = _merged_env(env)
    _check_cwd(cwd)
    if not shell:
        _check_executable(command[0], cwd, merged_env)
    return PreparedCommand(tuple(command), None if cwd is None else os.fspath(cwd), merged_env)


def _command_line(argv: Sequence[str] | str, shell: bool) -> list[str]:
    """The argv actually executed, after checking its shape."""
    if shell:
        if isinstance(argv, str):
            command = argv
        elif not isinstance(argv, bytes) and len(argv) == 1 and isinstance(argv[0], str):
            command = argv[0]
        else:
            raise ProcessStartError(
                "shell=True needs one command string (or a one-element list), "
                f"got {type(argv).__name__} {argv!r}"
            )
        if not command.strip():
            raise ProcessStartError("the shell command is empty: nothing to run")
        if "\0" in command:
            raise ProcessStartError("the shell command contains a NUL character")
        return [_SHELL, "-c", command]
    if isinstance(argv, str | bytes):
        raise ProcessStartError(
            f"argv must be a list of arguments, got the string {argv!r}; "
            "split it into arguments, or pass shell=True to run it through /bin/sh"
        )
    items = list(argv)
    if not items:
        raise ProcessStartError("argv is empty: nothing to run")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ProcessStartError(
                f"argv[{index}] must be a string, got {type(item).__name__} {item!r}"
            )
        if "\0" in item:
            raise ProcessStartError(f"argv[{index}] contains a NUL character: {item!r}")
    if not items[0]:
        raise ProcessStartError("argv[0] (the program to run) is an empty string")
    return items


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise ProcessStartError(f"invalid environment variable name: {key!r}")
        if not isinstance(value, str):
            raise ProcessStartError(
                f"environment variable {key} must be a string, got {type(value).__name__} {value!r}"
            )
        if "\0" in value:
            raise ProcessStartError(f"environment variable {key} contains a NUL character")
        merged[key] = value
    return merged


def _check_cwd(cwd: str | os.PathLike[str] | None) -> None:
    if cwd is None:
        return
    path = Path(cwd)
    if not path.exists():
        raise ProcessStartError(f"working directory does not exist: {os.fspath(cwd)}")
    if not path.is_dir():
        raise ProcessStartError(f"working directory is not a directory: {os.fspath(cwd)}")
    if not os.access(path, os.X_OK):
        raise ProcessStartError(f"permission denied: cannot enter working directory {path}")


def _check_executable(
    program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> None:
    if os.sep in program:
        # A path: relative ones are resolved in the child's working directory.
        path = Path(program) if cwd is None else Path(cwd) / program
        where = "" if os.path.isabs(program) or cwd is None else f" (in {os.fspath(cwd)})"
        if not path.exists():
            raise ProcessStartError(f"executable not found: {program!r}{where}")
        if path.is_dir():
            raise ProcessStartError(f"not an executable: {program!r} is a directory{where}")
        if not os.access(path, os.X_OK):
            raise ProcessStartError(f"permission denied: {program!r} is not executable{where}")
        return
    directories = os.get_exec_path(dict(env))
    if cwd is not None:  # relative PATH entries are relative to the child's cwd
        directories = [os.path.join(os.fspath(cwd), d) for d in directories]
    if shutil.which(program, path=os.pathsep.join(directories)) is None:
        raise ProcessStartError(f"executable not found: {program!r} (searched PATH)")
