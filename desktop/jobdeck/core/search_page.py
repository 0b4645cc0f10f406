"""A page of a text search in creation order, read from the text index in its own order.

The text index of :mod:`.history_schema` keeps each job under the job's ``rowid``, and
reading its matches in rowid order with a ``LIMIT`` costs about the page (well under a
millisecond for the newest 200 of 87,000 matches at a million jobs), where walking the
history's id order and testing each row's texts costs a row read per job passed over
(~80 ms to find 400 matches of a common word). Jobs are stored as they are created, so
rowid order is id order (the creation order) — but nothing guarantees it (ids come from
the creating process's clock), so :func:`natural_search_page` proves that the page it
read is the page the id order has, and answers None (the caller then plans the page the
general way) when it cannot:

* the page's matches are the next ``limit`` index matches past the ``after`` job's rowid,
  their rows read and sorted by id;
* it is right when no job *outside* that rowid range has an id *inside* the page's id
  range (between ``after`` and the page's last id): a walk of the id index over the page's
  id range (covering: its entries hold the rowids), done when it is short (at most
  :data:`MAX_SPAN` rows; a sparse text is left to the general plan, which reads every
  match when there are few);
* when the index has fewer matches than asked, every match past ``after`` was read: the
  first page needs no proof then; a later one (the last) is proved over the rest of the
  history (when that is short).

SQLite only (the store checks that the index is built). No Qt.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MAX_SPAN", "natural_search_page"]

#: The most rows the proof walks (about the rows the page's matches span); a sparser text
#: is left to the general plan, which reads every match when there are few.
MAX_SPAN = 100_000

#: The most matches read at a time (when a status or type filter leaves few of them).
_MOST_READ = 8192

#: ``(id, rowid)`` of the jobs among the rowids of a JSON array that pass the filter's
#: other conditions (status, type).
KeysOf = Callable[[sqlite3.Connection, str], Sequence[Sequence[Any]]]
#: The rows (in ``jobs`` column order) of the jobs of the rowids of a JSON array.
RowsOf = Callable[[sqlite3.Connection, str], Sequence[Sequence[Any]]]


def natural_search_page(
    conn: sqlite3.Connection,
    fts: str,
    keys_of: KeysOf,
    rows_of: RowsOf,
    id_column: int,
    descending: bool,
    after: str | None,
    limit: int,
    more_filters: bool,
) -> list[Sequence[Any]] | None:
    """At most ``limit`` raw rows (``rows_of``) matching ``fts`` (a
    :func:`~.text_search.fts_query`), passing ``keys_of``'s other conditions, in id order
    (``descending`` or not) after the job ``after`` (None: from the first); or None when
    this way cannot tell (see the module). ``more_filters``: ``keys_of`` drops jobs (a
    status or type filter), so more matches are read than asked for. Runs in one read
    transaction (a consistent snapshot) unless ``conn`` is in one already."""
    if limit <= 0:
        return None
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        keys = _page(conn, fts, keys_of, descending, after, limit, more_filters)
        if keys is None:
            return None
        rows = list(rows_of(conn, json.dumps([rowid for _id, rowid in keys])))
        rows.sort(key=lambda row: row[id_column], reverse=descending)
        return rows
    finally:
        if own:
            conn.execute("COMMIT")


def _page(
    conn: sqlite3.Connection,
    fts: str,
    keys_of: KeysOf,
    descending: bool,
    after: str | None,
    limit: int,
    more_filters: bool,
) -> list[Sequence[Any]] | None:
    """``(id, rowid)`` of the page's jobs in id order, or None (see the module)."""
    past = "<" if descending else ">"
    direction = "DESC" if descending else "ASC"
    edge: int | None = None  # the after job's rowid
    if after is not None:
        found = conn.execute("SELECT rowid FROM jobs WHERE id = ?", (after,)).fetchone()
        if found is None:
            return None  # deleted meanwhile: the general plan pages past its key
        edge = int(found[0])
    # The matches as one JSON array: one row, so one wait for the interpreter lock (a
    # thread takes it again after each row it steps, behind a busy GUI thread: ~5 ms each).
    sql = (
        "SELECT json_group_array(rowid) FROM (SELECT rowid FROM jobs_text WHERE "
        f"jobs_text MATCH ? AND rowid {past} ? ORDER BY rowid {direction} LIMIT ?)"
    )
    start = edge if edge is not None else _end(conn, first=True, descending=descending)
    want = limit * 4 if more_filters else limit
    mark = start + 1 if descending else start - 1
    rowids: list[int] = []
    rows: list[Sequence[Any]] = []
    while True:  # more matches while the other filters leave too few
        (found,) = conn.execute(sql, (fts, mark, want)).fetchone()
        batch = sorted(json.loads(found), reverse=descending)
        every_match = len(batch) < want  # every match past the edge is in hand
        rowids += batch
        rows += [
            row
            for row in keys_of(conn, json.dumps(batch))
            if after is None or (row[0] < after if descending else row[0] > after)
        ]
        if len(rows) >= limit or every_match or abs(start - batch[-1]) > MAX_SPAN:
            break
        mark, want = batch[-1], min(want * 4, _MOST_READ)
    if not rowids and after is None:
        return []
    rows.sort(key=lambda row: row[0], reverse=descending)
    full = len(rows) >= limit
    if not full and not every_match:
        return None  # the other filters left too few of the matches read
    if not full and after is None:
        return rows  # every match there is, in order
    rows = rows[:limit]
    # The rows the proof walks: about those from the edge (or the first job) to the
    # farthest match read, or to the last job when every match past the edge was read.
    if full:
        span = abs(start - rowids[-1])
    else:
        span = abs(int(edge or 0) - _end(conn, first=False, descending=descending))
    if span > MAX_SPAN:
        return None  # a sparse text: a long proof
    every_row = 0 if descending else (1 << 63) - 1  # past the last job
    far = every_row if every_match else rowids[-1]
    # No job outside the rowid range read may have an id inside the page's id range (from
    # the page's last id, or the end when the page is not full, to after).
    bounds, check = [], []
    if full:
        bounds.append("id >= ?" if descending else "id <= ?")
        check.append(rows[-1][0])
    if after is not None:
        bounds.append("id < ?" if descending else "id > ?")
        check.append(after)
    outside = "rowid < ?" if descending else "rowid > ?"
    check.append(far)
    if edge is not None:
        outside += " OR rowid >= ?" if descending else " OR rowid <= ?"
        check.append(edge)
    where = " AND ".join([*bounds, f"({outside})"])
    stray = conn.execute(f"SELECT 1 FROM jobs WHERE {where} LIMIT 1", check)
    return rows if stray.fetchone() is None else None


def _end(conn: sqlite3.Connection, first: bool, descending: bool) -> int:
    """The rowid a listing starts at (``first``) or ends at, in its direction."""
    newest = first == descending
    (rowid,) = conn.execute(f"SELECT {'max' if newest else 'min'}(rowid) FROM jobs").fetchone()
    return int(rowid or 0)
