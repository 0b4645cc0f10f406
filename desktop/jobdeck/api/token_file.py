"""The TCP listener's bearer token: random, kept in a file only the user can read (0600).

The token stays the same across restarts of the app (while the file lasts: the runtime
directory is emptied at logout), so a browser board that was let in keeps working after
the app restarts. No Qt, no aiohttp.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["load_or_create_token", "read_token"]

_TOKEN_BYTES = 32
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def read_token(path: str | os.PathLike[str]) -> str | None:
    """The token in ``path`` when it is a regular file of ours that nobody else can read;
    else None."""
    try:
        fd = os.open(path, os.O_RDONLY | _FLAGS)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
        ):
            return None
        text = f.read(256).decode("ascii", "replace").strip()
    return text if len(text) >= 32 and text.isprintable() and " " not in text else None


def load_or_create_token(path: str | os.PathLike[str]) -> str:
    """The token in ``path``; a new random one (written 0600) when there is none usable."""
    token = read_token(path)
    if token is not None:
        return token
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, token.encode("ascii") + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token
