"""The environment a job's program inherits: ``os.environ`` as a plain dict, made again
only after ``os.environ`` changed. No Qt; thread-safe.

Copying ``os.environ`` decodes every variable in Python (``dict(os.environ)``: ~50 µs with
a few dozen variables, per job of a queue). :func:`user_environment` keeps the copy and
hears of changes through the interpreter's audit events (:func:`sys.addaudithook`): every
change ``os.environ`` makes (setting, deleting, ``update``, ``clear``...) calls
``os.putenv``/``os.unsetenv``, which raise ``os.putenv``/``os.unsetenv`` events. The hook is
installed by the first call (a process that starts no program has none) and costs other
audited events (``open``, ``import``...) one string comparison.

The event comes just *before* ``os.environ`` stores the new value, so a change is kept as
pending until ``os.environ`` shows it (another thread may copy in between); a bare
``os.putenv`` (Qt-only settings, see :func:`jobdeck.app.paint_on_one_thread`) never shows
there and is dropped after :data:`SETTLE` seconds. While anything is pending every call
copies ``os.environ`` afresh. When ``os.environ`` was replaced by another mapping, or there
is no bytes view of it (Windows), every call copies.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

__all__ = ["user_environment"]

#: Seconds after which a pending ``os.putenv`` that ``os.environ`` does not show is taken
#: for a bare one (made without ``os.environ``), which jobs do not inherit.
SETTLE = 1.0

_EVENTS = frozenset(("os.putenv", "os.unsetenv"))
_ENVIRON = os.environ
_ENVIRONB = getattr(os, "environb", None)  # POSIX: the same variables, undecoded

_lock = threading.Lock()
_hooked = False
_snapshot: dict[str, str] | None = None
#: Changes heard and not yet seen in os.environ: encoded name -> (value or None, when).
_pending: dict[bytes, tuple[bytes | None, float]] = {}


def user_environment() -> dict[str, str]:
    """``os.environ`` as a plain dict (what a job's program inherits before its own
    variables are merged over it). Shared between calls: do not modify it."""
    global _snapshot, _hooked
    environ = os.environ
    if environ is not _ENVIRON or _ENVIRONB is None:
        return dict(environ)
    snapshot = _snapshot
    if snapshot is not None and not _pending:
        return snapshot
    with _lock:
        if not _hooked:
            sys.addaudithook(_heard)  # (before the copy: no change is missed)
            _hooked = True
        now = time.monotonic()
        # Which pending changes os.environ shows now: looked at *before* copying it, so
        # that the copy has them.
        settled = [
            (name, entry)
            for name, entry in _pending.items()
            if _ENVIRONB.get(name) == entry[0] or now - entry[1] > SETTLE
        ]
        copy = dict(environ)
        for name, entry in settled:
            if _pending.get(name) is entry:
                del _pending[name]
        _snapshot = None if _pending else copy
    return copy


def _heard(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook (any thread): remember a change of the process's environment."""
    if event not in _EVENTS:
        return
    global _snapshot
    try:
        name = args[0] if isinstance(args[0], bytes) else os.fsencode(args[0])
        value = None
        if event == "os.putenv":
            value = args[1] if isinstance(args[1], bytes) else os.fsencode(args[1])
    except Exception:  # (never fail the change itself)  # pragma: no cover
        with _lock:
            _snapshot = None
        return
    with _lock:
        _pending[name] = (value, time.monotonic())
        _snapshot = None
