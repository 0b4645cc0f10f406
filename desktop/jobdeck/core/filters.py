"""Which jobs a listing shows: :class:`JobFilter`, one definition for SQL and for memory.

The same filter answers the store's query (:meth:`JobFilter.where`, a peewee expression)
and, for a job in memory, whether it matches (:meth:`JobFilter.matches`): the history model
uses that for live updates, and the test fakes for their listings. A text search means the
same in both (:mod:`.text_search`: the title, type, progress message, error message or
command contains the text, ASCII letters in any case, as SQLite's ``LIKE``), so a job
never vanishes from a live view that a reload would show. The store may answer the search
part itself (its text index); without one it is a ``LIKE`` over the columns. No Qt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import text_search
from .job_status import JobStatus
from .validation import MAX_TEXT, storable_text
from .value import Value

if TYPE_CHECKING:  # the store's module imports peewee; the widgets' filters need not
    import peewee as pw

    from .job import Job

__all__ = ["SEARCHED", "JobFilter"]

#: The texts a search looks in: (Job attribute, its field or None); and the command (a
#: store with a text index looks there too, see :mod:`.text_search`).
SEARCHED: tuple[tuple[str, str | None], ...] = (
    ("title", None),
    ("type", None),
    ("progress", "message"),
    ("error", "message"),
)

_STATUS_NAMES = ", ".join(s.value for s in JobStatus)


StatusArg = JobStatus | str | Iterable[JobStatus | str] | None
TypeArg = str | Iterable[str] | None


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return storable_text(value, MAX_TEXT)


def _status(value: JobStatus | str) -> JobStatus:
    if isinstance(value, JobStatus):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return JobStatus(value.strip().lower())
    raise ValueError(f"status must be one of {_STATUS_NAMES}; got {value!r}")


def _like(field: Any, pattern: str) -> Any:
    """``field LIKE pattern ESCAPE '\\'`` (case-insensitive for ASCII, as SQLite's LIKE)."""
    import peewee as pw  # imported by the store already

    return pw.NodeList((field, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '\\'")))


class JobFilter(Value):
    """Jobs with one of ``statuses`` (none: any), of one of ``types`` (none: any), whose
    title, type, progress message, error message or command contains ``search`` (None:
    any; see :mod:`.text_search`).

    Build one from user input with :meth:`of`, which checks and normalises it (a status in
    any case, a single type or status, text made storable) and raises ValueError naming the
    field. (Immutable and compared by value; not a dataclass: the history's first paint
    imports it, see :mod:`.value`.)
    """

    __slots__ = ("statuses", "types", "search")  # noqa: RUF023 (the fields, in order)
    statuses: tuple[JobStatus, ...]
    types: tuple[str, ...]
    search: str | None

    def __init__(
        self,
        statuses: tuple[JobStatus, ...] = (),
        types: tuple[str, ...] = (),
        search: str | None = None,
    ) -> None:
        self._set(statuses=statuses, types=types, search=search)

    @classmethod
    def of(cls, status: StatusArg = None, type: TypeArg = None, search: object = None) -> JobFilter:
        """A filter from the arguments of ``list_jobs``/``count_jobs``."""
        if status is None:
            statuses: tuple[JobStatus, ...] = ()
        elif isinstance(status, str):
            statuses = (_status(status),)
        else:
            statuses = tuple(_status(s) for s in status)
        if type is None:
            types: tuple[str, ...] = ()
        elif isinstance(type, str):
            types = (_text("type", type),)
        else:
            types = tuple(_text("type", t) for t in type)
        text = None if search is None else _text("search", search)
        return cls(statuses, types, text or None)

    @property
    def empty(self) -> bool:
        """True when it lets every job through."""
        return not self.statuses and not self.types and not self.search

    def matches(self, job: Job) -> bool:
        """Whether ``job`` (in memory) passes, as the store's query would say."""
        if self.statuses and job.status not in self.statuses:
            return False
        if self.types and job.type not in self.types:
            return False
        if self.search:
            return text_search.matches(self.search, text_search.job_texts(job))
        return True

    def where(self, model: type[pw.Model], column_of: Any, search: Any = None) -> Any:
        """The peewee condition on ``model``'s jobs table (None: no condition).
        ``column_of(attr, part)`` names the column of a Job attribute (see
        :meth:`~jobdeck.core.job_rows.JobRows.column_of`). ``search``: the store's own
        condition for the text search (its index); None: ``LIKE`` over the columns of
        :data:`SEARCHED`."""
        conditions: list[Any] = []
        if self.statuses:
            status = getattr(model, column_of("status", None))
            conditions.append(status.in_([s.value for s in self.statuses]))
        if self.types:
            conditions.append(getattr(model, column_of("type", None)).in_(list(self.types)))
        if self.search:
            if search is None:
                pattern = text_search.like_pattern(self.search)
                likes = [_like(getattr(model, column_of(a, p)), pattern) for a, p in SEARCHED]
                search = likes[0]
                for like in likes[1:]:
                    search = search | like
            conditions.append(search)
        if not conditions:
            return None
        where = conditions[0]
        for condition in conditions[1:]:
            where = where & condition
        return where

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``tracker.list_jobs`` / ``count_jobs`` meaning this filter."""
        return {"status": _one_or_list(self.statuses), "type": _one_or_list(self.types),
                "search": self.search}  # fmt: skip


def _one_or_list(values: tuple[Any, ...]) -> Any:
    """None for none, the value for one, a list for several (as a caller would pass them)."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)
