"""Jobdeck's runtime: Qt, but no widgets. It makes queued jobs run and turns core events
into Qt signals.

* :class:`Scheduler` decides which queued job runs next and hands it to an executor
  (:mod:`jobdeck.runtime.executors`: threads, asyncio, processes — one class per way).
* :class:`Runner` is a scheduler with the built-in executors.
* :class:`JobSignals` batches the tracker's events into GUI-thread signals.
"""

from .runner import Runner
from .scheduler import Scheduler
from .signals import JobSignals

__all__ = ["JobSignals", "Runner", "Scheduler"]
