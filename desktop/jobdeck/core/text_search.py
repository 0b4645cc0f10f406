"""Text search over jobs: the full-text index's rules, one definition for SQL and memory.

The store keeps an SQLite FTS5 index, ``jobs_text`` (schema 5), in step with ``jobs`` by
triggers, in the same transactions: a job's title, type, progress message, error message
and command (the items of ``params["argv"]``). Its tokenizer is ``unicode61`` without
removing diacritics: a *token* is a run of letters and digits (Unicode categories L*, N*
and Co), compared in lower case; everything else separates tokens.

A search is split at white space into *words*; a job matches when every word does. A word
matches when its tokens appear one after the other in one of the job's texts, the last one
as a prefix (``IMG_0042.j`` finds ``IMG_0042.jpg``; ``sync`` does not find ``rsync``). The
query given to FTS5 is built from tokens only, each phrase quoted, so nothing a user types
(quotes, ``-``, ``*``, ``AND``, ``:``) is FTS syntax. A search without any letter or digit
matches every job. :func:`matches` answers the same question for a job in memory (the
history model's live updates), so a live view shows what a reload would. No Qt.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from .job import Job

__all__ = ["COMMAND_SQL", "fts_query", "job_texts", "matches", "tokens", "words"]

#: The command text of a row (``new``/``old`` in a trigger, or the table): argv's items
#: joined by spaces; NULL when params are not JSON or hold no argv.
COMMAND_SQL = (
    "(SELECT group_concat(value, ' ') FROM json_each("
    "CASE WHEN json_valid({row}params) THEN {row}params ELSE '{{}}' END, '$.argv'))"
)


def _token_char(c: str) -> bool:
    category = unicodedata.category(c)
    return category[0] in "LN" or category == "Co"


def _fold(c: str) -> str:
    lower = c.lower()
    return lower if len(lower) == 1 else c


def tokens(text: str) -> list[str]:
    """``text``'s tokens as the index's tokenizer makes them."""
    out: list[str] = []
    current: list[str] = []
    for c in text:
        if _token_char(c):
            current.append(_fold(c))
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


@lru_cache(maxsize=64)
def words(search: str) -> tuple[tuple[str, ...], ...]:
    """The words of a search, each as its tokens (words without any are dropped)."""
    return tuple(t for t in (tuple(tokens(w)) for w in search.split()) if t)


def fts_query(search: str) -> str | None:
    """The FTS5 MATCH expression for ``search``, or None when it has no word to look for."""
    phrases = ['"' + " ".join(ws) + '"*' for ws in words(search)]
    return " AND ".join(phrases) if phrases else None


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
            parts.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
    return " ".join(parts) if parts else None


def job_texts(job: Job) -> list[str]:
    """The texts of ``job`` the index holds."""
    texts = [job.title, job.type, job.progress.message]
    if job.error is not None:
        texts.append(job.error.message)
    command = _command(job.params)
    if command is not None:
        texts.append(command)
    return [t for t in texts if t]


def _phrase_in(phrase: tuple[str, ...], toks: list[str]) -> bool:
    n = len(phrase)
    head, last = phrase[:-1], phrase[-1]
    for i in range(len(toks) - n + 1):
        if tuple(toks[i : i + n - 1]) == head and toks[i + n - 1].startswith(last):
            return True
    return False


def matches(search: str, texts: Iterable[str]) -> bool:
    """Whether texts with these contents match ``search``, as the index would say."""
    wanted = words(search)
    if not wanted:
        return True
    tokenized = [tokens(t) for t in texts]
    return all(any(_phrase_in(w, toks) for toks in tokenized) for w in wanted)
