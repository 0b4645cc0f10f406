"""Who holds a store's start lock, and whether that process is doing anything. Standard
library only (no Qt); Linux ``/proc`` where it helps, nothing elsewhere.

A second launch that finds the start lock held (:func:`jobdeck.api.launch.claim_start`)
waits for the Jobdeck holding it to answer. To tell a slow start (a big store on a slow
disk: it keeps using the CPU or the disk) from a hung or stopped one, and to name that
process to the user, it asks:

* :func:`holder_pid`: the pid the holder wrote into the lock file (a Jobdeck from before
  it did so, or any other holder: the one ``/proc/locks`` names);
* :func:`signs_of_life`: the process's state letter and a number that grows while it uses
  the CPU or reads or writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Life", "holder_pid", "signs_of_life", "write_pid"]

#: (state letter as in ``ps``: "R", "S", "D", "T" stopped..., activity counter)
Life = tuple[str, int]


def write_pid(fd: int) -> None:
    """Write this process's pid into the lock file open on ``fd`` (it holds the lock)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # (a full disk: holder_pid looks in /proc/locks)


def holder_pid(lock: Path) -> int | None:
    """The pid of the process holding the ``flock`` on ``lock``, or None when unknown."""
    try:
        written = lock.read_text().strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    if written.isdigit() and _exists(int(written)):
        return int(written)
    return _flock_holder(lock)


def signs_of_life(pid: int) -> Life | None:
    """Process ``pid``'s state letter and activity (CPU clock ticks plus bytes read and
    written so far: it grows while the process works), or None when that cannot be known
    (no ``/proc``, the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        state = fields[0].decode()
        activity = int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open(f"/proc/{pid}/io", "rb") as file:
            for line in file:
                name, _, value = line.partition(b":")
                if name in (b"rchar", b"wchar"):
                    activity += int(value)
    except (OSError, ValueError):
        pass  # (not readable everywhere: the CPU alone then)
    return state, activity


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # (another user's: it exists)
    return True


def _flock_holder(lock: Path) -> int | None:
    """The pid ``/proc/locks`` gives for the FLOCK held on ``lock``'s inode."""
    try:
        inode = os.stat(lock).st_ino
        with open("/proc/locks") as file:
            lines = file.readlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":  # (waiters have "->" there)
            continue
        try:
            if int(fields[5].rsplit(":", 1)[1]) == inode:
                return int(fields[4])
        except (ValueError, IndexError):
            continue
    return None
