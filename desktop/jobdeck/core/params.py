"""The parameter schema of a job type: one :class:`ParamSpec` per parameter.

A schema usually comes from a function's signature (:func:`params_from_signature`)::

    def fetch(ctx, urls: list[str], limit: Annotated[int, Param(min=1, max=32)] = 4): ...

The first parameter (``ctx``, or ``job`` for a process job type) is not part of the schema.
Params are stored as JSON (:meth:`ParamSpec.normalize`) and turned back into Python values
(``Path``, Enum members) only to call the function (:meth:`ParamSpec.to_python`). A rejected
value raises :class:`ParamError`, a ValueError naming the field. No Qt.
"""

from __future__ import annotations

import inspect
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

from .validation import is_integral, is_real

__all__ = [
    "REQUIRED",
    "Exists",
    "Param",
    "ParamError",
    "ParamKind",
    "ParamSpec",
    "params_from_signature",
]


class ParamKind(StrEnum):
    """The type of one parameter, as a form or the CLI needs to know it."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    PATH = "path"
    ENUM = "enum"
    LIST = "list"
    MAPPING = "mapping"


_SCALARS = frozenset(ParamKind) - {ParamKind.LIST, ParamKind.MAPPING}
_NUMBERS = frozenset({ParamKind.INT, ParamKind.FLOAT})
_SUPPORTED = "str, int, float, bool, Path, an Enum, a list of those, or dict[str, str]"


class _Required:
    """Type of :data:`REQUIRED`; stays one object through copy and pickle."""

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


#: The default of a parameter that has none: the caller must supply it.
REQUIRED: Final = _Required()


class ParamError(ValueError):
    """A parameter value was rejected. ``field`` names it (``urls[2]`` for a list item)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Exists(StrEnum):
    """What a path parameter must name when the job is queued (see :class:`Param`)."""

    FILE = "file"
    DIR = "dir"
    ANY = "any"  # a file or a folder


@dataclass(frozen=True)
class Param:
    """Extra facts about a parameter, given as ``Annotated[int, Param(...)]`` metadata.

    ``min``/``max`` bound a number (or each number of a list) and are inclusive.
    ``exists`` (``"file"``, ``"dir"`` or ``"any"``) says a path parameter must name an
    existing file, folder, or either, when the job is queued (``~`` is expanded; an empty
    optional path is not checked). ``missing`` is what the user reads when a required
    parameter is left out (``"Enter a command"``); by default ``"<Label> is required"``.
    """

    label: str | None = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    exists: Exists | str | None = None
    missing: str = ""


def _humanize(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a job type: its kind, how a form labels it, its default and limits.

    ``default`` is kept in JSON form (a ``Path`` as ``str``, an Enum member as its value), or
    is :data:`REQUIRED`. ``choices`` lists the allowed values (as strings) of an ENUM, or of the
    items of a LIST of ENUM. ``exists`` (paths, or lists of paths) and ``missing`` are as in
    :class:`Param`. Constructing an inconsistent spec raises ``ValueError``.
    """

    name: str
    kind: ParamKind
    label: str = ""
    help: str = ""
    default: Any = field(default=REQUIRED, hash=False)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    item_kind: ParamKind | None = None
    enum_type: type[Enum] | None = None
    exists: Exists | None = None
    missing: str = ""

    def __post_init__(self) -> None:
        def put(attr: str, value: Any) -> None:
            object.__setattr__(self, attr, value)

        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"parameter name must be a Python identifier, got {self.name!r}")
        put("kind", ParamKind(self.kind))
        if self.item_kind is not None:
            put("item_kind", ParamKind(self.item_kind))
        if not self.label:
            put("label", _humanize(self.name))
        base = self.item_kind if self.kind is ParamKind.LIST else self.kind
        if self.kind is ParamKind.LIST and base not in _SCALARS:
            raise ValueError(
                f"{self.name}: a list needs an item_kind of {', '.join(sorted(_SCALARS))}"
            )
        if self.kind is not ParamKind.LIST and self.item_kind is not None:
            raise ValueError(f"{self.name}: item_kind only applies to lists")
        if base is ParamKind.ENUM:
            put("choices", self._check_choices())
        elif self.choices or self.enum_type is not None:
            raise ValueError(f"{self.name}: choices and enum_type only apply to enums")
        if (self.minimum is not None or self.maximum is not None) and base not in _NUMBERS:
            raise ValueError(f"{self.name}: min/max only apply to numbers, not {base}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.name}: min {self.minimum} is greater than max {self.maximum}")
        if self.exists is not None:
            put("exists", _exists(self.exists, self.name))
            if base is not ParamKind.PATH:
                raise ValueError(f"{self.name}: exists only applies to paths, not {base}")
        if not isinstance(self.missing, str):
            raise ValueError(f"{self.name}: missing must be a message (str)")
        if not self.missing:
            put("missing", f"{self.label} is required")
        if self.default is not REQUIRED:
            try:
                put("default", self.normalize(self.default))
            except ParamError as exc:
                raise ValueError(f"invalid default {_show(self.default)}: {exc}") from None

    def _check_choices(self) -> tuple[str, ...]:
        choices = tuple(self.choices)
        if self.enum_type is not None:
            values = [m.value for m in self.enum_type]
            if any(isinstance(v, bool) or not isinstance(v, str | int) for v in values):
                raise ValueError(f"enum {self.enum_type.__name__} values must be str or int")
            choices, given = tuple(str(v) for v in values), choices
            if given and given != choices:
                raise ValueError(f"{self.name}: choices {given} do not match the enum values")
        if not choices or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"{self.name}: an enum needs a non-empty tuple of string choices")
        return choices

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is REQUIRED

    def check_exists(self, value: Any, field: str | None = None) -> None:
        """Raise :class:`ParamError` unless the normalized ``value`` names what ``exists``
        asks for (nothing to check without ``exists``, or for an empty path)."""
        if self.exists is None:
            return
        where = field or self.name
        if self.kind is ParamKind.LIST:
            for i, item in enumerate(value):
                _check_path_exists(self.exists, item, f"{where}[{i}]")
        else:
            _check_path_exists(self.exists, value, where)

    def normalize(self, value: Any, field: str | None = None) -> Any:
        """``value`` (JSON or Python form) in JSON form; raises :class:`ParamError`.

        Only the value's form is checked here; :meth:`check_exists` looks at the disk."""
        where = field or self.name
        if self.kind is ParamKind.LIST:
            if not isinstance(value, list | tuple):
                raise ParamError(where, f"expected a list, got {_show(value)}")
            assert self.item_kind is not None
            kind = self.item_kind
            return [self._scalar(kind, item, f"{where}[{i}]") for i, item in enumerate(value)]
        if self.kind is ParamKind.MAPPING:
            if not isinstance(value, Mapping):
                raise ParamError(
                    where, f"expected a mapping of strings to strings, got {_show(value)}"
                )
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ParamError(where, f"keys must be strings, got {_show(key)}")
                if not isinstance(item, str):
                    raise ParamError(f"{where}[{key!r}]", f"expected a string, got {_show(item)}")
            return dict(value)
        return self._scalar(self.kind, value, where)

    def to_python(self, value: Any) -> Any:
        """A normalized (JSON form) value as the function receives it."""
        if self.kind is ParamKind.LIST:
            assert self.item_kind is not None
            return [self._python_scalar(self.item_kind, item) for item in value]
        if self.kind is ParamKind.MAPPING:
            return dict(value)
        return self._python_scalar(self.kind, value)

    def default_value(self) -> Any:
        """A fresh copy of the JSON-form default (lists and mappings are not shared)."""
        if isinstance(self.default, list | dict):
            return self.default.copy()
        return self.default

    def _python_scalar(self, kind: ParamKind, value: Any) -> Any:
        if kind is ParamKind.PATH:
            return Path(value)
        if kind is ParamKind.ENUM and self.enum_type is not None:
            return self._enum_lookup(value)
        return value

    def _enum_lookup(self, value: Any) -> Enum | None:
        assert self.enum_type is not None
        for member in self.enum_type:
            same = type(value) is type(member.value) and value == member.value
            if same or (isinstance(value, str) and value == str(member.value)):
                return member
        return None

    def _scalar(self, kind: ParamKind, value: Any, where: str) -> Any:
        if kind is ParamKind.STR:
            if isinstance(value, str):
                return value
            raise ParamError(where, f"expected a string, got {_show(value)}")
        if kind is ParamKind.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise ParamError(where, f"expected true or false, got {_show(value)}")
        if kind is ParamKind.PATH:
            path = os.fspath(value) if isinstance(value, str | os.PathLike) else None
            if isinstance(path, str) and path:
                return path
            raise ParamError(where, f"expected a non-empty path, got {_show(value)}")
        if kind is ParamKind.ENUM:
            return self._enum_value(value, where)
        number = _number(value, integral=kind is ParamKind.INT)
        if number is None:
            expected = "an integer" if kind is ParamKind.INT else "a finite number"
            raise ParamError(where, f"expected {expected}, got {_show(value)}")
        if self.minimum is not None and number < self.minimum:
            raise ParamError(where, f"must be at least {_num(self.minimum)}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ParamError(where, f"must be at most {_num(self.maximum)}, got {number}")
        return number

    def _enum_value(self, value: Any, where: str) -> Any:
        if self.enum_type is not None:
            member = value if isinstance(value, self.enum_type) else self._enum_lookup(value)
            if member is not None:
                return member.value
        else:
            text = str(value.value) if isinstance(value, Enum) else value
            if isinstance(text, str) and text in self.choices:
                return text
        if isinstance(value, Enum):
            value = value.value
        raise ParamError(where, f"expected one of {', '.join(self.choices)}, got {_show(value)}")


def _exists(value: Exists | str, name: str) -> Exists:
    try:
        return Exists(value)
    except ValueError:
        choices = ", ".join(e.value for e in Exists)
        raise ValueError(f"{name}: exists must be one of {choices}, got {value!r}") from None


def _check_path_exists(exists: Exists, value: Any, where: str) -> None:
    if not isinstance(value, str) or not value:
        return  # an optional path left empty
    path = Path(value).expanduser()
    if exists is Exists.DIR:
        if not path.exists():
            raise ParamError(where, f"no such folder: {value}")
        if not path.is_dir():
            raise ParamError(where, f"not a folder: {value}")
    elif exists is Exists.FILE:
        if not path.exists():
            raise ParamError(where, f"no such file: {value}")
        if path.is_dir():
            raise ParamError(where, f"a folder, not a file: {value}")
    elif not path.exists():
        raise ParamError(where, f"no such file or folder: {value}")


def _number(value: Any, integral: bool) -> int | float | None:
    """``value`` as an int (when ``integral``) or a finite float, or None if it is not one."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if integral else float(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, bool) or not is_real(value) or not math.isfinite(value):
        return None
    if not integral:
        return float(value)
    if is_integral(value) or float(value).is_integer():
        return int(value)  # type: ignore[call-overload]
    return None


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) and not typing.get_args(tp) else repr(tp)


def _scalar_kind(tp: Any) -> tuple[ParamKind, type[Enum] | None, tuple[str, ...]] | None:
    if not isinstance(tp, type) or isinstance(tp, types.GenericAlias):
        return None
    simple = {str: ParamKind.STR, int: ParamKind.INT, float: ParamKind.FLOAT, bool: ParamKind.BOOL}
    if tp in simple:
        return simple[tp], None, ()
    if issubclass(tp, Path):
        return ParamKind.PATH, None, ()
    if issubclass(tp, Enum):
        return ParamKind.ENUM, tp, ()
    return None


def _spec_for(name: str, tp: Any, default: Any) -> ParamSpec:
    """The ParamSpec for one annotated parameter; TypeError/ValueError if unsupported."""
    meta = Param()
    if typing.get_origin(tp) is Annotated:
        meta = next((m for m in tp.__metadata__ if isinstance(m, Param)), meta)
        tp = typing.get_args(tp)[0]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    item_kind: ParamKind | None = None
    if (scalar := _scalar_kind(tp)) is not None:
        kind, enum_type, choices = scalar
    elif origin is list and len(args) == 1 and (item := _scalar_kind(args[0])) is not None:
        kind = ParamKind.LIST
        item_kind, enum_type, choices = item
    elif origin in (dict, Mapping) and args == (str, str):
        kind, enum_type, choices = ParamKind.MAPPING, None, ()
    else:
        raise TypeError(f"has unsupported type {_type_name(tp)}; supported: {_SUPPORTED}")
    label, bounds = meta.label or "", (meta.min, meta.max)
    return ParamSpec(
        name,
        kind,
        label,
        meta.help,
        default,
        *bounds,
        choices,
        item_kind,
        enum_type,
        exists=None if meta.exists is None else _exists(meta.exists, name),
        missing=meta.missing,
    )


def _first_paragraph(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def params_from_signature(func: Callable[..., Any]) -> tuple[ParamSpec, ...]:
    """The schema of ``func``'s parameters after the first (``ctx``).

    Raises TypeError naming the function and parameter for anything the schema cannot hold.
    """
    where = getattr(func, "__qualname__", repr(func))
    parameters = list(inspect.signature(func).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not parameters or parameters[0].kind not in positional:
        raise TypeError(f"{where} must take the job context (ctx) as its first parameter")
    globalns = getattr(inspect.unwrap(func), "__globals__", {})
    specs = []
    for p in parameters[1:]:
        try:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise TypeError("cannot be *args or **kwargs; name each parameter")
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError("is positional-only, but job parameters are passed by keyword")
            if p.annotation is inspect.Parameter.empty:
                raise TypeError(f"has no type annotation; supported: {_SUPPORTED}")
            default = REQUIRED if p.default is inspect.Parameter.empty else p.default
            specs.append(_spec_for(p.name, _resolved(p.name, p.annotation, globalns), default))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: parameter {p.name!r} {exc}") from None
    return tuple(specs)


def _resolved(name: str, annotation: Any, globalns: dict[str, Any]) -> Any:
    """The type ``annotation`` names: itself when it is one already, with nothing left to
    look up (what a module without ``from __future__ import annotations`` has, e.g. the
    built-in job types: their start does not pay ``typing.get_type_hints``); else what
    ``typing.get_type_hints`` resolves it to in ``globalns``, alone (so a TYPE_CHECKING-only
    ctx type does no harm)."""
    if annotation is not None and not _has_forward_refs(annotation):
        return annotation
    holder = types.SimpleNamespace(__annotations__={name: annotation})
    try:
        return typing.get_type_hints(holder, globalns, include_extras=True)[name]
    except Exception as exc:
        raise TypeError(f"has an annotation that cannot be resolved: {exc}") from None


def _has_forward_refs(annotation: Any) -> bool:
    """Whether ``annotation`` is, or holds in its arguments, a name still to look up (a
    string or a ``ForwardRef``). (An ``Annotated`` type's metadata are not looked at.)"""
    if isinstance(annotation, (str, typing.ForwardRef)):
        return True
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
        if isinstance(annotation, (str, typing.ForwardRef)):
            return True
    return any(_has_forward_refs(arg) for arg in typing.get_args(annotation))
