"""Where a running Jobdeck is reached: the API socket and token file of one store.

Every store has its own socket, so two stores run side by side and a second launch on the
same store finds the first::

    <runtime dir>/jobdeck/api-<key>.sock     the API (the directory is 0700)
    <runtime dir>/jobdeck/api-<key>.token    the TCP listener's bearer token (0600)
    <runtime dir>/jobdeck/api-<key>.log      what an app started by the CLI printed

``<key>`` is the first 12 hex digits of the SHA-256 of the store's resolved path (the same
on every start) and the runtime dir is :func:`~jobdeck.runtime.runtime_dir.find_runtime_dir`'s
choice. No Qt, no aiohttp, and few imports: every ``jobdeck`` command starts here. When
``$XDG_RUNTIME_DIR`` and its ``jobdeck`` folder are already there and safe (the usual case),
they are taken without importing the runtime-dir machinery, by the same rules it applies.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MEMORY", "ApiPaths", "store_key", "store_path"]

MEMORY = ":memory:"

try:  # the built-in SHA-256: hashlib would load OpenSSL first, a cost every command pays
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other Pythons
    from hashlib import sha256


def store_path(db: str | os.PathLike[str] | None) -> Path | None:
    """The store file the app opens for ``--db db``: ``db``, else ``$JOBDECK_DB``, else
    ``jobs.db`` in the user-data directory (as :func:`jobdeck.core.default_db_path`, without
    importing the core); None for an in-memory store."""
    if db is not None and os.fspath(db) == MEMORY:
        return None
    if db is None:
        env = os.environ.get("JOBDECK_DB")
        if env:
            return Path(env).expanduser()
        import platformdirs

        return platformdirs.user_data_path("jobdeck", appauthor=False) / "jobs.db"
    return Path(db).expanduser()


def store_key(db: str | os.PathLike[str] | None) -> str:
    """A short name for the store, the same on every start (``mem-<pid>`` in memory; for a
    PostgreSQL board, of its URL without the password)."""
    where = os.environ.get("JOBDECK_DB") if db is None else db
    if isinstance(where, str) and where.split(":", 1)[0].lower() in _BOARD_SCHEMES:
        return sha256(_without_password(where).encode()).hexdigest()[:12]
    path = store_path(db)
    if path is None:
        return f"mem-{os.getpid()}"
    return sha256(os.fsencode(path.resolve())).hexdigest()[:12]


_BOARD_SCHEMES = ("postgresql", "postgres")


def _without_password(url: str) -> str:
    """A board's URL minus the password (jobdeck.core.board_url, without loading the core)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&") if not p.lower().startswith("password="))
    return f"{parts.scheme}://{netloc}{parts.path}?{query}"


def _ours(path: str, uid: int, *, private: bool) -> bool:
    """A real directory of ``uid`` that nobody else can write to (``private``: nor read)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    closed = stat.S_IRWXG | stat.S_IRWXO if private else stat.S_IWGRP | stat.S_IWOTH
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & closed


def _ready_runtime_dir() -> Path | None:
    """``$XDG_RUNTIME_DIR/jobdeck`` when it exists and is safe, else None."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if not xdg:
        return None
    uid = os.getuid()
    try:
        parent = os.stat(os.path.dirname(os.path.abspath(xdg)))
    except OSError:
        return None
    others_write = parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if parent.st_uid not in (uid, 0) or (others_write and not parent.st_mode & stat.S_ISVTX):
        return None
    folder = os.path.join(xdg, "jobdeck")
    if _ours(xdg, uid, private=False) and _ours(folder, uid, private=True):
        return Path(folder)
    return None


class ApiPaths:
    """The files through which the app of one store is reached."""

    __slots__ = ("directory", "key")

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory)
        self.key = key

    @classmethod
    def for_store(
        cls, db: str | os.PathLike[str] | None, directory: str | os.PathLike[str] | None = None
    ) -> ApiPaths:
        """The paths for the store ``db`` (see :func:`store_path`), in ``directory`` or
        ``<runtime dir>/jobdeck``. Raises
        :class:`~jobdeck.runtime.runtime_dir.RuntimeDirError` when no safe runtime directory
        exists."""
        if directory is None:
            directory = _ready_runtime_dir()
        if directory is None:
            from jobdeck.runtime.runtime_dir import find_runtime_dir

            directory = find_runtime_dir().path / "jobdeck"
        return cls(Path(directory), store_key(db))

    def __repr__(self) -> str:
        return f"ApiPaths({str(self.directory)!r}, {self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiPaths) and (self.directory, self.key) == (
            other.directory,
            other.key,
        )

    def __hash__(self) -> int:
        return hash((self.directory, self.key))

    @property
    def socket(self) -> Path:
        return self.directory / f"api-{self.key}.sock"

    @property
    def token(self) -> Path:
        return self.directory / f"api-{self.key}.token"

    @property
    def start_log(self) -> Path:
        return self.directory / f"api-{self.key}.log"

    @property
    def start_lock(self) -> Path:
        """Locked (``flock``) by the desktop app of this store from its start to its end."""
        return self.directory / f"api-{self.key}.lock"

    def make_directory(self) -> Path:
        """Create the directory private to the user (0700), or make it so; raises
        :class:`~jobdeck.runtime.private_files.UnsafePathError` when it cannot be."""
        from jobdeck.runtime.private_files import private_directory

        return private_directory(self.directory)
