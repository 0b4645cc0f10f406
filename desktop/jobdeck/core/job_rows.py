"""Rows <-> jobs, derived from the model: :class:`JobRows`.

Given the peewee model that defines a job row (:class:`~jobdeck.core.schema.JobRecord`) and
the snapshot class (:class:`~jobdeck.core.job.Job`), :class:`JobRows` derives everything the
store needs to write and read jobs with raw, prepared SQL (peewee's query builder costs about
100 µs a query, too much for every transition): the column list, the SELECT and INSERT
statements, a row -> Job reader, a Job -> row writer and, per set of Job attributes, the
UPDATE that writes just their columns. The reader and writer are compiled once into plain
functions (as :mod:`dataclasses` compiles ``__init__``), so they cost what hand-written
code would. No Qt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import peewee as pw

from .job import Job
from .schema import JobRecord, MappedField

__all__ = ["JOB_ROWS", "JobRows"]


@dataclasses.dataclass(frozen=True)
class _Column:
    index: int
    name: str
    attr: str  # the Job attribute
    part: str | None  # its field, for an attribute kept in several columns
    field: MappedField


class JobRows:
    """The row mapping of ``model`` (a :class:`~jobdeck.core.schema.JobRecord`) and
    ``job_class`` (a :class:`~jobdeck.core.job.Job`). Raises TypeError when they disagree:
    every column must map to an attribute and every attribute must have a column."""

    def __init__(self, model: type[pw.Model], job_class: type) -> None:
        self.job_class = job_class
        composites: dict[str, tuple[type, bool]] = getattr(model, "job_composites", {})
        columns: list[_Column] = []
        for index, name in enumerate(model._meta.sorted_field_names):
            field = model._meta.fields[name]
            if not isinstance(field, MappedField):
                raise TypeError(f"column {name} of {model.__name__} is not a MappedField")
            attr = field.job_attr or name
            if field.job_part is not None and attr not in composites:
                raise TypeError(f"column {name}: {attr} is not a composite of {model.__name__}")
            columns.append(_Column(index, name, attr, field.job_part, field))
        self._columns = tuple(columns)
        #: Column names in row order (every raw SELECT of a job uses this order).
        self.columns: tuple[str, ...] = tuple(c.name for c in columns)
        #: Column name -> its index in a row.
        self.index: dict[str, int] = {c.name: c.index for c in columns}
        self._composites = composites
        attrs = [f.name for f in dataclasses.fields(job_class)]
        mapped = {c.attr for c in columns}
        missing = [a for a in attrs if a not in mapped]
        extra = sorted(mapped - set(attrs))
        if missing or extra:
            raise TypeError(
                f"{model.__name__} and {job_class.__name__} disagree: attributes without a "
                f"column {missing}, columns without an attribute {extra}"
            )
        #: Columns whose values a pending job needs to run (unreadable: it cannot).
        self.select_sql = f"SELECT {', '.join(self.columns)} FROM {model._meta.table_name}"
        self.insert_sql = (
            f"INSERT INTO {model._meta.table_name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join('?' * len(self.columns))})"
        )
        self._table = model._meta.table_name
        self.from_row: Callable[[Sequence[Any]], Any] = self._compile_reader(attrs)
        self.to_row: Callable[[Any], list[Any]] = self._compile_writer()
        self._updates: dict[frozenset[str], tuple[str, Callable[[Any], list[Any]]]] = {}

    # -- compiling --------------------------------------------------------------------------

    def _read_expr(self, column: _Column, env: dict[str, Any]) -> str:
        raw = f"row[{column.index}]"
        if column.field.plain:
            return raw
        env[f"_r{column.index}"] = column.field.from_store
        return f"_r{column.index}({raw})"

    def _write_expr(self, column: _Column, env: dict[str, Any]) -> str:
        value = f"job.{column.attr}"
        if column.part is not None:
            _cls, optional = self._composites[column.attr]
            if optional:
                inner = self._convert(column, f"job.{column.attr}.{column.part}", env)
                return f"(None if job.{column.attr} is None else {inner})"
            value = f"job.{column.attr}.{column.part}"
        return self._convert(column, value, env)

    @staticmethod
    def _convert(column: _Column, value: str, env: dict[str, Any]) -> str:
        if column.field.plain:
            return value
        env[f"_w{column.index}"] = column.field.to_store
        return f"_w{column.index}({value})"

    def _compile_reader(self, attrs: list[str]) -> Callable[[Sequence[Any]], Any]:
        env: dict[str, Any] = {"_Job": self.job_class}
        args: dict[str, str] = {}
        parts: dict[str, list[_Column]] = {}
        for column in self._columns:
            if column.part is None:
                args[column.attr] = self._read_expr(column, env)
            else:
                parts.setdefault(column.attr, []).append(column)
        for attr, columns in parts.items():
            cls, optional = self._composites[attr]
            env[f"_{attr}_cls"] = cls
            inner = ", ".join(f"{c.part}={self._read_expr(c, env)}" for c in columns)
            build = f"_{attr}_cls({inner})"
            if optional:
                build = f"(None if row[{columns[0].index}] is None else {build})"
            args[attr] = build
        body = ", ".join(f"{a}={args[a]}" for a in attrs)
        return _compile("from_row", "row", f"_Job({body})", env)

    def _compile_writer(self) -> Callable[[Any], list[Any]]:
        env: dict[str, Any] = {}
        items = ", ".join(self._write_expr(c, env) for c in self._columns)
        return _compile("to_row", "job", f"[{items}]", env)

    # -- statements ---------------------------------------------------------------------------

    def update(self, attrs: frozenset[str]) -> tuple[str, Callable[[Any], list[Any]]]:
        """The UPDATE writing just the columns of Job attributes ``attrs`` (cached), and a
        function giving its parameters for a job (the id last)."""
        found = self._updates.get(attrs)
        if found is None:
            unknown = attrs - {c.attr for c in self._columns}
            if unknown:
                raise TypeError(f"{self.job_class.__name__} has no field(s) {sorted(unknown)}")
            columns = [c for c in self._columns if c.attr in attrs]
            env: dict[str, Any] = {}
            items = ", ".join([*(self._write_expr(c, env) for c in columns), "job.id"])
            sql = (
                f"UPDATE {self._table} SET {', '.join(f'{c.name} = ?' for c in columns)} "
                "WHERE id = ?"
            )
            found = self._updates[attrs] = (sql, _compile("values", "job", f"[{items}]", env))
        return found

    def column_of(self, attr: str, part: str | None = None) -> str:
        """The column holding Job attribute ``attr`` (its field ``part`` for one kept in
        several columns). KeyError if there is none."""
        for column in self._columns:
            if column.attr == attr and column.part == part:
                return column.name
        raise KeyError(f"no column holds {attr}{'' if part is None else '.' + part}")

    def columns_of(self, attr: str) -> tuple[str, ...]:
        """The columns holding Job attribute ``attr``, in row order."""
        return tuple(c.name for c in self._columns if c.attr == attr)

    def unreadable(self, row: Sequence[Any]) -> list[str]:
        """The columns of a raw row that a pending job needs to run (``needed``) and whose
        values cannot be read (damaged data)."""
        return [
            c.name for c in self._columns if c.field.needed and not c.field.readable(row[c.index])
        ]


def _compile(name: str, arg: str, expression: str, env: dict[str, Any]) -> Callable[..., Any]:
    source = f"def {name}({arg}):\n    return {expression}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<jobdeck.core.job_rows {name}>", "exec"), env, namespace)
    function: Callable[..., Any] = namespace[name]
    return function


#: The store's mapping: :class:`~jobdeck.core.schema.JobRecord` <-> :class:`~jobdeck.core.job.Job`.
JOB_ROWS = JobRows(JobRecord, Job)
