"""Job types: a name, a title, an icon, a kind, a parameter schema and what runs.

A job type is usually a decorated function; its parameter schema comes from the signature
(see :mod:`.params`)::

    registry = JobRegistry()

    @registry.job_type("fetch", title="Fetch pages")
    async def fetch(ctx, urls: list[str], limit: Annotated[int, Param(min=1, max=32)] = 4): ...

Every job type has a :class:`JobKind`: a *callable* ``def work(ctx, **params)`` runs on a
worker thread, a *coroutine* ``async def work(ctx, **params)`` on the event loop, and a
*process* job type's ``def build(job, **params) -> ProcessSpec`` says which program to run
(``command`` and ``python`` are such types, registered by the app like any other). The
tracker is created with the registry: it validates params when a job is queued, and asks
the job types which interrupted jobs may be retried (:func:`retry_allowed`) and which jobs
left running can be re-attached (:func:`reattachable`). No Qt.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from .job_key import job_key
from .job_status import JobStatus
from .params import (
    REQUIRED,
    Exists,
    Param,
    ParamError,
    ParamKind,
    ParamSpec,
    _first_paragraph,
    _humanize,
    _show,
    params_from_signature,
)
from .validation import check_timeout_factor

if TYPE_CHECKING:
    from .job import Job
    from .process_spec import ProcessSpec

__all__ = [
    "REQUIRED",
    "Exists",
    "JobKind",
    "JobRegistry",
    "JobType",
    "Param",
    "ParamError",
    "ParamKind",
    "ParamSpec",
    "ProcessSpec",
    "reattachable",
    "retry_allowed",
]

F = TypeVar("F", bound=Callable[..., Any])


class JobKind(StrEnum):
    """How a job type's work runs."""

    #: ``func(ctx, **params)`` on a worker thread (within the runtime's ``max_threads``).
    CALLABLE = "callable"
    #: ``async func(ctx, **params)`` on the event loop.
    COROUTINE = "coroutine"
    #: ``func(job, **params) -> ProcessSpec``: a program, run under a supervisor.
    PROCESS = "process"


@dataclass(frozen=True)
class JobType:
    """A kind of job the user can launch: how it looks in the UI, its schema, what runs.

    ``func`` is called with the validated params as keyword arguments (Python values, see
    :meth:`to_kwargs`) after the job's context (callables and coroutines) or the job itself
    (a process job type, whose ``func`` returns the :class:`ProcessSpec` to run; see
    :meth:`process_spec`). ``retryable``: a failed attempt goes back to the queue while the
    job has attempts left (``max_attempts``); the only source of that decision.
    ``key_params``: the params that say *which* work a job does (a command's ``argv``, not
    its environment); with the type's name they make the job's key, under which past runs
    are compared (:func:`~jobdeck.core.job_key.job_key`). None: all params.
    ``stall_after``: seconds without progress or output after which a running job of this
    type is shown as stalled (None: the app's setting, see :mod:`.stall`).
    ``timeout_factor``: a running job of this type fails after that many times the usual
    (median) duration of its key's recent successful runs (a job's own
    ``enqueue(timeout_factor=...)`` wins; no earlier run: only the absolute timeout counts).
    ``executor``: where a callable job type prefers to run, by name (``"dask"``: on a Dask
    cluster when the app has one configured, else on a local thread as usual); None: here.
    """

    name: str
    title: str
    description: str
    icon: str
    params: tuple[ParamSpec, ...]
    retryable: bool
    func: Callable[..., Any]
    kind: JobKind = JobKind.CALLABLE
    key_params: tuple[str, ...] | None = None
    stall_after: float | None = None
    executor: str | None = None
    timeout_factor: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name.split() != [self.name]:
            raise ValueError(f"job type name must be a non-empty word, got {self.name!r}")
        if not callable(self.func):
            raise ValueError(f"job type {self.name!r}: func must be callable, got {self.func!r}")
        object.__setattr__(self, "kind", _kind(self.name, self.kind))
        is_coroutine = inspect.iscoroutinefunction(self.func)
        if is_coroutine != (self.kind is JobKind.COROUTINE):
            shape = "an async def" if is_coroutine else "a plain function"
            raise ValueError(f"job type {self.name!r}: {shape} cannot be a {self.kind} job type")
        _check_executor(self.name, self.kind, self.executor)
        if self.timeout_factor is not None:
            object.__setattr__(
                self,
                "timeout_factor",
                check_timeout_factor(
                    f"job type {self.name!r}: timeout_factor", self.timeout_factor
                ),
            )
        object.__setattr__(self, "params", tuple(self.params))
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"job type {self.name!r} has duplicate parameter names: {names}")

    @classmethod
    def from_function(
        cls,
        name: str,
        func: Callable[..., Any],
        *,
        title: str | None = None,
        description: str | None = None,
        icon: str = "job",
        retryable: bool = False,
        kind: JobKind | str | None = None,
        key_params: tuple[str, ...] | None = None,
        executor: str | None = None,
    ) -> JobType:
        """A job type whose schema comes from ``func``'s signature (see :mod:`.params`).

        ``kind`` defaults to COROUTINE for an ``async def``, else CALLABLE; a process job
        type says ``kind=JobKind.PROCESS``."""
        if kind is None:
            kind = JobKind.COROUTINE if inspect.iscoroutinefunction(func) else JobKind.CALLABLE
        return cls(
            name=name,
            title=title or _humanize(name.replace("-", "_")),
            description=_first_paragraph(func) if description is None else description,
            icon=icon,
            params=params_from_signature(func),
            retryable=retryable,
            func=func,
            kind=_kind(name, kind),
            key_params=key_params,
            executor=executor,
        )

    @property
    def is_async(self) -> bool:
        """True for a coroutine job type (run on the event loop)."""
        return self.kind is JobKind.COROUTINE

    def param(self, name: str) -> ParamSpec | None:
        """The spec of parameter ``name``, or None."""
        return next((p for p in self.params if p.name == name), None)

    def key_values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params of a job that make its key: those of ``key_params`` (all without
        them). A type whose params can say the same work in several ways writes them in
        one form here (see :mod:`~jobdeck.core.job_key`)."""
        if self.key_params is None:
            return dict(params)
        wanted = set(self.key_params)
        return {name: value for name, value in params.items() if name in wanted}

    def key(self, params: Mapping[str, Any]) -> str:
        """The key of a job of this type with ``params`` (:func:`~.job_key.job_key` of
        :meth:`key_values`): runs with the same key are compared."""
        return job_key(self.name, self.key_values(params))

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked and in JSON form, in schema order, with defaults filled in.

        Raises :class:`ParamError` (a ValueError) naming the field that is wrong: a missing
        required one (its ``missing`` message), a bad value, or a path that must exist
        and does not.
        """
        if not isinstance(params, Mapping):
            raise ValueError(f"{self.name}: params must be a mapping, got {_show(params)}")
        known = {p.name for p in self.params}
        for key in params:
            if key not in known:
                names = ", ".join(p.name for p in self.params) or "none"
                raise ParamError(str(key), f"unknown parameter of {self.name} (known: {names})")
        result: dict[str, Any] = {}
        for spec in self.params:
            if spec.name in params:
                result[spec.name] = spec.normalize(params[spec.name])
            elif spec.required:
                raise ParamError(spec.name, spec.missing)
            else:
                result[spec.name] = spec.default_value()
        for spec in self.params:
            spec.check_exists(result[spec.name])
        return result

    def default_title(self, params: Mapping[str, Any]) -> str:
        """The title of a job queued without one, from its validated ``params``: the type's
        title unless a job type says better (a command job: its command line)."""
        return self.title

    def to_kwargs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``func``: ``params`` validated, then as Python values."""
        valid = self.validate(params)
        return {spec.name: spec.to_python(valid[spec.name]) for spec in self.params}

    def process_spec(self, job: Job) -> ProcessSpec:
        """What a process job type runs for ``job``: ``func(job, **params)``, checked.

        Raises ValueError (naming the field) for params or a spec that are not valid."""
        if self.kind is not JobKind.PROCESS:
            raise TypeError(f"job type {self.name!r} is a {self.kind} job type, not a process")
        from .process_spec import ProcessSpec

        return ProcessSpec.coerce(self.func(job, **self.to_kwargs(job.params)))


#: The executors a job type may ask for by name (``JobType.executor``).
EXECUTORS = frozenset({"dask"})


def _check_executor(name: str, kind: JobKind, executor: object) -> None:
    if executor is None:
        return
    if executor not in EXECUTORS:
        known = ", ".join(sorted(EXECUTORS))
        raise ValueError(
            f"job type {name!r}: executor must be one of {known} or None, got {executor!r}"
        )
    if kind is not JobKind.CALLABLE:
        raise ValueError(
            f"job type {name!r}: only a callable job type can run on executor {executor!r}, "
            f"not a {kind} one"
        )


def _kind(name: str, value: JobKind | str) -> JobKind:
    try:
        return JobKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in JobKind)
        raise ValueError(f"job type {name!r}: kind must be one of {kinds}, got {value!r}") from None


def retry_allowed(job: Job, job_type: JobType | None) -> bool:
    """Whether a failed (or interrupted) attempt of ``job`` goes back to the queue: it has
    attempts left (``max_attempts``) and its type is retryable.

    ``job_type`` None is a type this app does not know (an embedder's registry without the
    ``command`` type, say): it cannot judge the type, so it does not refuse on a guess, and
    the job's own ``max_attempts`` decides."""
    if job.attempts >= job.max_attempts:
        return False
    return job_type is None or job_type.retryable


def reattachable(job: Job, job_type: JobType | None) -> bool:
    """Whether ``job``, left running by an earlier app, is kept running for the runtime to
    re-attach: a process job (its type is a process job type; or a type this app does not
    know whose job started a program: it has a log file, and the recorded process says
    what it is). A process job without a log file may have started its program all the
    same (a short one's pid and log are stored with its end, see
    ``runtime.program_watcher.START_REPORT_DELAY``): the runtime looks for its supervisor
    record, and interrupts it only when it finds no trace of a program."""
    if job.status is not JobStatus.RUNNING:
        return False
    if job_type is None:
        return job.log_path is not None
    return job_type.kind is JobKind.PROCESS


class JobRegistry:
    """The job types an application knows, by name, in registration order.

    Not a module-level singleton: the composition root builds one and hands it to the
    tracker (``JobTracker.open(path, registry=...)``), which the runtime and the widgets
    then ask.
    """

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def job_type(
        self,
        name: str,
        *,
        title: str | None = None,
        description: str | None = None,
        icon: str = "job",
        retryable: bool = False,
        kind: JobKind | str | None = None,
        executor: str | None = None,
    ) -> Callable[[F], F]:
        """Decorator registering a function as job type ``name``; returns it unchanged."""

        def decorate(func: F) -> F:
            self.register(
                name,
                func,
                title=title,
                description=description,
                icon=icon,
                retryable=retryable,
                kind=kind,
                executor=executor,
            )
            return func

        return decorate

    def register(
        self,
        name: str,
        func: Callable[..., Any],
        *,
        title: str | None = None,
        description: str | None = None,
        icon: str = "job",
        retryable: bool = False,
        kind: JobKind | str | None = None,
        key_params: tuple[str, ...] | None = None,
        executor: str | None = None,
    ) -> JobType:
        """Register ``func`` as job type ``name`` and return the new :class:`JobType`."""
        if name in self._types:
            raise ValueError(f"job type {name!r} is already registered")
        job_type = JobType.from_function(
            name,
            func,
            title=title,
            description=description,
            icon=icon,
            retryable=retryable,
            kind=kind,
            key_params=key_params,
            executor=executor,
        )
        self.add(job_type)
        return job_type

    def add(self, job_type: JobType) -> None:
        """Register a prebuilt :class:`JobType`; ValueError if its name is taken."""
        if not isinstance(job_type, JobType):
            raise TypeError(f"expected a JobType, got {type(job_type).__name__}")
        if job_type.name in self._types:
            raise ValueError(f"job type {job_type.name!r} is already registered")
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType | None:
        return self._types.get(name)

    def __getitem__(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            raise KeyError(f"unknown job type {name!r}; {self.known()}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[JobType]:
        return iter(list(self._types.values()))

    def __len__(self) -> int:
        return len(self._types)

    def names(self) -> list[str]:
        return list(self._types)

    def is_retryable(self, name: str) -> bool:
        """Whether failed jobs of type ``name`` may be retried; False for an unknown type."""
        job_type = self._types.get(name)
        return job_type is not None and job_type.retryable

    def validate(self, name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``params`` for a job of type ``name`` validated (see :meth:`JobType.validate`)."""
        return self.require(name).validate({} if params is None else params)

    def require(self, name: str) -> JobType:
        """The job type ``name``; ValueError naming the known types if there is none."""
        job_type = self._types.get(name)
        if job_type is None:
            raise ValueError(f"unknown job type {name!r}; {self.known()}")
        return job_type

    def known(self) -> str:
        """The known types, for a message: ``known types: a, b`` (or that there are none)."""
        if not self._types:
            return "no job types are registered"
        return "known types: " + ", ".join(self._types)


def __getattr__(name: str) -> Any:
    """``ProcessSpec`` (named here too) is imported when first asked for: the first window
    lists the job types, and runs none (each dataclass made at import costs ~0.5-1 ms)."""
    if name == "ProcessSpec":
        from .process_spec import ProcessSpec

        return ProcessSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
