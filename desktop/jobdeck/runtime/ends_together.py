"""Ends heard together, recorded together: :class:`EndsTogether`.

The supervisor client's reader thread hears of several programs' ends in one read from
the service's socket when short jobs run side by side. Recording each end (and starting
the job that follows it) in a commit of its own made that thread the bottleneck of a queue
of short jobs; inside :meth:`EndsTogether.block` the ends a thread judges are collected
instead (:meth:`~EndsTogether.add`) and handed over in one list when the block ends, for
one commit. No Qt.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["EndsTogether"]

T = TypeVar("T")


class EndsTogether(Generic[T]):
    """Collects what a thread hands to :meth:`add` inside :meth:`block` and calls
    ``finish(items)`` with all of it when the block ends (on that thread, in the order
    added). Outside a block :meth:`add` takes nothing. Thread-safe: each thread has its
    own block."""

    def __init__(self, finish: Callable[[list[T]], None]) -> None:
        self._finish = finish
        self._local = threading.local()
        self._busy = 0  # blocks holding items not yet finished
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        """Collect what this thread adds until the block ends, then finish it (also when
        the block raised). Nested blocks are the outer one."""
        if getattr(self._local, "items", None) is not None:
            yield
            return
        items: list[T] = []
        self._local.items = items
        try:
            yield
        finally:
            self._local.items = None
            if items:
                try:
                    self._finish(items)
                finally:
                    with self._idle:
                        self._busy -= 1
                        self._idle.notify_all()

    def add(self, item: T) -> bool:
        """Keep ``item`` for the end of this thread's block; False (nothing kept) when the
        thread is in none."""
        items: list[T] | None = getattr(self._local, "items", None)
        if items is None:
            return False
        if not items:
            with self._idle:
                self._busy += 1
        items.append(item)
        return True

    def wait(self, timeout: float | None) -> bool:
        """Wait until every block's items are finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)
