"""Find a private runtime directory for Jobdeck's sockets, safely.

:func:`find_runtime_dir` tries, in order:

1. ``$XDG_RUNTIME_DIR`` (the session's own directory) when set;
2. ``/run/user/<uid>`` when it exists (the systemd location, for sessions that lost the
   variable, e.g. under ``su`` or cron);
3. ``<temp dir>/runtime-<uid>`` (``$TMPDIR`` or /tmp), created 0700 if missing;
4. ``<user cache dir>/runtime`` (``$XDG_CACHE_HOME/jobdeck/runtime``), created 0700: only
   when the ones before are missing or unsafe, e.g. another user created
   ``/tmp/runtime-<uid>`` first to hijack or block it.

A candidate is used only when it is a real directory (not a symbolic link), belongs to us
and no other user can write to it; one we create is checked again after ``mkdir`` (so a
directory or link that someone slipped in between is refused), and one of ours that is too
open is narrowed to 0700. Every refused candidate is reported (its reason goes to the
app's log). When none is safe, :class:`RuntimeDirError` lists why, and the caller runs
without the sockets. No Qt.
"""

from __future__ import annotations

import os
import stat
import tempfile
import warnings
from pathlib import Path

from jobdeck.core.value import Value

from .private_files import chmod_no_follow

__all__ = ["RuntimeDir", "RuntimeDirError", "find_runtime_dir"]

#: Where systemd puts the per-user runtime directories (a module constant, so tests can
#: point it elsewhere).
RUN_USER = Path("/run/user")


class RuntimeDirError(Exception):
    """No safe runtime directory: the message lists every candidate and why it was refused."""


class RuntimeDir(Value):
    """The runtime directory chosen, and why the candidates before it were refused."""

    __slots__ = ("path", "refused")
    path: Path
    refused: list[str]

    def __init__(self, path: Path, refused: list[str] | None = None) -> None:
        self._set(path=path, refused=[] if refused is None else refused)


def find_runtime_dir() -> RuntimeDir:
    """The first safe candidate (see the module docstring); RuntimeDirError if none is."""
    uid = os.getuid()
    refused: list[str] = []
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg:
        problem = _problem(Path(xdg), uid)
        if problem is None:
            return RuntimeDir(Path(xdg), refused)
        refused.append(f"XDG_RUNTIME_DIR={xdg}: {problem}")
    else:
        refused.append("XDG_RUNTIME_DIR is not set")
    run_user = RUN_USER / str(uid)
    if os.path.lexists(run_user):
        problem = _problem(run_user, uid)
        if problem is None:
            return RuntimeDir(run_user, refused)
        refused.append(f"{run_user}: {problem}")
    for candidate in (Path(tempfile.gettempdir()) / f"runtime-{uid}", _cache_runtime_dir()):
        problem = _create_or_check(candidate, uid)
        if problem is None:
            return RuntimeDir(candidate, refused)
        refused.append(f"{candidate}: {problem}")
    raise RuntimeDirError("no safe runtime directory: " + "; ".join(refused))


def _cache_runtime_dir() -> Path:
    import platformdirs  # (the last candidate only: not at every start)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_cache_dir("jobdeck", appauthor=False)) / "runtime"


def _create_or_check(path: Path, uid: int) -> str | None:
    """Create ``path`` 0700 (parents of ours too) unless it exists; then check it."""
    if not os.path.lexists(path):
        for missing in reversed([p for p in (path, *path.parents) if not os.path.lexists(p)]):
            try:
                os.mkdir(missing, 0o700)
            except FileExistsError:
                pass  # someone was faster: whatever is there now is checked below
            except OSError as exc:
                return f"cannot create it: {exc.strerror or exc}"
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot use it: {exc.strerror or exc}"
    mine = info.st_uid == uid and stat.S_ISDIR(info.st_mode) and not stat.S_ISLNK(info.st_mode)
    if mine and stat.S_IMODE(info.st_mode) != 0o700:
        try:  # our own directory, too open: narrow it to what the XDG spec asks for
            chmod_no_follow(path, 0o700)
        except OSError as exc:
            return f"cannot make it private: {exc}"
    return _problem(path, uid)  # checked (again) after creating or narrowing it


def _problem(path: Path, uid: int) -> str | None:
    """Why ``path`` is not a safe runtime directory for ``uid``, or None when it is."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot use it: {exc.strerror or exc}"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != uid:
        return f"it belongs to user id {info.st_uid}, not to you ({uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write to it (mode {stat.S_IMODE(info.st_mode):o})"
    parent_problem = _parent_problem(path.parent, uid)
    if parent_problem is not None:
        return parent_problem
    return None


def _parent_problem(parent: Path, uid: int) -> str | None:
    """Someone else could replace an entry of ``parent``: not ours or root's, or writable
    by others without the sticky bit (which keeps /tmp safe)."""
    try:
        info = os.stat(parent)
    except OSError as exc:
        return f"cannot inspect its parent {parent}: {exc.strerror or exc}"
    if info.st_uid not in (uid, 0):
        return f"its parent {parent} belongs to user id {info.st_uid}"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        return f"other users can replace it: its parent {parent} is writable by them"
    return None
