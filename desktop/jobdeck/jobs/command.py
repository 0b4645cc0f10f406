"""The built-in ``command`` job type: run an external program as a job.

Params (JSON form, as stored with the job)::

    {"argv": ["rsync", "-a", "src/", "dst/"], "cwd": "", "env": {}, "shell": false, "data": {}}

``argv`` is run directly, never through a shell, unless ``shell`` is true: then it must be
one command string, run by ``/bin/sh -c``. A string ``argv`` is accepted too: with ``shell``
it is the command, without it is split like a shell would (``shlex.split``). ``cwd`` empty
means the current directory; ``env`` is merged over the environment. ``data`` is any JSON
object, handed to the program as ``JOBDECK_JOB_DATA`` (see :mod:`jobdeck.worker`).

The Runner runs a command job as a process (see :mod:`jobdeck.runtime.runner`); this module
only describes the type and checks its params. :func:`failure_message` turns how a process
ended into the error a person reads.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobdeck.core.context import JobContext
from jobdeck.core.registry import JobType, ParamError, ParamKind, ParamSpec
from jobdeck.core.validation import check_json

__all__ = ["COMMAND", "COMMAND_TYPE_NAME", "CommandParams", "failure_message"]

COMMAND_TYPE_NAME = "command"

#: How many of the last output lines a failure message quotes.
FAILURE_TAIL_LINES = 10


class _OptionalPathSpec(ParamSpec):
    """A path parameter where ``""`` (or None) means "not given" (the current directory)."""

    def normalize(self, value: Any, field: str | None = None) -> Any:
        if value is None or value == "":
            return ""
        return super().normalize(value, field)

    def to_python(self, value: Any) -> Any:
        return value if value == "" else super().to_python(value)


class _JsonObjectSpec(ParamSpec):
    """A JSON object of any shape (the launcher edits it as string pairs)."""

    def normalize(self, value: Any, field: str | None = None) -> Any:
        where = field or self.name
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ParamError(where, f"expected a JSON object, got {type(value).__name__}")
        try:
            check_json(dict(value), where)
        except ValueError as exc:
            raise ParamError(where, str(exc)) from None
        return dict(value)

    def to_python(self, value: Any) -> Any:
        return dict(value)


class _ArgvSpec(ParamSpec):
    """A list of strings that must name a program: non-empty, first item non-empty."""

    def normalize(self, value: Any, field: str | None = None) -> Any:
        argv = super().normalize(value, field)
        where = field or self.name
        if not argv:
            raise ParamError(where, "is empty: give the program to run and its arguments")
        if not argv[0].strip():
            raise ParamError(f"{where}[0]", "the program to run is an empty string")
        for i, item in enumerate(argv):
            if "\0" in item:
                raise ParamError(f"{where}[{i}]", "contains a NUL character")
        return argv


COMMAND_PARAMS: tuple[ParamSpec, ...] = (
    _ArgvSpec(
        "argv",
        ParamKind.LIST,
        label="Command",
        help="The program and its arguments (with Shell: one command line).",
        item_kind=ParamKind.STR,
    ),
    _OptionalPathSpec(
        "cwd",
        ParamKind.PATH,
        label="Working directory",
        help="Where the program runs; empty means the current directory.",
        default="",
    ),
    ParamSpec(
        "env",
        ParamKind.MAPPING,
        label="Environment",
        help="Variables set for the program, on top of the current environment.",
        default={},
    ),
    ParamSpec(
        "shell",
        ParamKind.BOOL,
        label="Shell",
        help="Run the command line through /bin/sh (pipes, globs, &&).",
        default=False,
    ),
    _JsonObjectSpec(
        "data",
        ParamKind.MAPPING,
        label="Job data",
        help="Handed to the program as JSON in JOBDECK_JOB_DATA.",
        default={},
    ),
)


class _CommandType(JobType):
    """The command job type: per-field checks plus the ones that need two fields."""

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(params, Mapping) and isinstance(params.get("argv"), str):
            params = dict(params)
            shell = self.param("shell")
            assert shell is not None
            use_shell = shell.normalize(params.get("shell", False))
            try:
                params["argv"] = [params["argv"]] if use_shell else shlex.split(params["argv"])
            except ValueError as exc:  # unbalanced quotes
                raise ParamError("argv", f"cannot be split into arguments: {exc}") from None
        valid = super().validate(params)
        if valid["shell"] and len(valid["argv"]) != 1:
            raise ParamError(
                "argv", f"with shell=true give one command string, got {len(valid['argv'])} items"
            )
        return valid


def _run_outside_runner(ctx: JobContext, **params: Any) -> None:
    raise RuntimeError(
        "command jobs run as processes; queue them with tracker.enqueue('command', ...) "
        "and let a Runner start them"
    )


COMMAND: JobType = _CommandType(
    name=COMMAND_TYPE_NAME,
    title="Run a command",
    description="Run an external program; its output goes to the job's log file.",
    icon="terminal",
    params=COMMAND_PARAMS,
    retryable=True,  # only when the job asks for max_attempts > 1
    func=_run_outside_runner,
    is_async=False,
)


@dataclass(frozen=True, slots=True)
class CommandParams:
    """Validated command params, as the Runner starts them."""

    argv: tuple[str, ...]
    cwd: str | None
    env: dict[str, str]
    shell: bool
    data: dict[str, Any]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CommandParams:
        """Check ``params`` (raises ParamError naming the field) and convert them."""
        valid = COMMAND.validate(params)
        return cls(
            tuple(valid["argv"]),
            valid["cwd"] or None,
            dict(valid["env"]),
            valid["shell"],
            dict(valid["data"]),
        )


def failure_message(exit_code: int | None, signal_number: int | None, tail: Sequence[str]) -> str:
    """``exit status N`` (or ``killed by signal SIGKILL (9)``) and the last output lines."""
    if signal_number is not None:
        try:
            name = signal.Signals(signal_number).name
        except ValueError:
            name = "an unknown signal"
        head = f"killed by signal {name} ({signal_number})"
    else:
        head = f"exit status {exit_code}"
    lines = list(tail)[-FAILURE_TAIL_LINES:]
    if not lines:
        return f"{head} (no output)"
    return head + "; last output:\n" + "\n".join(lines)
