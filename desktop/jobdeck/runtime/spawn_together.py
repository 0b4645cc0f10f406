"""Starting several programs at once for the supervisor service, each on a thread of its own.

Standard library only (the service imports it; see
:mod:`~jobdeck.runtime.supervisor_service`). ``os.posix_spawn`` keeps the service's loop
waiting until the program has exec'd (glibc's vfork: 0.2 ms on a quiet machine, 3-5 ms on
a busy one, for the child to be given a processor), and it holds the GIL while it waits,
so threads calling it start programs one after the other. glibc's ``posix_spawn`` called
through :mod:`ctypes` does not hold the GIL: :class:`SpawnTogether` starts the programs the
service starts in one wake-up of its loop (the queued programs that take the places of
those that ended together) on threads of its own, together, and returns when all have
exec'd or failed, so the service waits once for them all, not once for each. Same
``posix_spawn``, same file actions, flags and errors as ``os.posix_spawn``: an exec
failure comes back as an OSError with the program as its ``filename``.

:func:`spawn_together` is None where this cannot be had (no glibc, or no ``ctypes``): the
service then starts them one by one.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Launch", "SpawnTogether", "spawn_together"]

#: glibc's ``POSIX_SPAWN_SETSIGDEF`` and ``POSIX_SPAWN_SETSID`` (spawn.h, glibc >= 2.26).
_SETSIGDEF = 0x04
_SETSID = 0x80
#: Bytes set aside for each opaque glibc structure (posix_spawn_file_actions_t: 80,
#: posix_spawnattr_t: 336, sigset_t: 128 on x86-64 and aarch64).
_OPAQUE = 1024
#: The most threads kept for starting programs (a slot each; more wait their turn).
MAX_THREADS = 8


class Launch:
    """One program to start: its executable (a path), argv, whole environment and the
    file descriptor its standard output and error go to (standard input: /dev/null); a
    session of its own, SIGPIPE and SIGXFSZ at their defaults. :attr:`pid` once started,
    or :attr:`error` (an OSError) when it did not."""

    __slots__ = ("argv", "env", "error", "output", "path", "pid")

    def __init__(self, path: str, argv: list[str], env: dict[str, str], output: int) -> None:
        self.path = path
        self.argv = argv
        self.env = env
        self.output = output
        self.pid: int | None = None
        self.error: Exception | None = None


class SpawnTogether:
    """Threads that start :class:`Launch` es together (see the module). Made by
    :func:`spawn_together`; :meth:`start` is called by one thread at a time (the
    service's loop). Emits nothing: :meth:`start` returns when every program is started
    or has failed."""

    def __init__(self, libc: Any, ctypes: Any) -> None:
        self._libc = libc
        self._ctypes = ctypes
        self._work: queue.SimpleQueue[Launch | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Launch] = queue.SimpleQueue()
        self._threads = 0
        self._lock = threading.Lock()
        self._started: Callable[[Launch], None] = _nothing

    def start(self, launches: list[Launch], started: Callable[[Launch], None]) -> None:
        """Start every one of ``launches`` (each gets its ``pid`` or its ``error``);
        ``started(launch)`` is called right after each one that started, on the thread
        that started it, one call at a time, while this call waits (what the caller
        must write down at once, such as its journal line, is not delayed by the others).
        """
        while self._threads < min(len(launches), MAX_THREADS):
            threading.Thread(target=self._serve, name="spawn", daemon=True).start()
            self._threads += 1
        self._started = started
        for launch in launches:
            self._work.put(launch)
        for _ in launches:
            self._done.get()

    def _serve(self) -> None:
        while True:
            launch = self._work.get()
            if launch is None:
                return
            try:
                launch.pid = self._spawn(launch)
                with self._lock:
                    self._started(launch)
            except Exception as exc:  # (given back, never lost with the thread)
                if launch.pid is None:
                    launch.error = exc
            finally:
                self._done.put(launch)  # (never waited for in vain)

    def _spawn(self, launch: Launch) -> int:
        ctypes, libc = self._ctypes, self._libc
        actions = ctypes.create_string_buffer(_OPAQUE)
        attributes = ctypes.create_string_buffer(_OPAQUE)
        default = ctypes.create_string_buffer(_OPAQUE)
        path = os.fsencode(launch.path)
        argv = [os.fsencode(a) for a in launch.argv]
        envp = [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in launch.env.items()]
        if any(b"\0" in item for item in (path, *argv, *envp)) or any(
            b"=" in os.fsencode(k) for k in launch.env
        ):
            raise ValueError("embedded null byte or '=' in a variable's name")
        c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
        c_envp = (ctypes.c_char_p * (len(envp) + 1))(*envp, None)
        pid = ctypes.c_int(0)
        if libc.posix_spawn_file_actions_init(actions):
            raise OSError(ctypes.get_errno(), "posix_spawn_file_actions_init failed")
        try:
            if libc.posix_spawnattr_init(attributes):
                raise OSError(ctypes.get_errno(), "posix_spawnattr_init failed")
            try:
                for failed in (
                    libc.posix_spawn_file_actions_addopen(
                        actions, 0, os.devnull.encode(), os.O_RDONLY, 0
                    ),
                    libc.posix_spawn_file_actions_adddup2(actions, launch.output, 1),
                    libc.posix_spawn_file_actions_adddup2(actions, launch.output, 2),
                    libc.sigemptyset(default),
                    libc.sigaddset(default, int(signal.SIGPIPE)),
                    libc.sigaddset(default, int(signal.SIGXFSZ)),
                    libc.posix_spawnattr_setsigdefault(attributes, default),
                    libc.posix_spawnattr_setflags(attributes, ctypes.c_short(_SETSIGDEF | _SETSID)),
                ):
                    if failed:
                        raise OSError(failed, os.strerror(failed))
                error = libc.posix_spawn(
                    ctypes.byref(pid), path, actions, attributes, c_argv, c_envp
                )
            finally:
                libc.posix_spawnattr_destroy(attributes)
        finally:
            libc.posix_spawn_file_actions_destroy(actions)
        if error:
            raise OSError(error, os.strerror(error), launch.path)
        return int(pid.value)


def _nothing(_launch: Launch) -> None:
    pass


_made: list[SpawnTogether | None] = []


def spawn_together() -> SpawnTogether | None:
    """The service's :class:`SpawnTogether` (made, and :mod:`ctypes` imported, at the
    first call), or None where glibc's ``posix_spawn`` cannot be called this way."""
    if not _made:
        _made.append(_make())
    return _made[0]


def _make() -> SpawnTogether | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        major, minor = (int(p) for p in libc.gnu_get_libc_version().split(b".")[:2])
        if (major, minor) < (2, 26):  # (POSIX_SPAWN_SETSID)
            return None
        for name in ("posix_spawn", "posix_spawn_file_actions_adddup2", "sigaddset"):
            getattr(libc, name)
    except (ImportError, OSError, AttributeError, ValueError):
        return None  # not glibc (musl has no gnu_get_libc_version), or no ctypes
    return SpawnTogether(libc, ctypes)
