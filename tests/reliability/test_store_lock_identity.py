"""Issue 9 item 5: the single-writer lock is on the database file itself, not on its name.

A second writer is refused whatever name it opens the file by — a symlink, a hard link —
and there is no lock file whose deletion would let it in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker, StoreLocked

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"

SECOND_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {desktop!r})
    from jobdeck.core import JobTracker, StoreLocked
    try:
        tracker = JobTracker.open({path!r})
    except StoreLocked as exc:
        print("LOCKED", exc.owner_pid)
    else:
        print("OPENED", [j.status.value for j in tracker.list_jobs()])
        tracker.close()
    """
)


def second_writer(path: Path) -> str:
    script = SECOND_WRITER.format(desktop=str(DESKTOP), path=str(path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def owner(tmp_path: Path) -> tuple[JobTracker, str, Path]:
    db = tmp_path / "data" / "jobs.db"
    tracker = JobTracker.open(db)
    ctx = tracker.create_job("live", title="the owner's live job")
    return tracker, ctx.job_id, db


def _assert_refused(result: str, tracker: JobTracker, job_id: str) -> None:
    assert result == f"LOCKED {os.getpid()}", result
    job = tracker.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING  # not "recovered" by it
    tracker.complete_job(job_id)
    tracker.close()


def test_through_a_symlink(owner: tuple[JobTracker, str, Path], tmp_path: Path) -> None:
    tracker, job_id, db = owner
    link = tmp_path / "elsewhere.db"
    link.symlink_to(db)
    _assert_refused(second_writer(link), tracker, job_id)


def test_through_a_symlinked_folder(owner: tuple[JobTracker, str, Path], tmp_path: Path) -> None:
    tracker, job_id, db = owner
    folder = tmp_path / "alias"
    folder.symlink_to(db.parent)
    _assert_refused(second_writer(folder / "jobs.db"), tracker, job_id)


def test_through_a_hard_link(owner: tuple[JobTracker, str, Path], tmp_path: Path) -> None:
    tracker, job_id, db = owner
    link = tmp_path / "hardlink.db"
    os.link(db, link)
    _assert_refused(second_writer(link), tracker, job_id)


def test_through_a_relative_path(owner: tuple[JobTracker, str, Path]) -> None:
    tracker, job_id, db = owner
    relative = Path(os.path.relpath(db, Path.cwd()))
    _assert_refused(second_writer(relative), tracker, job_id)


def test_no_lock_file_to_delete(owner: tuple[JobTracker, str, Path]) -> None:
    """Whatever files beside the store someone deletes (a .lock file was the old way), the
    second writer is still refused."""
    tracker, job_id, db = owner
    for leftover in db.parent.glob("*.lock"):
        leftover.unlink()
    assert not list(db.parent.glob("*lock*"))
    _assert_refused(second_writer(db), tracker, job_id)


def test_in_the_same_process_by_any_name(
    owner: tuple[JobTracker, str, Path], tmp_path: Path
) -> None:
    tracker, _job_id, db = owner
    link = tmp_path / "same.db"
    link.symlink_to(db)
    hard = tmp_path / "hard.db"
    os.link(db, hard)
    for path in (db, link, hard):
        with pytest.raises(StoreLocked, match=f"process {os.getpid()}"):
            JobTracker.open(path)
    with JobTracker.open(link, read_only=True) as reader:  # reading beside it is fine
        assert reader.count_jobs() == 1
    tracker.close()
    JobTracker.open(hard).close()  # free once the owner closed


def test_clean_close_leaves_no_lock_file_and_frees_the_file(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    JobTracker.open(db).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.db"]
    assert second_writer(db).startswith("OPENED")


def test_an_old_version_s_lock_file_is_respected_then_removed(tmp_path: Path) -> None:
    """A Jobdeck from before this change locks ``<db>.lock``: while one runs, refuse; a
    stale one is removed."""
    import fcntl

    db = tmp_path / "jobs.db"
    JobTracker.open(db).close()
    legacy = tmp_path / "jobs.db.lock"
    with open(legacy, "w") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StoreLocked, match="process 4242"):
            JobTracker.open(db)
    JobTracker.open(db).close()
    assert not legacy.exists()
