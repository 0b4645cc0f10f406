"""What can go wrong with the job database file, said so that a person knows what to do.

Every error the store raises is a :class:`StoreError` whose message names the file, says what
is wrong and what to do about it; the SQLite error behind it is chained (``__cause__``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreNotOpen",
    "StoreReadOnly",
    "StoreTooNew",
    "StoreWriteError",
    "describe_sqlite_error",
]


class StoreError(Exception):
    """Something is wrong with the job database file."""


class StoreNotOpen(StoreError):
    """The store is still being opened (the window shows before it is): nothing can be
    queued, cancelled or run again yet."""


class StoreCorrupt(StoreError):
    """The file is not a SQLite database, or is damaged; it was not modified."""


class StoreTooNew(StoreError):
    """The file was written by a newer Jobdeck; it was not modified."""


class StoreLocked(StoreError):
    """Another process (or another store in this one) has the file open for writing."""

    def __init__(self, path: Path, owner_pid: int | None) -> None:
        who = f"process {owner_pid}" if owner_pid else "another process"
        super().__init__(
            f"{path} is already open for writing by {who}; "
            "close that Jobdeck or open this one read-only"
        )
        self.path = path
        self.owner_pid = owner_pid


class StoreReadOnly(StoreError):
    """A write was attempted on a store opened with ``read_only=True``."""


class StoreWriteError(StoreError):
    """A change could not be stored (full disk, I/O error, read-only file...).

    Nothing of the change was kept, in the file or in the tracker's memory: the call that
    raised it may simply be made again later (see :meth:`JobTracker.complete_job`).
    """


#: SQLite primary result code name -> (what is wrong, what to do).
_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "SQLITE_FULL": (
        "the disk (or the file's size limit) is full",
        "free some disk space; Jobdeck keeps what it could not save and tries again",
    ),
    "SQLITE_READONLY": (
        "the file or its folder is read-only",
        "make both writable by you (e.g. chmod u+w), or open the store read-only",
    ),
    "SQLITE_IOERR": (
        "the disk reported an I/O error",
        "check the disk; copy the file somewhere safe before using it further",
    ),
    "SQLITE_CORRUPT": (
        "the file is damaged",
        "restore it from a backup, or move it aside so that Jobdeck starts a new one",
    ),
    "SQLITE_NOTADB": (
        "the file is not a SQLite database (or its first page is damaged)",
        "check the path; move the file aside so that Jobdeck starts a new one",
    ),
    "SQLITE_CANTOPEN": (
        "the file cannot be opened",
        "check that its folder exists and that you may read and write both",
    ),
    "SQLITE_PERM": (
        "permission was denied",
        "check that you may read and write the file and its folder",
    ),
    "SQLITE_BUSY": (
        "another program holds a lock on the file",
        "close the other program using it and try again",
    ),
    "SQLITE_NOMEM": ("SQLite ran out of memory", "close other programs and try again"),
}

_BY_MESSAGE = (  # for errors raised without an error code (older Pythons, our own checks)
    ("database or disk is full", "SQLITE_FULL"),
    ("readonly database", "SQLITE_READONLY"),
    ("disk i/o error", "SQLITE_IOERR"),
    ("malformed", "SQLITE_CORRUPT"),
    ("file is not a database", "SQLITE_NOTADB"),
    ("unable to open database file", "SQLITE_CANTOPEN"),
    ("database is locked", "SQLITE_BUSY"),
)


def _primary_name(exc: BaseException) -> str | None:
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        # extended codes look like SQLITE_IOERR_WRITE or SQLITE_READONLY_DBMOVED
        for primary in _EXPLANATIONS:
            if name == primary or name.startswith(primary + "_"):
                return primary
    text = str(exc).lower()
    for fragment, primary in _BY_MESSAGE:
        if fragment in text:
            return primary
    return None


def describe_sqlite_error(path: Path | str, exc: BaseException, doing: str) -> str:
    """One readable sentence: ``could not <doing> <path>: <what is wrong>; <what to do>``."""
    primary = _primary_name(exc)
    if primary is None:
        return f"could not {doing} {path}: {exc}"
    what, todo = _EXPLANATIONS[primary]
    return f"could not {doing} {path}: {what} ({exc}); {todo}"


def error_class_for(exc: BaseException) -> type[StoreError]:
    """The :class:`StoreError` subclass that fits a SQLite error met while opening or reading."""
    if _primary_name(exc) in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return StoreCorrupt
    return StoreError


def is_storage_trouble(exc: BaseException) -> bool:
    """True for errors that are about the file or the disk rather than about one change."""
    return _primary_name(exc) in (
        "SQLITE_FULL",
        "SQLITE_IOERR",
        "SQLITE_READONLY",
        "SQLITE_CORRUPT",
        "SQLITE_NOTADB",
        "SQLITE_CANTOPEN",
        "SQLITE_PERM",
        "SQLITE_NOMEM",
    )
