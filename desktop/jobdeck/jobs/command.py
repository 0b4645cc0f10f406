"""The built-in ``command`` job type: run an external program as a job.

Params (JSON form, as stored with the job)::

    {"argv": ["rsync", "-a", "src/", "dst/"], "cwd": "", "env": {}, "shell": false, "data": {}}

``argv`` is run directly, never through a shell, unless ``shell`` is true: then it must be
one command string, run by ``/bin/sh -c``. A string ``argv`` is accepted too: with ``shell``
it is the command, without it is split like a shell would (``shlex.split``). ``cwd`` must
be an existing folder when the job is queued; empty means the user's home folder (never the
app's own working directory). ``env`` is merged over the environment. ``data`` is any JSON
object, handed to the program as ``JOBDECK_JOB_DATA`` (see :mod:`jobdeck.worker`).

A command job queued without a title is titled by its command line (:func:`command_title`).

``command`` is an ordinary process job type (``JobKind.PROCESS``): the app registers it
(:func:`jobdeck.jobs.register_builtin_jobs`) like the other built-ins, and its function
turns the params into the :class:`~jobdeck.core.process_spec.ProcessSpec` the runtime
starts. The spec's own checks (argv, NUL characters, environment names) run when the job
is queued, so a job that cannot start is refused then, naming the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jobdeck.core.registry import Exists, JobKind, JobType, ParamError, ParamKind, ParamSpec
from jobdeck.core.validation import check_json
from jobdeck.i18n import QT_TRANSLATE_NOOP

if TYPE_CHECKING:
    from jobdeck.core.job import Job
    from jobdeck.core.process_spec import ProcessSpec

__all__ = ["COMMAND", "COMMAND_TYPE_NAME", "command_spec", "command_title"]

COMMAND_TYPE_NAME = "command"

COMMAND_TITLE = QT_TRANSLATE_NOOP("JobType", "Run a command")

#: The longest title :func:`command_title` makes (characters, the ellipsis included).
TITLE_CHARS = 60


class _OptionalPathSpec(ParamSpec):
    """A path parameter where ``""`` (or None) means "not given" (the home folder)."""

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
    """A list of strings that must not be empty (a required command); what a program's
    argv must be beyond that is :class:`ProcessSpec`'s to check."""

    def normalize(self, value: Any, field: str | None = None) -> Any:
        argv = super().normalize(value, field)
        if not argv:
            raise ParamError(field or self.name, self.missing)
        return argv


COMMAND_PARAMS: tuple[ParamSpec, ...] = (
    _ArgvSpec(
        "argv",
        ParamKind.LIST,
        label=QT_TRANSLATE_NOOP("JobType", "Command"),
        help=QT_TRANSLATE_NOOP(
            "JobType", "The program and its arguments (with Shell: one command line)."
        ),
        item_kind=ParamKind.STR,
        missing="Enter a command",
    ),
    _OptionalPathSpec(
        "cwd",
        ParamKind.PATH,
        label=QT_TRANSLATE_NOOP("JobType", "Working directory"),
        help=QT_TRANSLATE_NOOP("JobType", "Where the program runs; empty: your home folder."),
        default="",
        exists=Exists.DIR,
    ),
    ParamSpec(
        "env",
        ParamKind.MAPPING,
        label=QT_TRANSLATE_NOOP("JobType", "Environment"),
        help=QT_TRANSLATE_NOOP(
            "JobType", "Variables set for the program, on top of the current environment."
        ),
        default={},
    ),
    ParamSpec(
        "shell",
        ParamKind.BOOL,
        label=QT_TRANSLATE_NOOP("JobType", "Shell"),
        help=QT_TRANSLATE_NOOP(
            "JobType", "Run the command line through /bin/sh (pipes, globs, &&)."
        ),
        default=False,
    ),
    _JsonObjectSpec(
        "data",
        ParamKind.MAPPING,
        label=QT_TRANSLATE_NOOP("JobType", "Job data"),
        help=QT_TRANSLATE_NOOP("JobType", "Handed to the program as JSON in JOBDECK_JOB_DATA."),
        default={},
    ),
)


class _CommandType(JobType):
    """The command job type: per-field checks, then the spec's (argv, shell, env names)."""

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(params, Mapping) and isinstance(params.get("argv"), str):
            params = dict(params)
            shell = self.param("shell")
            assert shell is not None
            use_shell = shell.normalize(params.get("shell", False))
            try:
                params["argv"] = [params["argv"]] if use_shell else _split(params["argv"])
            except ValueError as exc:  # unbalanced quotes
                raise ParamError("argv", f"cannot be split into arguments: {exc}") from None
        valid = super().validate(params)
        _spec_of(valid)  # raises ParamError naming the field (argv[1], env['A=B'])
        return valid

    def key_values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``argv``, ``cwd`` and ``shell`` in one form, so that the same command in the same
        folder has one key however it was queued (the launch form leaves the folder empty
        for the home folder and the program as typed; ``jobdeck run`` gives the terminal's
        folder and the program's path on its ``PATH``):

        * the folder: empty means the home folder, ``~`` is expanded, and the path is
          normalized (``/src/app/`` is ``/src/app``); links are not resolved;
        * the program by its file name (``/usr/bin/make`` is ``make``): the same program
          and arguments in the same folder do the same work;
        * a shell command line that uses nothing of the shell (only words of letters,
          digits and ``_ . / , : = + @ % -``, no variable assignment first) is the command
          its words make, run without a shell; ``shell`` counts only when true.
        """
        argv = params.get("argv")
        shell = params.get("shell") is True
        if isinstance(argv, str):
            argv = [argv] if shell else argv.split()
        if isinstance(argv, list | tuple):
            argv = list(argv)
            if shell and len(argv) == 1 and _plain_command_line(argv[0]):
                argv, shell = argv[0].split(), False
            if not shell and argv and isinstance(argv[0], str):
                argv[0] = os.path.basename(argv[0]) or argv[0]
        cwd = params.get("cwd") or "~"
        if isinstance(cwd, str):
            cwd = os.path.normpath(os.path.expanduser(cwd))
        values: dict[str, Any] = {"argv": argv, "cwd": cwd}
        if shell:
            values["shell"] = True
        return values

    def default_title(self, params: Mapping[str, Any]) -> str:
        return command_title(params["argv"], shell=bool(params.get("shell")))

    def process_spec(self, job: Job) -> ProcessSpec:
        """The spec of ``job``'s params, made once for params seen before (a queue of the
        same command: their form was checked when they were first made into a spec, when
        the first of them was queued); the folder named is looked at again every time. Do
        not modify the result."""
        spec = _SPECS.get(_key(job.params) or "")
        if spec is None:
            return super().process_spec(job)
        for param in self.params:  # (the params are as validated: their key says so)
            param.check_exists(job.params[param.name])
        return spec


_PLAIN_WORDS = re.compile(r"[\w./,:=+@%-]+(?:[ \t]+[\w./,:=+@%-]+)*")


def _split(line: str) -> list[str]:
    """``line`` split as a shell would (:func:`shlex.split`, imported when first used: the
    first window does not wait for it)."""
    import shlex

    return shlex.split(line)


def _plain_command_line(line: object) -> bool:
    """Whether a shell would run ``line`` as its words split at blanks: no quoting,
    expansion, redirection or operator, and no ``NAME=value`` before the program."""
    if not isinstance(line, str):
        return False
    words = line.split()
    return (
        bool(words) and _PLAIN_WORDS.fullmatch(line.strip()) is not None and ("=" not in words[0])
    )


#: The specs made of validated params seen before: :func:`_key` -> spec.
_SPECS: dict[str, ProcessSpec] = {}
_MAX_SPECS = 64


def _key(valid: Mapping[str, Any]) -> str | None:
    """What the spec of validated params depends on, as one string (None: unusable)."""
    import json  # (when a job starts: the first window does not import it)

    try:
        return json.dumps([valid, os.environ.get("HOME")], sort_keys=True)
    except (TypeError, ValueError):
        return None


def _spec_of(valid: Mapping[str, Any]) -> ProcessSpec:
    """``command_spec(valid)``, made once for the same params (see :data:`_SPECS`)."""
    key = _key(valid)
    spec = None if key is None else _SPECS.get(key)
    if spec is None:
        spec = command_spec(valid)
        if key is not None:
            if len(_SPECS) >= _MAX_SPECS:
                _SPECS.clear()
            _SPECS[key] = spec
    return spec


def command_title(argv: Sequence[str], *, shell: bool = False) -> str:
    """A job title from a command line: ``rsync -a src/ dst/``.

    The program is shown by its name (``/usr/bin/python3`` -> ``python3``), arguments are
    quoted as a shell would (with ``shell``, the command string is shown as given), runs of
    whitespace (newlines in ``-c`` code) become one space, and a long line is cut at a word
    boundary with an ellipsis, to at most :data:`TITLE_CHARS` characters.
    """
    if not argv:
        return COMMAND_TITLE
    if shell:
        text = argv[0]
    else:
        program = os.path.basename(argv[0]) or argv[0]
        text = " ".join(_quote(arg) for arg in [program, *argv[1:]])
    text = " ".join(text.split())
    if len(text) <= TITLE_CHARS:
        return text or COMMAND_TITLE
    cut = text[: TITLE_CHARS - 1]
    space = cut.rfind(" ")
    if space >= TITLE_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def _quote(arg: str) -> str:
    """``arg`` quoted as a shell would read it, the way a person types it: in double quotes
    when it holds single quotes and nothing special inside double quotes (``print('hi')``
    -> ``"print('hi')"``, not ``'print('"'"'hi'"'"')'``), else as :func:`shlex.quote` does."""
    if "'" in arg and not any(c in arg for c in '"\\$`!'):
        return f'"{arg}"'
    import shlex  # (when a title is made: not at the app's start)

    return shlex.quote(arg)


def command_spec(params: Mapping[str, Any]) -> ProcessSpec:
    """The program a command job with (validated) ``params`` runs: ``cwd`` with ``~``
    expanded, the home folder when none was given. Raises ParamError naming the field."""
    from jobdeck.core.process_spec import ProcessSpec  # (when a job starts, not at import)

    cwd = os.fspath(params.get("cwd") or "")
    return ProcessSpec(
        tuple(params["argv"]),
        cwd=os.path.expanduser(cwd or "~"),
        env=dict(params.get("env") or {}),
        shell=bool(params.get("shell", False)),
        data=dict(params.get("data") or {}),
    )


def _run_command(job: Job, **params: Any) -> ProcessSpec:
    return command_spec(params)


COMMAND: JobType = _CommandType(
    name=COMMAND_TYPE_NAME,
    title=COMMAND_TITLE,
    description=QT_TRANSLATE_NOOP(
        "JobType", "Run an external program; its output goes to the job's log file."
    ),
    icon="terminal",
    params=COMMAND_PARAMS,
    retryable=True,  # only when the job asks for max_attempts > 1
    func=_run_command,
    kind=JobKind.PROCESS,
    key_params=("argv", "cwd", "shell"),  # the same program on the same input
)
