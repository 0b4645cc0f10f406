"""Jobdeck's runtime: Qt, but no widgets. It makes queued jobs run and turns core events
into Qt signals.

* :class:`Scheduler` decides which queued job runs next and hands it to an executor
  (:mod:`jobdeck.runtime.executors`: threads, asyncio, processes — one class per way).
* :class:`Runner` is a scheduler with the built-in executors.
* :class:`JobSignals` batches the tracker's events into GUI-thread signals.

Both are imported on first use (PEP 562), so that the Qt-free helpers in this package
(:mod:`.runtime_dir`, :mod:`.private_files`) can be imported without Qt, e.g. by the
``jobdeck`` command-line client.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is not imported: the supervisor service imports this package)
if TYPE_CHECKING:
    from typing import Any

    from .runner import Runner
    from .scheduler import Scheduler
    from .signals import JobSignals

__all__ = ["JobSignals", "Runner", "Scheduler"]


def __getattr__(name: str) -> Any:
    if name == "Runner":
        from .runner import Runner

        return Runner
    if name == "Scheduler":
        from .scheduler import Scheduler

        return Scheduler
    if name == "JobSignals":
        from .signals import JobSignals

        return JobSignals
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
