"""Issue 9 item 6 (store part): the store and the files SQLite keeps beside it are private to
the user (0600), and folders the store creates are 0700, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import JobTracker


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o002, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_new_store_files_and_folders_are_private(tmp_path: Path, umask: int) -> None:
    existing = tmp_path / "home"
    existing.mkdir()
    os.chmod(existing, 0o755)
    db = existing / "made" / "by" / "jobdeck" / "jobs.db"
    with JobTracker.open(db) as tracker:
        ctx = tracker.create_job("secret", params={"env": {"TOKEN": "hunter2"}})
        ctx.log("a line")
        tracker.flush()
        files = {p.name: mode(p) for p in db.parent.iterdir()}
        assert files == {"jobs.db": 0o600, "jobs.db-wal": 0o600, "jobs.db-shm": 0o600}
    for folder in (db.parent, db.parent.parent, db.parent.parent.parent):
        assert mode(folder) == 0o700, folder
    assert mode(existing) == 0o755  # a folder that existed is the user's: left alone


def test_an_old_world_readable_store_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        tracker.create_job("x")
    os.chmod(db, 0o644)
    with JobTracker.open(db) as tracker:
        tracker.create_job("y")
        tracker.flush()
        assert mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                assert mode(side) == 0o600


def test_a_migration_backup_is_private(tmp_path: Path) -> None:
    import shutil

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    db = tmp_path / "jobs.db"
    shutil.copy(fixtures / "jobs-v1.db", db)
    os.chmod(db, 0o644)
    JobTracker.open(db, retention=None).close()
    assert mode(tmp_path / "jobs.db.v1.bak") == 0o600
