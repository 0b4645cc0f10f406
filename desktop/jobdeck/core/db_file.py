"""The database file itself: its identity, the single-writer lock on it, its header, privacy.

**The lock is on the file, not its name.** A writer takes an exclusive ``flock`` on the
database file itself, so a second writer is refused whichever name it uses — a symlink, a
hard link, a relative path — and there is no lock file that could be deleted or go stale.
(``flock`` locks are independent of the POSIX record locks SQLite uses on Linux, so they do
not disturb SQLite.) The owner's pid in :class:`StoreLocked` comes from ``/proc/locks``.

Closing any descriptor of a file drops *all* POSIX record locks the process holds on it,
including SQLite's. So a process opens each database file once (:class:`OpenFile`, keyed by
device and inode), shares that descriptor between its stores, reads headers through it and
closes it only when the last store on that file has closed. Within one process, a second
writer on the same file is refused by that registry.

**Privacy.** Files Jobdeck creates are ``0600`` and folders ``0700`` whatever the umask;
an existing store opened for writing is narrowed to ``0600`` (SQLite gives its ``-wal`` and
``-shm`` files the database file's mode).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from pathlib import Path

from .store_errors import StoreCorrupt, StoreError, StoreLocked

try:  # POSIX; on other platforms a second writer in another process is not detected.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

__all__ = [
    "HEADER_SIZE",
    "OpenFile",
    "check_header",
    "create_private_file",
    "make_private",
    "make_private_dirs",
]

HEADER_SIZE = 100
_SQLITE_MAGIC = b"SQLite format 3\x00"
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


# -- privacy ----------------------------------------------------------------------------------


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each ``0700`` whatever the umask.

    Folders that already exist are left as they are (they may be the user's own)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(path, PRIVATE_DIR)


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode ``0600`` (whatever the umask); False if it existed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True


def make_private(path: Path) -> None:
    """Narrow an existing file we own to ``0600`` (no-op if it is already private)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(st.st_mode) & PRIVATE_FILE)
        log.info("made %s private to its owner (it was readable by others)", path)


# -- the header -------------------------------------------------------------------------------


def check_header(path: Path, header: bytes, file_size: int, *, wal_size: int = 0) -> int:
    """The schema version (``user_version``) in a SQLite header, after checking that the
    header is a plausible SQLite header and the file is not shorter than it says.

    With a non-empty ``-wal`` file beside it (``wal_size``), the file may legitimately be
    shorter than its header says (a checkpoint interrupted by a crash: SQLite finishes it
    from the WAL), so its length is not checked then.

    Raises :class:`StoreCorrupt` naming the file otherwise, so that garbage behind a valid
    magic string is reported as damaged, not as "written by a newer Jobdeck".
    """
    if len(header) < HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        raise StoreCorrupt(
            f"{path} is not a SQLite database; it was left untouched "
            "(check the path, or move the file aside so that Jobdeck starts a new one)"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    plausible = (
        512 <= page_size <= 65536
        and page_size & (page_size - 1) == 0
        and header[18] in (1, 2)  # write version: legacy or WAL
        and header[19] in (1, 2)
        and header[21:24] == b"\x40\x20\x20"  # payload fractions, fixed by the format
        and int.from_bytes(header[44:48], "big") in (0, 1, 2, 3, 4)  # schema format
        and int.from_bytes(header[56:60], "big") in (0, 1, 2, 3)  # text encoding
    )
    if not plausible:
        raise StoreCorrupt(
            f"{path} starts like a SQLite database but its header is damaged; it was left "
            "untouched (restore it from a backup, or move it aside so that Jobdeck starts a "
            "new one)"
        )
    pages = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    if pages and valid_for == change_counter and not wal_size and file_size < pages * page_size:
        raise StoreCorrupt(
            f"{path} is truncated: its header says {pages * page_size:,} bytes but the file "
            f"has {file_size:,}; it was left untouched (restore it from a backup, or move it "
            "aside so that Jobdeck starts a new one)"
        )
    return int.from_bytes(header[60:64], "big")


# -- one descriptor per file per process, and the writer lock ---------------------------------


class OpenFile:
    """This process's one descriptor of a database file, shared by its stores on that file.

    :meth:`attach` finds or opens it by the file's identity (device, inode); :meth:`detach`
    closes it after the last store has gone. A writer holds :meth:`lock_for_writing`.
    """

    _registry: dict[tuple[int, int], OpenFile] = {}
    _registry_lock = threading.Lock()

    def __init__(self, key: tuple[int, int], fd: int) -> None:
        self.key = key
        self.fd = fd
        self.users = 0
        self.writer: object | None = None

    @classmethod
    def attach(cls, path: Path) -> OpenFile:
        """The shared descriptor of the file at ``path`` (which must exist)."""
        with cls._registry_lock:
            for _ in range(5):
                st = os.stat(path)  # follows symlinks: the identity of the file itself
                key = (st.st_dev, st.st_ino)
                found = cls._registry.get(key)
                if found is None:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    fst = os.fstat(fd)
                    if (fst.st_dev, fst.st_ino) != key:  # replaced meanwhile: look again
                        os.close(fd)  # nobody in this process uses the new file yet
                        continue
                    found = cls._registry[key] = OpenFile(key, fd)
                found.users += 1
                return found
        raise StoreError(f"{path} keeps being replaced while Jobdeck opens it; try again")

    def detach(self) -> None:
        with self._registry_lock:
            self.users -= 1
            if self.users == 0:
                self._registry.pop(self.key, None)
                os.close(self.fd)

    def read_header(self) -> tuple[bytes, int]:
        """The first 100 bytes and the file's size, read without a new descriptor."""
        return os.pread(self.fd, HEADER_SIZE, 0), os.fstat(self.fd).st_size

    def lock_for_writing(self, owner: object, path: Path) -> None:
        """Take the single-writer lock for ``owner`` or raise :class:`StoreLocked`."""
        with self._registry_lock:
            if self.writer is not None:
                raise StoreLocked(path, os.getpid())
            if fcntl is not None:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    raise StoreLocked(path, _flock_owner(self.key)) from None
            self.writer = owner

    def unlock(self, owner: object) -> None:
        with self._registry_lock:
            if self.writer is not owner:
                return
            self.writer = None
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self.fd, fcntl.LOCK_UN)


def _flock_owner(key: tuple[int, int]) -> int | None:
    """The pid holding a FLOCK on the file (device, inode), from Linux's ``/proc/locks``."""
    dev, ino = key
    wanted = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    by_inode: int | None = None
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12345 08:01:123456 0 EOF" ("->" marks waiters)
        if len(parts) < 6 or parts[1] != "FLOCK" or parts[2] == "->" or "->" in parts:
            continue
        pid, where = parts[4], parts[5]
        if not pid.isdigit():
            continue
        if where == wanted:
            return int(pid)
        if where.rsplit(":", 1)[-1] == str(ino):  # some file systems report another device
            by_inode = int(pid)
    return by_inode
