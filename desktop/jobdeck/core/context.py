"""The :class:`JobContext` handed to running code, and the :class:`Cancelled` exception.

``update_progress`` is the hot path: it validates its arguments, stores them in slots and
bumps a sequence number. It takes no lock, writes no SQL and emits nothing; the tracker's
pump thread notices the new sequence number and forwards the latest values.
"""

from __future__ import annotations

import math
import threading
import time
from types import TracebackType
from typing import Protocol

from .validation import is_real

__all__ = ["Cancelled", "JobContext", "JobOwner"]


class JobOwner(Protocol):
    """What a context reports to: the tracker that runs its job."""

    def _append_log(self, ctx: JobContext, message: str, level: str) -> None: ...

    def _finish_from_context(self, ctx: JobContext, exc: BaseException | None) -> None: ...


#: A thread that reports in a tight loop gives up the GIL at least this often (seconds), when
#: its tracker asks it to (``JobTracker(yield_gil_every=...)``; the Jobdeck app does).
YIELD_EVERY = 0.004


def _share_the_gil(ctx: JobContext, every: float) -> None:
    """Called every 1024 updates of a context that shares the GIL: once ``every`` seconds
    have passed, ``sleep(0)`` releases the GIL so a waiting thread (the GUI thread) runs now
    rather than after the interpreter's switch interval."""
    now = time.monotonic()
    if now - ctx._yielded >= every:
        ctx._yielded = now
        time.sleep(0)


_LEVELS = frozenset({"debug", "info", "warning", "error"})


class Cancelled(Exception):
    """Raised by :meth:`JobContext.checkpoint` once the job has been asked to cancel."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id


def _bad_number(name: str, value: object) -> ValueError:
    if is_real(value) and not isinstance(value, bool):
        return ValueError(f"progress {name} must be a finite number >= 0, got {value!r}")
    return ValueError(f"progress {name} must be a number, got {type(value).__name__} {value!r}")


#: Progress numbers must fit SQLite's 64-bit integers (larger ones are refused).
_MAX = 2**63 - 1


def _slow_number(name: str, value: object) -> float:
    """Validate a progress number that is not a small non-negative int."""
    if type(value) is int and 0 <= value <= _MAX:
        return value
    if isinstance(value, bool) or not is_real(value):
        raise _bad_number(name, value)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise _bad_number(name, value)
    if number > _MAX:
        raise ValueError(f"progress {name} must be below 2**63, got {value!r}")
    return number


class JobContext:
    """What running code sees of its job.

    Thread-safe in the sense that matters: one thread (the job's) calls ``update_progress``
    and ``log``; any thread may read ``cancelled`` or wait on ``cancel_event``. Used as a
    context manager, it finishes the job on exit: completed on a normal exit (unless the
    code already finished it), cancelled when its :class:`Cancelled` escapes (which the
    block then swallows), failed on any other exception (which propagates).
    """

    __slots__ = (
        "_tracker",
        "_yield_every",
        "_yielded",
        "cancel_event",
        "current",
        "job_id",
        "log_lines",
        "message",
        "seq",
        "total",
    )

    def __init__(
        self,
        tracker: JobOwner,
        job_id: str,
        current: float = 0,
        total: float = 0,
        message: str = "",
        *,
        yield_every: float | None = None,
    ) -> None:
        self._tracker = tracker
        #: Seconds between giving up the GIL in a tight reporting loop (None: never).
        self._yield_every = yield_every
        self.job_id = job_id
        self.cancel_event = threading.Event()
        self.current: float = current
        self.total: float = total
        self.message: str = message
        #: Bumped on every update; the pump compares it with what it last forwarded.
        self.seq = 0
        self._yielded = 0.0
        #: Log lines this job has (stored or queued): the tracker caps them per job.
        self.log_lines = 0

    # -- the hot path --------------------------------------------------------------------------

    def update_progress(
        self, current: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Record how far the job has got. ``total`` 0 means unknown; None keeps the last one.

        Raises ``ValueError`` for a negative, non-finite, non-numeric or absurd (>= 2**63)
        value. A message is kept as given here; it is made storable (see
        :mod:`.validation`) when forwarded and stored.
        """
        # Ints up to 2**30 - 1 compare fastest (CPython specializes small ints); larger ones,
        # up to 2**63 - 1, are checked on the slower path.
        if type(current) is not int or current < 0 or current > 1073741823:
            current = _slow_number("current", current)
        if total is not None:
            if type(total) is not int or total < 0 or total > 1073741823:
                total = _slow_number("total", total)
            self.total = total
        if message is not None:
            if type(message) is not str:
                raise ValueError(f"progress message must be a str, got {type(message).__name__}")
            self.message = message
        self.current = current
        self.seq += 1
        if not self.seq & 1023 and self._yield_every is not None:
            _share_the_gil(self, self._yield_every)

    # -- cancellation --------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once the job has been asked to cancel."""
        return self.cancel_event.is_set()

    def checkpoint(self) -> None:
        """Raise :class:`Cancelled` if the job has been asked to cancel."""
        if self.cancel_event.is_set():
            raise Cancelled(self.job_id)

    # -- logging -------------------------------------------------------------------------------

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the job's log (stored with the next progress flush)."""
        if level not in _LEVELS:
            raise ValueError(f"log level must be one of {sorted(_LEVELS)}, got {level!r}")
        self._tracker._append_log(self, str(message), level)

    # -- finishing -----------------------------------------------------------------------------

    def __enter__(self) -> JobContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._tracker._finish_from_context(self, exc)
        # This job's own Cancelled has done its work once the job is marked cancelled.
        return isinstance(exc, Cancelled) and exc.job_id == self.job_id

    def __repr__(self) -> str:
        return f"<JobContext {self.job_id} {self.current}/{self.total} {self.message!r}>"

    def snapshot(self) -> tuple[float, float, str, int]:
        """(current, total, message, seq) read together."""
        return self.current, self.total, self.message, self.seq
