"""Issue 9 item 12: storage errors reach users as one readable message naming the file and
what to do — never a raw SQLite traceback — and a damaged file is reported, not worked on.

Read-only files and folders are tried in a child process without root's power to ignore
file permissions (``CAP_DAC_OVERRIDE`` dropped), so the tests mean the same as root or not.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jobdeck.core import JobTracker, StoreCorrupt, StoreError, StoreTooNew
from jobdeck.core.schema import SCHEMA_VERSION

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"

OPEN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {desktop!r})
    from jobdeck.core import JobTracker, StoreError
    try:
        with JobTracker.open({path!r}, read_only={read_only!r}) as t:
            print("OPENED", t.count_jobs())
    except StoreError as exc:
        print("ERROR", type(exc).__name__, exc)
    """
)


def _drop_root_file_powers() -> None:
    """In the child: lose the capabilities that let root ignore file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP: gone from the exec'd program


def open_in_child(path: Path, read_only: bool = False) -> str:
    script = OPEN.format(desktop=str(DESKTOP), path=str(path), read_only=read_only)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_drop_root_file_powers,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    return out.stdout.strip()


def make_store(path: Path, jobs: int = 50) -> None:
    with JobTracker.open(path) as tracker, tracker.batch():
        for i in range(jobs):
            tracker.enqueue("x", {"i": i}, title=f"job {i} " + "t" * 200)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_file(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    make_store(db)
    os.chmod(db, 0o444)
    try:
        result = open_in_child(db)
        assert result.startswith("ERROR StoreError"), result
        assert str(db) in result and "read-only" in result and "jobdeck list" in result
        assert open_in_child(db, read_only=True) == "OPENED 50"  # reading still works
    finally:
        os.chmod(db, 0o600)


def test_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "jobs.db"
    make_store(db)
    os.chmod(folder, 0o555)
    try:
        result = open_in_child(db)
        assert result.startswith("ERROR StoreError"), result
        assert str(db) in result and f"folder {folder} is read-only" in result
    finally:
        os.chmod(folder, 0o755)


def test_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        result = open_in_child(locked / "sub" / "jobs.db")
        assert result.startswith("ERROR StoreError"), result
        assert "could not create" in result and "--db" in result
    finally:
        os.chmod(locked, 0o755)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_truncated_file(tmp_path: Path, read_only: bool) -> None:
    db = tmp_path / "jobs.db"
    make_store(db, jobs=300)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = digest(db)
    with pytest.raises(StoreCorrupt) as info:
        JobTracker.open(db, read_only=read_only)
    message = str(info.value)
    assert str(db) in message and "truncated" in message and "backup" in message
    assert digest(db) == before


@pytest.mark.parametrize("read_only", [False, True])
def test_a_bit_rotted_file(tmp_path: Path, read_only: bool) -> None:
    """Random bytes flipped in the middle of the file (not its header): the quick
    integrity check at open reports it."""
    db = tmp_path / "jobs.db"
    make_store(db, jobs=300)
    data = bytearray(db.read_bytes())
    rng = random.Random(7)
    page = 4096
    for p in range(2, len(data) // page):  # every page but the first gets a rotten patch
        start = p * page + rng.randrange(64, page - 64)
        for i in range(start, start + 32):
            data[i] ^= 0x5A
    db.write_bytes(bytes(data))
    before = digest(db)
    with pytest.raises(StoreCorrupt) as info:
        JobTracker.open(db, read_only=read_only)
    message = str(info.value)
    assert str(db) in message and "damaged" in message
    assert digest(db) == before


def test_garbage_behind_a_valid_magic_string_is_damaged_not_too_new(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    rng = random.Random(3)
    db.write_bytes(b"SQLite format 3\x00" + bytes(rng.randrange(256) for _ in range(20_000)))
    before = digest(db)
    for read_only in (False, True):
        with pytest.raises(StoreCorrupt, match="header is damaged") as info:
            JobTracker.open(db, read_only=read_only)
        assert not isinstance(info.value, StoreTooNew)
        assert str(db) in str(info.value)
    assert digest(db) == before


def test_a_genuinely_newer_store_is_still_too_new(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "jobs.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE jobs (id TEXT)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreTooNew, match="upgrade Jobdeck"):
        JobTracker.open(db)


def test_reading_a_damaged_large_file_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file too large for the full check at open gets a bounded one; damage beyond its
    reach is still reported readably when a query meets it."""
    from jobdeck.core import store as store_module

    monkeypatch.setattr(store_module, "QUICK_CHECK_MAX_BYTES", 0)
    db = tmp_path / "jobs.db"
    make_store(db, jobs=2000)
    data = bytearray(db.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 4096] = b"\xee" * 4096  # one page in the middle of the table
    db.write_bytes(bytes(data))
    try:
        tracker = JobTracker.open(db, read_only=True)
    except StoreCorrupt as exc:  # the bounded check may already meet it
        assert str(db) in str(exc)
        return
    with tracker, pytest.raises(StoreError) as info:
        tracker.list_jobs(limit=5000)
    assert str(db) in str(info.value) and "damaged" in str(info.value)


def test_verify_store_checks_the_whole_file(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    make_store(db)
    with JobTracker.open(db) as tracker:
        assert tracker.verify_store() is None


def test_a_checkpoint_cut_short_by_a_crash_is_not_damage(tmp_path: Path) -> None:
    """SIGKILL during a WAL checkpoint can leave the file shorter than its (new) header
    says, with the WAL still holding every page: SQLite recovers it; it is not truncated."""
    import shutil
    import sqlite3

    db = tmp_path / "jobs.db"
    make_store(db, jobs=10)
    grow = sqlite3.connect(db)
    grow.execute("PRAGMA wal_autocheckpoint = 0")
    with grow:
        grow.executemany(
            "INSERT INTO jobs (id, type, title, status, created_ts) "
            "VALUES (?, 'x', ?, 'completed', 0)",
            [(f"01HZZZZZZZ{i:016d}", "g" * 500) for i in range(400)],
        )
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for name in ("jobs.db", "jobs.db-wal"):
        shutil.copy(tmp_path / name, crashed / name)  # before the checkpoint
    grow.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grow.close()
    old, new = (crashed / "jobs.db").read_bytes(), db.read_bytes()
    assert len(new) > len(old)
    # the checkpoint wrote the new first page, then the process died before the rest
    (crashed / "jobs.db").write_bytes(new[:4096] + old[4096:])
    with JobTracker.open(crashed / "jobs.db") as tracker:
        assert tracker.count_jobs() == 410
