"""A job's process tree, found again from a pid and start time: signal it, measure it.

No Qt here: plain threads and psutil. The program need not be our child: a
:class:`ProcessTree` is built from the pid and kernel start time the supervisor recorded,
so a process re-attached after an app restart is handled exactly like a fresh one, and a
pid that the kernel has since given to another process is never signalled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time

import psutil

from .supervisor import process_start_time

__all__ = ["ParentMap", "ProcessTree", "ResourceUsage"]

_log = logging.getLogger(__name__)


class ParentMap:
    """Who is whose child, for every process on the machine, at most ``max_age`` s old.

    Finding a tree's descendants means reading every process's parent (psutil scans
    ``/proc``: milliseconds on a busy machine). Resource samples of many jobs, taken every
    second, share one scan through this map instead of one scan each. Thread-safe.
    """

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._children: dict[int, list[int]] = {}
        self._taken = -float("inf")

    def children(self) -> dict[int, list[int]]:
        """ppid -> the pids of its children, from a scan at most ``max_age`` s old."""
        with self._lock:
            if time.monotonic() - self._taken > self.max_age:
                children: dict[int, list[int]] = {}
                for pid, ppid in _parents_of_all().items():
                    children.setdefault(ppid, []).append(pid)
                self._children = children
                self._taken = time.monotonic()
            return self._children


def _parents_of_all() -> dict[int, int]:
    """pid -> ppid of every process: psutil's own fast scan (what ``children()`` uses),
    else its public, slower iteration."""
    try:
        return dict(psutil._psplatform.ppid_map())
    except (AttributeError, OSError, psutil.Error):
        pass
    parents = {}
    for process in psutil.process_iter(["ppid"]):
        ppid = process.info.get("ppid")
        if ppid is not None:
            parents[process.pid] = ppid
    return parents


#: The map the resource samples of every tree share (tests may give a tree its own).
SHARED_PARENTS = ParentMap()


class ResourceUsage:
    """Peak resident memory (bytes, all of a tree's processes together) and CPU seconds.

    Not thread-safe: one thread samples. ``peak_rss``/``cpu_seconds`` are None until a
    sample found something.
    """

    __slots__ = ("cpu_seconds", "peak_rss")

    def __init__(self) -> None:
        self.peak_rss: int | None = None
        self.cpu_seconds: float | None = None

    def add(self, rss: int | None, cpu_seconds: float | None) -> None:
        """Keep the larger of what was seen and a new sample (either may be None)."""
        if rss is not None and (self.peak_rss is None or rss > self.peak_rss):
            self.peak_rss = rss
        if cpu_seconds is not None and (self.cpu_seconds is None or cpu_seconds > self.cpu_seconds):
            self.cpu_seconds = cpu_seconds


class ProcessTree:
    """The program ``pid`` (a session and group leader: pgid == pid) and its descendants.

    ``start_time`` is the program's start time as :func:`process_start_time` reports it.
    ``supervisor`` is ``(pid, start time)`` of the program's supervisor: as the job's child
    subreaper, it inherits the descendants that double-forked away from the program
    (daemons), so its other children and their descendants belong to the job too.
    :attr:`matched` is True when that very process ran when the tree was made. The process
    group is signalled only while its pid does not belong to another process: the kernel
    never reuses a pid that still names a process group with members, so a group found
    without its leader is still the job's. A pid that now belongs to another process is
    never signalled; then only descendants remembered earlier are. Methods are safe to
    call from any thread.
    """

    def __init__(
        self,
        pid: int,
        start_time: float | None,
        *,
        supervisor: tuple[int, float | None] | None = None,
        parents: ParentMap | None = None,
    ) -> None:
        self.pid = pid
        self._parents = SHARED_PARENTS if parents is None else parents
        self.pgid = pid
        self.start_time = start_time
        self._lock = threading.Lock()
        self._known: dict[int, psutil.Process] = {}
        self._escalation: threading.Timer | None = None
        self._root: psutil.Process | None = None
        self._supervisor: psutil.Process | None = None
        self.matched = start_time is not None and process_start_time(pid) == start_time
        if self.matched:
            try:
                self._root = psutil.Process(pid)  # psutil guards later calls against reuse
            except psutil.Error:
                self.matched = False
        if supervisor is not None:
            spid, sstart = supervisor
            if sstart is not None and process_start_time(spid) == sstart:
                with contextlib.suppress(psutil.Error):
                    self._supervisor = psutil.Process(spid)

    def alive(self) -> bool:
        """True while the program itself runs (not a zombie, and not a reused pid)."""
        return self.matched and process_start_time(self.pid) == self.start_time

    def descendants(self) -> list[psutil.Process]:
        """Every live descendant, including ones remembered from earlier calls (which may
        have been re-parented or have left the group with setsid). Remembers new ones."""
        with self._lock:
            known = dict(self._known)
        found: dict[int, psutil.Process] = {}
        roots = [p for p in (self._root, self._supervisor, *known.values()) if p is not None]
        for root in roots:
            try:
                if not root.is_running():
                    continue
                if root.pid in known:
                    found[root.pid] = root
                for child in root.children(recursive=True):
                    found.setdefault(child.pid, child)
            except psutil.Error:
                continue
        found.pop(self.pid, None)
        if self._supervisor is not None:
            found.pop(self._supervisor.pid, None)
        with self._lock:
            self._known.update(found)
        return list(found.values())

    def _sampled_descendants(self) -> list[psutil.Process]:
        """:meth:`descendants`, for a resource sample: found through the shared
        :class:`ParentMap` (a second old at most), each child's parent checked now, so a
        pid reused since the scan is never taken for one of the tree's."""
        with self._lock:
            known = dict(self._known)
        children = self._parents.children()
        found: dict[int, psutil.Process] = {}
        for process in known.values():
            with contextlib.suppress(psutil.Error):
                if process.is_running():
                    found[process.pid] = process
        roots = [p.pid for p in (self._root, self._supervisor) if p is not None]
        queue = [*roots, *found]
        while queue:
            parent = queue.pop()
            for pid in children.get(parent, ()):
                if pid in found or pid == self.pid:
                    continue
                try:
                    child = psutil.Process(pid)
                    if child.ppid() != parent:
                        continue  # the scan is older than this process
                except psutil.Error:
                    continue
                found[pid] = child
                queue.append(pid)
        if self._supervisor is not None:
            found.pop(self._supervisor.pid, None)
        found.pop(self.pid, None)
        with self._lock:
            self._known.update(found)
        return list(found.values())

    def leftovers(self) -> list[psutil.Process]:
        """Descendants and members of the program's process group still running (after the
        program ended, for example). Remembers them, so :meth:`signal` reaches them."""
        found = {p.pid: p for p in self.descendants()}
        if self._group_is_ours() and self._group_exists():
            for process in psutil.process_iter():
                with contextlib.suppress(psutil.Error, OSError):
                    if process.pid not in found and os.getpgid(process.pid) == self.pgid:
                        found[process.pid] = process
        alive = []
        for process in found.values():
            with contextlib.suppress(psutil.Error):
                if process.pid != self.pid and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
        with self._lock:
            self._known.update((p.pid, p) for p in alive)
        return alive

    def _group_is_ours(self) -> bool:
        """The pid is still the program's, or free (a zombie or gone): not another process."""
        if self.start_time is None:
            return False
        current = process_start_time(self.pid)
        return current is None or current == self.start_time

    def _group_exists(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # ------------------------------------------------------------------ signals

    def signal(self, *sigs: signal.Signals) -> None:
        """Send each of ``sigs`` to the program's group and every descendant (known or
        found now; they are looked for once: psutil scans every process to find them)."""
        # Collect descendants first: once their parent dies they can no longer be found.
        descendants = self.descendants()
        for sig in sigs:
            if self._group_is_ours():
                try:
                    os.killpg(self.pgid, sig)
                except ProcessLookupError:
                    pass  # the whole group is gone
                except PermissionError:
                    _log.warning("not allowed to signal process group %d", self.pgid)
            for process in descendants:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    process.send_signal(sig)  # psutil checks the pid was not reused

    def terminate(self, grace: float) -> None:
        """SIGTERM (then SIGCONT) the tree now; SIGKILL whatever is left ``grace`` s later.

        Non-blocking. Calling it again while a SIGKILL is pending sends SIGTERM again but
        does not move the SIGKILL.
        """
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
        self.signal(signal.SIGTERM, signal.SIGCONT)
        with self._lock:
            if self._escalation is not None:
                return
            timer = threading.Timer(grace, self._escalate)
            timer.name = f"jobdeck-process-{self.pid}-kill"
            timer.daemon = True
            self._escalation = timer
        timer.start()

    def kill(self) -> None:
        """SIGKILL the tree now (a pending escalation is no longer needed)."""
        self.cancel_escalation()
        self.signal(signal.SIGKILL)

    def _escalate(self) -> None:
        self.signal(signal.SIGKILL)

    def cancel_escalation(self) -> None:
        """Drop a pending SIGKILL (the tree is gone, or we stop watching it)."""
        with self._lock:
            timer, self._escalation = self._escalation, None
        if timer is not None:
            timer.cancel()

    def escalation_pending(self) -> bool:
        with self._lock:
            return self._escalation is not None

    # ------------------------------------------------------------------ resources

    def sample(self) -> tuple[int | None, float | None]:
        """(total RSS in bytes, total CPU seconds) of the program and its descendants now.

        CPU includes the children each process has already waited for, so it only grows
        while the tree lives. (None, None) when nothing of the tree runs.
        """
        processes = ([self._root] if self.alive() and self._root is not None else []) + [
            p for p in self._sampled_descendants()
        ]
        rss = 0
        cpu = 0.0
        seen = False
        for process in processes:
            try:
                with process.oneshot():
                    rss += process.memory_info().rss
                    times = process.cpu_times()
                cpu += times.user + times.system + times.children_user + times.children_system
                seen = True
            except psutil.Error:
                continue
        return (rss, cpu) if seen else (None, None)

    def __repr__(self) -> str:
        return f"<ProcessTree pid={self.pid} matched={self.matched}>"
