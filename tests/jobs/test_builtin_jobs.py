"""The built-in job types, run directly with a real tracker context (no Qt)."""

from __future__ import annotations

import hashlib
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.core import Cancelled, JobContext, JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.jobs.archive import ArchiveFormat, compress_folder
from jobdeck.jobs.checksum import Algorithm, checksum_folder
from jobdeck.jobs.countdown import countdown
from jobdeck.jobs.files import copy_files


class Recording(JobContext):
    """A context that also remembers every progress update."""

    __slots__ = ("updates",)

    def __init__(self, tracker: JobTracker, job_id: str) -> None:
        super().__init__(tracker, job_id)
        self.updates: list[tuple[float, float]] = []

    def update_progress(self, current, total=None, message=None):
        super().update_progress(current, total, message)
        self.updates.append((self.current, self.total))


@pytest.fixture
def ctx() -> Iterator[Recording]:
    with JobTracker.open(":memory:") as tracker:
        job = tracker.create_job("test")
        yield Recording(tracker, job.job_id)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha" * 1000)
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 8000)  # ~2 MB: several chunks
    (root / "empty").mkdir()
    return root


def test_registry_has_the_builtins() -> None:
    registry = builtin_registry()
    assert {"copy", "checksum", "compress", "countdown"} <= set(registry.names())
    assert registry["checksum"].param("algorithm") is not None
    with pytest.raises(ValueError, match="seconds"):
        registry.validate("countdown", {"seconds": -1})


def test_copy_folder_with_byte_progress(ctx: Recording, tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    result = copy_files(ctx, tree, dest)
    assert (dest / "data" / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert result["files"] == 2 and result["bytes"] == 5000 + 256 * 8000
    totals = {t for _, t in ctx.updates}
    assert totals == {5000 + 256 * 8000}
    currents = [c for c, _ in ctx.updates]
    assert currents == sorted(currents) and len(currents) > 3
    with pytest.raises(FileExistsError, match="already exists"):
        copy_files(ctx, tree, dest)
    copy_files(ctx, tree, dest, overwrite=True)
    assert not list(dest.rglob("*.jobdeck-part"))


def test_copy_errors_are_readable(ctx: Recording, tree: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="source does not exist"):
        copy_files(ctx, tmp_path / "nope", tmp_path)
    with pytest.raises(ValueError, match="into itself"):
        copy_files(ctx, tree, tree / "sub")


def test_copy_cancel_leaves_no_partial_file(ctx: Recording, tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    ctx.cancel_event.set()
    with pytest.raises(Cancelled):
        copy_files(ctx, tree, dest)
    assert not list(dest.rglob("*.jobdeck-part"))


def test_checksum_matches_hashlib(ctx: Recording, tree: Path) -> None:
    result = checksum_folder(ctx, tree, Algorithm.SHA256, write_manifest=True)
    expected = hashlib.sha256((tree / "sub" / "b.bin").read_bytes()).hexdigest()
    assert result["checksums"]["sub/b.bin"] == expected
    manifest = (tree / "sha256sums.txt").read_text()
    assert f"{expected}  sub/b.bin\n" in manifest
    assert ctx.updates[-1][0] == ctx.updates[-1][1] == result["bytes"]


@pytest.mark.parametrize("fmt", list(ArchiveFormat))
def test_compress(ctx: Recording, tree: Path, fmt: ArchiveFormat) -> None:
    result = compress_folder(ctx, tree, fmt)
    archive = Path(result["archive"])
    assert archive.name == f"data.{fmt.value}"
    if fmt is ArchiveFormat.ZIP:
        with zipfile.ZipFile(archive) as zf:
            assert zf.read("data/sub/b.bin") == (tree / "sub" / "b.bin").read_bytes()
    else:
        with tarfile.open(archive) as tf:
            member = tf.extractfile("data/sub/b.bin")
            assert member is not None
            assert member.read() == (tree / "sub" / "b.bin").read_bytes()
    assert ctx.updates[-1][0] == result["bytes"]
    with pytest.raises(FileExistsError):
        compress_folder(ctx, tree, fmt)


def test_compress_cancel_removes_the_partial_archive(ctx: Recording, tree: Path) -> None:
    ctx.cancel_event.set()
    with pytest.raises(Cancelled):
        compress_folder(ctx, tree, ArchiveFormat.TAR_GZ)
    assert not list(tree.parent.glob("data.tar.gz*"))


def test_countdown_finishes_and_cancels_promptly(ctx: Recording) -> None:
    assert countdown(ctx, 0.05)["waited_s"] >= 0.05
    timer = threading.Timer(0.05, ctx.cancel_event.set)
    timer.start()
    with pytest.raises(Cancelled):
        countdown(ctx, 30)
    timer.join()
