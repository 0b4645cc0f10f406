"""Jobdeck's runtime: Qt, but no widgets. It makes queued jobs run and turns core events
into Qt signals.

* :class:`Runner` runs jobs: callables on a QThreadPool, coroutines on the qasync loop,
  ``command`` jobs as processes.
* :class:`JobSignals` batches the tracker's events into GUI-thread signals.

Both are imported on first use (PEP 562), so that the Qt-free helpers in this package
(:mod:`.runtime_dir`, :mod:`.private_files`) can be imported without Qt, e.g. by the
``jobdeck`` command-line client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import Runner
    from .signals import JobSignals

__all__ = ["JobSignals", "Runner"]


def __getattr__(name: str) -> Any:
    if name == "Runner":
        from .runner import Runner

        return Runner
    if name == "JobSignals":
        from .signals import JobSignals

        return JobSignals
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
