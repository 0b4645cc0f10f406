"""The store: file checks, locking, migrations, recovery and retention."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from jobdeck.core import (
    FakeClock,
    JobStatus,
    JobTracker,
    StoreCorrupt,
    StoreLocked,
    StoreTooNew,
)
from jobdeck.core.job_rows import JOB_ROWS
from jobdeck.core.registry import JobRegistry
from jobdeck.core.schema import SCHEMA_VERSION, JobRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wal_and_synchronous_normal(tracker: JobTracker) -> None:
    conn = tracker.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert tracker.store.schema_version() == SCHEMA_VERSION


def test_the_model_matches_the_migrated_schema(tracker: JobTracker) -> None:
    """The frozen migrations build exactly the row the model defines: its columns, their
    types and which may be NULL."""
    affinity = {
        "TEXT": "TEXT",
        "REAL": "REAL",
        "FLOAT": "REAL",
        "INTEGER": "INTEGER",
        "INT": "INTEGER",
    }
    stored = {
        name: (affinity[type_], bool(notnull))
        for _cid, name, type_, notnull, _default, _pk in tracker.store.conn.execute(
            "PRAGMA table_info(jobs)"
        )
    }
    fields = JobRecord._meta.fields
    defined = {name: (affinity[f.field_type], not f.null) for name, f in fields.items()}
    assert stored == defined
    assert sorted(stored) == sorted(JOB_ROWS.columns)


def test_memory_store_works_across_threads() -> None:
    import threading

    with JobTracker.open(":memory:") as tracker:
        ids: list[str] = []
        t = threading.Thread(target=lambda: ids.append(tracker.create_job("x").job_id))
        t.start()
        t.join()
        assert tracker.get_job(ids[0]) is not None


def test_not_a_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 10)
    before = digest(path)
    with pytest.raises(StoreCorrupt, match=str(path)):
        JobTracker.open(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_damaged_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with JobTracker.open(path) as t:
        for _ in range(50):
            t.create_job("x", title="y" * 500)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the first page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match=r"jobs\.db"):
        JobTracker.open(path)


def test_newer_schema_is_refused_byte_for_byte_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id TEXT)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreTooNew) as info:
        JobTracker.open(path)
    message = str(info.value)
    assert f"version {SCHEMA_VERSION + 5}" in message and f"version {SCHEMA_VERSION}" in message
    assert digest(path) == before
    with pytest.raises(StoreTooNew):
        JobTracker.open(path, read_only=True)
    assert digest(path) == before


def test_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    shutil.copy(FIXTURES / "jobs-v1.db", path)
    with JobTracker.open(path, retention=None) as tracker:
        assert tracker.store.schema_version() == SCHEMA_VERSION
        assert tracker.count_jobs() == 3
        scrape = tracker.get_job("01HZZZZZZZ0000000000000001")
        assert scrape is not None
        assert scrape.status is JobStatus.COMPLETED and scrape.metadata == {"username": "x"}
        assert scrape.result == {"n": 1000} and scrape.attempts == 1
        assert scrape.duration == timedelta(seconds=60)
        failed = tracker.get_job("01HZZZZZZZ0000000000000002")
        assert failed is not None and failed.error is not None
        assert failed.error.message == "exit status 2" and failed.params["argv"] == ["ls", "/nope"]
        pending = tracker.pending_jobs()
        assert [j.title for j in pending] == ["Scrape @y"] and pending[0].priority == 5
        assert [e.message for e in tracker.logs(scrape.id)] == ["halfway"]
        tracker.enqueue("new", depends_on=[pending[0].id], max_attempts=2)
    backup = tmp_path / "jobs.db.v1.bak"
    assert digest(backup) == digest(FIXTURES / "jobs-v1.db")
    with JobTracker.open(path, retention=None) as again:
        assert again.count_jobs() == 4


def test_second_writer_process_gets_store_locked(tracker: JobTracker, db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(DESKTOP)!r})
        from jobdeck.core import JobTracker, StoreLocked
        try:
            JobTracker.open({str(db_path)!r})
        except StoreLocked as exc:
            print("LOCKED", exc.owner_pid, exc)
        else:
            print("OPENED")
        with JobTracker.open({str(db_path)!r}, read_only=True) as reader:
            print("READ", reader.count_jobs())
        """
    )
    tracker.create_job("x")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    import os

    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"LOCKED {os.getpid()} "), out.stdout + out.stderr
    assert f"process {os.getpid()}" in lines[0]
    assert lines[1] == "READ 1"


def test_lock_is_released_on_close(db_path: Path) -> None:
    first = JobTracker.open(db_path)
    with pytest.raises(StoreLocked):
        JobTracker.open(db_path)
    first.close()
    JobTracker.open(db_path).close()


def test_recovery_fails_interrupted_jobs_and_keeps_pending(db_path: Path, clock: FakeClock) -> None:
    tracker = JobTracker.open(db_path, clock=clock)
    running = tracker.create_job("scrape")
    running.update_progress(40, 100, "page 40")
    retry = tracker.enqueue("retryable", max_attempts=3)
    tracker.start_job(retry.id)
    exhausted = tracker.enqueue("retryable", max_attempts=1)
    tracker.start_job(exhausted.id)
    stubborn = tracker.enqueue("once", max_attempts=3)  # attempts left, type not retryable
    tracker.start_job(stubborn.id)
    pending = tracker.enqueue("later")
    tracker.close()  # jobs left running, as after a crash

    clock.advance(5)
    registry = JobRegistry()
    for name in ("scrape", "retryable", "once", "later"):
        registry.register(name, lambda ctx: None, retryable=name == "retryable")
    reopened = JobTracker.open(db_path, clock=clock, registry=registry)
    a = reopened.get_job(running.job_id)
    assert a is not None and a.status is JobStatus.FAILED
    assert a.error is not None and "interrupted" in a.error.message and "40/100" in a.error.message
    assert a.progress.current == 40 and a.progress.message == "page 40"
    b = reopened.get_job(retry.id)
    assert b is not None and b.status is JobStatus.PENDING and b.attempts == 1
    c = reopened.get_job(exhausted.id)
    assert c is not None and c.status is JobStatus.FAILED
    e = reopened.get_job(stubborn.id)
    assert e is not None and e.status is JobStatus.FAILED
    d = reopened.get_job(pending.id)
    assert d is not None and d.status is JobStatus.PENDING
    assert {j.id for j in reopened.pending_jobs()} == {retry.id, pending.id}
    reopened.close()


def test_retention_deletes_old_finished_jobs_with_their_logs(
    db_path: Path, clock: FakeClock
) -> None:
    tracker = JobTracker.open(db_path, clock=clock)
    old = tracker.create_job("old")
    old.log("old line")
    tracker.complete_job(old.job_id)
    clock.advance(timedelta(days=6))
    recent = tracker.create_job("recent")
    tracker.complete_job(recent.job_id)
    waiting = tracker.enqueue("waiting")
    tracker.close()

    clock.advance(timedelta(days=1, seconds=1))
    with JobTracker.open(db_path, clock=clock, retention=None) as keep_all:
        assert keep_all.count_jobs() == 3
    with JobTracker.open(db_path, clock=clock) as tracker:
        assert tracker.get_job(old.job_id) is None
        assert tracker.get_job(recent.job_id) is not None
        assert tracker.get_job(waiting.id) is not None
        left = tracker.store.conn.execute("SELECT COUNT(*) FROM job_logs").fetchone()[0]
        assert left == 0
