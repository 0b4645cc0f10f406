"""What a process job runs: :class:`ProcessSpec`, built by a process job type from its params.

A process job type's function (``kind=JobKind.PROCESS``) returns one; the runtime starts the
program it describes. Constructing a spec checks everything about its *shape* — argv is a
non-empty list of strings naming a program, no NUL anywhere, environment names a process
can take, one command string with ``shell`` — raising :class:`~jobdeck.core.params.ParamError`
(a ValueError naming the field, ``argv[2]`` or ``env['A=B']``). What depends on the machine
(does the program exist, is the folder there) is checked by the runtime just before start.
No Qt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .params import ParamError
from .validation import check_json

__all__ = ["ProcessFacts", "ProcessSpec"]


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """A program to run as a job.

    ``argv`` is executed directly, never through a shell, unless ``shell`` is true: then it
    is one command string run by ``/bin/sh -c``. ``cwd`` is its working directory (None: the
    app's). ``env`` is merged over the app's environment. ``data`` (any JSON object) is
    handed to the program as ``JOBDECK_JOB_DATA``.
    """

    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    shell: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "argv", _argv(self.argv, self.shell))
        if self.cwd is not None:
            if not isinstance(self.cwd, str | os.PathLike):
                raise ParamError("cwd", f"expected a folder, got {_show(self.cwd)}")
            cwd = os.fspath(self.cwd)
            if not isinstance(cwd, str) or "\0" in cwd:
                raise ParamError("cwd", f"is not a usable folder name: {_show(cwd)}")
            put(self, "cwd", cwd or None)
        put(self, "env", _env(self.env))
        if not isinstance(self.shell, bool):
            raise ParamError("shell", f"expected true or false, got {_show(self.shell)}")
        if not isinstance(self.data, Mapping):
            raise ParamError("data", f"expected a JSON object, got {type(self.data).__name__}")
        data = dict(self.data)
        check_json(data, "data")
        put(self, "data", data)

    @classmethod
    def coerce(cls, value: ProcessSpec | Mapping[str, Any]) -> ProcessSpec:
        """``value`` as a spec: a spec as is, or a mapping of its fields (``argv``, ``cwd``,
        ``env``, ``shell``, ``data``). Raises ValueError naming what is wrong."""
        if isinstance(value, ProcessSpec):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(
                f"a process job type must return a ProcessSpec, got {type(value).__name__}"
            )
        known = {"argv", "cwd", "env", "shell", "data"}
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise ValueError(f"unknown process spec field(s): {', '.join(unknown)}")
        if "argv" not in value:
            raise ParamError("argv", "is missing: nothing to run")
        return cls(**value)

    @property
    def program(self) -> str:
        """The program to run (the shell for a shell command)."""
        return "/bin/sh" if self.shell else self.argv[0]


def _argv(argv: Sequence[str] | str, shell: bool) -> tuple[str, ...]:
    if shell:
        if isinstance(argv, str):
            items: list[Any] = [argv]
        elif isinstance(argv, Sequence) and not isinstance(argv, bytes) and len(argv) == 1:
            items = list(argv)
        else:
            got = f"{len(argv)} items" if isinstance(argv, Sequence) else _show(argv)
            raise ParamError(
                "argv", f"shell=True needs one command string (or a one-element list), got {got}"
            )
        if not isinstance(items[0], str):
            raise ParamError("argv[0]", f"must be a string, got {type(items[0]).__name__}")
        if not items[0].strip():
            raise ParamError("argv", "the shell command is empty: nothing to run")
    else:
        if isinstance(argv, str | bytes):
            raise ParamError(
                "argv",
                f"must be a list of arguments, got the string {argv!r}; split it into "
                "arguments, or pass shell=True to run it through /bin/sh",
            )
        if not isinstance(argv, Sequence):
            raise ParamError("argv", f"must be a list of arguments, got {_show(argv)}")
        items = list(argv)
        if not items:
            raise ParamError("argv", "is empty: nothing to run")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ParamError(
                f"argv[{index}]", f"must be a string, got {type(item).__name__} {_show(item)}"
            )
        if "\0" in item:
            raise ParamError(f"argv[{index}]", "contains a NUL character")
    if not shell and not items[0].strip():
        raise ParamError("argv[0]", "the program to run is an empty string")
    return tuple(items)


def _env(env: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(env, Mapping):
        raise ParamError("env", f"expected a mapping of names to values, got {_show(env)}")
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str):
            raise ParamError("env", f"variable names must be strings, got {_show(key)}")
        if not key or "=" in key or "\0" in key:
            why = "is empty" if not key else "contains '='" if "=" in key else "contains NUL"
            raise ParamError(f"env[{key!r}]", f"is not a usable variable name: it {why}")
        if not isinstance(value, str):
            raise ParamError(
                f"env[{key!r}]", f"must be a string, got {type(value).__name__} {_show(value)}"
            )
        if "\0" in value:
            raise ParamError(f"env[{key!r}]", "contains a NUL character")
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """What is known of a process job's program when its end is recorded, written in the
    same commit as the end (see :meth:`~jobdeck.core.tracker.JobTracker.complete_job`):
    its ``pid`` and ``log_path`` when they were not written while it ran (a short program
    ends before that is worth a write of its own) and its resource use, ``peak_rss``
    (bytes) and ``cpu_seconds``. None: not known, nothing written. ``no_output``: the
    program wrote nothing, so it has no log file (its ``log_path`` is cleared: a stored
    path is a file that was written, and a missing one was deleted).
    """

    pid: int | None = None
    log_path: str | None = None
    no_output: bool = False
    peak_rss: int | None = None
    cpu_seconds: float | None = None
