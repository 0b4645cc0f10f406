"""Where a running Jobdeck is reached: the API socket and token file of one store.

Every store has its own socket, so two stores run side by side and a second launch on the
same store finds the first::

    <runtime dir>/jobdeck/api-<key>.sock     the API (the directory is 0700)
    <runtime dir>/jobdeck/api-<key>.token    the TCP listener's bearer token (0600)
    <runtime dir>/jobdeck/api-<key>.log      what an app started by the CLI printed

``<key>`` is the first 12 hex digits of the SHA-256 of the store's resolved path (the same
on every start) and the runtime dir is :func:`~jobdeck.runtime.runtime_dir.find_runtime_dir`'s
choice. No Qt, no aiohttp: the command-line client uses this.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from jobdeck.runtime.private_files import private_directory
from jobdeck.runtime.runtime_dir import find_runtime_dir

__all__ = ["MEMORY", "ApiPaths", "store_path"]

MEMORY = ":memory:"


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
    """A short name for the store, the same on every start (``mem-<pid>`` in memory)."""
    path = store_path(db)
    if path is None:
        return f"mem-{os.getpid()}"
    return hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:12]


@dataclass(frozen=True)
class ApiPaths:
    """The files through which the app of one store is reached."""

    directory: Path
    key: str

    @classmethod
    def for_store(
        cls, db: str | os.PathLike[str] | None, directory: str | os.PathLike[str] | None = None
    ) -> ApiPaths:
        """The paths for the store ``db`` (see :func:`store_path`), in ``directory`` or
        ``<runtime dir>/jobdeck``. Raises
        :class:`~jobdeck.runtime.runtime_dir.RuntimeDirError` when no safe runtime directory
        exists."""
        where = Path(directory) if directory is not None else find_runtime_dir().path / "jobdeck"
        return cls(where, store_key(db))

    @property
    def socket(self) -> Path:
        return self.directory / f"api-{self.key}.sock"

    @property
    def token(self) -> Path:
        return self.directory / f"api-{self.key}.token"

    @property
    def start_log(self) -> Path:
        return self.directory / f"api-{self.key}.log"

    def make_directory(self) -> Path:
        """Create the directory private to the user (0700), or make it so; raises
        :class:`~jobdeck.runtime.private_files.UnsafePathError` when it cannot be."""
        return private_directory(self.directory)
