"""The ``jobdeck`` command's stores are SQLite files: peewee is imported without the
PostgreSQL and MySQL drivers it would otherwise import at once.

peewee imports every database driver it can find when it is imported; with ``psycopg``
installed that alone costs ~200 ms of every start of the app and of every read-only
command. The command (a composition root, like :mod:`jobdeck.app`) knows its store is a
SQLite file, so it hides those drivers from that one import: peewee then leaves its
PostgreSQL and MySQL support off *in this process*, and nothing else changes (the drivers
stay importable). Code that embeds Jobdeck imports peewee as usual and pays for what it
has installed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence

__all__ = ["UNUSED_DRIVERS", "import_peewee_for_sqlite"]

#: Top-level modules peewee tries at import for databases other than SQLite.
UNUSED_DRIVERS = ("psycopg", "psycopg2", "psycopg2cffi", "pymysql", "MySQLdb")


class _HideDrivers(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in UNUSED_DRIVERS:
            raise ModuleNotFoundError(f"{fullname} is not used by a SQLite store", name=fullname)
        return None


def names_a_board(db: str | None) -> bool:
    """True when ``db`` (or ``$JOBDECK_DB`` without it) is a ``postgresql://`` URL: that
    store needs peewee's PostgreSQL support. (The test of
    :func:`jobdeck.core.board_url.is_board_url`, which can't be imported here without
    importing the store, hence peewee.)"""
    where = db if db is not None else os.environ.get("JOBDECK_DB")
    if not isinstance(where, str) or "://" not in where:
        return False
    return where.split(":", 1)[0].lower() in ("postgresql", "postgres")


def import_peewee_for_sqlite(db: str | None = None) -> None:
    """Import peewee without :data:`UNUSED_DRIVERS` (nothing happens when peewee or one of
    them is imported already, or when ``db`` names a PostgreSQL board)."""
    if "peewee" in sys.modules or any(name in sys.modules for name in UNUSED_DRIVERS):
        return
    if names_a_board(db):
        return
    finder = _HideDrivers()
    sys.meta_path.insert(0, finder)
    try:
        import peewee  # noqa: F401
    finally:
        sys.meta_path.remove(finder)
