"""Sharing the interpreter lock with the GUI: settings the *app* chooses, never the library.

CPython lets a thread that waits for the interpreter lock take it only after the holder ran
for ``sys.getswitchinterval()`` (5 ms), and then any waiter may win; with several CPU-bound
job threads the GUI thread waits for its turn. Two settings keep its gaps short, measured by
``tests/bench/bench_runtime.py`` (GUI gaps with 8 and with 200 busy jobs, with and without
each): a shorter switch interval (:class:`SwitchInterval`; needed for both loads: without
it the GUI's p99 gap is 200-700 ms even within ``max_threads``), and code reporting progress
in a tight loop giving up the lock every few milliseconds (``JobTracker.open(...,
yield_gil_every=GUI_YIELD_EVERY)``; halves the p99 gap with 8 busy jobs). Both act on the
whole process, so nothing in the library sets them: the Jobdeck app does, once; an embedder
decides for its own process.

The same goes for the garbage collector: once the app is up, what exists (modules, Qt's
wrappers, the window) lives as long as the process, yet every full collection walked it
again — about 80 ms on the thread that happened to allocate, every few hundred short jobs
(``tests/bench/bench_commands.py``). :func:`freeze_startup_objects` leaves it out of the
collector's passes; what is made afterwards is collected as usual. Before that, the start
allocates most of those objects in a burst, and the passes it triggers walked them over
and over (~15-25 ms before the first window is painted): :func:`pause_gc` leaves the
collector off from the start until the first paint, :func:`resume_gc` turns it on again.
"""

from __future__ import annotations

import gc
import sys
from types import TracebackType

from jobdeck.core.context import YIELD_EVERY

__all__ = [
    "GUI_SWITCH_INTERVAL",
    "GUI_YIELD_EVERY",
    "SwitchInterval",
    "freeze_startup_objects",
    "pause_gc",
    "resume_gc",
]

#: The switch interval the Jobdeck app runs with (seconds).
GUI_SWITCH_INTERVAL = 0.0005
#: How often the Jobdeck app's jobs give up the interpreter lock in a tight loop (seconds).
GUI_YIELD_EVERY = YIELD_EVERY


class SwitchInterval:
    """Sets the interpreter's switch interval while applied, and puts the previous one back.

    ``with SwitchInterval(0.0005): ...`` or :meth:`apply` / :meth:`restore`.
    """

    def __init__(self, seconds: float = GUI_SWITCH_INTERVAL) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ValueError(f"the switch interval must be positive seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self._saved: float | None = None

    def apply(self) -> None:
        if self._saved is None:
            self._saved = sys.getswitchinterval()
            sys.setswitchinterval(self.seconds)

    def restore(self) -> None:
        if self._saved is not None:
            sys.setswitchinterval(self._saved)
            self._saved = None

    def __enter__(self) -> SwitchInterval:
        self.apply()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


def freeze_startup_objects() -> None:
    """Leave every object that exists now out of the garbage collector's passes for good
    (``gc.freeze()``; see the module). Call it once the app has started."""
    gc.freeze()


_gc_paused = False


def pause_gc() -> None:
    """Turn the garbage collector's automatic passes off until :func:`resume_gc` (when they
    are on: a process that turned them off keeps its choice). For the app's start, up to
    its first paint."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    """Turn the automatic passes that :func:`pause_gc` turned off on again (else nothing)."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.enable()
