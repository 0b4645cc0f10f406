"""Text search over jobs: one definition of what a search finds, for SQL and for memory.

A search finds the jobs whose title, type, progress message, error message or command
(the items of ``params["argv"]`` joined by spaces) *contains* the searched text, with
ASCII letters in any case — exactly SQLite's ``LIKE '%text%'`` (``sync`` finds ``rsync``;
``%`` and ``_`` are plain characters).

On a SQLite store the search is answered by the text index of :mod:`.history_schema`
(a trigram index: substrings of three characters or more) as a quoted phrase
(:func:`fts_query`: nothing typed is FTS syntax), and by a scan with ``instr`` over the
ASCII-folded texts for a shorter text or while the index is still being built; a
PostgreSQL board uses ``ILIKE`` (:func:`like_pattern`). :func:`matches` answers the same
question for a job in memory (the history model's live updates), so a live view shows
what a reload would. No Qt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job


__all__ = ["MIN_INDEXED", "fold", "fts_query", "job_texts", "like_pattern", "matches"]

#: The shortest text the trigram index can look up; shorter ones are scanned for.
MIN_INDEXED = 3

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """ASCII letters in lower case, everything else as is (SQLite's ``lower`` and LIKE)."""
    return text.translate(_ASCII_LOWER)


def fts_query(search: str) -> str | None:
    """The FTS5 MATCH expression for ``search`` (one quoted phrase), or None when the index
    cannot look it up (too short, or a NUL character, which ends a text for SQLite)."""
    if len(search) < MIN_INDEXED or "\x00" in search:
        return None
    return '"' + fold(search).replace('"', '""') + '"'


def like_pattern(search: str) -> str:
    """``search`` as a ``LIKE ... ESCAPE '\\'`` pattern for "contains"."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _command(params: Any) -> str | None:
    argv = params.get("argv") if isinstance(params, dict) else None
    if argv is None:
        return None
    items = argv if isinstance(argv, list) else [argv]
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, bool):
            parts.append("1" if item else "0")
        elif isinstance(item, int | float):
            parts.append(str(item))
        elif item is not None:
            import json  # (rare: imported here, not by the first window)

            parts.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
    return " ".join(parts) if parts else None


def job_texts(job: Job) -> list[str]:
    """The texts of ``job`` a search looks in."""
    texts = [job.title, job.type, job.progress.message]
    if job.error is not None:
        texts.append(job.error.message)
    command = _command(job.params)
    if command is not None:
        texts.append(command)
    return [t for t in texts if t]


def matches(search: str, texts: Iterable[str]) -> bool:
    """Whether one of ``texts`` contains ``search`` (ASCII letters in any case)."""
    needle = fold(search)
    return any(needle in fold(text) for text in texts)
