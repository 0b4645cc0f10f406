"""Directories and files private to the user (0700 / 0600), whatever the umask.

Job logs, supervisor records and the channel socket hold a job's output, its environment
(secrets included) and its channel token. :func:`private_directory` creates a directory
0700 (or narrows an existing one) after checking that it is a real directory of ours;
:func:`open_private_append` opens a file for appending, created 0600 (an existing one is
narrowed to 0600) without following a symbolic link. Both set the mode explicitly, so a
permissive umask (022, 000) never widens them. No Qt.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "UnsafePathError",
    "chmod_no_follow",
    "make_private",
    "open_private_append",
    "private_directory",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class UnsafePathError(OSError):
    """A path cannot be made private to the user; the message names it and says why."""


def private_directory(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` (and missing parents) 0700, or make an existing one so.

    Raises :class:`UnsafePathError` when it is a symbolic link or not a directory, a shared
    directory (sticky bit, like /tmp), when it or its parent belongs to another user (a
    parent owned by root is fine), or when it cannot be created or narrowed.
    """
    key = os.fspath(directory)
    directory = directory if isinstance(directory, Path) else Path(directory)
    if _still_private(key):
        return directory
    missing = []
    if not os.path.lexists(directory):  # (it exists, but for the first time: a quick check)
        missing = [p for p in (directory, *directory.parents) if not os.path.lexists(p)]
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass  # created meanwhile by someone else: checked below
        except OSError as exc:
            raise UnsafePathError(f"cannot create {path}: {exc.strerror or exc}") from exc
    uid = os.getuid()
    try:
        info = os.lstat(directory)
        parent = os.stat(directory.parent)
    except OSError as exc:
        raise UnsafePathError(f"cannot inspect {directory}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(f"refusing to use {directory}: it is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"refusing to use {directory}: it is not a directory")
    if info.st_uid != uid:
        raise UnsafePathError(
            f"refusing to use {directory}: it belongs to user id {info.st_uid}, not to you ({uid})"
        )
    if info.st_mode & stat.S_ISVTX:  # /tmp and the like: never narrow a shared directory
        raise UnsafePathError(
            f"refusing to use {directory}: it is a shared directory (sticky bit); "
            "use a directory of your own inside it"
        )
    if parent.st_uid not in (uid, 0):
        raise UnsafePathError(
            f"refusing to use {directory}: its parent belongs to user id {parent.st_uid}"
        )
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        try:
            chmod_no_follow(directory, PRIVATE_DIR_MODE)
        except OSError as exc:
            raise UnsafePathError(f"cannot make {directory} private: {exc}") from exc
    if len(_checked) >= _MAX_CHECKED:
        _checked.clear()
    _checked[key] = (info.st_dev, info.st_ino)
    return directory


#: Directories :func:`private_directory` checked (or made) private: path -> (device, inode).
_checked: dict[str, tuple[int, int]] = {}
_MAX_CHECKED = 256


def _still_private(path: str) -> bool:
    """True when ``path`` is the very directory :func:`private_directory` checked before
    (same device and inode, not a link), still ours and still 0700: one ``lstat`` instead
    of the whole check (it runs for every job started)."""
    known = _checked.get(path)
    if known is None:
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        (info.st_dev, info.st_ino) == known
        and stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) == PRIVATE_DIR_MODE
    )


def open_private_append(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for appending (binary, unbuffered), created 0600 if missing.

    An existing file of ours with a wider mode is narrowed to 0600. Raises
    :class:`UnsafePathError` for a symbolic link, a file that is not regular or that
    belongs to another user; OSError when it cannot be opened.
    """
    try:
        fd = os.open(
            path,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            PRIVATE_FILE_MODE,
        )
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafePathError(f"refusing to write {path}: it is a symbolic link") from exc
        raise
    try:
        make_private(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "ab", buffering=0)


def chmod_no_follow(path: str | os.PathLike[str], mode: int) -> None:
    """``chmod`` that does not follow a final symbolic link where the platform can."""
    try:
        os.chmod(path, mode, follow_symlinks=False)
    except NotImplementedError:  # no lchmod: the caller has checked it is no link
        os.chmod(path, mode)


def make_private(fd: int, path: str | os.PathLike[str]) -> None:
    """Check that the open file ``fd`` is a regular file of ours and narrow it to 0600."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"refusing to write {path}: it is not a regular file")
    if info.st_uid != os.getuid():
        raise UnsafePathError(
            f"refusing to write {path}: it belongs to user id {info.st_uid}, not to you"
        )
    if stat.S_IMODE(info.st_mode) != PRIVATE_FILE_MODE:
        os.fchmod(fd, PRIVATE_FILE_MODE)
