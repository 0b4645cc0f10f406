"""Where a store's own files live: one private folder beside the database, named after it.

For a store ``~/jobs.db`` that folder is ``~/jobs.db.d/`` (0700), holding:

* ``logs/`` -- one ``<job id>.log`` per process job (0600), the program's output;
* ``supervised/`` -- one ``<job id>.json`` supervisor record per running process job;
* ``stats-columns.npz`` -- the statistics' columns kept for the next start (a cache:
  :mod:`jobdeck.core.stats_snapshot`).

So ``jobdeck --db ~/jobs.db`` adds one folder beside the user's file (like SQLite's own
``-wal`` and ``-shm`` files), not generic ``logs/`` and ``supervised/`` folders, and two
stores in one folder never mix their files. Earlier versions put ``logs/`` and
``supervised/`` straight beside the database: a job whose ``log_path`` points there keeps
its log (retries append to it), and a supervisor record left there by a job still running
across the upgrade is found again (:attr:`StoreFolder.legacy_records`). No Qt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STORE_FILES_SUFFIX", "StoreFolder"]

#: Appended to the database's file name to name its folder.
STORE_FILES_SUFFIX = ".d"


@dataclass(frozen=True)
class StoreFolder:
    """The per-store folder of the database at ``database``."""

    database: Path

    @property
    def root(self) -> Path:
        """``<database>.d`` beside the database file."""
        return self.database.parent / (self.database.name + STORE_FILES_SUFFIX)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def records(self) -> Path:
        return self.root / "supervised"

    @property
    def legacy_records(self) -> tuple[Path, ...]:
        """Where earlier versions kept supervisor records, if that folder exists."""
        old = self.database.parent / "supervised"
        return (old,) if os.path.isdir(old) else ()
