"""Small immutable value classes made without ``@dataclass``, for what the first window needs.

``@dataclass`` writes each class's methods as source text and compiles it when the module
is imported (~3-4 million instructions a class, 1-2.5 ms on a busy machine): the first
window of the desktop app waited for that for each internal value class it imported.
A :class:`Value` subclass names its fields in ``__slots__`` and sets them in its own
``__init__`` (with :meth:`Value._set`), which takes them all, positionally in that order;
it gets equality, hashing, a ``repr`` and copying (``copy``, ``pickle``) over those fields,
as a frozen dataclass does, and refuses assignments (``AttributeError``) once made. (Its
``__slots__`` are in field order, not sorted.) Public types that users may give to
``dataclasses.replace``/``fields``/``asdict`` stay dataclasses.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Value"]


class Value:
    """Base of an immutable value class: its fields are its ``__slots__``, in order."""

    __slots__ = ()

    def _set(self, **fields: Any) -> None:
        """Set fields from ``__init__`` (plain assignment is refused)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[Any, ...]:
        names: tuple[str, ...] = type(self).__slots__
        return tuple(getattr(self, name) for name in names)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Value)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._fields())

    def __repr__(self) -> str:
        names: tuple[str, ...] = type(self).__slots__
        shown = ", ".join(
            f"{name}={value!r}" for name, value in zip(names, self._fields(), strict=True)
        )
        return f"{type(self).__qualname__}({shown})"
